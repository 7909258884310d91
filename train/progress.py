"""A rich progress bar that can be silenced (``--quiet``) and never touches a pipe's output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(label: str, total: int | None, disable: bool = False,
                 ) -> Iterator[Callable[..., None]]:
    """Yields ``advance(n=1, **fields)``; ``fields`` are shown after the bar (loss, lr)."""
    if disable:
        yield lambda n=1, **fields: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"))
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        task = progress.add_task(label, total=total, info="")

        def advance(n: int = 1, **fields) -> None:
            info = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in fields.items())
            progress.update(task, advance=n, info=info)

        yield advance
