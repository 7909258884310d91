"""Triton kernel for frame tokenization: uint8 HWC frames straight to Qwen2-VL patches.

A program writes one 2x2 merge window (4 rows of ``pixel_values``) as a 2-D tile: one axis
runs over (merge row, channel, temporal slot), the other over the pixels of a patch. Each
address is a sum of one per-axis offset from each, so temporal padding, HWC->CHW, the patch
cut and the merge-window order cost two adds per element: one read of the frames, one
write of the patches. Normalization is the core's 256-entry table per channel
(3 KiB, cached), so fp32 output is bit-identical to ``vtedge.patchify``.
"""

from __future__ import annotations

import triton
import triton.language as tl

from vtedge.kernels.dispatch import interpreting

# Per-clip metadata row (int64), built by ``frame_tokenize._tokenize_triton``: data
# pointer, frame count, strides (t, h, w, c), windows per row, windows per frame pair,
# first window. Each program finds its window's clip by scanning the first-window column,
# so a launch needs only this small table: no per-window map, nothing read back from the GPU.
META_FIELDS = 9


@triton.jit
def frame_tokenize_kernel(
    clips_ptr,
    n_clips,
    table_ptr,
    out_ptr,
    PATCH: tl.constexpr,
    TEMPORAL: tl.constexpr,
    MERGE: tl.constexpr,
    PARTS: tl.constexpr,
    PIXELS: tl.constexpr,
):
    window = tl.program_id(0).to(tl.int64)
    clip = 0
    for later in range(1, n_clips):
        clip += (window >= tl.load(clips_ptr + later * 9 + 8)).to(tl.int32)
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

    # Axis 0: part = (merge row r, channel c, temporal slot tp), in the output's order.
    part = tl.arange(0, PARTS)
    r = part // (3 * TEMPORAL)
    channel = (part // TEMPORAL) % 3
    tp = part % TEMPORAL
    live_part = part < MERGE * MERGE * 3 * TEMPORAL
    # Temporal padding repeats the last frame, as the image processor does.
    frame = tl.minimum(t_index * TEMPORAL + tp, last_frame)
    y0 = (block_h * MERGE + r // MERGE) * PATCH
    x0 = (block_w * MERGE + r % MERGE) * PATCH
    src_part = frame * stride_t + y0 * stride_h + x0 * stride_w + channel * stride_c
    ROW: tl.constexpr = 3 * TEMPORAL * PATCH * PATCH
    out_part = r * ROW + channel * (TEMPORAL * PATCH * PATCH) + tp * (PATCH * PATCH)
    # Axis 1: the pixel (py, px) of the patch; its output column is the pixel index itself.
    pixel = tl.arange(0, PIXELS)
    live_pixel = pixel < PATCH * PATCH
    src_pixel = (pixel // PATCH) * stride_h + (pixel % PATCH) * stride_w

    live = live_part[:, None] & live_pixel[None, :]
    level = tl.load(frames_ptr + (src_part[:, None] + src_pixel[None, :]), mask=live, other=0)
    value = tl.load(table_ptr + (channel * 256)[:, None] + level.to(tl.int32), mask=live,
                    other=0.0)
    out = out_ptr + window * (MERGE * MERGE * ROW)
    tl.store(out + (out_part[:, None] + pixel[None, :]), value, mask=live)


def launch(clips, total, table, out, patch, temporal, merge):
    """Run the kernel over the ``total`` merge windows of the clips in the ``clips`` table:
    one program per window, its tile padded to powers of two."""
    parts = triton.next_power_of_2(merge * merge * 3 * temporal)
    pixels = triton.next_power_of_2(patch * patch)
    frame_tokenize_kernel[(total,)](
        clips, clips.shape[0], table, out,
        PATCH=patch, TEMPORAL=temporal, MERGE=merge, PARTS=parts, PIXELS=pixels,
        num_warps=4 if interpreting() else 8,
    )
