"""Click options that mirror the vision spec, shared by every command that reads video."""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass

import click

from vtedge.cli.ranges import POSITIVE, POSITIVE_NUMBER
from vtedge.errors import BudgetError
from vtedge.spec import PRESETS, VisionSpec, get_spec, parse_size, smart_resize


class FrameSize(click.ParamType):
    """``HxW`` as ``(height, width)``."""

    name = "HxW"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_size(value, "--resize")
        except BudgetError as error:
            self.fail(str(error), param, ctx)


FRAME_SIZE = FrameSize()


@dataclass(frozen=True)
class SpecChoice:
    """The user's spec options: a preset to start from (``None``: the base the command
    gives, e.g. the model's own spec) and the fields they set."""

    preset: str | None
    changes: dict

    @property
    def given(self) -> bool:
        return self.preset is not None or bool(self.changes)

    def resolve(self, base: VisionSpec) -> VisionSpec:
        spec = get_spec(self.preset) if self.preset is not None else base
        if self.changes.get("fps") is not None:
            # Sampling by rate: the base's fixed frame count no longer applies.
            spec = dataclasses.replace(spec, nframes=None)
        spec = spec.replace(**self.changes)
        if "resized_height" in self.changes:
            _warn_if_rounded(spec)
        return spec


def _warn_if_rounded(spec: VisionSpec) -> None:
    """Frame sides are multiples of the patch merge window, within qwen-vl-utils' area
    bounds: say so when that changes the size the user asked for."""
    asked = (spec.resized_height, spec.resized_width)
    given = smart_resize(*asked, spec.factor)
    if given != asked:
        warnings.warn(f"--resize {asked[0]}x{asked[1]} gives {given[0]}x{given[1]} frames "
                      f"(sides round to multiples of {spec.factor}, the area to qwen-vl-utils' "
                      "bounds)", UserWarning, stacklevel=3)


def spec_options(base: str):
    """Add ``--spec`` and one option per sampling/budget field; pass ``spec`` (a
    :class:`SpecChoice`) to the command. ``base`` says in ``--help`` what the options
    change when ``--spec`` is not given."""

    def decorate(command):
        @click.option("--spec", "spec_name", type=click.Choice(sorted(PRESETS)),
                      help=f"Vision spec preset to start from (default: {base}).")
        @click.option("--nframes", type=click.IntRange(2),
                      help="Sample exactly this many frames (rounded to even).")
        @click.option("--fps", type=POSITIVE_NUMBER,
                      help="Sample at this rate instead of a fixed count.")
        @click.option("--min-frames", type=POSITIVE,
                      help="Lower bound on frames when sampling by fps.")
        @click.option("--max-frames", type=POSITIVE,
                      help="Upper bound on frames when sampling by fps.")
        @click.option("--min-pixels", type=POSITIVE, help="Smallest area of one resized frame.")
        @click.option("--max-pixels", type=POSITIVE, help="Largest area of one resized frame.")
        @click.option("--total-pixels", type=POSITIVE, help="Pixel budget shared by all frames.")
        @click.option("--resize", type=FRAME_SIZE,
                      help="Resize every frame to this size (rounded to multiples of 28) "
                           "instead of keeping its aspect within the pixel budget.")
        @functools.wraps(command)
        def wrapper(*args, spec_name, nframes, fps, min_frames, max_frames, min_pixels,
                    max_pixels, total_pixels, resize, **kwargs):
            if fps is not None and nframes is not None:
                raise click.UsageError("give either --nframes or --fps, not both")
            height, width = resize or (None, None)
            changes = {"nframes": nframes, "fps": fps, "min_frames": min_frames,
                       "max_frames": max_frames, "min_pixels": min_pixels,
                       "max_pixels": max_pixels, "total_pixels": total_pixels,
                       "resized_height": height, "resized_width": width}
            choice = SpecChoice(spec_name, {k: v for k, v in changes.items() if v is not None})
            return command(*args, spec=choice, **kwargs)

        return wrapper

    return decorate
