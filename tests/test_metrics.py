"""Scoring: gold is perfect, shuffled answers are near chance, nothing unmatched is dropped."""

from pathlib import Path

import numpy as np
import pytest

from vtedge.datasets import GroundTruthSegment, Record
from vtedge.metrics import render_table, score


def _records(n, seed=0):
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        letter = "ABCD"[rng.integers(4)]
        start = float(rng.integers(0, 10))
        records.append(
            Record(
                problem_id=f"q{i}",
                problem="Which?",
                problem_type="multiple choice",
                options=("A. a", "B. b", "C. c", "D. d"),
                solution=f"<answer>{letter}</answer>",
                process="",
                data_type="video",
                path=f"{i}.mp4",
                data_source="synth" if i % 2 else "other",
                video_path=Path(f"/v/{i}.mp4"),
                segments=(GroundTruthSegment(start, start + 2, "x"),),
                family="fam" if i % 3 else None,
            )
        )
    return records


def _output(record, letter=None, span=None):
    s = record.segments[0]
    start, end = span or (s.start, s.end)
    return (
        f"<time>{start}-{end}</time><caption>x</caption><think>y</think>"
        f"<answer>{letter or record.answer}</answer>"
    )


def test_gold_is_perfect():
    records = _records(40)
    scores = score([{"problem_id": r.problem_id, "output": _output(r)} for r in records], records)
    assert scores.accuracy == 1.0 and scores.format_rate == 1.0 and scores.miou == 1.0
    assert scores.recall(0.3) == 1.0 and scores.recall(0.5) == 1.0
    assert scores.matched == 40 and scores.missing == 0 and scores.unmatched == []
    assert {k: v.accuracy for k, v in scores.by_source.items()} == {"synth": 1.0, "other": 1.0}
    assert scores.by_family["-"].n + scores.by_family["fam"].n == 40
    table = render_table(scores)
    assert "accuracy %" in table and "100.0" in table and "[data_source=synth] (n=20)" in table


def test_shuffled_answers_are_near_chance():
    records = _records(400)
    answers = [r.answer for r in records]
    np.random.default_rng(1).shuffle(answers)
    predictions = [
        {"problem_id": r.problem_id, "output": _output(r, letter)}
        for r, letter in zip(records, answers, strict=True)
    ]
    assert 0.18 < score(predictions, records).accuracy < 0.32


def test_iou_and_recall_thresholds():
    records = _records(1)
    s = records[0].segments[0]
    # Overlap 1 of 3 seconds: IoU 1/3, which passes R@0.3 and fails R@0.5.
    scores = score(
        [{"problem_id": "q0", "output": _output(records[0], span=(s.start + 1, s.end + 1))}],
        records,
    )
    assert scores.miou == pytest.approx(1 / 3)
    assert scores.recall(0.3) == 1.0 and scores.recall(0.5) == 0.0


def test_unmatched_missing_and_malformed():
    records = _records(4)
    predictions = [
        {"problem_id": "q0", "output": _output(records[0])},
        {"problem_id": "q0", "output": _output(records[0])},
        {"problem_id": "nope", "output": "x"},
        {"problem_id": "q1", "output": "<answer><time>garbage"},
        {"problem_id": "q2", "output": None},
        "not a dict",
    ]
    scores = score(predictions, records)
    assert scores.matched == 2 and scores.missing == 2  # q2 has no output: listed, wrong
    assert scores.correct == 1 and scores.well_formed == 1
    assert len(scores.unmatched) == 4
    assert "second prediction" in scores.unmatched[0] and "'nope'" in scores.unmatched[1]
    assert "'q2'" in scores.unmatched[2] and "no 'output' text" in scores.unmatched[2]
    assert scores.to_dict()["grounding"]["segments"] == 4


def test_line_index_matching_and_numeric_ids():
    records = _records(3)
    records[1] = Record(**{**records[1].__dict__, "problem_id": 7})
    predictions = [
        {"output": _output(records[0])},
        {"problem_id": "7", "output": _output(records[1])},
    ]
    predictions += [{"output": "x"}] * 2
    scores = score(predictions, records)
    assert (
        scores.correct == 2
        and len(scores.unmatched) == 1
        and "no record at this line" in scores.unmatched[0]
    )


def test_no_records_no_segments():
    scores = score([], [])
    assert scores.accuracy == 0.0 and scores.miou is None and scores.recall(0.5) is None
    assert "n/a" in render_table(scores)
