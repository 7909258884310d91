"""`vtedge ask` through a bundle and through the torch checkpoint it came from."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from vtedge.cli import cli
from vtedge.encode import encode_video


def ask(*args):
    result = CliRunner().invoke(cli, ["ask", *map(str, args)])
    return result


def test_bundle_and_checkpoint_give_the_same_answer(fp32_bundle, tiny_checkpoint, synth_record):
    common = [synth_record["video"], synth_record["problem"], "--json", "--max-new-tokens", "24"]
    for option in synth_record["options"]:
        common += ["--options", option]
    through_bundle = ask(*common, "--model", fp32_bundle, "--provider", "cpu")
    through_torch = ask(*common, "--model", tiny_checkpoint)
    assert through_bundle.exit_code == 0, through_bundle.output
    assert through_torch.exit_code == 0, through_torch.output
    a, b = json.loads(through_bundle.stdout), json.loads(through_torch.stdout)
    assert set(a) == {"answer", "answer_text", "segments", "raw", "timings"}
    assert a["raw"] and a["raw"] == b["raw"]
    assert (a["answer"], a["answer_text"], a["segments"]) == \
        (b["answer"], b["answer_text"], b["segments"])
    assert a["timings"]["new_tokens"] == 24


def test_a_checkpoints_generation_config_does_not_change_its_answers(
        fp32_bundle, tiny_checkpoint, synth_record, tmp_path):
    """Qwen2.5-VL checkpoints ship a repetition penalty that the bundle's decode loop does
    not apply; the torch path ignores it too, so a checkpoint answers as its bundle."""
    import shutil

    checkpoint = tmp_path / "penalised"
    shutil.copytree(tiny_checkpoint, checkpoint)
    (checkpoint / "generation_config.json").write_text(json.dumps({"repetition_penalty": 5.0}))
    common = [synth_record["video"], synth_record["problem"], "--json", "--max-new-tokens", "24"]
    through_bundle = ask(*common, "--model", fp32_bundle, "--provider", "cpu")
    through_torch = ask(*common, "--model", checkpoint)
    assert through_torch.exit_code == 0, through_torch.output
    assert json.loads(through_torch.stdout)["raw"] == json.loads(through_bundle.stdout)["raw"]


def test_ask_with_a_bundle_never_imports_torch(int8_bundle, synth_record):
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from vtedge.cli import cli\n"
        f"args = ['ask', {synth_record['video']!r}, 'What happens?', '--options', 'A. x',"
        f" '--model', {str(int8_bundle)!r}, '--max-new-tokens', '8', '--json']\n"
        "result = CliRunner().invoke(cli, args)\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = [m for m in ('torch', 'transformers', 'triton') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(result.stdout.strip().splitlines()[-1])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["timings"]["new_tokens"] == 8


def test_ask_streams_the_reasoning_then_the_answer(int8_bundle, synth_record):
    args = [synth_record["video"], "What happens?", "--options", "A. red", "--options",
            "B. blue", "--model", int8_bundle, "--max-new-tokens", "6"]
    result = ask(*args)
    assert result.exit_code == 0, result.output
    raw = json.loads(ask(*args, "--json").stdout)["raw"]
    assert raw and result.stdout.startswith(raw)
    assert "answer:" in result.stdout[len(raw):]


def test_a_clip_of_another_aspect_is_resized_to_the_bucket(fp32_bundle, tiny_checkpoint,
                                                             tmp_path):
    """The bundle answers a wide clip on frames resized to its 112x112, as the checkpoint
    does when told to resize to that size, and says once what the spec would have given."""
    video = tmp_path / "wide.mp4"
    encode_video(video, [np.full((96, 200, 3), i * 10, np.uint8) for i in range(16)], fps=8)
    common = [video, "What happens?", "--json", "--max-new-tokens", "32"]
    through_bundle = ask(*common, "--model", fp32_bundle, "--provider", "cpu")
    assert through_bundle.exit_code == 0, through_bundle.output
    warning = through_bundle.stderr.strip().splitlines()
    assert len(warning) == 1 and "resized to the bundle's 112x112" in warning[0]
    assert "vtedge export --bucket 56x140" in warning[0]
    through_torch = ask(*common, "--model", tiny_checkpoint, "--resize", "112x112")
    assert through_torch.exit_code == 0, through_torch.output
    assert json.loads(through_bundle.stdout)["raw"] == json.loads(through_torch.stdout)["raw"]


def test_the_resize_warning_comes_once_per_source_size(int8_bundle, tmp_path):
    from vtedge.runtime import BundleRuntime

    clips = {}
    for name, size in [("wide", (96, 200)), ("wide_again", (96, 200)), ("tall", (200, 96))]:
        clips[name] = tmp_path / f"{name}.mp4"
        encode_video(clips[name], [np.full((*size, 3), 40, np.uint8)] * 16, fps=8)
    warnings = []
    runtime = BundleRuntime(int8_bundle, "cpu", warn=warnings.append)
    for video in clips.values():
        runtime.ask(video, "What happens?", max_new_tokens=1)
    assert [w.split(":")[0] for w in warnings] == [str(clips["wide"]), str(clips["tall"])]
    # A clip the spec itself refuses (qwen-vl-utils' aspect limit of 200) is refused by
    # name, as the checkpoint would refuse it.
    needle = tmp_path / "needle.mp4"
    encode_video(needle, [np.full((2, 500, 3), 40, np.uint8)] * 16, fps=8)
    result = ask(needle, "q", "--model", int8_bundle)
    assert result.exit_code == 5
    assert result.stderr == f"vtedge: error: {needle}: aspect ratio 250.0 of a 2x500 frame " \
        "exceeds 200\n"


def test_resizing_to_another_size_than_the_bucket_is_refused(int8_bundle, synth_record):
    result = ask(synth_record["video"], "q", "--model", int8_bundle, "--resize", "56x56")
    assert result.exit_code == 5
    assert "takes 112x112 frames" in result.stderr and "--bucket 56x56" in result.stderr
    assert "Traceback" not in result.output


def test_unavailable_provider_is_a_one_line_error(int8_bundle, synth_record):
    result = ask(synth_record["video"], "q", "--model", int8_bundle, "--provider", "tensorrt")
    assert result.exit_code == 10
    assert "not available" in result.stderr and "CPU" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_without_a_model_it_says_no_default_is_shipped(synth_record, monkeypatch, tmp_path):
    monkeypatch.setattr("vtedge.runtime.DEFAULT_MODEL_DIR", tmp_path / "none")
    result = ask(synth_record["video"], "q")
    assert result.exit_code == 8
    assert "no embedded default model" in result.stderr


def test_the_default_model_folder_is_used_when_it_holds_a_bundle(int8_bundle, synth_record,
                                                                 monkeypatch):
    monkeypatch.setattr("vtedge.runtime.DEFAULT_MODEL_DIR", int8_bundle)
    result = ask(synth_record["video"], "q", "--json", "--max-new-tokens", "2")
    assert result.exit_code == 0, result.output


def test_a_provider_named_for_a_checkpoint_is_warned_about(tiny_checkpoint, synth_record):
    result = ask(synth_record["video"], "q", "--model", tiny_checkpoint, "--provider", "cpu",
                 "--max-new-tokens", "2")
    assert result.exit_code == 0, result.output
    assert "vtedge: warning: --provider cpu applies to bundles" in result.stderr


def test_a_path_that_is_neither_bundle_nor_checkpoint(tmp_path, synth_record):
    (tmp_path / "weights.bin").write_bytes(b"0")
    result = ask(synth_record["video"], "q", "--model", tmp_path)
    assert result.exit_code == 8
    assert "neither a bundle" in result.stderr


def test_predict_is_resumable(int8_bundle, synth_data, tmp_path):
    from vtedge.datasets import load_records
    from vtedge.predict import predict

    records = load_records(synth_data)
    out = tmp_path / "pred.jsonl"
    predict(int8_bundle, records[:1], out, provider="cpu", max_new_tokens=4, progress=False)
    predict(int8_bundle, records, out, provider="cpu", max_new_tokens=4, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["problem_id"] for r in rows] == [r.problem_id for r in records]
    assert all(r["timings"]["new_tokens"] == 4 for r in rows)


def test_predict_refuses_to_resume_another_runs_file(int8_bundle, synth_data, tmp_path):
    from vtedge.datasets import load_records
    from vtedge.errors import DatasetError
    from vtedge.predict import predict

    records = load_records(synth_data)
    out = tmp_path / "pred.jsonl"
    predict(int8_bundle, records[:1], out, provider="cpu", max_new_tokens=4, progress=False)
    before = out.read_text()
    with pytest.raises(DatasetError, match="another model, dataset or decoding settings"):
        predict(int8_bundle, records, out, provider="cpu", max_new_tokens=5, progress=False)
    assert out.read_text() == before


def test_predict_resumes_after_a_line_cut_off(int8_bundle, synth_data, tmp_path):
    """A run killed mid-write leaves half a line without its newline: the resume drops it
    (appending would glue the next answer onto it) and says so; a broken line that is not
    such a tail still stops it, named."""
    from vtedge.datasets import load_records
    from vtedge.errors import DatasetError
    from vtedge.predict import predict

    records = load_records(synth_data)
    out = tmp_path / "pred.jsonl"
    predict(int8_bundle, records[:1], out, provider="cpu", max_new_tokens=4, progress=False)
    whole = out.read_text()
    out.write_text(whole + '{"problem_id": "x", "out')
    with pytest.warns(RuntimeWarning, match=r"pred\.jsonl:2: dropped a line cut off"):
        predict(int8_bundle, records, out, provider="cpu", max_new_tokens=4, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["problem_id"] for r in rows] == [r.problem_id for r in records]
    out.write_text(whole + "not json\n")
    with pytest.raises(DatasetError, match=r"pred\.jsonl:2: not a JSON object"):
        predict(int8_bundle, records, out, provider="cpu", max_new_tokens=4, progress=False)
    assert out.read_text() == whole + "not json\n"


def test_predict_refuses_another_datasets_file(int8_bundle, synth_data, tmp_path):
    """Two datasets may share problem_ids: answers to one are never resumed for the other."""
    from vtedge.datasets import load_records
    from vtedge.errors import DatasetError
    from vtedge.predict import predict

    other = tmp_path / "other.jsonl"
    other.write_text(synth_data.read_text())
    out = tmp_path / "pred.jsonl"
    predict(int8_bundle, load_records(synth_data), out, provider="cpu", max_new_tokens=4,
            progress=False)
    with pytest.raises(DatasetError, match="another model, dataset or decoding settings"):
        predict(int8_bundle, load_records(other, root=synth_data.parent), out, provider="cpu",
                max_new_tokens=4, progress=False)


def test_predict_resumes_records_without_ids_by_line(int8_bundle, synth_data, tmp_path):
    from vtedge.datasets import load_records
    from vtedge.metrics import score
    from vtedge.predict import predict

    data = tmp_path / "noid.jsonl"
    rows = [json.loads(line) for line in synth_data.read_text().splitlines()]
    data.write_text("\n" + "".join(json.dumps({k: v for k, v in r.items() if k != "problem_id"})
                                    + "\n" for r in rows))
    records = load_records(data, root=synth_data.parent)
    out = tmp_path / "pred.jsonl"
    predict(int8_bundle, records[1:], out, provider="cpu", max_new_tokens=4, progress=False)
    predict(int8_bundle, records, out, provider="cpu", max_new_tokens=4, progress=False)
    predictions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["line"] for p in predictions] == [3, 2]
    assert score(predictions, records).matched == 2


def test_a_tampered_bundle_is_refused_before_it_runs(int8_bundle, synth_record, tmp_path):
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(int8_bundle, copy)
    graph = copy / "decoder_model_merged.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    result = ask(synth_record["video"], "q", "--model", copy)
    assert result.exit_code == 7
    assert "decoder_model_merged.onnx does not match its sha256" in result.stderr


def test_a_graph_onnxruntime_cannot_run_as_named_is_a_bad_bundle(int8_bundle, synth_record,
                                                                  tmp_path):
    """A manifest rewritten around a damaged or misnamed graph, or a video token its
    tokenizer does not hold there, still gets one line, exit 7."""
    import shutil

    from vtedge.bundle import MANIFEST, write_manifest

    def rewrite(edit):
        copy = tmp_path / f"bundle{len(list(tmp_path.iterdir()))}"
        shutil.copytree(int8_bundle, copy)
        manifest = json.loads((copy / MANIFEST).read_text())
        edit(copy, manifest)
        write_manifest(copy, {k: v for k, v in manifest.items()
                              if k not in ("format", "format_version", "files")})
        return ask(synth_record["video"], "q", "--model", copy)

    garbage = rewrite(lambda copy, _: (copy / "vision_encoder.onnx").write_bytes(b"not onnx"))
    assert garbage.exit_code == 7 and "cannot load vision_encoder.onnx" in garbage.stderr
    swapped = rewrite(lambda _, m: m["graphs"].update(vision_encoder="embed_tokens.onnx",
                                                      embed_tokens="vision_encoder.onnx"))
    assert swapped.exit_code == 7 and "is not a vision_encoder graph" in swapped.stderr
    foreign_pad = rewrite(lambda _, m: m["token_ids"].update(video_token_id=10**6))
    assert foreign_pad.exit_code == 7
    assert "is not the tokenizer's <|video_pad|>" in foreign_pad.stderr
    # Fields that disagree with the graphs, tokenizer or spec: each caught before a token.
    edits = {"eos_token_id 999 is not the tokenizer's <|im_end|>":
             lambda m: m["token_ids"].update(eos_token_id=999),
             "the decoder caches 4 layers, the manifest's model_config says 3":
             lambda m: m["model_config"].update(num_hidden_layers=3),
             "not (batch, 2 heads, length, 16)": lambda m: m["model_config"].update(head_dim=16),
             "model_config's tokens_per_second 25 is not the vision spec's":
             lambda m: m["model_config"].update(tokens_per_second=25),
             "quantization must be an object": lambda m: m.update(quantization=[]),
             "exported for prompts 'other/1'": lambda m: m.update(prompt_version="other/1")}
    for message, edit in edits.items():
        result = rewrite(lambda _, m, edit=edit: edit(m))
        assert result.exit_code == 7 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert "Traceback" not in garbage.stderr + swapped.stderr + foreign_pad.stderr


def test_sampling_is_seeded(int8_bundle, synth_record):
    from vtedge.runtime import open_model

    runtime = open_model(int8_bundle, "cpu")
    runs = [runtime.ask(synth_record["video"], "q", None, max_new_tokens=12, temperature=1.0,
                        top_p=0.9, seed=seed).raw for seed in (1, 1, 2)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_eval_runs_a_bundle_over_a_dataset_and_scores_it(int8_bundle, synth_data, tmp_path):
    out = tmp_path / "pred.jsonl"
    args = ["eval", "--model", str(int8_bundle), "--data", str(synth_data), "--out", str(out)]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "accuracy" in first.stdout
    assert len(out.read_text().splitlines()) == 2
    again = CliRunner().invoke(cli, args)  # resumes: nothing left to predict
    assert again.exit_code == 0 and len(out.read_text().splitlines()) == 2


def test_eval_skip_bad_goes_on_past_a_clip_it_cannot_decode(int8_bundle, synth_data, tmp_path):
    rows = [json.loads(line) for line in synth_data.read_text().splitlines()]
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    rows[0]["path"] = "broken.mp4"
    data = tmp_path / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "videos").symlink_to(synth_data.parent / "videos")
    args = ["eval", "--model", str(int8_bundle), "--data", str(data), "--out",
            str(tmp_path / "pred.jsonl")]
    stopped = CliRunner().invoke(cli, args)
    assert stopped.exit_code == 4 and "broken.mp4" in stopped.stderr
    skipped = CliRunner().invoke(cli, [*args, "--skip-bad"])
    assert skipped.exit_code == 0, skipped.output
    assert f"vtedge: warning: {data}:1: skipped (" in skipped.stderr
    assert len((tmp_path / "pred.jsonl").read_text().splitlines()) == 1
    assert re.search(r"missing\D+1\b", skipped.stdout), skipped.stdout


def test_a_sequence_past_the_tensorrt_profiles_is_refused_before_it_runs(int8_bundle,
                                                                         synth_record):
    """TensorRT's engine takes sequences up to the bucket's longest; the CPU provider has
    no such end, so the check is exercised here by naming the provider it guards."""
    from vtedge.errors import BudgetError
    from vtedge.runtime import BundleRuntime

    runtime = BundleRuntime(int8_bundle, "cpu")
    longest = runtime.bundle.bucket["max_sequence_length"]
    runtime.provider = "tensorrt"
    runtime.ask(synth_record["video"], "q", max_new_tokens=2)
    with pytest.raises(BudgetError, match=f"exceed the {longest} tokens of the bundle's "
                                          "TensorRT profiles"):
        runtime.ask(synth_record["video"], "q", max_new_tokens=longest)
