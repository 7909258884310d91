"""Spec options change the base a command gives (the model's own spec for `vtedge ask`)
unless --spec names a preset to start from."""

from __future__ import annotations

import click
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
