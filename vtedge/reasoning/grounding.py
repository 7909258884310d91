"""Temporal IoU between predicted ``<time>`` spans and ground-truth segments."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def span_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two ``(start, end)`` spans; 1.0 for identical points."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    if union <= 0:
        return 1.0 if a == b else 0.0
    return inter / union


def as_span(item: Any) -> tuple[float, float] | None:
    """``(start, end)`` from a dict, a pair or an object with ``start``/``end``; ``None`` if
    it is not a finite span with ``start <= end``."""
    try:
        if isinstance(item, dict):
            start, end = item["start"], item["end"]
        elif isinstance(item, (tuple, list)):
            start, end = item[0], item[1]
        else:
            start, end = item.start, item.end
        start, end = float(start), float(end)
    except (KeyError, IndexError, AttributeError, TypeError, ValueError):
        return None
    if not (math.isfinite(start) and math.isfinite(end)) or end < start:
        return None
    return start, end


def best_ious(gold: Iterable[Any], predicted: Iterable[Any]) -> list[float]:
    """For each ground-truth span, the best IoU any predicted span reaches (0 if none)."""
    preds = [s for s in (as_span(p) for p in predicted) if s is not None]
    out = []
    for g in gold:
        span = as_span(g)
        if span is None:
            continue
        out.append(max((span_iou(span, p) for p in preds), default=0.0))
    return out
