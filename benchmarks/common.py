"""What every benchmark shares: the device's name, a wall-clock timer, and a markdown table
printed to stdout and written to ``benchmarks/results/<name>.md``."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def vector_extensions(flags: set[str]) -> str:
    """The x86 vector level that decides which kernels run, and so the last bits of
    results: int8 products without VNNI saturate (``benchmarks.int8_saturation``)."""
    level = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else ""
    if level and flags & {"avx512_vnni", "avx_vnni"}:
        level += " + VNNI"
    return level


def device_name() -> str:
    """The CPU model, vector level and core count, plus the GPU when torch is already loaded
    and sees one."""
    cpu, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    cpu = ", ".join(part for part in (cpu, vector_extensions(flags)) if part)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    name = f"{cores}-core CPU ({cpu})"
    torch = __import__("sys").modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        name += f", GPU {torch.cuda.get_device_name()}"
    return name


def best_time(run: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """Fastest wall time of ``repeat`` runs (seconds) and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def interleaved_best(runs: dict[str, Callable[[], object]], repeat: int = 5
                     ) -> dict[str, tuple[float, object]]:
    """``best_time`` for several contenders, taking turns so that load from other processes
    on a shared machine hits them alike and their ratio stays fair."""
    best = {name: (float("inf"), None) for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            result = run()
            elapsed = time.perf_counter() - start
            best[name] = (min(best[name][0], elapsed), result)
    return best


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, title: str, headers: Sequence[str],
                  rows: Sequence[Sequence[object]], notes: Sequence[str] = (),
                  command: str | None = None) -> Path:
    """Print the table and write it, with the device, date and the command that measured
    it (default ``python -m benchmarks.<name>``), to ``results/<name>.md``."""
    text = "\n".join([
        f"# {title}",
        "",
        f"Device: {device_name()}. Measured {time.strftime('%Y-%m-%d')} by "
        f"`{command or f'python -m benchmarks.{name}'}`.",
        "",
        markdown_table(headers, rows),
        *([""] + [f"- {note}" for note in notes] if notes else []),
        "",
    ])
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path
