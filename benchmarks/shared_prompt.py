"""Shared leading tokens run once (what `vtedge train` does in one process) vs. every row
in full, for the three passes where rows share them.

Loads a checkpoint and the first records of a dataset, then times both ways of:

- GRPO's rollout of G completions for each of P prompts (greedy, so both ways write the
  same tokens): each prompt prefilled once (`InProcessRollout`) vs. transformers'
  `generate` on the prompts repeated G times;
- GRPO's reference pass (forward, no gradient) and loss pass (forward, GRPO loss, backward)
  over G completions, sampled at temperature 1, of each of P prompts: the shared part is
  the whole prompt;
- an SFT micro-batch of traces (forward, loss, backward): the shared part is the system
  prompt.

The two ways' tokens, logits and SFT losses must agree.

    python -m benchmarks.shared_prompt --model build/recipe/runs/sft-s0/last \\
        --data build/recipe/data/val/records.jsonl --prompts 4 -G 8 --sft-rows 16 --threads 1
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="checkpoint directory")
    parser.add_argument("--data", required=True, help="records with traces")
    parser.add_argument("--prompts", type=int, default=4, help="GRPO prompts (P)")
    parser.add_argument("-G", "--num-generations", type=int, default=8)
    parser.add_argument("--sft-rows", type=int, default=16, help="SFT micro-batch rows")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    import torch

    from benchmarks.common import interleaved_best, write_results
    from vtedge.datasets import load_records
    from vtedge.kernels import grpo_loss
    from vtedge.train.batch import prepare_examples, prompt_batch, repeat_batch, sft_batch
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.grpo import row_batch
    from vtedge.train.rollout import InProcessRollout, trim_completions
    from vtedge.train.sft import token_loss_sum
    from vtedge.train.shared_prompt import shared_prefix_logits
    from vtedge.train.tokenizer import special_token_ids

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    checkpoint = load_checkpoint(args.model)
    model, spec, group = checkpoint.model, checkpoint.spec, args.num_generations
    ids = special_token_ids(checkpoint.tokenizer)
    records = list(load_records(args.data))[: max(args.prompts, args.sft_rows)]
    examples = prepare_examples(records, checkpoint.tokenizer, spec, progress=False)
    pad, video = ids["pad_token_id"], ids["video_token_id"]

    grpo_examples = examples[: args.prompts]
    prompts = prompt_batch(grpo_examples, spec, pad, video, "cpu", torch.float32)
    engine = InProcessRollout(model, ids["eos_token_id"], pad)
    completions = engine.generate(prompts, group, max_new_tokens=args.max_new_tokens)
    rows = list(range(len(grpo_examples) * group))
    parts = {shared: row_batch(grpo_examples, completions, rows, group, spec, ids, "cpu",
                               torch.float32, shared) for shared in (True, False)}
    advantages = torch.randn(len(rows))
    tokens = float(completions.mask.sum())
    sft = sft_batch(examples[: args.sft_rows], spec, pad, video, "cpu", torch.float32)
    labels = sft.pop("labels")

    def rollout(shared: bool):
        if shared:
            return engine.generate(prompts, group, max_new_tokens=args.max_new_tokens,
                                   greedy=True).ids
        inputs = repeat_batch(prompts, group)
        with torch.no_grad():
            sequences = model.generate(**inputs, max_new_tokens=args.max_new_tokens,
                                       do_sample=False, eos_token_id=ids["eos_token_id"],
                                       pad_token_id=pad)
        width = inputs["input_ids"].shape[1]
        return trim_completions(sequences[:, width:], ids["eos_token_id"], pad).ids

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

    def sft_pass(shared: bool):
        model.zero_grad(set_to_none=True)
        logits, start = shared_prefix_logits(model, sft) if shared else (
            model(**sft).logits, 0)
        loss = token_loss_sum(logits, labels[:, start:])
        loss.backward()
        return float(loss), start

    model.eval()
    greedy = rollout(True)
    assert torch.equal(greedy, rollout(False)), "the two rollouts wrote different tokens"
    model.train()
    mask = parts[True].completion_mask[..., None].bool()
    gap = float((reference_pass(True) - reference_pass(False)).abs().masked_fill(~mask, 0).max())
    (shared_loss, start), (full_loss, _) = sft_pass(True), sft_pass(False)
    passes = {"GRPO rollout": rollout, "GRPO reference": reference_pass,
              "GRPO loss": loss_pass, "SFT": sft_pass}
    timed = interleaved_best({f"{name} {way}": (lambda run=run, way=way: run(way == "shared"))
                              for name, run in passes.items() for way in ("shared", "full")},
                             repeat=args.repeat)
    table = []
    for name in passes:
        shared_s, full_s = timed[f"{name} shared"][0], timed[f"{name} full"][0]
        table.append([f"{name} pass", f"{shared_s:.2f}", f"{full_s:.2f}",
                      f"{full_s / shared_s:.2f}x"])
    prompt_tokens = int(prompts["attention_mask"].sum()) // len(grpo_examples)
    sft_tokens = int(sft["attention_mask"].sum()) // args.sft_rows
    write_results(
        "shared_prompt",
        "Shared leading tokens run once vs. every row in full",
        ["pass", "shared s", "full rows s", "speed-up"],
        table,
        notes=[
            f"Checkpoint `{args.model}`, records `{args.data}`; torch {torch.__version__}, "
            f"{torch.get_num_threads()} thread(s), fp32. Fastest of {args.repeat} "
            "interleaved runs.",
            f"GRPO: {len(grpo_examples)} prompts (~{prompt_tokens} tokens each, video "
            f"included) x G {group} completions. Rollout: greedy, up to {args.max_new_tokens} "
            f"new tokens ({greedy.shape[1]} written). Reference and loss: completions sampled "
            f"at temperature 1 ({tokens / len(rows):.0f} tokens on average); "
            "reference: forward without gradient; loss: forward, GRPO loss (torch backend), "
            f"backward. Largest logit difference on completion tokens: {gap:.1e}.",
            f"SFT: {args.sft_rows} traces of ~{sft_tokens} tokens sharing their first {start} "
            f"(the system prompt); forward, summed token loss, backward. Loss {shared_loss:.4f} "
            f"shared vs. {full_loss:.4f} full.",
        ],
        command="python -m benchmarks.shared_prompt " + " ".join(sys.argv[1:]),
    )


if __name__ == "__main__":
    main()
