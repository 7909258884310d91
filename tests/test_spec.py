"""The vision spec's sampling and resizing equal qwen-vl-utils' own functions.

qwen-vl-utils imports torchvision at module level, which a torch-free machine lacks, so
its pure functions are lifted out of its source file with ``ast`` and run as they are.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import logging
import math
import typing
from pathlib import Path

import numpy as np
import pytest

from vtedge.errors import BudgetError
from vtedge.sampling import frame_indices
from vtedge.spec import PRESETS, VisionSpec, parse_size, smart_resize

PEER_FUNCTIONS = ("round_by_factor", "ceil_by_factor", "floor_by_factor", "smart_resize",
                  "smart_nframes")

PEER_CONSTANTS = ("MAX_RATIO", "SPATIAL_MERGE_SIZE", "IMAGE_MIN_TOKEN_NUM", "IMAGE_MAX_TOKEN_NUM",
                  "VIDEO_MIN_TOKEN_NUM", "VIDEO_MAX_TOKEN_NUM", "FPS", "FRAME_FACTOR",
                  "FPS_MIN_FRAMES", "FPS_MAX_FRAMES")


@pytest.fixture(scope="module")
def qwen():
    """qwen-vl-utils' constants and sampling/resizing functions, executed from its source."""
    spec = importlib.util.find_spec("qwen_vl_utils")
    if spec is None:
        pytest.skip("qwen-vl-utils is not installed")
    source_path = Path(next(iter(spec.submodule_search_locations))) / "vision_process.py"
    tree = ast.parse(source_path.read_text())
    kept = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in PEER_FUNCTIONS:
            kept.append(node)
        elif isinstance(node, ast.Assign) and all(
            isinstance(target, ast.Name) and target.id in PEER_CONSTANTS
            for target in node.targets
        ):
            kept.append(node)
    namespace = {
        "math": math,
        "logger": logging.getLogger("qwen_vl_utils"),
        "Optional": typing.Optional,
        "Tuple": tuple,
        "Dict": dict,
        "Any": typing.Any,
        "Union": typing.Union,
    }
    exec(compile(ast.Module(body=kept, type_ignores=[]), str(source_path), "exec"), namespace)
    missing = [name for name in PEER_FUNCTIONS if name not in namespace]
    assert not missing, f"qwen-vl-utils no longer defines {missing}"
    return namespace


SIZES = [(1, 1), (10, 300), (28, 28), (100, 3000), (240, 320), (360, 640), (480, 854),
         (720, 1280), (1080, 1920), (1920, 1080), (2160, 3840), (4320, 7680), (97, 13),
         (13, 2000), (777, 333)]
BUDGETS = [(4 * 784, 16384 * 784), (128 * 784, 128 * 784), (128 * 784, 768 * 784),
           (56 * 56, 112 * 112), (784, 784 * 2)]


@pytest.mark.parametrize(("min_pixels", "max_pixels"), BUDGETS)
def test_smart_resize_equals_qwen(qwen, min_pixels, max_pixels):
    for height, width in SIZES:
        ours = smart_resize(height, width, 28, min_pixels, max_pixels)
        peer = qwen["smart_resize"](height, width, 28, min_pixels, max_pixels)
        # vtedge keeps every side at least 28 where qwen's floor can reach 0 (DESIGN.md).
        expected = tuple(max(28, side) for side in peer)
        assert ours == expected, (height, width, min_pixels, max_pixels)


def test_smart_resize_rejects_aspect_ratio_like_qwen(qwen):
    with pytest.raises(ValueError):
        qwen["smart_resize"](2, 500, 28, 784, 784 * 4)
    with pytest.raises(BudgetError, match="aspect ratio"):
        smart_resize(2, 500, 28, 784, 784 * 4)


TOTALS = [2, 3, 7, 16, 31, 100, 301, 1800, 36000]
VIDEO_FPS = [1.0, 7.5, 23.976, 25.0, 30.0, 59.94]


def test_num_frames_by_fps_equals_qwen(qwen):
    for total, video_fps, fps, (min_frames, max_frames) in itertools.product(
        TOTALS, VIDEO_FPS, [0.5, 1.0, 2.0, 4.0], [(4, 768), (2, 16), (8, 64), (3, 33)]
    ):
        spec = VisionSpec(fps=fps, min_frames=min_frames, max_frames=max_frames)
        ele = {"fps": fps, "min_frames": min_frames, "max_frames": max_frames}
        try:
            expected = qwen["smart_nframes"](ele, total_frames=total, video_fps=video_fps)
        except ValueError:
            with pytest.raises(BudgetError):
                spec.num_frames(total, video_fps)
            continue
        assert spec.num_frames(total, video_fps) == expected, (total, video_fps, ele)


