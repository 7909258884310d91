"""The edge runtime's torch-free parts: providers, sampling, answers, streaming, model paths."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vtedge.bundle import Bundle
from vtedge.engine import next_token, resolve_provider, tensorrt_profiles
from vtedge.errors import MissingPathError, ModelError, ProviderError
from vtedge.runtime import TextStream, make_answer, open_model, option_text
from vtedge.spec import get_spec

CPU = ["AzureExecutionProvider", "CPUExecutionProvider"]
GPU = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def fake_bundle(method="none") -> Bundle:
    from tests.test_bundle import manifest_fields

    manifest = manifest_fields()
    manifest["quantization"]["method"] = method
    return Bundle(None, manifest, get_spec("tiny"))


def test_auto_prefers_tensorrt_then_cuda_then_cpu():
    warnings = []
    assert resolve_provider("auto", GPU, fake_bundle(), warnings.append) == "tensorrt"
    assert resolve_provider("auto", GPU[1:], fake_bundle(), warnings.append) == "cuda"
    assert resolve_provider("auto", CPU, fake_bundle(), warnings.append) == "cpu"
    # A CPU-only onnxruntime falls back silently: there was nothing better to use.
    assert len(warnings) == 1 and "TensorRT is not available" in warnings[0]


def test_auto_skips_tensorrt_for_a_dynamic_int8_bundle():
    warnings = []
    assert resolve_provider("auto", GPU, fake_bundle("dynamic"), warnings.append) == "cuda"
    assert "dynamic INT8" in warnings[0]


def test_an_unavailable_provider_lists_the_available_ones():
    with pytest.raises(ProviderError, match="'cuda' is not available.*available: Azure, CPU"):
        resolve_provider("cuda", CPU)
    with pytest.raises(ProviderError, match="unknown provider"):
        resolve_provider("metal", CPU)
    assert resolve_provider("cpu", CPU) == "cpu"


def test_tensorrt_profiles_come_from_the_bucket():
    profiles = tensorrt_profiles(fake_bundle(), "decoder_model_merged")
    assert set(profiles) == {f"trt_profile_{k}_shapes" for k in ("min", "opt", "max")}
    assert "inputs_embeds:1x1x8" in profiles["trt_profile_min_shapes"]
    assert "past_key_values.0.key:1x1x1124x8" in profiles["trt_profile_max_shapes"]
    vision = tensorrt_profiles(fake_bundle(), "vision_encoder")
    assert vision["trt_profile_opt_shapes"] == "pixel_values:256x1176"
    assert vision["trt_profile_min_shapes"] == "pixel_values:256x1176"


def test_an_fps_bucket_profiles_one_temporal_patch_to_its_longest():
    bundle = fake_bundle()
    bundle.manifest["bucket"].update(nframes=None, max_frames=40, grid_thw=[20, 8, 8])
    vision = tensorrt_profiles(bundle, "vision_encoder")
    assert vision["trt_profile_min_shapes"] == "pixel_values:64x1176"
    assert vision["trt_profile_max_shapes"] == "pixel_values:1280x1176"


def test_greedy_and_nucleus_sampling():
    rng = np.random.default_rng(0)
    logits = np.array([0.0, 3.0, 2.9, -1.0])
    assert next_token(logits, 0.0, 1.0, rng) == 1
    # A tiny top_p keeps only the most likely token, whatever the temperature.
    assert {next_token(logits, 5.0, 0.001, rng) for _ in range(50)} == {1}
    drawn = {next_token(logits, 1.0, 1.0, np.random.default_rng(s)) for s in range(200)}
    assert drawn == {0, 1, 2, 3}
    # A temperature as small as a float goes is greedy, not a NaN distribution.
    assert {next_token(logits, 1e-308, 1.0, rng) for _ in range(20)} == {1}


def test_answers_with_and_without_options():
    raw = ("<time>00:01-00:03</time><caption>a red square</caption><think>it moves</think>"
           "\n<answer>B</answer>")
    answer = make_answer(raw, ["A. red", "B. blue square"], {})
    assert (answer.answer, answer.answer_text) == ("B", "blue square")
    assert answer.segments == [{"start": 1.0, "end": 3.0, "caption": "a red square",
                                "thought": "it moves"}]
    free = make_answer("<answer>three</answer>", None, {})
    assert (free.answer, free.answer_text) == ("three", "three")
    assert option_text(["A. red"], "C") is None


def test_text_stream_emits_new_text_and_holds_partial_characters():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(["plain words"], trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    ids = tokenizer.encode("ok é done").ids
    pieces = []
    stream = TextStream(tokenizer, pieces.append, stop_ids={-1})
    for token in ids + [-1]:
        stream(token)
    assert "".join(pieces) == stream.text() == "ok é done"
    assert all("\ufffd" not in piece for piece in pieces)


def test_model_paths(tmp_path, monkeypatch):
    monkeypatch.setattr("vtedge.runtime.DEFAULT_MODEL_DIR", tmp_path / "none")
    with pytest.raises(ModelError, match="no embedded default model"):
        open_model(None)
    with pytest.raises(MissingPathError):
        open_model(tmp_path / "absent")
    with pytest.raises(ModelError, match="neither a bundle"):
        open_model(tmp_path)


def test_a_missing_extra_is_named_and_a_broken_import_is_not(tmp_path, monkeypatch):
    """Only a package that is not installed earns the "install the extra" message; any other
    import failure is a bug and surfaces as itself."""
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "vtedge.train.infer", None)  # as if torch were absent
    with pytest.raises(ModelError, match=r"needs torch and transformers \(pip install"):
        open_model(tmp_path)
    broken = type(sys)("vtedge.train.infer")  # installed, but without the name
    monkeypatch.setitem(sys.modules, "vtedge.train.infer", broken)
    with pytest.raises(ImportError, match="cannot import name 'TorchRuntime'"):
        open_model(tmp_path)
