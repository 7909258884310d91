"""Triton kernel for frame tokenization: uint8 HWC frames straight to Qwen2-VL patches.

A program writes ``WINDOWS`` 2x2 merge windows (4 rows of ``pixel_values`` each). Every
output element finds its source pixel by index arithmetic, so temporal padding, HWC->CHW,
the patch cut and the merge-window order cost nothing but addressing: one read of the
frames, one write of the patches. Normalization is the core's 256-entry table per channel
(3 KiB, cached), so fp32 output is bit-identical to ``vtedge.patchify``.
"""

from __future__ import annotations

import triton
import triton.language as tl

from vtedge.kernels.dispatch import interpreting

# Per-clip metadata row (int64), built by ``frame_tokenize._tokenize_triton``: data
# pointer, frame count, strides (t, h, w, c), windows per row, windows per frame pair,
# first window.
META_FIELDS = 9


@triton.jit
def frame_tokenize_kernel(
    clips_ptr,
    window_clip_ptr,
    table_ptr,
    out_ptr,
    total_windows,
    PATCH: tl.constexpr,
    TEMPORAL: tl.constexpr,
    MERGE: tl.constexpr,
    WINDOWS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    window = tl.program_id(0) * WINDOWS + tl.arange(0, WINDOWS)
    live = window < total_windows
    clip = tl.load(window_clip_ptr + window, mask=live, other=0)
    meta = clips_ptr + clip * 9
    frames_ptr = tl.load(meta + 0).to(tl.pointer_type(tl.uint8))
    last_frame = tl.load(meta + 1) - 1
    stride_t = tl.load(meta + 2)
    stride_h = tl.load(meta + 3)
    stride_w = tl.load(meta + 4)
    stride_c = tl.load(meta + 5)
    windows_w = tl.load(meta + 6)
    windows_per_t = tl.load(meta + 7)
    local = window - tl.load(meta + 8)
    t_index = local // windows_per_t
    block_h = (local % windows_per_t) // windows_w
    block_w = local % windows_w

    ROW: tl.constexpr = 3 * TEMPORAL * PATCH * PATCH
    WINDOW: tl.constexpr = MERGE * MERGE * ROW
    out_rows = out_ptr + window.to(tl.int64)[:, None] * WINDOW
    for start in range(0, WINDOW, BLOCK):
        e = start + tl.arange(0, BLOCK)[None, :]
        valid = (e < WINDOW) & live[:, None]
        r = e // ROW
        col = e % ROW
        channel = col // (TEMPORAL * PATCH * PATCH)
        tp = (col // (PATCH * PATCH)) % TEMPORAL
        y = (block_h[:, None] * MERGE + r // MERGE) * PATCH + (col // PATCH) % PATCH
        x = (block_w[:, None] * MERGE + r % MERGE) * PATCH + col % PATCH
        # Temporal padding repeats the last frame, as the image processor does.
        frame = tl.minimum(t_index[:, None] * TEMPORAL + tp, last_frame[:, None])
        src = (frame * stride_t[:, None] + y * stride_h[:, None] + x * stride_w[:, None]
               + channel * stride_c[:, None])
        level = tl.load(frames_ptr[:, None] + src, mask=valid, other=0).to(tl.int32)
        value = tl.load(table_ptr + channel * 256 + level, mask=valid, other=0.0)
        tl.store(out_rows + e, value, mask=valid)


def launch(clips, window_clip, table, out, patch, temporal, merge):
    """Run the kernel over every merge window listed in ``window_clip``.

    On a GPU one program streams one window in 1024-element blocks; the interpreter, whose
    cost is per operation rather than per element, takes every window in one program.
    """
    total = window_clip.numel()
    window = merge * merge * 3 * temporal * patch * patch
    if interpreting():
        windows, block = triton.next_power_of_2(total), triton.next_power_of_2(window)
    else:
        windows, block = 1, 1024
    frame_tokenize_kernel[(triton.cdiv(total, windows),)](
        clips, window_clip, table, out, total,
        PATCH=patch, TEMPORAL=temporal, MERGE=merge, WINDOWS=windows, BLOCK=block,
        num_warps=4,
    )
