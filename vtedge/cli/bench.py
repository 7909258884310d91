"""``vtedge bench``: run the microbenchmarks in ``benchmarks/``."""

from __future__ import annotations

import click

from vtedge.errors import NotBuiltError


@click.group("bench")
def command() -> None:
    """Microbenchmarks; each prints ours vs. the reference, measured in one run."""


@command.command("kernels")
def kernels() -> None:
    """Triton kernels vs. their torch references."""
    raise NotBuiltError("`vtedge bench kernels` is not built yet")
