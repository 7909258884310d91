"""The synthetic "thinking with videos" suite: shapes with timed events, questions, gold traces."""

from vtedge.synth.generate import (
    DATA_SOURCE,
    GENERATOR_VERSION,
    SPLITS,
    SplitConfig,
    generate_split,
    get_split,
    make_record,
)
from vtedge.synth.questions import (
    BASE_FAMILIES,
    FAMILIES,
    TWO_HOP_FAMILIES,
    Block,
    Question,
    TraceStyle,
)
from vtedge.synth.render import render_frame, render_frames, write_clip
from vtedge.synth.scene import (
    COLOURS,
    HELD_OUT_PAIRS,
    OTHER_COLOURS,
    SHAPES,
    Event,
    Scene,
    sample_scene,
)

__all__ = [
    "BASE_FAMILIES",
    "COLOURS",
    "DATA_SOURCE",
    "FAMILIES",
    "GENERATOR_VERSION",
    "HELD_OUT_PAIRS",
    "OTHER_COLOURS",
    "SHAPES",
    "SPLITS",
    "TWO_HOP_FAMILIES",
    "TraceStyle",
    "Block",
    "Event",
    "Question",
    "Scene",
    "SplitConfig",
    "generate_split",
    "get_split",
    "make_record",
    "render_frame",
    "render_frames",
    "sample_scene",
    "write_clip",
]
