"""Per-token SFT loss weights: what a trace reasons and answers, weighted over what it
reads off frames.

In a walk trace about 60% of the label tokens are ``<time>`` spans and ``<caption>``s,
which the alignment stage already taught; the thoughts, conclusion and letter that fail
(benchmarks/results/training.md) get the rest of a token-mean loss. ``reasoning`` scales
every token outside the time and caption elements, so their share of the gradient grows
without changing what the model is asked to write. ``answer`` scales the ``<answer>``
element apart: its letter is one token of ~240, yet a seed can write the right conclusion
and the wrong letter on half its colour answers (training.md, session 27).
"""

from __future__ import annotations

import re

# Adjacent elements form one run, so a token across "</time><caption>" counts as inside.
_PERCEPTION = re.compile(r"(?:<time>.*?</time>|<caption>.*?</caption>)+", re.DOTALL)
_ANSWER = re.compile(r"<answer>.*?</answer>", re.DOTALL)


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in spans)


def trace_weights(text: str, offsets: list[tuple[int, int]], reasoning: float,
                  answer: float = 1.0) -> list[float]:
    """One weight per token of ``text`` (``offsets``: its character span): 1 inside a
    ``<time>`` or ``<caption>`` element, ``answer`` inside the ``<answer>`` element (tags
    included), ``reasoning`` everywhere else, which a token reaching past its element's
    end also gets."""
    perceived = [m.span() for m in _PERCEPTION.finditer(text)]
    answered = [m.span() for m in _ANSWER.finditer(text)]
    return [1.0 if _inside(perceived, start, end) else
            answer if _inside(answered, start, end) else reasoning
            for start, end in offsets]
