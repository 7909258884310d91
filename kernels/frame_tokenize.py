"""Frame tokenization on the accelerator: decoded uint8 frames to ``pixel_values``.

Same layout and values as the core's numpy ``patchify`` (temporal padding, rescale,
normalize, HWC->CHW, the 2x2 merge-window order), done by one Triton kernel that reads the
frames once and writes the patches once. A packed variant tokenizes clips of different
sizes in one launch and returns them concatenated, as the model consumes them.
"""

from __future__ import annotations

import functools

import torch

from vtedge.kernels.dispatch import interpreting, triton_module, use_triton
from vtedge.kernels.reference import frame_tokenize_reference
from vtedge.spec import VisionSpec

OUTPUT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def frame_tokenize(
    frames: torch.Tensor, spec: VisionSpec, dtype: torch.dtype = torch.float32,
    backend: str = "auto",
) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """``(T, H, W, 3)`` uint8 frames -> ``(pixel_values (N, patch_dim), (gt, gh, gw))``.

    Any strides are honoured (a crop or a channel-reversed view needs no copy).
    ``grid_thw`` is a tuple, as ``vtedge.patchify`` returns it.
    """
    check_frames(frames, spec, "frames")
    check_dtype(dtype)
    if not use_triton(backend, frames.device):
        return frame_tokenize_reference(frames, spec, dtype)
    pixel_values, grids = _tokenize_triton([frames], spec, dtype)
    return pixel_values, tuple(int(v) for v in grids[0])


def frame_tokenize_packed(
    clips: list[torch.Tensor], spec: VisionSpec, dtype: torch.dtype = torch.float32,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Several clips (each ``(T_i, H_i, W_i, 3)`` uint8, one device) in one launch.

    Returns the patches of every clip concatenated in order and ``grid_thw`` as a
    ``(n_clips, 3)`` LongTensor: the ``pixel_values`` / ``video_grid_thw`` pair the
    Qwen2.5-VL vision tower takes.
    """
    if not isinstance(clips, (list, tuple)) or not clips:
        raise ValueError("frame_tokenize_packed expects a non-empty list of frame tensors")
    for i, clip in enumerate(clips):
        check_frames(clip, spec, f"clips[{i}]")
    devices = {clip.device for clip in clips}
    if len(devices) > 1:
        raise ValueError(f"all clips must be on one device, got {sorted(map(str, devices))}")
    check_dtype(dtype)
    if not use_triton(backend, clips[0].device):
        parts = [frame_tokenize_reference(clip, spec, dtype) for clip in clips]
        grids = torch.tensor([grid for _, grid in parts], dtype=torch.long)
        return torch.cat([values for values, _ in parts]), grids.to(clips[0].device)
    pixel_values, grids = _tokenize_triton(list(clips), spec, dtype)
    return pixel_values, torch.tensor(grids, dtype=torch.long, device=clips[0].device)


def check_frames(frames, spec: VisionSpec, name: str) -> None:
    """A clear ``ValueError`` for anything the kernel cannot tokenize."""
    if not isinstance(frames, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(frames).__name__}")
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"{name} must be uint8 of shape (T, H, W, 3), got {frames.dtype} {tuple(frames.shape)}"
        )
    t, h, w, _ = frames.shape
    factor = spec.patch_size * spec.merge_size
    if t == 0 or h == 0 or w == 0 or h % factor or w % factor:
        raise ValueError(
            f"{name} of {t}x{h}x{w} cannot be tokenized: need T >= 1 and sides that are "
            f"positive multiples of {factor}"
        )


def check_dtype(dtype) -> None:
    if dtype not in OUTPUT_DTYPES:
        names = ", ".join(str(d).removeprefix("torch.") for d in OUTPUT_DTYPES)
        raise ValueError(f"dtype must be one of {names}, got {dtype}")


def clip_grid(frames: torch.Tensor, spec: VisionSpec) -> tuple[int, int, int]:
    t, h, w, _ = frames.shape
    tp = spec.temporal_patch_size
    return (t + (-t) % tp) // tp, h // spec.patch_size, w // spec.patch_size


def _tokenize_triton(clips, spec: VisionSpec, dtype):
    """Build the per-clip table (one small host-to-device copy), then launch once."""
    device = clips[0].device
    if interpreting() and device.type != "cpu":
        # The interpreter copies tensor arguments to the host, but not the raw device
        # pointers in the clip table: run it on host copies instead.
        out, grids = _tokenize_triton([clip.cpu() for clip in clips], spec, dtype)
        return out.to(device), grids
    table, windows, grids = clip_table(clips, spec)
    return tokenize_with_table(table, windows, spec, dtype), grids


def clip_table(clips, spec: VisionSpec) -> tuple[torch.Tensor, int, list]:
    """``(table, windows, grids)``: the kernel's per-clip metadata on the clips' device
    (pointers, strides, window counts; ``triton_frames.META_FIELDS``), the total number of
    merge windows, and each clip's ``grid_thw``. Valid while the clips are alive."""
    merge = spec.merge_size
    rows, first_window, grids = [], 0, []
    for clip in clips:
        gt, gh, gw = clip_grid(clip, spec)
        grids.append((gt, gh, gw))
        windows_w = gw // merge
        windows_per_t = (gh // merge) * windows_w
        st, sh, sw, sc = clip.stride()
        rows.append([clip.data_ptr(), clip.shape[0], st, sh, sw, sc, windows_w, windows_per_t,
                     first_window])
        first_window += gt * windows_per_t
    return torch.tensor(rows, dtype=torch.int64, device=clips[0].device), first_window, grids


def tokenize_with_table(table: torch.Tensor, windows: int, spec: VisionSpec, dtype):
    """Allocate ``pixel_values`` and launch the kernel for a ``clip_table``."""
    merge = spec.merge_size
    levels = normalization_levels(spec, table.device)
    out = torch.empty(windows * merge * merge, spec.patch_dim, dtype=dtype, device=table.device)
    triton_module("triton_frames").launch(table, windows, levels, out, spec.patch_size,
                                          spec.temporal_patch_size, merge)
    return out


@functools.lru_cache(maxsize=16)
def normalization_levels(spec: VisionSpec, device: torch.device) -> torch.Tensor:
    """The core's ``(3, 256)`` float32 table of normalized uint8 levels, on ``device``;
    cached, so a call costs no copy after the first (the kernel only reads it)."""
    from vtedge.patchify import normalization_table

    return torch.from_numpy(normalization_table(spec)).to(device)
