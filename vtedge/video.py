"""``load_clip``: a video file to the sampled, resized, upright frames the model sees.

Sampling follows qwen-vl-utils (``VisionSpec.num_frames``, indices ``linspace(0, total-1,
n).round()``) placed on the pts timeline as ``vtedge.sampling`` documents; resizing follows
``VisionSpec.frame_size``; rotation metadata is honoured; sources larger than
``vtedge.decode.MAX_SOURCE_PIXELS`` per frame are refused.

Frame count: the container's index gives it when it has one (MP4, MOV, AVI); otherwise
(MKV, WebM) it is estimated as duration x frame rate. Whenever a pass decodes the whole
stream the real count replaces the estimate and the frames are re-planned over it. A file
whose tail does not decode yields the frames of its readable span, sampled over that span,
with a warning in ``Clip.warnings`` (also issued through :mod:`warnings`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtedge.decode import END_TOLERANCE_FRAMES, Decoded, StreamInfo, VideoReader
from vtedge.errors import BudgetError, VideoDecodeError
from vtedge.sampling import frame_indices, nearest_frames, target_times
from vtedge.spec import PRESETS, VisionSpec


class TruncatedVideoWarning(UserWarning):
    """Part of the video could not be decoded; the clip covers the readable span."""


@dataclass(frozen=True)
class Clip:
    """The sampled frames of one video and the numbers the model's positions need."""

    frames: np.ndarray  # (T, H, W, 3) uint8, upright, resized
    timestamps: tuple[float, ...]  # seconds from the first frame, per sampled frame (pts)
    indices: tuple[int, ...]  # qwen-vl-utils' sampled frame indices
    fps: float  # source frame rate
    duration: float  # seconds (of the readable span, if the tail is corrupt)
    total_frames: int  # frames the sampling was planned over
    sample_fps: float
    second_per_grid_t: float
    height: int  # resized
    width: int
    source_height: int  # upright source size
    source_width: int
    rotation: int  # degrees counterclockwise applied to make frames upright
    grid_thw: tuple[int, int, int]
    video_tokens: int
    path: str
    codec: str
    strategy: str  # "seek" or "linear": how the frames were found
    frames_decoded: int  # decoded pictures it took, all passes together
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Plan:
    total: int
    nframes: int
    indices: np.ndarray
    targets: np.ndarray
    height: int
    width: int


def _plan(spec: VisionSpec, info: StreamInfo, total: int, path: Path) -> _Plan:
    try:
        n = spec.num_frames(total, info.fps)
        height, width = spec.frame_size(info.height, info.width, n)
    except BudgetError as error:
        raise BudgetError(f"{path}: {error}") from None
    indices = frame_indices(total, n)
    return _Plan(total, n, indices, target_times(indices, info.start, info.fps), height, width)


def load_clip(path: str | Path, spec: VisionSpec | None = None, *, strategy: str = "auto",
              progress: Callable[[int, int], None] | None = None) -> Clip:
    """Decode the frames ``spec`` (default: video-thinker) samples from the video at ``path``.

    ``strategy`` is ``"auto"`` (seek when few frames of a long video are wanted),
    ``"seek"`` or ``"linear"``; all three return the same frames. ``progress`` is called
    as ``(frames decoded, frames expected)`` while a pass decodes the whole stream. Raises
    ``MissingPathError``, ``VideoDecodeError`` or ``BudgetError`` with a one-line message
    naming the file.
    """
    spec = spec if spec is not None else PRESETS["video-thinker"]
    path = Path(path)
    notes: list[str] = []
    with VideoReader(path) as reader:
        reader.on_progress = progress
        info = reader.info
        plan = _plan(spec, info, info.total_frames, path)
        result = reader.read(plan.targets, plan.height, plan.width, spec.resize_filter,
                             strategy, scan_to_end=not info.frames_exact)
        if result.scanned_times is not None:
            info, plan, note = _correct(spec, info, plan, result, path)
            if note:
                notes.append(note)
            picked = np.asarray(result.scanned_times)[
                nearest_frames(result.scanned_times, plan.targets)].tolist()
            same_size = bool(result.frames) and result.frames[0].shape[:2] == (plan.height,
                                                                                plan.width)
            if not result.complete or picked != result.times or not same_size:
                result = reader.read(plan.targets, plan.height, plan.width,
                                     spec.resize_filter, "linear")
        if not result.complete:
            raise VideoDecodeError(f"{path}: could not decode the sampled frames")
        decoded = reader.frames_decoded
    for note in notes:
        warnings.warn(note, TruncatedVideoWarning, stacklevel=2)
    return _clip(path, spec, info, plan, result, decoded, tuple(notes))


def _correct(spec: VisionSpec, info: StreamInfo, plan: _Plan, result: Decoded, path: Path):
    """Re-plan once a pass has seen every readable frame: the real count replaces the
    estimate, and a stream that ends early is cut to its readable span (with a note)."""
    scanned = result.scanned_times
    readable = len(scanned)
    if readable < 2:
        why = f" ({result.error})" if result.error else ""
        raise VideoDecodeError(f"{path}: only {readable} frame could be decoded{why}")
    step = 1 / info.fps
    span = scanned[-1] - info.start + step
    if info.frames_exact:
        short = readable < info.total_frames - END_TOLERANCE_FRAMES
    else:
        short = span < info.duration - END_TOLERANCE_FRAMES * step
    note = None
    if result.error or short or not result.complete:
        why = f" ({result.error})" if result.error else ""
        expected = "" if not info.frames_exact else f" of {info.total_frames}"
        note = (f"{path}: only {readable}{expected} frames ({span:.2f} of {info.duration:.2f} s) "
                f"could be decoded{why}; sampled over the readable span")
        info = dataclasses.replace(info, duration=span, total_frames=readable)
    elif readable != info.total_frames:
        # The estimate was off (variable frame rate): keep the duration, fix count and rate.
        info = dataclasses.replace(info, total_frames=readable, fps=readable / info.duration)
    else:
        return info, plan, None
    return info, _plan(spec, info, readable, path), note


def _clip(path: Path, spec: VisionSpec, info: StreamInfo, plan: _Plan, result: Decoded,
          decoded: int, notes: tuple[str, ...]) -> Clip:
    sample_fps = plan.nframes / plan.total * info.fps
    grid = spec.grid_thw(plan.nframes, plan.height, plan.width)
    return Clip(
        frames=np.stack(result.frames),
        timestamps=tuple(round(t - info.start, 6) for t in result.times),
        indices=tuple(int(i) for i in plan.indices),
        fps=info.fps,
        duration=info.duration,
        total_frames=plan.total,
        sample_fps=sample_fps,
        second_per_grid_t=spec.second_per_grid_t(sample_fps),
        height=plan.height,
        width=plan.width,
        source_height=info.height,
        source_width=info.width,
        rotation=info.rotation,
        grid_thw=grid,
        video_tokens=spec.video_tokens(grid),
        path=str(path),
        codec=info.codec,
        strategy=result.strategy,
        frames_decoded=decoded,
        warnings=notes,
    )
