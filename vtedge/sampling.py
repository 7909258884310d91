"""Which source frames a clip samples: qwen-vl-utils' frame indices placed on the pts timeline.

qwen-vl-utils picks frame indices ``linspace(0, total - 1, n).round()``. vtedge maps index
``k`` to the time ``start + k / fps`` and takes the frame whose presentation timestamp is
nearest that time (the earlier frame on a tie). On a constant-rate video that is exactly
the ``k``-th frame; on a variable-rate video the samples stay evenly spaced in time, which
is what the temporal position ids assume, and a seek can find them without counting frames.
"""

from __future__ import annotations

import numpy as np


def frame_indices(total_frames: int, nframes: int) -> np.ndarray:
    """qwen-vl-utils' sampled indices: ``nframes`` evenly spread over ``[0, total - 1]``."""
    return np.linspace(0, total_frames - 1, nframes).round().astype(np.int64)


def target_times(indices: np.ndarray, start: float, fps: float) -> np.ndarray:
    """Seconds on the pts timeline where each sampled index falls on a uniform grid."""
    return start + np.asarray(indices, dtype=np.float64) / fps


def is_nearer_previous(target: float, previous: float, current: float) -> bool:
    """The tie rule shared by the streaming decoder and :func:`nearest_frames`."""
    return target - previous <= current - target


def nearest_frames(frame_times: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index into ``frame_times`` (sorted seconds) of the frame nearest each target.

    A target after the last frame takes the last frame.
    """
    frame_times = np.asarray(frame_times, dtype=np.float64)
    after = np.searchsorted(frame_times, targets, side="left")
    picks = np.minimum(after, len(frame_times) - 1)
    for i, (target, j) in enumerate(zip(targets, after, strict=True)):
        if 0 < j < len(frame_times) and is_nearer_previous(
            target, frame_times[j - 1], frame_times[j]
        ):
            picks[i] = j - 1
    return picks
