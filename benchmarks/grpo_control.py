"""Does GRPO raise the reward? Each run against its paired control: the same run at lr 0.

A GRPO step scores only a few prompts, so a run's own reward curve mixes learning with
which prompts came up. A run at lr 0 with the same seed and settings draws the same prompts
in the same order and samples from the unchanged policy, so step t's difference between a
run and the control is the reward the updates added on exactly those prompts.

    python -m benchmarks.grpo_control --pair runs/grpo-s0 runs/grpo-s0-lr0 \\
        --pair runs/grpo-s1 runs/grpo-s1-lr0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import write_results


def train_rows(run: Path) -> list[dict]:
    from vtedge.train.metrics_log import read_metrics

    return [row for row in read_metrics(run) if row["split"] == "train"]


def run_lr(run: Path) -> float:
    from vtedge.train.run_dir import RUN_FILE

    return json.loads((run / RUN_FILE).read_text())["settings"]["lr"]


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def paired(run: list[dict], control: list[dict], key: str) -> np.ndarray:
    """Step-by-step difference of ``key`` over the steps both runs reached."""
    steps = min(len(run), len(control))
    return np.array([run[i][key] - control[i][key] for i in range(steps)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", nargs=2, action="append", type=Path, required=True,
                        metavar=("RUN", "CONTROL"),
                        help="a GRPO run and its lr-0 control (repeat for several)")
    args = parser.parse_args()

    keys = ("reward_mean", "accuracy", "format_rate", "grounding")
    pooled: dict[str, list[np.ndarray]] = {key: [] for key in keys}
    table = []
    for run_dir, control_dir in args.pair:
        rows, control = train_rows(run_dir), train_rows(control_dir)
        steps = min(len(rows), len(control))
        differences = {key: paired(rows, control, key) for key in keys
                       if key in rows[0] and key in control[0]}
        for key, values in differences.items():
            pooled[key].append(values)
        reward = differences["reward_mean"]
        table.append([f"`{run_dir}`", f"{run_lr(run_dir):g}", steps,
                      f"{np.mean([r['reward_mean'] for r in control[:steps]]):.3f}",
                      f"{np.mean([r['reward_mean'] for r in rows[:steps]]):.3f}",
                      *cells(differences, reward[steps // 2:]),
                      f"{max(r['kl'] for r in rows[:steps]):.3f}"])
    if len(args.pair) > 1:
        merged = {key: np.concatenate(values) for key, values in pooled.items()
                  if len(values) == len(args.pair)}
        halves = np.concatenate([v[len(v) // 2:] for v in pooled["reward_mean"]])
        table.append(["all pairs, pooled", "", sum(len(v) for v in pooled["reward_mean"]),
                      "", "", *cells(merged, halves), ""])
    write_results(
        "grpo_control",
        "GRPO's reward against its paired lr-0 control",
        ["run", "peak lr", "steps", "control reward", "run reward",
         "reward minus control ± s.e.", "second half ± s.e.",
         "accuracy / format / grounding minus control ± s.e.", "max KL"],
        table,
        notes=[
            "Each run's control is the same run (seed, prompts, settings) at lr 0: "
            + "; ".join(f"`{run}` against `{control}`" for run, control in args.pair)
            + ". Differences are taken step by step over the steps both reached; s.e. is "
            "the standard error of the mean of those differences. Rewards are weighted "
            "sums; the parts are unweighted.",
        ],
        command="python -m benchmarks.grpo_control " + " ".join(sys.argv[1:]),
    )


def cells(differences: dict[str, np.ndarray], second_half: np.ndarray) -> list[str]:
    whole, half = mean_and_se(differences["reward_mean"]), mean_and_se(second_half)
    parts = [mean_and_se(differences[key]) for key in ("accuracy", "format_rate", "grounding")
             if key in differences]
    return [f"{whole[0]:+.3f} ± {whole[1]:.3f}", f"{half[0]:+.3f} ± {half[1]:.3f}",
            " / ".join(f"{mean:+.3f} ± {se:.3f}" for mean, se in parts)]


if __name__ == "__main__":
    main()
