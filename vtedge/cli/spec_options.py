"""Click options that mirror the vision spec, shared by every command that reads video."""

from __future__ import annotations

import dataclasses
import functools

import click

from vtedge.spec import PRESETS, get_spec


def spec_options(default_spec: str = "video-thinker"):
    """Add ``--spec`` and one option per sampling/budget field; pass ``spec`` to the command."""

    def decorate(command):
        @click.option("--spec", "spec_name", default=default_spec, show_default=True,
                      type=click.Choice(sorted(PRESETS)), help="Vision spec preset to start from.")
        @click.option("--nframes", type=int,
                      help="Sample exactly this many frames (rounded to even).")
        @click.option("--fps", type=float, help="Sample at this rate instead of a fixed count.")
        @click.option("--min-frames", type=int, help="Lower bound on frames when sampling by fps.")
        @click.option("--max-frames", type=int, help="Upper bound on frames when sampling by fps.")
        @click.option("--min-pixels", type=int, help="Smallest area of one resized frame.")
        @click.option("--max-pixels", type=int, help="Largest area of one resized frame.")
        @click.option("--total-pixels", type=int, help="Pixel budget shared by all frames.")
        @functools.wraps(command)
        def wrapper(*args, spec_name, nframes, fps, min_frames, max_frames, min_pixels,
                    max_pixels, total_pixels, **kwargs):
            if fps is not None and nframes is not None:
                raise click.UsageError("give either --nframes or --fps, not both")
            spec = get_spec(spec_name)
            if fps is not None:
                # Sampling by rate: the preset's fixed frame count no longer applies.
                spec = dataclasses.replace(spec, nframes=None)
            spec = spec.replace(nframes=nframes, fps=fps, min_frames=min_frames,
                                max_frames=max_frames, min_pixels=min_pixels,
                                max_pixels=max_pixels, total_pixels=total_pixels)
            return command(*args, spec=spec, **kwargs)

        return wrapper

    return decorate
