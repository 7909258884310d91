"""Per-token SFT loss weights: what a trace reasons, weighted over what it reads off frames.

In a walk trace about 60% of the label tokens are ``<time>`` spans and ``<caption>``s,
which the alignment stage already taught; the thoughts, conclusion and letter that fail
(benchmarks/results/training.md) get the rest of a token-mean loss. ``weight`` scales
every token outside the time and caption elements, so their share of the gradient grows
without changing what the model is asked to write.
"""

from __future__ import annotations

import re

# Adjacent elements form one run, so a token across "</time><caption>" counts as inside.
_PERCEPTION = re.compile(r"(?:<time>.*?</time>|<caption>.*?</caption>)+", re.DOTALL)


def reasoning_weights(text: str, offsets: list[tuple[int, int]], weight: float) -> list[float]:
    """One weight per token of ``text`` (``offsets``: its character span): 1 inside a
    ``<time>`` or ``<caption>`` element, tags included, ``weight`` everywhere else."""
    spans = [m.span() for m in _PERCEPTION.finditer(text)]
    weights, k = [], 0
    for start, end in offsets:
        while k < len(spans) and spans[k][1] <= start:
            k += 1
        inside = k < len(spans) and spans[k][0] <= start and end <= spans[k][1]
        weights.append(1.0 if inside else weight)
    return weights
