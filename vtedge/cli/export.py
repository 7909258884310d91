"""``vtedge export``: checkpoint to a verified ONNX (INT8) bundle."""

from __future__ import annotations

import click

from vtedge.errors import NotBuiltError


@click.command("export")
@click.option("--model", required=True, type=click.Path(), help="Checkpoint directory to export.")
@click.option("--out", required=True, type=click.Path(), help="Bundle directory to write.")
def command(model: str, out: str) -> None:
    """Export a trained checkpoint to an ONNX bundle for the edge runtime.

    \b
    Example:
      vtedge export --model runs/grpo --out bundles/tiny --int8
    """
    raise NotBuiltError("`vtedge export` is not built yet")
