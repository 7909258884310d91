"""Host M-RoPE positions against transformers' Qwen2.5-VL ``get_rope_index``."""

from __future__ import annotations

import functools
import types

import numpy as np
import pytest

from vtedge.mrope import decode_position_ids, rope_index

torch = pytest.importorskip("torch")
modeling = pytest.importorskip("transformers.models.qwen2_5_vl.modeling_qwen2_5_vl")

VIDEO, IMAGE, TEXT = 151656, 151655, 7
MERGE = 2


def reference(input_ids, mask, video_grids, seconds, image_grids=None, tokens_per_second=2):
    """transformers' get_rope_index, called without building a model."""
    model = types.SimpleNamespace(
        config=types.SimpleNamespace(vision_config=types.SimpleNamespace(
            spatial_merge_size=MERGE, tokens_per_second=tokens_per_second)),
        get_vision_position_ids=functools.partial(
            modeling.Qwen2_5_VLModel.get_vision_position_ids, None),
    )
    ids = torch.tensor(input_ids)
    types_ = torch.zeros_like(ids, dtype=torch.int32)
    types_[ids == VIDEO] = 2
    types_[ids == IMAGE] = 1
    positions, deltas = modeling.Qwen2_5_VLModel.get_rope_index(
        model, ids, types_,
        image_grid_thw=torch.tensor(image_grids) if image_grids else None,
        video_grid_thw=torch.tensor(video_grids) if video_grids else None,
        # As the processor builds it: a float32 tensor of 2 / sample_fps.
        second_per_grid_ts=torch.tensor(seconds) if seconds is not None else None,
        attention_mask=torch.tensor(mask) if mask is not None else None,
    )
    return positions.numpy(), deltas.numpy()


def row(*parts):
    ids = []
    for part in parts:
        ids += [VIDEO] * part[1] if isinstance(part, tuple) and part[0] == "v" else \
            [IMAGE] * part[1] if isinstance(part, tuple) else [TEXT] * part
    return ids


def tokens(grid):
    return grid[0] * grid[1] * grid[2] // MERGE**2


def check(input_ids, mask, video_grids, seconds, image_grids=None, tokens_per_second=2):
    ours = rope_index(np.array(input_ids), VIDEO, video_grids, seconds, mask and np.array(mask),
                      image_token_id=IMAGE, image_grid_thw=image_grids or (),
                      merge_size=MERGE, tokens_per_second=tokens_per_second)
    theirs = reference(input_ids, mask, video_grids, seconds, image_grids, tokens_per_second)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("sample_fps", [2.0, 1.0, 3.0, 0.7, 8 / 3])
def test_one_video_at_several_fps(sample_fps):
    grid = [4, 8, 6]
    check([row(5, ("v", tokens(grid)), 9)], None, [grid], [2 / sample_fps])


def test_several_videos_in_one_prompt_with_distinct_grids_and_fps():
    grids = [[4, 4, 4], [2, 6, 10], [8, 2, 2]]
    ids = row(3, ("v", tokens(grids[0])), 2, ("v", tokens(grids[1])), 4,
              ("v", tokens(grids[2])), 1)
    check([ids], None, grids, [1.0, 2 / 3, 0.25], tokens_per_second=25)


def test_video_and_image_together():
    ids = row(2, ("i", tokens([1, 4, 6])), 3, ("v", tokens([2, 4, 4])), 5)
    check([ids], None, [[2, 4, 4]], [0.5], image_grids=[[1, 4, 6]])


@pytest.mark.parametrize("side", ["left", "right"])
def test_padded_batch(side):
    grids = [[2, 4, 4], [4, 6, 4]]
    rows = [row(4, ("v", tokens(grids[0])), 6), row(2, ("v", tokens(grids[1])), 3)]
    width = max(map(len, rows))
    ids, mask = [], []
    for r in rows:
        pad = width - len(r)
        ids.append([0] * pad + r if side == "left" else r + [0] * pad)
        mask.append([0] * pad + [1] * len(r) if side == "left" else [1] * len(r) + [0] * pad)
    check(ids, mask, grids, [2 / 3, 1.5])


def test_text_only_and_missing_seconds():
    check([row(6)], None, [], None)
    check([row(2, ("v", tokens([2, 4, 4])), 2)], None, [[2, 4, 4]], None)


def test_wrong_placeholder_count_is_an_error():
    with pytest.raises(ValueError, match="placeholder"):
        rope_index(np.array([row(2, ("v", 3), 2)]), VIDEO, [[2, 4, 4]], [1.0])


def test_decode_positions_continue_after_the_prompt():
    grid = [4, 8, 8]
    ids = np.array([row(5, ("v", tokens(grid)), 7)])
    positions, deltas = rope_index(ids, VIDEO, [grid], [1.0])
    mask = np.ones((1, ids.shape[1] + 1), dtype=np.int64)
    step = decode_position_ids(mask, deltas)
    assert step.shape == (3, 1, 1)
    assert (step == positions.max() + 1).all()
