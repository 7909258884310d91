"""Scoring a GRPO micro-batch: each prompt run once, its cache shared by its G completions
(what `vtedge train grpo` does in one process), vs. every prompt + completion in full.

Loads a checkpoint, samples G completions (temperature 1) for the first P prompts of a
dataset, then times both ways of the two passes a GRPO step makes over them: the reference
pass (forward, no gradient) and the loss pass (forward, GRPO loss, backward). The logits of
the two ways must agree.

    python -m benchmarks.grpo_scoring --model build/recipe/runs/sft-s0/last \\
        --data build/recipe/data/val/records.jsonl --prompts 4 -G 8 --threads 1
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="checkpoint directory")
    parser.add_argument("--data", required=True, help="records whose prompts are scored")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("-G", "--num-generations", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    import torch

    from benchmarks.common import interleaved_best, write_results
    from vtedge.datasets import load_records
    from vtedge.kernels import grpo_loss
    from vtedge.train.batch import prepare_examples, prompt_batch
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.grpo import row_batch
    from vtedge.train.rollout import HFGenerateRollout
    from vtedge.train.tokenizer import special_token_ids

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    checkpoint = load_checkpoint(args.model)
    model, spec, group = checkpoint.model, checkpoint.spec, args.num_generations
    ids = special_token_ids(checkpoint.tokenizer)
    records = list(load_records(args.data))[: args.prompts]
    examples = prepare_examples(records, checkpoint.tokenizer, spec, with_targets=False,
                                progress=False)
    prompts = prompt_batch(examples, spec, ids["pad_token_id"], ids["video_token_id"], "cpu",
                           torch.float32)
    completions = HFGenerateRollout(model, ids["eos_token_id"], ids["pad_token_id"]).generate(
        prompts, group, max_new_tokens=args.max_new_tokens)
    rows = list(range(len(examples) * group))
    parts = {shared: row_batch(examples, completions, rows, group, spec, ids, "cpu",
                               torch.float32, shared) for shared in (True, False)}
    advantages = torch.randn(len(rows))
    tokens = float(completions.mask.sum())

    def reference_pass(shared: bool):
        with torch.no_grad():
            return parts[shared].logits(model)

    def loss_pass(shared: bool):
        model.zero_grad(set_to_none=True)
        part = parts[shared]
        loss, _ = grpo_loss(part.logits(model), part.completion_ids, part.completion_mask,
                            advantages=advantages, beta=0.0, num_items_in_batch=tokens,
                            backend="torch")
        loss.backward()

    model.train()
    shared_logits, full_logits = reference_pass(True), reference_pass(False)
    mask = parts[True].completion_mask[..., None].bool()
    gap = float((shared_logits - full_logits).abs().masked_fill(~mask, 0).max())
    timed = interleaved_best({
        "reference shared": lambda: reference_pass(True),
        "reference full": lambda: reference_pass(False),
        "loss shared": lambda: loss_pass(True),
        "loss full": lambda: loss_pass(False),
    }, repeat=args.repeat)
    table = []
    for name in ("reference", "loss"):
        shared_s, full_s = timed[f"{name} shared"][0], timed[f"{name} full"][0]
        table.append([f"{name} pass", f"{shared_s:.2f}", f"{full_s:.2f}",
                      f"{full_s / shared_s:.2f}x"])
    prompt_tokens = int(prompts["attention_mask"].sum()) // len(examples)
    write_results(
        "grpo_scoring",
        f"Scoring {len(rows)} GRPO completions: each prompt once vs. every full sequence",
        ["pass", "shared prompt s", "full sequences s", "speed-up"],
        table,
        notes=[
            f"Checkpoint `{args.model}`; {len(examples)} prompts of `{args.data}` "
            f"(~{prompt_tokens} tokens each, video included) x G {group} completions "
            f"sampled at temperature 1 ({tokens / len(rows):.0f} tokens on average); "
            f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), fp32.",
            "Reference pass: forward without gradient. Loss pass: forward, GRPO loss "
            "(torch backend), backward. Fastest of "
            f"{args.repeat} interleaved runs.",
            f"Largest logit difference between the two ways on completion tokens: {gap:.1e}.",
        ],
        command="python -m benchmarks.grpo_scoring " + " ".join(sys.argv[1:]),
    )


if __name__ == "__main__":
    main()
