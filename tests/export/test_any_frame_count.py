"""One vision graph for every frame count: fps checkpoints export, and their bundles run
clips of different lengths exactly as the torch model does."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from click.testing import CliRunner

from vtedge.bundle import verify_bundle
from vtedge.cli import cli
from vtedge.export.graphs import VisionGraph
from vtedge.train.checkpoint import load_checkpoint


@pytest.mark.parametrize("temporal", [1, 3])
@pytest.mark.parametrize(("height", "width"), [(8, 12), (16, 16), (10, 14)])
def test_vision_graph_matches_the_vision_tower(tiny_checkpoint, temporal, height, width):
    # Patch grids with windows (of 4 x 4 merged patches) of 64 and 32 rows, four of 64, and
    # four of 64, 48, 16 and 12: window and full attention differ, and the padded window
    # layout has nothing to pad, then something.
    model = load_checkpoint(tiny_checkpoint).model.float().eval()
    pixels = torch.randn(temporal * height * width, model.config.vision_config.patch_size ** 2
                         * 3 * model.config.vision_config.temporal_patch_size)
    with torch.no_grad():
        reference = model.model.visual(
            pixels, grid_thw=torch.tensor([[temporal, height, width]])).pooler_output
        with VisionGraph(model, (height, width)) as graph:
            ours = graph(pixels)
    assert ours.shape == reference.shape
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)


def test_fps_bundle_serves_every_frame_count_and_passes_parity(fps_bundle, synth_data):
    bundle = verify_bundle(fps_bundle)
    bucket = bundle.bucket
    assert bucket["nframes"] is None and bucket["max_frames"] == bundle.spec.max_frames
    assert bucket["grid_thw"] == [bundle.spec.max_frames // 2, 8, 8]
    # The parity gate ran clips of 8 and 10 seconds: 16 and 20 frames at 2 fps.
    durations = {json.loads(line)["duration"] for line in synth_data.read_text().splitlines()}
    assert len(durations) == 2
    parity = bundle.manifest["parity"]["fp32"]
    assert parity["passed"] and parity["clips"] == 2 and parity["greedy_agreement"] == 1.0
    vision = onnx.load(str(fps_bundle / "vision_encoder.onnx"))
    frames_axis = vision.graph.input[0].type.tensor_type.shape.dim[0]
    assert frames_axis.dim_param == "patches"


def test_fps_bundle_and_checkpoint_agree_on_clips_of_two_lengths(fps_bundle, fps_checkpoint,
                                                                 synth_data):
    records = [json.loads(line) for line in synth_data.read_text().splitlines()]
    for record in records:
        video = synth_data.parent / record["path"]
        common = [video, record["problem"], "--json", "--max-new-tokens", "16"]
        through_bundle = CliRunner().invoke(
            cli, ["ask", *map(str, common), "--model", str(fps_bundle), "--provider", "cpu"])
        through_torch = CliRunner().invoke(
            cli, ["ask", *map(str, common), "--model", str(fps_checkpoint)])
        assert through_bundle.exit_code == 0, through_bundle.output
        assert through_torch.exit_code == 0, through_torch.output
        a, b = json.loads(through_bundle.stdout), json.loads(through_torch.stdout)
        assert a["raw"] == b["raw"]
        video_tokens = int(record["duration"]) * 16  # one temporal patch of 16 a second
        assert a["timings"]["prompt_tokens"] == b["timings"]["prompt_tokens"] > video_tokens
