"""``benchmarks/REPRODUCE.md``: the small-scale analogue of Video-Thinker's Table 1
(accuracy in domain and out of domain, per question family) and Table 3 (grounding) for
SFT only, SFT + GRPO, and the shipped INT8 bundle, over several training seeds.

Each checkpoint is scored through its fp32 ONNX export (which the export's parity gate
holds to the torch model's greedy answers) because onnxruntime decodes ~14x faster than
eager torch on a CPU; the shipped row is the INT8 bundle itself.

    python -m benchmarks.reproduce [--root build/recipe] [--seeds 0 1 2] [--threads 1]
        [--model vt-small --spec tiny-2fps --eval-records 300 --out benchmarks/results/X.md]
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean, stdev

from benchmarks.common import RESULTS, device_name, markdown_table
from benchmarks.default_model import SEED as SHIPPED_SEED
from benchmarks.recipe import MODEL, Recipe

SPLIT_NAMES = {"val": "in-domain val", "ood": "ood"}
OUT = RESULTS.parent / "REPRODUCE.md"
DEFAULT_ROOT = Path("build/recipe")


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def spread(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    """``mean ± std`` over seeds (std omitted for one seed)."""
    if len(values) == 1:
        return f"{scale * values[0]:.{digits}f}"
    return f"{scale * mean(values):.{digits}f} ± {scale * stdev(values):.{digits}f}"


def event_grounding(recipe: Recipe, bundle: Path, split: str) -> dict:
    """Grounding over the event families only: ``describe`` spans are whole phases, which
    a model that learned the layout hits without finding any event."""
    from vtedge.cli.eval import read_predictions
    from vtedge.datasets import load_records
    from vtedge.metrics import score

    records = [r for r in load_records(recipe.data(split)) if r.family != "describe"]
    predictions, _ = read_predictions(recipe.predictions(bundle, split))
    return score(predictions, records).to_dict()["grounding"]


def answer_prior(recipe: Recipe, split: str) -> float:
    """Accuracy of ignoring the video and answering each family's most common training
    letter (the most common overall for families training never asks): the bar that
    "above chance" has to clear when answers are not spread evenly over the letters."""
    from vtedge.datasets import load_records

    by_family: dict[str, Counter] = defaultdict(Counter)
    for record in load_records(recipe.data("train"), check_videos=False):
        by_family[record.family][record.answer] += 1
    overall = sum(by_family.values(), Counter())
    records = load_records(recipe.data(split), check_videos=False)
    return mean((by_family.get(r.family) or overall).most_common(1)[0][0] == r.answer
                for r in records)


def step_minutes(run: Path) -> float:
    """Minutes a training run spent in its steps (validation and saving excluded)."""
    from vtedge.train.metrics_log import read_metrics

    return sum(r["seconds"] for r in read_metrics(run) if r["split"] == "train") / 60


def reward_trend(run: Path, window: int = 10) -> tuple[float, float, float, float]:
    """GRPO's mean reward over its first and its last ``window`` steps, and the change
    over the run that a least-squares line through every step's reward gives, with its
    standard error: one step scores only a few prompts, so windows alone are noisy."""
    import numpy as np

    from vtedge.train.metrics_log import read_metrics

    rewards = np.array([r["reward_mean"] for r in read_metrics(run) if r["split"] == "train"])
    steps = np.arange(len(rewards), dtype=float)
    slope, intercept = np.polyfit(steps, rewards, 1)
    residual = rewards - (slope * steps + intercept)
    slope_se = np.sqrt(residual @ residual / (len(steps) - 2) / ((steps - steps.mean()) ** 2).sum())
    span = len(steps) - 1
    return (float(rewards[:window].mean()), float(rewards[-window:].mean()),
            float(slope * span), float(slope_se * span))


def scores_for(recipe: Recipe, bundle: Path) -> dict[str, dict]:
    result = {}
    for split in SPLIT_NAMES:
        scores = recipe.evaluate(bundle, split)
        scores["event_grounding"] = event_grounding(recipe, bundle, split)
        result[split] = scores
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--spec", help="Vision spec preset to align on (default: the model "
                        "preset's, tiny); e.g. tiny-2fps, with its own --root")
    parser.add_argument("--model", default=MODEL,
                        help="Model preset to train from scratch (default: %(default)s)")
    parser.add_argument("--eval-records", type=int, default=100,
                        help="Records in val and in ood (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=OUT, help="Where the tables go (default: "
                        "REPRODUCE.md, whose INT8 row is the bundle the package ships)")
    args = parser.parse_args()

    recipe = Recipe(args.root, args.threads, args.spec, eval_records=args.eval_records,
                    model=args.model)
    recipe.synthesize()
    aligned = recipe.align()
    rows: dict[str, list[dict]] = {"SFT": [], "SFT + GRPO": []}
    costs, rewards = [], []
    for seed in args.seeds:
        sft = recipe.sft(seed, aligned)
        grpo = recipe.grpo(seed, sft)
        costs.append([seed, f"{step_minutes(sft.parent):.1f}", f"{step_minutes(grpo.parent):.1f}"])
        rewards.append(reward_trend(grpo.parent))
        rows["SFT"].append(scores_for(recipe, recipe.export(sft, f"sft-s{seed}", False)))
        rows["SFT + GRPO"].append(
            scores_for(recipe, recipe.export(grpo, f"grpo-s{seed}", False)))
    shipped = recipe.export(recipe.grpo(SHIPPED_SEED, recipe.sft(SHIPPED_SEED, aligned)),
                            f"grpo-s{SHIPPED_SEED}-int8", True)
    ships = args.out.resolve() == OUT.resolve()
    rows[f"{'shipped ' if ships else ''}INT8 bundle (SFT + GRPO, seed {SHIPPED_SEED})"] = [
        scores_for(recipe, shipped)]
    commands = list(dict.fromkeys(recipe.commands))  # the INT8 row repeats seed 0's
    prior = {split: answer_prior(recipe, split) for split in SPLIT_NAMES}
    args.out.write_text(render(rows, args.seeds, commands, costs, rewards,
                               step_minutes(aligned.parent), prior, args.root, ships,
                               args.model),
                        encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))


def render(rows: dict[str, list[dict]], seeds: list[int], commands: list[str],
           costs: list[list], rewards: list[tuple[float, float, float, float]],
           align_minutes: float, prior: dict[str, float], root: Path, ships: bool,
           model: str) -> str:
    families = sorted({f for runs in rows.values() for run in runs
                       for f in run["ood"]["by_family"]})
    table1, table3, extra = [], [], []
    for name, runs in rows.items():
        n = f"{name} ({len(runs)} seeds)" if len(runs) > 1 else name
        acc = {s: [r[s]["accuracy"] for r in runs] for s in SPLIT_NAMES}
        per_family = []
        for family in families:
            values = [r["ood"]["by_family"][family]["accuracy"] for r in runs
                      if family in r["ood"]["by_family"]]
            per_family.append(spread(values) if values else "-")
        table1.append([n, spread(acc["val"]), spread(acc["ood"]), *per_family])
        for split, title in SPLIT_NAMES.items():
            g = [r[split]["grounding"] for r in runs]
            e = [r[split]["event_grounding"] for r in runs]
            table3.append([n, title, spread([x["miou"] for x in g], 1.0, 2),
                           spread([x["r@0.3"] for x in g]), spread([x["r@0.5"] for x in g]),
                           spread([x["miou"] for x in e], 1.0, 2),
                           spread([x["r@0.5"] for x in e])])
            extra.append([n, title, spread([r[split]["format_rate"] for r in runs]),
                          spread([r[split]["completion_length"] for r in runs], 1.0)])
    val_families = sorted({f for runs in rows.values() for run in runs
                           for f in run["val"]["by_family"]})
    table_val = [[name, *[spread([r["val"]["by_family"][f]["accuracy"] for r in runs])
                          for f in val_families]] for name, runs in rows.items()]
    gains = [g["ood"]["accuracy"] - s["ood"]["accuracy"]
             for s, g in zip(rows["SFT"], rows["SFT + GRPO"], strict=True)]
    ground_gains = [g["ood"]["event_grounding"]["miou"] - s["ood"]["event_grounding"]["miou"]
                    for s, g in zip(rows["SFT"], rows["SFT + GRPO"], strict=True)]
    per_seed = markdown_table(
        ["seed", "SFT val", "GRPO val", "SFT ood", "GRPO ood", "ood gain (points)",
         "GRPO reward, first → last 10 steps", "reward change, line fit ± s.e."],
        [[seed, pct(s["val"]["accuracy"]), pct(g["val"]["accuracy"]),
          pct(s["ood"]["accuracy"]), pct(g["ood"]["accuracy"]),
          f"{100 * gain:+.1f}", f"{trend[0]:.3f} → {trend[1]:.3f}",
          f"{trend[2]:+.3f} ± {trend[3]:.3f}"]
         for seed, s, g, gain, trend in zip(seeds, rows["SFT"], rows["SFT + GRPO"], gains,
                                            rewards, strict=True)])
    (shipped,) = list(rows.values())[-1]
    source = rows["SFT + GRPO"][seeds.index(SHIPPED_SEED)] if SHIPPED_SEED in seeds else None
    int8_line = "" if source is None else (
        f"The {'shipped ' if ships else ''}INT8 bundle against the fp32 export of the same "
        "checkpoint: "
        f"{100 * (shipped['val']['accuracy'] - source['val']['accuracy']):+.1f} points on "
        f"val, {100 * (shipped['ood']['accuracy'] - source['ood']['accuracy']):+.1f} on ood.")
    lines = [
        "# Reproducing Video-Thinker's claim on the synthetic suite",
        "",
        f"Written by `python -m benchmarks.reproduce`. Device: {device_name()}; "
        "every number comes from the stages listed under Commands. Values are mean ± std "
        "over training seeds "
        f"{', '.join(map(str, seeds))} (the data, and the caption-aligned `{model}` that "
        "every seed's trace SFT starts from, are the same for every seed); accuracy, "
        "format rate and recall in %."
        + ("" if ships else " The INT8 bundle here is not the one the package ships "
           "(`benchmarks/REPRODUCE.md`)."),
        "",
        "## Table 1 analogue: accuracy",
        "",
        "Chance is 25% with four options (`after` and `order` have three; `count` four or "
        "five, ood `count` up to six). A model that ignores the video and answers each "
        "family's most common "
        f"training letter scores {pct(prior['val'])}% on val and {pct(prior['ood'])}% on "
        "ood.",
        "",
        "Options come in a fixed order: colours in palette order (`state`, and ood's "
        "`state-after` and `who-state`), the three shapes (`after` and `order` ask which "
        "shape changed), numbers (`count`, `describe`). So the letter follows from the "
        "conclusion the trace reaches. Every trace first walks the clip phase by phase "
        "(`vtedge-synth/5`, README).",
        "",
        "Out-of-domain clips are longer (12 s; train and val clips last 6, 8 or 10 s), show "
        "colour/shape pairs training never shows, and add two-hop families (`state-after`, "
        "`who-state`) training never asks.",
        "",
        markdown_table(["model", "val", "ood", *[f"ood {f}" for f in families]], table1),
        "",
        "In-domain val per family:",
        "",
        markdown_table(["model", *val_families], table_val),
        "",
        "## Table 3 analogue: grounding",
        "",
        "mIoU and recall of predicted `<time>` spans against the gold segments, over all "
        "families (as `vtedge eval` prints it) and over the event families only "
        "(`describe`'s gold spans are the fixed phases).",
        "",
        markdown_table(["model", "split", "mIoU", "R@0.3", "R@0.5", "event mIoU",
                        "event R@0.5"], table3),
        "",
        "## Format and length",
        "",
        markdown_table(["model", "split", "format rate", "mean completion tokens"], extra),
        "",
        "## Does GRPO after SFT help out of domain?",
        "",
        "GRPO's reward is accuracy + format + the IoU of its `<time>` spans with the gold "
        "segments (`--grounding-weight 1`). A step samples only 8 prompts, so the reward's "
        "own trend is noisy; `benchmarks/results/grpo_control.md` measures it against a "
        "paired control, the same run at lr 0.",
        "",
        per_seed,
        "",
        f"ood accuracy gain of GRPO over SFT: {spread(gains)} points; event-grounding mIoU "
        f"gain on ood: {spread(ground_gains, 1.0, 2)}.",
        "",
        int8_line,
        "",
        "## Training cost",
        "",
        "Minutes spent in optimizer steps, from each run's `metrics.jsonl`. They depend on "
        "the run's torch threads and on how many runs shared the cores "
        "(`benchmarks/results/training.md` says how each run was made):",
        "",
        markdown_table(["seed", "SFT minutes", "GRPO minutes"], costs),
        "",
        f"The caption alignment stage every seed starts from: {align_minutes:.1f} minutes.",
        "",
        "## Commands",
        "",
        "Every stage of the recipe, in order. "
        + ("`make reproduce`" if root == DEFAULT_ROOT else "The script with these options")
        + f" skips a stage whose output exists in `{root}/` and still lists it, with this "
        "run's `--threads`, which "
        "may differ from the count the stage ran with (threads change the weights only by "
        "float rounding):",
        "",
        "```bash",
        *commands,
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
