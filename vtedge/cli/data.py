"""``vtedge data``: datasets, starting with the synthetic thinking-with-videos suite."""

from __future__ import annotations

import click

from vtedge.errors import NotBuiltError


@click.group("data")
def command() -> None:
    """Make and inspect datasets."""


@command.command("synth")
@click.option("--out", required=True, type=click.Path(), help="Folder for clips and records.")
def synth(out: str) -> None:
    """Write synthetic clips with known events and Video-Thinker-format questions.

    \b
    Example:
      vtedge data synth --out data/train --n 1000 --seed 0 --split train
    """
    raise NotBuiltError("`vtedge data synth` is not built yet")
