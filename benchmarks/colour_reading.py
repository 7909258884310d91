"""Does a checkpoint read a shape's colour off the frames, or guess it from the shape? With
the gold trace teacher-forced, at every colour word of the walk's captions ("The circle is
green and still."), the probability the checkpoint gives the gold colour among the
palette's four, and how often it ranks it first; split into colour/shape pairs training
shows and the held-out pairs only ood clips show. A model that reads colour alone does as
well on both; one that learned each shape's colours from the text ranks a held-out colour
last. ``--task caption`` reads an alignment checkpoint instead, on the timed captions of
`describe` records.

    python -m benchmarks.colour_reading runs/grpo-s0/last data/ood/records.jsonl
    python -m benchmarks.colour_reading runs/align/last data/ood-captions/records.jsonl \
        --task caption
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

from benchmarks.answer_given_trace import teacher_forced
from benchmarks.common import write_results

WALK_CAPTION = re.compile(r"<time>(\d\d):(\d\d)-(\d\d):(\d\d)</time><caption>(.*?)</caption>")
CLAUSE = re.compile(r"The (\w+) is (\w+) and")


def walk_colours(text: str, phase_seconds: float = 2.0) -> list[tuple[int, str, str]]:
    """``(index of the colour word in text, shape, colour)`` for every clause of the walk's
    captions: the blocks that cover one whole phase."""
    found = []
    for block in WALK_CAPTION.finditer(text):
        start = 60 * int(block.group(1)) + int(block.group(2))
        end = 60 * int(block.group(3)) + int(block.group(4))
        if end - start != phase_seconds or start % phase_seconds:
            continue
        for clause in CLAUSE.finditer(block.group(5)):
            found.append((block.start(5) + clause.start(2), clause.group(1), clause.group(2)))
    return found


def colour_scores(checkpoint, records, batch_size: int = 12,
                  task: str = "trace") -> dict[bool, list[tuple]]:
    """Per held-out flag, one ``(p(gold colour), gold ranked first)`` per colour word."""
    from vtedge.synth.scene import COLOURS, HELD_OUT_PAIRS
    from vtedge.train.batch import IGNORE_INDEX, chat_parts

    tokenizer = checkpoint.tokenizer
    palette = [tokenizer(" " + c, add_special_tokens=False)["input_ids"] for c in COLOURS]
    if any(len(p) != 1 for p in palette):
        raise ValueError("the tokenizer splits a colour word; this probe needs one token each")
    palette = [p[0] for p in palette]
    scores = defaultdict(list)
    for chunk, labels, logits in teacher_forced(checkpoint, records, batch_size, task):
        for row, example in enumerate(chunk):
            text = chat_parts(example.record, 0, task)[1]
            offsets = tokenizer(text, add_special_tokens=False,
                                return_offsets_mapping=True)["offset_mapping"]
            # The colour word's token starts at its leading space.
            token_at = {begin: i for i, (begin, _) in enumerate(offsets)}
            first = int((labels[row] != IGNORE_INDEX).nonzero()[0, 0])
            for at, shape, colour in walk_colours(text):
                token = token_at[at - 1]
                probs = logits[row, first - 1 + token, palette].softmax(-1)
                gold = probs[COLOURS.index(colour)]
                scores[(shape, colour) in HELD_OUT_PAIRS].append(
                    (float(gold), bool((probs > gold).sum() == 0)))
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

    scores = colour_scores(load_checkpoint(args.checkpoint),
                           load_records(args.records)[: args.limit], task=args.task)
    rows = [["held-out" if held else "shown in training", len(pairs),
             f"{sum(p for p, _ in pairs) / len(pairs):.3f}",
             f"{100 * sum(top for _, top in pairs) / len(pairs):.0f}"]
            for held, pairs in sorted(scores.items())]
    write_results(
        "colour_reading", "Does the checkpoint read colour off the frames?",
        ["colour/shape pair", "colour words", "mean p(gold colour)",
         "gold colour ranked first (%)"],
        rows,
        notes=[f"checkpoint {args.checkpoint}; the first {args.limit} records of "
               f"{args.records}, gold {args.task} teacher-forced; p over the four palette "
               "colours",
               "chance: p 0.25, ranked first 25%"],
        command=f"python -m benchmarks.colour_reading {args.checkpoint} {args.records}"
        + (f" --task {args.task}" if args.task != "trace" else ""))


if __name__ == "__main__":
    main()
