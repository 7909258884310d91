"""``patchify`` equals transformers' Qwen2-VL image processor on images, and the documented
index map (DESIGN.md) on videos."""

from __future__ import annotations

import numpy as np
import pytest

from vtedge.errors import BudgetError
from vtedge.patchify import normalization_table, patchify
from vtedge.spec import PRESETS, VisionSpec

SPEC = VisionSpec()


@pytest.fixture(scope="module")
def processor_class():
    transformers = pytest.importorskip("transformers")
    return transformers.Qwen2VLImageProcessorPil


@pytest.mark.parametrize(("height", "width"), [(28, 28), (56, 84), (224, 280), (84, 28)])
def test_patchify_equals_transformers_on_images(processor_class, height, width):
    rng = np.random.default_rng(height * 1000 + width)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    # A pixel range that holds exactly this size, so the processor does not resize.
    processor = processor_class(min_pixels=height * width, max_pixels=height * width)
    expected = processor(images=[image], return_tensors="np")
    pixel_values, grid_thw = patchify(image[None], SPEC)
    assert pixel_values.dtype == np.float32
    assert grid_thw == tuple(int(v) for v in expected["image_grid_thw"][0])
    assert np.abs(pixel_values - expected["pixel_values"]).max() <= 1e-6


def index_map_reference(frames: np.ndarray, spec: VisionSpec) -> np.ndarray:
    """The documented layout written out per element.

    Row ``r = (((t*GH + bh)*GW + bw)*2 + mh)*2 + mw`` and column
    ``c = ((ch*2 + tt)*14 + y)*14 + x`` hold the normalized value of
    ``frames[2t + tt, (2bh + mh)*14 + y, (2bw + mw)*14 + x, ch]``, where GH, GW count merge
    windows and T is padded to even by repeating the last frame.
    """
    if len(frames) % 2:
        frames = np.concatenate([frames, frames[-1:]])
    t_count, height, width, _ = frames.shape
    big_h, big_w = height // 28, width // 28
    t, bh, bw, mh, mw, ch, tt, y, x = np.meshgrid(
        np.arange(t_count // 2), np.arange(big_h), np.arange(big_w), np.arange(2),
        np.arange(2), np.arange(3), np.arange(2), np.arange(14), np.arange(14), indexing="ij")
    values = frames[2 * t + tt, (2 * bh + mh) * 14 + y, (2 * bw + mw) * 14 + x, ch]
    mean = np.asarray(spec.image_mean, dtype=np.float64)[ch]
    std = np.asarray(spec.image_std, dtype=np.float64)[ch]
    normalized = (values / 255.0 - mean) / std
    return normalized.reshape(t_count // 2 * big_h * 2 * big_w * 2, 3 * 2 * 14 * 14)


@pytest.mark.parametrize("count", [2, 5, 8])
def test_patchify_follows_the_index_map_on_videos(count):
    rng = np.random.default_rng(count)
    frames = rng.integers(0, 256, (count, 56, 84, 3), dtype=np.uint8)
    pixel_values, grid_thw = patchify(frames, SPEC)
    assert grid_thw == ((count + 1) // 2, 4, 6)
    assert pixel_values.shape == (grid_thw[0] * 4 * 6, 1176)
    assert np.abs(pixel_values - index_map_reference(frames, SPEC)).max() <= 1e-6


def test_patchify_equals_the_normalization_table_bitwise():
    """The kernels' reference normalizes through the table; both must agree exactly."""
    frames = np.random.default_rng(7).integers(0, 256, (3, 56, 56, 3), dtype=np.uint8)
    pixel_values, _ = patchify(frames, SPEC)
    table = normalization_table(SPEC)
    padded = np.concatenate([frames, frames[-1:]])
    ordered = padded.reshape(2, 2, 2, 2, 14, 2, 2, 14, 3).transpose(0, 2, 5, 3, 6, 8, 1, 4, 7)
    ordered = ordered.reshape(-1, 3, 392)
    expected = np.stack([table[c][ordered[:, c]] for c in range(3)], axis=1).reshape(-1, 1176)
    np.testing.assert_array_equal(pixel_values, expected)


def test_patchify_grid_matches_the_spec():
    spec = PRESETS["video-thinker"]
    frames = np.zeros((16, 224, 280, 3), dtype=np.uint8)
    pixel_values, grid_thw = patchify(frames, spec)
    assert grid_thw == spec.grid_thw(16, 224, 280)
    assert spec.video_tokens(grid_thw) == pixel_values.shape[0] // 4


@pytest.mark.parametrize("bad", [
    np.zeros((2, 30, 28, 3), dtype=np.uint8),
    np.zeros((2, 28, 28, 3), dtype=np.float32),
    np.zeros((28, 28, 3), dtype=np.uint8),
    np.zeros((0, 28, 28, 3), dtype=np.uint8),
])
def test_patchify_rejects_unpatchable_frames(bad):
    with pytest.raises(BudgetError):
        patchify(bad, SPEC)
