"""The embedded default model: it ships, it verifies, and `vtedge ask` uses it when no
model is named, on the example clips that ship beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import videos
from click.testing import CliRunner

from vtedge.bundle import verify_bundle
from vtedge.cli import cli
from vtedge.datasets import load_records
from vtedge.runtime import DEFAULT_MODEL_DIR, default_model

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "questions.jsonl"
MAX_BYTES = 25 * 1024 * 1024


def test_embedded_bundle_ships_and_verifies():
    assert default_model() == DEFAULT_MODEL_DIR
    bundle = verify_bundle(DEFAULT_MODEL_DIR)
    assert bundle.quantization["precision"] == "int8"
    size = sum(f.stat().st_size for f in DEFAULT_MODEL_DIR.iterdir() if f.is_file())
    assert size <= MAX_BYTES


@pytest.mark.parametrize("record", load_records(EXAMPLES), ids=lambda r: r.family)
def test_ask_without_model_answers_an_example(record):
    args = ["ask", str(record.video_path), record.problem, "--json"]
    for option in record.options:
        args += ["--options", option]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    letters = [option.split(".")[0] for option in record.options]
    assert answer["answer"] in letters
    assert answer["answer_text"] == record.options[letters.index(answer["answer"])][3:]
    assert answer["segments"], answer["raw"]
    for segment in answer["segments"]:
        assert 0 <= segment["start"] <= segment["end"]


def test_ask_never_writes_a_suppressed_token(monkeypatch):
    """Vision placeholders are suppressed in answers; shown here by suppressing the token
    the model would pick first and watching the answer change."""
    import vtedge.runtime as runtime_module

    record = load_records(EXAMPLES)[0]
    runtime = runtime_module.BundleRuntime(DEFAULT_MODEL_DIR, provider="cpu")
    first = runtime.ask(record.video_path, record.problem, list(record.options),
                        max_new_tokens=1)
    chosen = runtime.tokenizer.encode(first.raw, add_special_tokens=False).ids
    assert len(chosen) == 1
    placeholders = runtime_module.vision_placeholder_ids(runtime.bundle.token_ids)
    monkeypatch.setattr(runtime_module, "vision_placeholder_ids",
                        lambda ids: placeholders | {chosen[0]})
    second = runtime.ask(record.video_path, record.problem, list(record.options),
                         max_new_tokens=1)
    assert second.raw != first.raw


@pytest.mark.parametrize(("document", "families"), [
    ("Makefile", {"state"}), ("README.md", {"state"}), ("examples/README.md", None),
])
def test_documented_commands_ask_the_shipped_examples(document, families):
    """`make default-model` re-picks the examples; the commands shown must follow them
    (``families`` None: every example)."""
    text = (REPO / document).read_text(encoding="utf-8")
    for record in load_records(EXAMPLES):
        if families is None or record.family in families:
            assert f'examples/{record.family}.mp4 "{record.problem}"' in text
            for option in record.options:
                assert f'--options "{option}"' in text


@pytest.mark.parametrize(("extra", "message"), [
    (["--options", "red"], "does not start with its letter"),
    (["--options", "A. red", "--options", "A. blue"], "letter A names more than one option"),
    (["--temperature", "nan"], "not a finite number"),
    (["--seed", "-1"], "not in the range"),
])
def test_ask_refuses_bad_option_values_before_it_runs(extra, message):
    record = load_records(EXAMPLES)[0]
    result = CliRunner().invoke(cli, ["ask", str(record.video_path), record.problem, *extra])
    assert result.exit_code == 2 and message in result.output


def test_ask_refuses_a_blank_question():
    record = load_records(EXAMPLES)[0]
    blank = CliRunner().invoke(cli, ["ask", str(record.video_path), " \n"])
    assert blank.exit_code == 2 and "'QUESTION': is empty" in blank.output


def test_ask_warns_in_one_line_about_a_clip_it_cannot_read_to_the_end(tmp_path):
    path = videos.make_cut_mkv(tmp_path)
    result = CliRunner().invoke(cli, ["ask", str(path), "What happened?", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(f"vtedge: warning: {path}: only ")
    assert all(line.startswith("vtedge: warning: ") for line in result.stderr.splitlines())
