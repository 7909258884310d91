"""Training metrics: one JSON object per line (``metrics.jsonl``), and TensorBoard when
installed."""

from __future__ import annotations

import json
import math
from pathlib import Path


class MetricsLog:
    """Appends ``{"step": n, "split": ..., **values}`` lines; only the main process writes."""

    def __init__(self, run_dir: str | Path, enabled: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.enabled = enabled
        self._tensorboard = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tensorboard = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self._tensorboard = None

    def write(self, step: int, split: str, values: dict) -> dict:
        row = {"step": step, "split": split}
        row.update({k: _plain(v) for k, v in values.items()})
        if not self.enabled:
            return row
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if self._tensorboard is not None:
            for key, value in row.items():
                if isinstance(value, (int, float)) and key != "step":
                    self._tensorboard.add_scalar(f"{split}/{key}", value, step)
        return row

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()


def _plain(value):
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a ``metrics.jsonl`` in step order (tests and benchmarks read runs back
    with it). A run that died after its last checkpoint and was resumed logged some steps
    twice; the resumed run's row is the one kept."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    latest = {(row["step"], row["split"]): row for row in rows}
    return sorted(latest.values(), key=lambda row: row["step"])
