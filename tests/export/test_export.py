"""`vtedge export`: vt-tiny to fp32 and INT8 bundles that pass the parity gate."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from vtedge.bundle import GRAPHS, verify_bundle
from vtedge.cli import cli
from vtedge.export.parity import Reference, compare, greedy_agreement


def graph_bytes(bundle) -> int:
    manifest = json.loads((bundle / "manifest.json").read_text())
    return sum(manifest["files"][manifest["graphs"][g]]["bytes"] for g in GRAPHS)


def test_fp32_bundle_passes_the_parity_gate(fp32_bundle):
    bundle = verify_bundle(fp32_bundle)
    parity = bundle.manifest["parity"]
    assert parity["fp32"]["passed"] and not parity["forced"]
    assert parity["fp32"]["greedy_agreement"] == 1.0 == parity["fp32"]["greedy_prefix"]
    assert parity["fp32"]["logits_cosine"] > 0.9999
    assert bundle.manifest["opset"] <= 21
    assert bundle.quantization["precision"] == "fp32"


def test_int8_bundle_passes_the_parity_gate_and_is_smaller(int8_bundle, fp32_bundle):
    bundle = verify_bundle(int8_bundle)
    parity = bundle.manifest["parity"]
    assert parity["int8"]["passed"] and parity["fp32"]["passed"]
    assert bundle.quantization == {**bundle.quantization, "method": "dynamic", "precision": "int8"}
    # vt-tiny's norms, biases and graph overhead keep the ratio near 3.5x (see benchmarks).
    assert graph_bytes(fp32_bundle) / graph_bytes(int8_bundle) > 3.0


def test_int8_weights_are_uint8_so_no_cpu_saturates_their_products(int8_bundle):
    from onnx import numpy_helper

    for name in ("vision_encoder.onnx", "decoder_model_merged.onnx"):
        graph = onnx.load(str(int8_bundle / name)).graph
        weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        integer = [n for n in graph.node if n.op_type == "MatMulInteger"]
        assert integer and all(weights[n.input[1]].dtype == np.uint8 for n in integer)


def test_the_embedding_table_is_chosen_by_name_and_stored_in_uint8(fp32_bundle, int8_bundle):
    """A Gather's table is its first input: the quantizer is told to take it, rather than
    given an empty node list, which onnxruntime reads as every node."""
    from onnx import numpy_helper

    from vtedge.export.quantize import weight_nodes

    assert weight_nodes(fp32_bundle / "embed_tokens.onnx", ("Gather",)) == ["/embed_tokens/Gather"]
    assert weight_nodes(fp32_bundle / "decoder_model_merged.onnx", ("Gather",)) == []
    graph = onnx.load(str(int8_bundle / "embed_tokens.onnx")).graph
    tables = [numpy_helper.to_array(i) for i in graph.initializer if len(i.dims) == 2]
    assert tables and all(t.dtype == np.uint8 for t in tables)


def test_graphs_use_the_onnx_community_layout(fp32_bundle):
    decoder = onnx.load(str(fp32_bundle / "decoder_model_merged.onnx"))
    onnx.checker.check_model(decoder)
    inputs = [i.name for i in decoder.graph.input]
    outputs = [o.name for o in decoder.graph.output]
    layers = json.loads((fp32_bundle / "manifest.json").read_text())["model_config"][
        "num_hidden_layers"]
    assert inputs[:3] == ["inputs_embeds", "attention_mask", "position_ids"]
    assert inputs[3:] == [f"past_key_values.{i}.{k}" for i in range(layers)
                          for k in ("key", "value")]
    assert outputs == ["logits"] + [f"present.{i}.{k}" for i in range(layers)
                                    for k in ("key", "value")]
    vision = onnx.load(str(fp32_bundle / "vision_encoder.onnx"))
    assert [i.name for i in vision.graph.input] == ["pixel_values"]
    assert [o.name for o in vision.graph.output] == ["image_features"]
    assert all(op.version <= 21 for op in decoder.opset_import if op.domain in ("", "ai.onnx"))


def test_parity_gate_fails_below_thresholds():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 50)).astype(np.float32)
    reference = Reference(logits, [1, 2, 3, 4])
    same = compare("int8", [reference], [(logits, [1, 2, 3, 4], [1, 2, 3, 4])])
    assert same.passed and same.top1_agreement == 1.0 and same.greedy_prefix == 1.0
    noisy = compare("int8", [reference], [(logits + rng.normal(size=logits.shape) * 2, [1, 9],
                                           [1, 9, 3, 4])])
    assert not noisy.passed and noisy.greedy_agreement == 0.75
    drifted = compare("fp32", [reference], [(logits, [1, 2, 9, 9], [1, 2, 3, 4])])
    assert not drifted.passed and drifted.greedy_prefix == 0.5
    assert greedy_agreement([1, 2, 3, 4], [1, 2, 9, 4]) == 0.5


def test_export_rejects_a_path_that_is_not_a_checkpoint(tmp_path):
    from vtedge.errors import MissingPathError, ModelError
    from vtedge.export.bundle_export import export_bundle

    with pytest.raises(MissingPathError):
        export_bundle(tmp_path / "nothing", tmp_path / "out")
    (tmp_path / "notes").mkdir()
    with pytest.raises(ModelError, match="not a transformers checkpoint"):
        export_bundle(tmp_path / "notes", tmp_path / "out")


def test_tensorrt_target_is_static_qdq_with_standard_ops(tiny_checkpoint, synth_data, tmp_path):
    from vtedge.export.bundle_export import export_bundle

    out = tmp_path / "trt"
    manifest = export_bundle(tiny_checkpoint, out, int8=True, target="tensorrt",
                             calib=synth_data, calib_clips=1, parity_tokens=8,
                             log=lambda message: None)
    assert manifest["quantization"]["method"] == "static-qdq"
    assert manifest["parity"]["int8"]["passed"]
    decoder = onnx.load(str(out / "decoder_model_merged.onnx"))
    ops = {node.op_type for node in decoder.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert all(node.domain in ("", "ai.onnx") for node in decoder.graph.node)
    scales = [init for init in decoder.graph.initializer if init.name.endswith("_scale")
              and len(init.dims) == 1 and init.dims[0] > 1]
    assert scales, "weights should be quantized per channel"


def test_export_cli_errors_are_one_line(tmp_path):
    from click.testing import CliRunner

    from vtedge.cli import cli

    missing = CliRunner().invoke(cli, ["export", "--model", str(tmp_path / "x"), "--out",
                                       str(tmp_path / "b")])
    assert missing.exit_code == 3 and "no such checkpoint" in missing.stderr
    usage = CliRunner().invoke(cli, ["export", "--model", str(tmp_path), "--out",
                                     str(tmp_path / "b"), "--distill-to", "vt-tiny"])
    assert usage.exit_code == 2 and "--data" in usage.output


def test_export_without_its_extra_names_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "vtedge.export.bundle_export", None)  # onnx absent
    result = CliRunner().invoke(cli, ["export", "--model", str(tmp_path), "--out",
                                      str(tmp_path / "bundle")])
    assert result.exit_code == 8
    assert "pip install 'vtedge[export]'" in result.stderr


def test_a_bucket_of_another_size_resizes_the_calibration_clips(tiny_checkpoint, synth_data,
                                                                tmp_path):
    """112x112 calibration clips export a 56x112 bundle: calibration, like the runtime,
    resizes every clip to the bundle's frame size, and parity holds there."""
    from vtedge.export.bundle_export import export_bundle

    manifest = export_bundle(tiny_checkpoint, tmp_path / "wide", calib=synth_data,
                             bucket="56x112", parity_tokens=16, log=lambda message: None)
    assert (manifest["bucket"]["height"], manifest["bucket"]["width"]) == (56, 112)
    assert manifest["bucket"]["grid_thw"][1:] == [4, 8]
    assert manifest["parity"]["fp32"]["passed"]


