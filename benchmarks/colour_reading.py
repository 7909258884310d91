"""Does a checkpoint read a shape's colour off the frames, or guess it from the shape? With
the gold trace teacher-forced, at every colour word and every shape word of the walk's
captions ("The circle is green and still."; with ``--captions-by-column``, "Left: a green
circle, still."; with ``--captions-in-passes``, "Left: circle. Left: green, still."), the
probability the checkpoint gives the gold word among the palette's four colours or the
three shapes, and how often it ranks it first; split into
colour/shape pairs training shows and the held-out pairs only ood clips show. A model that
reads each word off the frames does as well on both; one that learned which colours go
with which shape from the text ranks a held-out pair's second word last. ``--task
caption`` reads an alignment checkpoint instead, on the timed captions of `describe`
records.

    python -m benchmarks.colour_reading runs/grpo-s0/last data/ood/records.jsonl
    python -m benchmarks.colour_reading runs/align/last data/ood-captions/records.jsonl \\
        --task caption
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from dataclasses import dataclass

from benchmarks.answer_given_trace import teacher_forced
from benchmarks.common import write_results

WALK_CAPTION = re.compile(r"<time>(\d\d):(\d\d)-(\d\d):(\d\d)</time><caption>(.*?)</caption>")
SHAPE_FIRST = re.compile(r"The (?P<shape>\w+) is (?P<colour>\w+) and")
COLUMN_FIRST = re.compile(r"(?:Left|Middle|Right): an? (?P<colour>\w+) (?P<shape>\w+),")
SHAPE_PASS = re.compile(r"(?P<column>Left|Middle|Right): (?P<shape>\w+)\.")
COLOUR_PASS = re.compile(r"(?P<column>Left|Middle|Right): (?P<colour>\w+), (?:still|moving)\.")
WORDS = ("colour", "shape")


@dataclass(frozen=True)
class Clause:
    """One shape of a walk caption: its shape and colour and where each word starts."""

    shape: str
    colour: str
    at: dict[str, int]


def walk_clauses(text: str, phase_seconds: float = 2.0) -> list[Clause]:
    """Every clause of the walk's captions (the blocks that cover one whole phase), in any
    of the three wordings; in passes, a clause is a column's shape and colour."""
    found = []
    for block in WALK_CAPTION.finditer(text):
        start = 60 * int(block.group(1)) + int(block.group(2))
        end = 60 * int(block.group(3)) + int(block.group(4))
        if end - start != phase_seconds or start % phase_seconds:
            continue
        caption, offset = block.group(5), block.start(5)
        for pattern in (SHAPE_FIRST, COLUMN_FIRST):
            for clause in pattern.finditer(caption):
                found.append(Clause(clause["shape"], clause["colour"],
                                    {w: offset + clause.start(w) for w in WORDS}))
        shapes = {m["column"]: m for m in SHAPE_PASS.finditer(caption)}
        for colour in COLOUR_PASS.finditer(caption):
            shape = shapes[colour["column"]]
            found.append(Clause(shape["shape"], colour["colour"],
                                {"colour": offset + colour.start("colour"),
                                 "shape": offset + shape.start("shape")}))
    return sorted(found, key=lambda c: c.at["colour"])


def reading_scores(checkpoint, records, batch_size: int = 12,
                   task: str = "trace") -> dict[tuple[str, bool], list[tuple]]:
    """Per word (colour or shape) and held-out flag, one ``(p(gold word), gold ranked
    first)`` per clause."""
    from vtedge.synth.scene import COLOURS, HELD_OUT_PAIRS, SHAPES
    from vtedge.train.batch import IGNORE_INDEX, chat_parts

    tokenizer = checkpoint.tokenizer
    vocab = {"colour": COLOURS, "shape": SHAPES}
    choices = {}
    for word, names in vocab.items():
        ids = [tokenizer(" " + n, add_special_tokens=False)["input_ids"] for n in names]
        if any(len(i) != 1 for i in ids):
            raise ValueError(f"the tokenizer splits a {word} word; this probe needs one token each")
        choices[word] = [i[0] for i in ids]
    scores = defaultdict(list)
    for chunk, labels, logits in teacher_forced(checkpoint, records, batch_size, task):
        for row, example in enumerate(chunk):
            text = chat_parts(example.record, 0, task)[1]
            offsets = tokenizer(text, add_special_tokens=False,
                                return_offsets_mapping=True)["offset_mapping"]
            # A word's token starts at its leading space.
            token_at = {begin: i for i, (begin, _) in enumerate(offsets)}
            first = int((labels[row] != IGNORE_INDEX).nonzero()[0, 0])
            for clause in walk_clauses(text):
                held = (clause.shape, clause.colour) in HELD_OUT_PAIRS
                for word in WORDS:
                    token = token_at[clause.at[word] - 1]
                    probs = logits[row, first - 1 + token, choices[word]].softmax(-1)
                    gold = probs[vocab[word].index(getattr(clause, word))]
                    scores[(word, held)].append((float(gold), bool((probs > gold).sum() == 0)))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a checkpoint directory (runs/NAME/last)")
    parser.add_argument("records", help="records with gold traces, e.g. the ood split")
    parser.add_argument("--limit", type=int, default=100,
                        help="records to score (default: %(default)s)")
    parser.add_argument("--task", choices=("trace", "caption"), default="trace",
                        help="trace: the reasoning trace (SFT and GRPO checkpoints); caption: "
                        "the timed captions alone (the alignment checkpoint) "
                        "(default: %(default)s)")
    args = parser.parse_args()

    from vtedge.datasets import load_records
    from vtedge.train.checkpoint import load_checkpoint

    scores = reading_scores(load_checkpoint(args.checkpoint),
                            load_records(args.records)[: args.limit], task=args.task)
    rows = [[word, "held-out" if held else "shown in training", len(pairs),
             f"{sum(p for p, _ in pairs) / len(pairs):.3f}",
             f"{100 * sum(top for _, top in pairs) / len(pairs):.0f}"]
            for (word, held), pairs in sorted(scores.items())]
    write_results(
        "colour_reading", "Does the checkpoint read colour and shape off the frames?",
        ["word", "colour/shape pair", "words", "mean p(gold word)", "gold ranked first (%)"],
        rows,
        notes=[f"checkpoint {args.checkpoint}; the first {args.limit} records of "
               f"{args.records}, gold {args.task} teacher-forced; p over the four palette "
               "colours or the three shapes",
               "chance: colour p 0.25 (ranked first 25%), shape p 0.33 (33%)"],
        command=f"python -m benchmarks.colour_reading {args.checkpoint} {args.records}"
        + (f" --task {args.task}" if args.task != "trace" else ""))


if __name__ == "__main__":
    main()
