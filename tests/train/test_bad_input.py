"""What a user's mistake gets from `vtedge train`: one line, the error's exit code, and no
work done (no checkpoint written, an existing run left alone)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner


def run_cli(*args):
    from vtedge.cli import cli

    return CliRunner().invoke(cli, ["train", *map(str, args)])


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vtedge: error: "), result.output
    return lines[0]


def sft_args(data, out, *extra):
    return ("sft", "--data", data, "--out", out, "--max-steps", 1, "--batch-size", 2,
            "--quiet", *extra)


@pytest.fixture()
def bad_records(synth_data, tmp_path):
    rows = [json.loads(line) for line in synth_data.read_text().splitlines()]
    rows[1]["solution"] = "<answer>Z</answer>"
    path = synth_data.parent / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_bad_record_is_one_line_before_any_work(bad_records, tmp_path):
    line = one_line_error(run_cli(*sft_args(bad_records, tmp_path / "run")), 6)
    assert "bad.jsonl:2" in line
    assert not (tmp_path / "run" / "run.json").exists()


def test_existing_run_needs_resume_or_overwrite(tmp_path, synth_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text("{}")
    line = one_line_error(run_cli(*sft_args(synth_data, out)), 8)
    assert "--resume" in line and "--overwrite" in line
    assert (out / "run.json").read_text() == "{}"
    one_line_error(run_cli(*sft_args(synth_data, out, "--resume")), 8)  # nothing to resume
    # --overwrite replaces the run only once its own inputs have been read.
    one_line_error(run_cli(*sft_args(tmp_path / "nope.jsonl", out, "--overwrite")), 3)
    assert (out / "run.json").read_text() == "{}"
    (out / "stale.txt").write_text("from the old run")
    replaced = run_cli(*sft_args(synth_data, out, "--overwrite"))
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((out / "run.json").read_text())["command"] == "sft"
    assert (out / "last").is_dir() and not (out / "stale.txt").exists()


def test_checkpoint_of_another_architecture(tmp_path, synth_data):
    foreign = tmp_path / "llama"
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"model_type": "llama"}))
    line = one_line_error(
        run_cli(*sft_args(synth_data, tmp_path / "run", "--model", foreign)), 8)
    assert "llama" in line
    line = one_line_error(
        run_cli(*sft_args(synth_data, tmp_path / "run2", "--model", tmp_path / "nope")), 3)
    assert "nope" in line
    (foreign / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}))
    line = one_line_error(
        run_cli(*sft_args(synth_data, tmp_path / "run3", "--model", foreign)), 8)
    assert "no weights" in line
    (foreign / "model.safetensors").write_bytes(b"\0" * 4)
    line = one_line_error(
        run_cli(*sft_args(synth_data, tmp_path / "run5", "--model", foreign)), 8)
    assert "transformers cannot load this checkpoint" in line
    (foreign / "config.json").write_text("[1]")
    line = one_line_error(
        run_cli(*sft_args(synth_data, tmp_path / "run4", "--model", foreign)), 8)
    assert "no model_type" in line


def test_clip_outside_the_budget(tmp_path, synth_data):
    """The tiny spec samples 8 frames; a 4-frame clip cannot honour it."""
    import numpy as np

    from vtedge.encode import encode_video

    rows = [json.loads(line) for line in synth_data.read_text().splitlines()][:2]
    folder = tmp_path / "data"
    shutil.copytree(synth_data.parent / "videos", folder / "videos")
    encode_video(folder / "videos" / "short.mp4", [np.zeros((112, 112, 3), np.uint8)] * 4)
    rows[0]["path"] = "./videos/short.mp4"
    (folder / "records.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    line = one_line_error(run_cli(*sft_args(folder / "records.jsonl", tmp_path / "run")), 5)
    assert "short.mp4" in line
    assert not (tmp_path / "run" / "run.json").exists()  # the run can simply start again


@pytest.mark.parametrize(("stage", "option", "value"), [
    ("sft", "--lr", "nan"), ("sft", "--epochs", "0"), ("sft", "--warmup-ratio", "1.5"),
    ("sft", "--lora-rank", "0"), ("sft", "--save-every", "0"), ("sft", "--max-grad-norm", "inf"),
    ("grpo", "--num-generations", "1"), ("grpo", "--temperature", "0"), ("grpo", "--top-p", "0"),
    ("grpo", "--beta", "-0.1"),
])
def test_a_value_no_run_can_use_is_refused_as_the_flag_is_read(tmp_path, stage, option, value):
    args = [stage, "--data", tmp_path / "data.jsonl", "--out", tmp_path / "run", option, value]
    if stage == "grpo":
        args += ["--init", "vt-tiny"]
    result = run_cli(*args)
    assert result.exit_code == 2 and f"Invalid value for '{option}" in result.output, result.output
    assert not (tmp_path / "run").exists()