def test_a_bucket_off_the_patch_grid_is_a_one_line_error(tiny_checkpoint, synth_data, tmp_path):
    result = CliRunner().invoke(cli, ["export", "--model", str(tiny_checkpoint), "--out",
                                      str(tmp_path / "b"), "--calib", str(synth_data),
                                      "--bucket", "100x100", "--quiet"])
    assert result.exit_code == 5
    assert "--bucket sides must be positive multiples of 28, got 100x100" in result.stderr


def test_an_out_that_is_not_a_bundle_is_refused_before_any_work(tiny_checkpoint, tmp_path):
    """Replacing --out deletes it: only a bundle may be replaced, so a run named by mistake
    (or the current folder) survives; an empty calibration set is one line too."""
    run = tmp_path / "run"
    (run / "last").mkdir(parents=True)
    (run / "metrics.jsonl").write_text("{}\n")
    for out in (run, run / "metrics.jsonl"):
        result = CliRunner().invoke(cli, ["export", "--model", str(tiny_checkpoint), "--out",
                                          str(out), "--distill-to", "vt-tiny"])
        assert result.exit_code == 8 and "exists and is not a bundle" in result.stderr
    assert (run / "metrics.jsonl").read_text() == "{}\n" and (run / "last").is_dir()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = CliRunner().invoke(cli, ["export", "--model", str(tiny_checkpoint), "--out",
                                      str(tmp_path / "b"), "--calib", str(empty), "--quiet"])
    assert result.exit_code == 6 and "no records to calibrate on" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl", "run"]  # no b.tmp


