"""The default model's recipe as seeded stages: synthesize the suite, teach ``vt-tiny`` (or
another preset) to look (the caption alignment stage, shared by every seed), SFT then GRPO
it, export a bundle, evaluate it. Every stage runs the real ``vtedge`` CLI, logs the exact
command, and is skipped when its output already exists, so a stopped recipe picks up where
it was.

``benchmarks.default_model`` runs it once and installs the bundle in the package;
``benchmarks.reproduce`` runs it over several seeds and writes ``REPRODUCE.md``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# name: (synth split, records, seed, families, trace style flags); the data stay the same
# whatever the training seed. The caption sets are `describe` clips: a timed caption of
# every phase. Records None: the recipe's ``eval_records``. A record depends only on its
# seed and index, so a larger split starts with the smaller one. Train's `count` walks keep
# a running count instead of change notes: val rose from 79.7 to 86.7% over 3 seeds, most
# of it on `order` (benchmarks/results/training.md, sessions 19 and 20).
SPLITS = {
    "train": ("train", 2000, 0, None, ("--tally-counts",)),
    "val": ("val", None, 1, None, ()),
    "ood": ("ood", None, 2, None, ()),
    "captions": ("train", 2000, 3, "describe", ()),
    "captions-val": ("val", 64, 4, "describe", ()),
}
MODEL = "vt-tiny"  # the preset the default model is trained from
ALIGN_ARGS = ["--lr", "2e-3", "--max-steps", "600", "--batch-size", "32", "--micro-batch", "32",
              "--eval-every", "100", "--save-every", "50", "--vision-lr-scale", "0.1"]
# Train traces reach ~410 tokens (10 s clips); validation and rollouts must not cut them.
# 1,600 steps, not 800: the walk then names ~85% of the phase changes right, not ~55%
# (benchmarks/results/training.md, session 15). Validation generates, so it runs rarely.
SFT_ARGS = ["--lr", "2e-3", "--max-steps", "1600", "--batch-size", "16",
            "--micro-batch", "16", "--eval-every", "400", "--save-every", "50",
            "--val-generate", "40", "--vision-lr-scale", "0.1", "--max-new-tokens", "448"]
# Accuracy + format alone gave groups nothing to learn from at this scale; the grounding
# reward (IoU of the <time> spans) did (benchmarks/results/training.md, session 6). At lr
# 1e-4 GRPO lowered val accuracy on every seed; 3e-5 raised it on every seed (session 9).
GRPO_ARGS = ["--max-steps", "40", "--save-every", "10", "--max-new-tokens", "448",
             "--lr", "3e-5", "--warmup-ratio", "0.1", "--prompts-per-step", "8",
             "--grounding-weight", "1"]


@dataclass
class Recipe:
    """Where the recipe writes (``root``), how many torch threads each stage uses, the
    vision spec the model is aligned on (``None``: the preset's; every later stage
    inherits it from the checkpoint), how many records val and ood hold, and the model
    preset trained from scratch."""

    root: Path
    threads: int = 1
    spec: str | None = None
    eval_records: int = 100
    model: str = MODEL
    commands: list[str] = field(default_factory=list)

    def data(self, split: str) -> Path:
        return self.root / "data" / split / "records.jsonl"

    def run(self, done: bool, *args: str, restart: tuple[str, ...] = ()) -> None:
        """Run ``vtedge ARGS`` (plus ``restart``) unless ``done``; either way the command
        joins the log."""
        command = "vtedge " + shlex.join(args)
        self.commands.append(command)
        if done:
            return
        print(f"[{time.strftime('%H:%M:%S')}] {command}", flush=True)
        subprocess.run([sys.executable, "-m", "vtedge.cli", *args, *restart], check=True)

    def synthesize(self) -> None:
        for name, (split, n, seed, families, style) in SPLITS.items():
            n = n or self.eval_records
            self.run(self.data(name).exists(), "data", "synth", "--out",
                     str(self.data(name).parent), "--n", str(n), "--seed", str(seed),
                     "--split", split, *(["--families", families] if families else []),
                     *style, "--quiet")

    def align(self) -> Path:
        """The shared first stage: one tokenizer for every stage, then caption SFT from
        scratch, so the model reads the frames before it learns the traces."""
        tokenizer = self.root / "tokenizer"
        self.run((tokenizer / "tokenizer.json").exists(), "train", "tokenizer", "--data",
                 str(self.data("train")), "--data", str(self.data("captions")), "--out",
                 str(tokenizer))
        out = self.root / "runs" / "align"
        spec = ["--spec", self.spec] if self.spec else []
        self.run(self._finished(out, ALIGN_ARGS), "train", "sft", "--task", "caption",
                 "--model", self.model, *ALIGN_ARGS, *spec,
                 "--tokenizer", str(tokenizer), "--data", str(self.data("captions")),
                 "--val-data", str(self.data("captions-val")), "--out", str(out),
                 "--threads", str(self.threads), "--quiet", restart=self._restart(out))
        return out / "last"

    def sft(self, seed: int, init: Path) -> Path:
        out = self.root / "runs" / f"sft-s{seed}"
        self.run(self._finished(out, SFT_ARGS), "train", "sft", *SFT_ARGS, "--model",
                 str(init), "--data", str(self.data("train")), "--val-data",
                 str(self.data("val")),
                 "--out", str(out), "--seed", str(seed), "--threads", str(self.threads),
                 "--quiet", restart=self._restart(out))
        return out / "last"

    def grpo(self, seed: int, init: Path) -> Path:
        out = self.root / "runs" / f"grpo-s{seed}"
        self.run(self._finished(out, GRPO_ARGS), "train", "grpo", *GRPO_ARGS,
                 "--init", str(init), "--data", str(self.data("train")), "--out", str(out),
                 "--seed", str(seed), "--threads", str(self.threads), "--quiet",
                 restart=self._restart(out))
        return out / "last"

    def export(self, checkpoint: Path, name: str, int8: bool) -> Path:
        out = self.root / "bundles" / name
        self.run((out / "manifest.json").exists(), "export", "--model", str(checkpoint),
                 "--out", str(out), "--calib", str(self.data("val")),
                 *(["--int8"] if int8 else []), "--quiet")
        return out

    def evaluate(self, bundle: Path, split: str) -> dict:
        """Scores of ``bundle`` on ``split`` plus the mean completion length in tokens."""
        scores = self.root / "scores" / f"{bundle.name}-{split}.json"
        pred = self.predictions(bundle, split)
        self.run(scores.exists(), "eval", "--model", str(bundle), "--data",
                 str(self.data(split)), "--out", str(pred), "--json", str(scores))
        result = json.loads(scores.read_text(encoding="utf-8"))
        lengths = [json.loads(line)["timings"]["new_tokens"]
                   for line in pred.read_text(encoding="utf-8").split("\n") if line.strip()]
        result["completion_length"] = sum(lengths) / max(1, len(lengths))
        return result

    def predictions(self, bundle: Path, split: str) -> Path:
        """Where ``evaluate`` keeps the bundle's outputs on ``split``."""
        return self.root / "scores" / f"{bundle.name}-{split}.pred.jsonl"

    @staticmethod
    def _finished(out: Path, args: list[str]) -> bool:
        """Whether the run in ``out`` saved its ``--max-steps``-th step."""
        state = out / "last" / "vtedge.json"
        if not state.exists():
            return False
        steps = int(args[args.index("--max-steps") + 1])
        return json.loads(state.read_text(encoding="utf-8")).get("step", 0) >= steps

    @staticmethod
    def _restart(out: Path) -> tuple[str, ...]:
        """Resume a run that saved a checkpoint; otherwise start over in ``out``."""
        return ("--resume",) if (out / "last").exists() else ("--overwrite",)
