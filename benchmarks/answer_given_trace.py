"""Can a checkpoint turn a correct trace into the right letter? With the gold trace
teacher-forced, how often its top choice at the answer position is the gold letter, per
question family, next to how much of the trace itself it predicts token for token.

A model that reads the video but has not learned to match its conclusion ("So the
triangle was yellow.") to a shuffled option ("A. yellow") scores high on the trace and at
chance on the letter.

    python -m benchmarks.answer_given_trace runs/sft-tiny/last data/val/records.jsonl
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from benchmarks.common import write_results


def teacher_forced(checkpoint, records, batch_size: int = 12, task: str = "trace"):
    """``(examples, labels, logits)`` per batch of ``records``, their gold targets for
    ``task`` (``vtedge.train.batch.TASKS``) fed in."""
    import torch

    from vtedge.train.batch import prepare_examples, sft_batch
    from vtedge.train.tokenizer import special_token_ids

    ids = special_token_ids(checkpoint.tokenizer)
    examples = prepare_examples(records, checkpoint.tokenizer, checkpoint.spec, progress=False,
                                task=task)
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        batch = sft_batch(chunk, checkpoint.spec, ids["pad_token_id"], ids["video_token_id"],
                          torch.device("cpu"), torch.float32)
        labels = batch.pop("labels")
        with torch.no_grad():
            yield chunk, labels, checkpoint.model(**batch).logits


def family_scores(checkpoint, records, batch_size: int = 12) -> dict[str, list[tuple]]:
    """Per family, one ``(letter right, share of trace tokens right)`` per record."""
    from vtedge.train.batch import IGNORE_INDEX

    answer_open = checkpoint.tokenizer("<answer>", add_special_tokens=False)["input_ids"]
    scores = defaultdict(list)
    for chunk, labels, logits in teacher_forced(checkpoint, records, batch_size):
        picks = logits.argmax(-1)
        for row, example in enumerate(chunk):
            target = example.target_ids
            # The letter is the token right after the last "<answer>" of the target.
            at = max(i for i in range(len(target)) if target[i:i + len(answer_open)]
                     == answer_open) + len(answer_open)
            label_positions = (labels[row] != IGNORE_INDEX).nonzero()[:, 0]
            first = int(label_positions[0])
            predicted = picks[row, first - 1:first - 1 + len(target)].tolist()
            trace = [p == t for i, (p, t) in enumerate(zip(predicted, target, strict=True))
                     if i < at - len(answer_open)]
            scores[example.record.family].append(
                (predicted[at] == target[at], sum(trace) / max(1, len(trace))))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoint directories, then records")
    parser.add_argument("--records", type=int, default=100, help="records to score")
    args = parser.parse_args()
    *checkpoints, data = args.checkpoints

    from vtedge.datasets import load_records
    from vtedge.train.checkpoint import load_checkpoint

    records = load_records(data)[: args.records]
    rows = []
    for path in checkpoints:
        scores = family_scores(load_checkpoint(path), records)
        for family in sorted(scores):
            pairs = scores[family]
            rows.append([path, family, len(pairs),
                         f"{100 * sum(p[0] for p in pairs) / len(pairs):.0f}",
                         f"{100 * sum(p[1] for p in pairs) / len(pairs):.1f}"])
    write_results(
        "answer_given_trace", "Does a correct trace lead to the right letter?",
        ["checkpoint", "family", "records", "gold letter picked (%)",
         "trace tokens predicted (%)"],
        rows,
        notes=[f"the first {len(records)} records of {data}, gold trace teacher-forced",
               "`count` and `describe` list their options in numeric order; the other "
               "families shuffle them"],
    )


if __name__ == "__main__":
    main()