def test_a_model_that_prefers_a_vision_placeholder_still_exports(tiny_checkpoint, synth_record,
                                                                 tmp_path):
    """Neither ask nor the parity gate's torch and bundle answers ever pick <|video_pad|>
    (re-read as a prompt, one would ask for features that do not exist). The bundle is built
    in a folder of its own, so a user's OUT.tmp survives, and replacing it leaves no trace."""
    import shutil

    import torch

    from vtedge.export.bundle_export import export_bundle
    from vtedge.export.parity import torch_reference
    from vtedge.runtime import load_tokenizer, prepare_prompt, stop_token_ids
    from vtedge.train.checkpoint import load_checkpoint, save_checkpoint
    from vtedge.train.tokenizer import special_token_ids

    loaded = load_checkpoint(tiny_checkpoint)
    model, ids = loaded.model.eval(), special_token_ids(loaded.tokenizer)
    prompt = prepare_prompt(synth_record["video"], synth_record["problem"],
                            synth_record["options"], loaded.spec,
                            load_tokenizer(tiny_checkpoint), ids["video_token_id"],
                            merge_size=2, tokens_per_second=2)
    first = torch_reference(model, prompt, ids, stop_token_ids(ids), 1).greedy[0]
    with torch.no_grad():  # <|video_pad|> now outscores the first greedy token
        head = model.get_output_embeddings().weight
        head[ids["video_token_id"]] = 50 * head[first]
    tokens = torch.from_numpy(prompt.input_ids)[None]
    with torch.no_grad():
        logits = model(input_ids=tokens,
                       mm_token_type_ids=tokens.eq(ids["video_token_id"]).int() * 2,
                       pixel_values_videos=torch.from_numpy(prompt.pixel_values),
                       video_grid_thw=torch.tensor([list(prompt.clip.grid_thw)]),
                       second_per_grid_ts=torch.tensor([prompt.clip.second_per_grid_t])).logits
    assert int(logits[0, -1].argmax()) == ids["video_token_id"]
    greedy = save_checkpoint(model, loaded.tokenizer, loaded.spec, tmp_path / "ckpt",
                             {"preset": "vt-tiny"})
    shutil.copyfile(synth_record["video"], tmp_path / "clip.mp4")
    calib = tmp_path / "calib.jsonl"
    calib.write_text(json.dumps({k: v for k, v in synth_record.items() if k != "video"}
                                | {"path": "clip.mp4"}) + "\n")
    (tmp_path / "out" / "b.tmp").mkdir(parents=True)
    (tmp_path / "out" / "b.tmp" / "notes.txt").write_text("mine")
    for _ in range(2):  # the second export replaces the first bundle
        manifest = export_bundle(greedy, tmp_path / "out" / "b", calib=calib, parity_tokens=8,
                                 log=lambda message: None)
        assert manifest["parity"]["fp32"]["passed"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b", "b.tmp"]
    assert (tmp_path / "out" / "b.tmp" / "notes.txt").read_text() == "mine"
