"""``vtedge eval``: score predictions, or run a model over a dataset and score it."""

from __future__ import annotations

import click

from vtedge.errors import NotBuiltError


@click.command("eval")
@click.option("--data", required=True, type=click.Path(), help="Dataset JSON/JSONL.")
def command(data: str) -> None:
    """Accuracy, format rate and grounding of a model on a dataset.

    \b
    Example:
      vtedge eval --pred preds.jsonl --data data/val/records.jsonl
    """
    raise NotBuiltError("`vtedge eval` is not built yet")
