"""Summarize SFT runs (the caption and option-reading stages too) and a GRPO run from
their ``metrics.jsonl`` as markdown tables.

    python -m benchmarks.training_summary [runs/align runs/options] runs/sft-tiny runs/grpo-tiny
"""

from __future__ import annotations

import argparse
from statistics import mean

from vtedge.train.metrics_log import read_metrics


def sft_tables(run: str) -> list[str]:
    rows = read_metrics(run)
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    seconds = sum(r["seconds"] for r in train)
    clips = sum(r["clips_per_s"] * r["seconds"] for r in train)
    lines = [f"SFT `{run}`: {len(train)} steps, {seconds / 60:.1f} min of steps, "
             f"{sum(r['tokens'] for r in train) / seconds:.0f} tokens/s, "
             f"{clips / seconds:.2f} clips/s (batch {clips / len(train):.0f}) on average", "",
             "| step | train loss | val loss | val format rate | val accuracy | mean length |",
             "|---:|---:|---:|---:|---:|---:|"]
    by_step = {r["step"]: r for r in train}
    for r in val:
        # The caption and options stages validate by loss alone.
        answers = (f"{r['format_rate']:.1%} | {r['accuracy']:.1%} | "
                   f"{r['completion_length']:.0f}") if "accuracy" in r else "- | - | -"
        lines.append(f"| {r['step']} | {by_step[r['step']]['loss']:.3f} | {r['loss']:.3f} | "
                     f"{answers} |")
    return lines


def grpo_tables(run: str, window: int = 5) -> list[str]:
    train = [r for r in read_metrics(run) if r["split"] == "train"]
    lines = [f"GRPO `{run}`: {len(train)} steps", "",
             "| steps | reward mean | accuracy | format rate | KL | clip frac | length |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for start in range(0, len(train), window):
        part = train[start:start + window]
        lines.append(
            f"| {part[0]['step']}-{part[-1]['step']} | "
            f"{mean(r['reward_mean'] for r in part):.3f} | "
            f"{mean(r['accuracy'] for r in part):.1%} | "
            f"{mean(r['format_rate'] for r in part):.1%} | "
            f"{mean(r['kl'] for r in part):.4f} | {mean(r['clip_fraction'] for r in part):.3f} | "
            f"{mean(r['completion_length'] for r in part):.0f} |")
    parts = ("rollout", "scoring", "reference", "loss", "update")
    total = sum(r["seconds"] for r in train)
    split = ", ".join(f"{p} {sum(r['seconds_' + p] for r in train) / total:.0%}" for p in parts)
    lines += ["", f"Wall time per step {total / len(train):.1f} s: {split}."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sft_runs", nargs="*", metavar="SFT_RUN",
                        help="SFT run folders (alignment and option stages too)")
    parser.add_argument("grpo", metavar="GRPO_RUN", help="the GRPO run folder")
    args = parser.parse_args()
    sft_runs, grpo = args.sft_runs, args.grpo
    lines = []
    for run in sft_runs:
        lines += sft_tables(run) + [""]
    print("\n".join(lines + grpo_tables(grpo)))


if __name__ == "__main__":
    main()
