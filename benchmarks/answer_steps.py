"""Where do generated answers go wrong? Each answer to a synthetic question is split into
the steps of its gold trace: the walk (each phase's caption, read off the frames, and the
change at its start, found by comparing two phases), the conclusion and the letter. Per
question family: how often each step is right, and how often the letter is right when
the walk, or the conclusion, is.

    vtedge eval --model BUNDLE --data data/val/records.jsonl --out pred.jsonl
    python -m benchmarks.answer_steps data/val/records.jsonl pred.jsonl [more.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from dataclasses import dataclass

from benchmarks.common import write_results

# A then-and-now clause (`vtedge data synth --compare-states`) is not the change sentence.
SIDE_BY_SIDE = re.compile(r"The \w+ was .*, now ")


@dataclass(frozen=True)
class Steps:
    """One answer's steps against its record's gold trace."""

    captions: tuple[int, int]  # walk phases captioned exactly, phases
    changes: tuple[int, int]  # change sentences exact, phases after the first
    concluded: bool
    letter: bool

    @property
    def walked(self) -> bool:
        """Every phase of the walk captioned and its change named exactly."""
        return self.captions[0] == self.captions[1] and self.changes[0] == self.changes[1]


def change_sentence(thought: str) -> str:
    """A walk step's change: its thought's first sentence that is not a then-and-now
    clause."""
    sentences = [s.strip() for s in thought.split(".") if s.strip()]
    rest = [s for s in sentences if not SIDE_BY_SIDE.match(s)]
    return rest[0] if rest else ""


def walk(segments: list) -> list:
    """The leading blocks that span the 2 s phases in order: a gold trace's walk."""
    phases = 0
    while phases < len(segments) and (segments[phases].start, segments[phases].end) == (
            2.0 * phases, 2.0 * phases + 2):
        phases += 1
    return segments[:phases]


def steps(record, output: str, answer: str | None) -> Steps:
    """The walk, the conclusion and the letter of ``output`` against ``record``."""
    from vtedge.reasoning import parse

    gold = walk(parse(record.process).segments)
    phases = len(gold)
    # A phase the answer never reached counts as wrong: it is in ``phases``, not in ``pairs``.
    pairs = list(zip(gold, parse(output).segments, strict=False))
    captions = sum(s.caption == g.caption for g, s in pairs)
    changes = sum(change_sentence(s.thought or "") == change_sentence(g.thought)
                  for g, s in pairs[1:])
    conclusion = record.process.splitlines()[-1]
    return Steps((captions, phases), (changes, phases - 1), conclusion in output.splitlines(),
                 answer == record.answer)


def percent(flags: list[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):.0f}" if flags else "-"


def ratio(pairs: list[tuple[int, int]]) -> str:
    total = sum(n for _, n in pairs)
    return f"{100 * sum(k for k, _ in pairs) / total:.0f}" if total else "-"


def judged_by_family(records_path: str, predictions: list[str], judge) -> dict[str, list]:
    """``judge(record, output, answer)`` of every prediction, per question family in name
    order, then all of them under "all"."""
    from vtedge.datasets import load_records

    records = {r.problem_id: r for r in load_records(records_path)}
    by_family = defaultdict(list)
    for path in predictions:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                record = records[row["problem_id"]]
                by_family[record.family].append(judge(record, row["output"], row["answer"]))
    judged = {family: by_family[family] for family in sorted(by_family)}
    judged["all"] = sum(judged.values(), [])
    return judged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", help="the records the predictions answer")
    parser.add_argument("predictions", nargs="+", help="`vtedge eval --out` files")
    args = parser.parse_args()

    rows = []
    for family, runs in judged_by_family(args.records, args.predictions, steps).items():
        rows.append([
            family, len(runs), ratio([r.captions for r in runs]),
            ratio([r.changes for r in runs]), percent([r.walked for r in runs]),
            percent([r.concluded for r in runs]), percent([r.letter for r in runs]),
            percent([r.letter for r in runs if r.walked]),
            percent([r.letter for r in runs if r.concluded])])
    write_results(
        "answer_steps", "Where do generated answers go wrong?",
        ["family", "answers", "walk captions exact (% of phases)",
         "changes exact (% of phases after the first)", "walk right throughout (%)",
         "conclusion right (%)", "letter right (%)", "letter right when the walk is (%)",
         "letter right when the conclusion is (%)"],
        rows,
        notes=[f"records {args.records}; predictions {', '.join(args.predictions)}",
               "walk: the answer's first blocks, one per 2 s phase; a change is the first "
               "sentence of a walk step's thought that is not a then-and-now clause; "
               "conclusion: the gold trace's last line appears verbatim in the answer"],
        command="python -m benchmarks.answer_steps " + " ".join(
            [args.records, *args.predictions]))


if __name__ == "__main__":
    main()
