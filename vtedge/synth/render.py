"""Draw a scene as RGB frames with numpy and encode it as an H.264 clip.

Big saturated shapes on a dark background, one column per object, so a model at 112x112
can tell them apart. A resting shape sits low in its column; a moving one bobs in the upper
band, so a single frame already shows whether it moves.

The background's tint is a timecode: it changes every whole second, through
``TIMECODE`` in order. Qwen2.5-VL's visual tokens carry their time only in M-RoPE
positions, which a few-million-parameter model trained on a CPU does not learn to read
in its budget; a tint every patch shows makes "when" a thing the model can see, as
burnt-in timestamps do in real footage (and frame numbers do in NumPro, CVPR 2025).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from vtedge.encode import encode_video
from vtedge.synth.scene import Scene

SIZE = 112
FPS = 8
# Dark, desaturated tints, one per second (then round again), far from the shapes' colours.
TIMECODE = (
    (24, 24, 24), (70, 50, 30), (30, 60, 60), (60, 30, 70), (50, 70, 30), (30, 40, 80),
    (80, 30, 45), (75, 75, 75), (35, 75, 45), (80, 60, 60), (45, 45, 20), (20, 45, 45),
)
RGB = {
    "red": (230, 30, 30),
    "green": (30, 200, 40),
    "blue": (40, 90, 255),
    "yellow": (245, 215, 20),
    "orange": (255, 140, 0),
    "purple": (150, 50, 210),
    "white": (235, 235, 235),
    "cyan": (20, 220, 220),
}
RADIUS = 15
REST_Y = 72
MOVING_Y = 34
BOB = 14
BOB_PERIOD = 1.3
# One encoder thread: clips this small gain nothing from threads, and the process pool
# already keeps the cores busy.
ENCODER_OPTIONS = {"preset": "veryfast", "crf": "23", "threads": "1"}


@cache
def shape_mask(shape: str, radius: int = RADIUS) -> np.ndarray:
    """Boolean ``(2r+1, 2r+1)`` mask of a shape centred in its box."""
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    if shape == "circle":
        return xx**2 + yy**2 <= radius**2
    if shape == "square":
        inner = int(radius * 0.85)
        return (np.abs(xx) <= inner) & (np.abs(yy) <= inner)
    if shape == "triangle":
        # Apex up, base at the bottom of the box.
        return (yy >= -radius) & (np.abs(xx) <= (yy + radius) / 2)
    raise ValueError(f"unknown shape {shape!r}")


def column_x(column: int) -> int:
    return int(round((column + 0.5) * SIZE / 3))


def object_y(moving: bool, since: float, time: float) -> int:
    if not moving:
        return REST_Y
    return int(round(MOVING_Y + BOB * np.sin(2 * np.pi * (time - since) / BOB_PERIOD)))


def background(time: float) -> tuple[int, int, int]:
    """The timecode tint of second ``floor(time)``."""
    return TIMECODE[int(time) % len(TIMECODE)]


def render_frame(scene: Scene, time: float) -> np.ndarray:
    """The ``(SIZE, SIZE, 3)`` uint8 frame at ``time`` seconds."""
    frame = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    frame[:] = background(time)
    for k, obj in enumerate(scene.objects):
        state = scene.state(k, time)
        if not state.visible:
            continue
        mask = shape_mask(obj.shape)
        r = mask.shape[0] // 2
        x, y = column_x(obj.column), object_y(state.moving, state.moving_since, time)
        frame[y - r : y + r + 1, x - r : x + r + 1][mask] = RGB[state.colour]
    return frame


def render_frames(scene: Scene, fps: int = FPS) -> list[np.ndarray]:
    """Every frame of the clip; frame ``i`` shows time ``i / fps``."""
    count = int(round(scene.duration * fps))
    return [render_frame(scene, i / fps) for i in range(count)]


def write_clip(scene: Scene, path: str | Path, fps: int = FPS) -> Path:
    """Render and encode the scene as an H.264 mp4."""
    return encode_video(path, render_frames(scene, fps), fps=fps, options=ENCODER_OPTIONS)
