"""Does a checkpoint read its video? Target loss with the real frames vs. black frames vs.
another clip's frames, and how much the merged vision features vary around their mean.

A model that answers from text priors alone scores the same loss whatever the frames; a
collapsed vision tower shows a mean feature far larger than the per-token variation.

    python -m benchmarks.vision_reliance runs/sft-tiny/best data/val/records.jsonl [...]
    python -m benchmarks.vision_reliance --task caption runs/align/last data/captions/...
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from benchmarks.common import write_results


def target_loss(model, examples, spec, ids) -> float:
    """Mean cross-entropy over the assistant tokens (the SFT labels)."""
    import torch

    from vtedge.train.batch import IGNORE_INDEX, sft_batch

    batch = sft_batch(examples, spec, ids["pad_token_id"], ids["video_token_id"],
                      torch.device("cpu"), torch.float32)
    labels = batch.pop("labels")[:, 1:]
    with torch.no_grad():
        logits = model(**batch).logits[:, :-1].float()
    mask = labels != IGNORE_INDEX
    picked = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    return float(-(picked * mask).sum() / mask.sum())


def feature_spread(model, examples, spec) -> tuple[float, float]:
    """Norm of the mean merged vision feature, and the mean distance of tokens from it."""
    import torch

    from vtedge.train.batch import pixel_inputs

    inputs = pixel_inputs(examples, spec, torch.device("cpu"), torch.float32)
    with torch.no_grad():
        output = model.model.get_video_features(inputs["pixel_values_videos"],
                                                inputs["video_grid_thw"])
    features = getattr(output, "pooler_output", output)
    if isinstance(features, (list, tuple)):
        features = torch.cat(list(features))
    mean = features.mean(0)
    return float(mean.norm()), float((features - mean).norm(dim=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="checkpoint directories, then records")
    parser.add_argument("--records", type=int, default=48, help="records to score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--task", choices=["trace", "caption"], default="trace",
                        help="which SFT target to score (caption: the alignment stage's)")
    args = parser.parse_args()
    *checkpoints, data = args.checkpoints

    from vtedge.datasets import load_records
    from vtedge.train.batch import prepare_examples
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.tokenizer import special_token_ids

    records = load_records(data)[: args.records]
    rows = []
    for path in checkpoints:
        checkpoint = load_checkpoint(path)
        spec, ids = checkpoint.spec, special_token_ids(checkpoint.tokenizer)
        examples = prepare_examples(records, checkpoint.tokenizer, spec, task=args.task,
                                    progress=False)
        black = [dataclasses.replace(e, frames=np.zeros_like(e.frames)) for e in examples]
        order = np.random.default_rng(args.seed).permutation(len(examples))
        swapped = [dataclasses.replace(e, frames=examples[i].frames)
                   for e, i in zip(examples, order, strict=True)]
        losses = [target_loss(checkpoint.model, group, spec, ids)
                  for group in (examples, black, swapped)]
        mean_norm, spread = feature_spread(checkpoint.model, examples, spec)
        rows.append([path, args.task, *(f"{loss:.4f}" for loss in losses), f"{mean_norm:.2f}",
                     f"{spread:.2f}"])
    name = "vision_reliance" if args.task == "trace" else f"vision_reliance_{args.task}"
    write_results(
        name, "Does the model read its video?",
        ["checkpoint", "target", "loss, real frames", "loss, black frames",
         "loss, other clip's frames", "mean feature norm", "mean distance from the mean"],
        rows,
        notes=[f"{len(records)} records of {data}; loss is the mean cross-entropy of the "
               "assistant tokens (trace: trace + answer; caption: the timed captions)",
               "equal losses mean the answer does not depend on the video"],
        command=f"python -m benchmarks.vision_reliance --task {args.task}",
    )


if __name__ == "__main__":
    main()
