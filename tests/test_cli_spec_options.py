"""Spec options change the base a command gives (the model's own spec for `vtedge ask`)
unless --spec names a preset to start from."""

from __future__ import annotations

import warnings

import click
import pytest
from click.testing import CliRunner

from vtedge.cli.spec_options import SpecChoice, spec_options
from vtedge.spec import get_spec


def test_options_change_the_base_and_a_preset_replaces_it():
    base = get_spec("tiny")
    assert not SpecChoice(None, {}).given
    resized = SpecChoice(None, {"resized_height": 112, "resized_width": 112}).resolve(base)
    assert resized == base.replace(resized_height=112, resized_width=112)
    assert SpecChoice("video-thinker", {}).resolve(base) == get_spec("video-thinker")
    by_rate = SpecChoice(None, {"fps": 1.0}).resolve(base)
    assert (by_rate.nframes, by_rate.fps, by_rate.max_pixels) == (None, 1.0, base.max_pixels)


def test_the_options_reach_the_command_as_a_choice():
    seen = []

    @click.command()
    @spec_options(base="the model's own")
    def command(spec):
        seen.append(spec)

    runner = CliRunner()
    assert runner.invoke(command, ["--nframes", "4", "--resize", "56x84"]).exit_code == 0
    assert seen[-1] == SpecChoice(None, {"nframes": 4, "resized_height": 56,
                                         "resized_width": 84})
    result = runner.invoke(command, ["--nframes", "4", "--fps", "2"])
    assert result.exit_code == 2 and "either --nframes or --fps" in result.output
    help_text = " ".join(runner.invoke(command, ["--help"]).output.split())
    assert "(default: the model's own)" in help_text


@pytest.mark.parametrize(("args", "message"), [
    (["--resize", "abc"], "must be HEIGHTxWIDTH"),
    (["--resize", "0x56"], "sides must be positive"),
    (["--nframes", "1"], "not in the range"),
    (["--fps", "nan"], "not a finite number"),
    (["--total-pixels", "0"], "not in the range"),
])
def test_values_no_spec_can_take_are_usage_errors(args, message):
    @click.command()
    @spec_options(base="the model's own")
    def command(spec):
        raise AssertionError("the command must not run")

    result = CliRunner().invoke(command, args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_a_resize_the_patch_grid_changes_is_reported():
    base = get_spec("tiny")
    with pytest.warns(UserWarning, match="--resize 100x1 gives 112x28 frames"):
        spec = SpecChoice(None, {"resized_height": 100, "resized_width": 1}).resolve(base)
    assert spec.frame_size(10, 10, 8) == (112, 28)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SpecChoice(None, {"resized_height": 56, "resized_width": 84}).resolve(base)
