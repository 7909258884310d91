"""Read a Video-Thinker output into grounded segments and an answer; never raises.

The format is repeated ``<time>…</time> <caption>…</caption> <think>…</think>`` blocks,
free text allowed between them, then one ``<answer>…</answer>``. Tags are matched in any
case with stray whitespace inside the brackets; a tag left open runs to the next tag or
the end of the text, so a truncated generation still yields what it said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vtedge.reasoning.timestamps import parse_span

TAGS = ("time", "caption", "think", "answer")
# One whitespace run per gap, never two in a row: "\s*/?\s*" would try every split of a
# long run between them, which is quadratic in a degenerate output's spaces.
_TAG = re.compile(r"<\s*(?:(/)\s*)?(time|caption|think|answer)\s*>", re.IGNORECASE)
_BETWEEN = re.compile(r"\s*")


@dataclass(frozen=True)
class Segment:
    """One grounded moment: a span in seconds, what was seen, what was thought of it."""

    start: float
    end: float
    caption: str
    thought: str


@dataclass(frozen=True)
class Element:
    """One tag's content in reading order; ``closed`` is False for an unclosed tag."""

    tag: str
    content: str
    closed: bool
    begin: int
    end: int


@dataclass
class Reasoning:
    """What a model wrote, structured.

    ``segments`` holds every ``<time>`` whose span parses, with the caption and thought
    of its block (empty when missing). ``counts`` counts closed tags of each kind and
    ``blocks`` the closed time→caption→think triples with only whitespace between, as the
    published format reward counts them. ``answer`` is the last answer tag's content,
    closed or not.
    """

    segments: list[Segment] = field(default_factory=list)
    answer: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TAGS, 0))
    blocks: int = 0
    unparsed_times: int = 0
    elements: list[Element] = field(default_factory=list)

    @property
    def spans(self) -> list[tuple[float, float]]:
        return [(s.start, s.end) for s in self.segments]

    @property
    def well_formed(self) -> bool:
        """The published format check: at least one block, equal counts, one answer."""
        c = self.counts
        return (
            self.blocks >= 1
            and c["time"] == c["caption"] == c["think"] == self.blocks
            and c["answer"] == 1
        )


def _elements(text: str) -> list[Element]:
    """Tag contents in order. An opening tag ends at its own closing tag or, failing
    that, at the next opening tag; stray closing tags are ignored."""
    found: list[Element] = []
    matches = list(_TAG.finditer(text))
    i = 0
    while i < len(matches):
        opening = matches[i]
        if opening.group(1):
            i += 1
            continue
        tag = opening.group(2).lower()
        j = i + 1
        while j < len(matches) and matches[j].group(1):
            if matches[j].group(2).lower() == tag:
                break
            j += 1
        if j < len(matches) and matches[j].group(1) and matches[j].group(2).lower() == tag:
            closing = matches[j]
            found.append(
                Element(
                    tag, text[opening.end() : closing.start()], True, opening.start(), closing.end()
                )
            )
            i = j + 1
        else:
            stop = matches[j].start() if j < len(matches) else len(text)
            found.append(Element(tag, text[opening.end() : stop], False, opening.start(), stop))
            i = j
    return found


def _count_blocks(text: str, elements: list[Element]) -> int:
    blocks = 0
    for a, b, c in zip(elements, elements[1:], elements[2:], strict=False):
        if (a.tag, b.tag, c.tag) != ("time", "caption", "think"):
            continue
        if not (a.closed and b.closed and c.closed):
            continue
        if _BETWEEN.fullmatch(text, a.end, b.begin) and _BETWEEN.fullmatch(text, b.end, c.begin):
            blocks += 1
    return blocks


def parse(text: str) -> Reasoning:
    """Structure a model's output. Any string (or ``None``) gives a ``Reasoning``."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    elements = _elements(text)
    result = Reasoning(elements=elements)
    for element in elements:
        if element.closed:
            result.counts[element.tag] += 1
    result.blocks = _count_blocks(text, elements)

    for k, element in enumerate(elements):
        if element.tag == "answer":
            result.answer = element.content.strip()
        if element.tag != "time":
            continue
        span = parse_span(element.content)
        if span is None:
            result.unparsed_times += 1
            continue
        caption = thought = ""
        # The block runs until the next time or answer tag.
        for follower in elements[k + 1 :]:
            if follower.tag in ("time", "answer"):
                break
            if follower.tag == "caption" and not caption:
                caption = follower.content.strip()
            elif follower.tag == "think" and not thought:
                thought = follower.content.strip()
        result.segments.append(Segment(span[0], span[1], caption, thought))
    return result
