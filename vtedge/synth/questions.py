"""Question families over a scene, each with its gold Video-Thinker reasoning trace.

Every family needs the model to find a moment (``<time>``), say what it shows
(``<caption>``) and reason over it (``<think>``) before answering. The base families are
``state``, ``order``, ``count`` and ``after``; the ood split adds two-hop compositions
(``state-after``, ``who-state``) that train never asks.

Every trace first walks the clip phase by phase: it captions every visible shape and says
what changed at the phase's start, then gives the question's focused blocks. A tiny model
trained on focused blocks alone learns their text and stops reading the frames; the walk
keeps phase captions right (99% against 58-70%, benchmarks/results/training.md, session 7).
``describe`` (how many shapes are visible at the end) is the walk alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from vtedge.reasoning.timestamps import format_span
from vtedge.synth.scene import SHAPES, Event, ObjectState, Scene, SceneObject

OPTION_LETTERS = "ABCDEF"
BASE_FAMILIES = ("state", "order", "count", "after", "describe")
TWO_HOP_FAMILIES = ("state-after", "who-state")
ORDINALS = {"first": 0, "second": 1, "last": -1}
COLUMNS = ("Left", "Middle", "Right")
NOTHING_VISIBLE = "Nothing is visible."


@dataclass(frozen=True)
class Tally:
    """Where a ``count`` walk step leaves the running count of the asked shape's changes;
    ``adds`` says whether this step's change is one of them (``None`` before the first).
    ``changed`` is the shape this step's change is about and ``changed_total`` its own
    running count (``""`` and 0 before the first change)."""

    shape: str
    total: int
    adds: bool | None
    changed: str = ""
    changed_total: int = 0

    def render(self, style: TraceStyle) -> str:
        """``The circle: 1 so far.``; after a change, with ``verdict`` ``That is the circle:
        1 so far.`` or ``Not the circle: 0 so far.``, with ``before_now`` ``The circle: 0
        before, 1 now.``, with ``each_shape`` the changed shape's own count (``The square:
        2 so far.``, nothing before the first change)."""
        if style.each_shape:
            return f"The {self.changed}: {self.changed_total} so far." if self.changed else ""
        if self.adds is None:
            return f"The {self.shape}: {self.total} {'now' if style.before_now else 'so far'}."
        if style.verdict:
            return f"{'That is' if self.adds else 'Not'} the {self.shape}: {self.total} so far."
        if style.before_now:
            return f"The {self.shape}: {self.total - self.adds} before, {self.total} now."
        return f"The {self.shape}: {self.total} so far."


@dataclass(frozen=True)
class Block:
    """One gold reasoning block: a span in whole seconds, its caption and thought, and the
    time of the event it shows (the walk repeats the thought at that phase's start).
    A walk step also holds its ``comparison``, which opens the thought when asked for, and
    its ``change`` and ``tally``, which replace the thought when a running tally is asked
    for, and its captions keyed by column (``by_column``, ``in_passes``), which replace the
    caption when asked for."""

    start: float
    end: float
    caption: str
    thought: str
    event_time: float | None = None
    comparison: str = ""
    change: str = ""
    tally: Tally | None = None
    by_column: str = ""
    in_passes: str = ""

    def render(self) -> str:
        return (
            f"<time>{format_span(self.start, self.end)}</time>"
            f"<caption>{self.caption}</caption><think>{self.thought}</think>"
        )

    def opened_with(self, text: str) -> Block:
        """This block with ``text`` before its thought."""
        return replace(self, thought=f"{text} {self.thought}") if text else self


@dataclass(frozen=True)
class TraceStyle:
    """How a gold trace is worded; the clip, question and answer never depend on it.
    ``compare`` opens each walk step's thought with every shape then and now and a
    verdict, ``goal`` opens the first with what the question looks for, ``tally`` ends
    each step of a ``count`` walk with the running count instead of the change notes,
    ``verdict`` opens that count with whether the step's change is the asked shape's,
    ``each_shape`` counts the changed shape's own changes instead of the asked shape's,
    ``before_now`` gives the count before the step's change, then after it,
    ``columns`` captions each phase column by column, colour before shape, and ``passes``
    column by column in two passes, every shape then every colour."""

    compare: bool = False
    goal: bool = False
    tally: bool = False
    verdict: bool = False
    each_shape: bool = False
    before_now: bool = False
    columns: bool = False
    passes: bool = False

    def __post_init__(self) -> None:
        if self.verdict + self.each_shape + self.before_now > 1:
            raise ValueError("verdict, each_shape and before_now word a count three ways: "
                             "choose one")


PLAIN = TraceStyle()  # the recipe's traces


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with its gold trace; ``answer`` indexes ``choices``.
    ``blocks`` are the evidence (the record's segments); ``walk`` precedes them. ``goal``
    restates what the question looks for, in the words the walk's notes use; ``tally``
    holds the running count at every phase (``count`` only)."""

    family: str
    problem: str
    choices: tuple[str, ...]
    answer: int
    blocks: tuple[Block, ...]
    conclusion: str
    walk: tuple[Block, ...] = ()
    goal: str = ""
    tally: tuple[Tally, ...] = ()

    @property
    def options(self) -> list[str]:
        return [f"{OPTION_LETTERS[k]}. {text}" for k, text in enumerate(self.choices)]

    @property
    def letter(self) -> str:
        return OPTION_LETTERS[self.answer]

    def evidence(self, style: TraceStyle = PLAIN) -> list[Block]:
        """``blocks`` with their captions worded as ``style`` asks (the record's segments)."""
        return [_styled_caption(b, style) for b in self.blocks]

    def process(self, style: TraceStyle = PLAIN) -> str:
        """The gold trace, worded as ``style`` asks."""
        walk = [_styled_caption(b, style) for b in self.walk]
        blocks = self.evidence(style)
        if style.tally:
            walk = [replace(b, thought=" ".join(filter(None, (
                        b.change, b.tally.render(style)))))
                    if b.tally else b for b in walk]
        if style.goal and walk:
            walk[0] = walk[0].opened_with(self.goal)
        steps = [b.opened_with(b.comparison) if style.compare else b for b in walk + blocks]
        return "\n".join([b.render() for b in steps] + [self.conclusion])


def _styled_caption(block: Block, style: TraceStyle) -> Block:
    if style.passes and block.in_passes:
        return replace(block, caption=block.in_passes)
    return replace(block, caption=block.by_column) if style.columns and block.by_column else block


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# Each event kind's verb, past and present; a recolour names its new colour.
EVENT_VERBS = {
    "appear": ("appeared", "appears"),
    "vanish": ("vanished", "vanishes"),
    "recolour": ("turned {colour}", "turns {colour}"),
    "start": ("started moving", "starts moving"),
    "stop": ("stopped moving", "stops moving"),
}


def describe(scene: Scene, event: Event, past: bool = True, subject: bool = True) -> str:
    """``the circle turned blue`` (past) or ``the circle turns blue`` (present)."""
    verb = EVENT_VERBS[event.kind][0 if past else 1].format(colour=event.colour)
    return f"the {scene.objects[event.obj].shape} {verb}" if subject else verb


def _span(scene: Scene, event: Event) -> tuple[float, float]:
    """The evidence for an event: half a phase before and after it, in whole seconds."""
    half = scene.phase_seconds / 2
    return max(0.0, event.time - half), min(scene.duration, event.time + half)


def _event_block(scene: Scene, event: Event, thought: str, also: str = "") -> Block:
    start, end = _span(scene, event)
    caption = _cap(describe(scene, event, past=False)) + "." + (f" {also}" if also else "")
    return Block(start, end, caption, thought, event.time)


def _unique(scene: Scene, event: Event) -> bool:
    """Whether the event's description names one moment of the clip."""
    text = describe(scene, event)
    return sum(describe(scene, e) == text for e in scene.events) == 1


def _shape_choices(scene: Scene, event: Event) -> tuple[tuple[str, ...], int]:
    """Every shape in a fixed order: ``after`` and ``order`` ask which shape changed, so the
    letter follows from the walk's change sentence (a shuffled list of event descriptions
    asked for a long-range copy ``vt-tiny`` did not learn on a CPU budget)."""
    return tuple(f"The {shape}" for shape in SHAPES), SHAPES.index(scene.objects[event.obj].shape)


def _colour_choices(scene: Scene, colour: str) -> tuple[tuple[str, ...], int]:
    """Every colour of the scene's palette in order, like the numbers of ``count``: the
    letter follows from the colour, so a colour question scores reading the frames, not a
    long-range copy of a shuffled list (which ``vt-tiny`` does not learn on a CPU budget; see
    benchmarks/results/training.md)."""
    return scene.palette, scene.palette.index(colour)


def _by_shape(scene: Scene) -> list[int]:
    return sorted(range(len(scene.objects)), key=lambda k: scene.objects[k].shape)


def _by_column(scene: Scene) -> list[int]:
    return sorted(range(len(scene.objects)), key=lambda k: scene.objects[k].column)


def _motion(state: ObjectState) -> str:
    return "moving" if state.moving else "still"


def _looks(state: ObjectState) -> str:
    """``red and moving``: what one visible shape looks like."""
    return f"{state.colour} and {_motion(state)}"


def _visible(scene: Scene, time: float, order: list[int]) -> list[tuple[SceneObject, ObjectState]]:
    """The shapes visible at ``time`` and their states, in ``order``."""
    states = [(scene.objects[k], scene.state(k, time)) for k in order]
    return [(obj, state) for obj, state in states if state.visible]


def _phase_caption(scene: Scene, time: float) -> tuple[str, int]:
    """Every visible shape at ``time`` in a fixed order of shapes, and how many there are.

    The shape comes first, then what it looks like, so each word can be read off the
    frames by looking for that shape.
    """
    clauses = [f"The {obj.shape} is {_looks(state)}."
               for obj, state in _visible(scene, time, _by_shape(scene))]
    return " ".join(clauses) or NOTHING_VISIBLE, len(clauses)


def _column_caption(scene: Scene, time: float) -> str:
    """Every visible shape at ``time`` from left to right, ``Left: a green circle, still.``

    The column comes first, then the colour, then the shape: the colour is read at a
    place, not guessed from the shape's name. With the shape first, the alignment stage
    gave a colour/shape pair training never shows p 0.08 for its colour, 0.87 with the
    column first (``python -m benchmarks.colour_reading --task caption``, session 22).
    """
    clauses = [f"{COLUMNS[obj.column]}: a {state.colour} {obj.shape}, {_motion(state)}."
               for obj, state in _visible(scene, time, _by_column(scene))]
    return " ".join(clauses) or NOTHING_VISIBLE


def _caption_in_passes(scene: Scene, time: float) -> str:
    """Every visible shape at ``time`` from left to right, then every colour and motion,
    ``Left: circle. Right: square. Left: green, still. Right: red, moving.``

    Neither word of a colour/shape pair follows the other in its clause. After an
    alignment stage on these captions a held-out pair's colour gets p 0.78 and its shape
    0.16, 0.21 in the first phase, before any colour word: the shape is misread from the
    frames, not guessed from the text (benchmarks/results/training.md, session 23).
    """
    seen = _visible(scene, time, _by_column(scene))
    shapes = [f"{COLUMNS[obj.column]}: {obj.shape}." for obj, _ in seen]
    looks = [f"{COLUMNS[obj.column]}: {state.colour}, {_motion(state)}." for obj, state in seen]
    return " ".join(shapes + looks) or NOTHING_VISIBLE


def _comparison(scene: Scene, phase: int) -> str:
    """Each shape seen in the phase before or this one, then and now side by side, and
    what that makes of it ("same", "vanished", "turned blue").

    Naming the change from two whole captions is what ``vt-tiny`` learns slowest; with
    each shape's two states a few tokens apart and a verdict per shape, the change
    sentence only copies the verdict that is not "same" (benchmarks/results/training.md,
    session 11).
    """
    before, now = scene.mid_phase(phase - 1), scene.mid_phase(phase)
    event = scene.events[phase - 1]
    clauses = []
    for k in _by_shape(scene):
        then_state, now_state = scene.state(k, before), scene.state(k, now)
        if then_state.visible or now_state.visible:
            was = _looks(then_state) if then_state.visible else "hidden"
            is_ = _looks(now_state) if now_state.visible else "hidden"
            verdict = describe(scene, event, subject=False) if event.obj == k else "same"
            clauses.append(f"The {scene.objects[k].shape} was {was}, now {is_}: {verdict}.")
    return " ".join(clauses)


def _phase_block(scene: Scene, phase: int, notes: list[str],
                 tally: Tally | None = None) -> Block:
    """One step of the walk: the whole phase, every visible shape, what changed at its
    start, then ``notes`` (the thoughts of focused blocks on that change); its comparison
    is each shape then and now."""
    start = phase * scene.phase_seconds
    caption, _ = _phase_caption(scene, scene.mid_phase(phase))
    by_column = _column_caption(scene, scene.mid_phase(phase))
    in_passes = _caption_in_passes(scene, scene.mid_phase(phase))
    change = ("No change yet." if phase == 0
              else f"{_cap(describe(scene, scene.events[phase - 1]))}.")
    return Block(start, start + scene.phase_seconds, caption, " ".join([change, *notes]),
                 comparison=_comparison(scene, phase) if phase else "",
                 change=change, tally=tally, by_column=by_column, in_passes=in_passes)


def _step_of(scene: Scene, time: float) -> int:
    """The walk step whose start names the change at ``time``."""
    return round(time / scene.phase_seconds)


def _walks(ask: Callable[[np.random.Generator, Scene], Question | None]):
    """Put the phase walk before a family's focused blocks."""

    @functools.wraps(ask)
    def walked(rng: np.random.Generator, scene: Scene) -> Question | None:
        question = ask(rng, scene)
        if question is None:
            return None
        notes: dict[int, list[str]] = {}
        for block in question.blocks:
            if block.event_time is not None:
                notes.setdefault(_step_of(scene, block.event_time), []).append(block.thought)
        tallies = question.tally or (None,) * scene.phases
        walk = tuple(_phase_block(scene, p, notes.get(p, []), tallies[p])
                     for p in range(scene.phases))
        return replace(question, walk=walk)

    return walked


@_walks
def ask_state(rng: np.random.Generator, scene: Scene) -> Question | None:
    """What colour was one shape when another shape's event happened?"""
    candidates = [
        (e, k, s)
        for e in scene.events
        for k in range(len(scene.objects))
        if k != e.obj and _unique(scene, e) and (s := scene.steady_around(k, e.time)) is not None
    ]
    if not candidates:
        return None
    event, k, state = candidates[rng.integers(len(candidates))]
    shape = scene.objects[k].shape
    choices, answer = _colour_choices(scene, state.colour)
    block = _event_block(
        scene,
        event,
        f"This is when {describe(scene, event)}; the {shape} is {state.colour}.",
        also=f"The {shape} is {state.colour}.",
    )
    return Question(
        "state",
        f"What colour was the {shape} when {describe(scene, event)}?",
        choices,
        answer,
        (block,),
        f"So the {shape} was {state.colour}.",
        goal=f"I look for when {describe(scene, event)}, then the {shape}'s colour.",
    )


@_walks
def ask_order(rng: np.random.Generator, scene: Scene) -> Question | None:
    """Which shape changed first, second or last?"""
    if len(scene.events) < 2:
        return None
    names = list(ORDINALS)
    ordinal = names[rng.integers(len(names))]
    position = ORDINALS[ordinal] % len(scene.events)
    target = scene.events[position]
    choices, answer = _shape_choices(scene, target)
    if ordinal == "last":
        blocks = [
            _event_block(scene, target, "Nothing changes after this, so it is the last event.")
        ]
    else:
        blocks = [
            _event_block(scene, e, f"This is the {name} event.")
            for name, e in zip(("first", "second"), scene.events[: position + 1], strict=False)
        ]
    return Question(
        "order",
        f"Which shape changed {ordinal}?",
        choices,
        answer,
        tuple(blocks),
        f"So {describe(scene, target)} {ordinal}.",
        goal=f"I look for the {ordinal} change.",
    )


@_walks
def ask_count(rng: np.random.Generator, scene: Scene) -> Question | None:
    """How many events involve one shape?"""
    # Pick a count first, then a shape with it, so answers spread over the counts.
    by_count: dict[int, list[int]] = {}
    for k in range(len(scene.objects)):
        by_count.setdefault(sum(e.obj == k for e in scene.events), []).append(k)
    counts = sorted(by_count)
    group = by_count[counts[rng.integers(len(counts))]]
    k = group[rng.integers(len(group))]
    shape = scene.objects[k].shape
    mine = [e for e in scene.events if e.obj == k]
    most = min(len(scene.events), len(OPTION_LETTERS) - 1)
    choices = tuple(str(n) for n in range(max(most, 3) + 1))
    if mine:
        blocks = [
            _event_block(scene, e, f"Change {i + 1} for the {shape}.") for i, e in enumerate(mine)
        ]
    else:
        blocks = [
            Block(0.0, scene.duration, f"The {shape} never changes.", "Nothing happens to it.")
        ]
    return Question(
        "count",
        f"How many times did the {shape} appear, vanish, change colour, or start or stop moving?",
        choices,
        len(mine),
        tuple(blocks),
        f"So the count for the {shape} is {len(mine)}.",
        goal=f"I count the changes of the {shape}.",
        tally=_tally(scene, shape, mine),
    )


def _tally(scene: Scene, shape: str, mine: list[Event]) -> tuple[Tally, ...]:
    """``The circle: 1 so far.`` after every walk step: whether a step adds one compares
    its change with the shape named a step before, not with the question ~450 tokens back
    (the walk's count notes land on other shapes' changes, benchmarks/results/training.md,
    session 19). Each also holds the count of its own change's shape (``each_shape``)."""
    phases = [_step_of(scene, e.time) for e in mine]
    tallies = []
    for phase in range(scene.phases):
        total = sum(p <= phase for p in phases)
        if not phase:
            tallies.append(Tally(shape, total, None))
            continue
        obj = scene.events[phase - 1].obj  # the change this walk step names
        tallies.append(Tally(shape, total, phase in phases, scene.objects[obj].shape,
                             sum(e.obj == obj for e in scene.events[:phase])))
    return tuple(tallies)


@_walks
def ask_after(rng: np.random.Generator, scene: Scene) -> Question | None:
    """Which shape changed right after a given event?"""
    if len(scene.events) < 2:
        return None
    starts = [i for i in range(len(scene.events) - 1) if _unique(scene, scene.events[i])]
    if not starts:
        return None
    i = starts[rng.integers(len(starts))]
    first, target = scene.events[i], scene.events[i + 1]
    choices, answer = _shape_choices(scene, target)
    blocks = (
        _event_block(scene, first, "This is the event in question; what comes next?"),
        _event_block(scene, target, "This is what happens right after."),
    )
    return Question(
        "after",
        f"Which shape changed right after {describe(scene, first)}?",
        choices,
        answer,
        blocks,
        f"So next, {describe(scene, target)}.",
        goal=f"I look for when {describe(scene, first)}, then the next change.",
    )


@_walks
def ask_state_after(rng: np.random.Generator, scene: Scene) -> Question | None:
    """Two hops: find the event after a given one, then a shape's colour at that moment."""
    candidates = [
        (scene.events[i], scene.events[i + 1], k, s)
        for i in range(len(scene.events) - 1)
        for k in range(len(scene.objects))
        if k != scene.events[i + 1].obj
        and _unique(scene, scene.events[i])
        and (s := scene.steady_around(k, scene.events[i + 1].time)) is not None
    ]
    if not candidates:
        return None
    first, second, k, state = candidates[rng.integers(len(candidates))]
    shape = scene.objects[k].shape
    choices, answer = _colour_choices(scene, state.colour)
    blocks = (
        _event_block(scene, first, "Now find the event right after this one."),
        _event_block(
            scene,
            second,
            f"That is the next event; the {shape} is {state.colour} then.",
            also=f"The {shape} is {state.colour}.",
        ),
    )
    return Question(
        "state-after",
        f"What colour was the {shape} when the event right after "
        f"{describe(scene, first)} happened?",
        choices,
        answer,
        blocks,
        f"So the {shape} was {state.colour}.",
        goal=f"I look for when {describe(scene, first)}, then the next change and the "
        f"{shape}'s colour.",
    )


@_walks
def ask_who_state(rng: np.random.Generator, scene: Scene) -> Question | None:
    """Two hops: identify a shape by what it did, then its colour when another event happened."""
    verbs = [describe(scene, e, subject=False) for e in scene.events]
    candidates = []
    for e1, verb in zip(scene.events, verbs, strict=False):
        if e1.kind == "vanish" or verbs.count(verb) != 1:
            continue  # the description must pick out one shape
        for e2 in scene.events:
            if (
                e2.obj != e1.obj
                and _unique(scene, e2)
                and (s := scene.steady_around(e1.obj, e2.time)) is not None
            ):
                candidates.append((e1, verb, e2, s))
    if not candidates:
        return None
    e1, verb, e2, state = candidates[rng.integers(len(candidates))]
    shape = scene.objects[e1.obj].shape
    choices, answer = _colour_choices(scene, state.colour)
    blocks = (
        _event_block(scene, e1, f"So the shape that {verb} is the {shape}."),
        _event_block(
            scene,
            e2,
            f"At this moment the {shape} is {state.colour}.",
            also=f"The {shape} is {state.colour}.",
        ),
    )
    return Question(
        "who-state",
        f"What colour was the shape that {verb}, at the moment {describe(scene, e2)}?",
        choices,
        answer,
        blocks,
        f"So the {shape} was {state.colour}.",
        goal=f"I look for the shape that {verb}, then its colour when {describe(scene, e2)}.",
    )


def ask_describe(rng: np.random.Generator, scene: Scene) -> Question | None:
    """How many shapes are visible at the end? Answered by the walk alone."""
    blocks, count = [], 0
    for phase in range(scene.phases):
        _, count = _phase_caption(scene, scene.mid_phase(phase))
        blocks.append(_phase_block(scene, phase, [
            f"{count} shape{'' if count == 1 else 's'} visible here."]))
    choices = tuple(str(n) for n in range(max(len(scene.objects), 3) + 1))
    return Question(
        "describe",
        "How many shapes are visible at the end of the video?",
        choices,
        count,
        tuple(blocks),
        f"So {count} shape{'' if count == 1 else 's'} {'is' if count == 1 else 'are'} "
        "visible at the end.",
    )


FAMILIES: dict[str, Callable[[np.random.Generator, Scene], Question | None]] = {
    "state": ask_state,
    "order": ask_order,
    "count": ask_count,
    "after": ask_after,
    "state-after": ask_state_after,
    "who-state": ask_who_state,
    "describe": ask_describe,
}
