"""Where do generated answers go wrong? Each answer to a synthetic question is split into
the steps of its gold trace: the conclusion (read off the video), the options read back
when the trace does that ("A. red: no. B. yellow: yes.", copied from the prompt), and the
letter. Per question family: how often each step is right, and how often the letter is
right when the conclusion is.

    vtedge eval --model BUNDLE --data data/val/records.jsonl --out pred.jsonl
    python -m benchmarks.answer_steps data/val/records.jsonl pred.jsonl [more.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict

from benchmarks.common import write_results

CHECK = re.compile(r"([A-F])\. (.*?): (yes|no)\.")


def conclusion(process: str) -> str:
    """The gold trace's conclusion: its last line that does not read options back."""
    return [line for line in process.splitlines() if not CHECK.search(line)][-1]


def read_back(output: str) -> list[tuple[str, str, str]]:
    """``(letter, text, verdict)`` of every option the output read back."""
    return CHECK.findall(output)


def steps(record, output: str, answer: str | None) -> tuple[bool, bool | None, bool]:
    """Whether the conclusion, the options read back (``None``: none were) and the letter
    are right."""
    texts = {option[0]: option[3:] for option in record.options}
    checked = read_back(output)
    copied = all(texts.get(letter) == text for letter, text, _ in checked) if checked else None
    said = conclusion(record.process) in output.splitlines()
    return said, copied, answer == record.answer


def percent(flags: list[bool]) -> str:
    return f"{100 * sum(flags) / len(flags):.0f}" if flags else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", help="the records the predictions answer")
    parser.add_argument("predictions", nargs="+", help="`vtedge eval --out` files")
    args = parser.parse_args()

    from vtedge.datasets import load_records

    records = {r.problem_id: r for r in load_records(args.records)}
    by_family = defaultdict(list)
    for path in args.predictions:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                row = json.loads(line)
                record = records[row["problem_id"]]
                by_family[record.family].append(steps(record, row["output"], row["answer"]))
    rows = []
    for family in sorted(by_family) + ["all"]:
        runs = by_family[family] if family != "all" else sum(by_family.values(), [])
        concluded = [r for r in runs if r[0]]
        read = [r[1] for r in runs if r[1] is not None]
        rows.append([family, len(runs), percent([r[0] for r in runs]), percent(read),
                     percent([r[2] for r in runs]), percent([r[2] for r in concluded])])
    write_results(
        "answer_steps", "Where do generated answers go wrong?",
        ["family", "answers", "conclusion right (%)", "options read back right (%)",
         "letter right (%)", "letter right when the conclusion is (%)"],
        rows,
        notes=[f"records {args.records}; predictions {', '.join(args.predictions)}",
               "conclusion: the gold trace's conclusion line appears verbatim in the answer; "
               "options read back: of the answers that read any back, those whose every "
               "`X. text: yes|no.` names option X's own text"],
        command="python -m benchmarks.answer_steps " + " ".join(
            [args.records, *args.predictions]))


if __name__ == "__main__":
    main()