def test_a_clip_too_short_to_sample_says_so():
    with pytest.raises(BudgetError, match="^a video of 1 frame is too short: sampling takes "
                                          "at least 2$"):
        VisionSpec(nframes=8).num_frames(1, 30.0)
    with pytest.raises(BudgetError, match="^cannot sample 8 frames from a video of 5 frames$"):
        VisionSpec(nframes=8).num_frames(5, 30.0)


def test_num_frames_by_count_equals_qwen(qwen):
    for total, nframes in itertools.product(TOTALS, [2, 3, 8, 15, 16, 64]):
        spec = VisionSpec(nframes=nframes)
        try:
            expected = qwen["smart_nframes"]({"nframes": nframes}, total_frames=total,
                                             video_fps=30.0)
        except ValueError:
            with pytest.raises(BudgetError):
                spec.num_frames(total, 30.0)
            continue
        assert spec.num_frames(total, 30.0) == expected


def qwen_video_size(qwen, height, width, nframes, spec: VisionSpec):
    """fetch_video's per-frame budget and resize, step by step as qwen-vl-utils does it."""
    factor = 28
    min_pixels = spec.min_pixels
    max_pixels = max(min(qwen["VIDEO_MAX_TOKEN_NUM"] * factor * factor,
                         spec.total_pixels / nframes * qwen["FRAME_FACTOR"]),
                     int(min_pixels * 1.05))
    max_pixels = min(spec.max_pixels, max_pixels)
    return qwen["smart_resize"](height, width, factor, min_pixels, max_pixels)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_frame_size_under_pixel_budget_equals_qwen(qwen, preset):
    base = PRESETS[preset]
    for total_pixels in (base.total_pixels, 16 * 128 * 784, 4 * 784 * 16, 10**6):
        spec = base.replace(total_pixels=total_pixels)
        for (height, width), nframes in itertools.product(SIZES[2:], [2, 16, 64, 768]):
            expected = tuple(max(28, s) for s in qwen_video_size(qwen, height, width, nframes,
                                                                   spec))
            assert spec.frame_size(height, width, nframes) == expected, (
                preset, total_pixels, height, width, nframes)


def test_a_resized_size_equals_qwen(qwen):
    """``resized_height``/``resized_width`` fix the size whatever the source or budget."""
    for height, width in SIZES[2:]:
        spec = PRESETS["tiny"].replace(resized_height=height, resized_width=width)
        expected = tuple(max(28, s) for s in qwen["smart_resize"](height, width, 28))
        assert spec.frame_size(1080, 1920, 8) == expected, (height, width)


def test_a_resized_size_needs_both_sides():
    with pytest.raises(BudgetError, match="give both or neither"):
        VisionSpec(resized_height=112)
    with pytest.raises(BudgetError, match="must be positive"):
        VisionSpec(resized_height=0, resized_width=112)
    with pytest.raises(BudgetError, match="--resize must be HEIGHTxWIDTH"):
        parse_size("112", "--resize")
    assert parse_size("84X140", "--resize") == (84, 140)


def test_frame_indices_equal_qwen_linspace():
    for total, n in [(10, 4), (100, 16), (31, 30), (2, 2), (36000, 16)]:
        expected = np.linspace(0, total - 1, n).round().astype(int)
        np.testing.assert_array_equal(frame_indices(total, n), expected)


def test_video_thinker_preset_is_the_published_setting():
    spec = PRESETS["video-thinker"]
    assert spec.nframes == 16
    assert spec.max_pixels == 128 * 28 * 28
    assert spec.second_per_grid_t(2.0) == 1.0
    assert spec.grid_thw(16, 224, 280) == (8, 16, 20)
    assert spec.video_tokens((8, 16, 20)) == 640


@pytest.mark.parametrize("fields", [{"fps": math.nan}, {"fps": 0.0}, {"total_pixels": -1}])
def test_a_rate_or_budget_that_is_not_a_positive_number_is_refused(fields):
    with pytest.raises(BudgetError, match="must be a positive number|must be positive"):
        VisionSpec(**fields)


@pytest.mark.parametrize("fields", [{"patch_size": 0}, {"merge_size": -2},
                                    {"temporal_patch_size": 1.5}])
def test_a_patch_geometry_that_is_not_a_positive_integer_is_refused(fields):
    """A bundle's manifest carries these: a zero would divide by zero mid-answer."""
    name = next(iter(fields))
    with pytest.raises(BudgetError, match=f"{name} must be a positive integer"):
        VisionSpec(**fields)
