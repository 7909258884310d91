"""``vtedge frames``: what the model will see of a video."""

from __future__ import annotations

import click

from vtedge.cli.spec_options import spec_options
from vtedge.errors import NotBuiltError


@click.command("frames")
@click.argument("video", type=click.Path())
@spec_options()
def command(video: str, spec) -> None:
    """Show the frame plan of VIDEO: sampled timestamps, size, grid and token count."""
    raise NotBuiltError("`vtedge frames` is not built yet")
