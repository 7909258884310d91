"""Bundle verification: format, spec, and every file's size and sha256 (no graphs run)."""

from __future__ import annotations

import json

import pytest

from vtedge.bundle import FORMAT_VERSION, MANIFEST, check_bucket, verify_bundle, write_manifest
from vtedge.errors import BudgetError, BundleError, MissingPathError
from vtedge.spec import get_spec

FILES = ("vision_encoder.onnx", "embed_tokens.onnx", "decoder_model_merged.onnx",
         "tokenizer.json")


def manifest_fields(spec=None) -> dict:
    spec = spec or get_spec("tiny")
    return {
        "model_config": {"num_hidden_layers": 1, "num_key_value_heads": 1, "head_dim": 8,
                         "hidden_size": 8, "merge_size": 2, "tokens_per_second": 2},
        "vision_spec": spec.to_dict(),
        "prompt_version": "video-thinker-7b/1",
        "token_ids": {"eos_token_id": 2, "pad_token_id": 0, "video_token_id": 13,
                      "vision_start_token_id": 9, "vision_end_token_id": 10},
        "graphs": {name.removesuffix(".onnx"): name for name in FILES[:3]},
        "opset": 17,
        "bucket": {"nframes": 8, "height": 112, "width": 112, "grid_thw": [4, 8, 8],
                   "video_tokens": 64, "prompt_tokens": 100, "max_sequence_length": 1124},
        "quantization": {"method": "none", "precision": "fp32", "target": "cpu"},
    }


@pytest.fixture
def bundle(tmp_path):
    folder = tmp_path / "bundle"
    folder.mkdir()
    for index, name in enumerate(FILES):
        (folder / name).write_bytes(bytes(range(256)) * (index + 1))
    write_manifest(folder, manifest_fields())
    return folder


def test_a_complete_bundle_verifies(bundle):
    verified = verify_bundle(bundle)
    assert verified.spec == get_spec("tiny")
    assert set(verified.manifest["files"]) == set(FILES)
    assert all(len(entry["sha256"]) == 64 for entry in verified.manifest["files"].values())


def test_an_altered_file_is_refused(bundle):
    data = bytearray((bundle / "decoder_model_merged.onnx").read_bytes())
    data[10] ^= 1
    (bundle / "decoder_model_merged.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="does not match its sha256"):
        verify_bundle(bundle)


def test_a_truncated_file_is_refused(bundle):
    path = bundle / "vision_encoder.onnx"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(BundleError, match="truncated"):
        verify_bundle(bundle)


def test_a_missing_file_is_refused(bundle):
    (bundle / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match="missing file tokenizer.json"):
        verify_bundle(bundle)


def test_a_newer_format_is_refused(bundle):
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="newer than this runtime"):
        verify_bundle(bundle)


def test_a_spec_the_runtime_cannot_honour_is_refused(tmp_path, bundle):
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["vision_spec"]["nframes"] = None
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="cannot honour"):
        verify_bundle(bundle)
    manifest["vision_spec"]["patch_size"] = "fourteen"
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="cannot honour"):
        verify_bundle(bundle)


def test_an_fps_bucket_takes_any_frame_count_up_to_its_longest():
    spec = get_spec("tiny-2fps").replace(max_frames=40)
    bucket = {"nframes": None, "max_frames": 40, "height": 112, "width": 112,
              "grid_thw": [20, 8, 8]}
    check_bucket(spec, bucket)
    check_bucket(spec.replace(max_frames=16), bucket)
    check_bucket(get_spec("tiny"), bucket)  # 8 frames fit
    check_bucket(spec.replace(max_frames=41), bucket)  # sampling rounds down to 40
    with pytest.raises(BudgetError, match="at most 40 frames; the spec samples up to 64"):
        check_bucket(spec.replace(max_frames=64), bucket)
    with pytest.raises(BudgetError, match="exported for"):
        check_bucket(spec, {**bucket, "grid_thw": [20, 4, 4]})
    with pytest.raises(BudgetError, match="exactly 8 frames; the spec samples by fps"):
        check_bucket(spec, manifest_fields()["bucket"])


def test_a_spec_that_resizes_must_resize_to_the_bucket():
    bucket = manifest_fields()["bucket"]
    spec = get_spec("tiny")
    check_bucket(spec.replace(resized_height=112, resized_width=112), bucket)
    check_bucket(spec.replace(resized_height=100, resized_width=120), bucket)  # rounds to 112
    with pytest.raises(BudgetError, match="resizes them to 56x112.*--bucket 56x112"):
        check_bucket(spec.replace(resized_height=56, resized_width=112), bucket)


def test_a_manifest_naming_a_file_outside_the_bundle_is_refused(bundle):
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"]["../escape.onnx"] = {"bytes": 1, "sha256": "0" * 64}
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="outside the bundle"):
        verify_bundle(bundle)


def test_not_a_bundle(tmp_path):
    with pytest.raises(MissingPathError):
        verify_bundle(tmp_path / "absent")
    with pytest.raises(BundleError, match="not a bundle"):
        verify_bundle(tmp_path)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(BundleError, match="unreadable manifest"):
        verify_bundle(tmp_path)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(graphs=list(m["graphs"])), "graphs must name a file"),
    (lambda m: m.update(files=list(m["files"])), "files must map"),
    (lambda m: m["files"].update({"tokenizer.json": "x"}), "files must map"),
    (lambda m: m.update(token_ids=[1, 2]), "token_ids must give integer"),
    (lambda m: m["token_ids"].update(video_token_id="x"), "token_ids must give integer"),
    (lambda m: m["model_config"].pop("merge_size"), "model_config must give integer"),
    (lambda m: m["bucket"].pop("prompt_tokens"), "bucket must give"),
])
def test_an_edited_manifest_is_refused_in_one_line(bundle, edit, message):
    """The manifest carries no digest of itself: its structure is checked field by field."""
    path = bundle / MANIFEST
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message):
        verify_bundle(bundle)
