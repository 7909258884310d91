"""``vtedge ask``: grounded reasoning and an answer about one video."""

from __future__ import annotations

import click

from vtedge.errors import NotBuiltError


@click.command("ask")
@click.argument("video", type=click.Path())
@click.argument("question")
def command(video: str, question: str) -> None:
    """Answer QUESTION about VIDEO, printing the grounded reasoning first.

    \b
    Example:
      vtedge ask clip.mp4 "What colour is the square when the circle appears?" \\
          --options "A. red" --options "B. blue"
    """
    raise NotBuiltError("`vtedge ask` needs the edge runtime, which is not built yet")
