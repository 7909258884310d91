"""``vtedge eval`` end to end on a small synthetic split: gold, shuffled, unmatched, bad input."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vtedge.cli import cli
from vtedge.synth import BASE_FAMILIES, generate_split


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    path = generate_split(root / "val", 8, seed=5, split="val", progress=False)
    return root, path, [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _run(*args):
    return CliRunner().invoke(cli, ["eval", *args])


def test_gold_predictions_score_perfectly(split, tmp_path):
    _, data, records = split
    pred = _write(
        tmp_path / "gold.jsonl",
        [
            {"problem_id": r["problem_id"], "output": r["process"] + "\n" + r["solution"]}
            for r in records
        ],
    )
    result = _run("--pred", pred, "--data", str(data), "--json", str(tmp_path / "out" / "s.json"))
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "out" / "s.json").read_text())
    assert scores["accuracy"] == 1.0 and scores["format_rate"] == 1.0
    assert scores["grounding"]["miou"] == 1.0 and scores["grounding"]["r@0.5"] == 1.0
    assert set(scores["by_family"]) == set(BASE_FAMILIES)
    assert "unmatched:" not in result.output and "mIoU %" in result.output


def test_shuffled_unmatched_and_malformed(split, tmp_path):
    _, data, records = split
    # Every answer replaced by the next record's letter, which differs for most records.
    rows = [
        {"problem_id": r["problem_id"], "output": nxt["solution"]}
        for r, nxt in zip(records, records[1:] + records[:1], strict=True)
    ]
    rows[0]["output"] = "<time>oops<answer>"
    rows.append({"problem_id": "not-in-data", "output": "<answer>A</answer>"})
    pred = tmp_path / "mixed.jsonl"
    _write(pred, rows)
    with pred.open("a") as f:
        f.write('{"problem_id": "cut off mid-li\n')
    result = _run("--pred", str(pred), "--data", str(data), "--json", str(tmp_path / "s.json"))
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "s.json").read_text())
    expected = sum(
        r["solution"] == nxt["solution"]
        for r, nxt in zip(records[1:], records[2:] + records[:1], strict=True)
    ) / len(records)
    assert scores["accuracy"] == pytest.approx(expected) and scores["format_rate"] == 0.0
    assert len(scores["unmatched"]) == 2
    assert (
        "unmatched:" in result.output
        and "not-in-data" in result.output
        and "invalid JSON" in result.output
    )


def test_missing_model_is_an_error(split, tmp_path, monkeypatch):
    _, data, _ = split
    result = _run("--model", "bundle/", "--data", str(data))
    assert result.exit_code == 3 and "vtedge: error: bundle: no such model" in result.output
    assert _run("--model", "b/", "--pred", "p.jsonl", "--data", str(data)).exit_code == 2
    assert _run("--pred", "p.jsonl", "--out", "o.jsonl", "--data", str(data)).exit_code == 2
    # Neither --model nor --pred: the embedded default model, or a clear error without one.
    monkeypatch.setattr("vtedge.runtime.DEFAULT_MODEL_DIR", tmp_path / "none")
    result = _run("--data", str(data))
    assert result.exit_code == 8 and "no embedded default model" in result.output


def test_bad_records_error_or_skip(split, tmp_path):
    root, data, records = split
    bad = dict(records[0], problem_id="x", path="../../escape.mp4")
    path = tmp_path / "bad.jsonl"
    _write(path, [records[1], bad])
    pred = _write(tmp_path / "p.jsonl", [{"problem_id": records[1]["problem_id"], "output": "x"}])
    result = _run("--pred", pred, "--data", str(path), "--root", str(root / "val"))
    assert result.exit_code == 6 and f"{path}:2:" in result.output and "escapes" in result.output
    assert "Traceback" not in result.output
    result = _run("--pred", pred, "--data", str(path), "--root", str(root / "val"), "--skip-bad")
    assert result.exit_code == 0 and "skipped 1 bad records" in result.output
    result = _run(
        "--pred", pred, "--data", str(path), "--source-root", f"synth={root / 'val'}", "--skip-bad"
    )
    assert result.exit_code == 0 and "skipped 1 bad records" in result.output
    assert _run("--pred", pred, "--data", str(path), "--source-root", "nodir").exit_code == 2
    missing = _run("--pred", str(tmp_path / "none.jsonl"), "--data", str(data))
    assert missing.exit_code == 3 and "predictions file not found" in missing.output


def test_predictions_without_ids_match_by_line(split, tmp_path):
    """A line lost on either side shifts no later prediction onto another record."""
    root, _, records = split
    anonymous = [{k: v for k, v in r.items() if k != "problem_id"} for r in records]
    gold = [{"output": r["process"] + "\n" + r["solution"]} for r in records]
    data = _write(tmp_path / "noid.jsonl", anonymous)
    cut = tmp_path / "cut.jsonl"
    _write(cut, gold)
    cut.write_text('{"output": "cut off\n' + "".join(cut.read_text().splitlines(True)[1:]))
    scores_json = tmp_path / "s.json"
    result = _run("--pred", str(cut), "--data", data, "--root", str(root / "val"),
                  "--json", str(scores_json))
    assert result.exit_code == 0, result.output
    scores = json.loads(scores_json.read_text())
    assert scores["accuracy"] == pytest.approx(7 / 8) and scores["matched"] == 7
    broken = tmp_path / "broken.jsonl"
    broken.write_text("{not json\n" + "".join(Path(data).read_text().splitlines(True)[1:]))
    result = _run("--pred", _write(tmp_path / "gold.jsonl", gold), "--data", str(broken),
                  "--root", str(root / "val"), "--skip-bad", "--json", str(scores_json))
    assert result.exit_code == 0, result.output
    scores = json.loads(scores_json.read_text())
    assert scores["accuracy"] == 1.0 and scores["n"] == 7
    assert "prediction 1: no problem_id and no record at this line" in result.output
    result = _run("--pred", _write(tmp_path / "gold.jsonl", gold), "--data", str(split[1]),
                  "--json", str(scores_json))  # records with ids, predictions in their order
    assert result.exit_code == 0 and json.loads(scores_json.read_text())["accuracy"] == 1.0


def test_an_output_path_under_a_file_is_one_line(split, tmp_path):
    _, data, records = split
    pred = _write(tmp_path / "p.jsonl", [{"problem_id": records[0]["problem_id"], "output": ""}])
    result = _run("--pred", pred, "--data", str(data), "--json", f"{pred}/scores.json")
    assert result.exit_code == 3 and "Traceback" not in result.stderr
    assert result.stderr.startswith("vtedge: error: ") and result.stderr.count("\n") == 1


def test_a_dataset_without_records_is_refused(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    result = _run("--pred", _write(tmp_path / "p.jsonl", []), "--data", str(empty))
    assert result.exit_code == 6 and "no records to score" in result.stderr


def test_an_output_over_an_input_is_refused_before_any_work(split, tmp_path):
    """--json, --out, --pred and --data name four roles: one file in two would be written
    over (a dataset replaced by its scores, a prediction file by a resumed run)."""
    _, data, records = split
    pred = Path(_write(tmp_path / "p.jsonl",
                       [{"problem_id": records[0]["problem_id"], "output": ""}]))
    before = data.read_text(), pred.read_text()
    for args in (["--pred", pred, "--json", data], ["--pred", pred, "--json", pred],
                 ["--out", data], ["--out", pred, "--json", pred]):
        result = _run(*map(str, args), "--data", str(data))
        assert result.exit_code == 2 and "name the same file" in result.output, result.output
    assert (data.read_text(), pred.read_text()) == before


def test_a_file_no_model_run_wrote_is_not_resumed(split, tmp_path):
    """Lines without a run fingerprint are someone's own predictions: resuming would keep
    them as this model's answers."""
    _, data, records = split
    pred = _write(tmp_path / "mine.jsonl",
                  [{"problem_id": records[0]["problem_id"], "output": "<answer>A</answer>"}])
    result = _run("--out", pred, "--data", str(data))
    assert result.exit_code == 6 and "mine.jsonl:1: no run fingerprint" in result.stderr


def test_a_full_disk_is_one_line(split, tmp_path, monkeypatch):
    import errno

    _, data, records = split
    pred = _write(tmp_path / "p.jsonl", [{"problem_id": records[0]["problem_id"], "output": ""}])

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", full)
    result = _run("--pred", pred, "--data", str(data), "--json", str(tmp_path / "s.json"))
    assert result.exit_code == 3
    assert result.stderr == f"vtedge: error: {tmp_path / 's.json'}: No space left on device\n"
