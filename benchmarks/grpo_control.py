"""Does GRPO raise the reward? Each run against its paired control: the same run at lr 0.

A GRPO step scores only a few prompts, so a run's own reward curve mixes learning with
which prompts came up. A run at lr 0 with the same seed and settings draws the same prompts
in the same order and samples from the unchanged policy, so step t's difference between a
run and the control is the reward the updates added on exactly those prompts.

    python -m benchmarks.grpo_control --control runs/grpo-lr0 runs/grpo-lr1e-4 runs/grpo-lr2e-4
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from benchmarks.common import write_results


def train_rows(run: Path) -> list[dict]:
    from vtedge.train.metrics_log import read_metrics

    return [row for row in read_metrics(run) if row["split"] == "train"]


def run_lr(run: Path) -> float:
    import json

    return json.loads((run / "run.json").read_text())["settings"]["lr"]


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def paired(run: list[dict], control: list[dict], key: str) -> np.ndarray:
    """Step-by-step difference of ``key`` over the steps both runs reached."""
    steps = min(len(run), len(control))
    return np.array([run[i][key] - control[i][key] for i in range(steps)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", type=Path, required=True, help="the lr-0 run")
    parser.add_argument("runs", type=Path, nargs="+", help="GRPO runs to compare with it")
    args = parser.parse_args()

    control = train_rows(args.control)
    table = []
    for run_dir in [args.control, *args.runs]:
        rows = train_rows(run_dir)
        steps = min(len(rows), len(control))
        reward = np.array([r["reward_mean"] for r in rows[:steps]])
        cells = [f"`{run_dir}`", f"{run_lr(run_dir):g}", steps,
                 f"{reward.mean():.3f}"]
        if run_dir == args.control:
            cells += ["", "", "", ""]
        else:
            difference = paired(rows, control, "reward_mean")
            half = difference[steps // 2:]
            whole_mean, whole_se = mean_and_se(difference)
            half_mean, half_se = mean_and_se(half)
            accuracy = paired(rows, control, "accuracy").mean()
            format_rate = paired(rows, control, "format_rate").mean()
            cells += [f"{whole_mean:+.3f} ± {whole_se:.3f}", f"{half_mean:+.3f} ± {half_se:.3f}",
                      f"{accuracy:+.3f} / {format_rate:+.3f}",
                      f"{max(r['kl'] for r in rows[:steps]):.3f}"]
        table.append(cells)
    write_results(
        "grpo_control",
        "GRPO's reward against its paired lr-0 control",
        ["run", "peak lr", "steps", "mean reward", "minus control, all steps ± s.e.",
         "minus control, second half ± s.e.", "accuracy / format minus control", "max KL"],
        table,
        notes=[
            f"Control: `{args.control}` (same seed, prompts and settings, lr 0). Differences "
            "are taken step by step over the steps both runs reached; s.e. is the standard "
            "error of the mean of those differences.",
        ],
        command="python -m benchmarks.grpo_control " + " ".join(sys.argv[1:]),
    )


if __name__ == "__main__":
    main()
