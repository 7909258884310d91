"""The synthetic world: a few shapes whose visibility, colour and motion change at known times.

A shape is an object's identity (one of each per scene, so "the circle" is unambiguous);
colour, visibility and motion are its state. The timeline is cut into equal phases and at
most one event happens at each phase boundary, so every state holds for a whole phase and
8 frames sampled from the clip see each phase at least once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow")
# Colours no question asks about: shapes drawn in them (``--other-colours``) show every
# shape in every colour, so an alignment stage learns a shape apart from its colour
# (benchmarks/results/training.md, session 23).
OTHER_COLOURS = ("orange", "purple", "white", "cyan")
# Colour/shape pairs the train and val splits never show; the ood split always does.
HELD_OUT_PAIRS = frozenset({("triangle", "red"), ("circle", "green"), ("square", "blue")})
EVENT_KINDS = ("appear", "vanish", "recolour", "start", "stop")


@dataclass(frozen=True)
class SceneObject:
    """One shape in its own column, with its state at time zero."""

    shape: str
    column: int
    colour: str
    visible: bool
    moving: bool


@dataclass(frozen=True)
class Event:
    """Object ``obj`` changes at ``time`` seconds; ``colour`` is the new colour of a recolour."""

    time: float
    obj: int
    kind: str
    colour: str | None = None


@dataclass(frozen=True)
class ObjectState:
    visible: bool
    colour: str
    moving: bool
    moving_since: float


@dataclass(frozen=True)
class Scene:
    """Objects, their events in time order, the clip's timing, and the colours its shapes
    take (a colour question offers them all)."""

    objects: tuple[SceneObject, ...]
    events: tuple[Event, ...]
    phases: int
    phase_seconds: float
    palette: tuple[str, ...] = COLOURS

    @property
    def duration(self) -> float:
        return self.phases * self.phase_seconds

    def mid_phase(self, phase: int) -> float:
        """The middle of a phase: no event is near, so every state there is the phase's."""
        return (phase + 0.5) * self.phase_seconds

    def state(self, obj: int, time: float) -> ObjectState:
        """The object's state at ``time``: every event at or before it has happened."""
        o = self.objects[obj]
        visible, colour, moving, since = o.visible, o.colour, o.moving, 0.0
        for event in self.events:
            if event.time > time:
                break
            if event.obj != obj:
                continue
            if event.kind == "appear":
                visible = True
            elif event.kind == "vanish":
                visible = False
            elif event.kind == "recolour":
                colour = event.colour
            elif event.kind == "start":
                moving, since = True, event.time
            elif event.kind == "stop":
                moving = False
        return ObjectState(visible, colour, moving, since)

    def steady_around(self, obj: int, time: float) -> ObjectState | None:
        """The object's state just before and after ``time`` if it is visible and unchanged
        across it (then a question about its colour "when" something happens is clear)."""
        before = self.state(obj, time - self.phase_seconds / 2)
        after = self.state(obj, time + self.phase_seconds / 2)
        if before.visible and after.visible and before.colour == after.colour:
            return after
        return None

    def pairs_shown(self) -> set[tuple[str, str]]:
        """Every (shape, colour) pair visible at some moment of the clip."""
        shown = set()
        for k, o in enumerate(self.objects):
            for phase in range(self.phases):
                s = self.state(k, self.mid_phase(phase))
                if s.visible:
                    shown.add((o.shape, s.colour))
        return shown


def _allowed(shape: str, colour: str, held_out_ok: bool) -> bool:
    return held_out_ok or (shape, colour) not in HELD_OUT_PAIRS


def _legal_events(scene_objects, states, time, held_out_ok,
                  palette: tuple[str, ...]) -> dict[str, list[Event]]:
    by_kind: dict[str, list[Event]] = {kind: [] for kind in EVENT_KINDS}
    for k, (o, s) in enumerate(zip(scene_objects, states, strict=False)):
        if not s.visible:
            by_kind["appear"].append(Event(time, k, "appear"))
            continue
        by_kind["vanish"].append(Event(time, k, "vanish"))
        for colour in palette:
            if colour != s.colour and _allowed(o.shape, colour, held_out_ok):
                by_kind["recolour"].append(Event(time, k, "recolour", colour))
        by_kind["stop" if s.moving else "start"].append(
            Event(time, k, "stop" if s.moving else "start")
        )
    return {kind: events for kind, events in by_kind.items() if events}


def sample_scene(
    rng: np.random.Generator,
    phases: int,
    phase_seconds: float,
    num_objects: int,
    held_out: bool,
    palette: tuple[str, ...] = COLOURS,
) -> Scene:
    """A random scene with one event at every phase boundary, its shapes in ``palette``'s
    colours.

    ``held_out`` makes the first-listed object start in its held-out colour (the ood
    split; ``COLOURS`` only); otherwise held-out pairs never occur. Every object is
    visible at some point.
    """
    while True:
        shapes = rng.permutation(SHAPES)[:num_objects]
        columns = rng.permutation(3)[:num_objects]
        objects = []
        for k, (shape, column) in enumerate(zip(shapes, columns, strict=False)):
            colours = [c for c in palette if _allowed(shape, c, held_out)]
            if held_out and k == 0:
                colour = next(c for c in COLOURS if (shape, c) in HELD_OUT_PAIRS)
                visible = True
            else:
                colour = colours[rng.integers(len(colours))]
                visible = bool(rng.random() < 0.75)
            objects.append(
                SceneObject(str(shape), int(column), colour, visible, bool(rng.random() < 0.3))
            )
        events: list[Event] = []
        for boundary in range(1, phases):
            time = boundary * phase_seconds
            partial = Scene(tuple(objects), tuple(events), phases, phase_seconds)
            states = [partial.state(k, time - phase_seconds / 2) for k in range(num_objects)]
            legal = _legal_events(objects, states, time, held_out, palette)
            kinds = sorted(legal)
            choices = legal[kinds[rng.integers(len(kinds))]]
            events.append(choices[rng.integers(len(choices))])
        scene = Scene(tuple(objects), tuple(events), phases, phase_seconds, palette)
        seen = {shape for shape, _ in scene.pairs_shown()}
        if len(seen) == num_objects:
            return scene
