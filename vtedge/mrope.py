"""Qwen2.5-VL multimodal rotary positions (M-RoPE), computed on the host in numpy.

The exported decoder takes ``position_ids`` of shape ``(3, B, S)`` (time, height, width),
so the runtime computes them here exactly as transformers' ``get_rope_index`` does for
video: text runs count up on all three axes; a video run starts at the current position,
its temporal axis advances by ``t * second_per_grid_t * tokens_per_second`` (truncated,
in float32 as the processor's tensors are) and its spatial axes by the merged row/column;
the text after it resumes at ``start + max(h, w) / merge``. Padding (``attention_mask`` 0)
gets position 0 and does not count.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

TEXT, IMAGE, VIDEO = 0, 1, 2


def vision_position_ids(start: int, grid_thw: Sequence[int], merge_size: int,
                        time_interval: float | None) -> np.ndarray:
    """``(3, t*h*w/merge²)`` positions of one image or video run beginning at ``start``.

    ``time_interval`` is ``tokens_per_second * second_per_grid_t`` for a video and ``None``
    for an image (one step per temporal patch).
    """
    t, h, w = int(grid_thw[0]), int(grid_thw[1]) // merge_size, int(grid_thw[2]) // merge_size
    if time_interval is None:
        temporal = np.arange(t, dtype=np.int64)
    else:
        # float32 product then truncation: what `(arange(t) * tensor(float32)).long()` gives.
        temporal = (np.arange(t, dtype=np.float32) * np.float32(time_interval)).astype(np.int64)
    tt, hh, ww = np.meshgrid(temporal, np.arange(h) + start, np.arange(w) + start, indexing="ij")
    positions = np.stack([tt, hh, ww]).reshape(3, -1).astype(np.int64)
    positions[0] += start
    return positions


def rope_index(
    input_ids: np.ndarray,
    video_token_id: int,
    video_grid_thw: Sequence[Sequence[int]] = (),
    second_per_grid_ts: Sequence[float] | None = None,
    attention_mask: np.ndarray | None = None,
    *,
    image_token_id: int | None = None,
    image_grid_thw: Sequence[Sequence[int]] = (),
    merge_size: int = 2,
    tokens_per_second: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """``(position_ids (3, B, S) int64, rope_deltas (B, 1) int64)`` for a batch of prompts.

    Videos and images are consumed in order across the batch, one grid per run of
    placeholder tokens, as transformers does. ``rope_deltas`` is what decoding adds to a
    row's plain token count to continue its positions.
    """
    input_ids = np.asarray(input_ids)
    if input_ids.ndim != 2:
        raise ValueError(f"input_ids must be (batch, sequence), got shape {input_ids.shape}")
    batch, length = input_ids.shape
    mask = np.ones_like(input_ids, dtype=bool) if attention_mask is None \
        else np.asarray(attention_mask).astype(bool)
    videos = iter(video_grid_thw)
    images = iter(image_grid_thw)
    intervals = iter(second_per_grid_ts) if second_per_grid_ts is not None else None
    position_ids = np.zeros((3, batch, length), dtype=np.int64)
    deltas = np.zeros((batch, 1), dtype=np.int64)
    for row in range(batch):
        ids = input_ids[row][mask[row]]
        kinds = np.full(ids.shape, TEXT)
        kinds[ids == video_token_id] = VIDEO
        if image_token_id is not None:
            kinds[ids == image_token_id] = IMAGE
        pieces, current = [], 0
        for kind, run in itertools.groupby(kinds.tolist()):
            size = len(list(run))
            if kind == TEXT:
                pieces.append(np.broadcast_to(np.arange(size, dtype=np.int64) + current,
                                              (3, size)))
                current += size
                continue
            grid = next(videos) if kind == VIDEO else next(images)
            interval = None
            if kind == VIDEO:
                seconds = next(intervals) if intervals is not None else 1.0
                interval = np.float32(tokens_per_second) * np.float32(seconds)
            run_positions = vision_position_ids(current, grid, merge_size, interval)
            if run_positions.shape[1] != size:
                raise ValueError(
                    f"row {row}: {size} placeholder tokens but grid {tuple(grid)} "
                    f"needs {run_positions.shape[1]}"
                )
            pieces.append(run_positions)
            current += max(int(grid[1]), int(grid[2])) // merge_size
        positions = np.concatenate(pieces, axis=1) if pieces else np.zeros((3, 0), np.int64)
        position_ids[:, row, mask[row]] = positions
        deltas[row, 0] = (positions.max() + 1 if positions.size else 0) - len(ids)
    return position_ids, deltas


def decode_position_ids(attention_mask: np.ndarray, rope_deltas: np.ndarray,
                        new_tokens: int = 1) -> np.ndarray:
    """``(3, B, new_tokens)`` positions of the last ``new_tokens`` columns of a decoding step.

    ``attention_mask`` covers the cache plus the new tokens; a row's text position is its
    count of real tokens so far, shifted by its rope delta, as transformers generates.
    """
    mask = np.asarray(attention_mask).astype(np.int64)
    text = np.cumsum(mask, axis=-1)[:, -new_tokens:] - 1
    positions = text + np.asarray(rope_deltas, dtype=np.int64).reshape(-1, 1)
    return np.broadcast_to(positions[None], (3, *positions.shape)).copy()
