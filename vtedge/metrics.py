"""Scoring predictions against records: accuracy, format rate and temporal grounding.

Accuracy uses Video-Thinker's published evaluation extraction of the answer letter
(overall, per ``data_source``, per question family). Grounding follows the temporal
grounding convention: for every ground-truth segment the best IoU among the predicted
``<time>`` spans; mIoU is their mean, R@m the share reaching IoU ``m``. A record without a
prediction scores zero everywhere; a prediction without a record is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from vtedge.reasoning.answers import output_is_correct
from vtedge.reasoning.grounding import best_ious
from vtedge.reasoning.parse import parse

RECALL_THRESHOLDS = (0.3, 0.5)


@dataclass
class GroupScore:
    """Accuracy of one slice of the records."""

    n: int = 0
    correct: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass
class Scores:
    """Every number ``vtedge eval`` reports, plus what could not be matched."""

    n: int = 0
    matched: int = 0
    correct: int = 0
    well_formed: int = 0
    segment_ious: list[float] = field(default_factory=list)
    by_source: dict[str, GroupScore] = field(default_factory=dict)
    by_family: dict[str, GroupScore] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def format_rate(self) -> float:
        return self.well_formed / self.n if self.n else 0.0

    @property
    def missing(self) -> int:
        """Records no prediction answered (scored as wrong)."""
        return self.n - self.matched

    @property
    def miou(self) -> float | None:
        """Mean best IoU over all ground-truth segments; ``None`` without segments."""
        if not self.segment_ious:
            return None
        return sum(self.segment_ious) / len(self.segment_ious)

    def recall(self, threshold: float) -> float | None:
        if not self.segment_ious:
            return None
        return sum(iou >= threshold for iou in self.segment_ious) / len(self.segment_ious)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "matched": self.matched,
            "missing": self.missing,
            "accuracy": self.accuracy,
            "format_rate": self.format_rate,
            "grounding": {
                "segments": len(self.segment_ious),
                "miou": self.miou,
                **{f"r@{t}": self.recall(t) for t in RECALL_THRESHOLDS},
            },
            "by_source": {
                k: {**asdict(v), "accuracy": v.accuracy} for k, v in self.by_source.items()
            },
            "by_family": {
                k: {**asdict(v), "accuracy": v.accuracy} for k, v in self.by_family.items()
            },
            "unmatched": list(self.unmatched),
        }


def _key(value: Any) -> str:
    # Ids compare as text so a record's 7 matches a prediction's "7".
    return str(value)


def match_predictions(
    predictions: Sequence[Mapping[str, Any]], records: Sequence[Any]
) -> tuple[dict[int, str], list[str]]:
    """``{record index: output}`` and descriptions of predictions that match no record.

    A prediction with a ``problem_id`` matches the record with that id; one without
    matches the record on its ``line`` of the data file when it names one (``vtedge eval``
    gives each prediction its own line of the predictions file), else the record at its
    own position.
    """
    by_id = {_key(r.problem_id): k for k, r in enumerate(records) if r.problem_id is not None}
    by_line = {r.line: k for k, r in enumerate(records)}
    outputs: dict[int, str] = {}
    unmatched: list[str] = []
    for position, prediction in enumerate(predictions):
        pid = prediction.get("problem_id") if isinstance(prediction, Mapping) else None
        output = prediction.get("output") if isinstance(prediction, Mapping) else None
        line = prediction.get("line") if isinstance(prediction, Mapping) else None
        label = f"prediction {position + 1}" + (f" (problem_id {pid!r})" if pid is not None else "")
        if pid is not None:
            index = by_id.get(_key(pid))
            if index is None:
                unmatched.append(f"{label}: no record has this problem_id")
                continue
        elif isinstance(line, int) and line in by_line:
            index = by_line[line]
        elif not isinstance(line, int) and position < len(records):
            index = position
        else:
            unmatched.append(f"{label}: no problem_id and no record at this line")
            continue
        if not isinstance(output, str):
            unmatched.append(f"{label}: no 'output' text")
            continue
        if index in outputs:
            unmatched.append(f"{label}: a second prediction for the same record")
            continue
        outputs[index] = output
    return outputs, unmatched


def score(predictions: Iterable[Mapping[str, Any]], records: Sequence[Any]) -> Scores:
    """Score ``{"problem_id", "output"}`` predictions against loaded records."""
    outputs, unmatched = match_predictions(list(predictions), records)
    scores = Scores(n=len(records), matched=len(outputs), unmatched=unmatched)
    for k, record in enumerate(records):
        output = outputs.get(k, "")
        reasoning = parse(output)
        correct = k in outputs and output_is_correct(output, record.answer, record.problem_type)
        scores.correct += correct
        scores.well_formed += reasoning.well_formed
        if record.segments:
            scores.segment_ious.extend(best_ious(record.segments, reasoning.spans))
        for groups, name in (
            (scores.by_source, record.data_source or "-"),
            (scores.by_family, record.family or "-"),
        ):
            group = groups.setdefault(name, GroupScore())
            group.n += 1
            group.correct += correct
    return scores


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def render_table(scores: Scores) -> str:
    """A plain-text table of the scores (percentages), for the terminal and logs."""
    rows = [
        ("records", str(scores.n)),
        ("matched predictions", str(scores.matched)),
        ("missing (scored wrong)", str(scores.missing)),
        ("unmatched predictions", str(len(scores.unmatched))),
        ("accuracy %", _percent(scores.accuracy)),
        ("format rate %", _percent(scores.format_rate)),
        ("grounding segments", str(len(scores.segment_ious))),
        ("mIoU %", _percent(scores.miou)),
        *((f"R@{t} %", _percent(scores.recall(t))) for t in RECALL_THRESHOLDS),
    ]
    for title, groups in (("data_source", scores.by_source), ("family", scores.by_family)):
        for name in sorted(groups):
            group = groups[name]
            rows.append((f"accuracy % [{title}={name}] (n={group.n})", _percent(group.accuracy)))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value:>7}" for name, value in rows]
    rule = "-" * len(lines[0])
    return "\n".join([rule, *lines, rule])
