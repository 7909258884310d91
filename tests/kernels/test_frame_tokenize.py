"""Frame tokenization: the Triton kernel (interpreted on CPU) and the torch reference
against the core's numpy ``patchify``, exact in fp32 and within one ulp in bf16/fp16."""

import importlib

import numpy as np
import pytest
import torch

from vtedge.kernels import frame_tokenize, frame_tokenize_packed, frame_tokenize_reference
from vtedge.patchify import patchify
from vtedge.spec import get_spec

SPEC = get_spec("tiny")


def frames(t, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=g)


def numpy_patches(clip):
    values, grid = patchify(clip.contiguous().numpy(), SPEC)
    return torch.from_numpy(values), grid


def within_one_ulp(actual, exact_fp32, mantissa_bits):
    """|actual - exact| <= one ulp of the narrow type at the exact value."""
    exponent = torch.floor(torch.log2(exact_fp32.abs().clamp(min=1e-30)))
    ulp = torch.exp2(exponent - mantissa_bits)
    return bool(((actual.float() - exact_fp32).abs() <= ulp).all())


@pytest.mark.parametrize("backend", ["triton", "torch"])
@pytest.mark.parametrize("t", [3, 2])
def test_fp32_is_bit_identical_to_patchify(backend, t):
    clip = frames(t, 56, 84, seed=t)
    values, grid = frame_tokenize(clip, SPEC, backend=backend)
    expected, expected_grid = numpy_patches(clip)
    assert grid == expected_grid == ((t + 1) // 2, 4, 6)
    assert values.dtype == torch.float32 and values.shape == (expected.shape[0], 1176)
    assert torch.equal(values, expected)


def test_strided_views_need_no_copy_and_match(monkeypatch):
    """The kernel reads each view where it lies: its table holds the view's own pointer
    and strides."""
    module = importlib.import_module("vtedge.kernels.frame_tokenize")
    tables = []
    build = module.clip_table
    monkeypatch.setattr(module, "clip_table",
                        lambda clips, spec: tables.append(build(clips, spec)) or tables[-1])
    big = frames(6, 70, 90, seed=1)
    # Every other frame, a crop, and a channel-planar layout seen as HWC.
    cropped = big[::2, 7:63, 3:59, :]
    planar = frames(3, 28, 56, seed=2).permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1)
    for clip in (cropped, planar):
        assert not clip.is_contiguous()
        values, _ = frame_tokenize(clip, SPEC, backend="triton")
        assert torch.equal(values, numpy_patches(clip)[0])
        row = tables[-1][0][0].tolist()
        assert row[0] == clip.data_ptr() and tuple(row[2:6]) == clip.stride()


@pytest.mark.parametrize("dtype,mantissa", [(torch.bfloat16, 7), (torch.float16, 10)])
def test_half_precision_within_one_ulp(dtype, mantissa):
    clip = frames(3, 28, 56, seed=3)
    expected, _ = numpy_patches(clip)
    values, _ = frame_tokenize(clip, SPEC, dtype=dtype, backend="triton")
    assert values.dtype == dtype
    assert within_one_ulp(values, expected, mantissa)
    reference, _ = frame_tokenize_reference(clip, SPEC, dtype)
    assert within_one_ulp(reference, expected, mantissa)


def test_packed_clips_of_different_sizes_in_one_launch():
    clips = [frames(3, 56, 28, seed=4), frames(1, 28, 84, seed=5), frames(2, 28, 28, seed=6)]
    values, grids = frame_tokenize_packed(clips, SPEC, backend="triton")
    parts = [numpy_patches(clip) for clip in clips]
    assert torch.equal(values, torch.cat([p[0] for p in parts]))
    assert grids.dtype == torch.long
    assert grids.tolist() == [list(p[1]) for p in parts] == [[2, 4, 2], [1, 2, 6], [1, 2, 2]]
    ref_values, ref_grids = frame_tokenize_packed(clips, SPEC, backend="torch")
    assert torch.equal(ref_values, values) and torch.equal(ref_grids, grids)


def test_auto_on_cpu_uses_the_reference_and_agrees(no_kernel_launch):
    clip = frames(2, 28, 28, seed=7)
    values, grid = frame_tokenize(clip, SPEC)
    assert torch.equal(values, numpy_patches(clip)[0]) and grid == (1, 2, 2)


@pytest.mark.parametrize("backend", ["triton", "torch"])
def test_other_patch_geometry_and_normalization(backend):
    """Patches of 7 pixels, one frame per temporal patch, and other mean/std: every
    constant the kernel takes from the spec differs from the presets'."""
    spec = SPEC.replace(patch_size=7, temporal_patch_size=1, image_mean=(0.5, 0.4, 0.3),
                        image_std=(0.25, 0.2, 0.3))
    clip = frames(3, 28, 42, seed=8)
    values, grid = frame_tokenize(clip, spec, backend=backend)
    expected, expected_grid = patchify(clip.numpy(), spec)
    assert grid == expected_grid == (3, 4, 6) and values.shape == (72, 147)
    assert np.array_equal(values.numpy(), expected)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_matches_patchify(dtype):
    clips = [frames(3, 56, 84, seed=9), frames(16, 112, 56, seed=10)]
    expected = torch.cat([numpy_patches(clip)[0] for clip in clips])
    values, _ = frame_tokenize_packed([c.cuda() for c in clips], SPEC, dtype=dtype)
    single, _ = frame_tokenize(clips[1].cuda()[:, :, :28], SPEC, dtype=dtype)
    if dtype == torch.float32:
        assert torch.equal(values.cpu(), expected)
        assert torch.equal(single.cpu(), numpy_patches(clips[1][:, :, :28])[0])
    else:
        assert within_one_ulp(values.cpu(), expected, 7)
