"""``vtedge bench``: run the microbenchmarks in ``benchmarks/``.

The benchmarks are not installed with the package; they run from a source checkout (the
editable install), found next to the ``vtedge`` package. Each subcommand imports its
benchmark module, and through it torch, only when it runs.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from vtedge.errors import MissingPathError, VtedgeError


@click.group("bench")
def command() -> None:
    """Microbenchmarks; each prints ours vs. the reference, measured in one run."""


def load_benchmark(name: str):
    """Import ``benchmarks/<name>.py`` from the source checkout this vtedge runs from."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / f"{name}.py").is_file():
        raise MissingPathError(
            f"benchmarks/{name}.py not found under {root}; benchmarks run from a source "
            "checkout (pip install -e .)"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as error:
        raise VtedgeError(
            f"the {name} benchmark needs {error.name or 'a missing package'}; "
            "install vtedge[train]"
        ) from None


@command.command("kernels")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Markdown file for the table [default: benchmarks/results/kernels-<device>.md].")
@click.option("--quiet", is_flag=True, help="Print only the table.")
def kernels(out: Path | None, quiet: bool) -> None:
    """Triton kernels vs. their torch references (references only without a GPU)."""
    load_benchmark("kernels").run(out, quiet)
