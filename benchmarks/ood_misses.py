"""What do out-of-domain answers miss? The ood split differs from training in two things a
walk has to see: colour/shape pairs training never shows (a held-out pair starts every ood
clip) and clips longer than any training clip. Per question family: how many held-out pairs
the gold walk captions name in the phases the answer walked, and how many of those the
answer names in the same phase; how often the walk reaches the clip's end; whether the
letter is right when the gold evidence (the gold segments) ends within the answer's walk,
and when it does not; and how often the answer concludes in its own family's form
(an ood question a model has not learned to read is answered as another family's).

    vtedge eval --model BUNDLE --data data/ood/records.jsonl --out pred.jsonl
    python -m benchmarks.ood_misses data/ood/records.jsonl pred.jsonl [more.jsonl ...]
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from benchmarks.answer_steps import judged_by_family, percent, ratio, walk
from benchmarks.common import write_results


def held_out_clauses() -> tuple[str, ...]:
    """The caption clauses that name a held-out pair, e.g. "The triangle is red"."""
    from vtedge.synth.scene import HELD_OUT_PAIRS

    return tuple(sorted(f"The {shape} is {colour}" for shape, colour in HELD_OUT_PAIRS))


def conclusion_form(text: str) -> str:
    """The sentence after a trace's last thought with its shapes, colours, events and
    numbers masked: "So the SHAPE was COLOUR." is the form of every colour question."""
    from vtedge.synth.questions import EVENT_VERBS
    from vtedge.synth.scene import COLOURS, OTHER_COLOURS, SHAPES

    last = text.rsplit("</think>", 1)[-1].split("<answer>", 1)[0].strip()
    past = "|".join(p.format(colour=r"\w+") for p, _ in EVENT_VERBS.values())
    masks = [(rf"\b({past})\b", "EVENT"),
             (rf"\b({'|'.join(SHAPES)})\b", "SHAPE"),
             (rf"\b({'|'.join(COLOURS + OTHER_COLOURS)})\b", "COLOUR"),
             (r"\d+", "N"), (r"\bshapes are\b", "shape is")]
    for pattern, mask in masks:
        last = re.sub(pattern, mask, last)
    return last


@dataclass(frozen=True)
class Misses:
    """One answer's reading of what makes its clip ood."""

    pairs: tuple[int, int]  # held-out pairs the answer names, gold names (walked phases)
    reached_end: bool
    evidence_walked: bool  # every gold segment ends within the answer's walk
    letter: bool
    own_conclusion: bool  # concludes in the form of its family's gold conclusion


def misses(record, output: str, answer: str | None) -> Misses:
    """``output``'s walk against ``record``'s gold walk and segments."""
    from vtedge.reasoning import parse

    gold = walk(parse(record.process).segments)
    ours = walk(parse(output).segments)
    clauses = held_out_clauses()
    named = shown = 0
    for g, s in zip(gold, ours, strict=False):
        for clause in clauses:
            if clause in g.caption:
                shown += 1
                named += clause in (s.caption or "")
    walked_to = ours[-1].end if ours else 0.0
    evidence = max((segment.end for segment in record.segments), default=0.0)
    return Misses((named, shown), bool(gold) and walked_to >= gold[-1].end,
                  evidence <= walked_to, answer == record.answer,
                  conclusion_form(output) == conclusion_form(record.process))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", help="the ood records the predictions answer")
    parser.add_argument("predictions", nargs="+", help="`vtedge eval --out` files")
    args = parser.parse_args()

    rows = []
    for family, runs in judged_by_family(args.records, args.predictions, misses).items():
        rows.append([
            family, len(runs), sum(r.pairs[1] for r in runs), ratio([r.pairs for r in runs]),
            percent([r.reached_end for r in runs]),
            percent([r.evidence_walked for r in runs]), percent([r.letter for r in runs]),
            percent([r.letter for r in runs if r.evidence_walked]),
            percent([r.letter for r in runs if not r.evidence_walked]),
            percent([r.own_conclusion for r in runs])])
    write_results(
        "ood_misses", "What do out-of-domain answers miss?",
        ["family", "answers", "held-out pairs in gold walk captions",
         "named by the answer (%)", "walk reaches the clip's end (%)",
         "gold evidence within the walk (%)", "letter right (%)",
         "letter right, evidence within the walk (%)",
         "letter right, evidence past the walk (%)", "concludes in its family's form (%)"],
        rows,
        notes=[f"records {args.records}; predictions {', '.join(args.predictions)}",
               "held-out pairs: " + ", ".join(held_out_clauses()) + ", counted in the "
               "gold walk's captions of the phases the answer also walked; evidence: the "
               "latest end of the record's gold segments; a family's form: its gold "
               "conclusion with shapes, colours, events and numbers masked"],
        command="python -m benchmarks.ood_misses " + " ".join(
            [args.records, *args.predictions]))


if __name__ == "__main__":
    main()
