"""The progress bar of every long job (decoding, synthesis, training, prediction): rich on
stderr, so it never touches a pipe's output, and silenced by ``--quiet``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(label: str, total: int | None, disable: bool = False,
                 transient: bool = False) -> Iterator[Callable[..., None]]:
    """Yields ``advance(n=1, **fields)``; ``fields`` are shown after the bar (loss, lr).

    A ``transient`` bar is erased when done, for jobs whose own output follows it; off a
    terminal, where rich draws no live bar, it would leave only a blank line, so it is off.
    """
    if not disable:
        from rich.console import Console

        console = Console(stderr=True)
        disable = transient and not console.is_terminal
    if disable:
        yield lambda n=1, **fields: None
        return
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
    with Progress(*columns, console=console, transient=transient) as progress:
        task = progress.add_task(label, total=total, info="")

        def advance(n: int = 1, **fields) -> None:
            info = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in fields.items())
            progress.update(task, advance=n, info=info)

        yield advance
