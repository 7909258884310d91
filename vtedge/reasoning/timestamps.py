"""Times inside ``<time>`` tags: read ``MM:SS``, ``HH:MM:SS`` and plain seconds; write ``MM:SS``."""

from __future__ import annotations

import math
import re

# One clock value: up to three colon-separated fields, the last may have a fraction,
# optionally followed by a seconds unit ("12.5s", "12.5 sec").
_CLOCK = r"\d{1,6}(?::\d{1,2}){0,2}(?:\.\d+)?"
_UNIT = r"(?:(?:s|sec|secs|seconds)\s*)?"  # after "\s*": one whitespace run per gap
_SPAN = re.compile(
    rf"^\s*({_CLOCK})\s*{_UNIT}(?:-|–|—|~|to)\s*({_CLOCK})\s*{_UNIT}$",
    re.IGNORECASE,
)
MAX_SECONDS = 1e7


def parse_clock(text: str) -> float | None:
    """Seconds of ``SS[.f]``, ``MM:SS[.f]`` or ``HH:MM:SS[.f]``; ``None`` if not a time."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        return None
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    # A minutes or seconds field after a colon must stay below 60.
    if any(v >= 60 for v in values[1:]) or any(v < 0 or not math.isfinite(v) for v in values):
        return None
    seconds = 0.0
    for value in values:
        seconds = seconds * 60 + value
    return seconds if seconds <= MAX_SECONDS else None


def parse_span(text: str) -> tuple[float, float] | None:
    """``(start, end)`` in seconds of a span such as ``00:12-00:20`` or ``12.5-20``.

    ``None`` when the text is not a span or ends before it starts.
    """
    match = _SPAN.match(text)
    if match is None:
        return None
    start, end = parse_clock(match.group(1)), parse_clock(match.group(2))
    if start is None or end is None or end < start:
        return None
    return start, end


def format_clock(seconds: float) -> str:
    """``MM:SS`` (``HH:MM:SS`` from one hour), whole seconds as Video-Thinker writes them."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def format_span(start: float, end: float) -> str:
    """``MM:SS-MM:SS`` covering ``[start, end]``: start rounded down, end rounded up."""
    return f"{format_clock(math.floor(start))}-{format_clock(math.ceil(end))}"
