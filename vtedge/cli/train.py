"""``vtedge train``: supervised fine-tuning and GRPO on Qwen2.5-VL-family models."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vtedge.cli.ranges import (
    FRACTION,
    NON_NEGATIVE,
    NON_NEGATIVE_NUMBER,
    POSITIVE,
    POSITIVE_NUMBER,
    FiniteRange,
)
from vtedge.spec import PRESETS


@click.group("train")
def command() -> None:
    """Train a video reasoner: `sft` teaches the format, `grpo` teaches it to be right.

    \b
    Both run on one CPU or GPU, or many under `accelerate launch` (DDP; FSDP and
    DeepSpeed ZeRO-3 configs in configs/accelerate/). Run folders hold run.json,
    metrics.jsonl, last/ (resumable) and, for SFT, best/; checkpoints are plain
    transformers directories. Ctrl-C or SIGTERM stops a run after its current step
    and saves it (a second one stops at once); the command then exits 130.
    """


def common_options(function):
    """Options both stages take."""
    options = [
        click.option("--data", required=True, type=click.Path(),
                     help="Training records (Video-R1 / Video-Thinker JSON or JSONL)."),
        click.option("--out", required=True, type=click.Path(), help="Run directory."),
        click.option("--data-root", type=click.Path(),
                     help="Folder the records' paths resolve under (default: the data file's)."),
        click.option("--spec", "spec", type=click.Choice(sorted(PRESETS)),
                     help="Vision spec (default: the checkpoint's or the preset's)."),
        click.option("--lr", type=NON_NEGATIVE_NUMBER, help="Peak learning rate."),
        click.option("--max-steps", type=POSITIVE, help="Optimizer steps (overrides --epochs)."),
        click.option("--micro-batch", type=POSITIVE,
                     help="Sequences per forward pass per process."),
        click.option("--warmup-ratio", type=FRACTION, help="Fraction of steps spent warming up."),
        click.option("--weight-decay", type=NON_NEGATIVE_NUMBER, help="AdamW weight decay."),
        click.option("--max-grad-norm", type=POSITIVE_NUMBER, help="Gradient-norm clip."),
        click.option("--max-new-tokens", type=POSITIVE, help="Generation length limit."),
        click.option("--save-every", type=POSITIVE, default=50, show_default=True,
                     help="Steps between checkpoints (last/)."),
        click.option("--limit", type=POSITIVE, help="Use only the first N training records."),
        click.option("--lora", is_flag=True, help="Train LoRA adapters on the language model."),
        click.option("--lora-rank", type=POSITIVE, default=16, show_default=True,
                     help="Rank of each LoRA adapter."),
        click.option("--lora-alpha", type=POSITIVE, default=32, show_default=True,
                     help="LoRA scaling: an adapter's update is multiplied by alpha / rank."),
        click.option("--freeze-vision", is_flag=True, help="Keep the vision tower fixed."),
        click.option("--vision-lr-scale", type=NON_NEGATIVE_NUMBER, default=1.0, show_default=True,
                     help="The vision tower's learning rate as a fraction of --lr."),
        click.option("--seed", type=NON_NEGATIVE, default=0, show_default=True,
                     help="Seeds the record order, a preset's initial weights and sampling."),
        click.option("--threads", type=POSITIVE, help="CPU threads for torch (default: torch's)."),
        click.option("--cpu", is_flag=True, help="Train on the CPU even if a GPU is present."),
        click.option("--resume", is_flag=True, help="Continue the run in --out from last/."),
        click.option("--overwrite", is_flag=True, help="Delete the run in --out and start over."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def finish(line: str, result) -> None:
    """Print the run's summary. A run that a signal stopped early exits 130, as an
    interrupted command does, so a script or ``&&`` does not go on as if it had finished."""
    if result.stopped:
        line += f"; stopped early, resume with --resume (checkpoint {result.out / 'last'})"
    if is_main_process():
        click.echo(line)
    if result.stopped:
        sys.exit(130)


def prepare_torch(threads: int | None, quiet: bool) -> None:
    import torch
    from transformers.utils import logging

    if threads:
        torch.set_num_threads(threads)
    logging.disable_progress_bar()  # our own bar reports progress; theirs would interleave
    if quiet:
        logging.set_verbosity_error()


def is_main_process() -> bool:
    """Under ``accelerate launch`` every process runs the command; one reports."""
    import os

    return os.environ.get("RANK", "0") == "0"


def summarize(prefix: str, values: dict) -> str:
    parts = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()]
    return prefix + "  ".join(parts)


@command.command("sft")
@common_options
@click.option("--model", default="vt-tiny", show_default=True,
              help="Checkpoint directory or preset (vt-tiny, vt-small).")
@click.option("--task", type=click.Choice(["trace", "caption", "options"]), default="trace",
              show_default=True,
              help="trace: write the Video-Thinker trace and answer. caption: write the "
                   "records' timed segment captions (the alignment stage, first for a model "
                   "trained from scratch). options: copy the question's options back (an "
                   "optional stage between the two).")
@click.option("--tokenizer", type=click.Path(),
              help="Tokenizer directory for a preset (default: train one on --data's text).")
@click.option("--val-data", type=click.Path(), help="Validation records.")
@click.option("--val-limit", type=POSITIVE, help="Use only the first N validation records.")
@click.option("--val-generate", type=NON_NEGATIVE, default=64, show_default=True,
              help="Validation records answered by greedy generation (format rate, accuracy).")
@click.option("--eval-every", type=POSITIVE, default=50, show_default=True,
              help="Steps between validations.")
@click.option("--epochs", type=POSITIVE_NUMBER, help="Passes over the training records.")
@click.option("--batch-size", type=POSITIVE, help="Sequences per optimizer step, all processes.")
@click.option("--min-lr-ratio", type=FRACTION, default=0.1, show_default=True,
              help="Cosine floor as a fraction of the peak learning rate.")
@click.option("--reasoning-weight", type=POSITIVE_NUMBER, default=1.0,
              show_default=True,
              help="Loss weight of a trace's tokens outside <time> and <caption> (thoughts, "
                   "conclusion, answer) against 1 for those. The update follows the weighted "
                   "token mean; the logged loss stays the plain one.")
@click.option("--answer-weight", type=POSITIVE_NUMBER, default=1.0,
              show_default=True,
              help="Loss weight of a trace's <answer> element (its letter), in place of "
                   "--reasoning-weight there.")
def sft(threads, **options) -> None:
    """Supervised fine-tuning on reasoning traces (labels on the assistant turn only).

    \b
    Defaults: a preset carries its own (vt-tiny: lr 2e-3, batch 16, 8 epochs); a
    checkpoint directory gets Video-Thinker's 7B settings (lr 1e-5, 1 epoch, batch 16).
    A preset trained from scratch learns to look at the video first (--task caption on
    records with segments, e.g. the synth `describe` family), then the traces. --task
    options, between the two, trains copying the question's options back.
    \b
    Examples:
      vtedge data synth --out data/train --n 800 --split train
      vtedge data synth --out data/val --n 100 --seed 1 --split val
      vtedge data synth --out data/captions --n 800 --seed 3 --families describe
      vtedge train tokenizer --data data/train/records.jsonl \\
          --data data/captions/records.jsonl --out runs/tokenizer
      vtedge train sft --task caption --model vt-tiny --tokenizer runs/tokenizer \\
          --data data/captions/records.jsonl --out runs/captions
      vtedge train sft --model runs/captions/last --data data/train/records.jsonl \\
          --val-data data/val/records.jsonl --out runs/sft-tiny
      vtedge train sft --model /models/Qwen2.5-VL-7B-Instruct --data sft.jsonl \\
          --data-root /datasets --out runs/sft-7b --lora
      accelerate launch --num_processes 8 -m vtedge.cli train sft ...
    """
    from vtedge.train.sft import SFTConfig, train_sft

    prepare_torch(threads, options["quiet"])
    result = train_sft(SFTConfig(**options))
    line = f"sft: {result.steps} steps, last loss {result.last_loss:.4f}"
    if result.best:
        best = {k: result.best[k] for k in ("step", "accuracy", "format_rate", "loss")
                if k in result.best}
        line += "; " + summarize("best ", best) + f" -> {result.out / 'best'}"
    finish(line, result)


@command.command("grpo")
@common_options
@click.option("--init", "model", required=True,
              help="Checkpoint to start from (usually an SFT run's best/), or a preset.")
@click.option("--tokenizer", type=click.Path(), help="Tokenizer directory for a preset.")
@click.option("--num-generations", "-G", type=click.IntRange(2), help="Completions per prompt (G).")
@click.option("--prompts-per-step", type=POSITIVE, help="Prompts per step, all processes.")
@click.option("--temperature", type=POSITIVE_NUMBER, help="Sampling temperature of rollouts.")
@click.option("--top-p", type=FiniteRange(0, 1, min_open=True), default=1.0, show_default=True)
@click.option("--beta", type=NON_NEGATIVE_NUMBER, help="KL weight against the frozen reference.")
@click.option("--eps-low", type=NON_NEGATIVE_NUMBER, default=0.2, show_default=True)
@click.option("--eps-high", type=NON_NEGATIVE_NUMBER, default=0.2, show_default=True)
@click.option("--loss-type", type=click.Choice(["grpo", "bnpo", "dr_grpo", "dapo"]),
              default="grpo", show_default=True)
@click.option("--scale-rewards", type=click.Choice(["group", "batch", "none"]),
              default="group", show_default=True)
@click.option("--iterations", type=POSITIVE, default=1, show_default=True,
              help="Policy updates per rollout batch (old log-probs are kept).")
@click.option("--accuracy-weight", type=NON_NEGATIVE_NUMBER, default=1.0, show_default=True)
@click.option("--format-weight", type=NON_NEGATIVE_NUMBER, default=1.0, show_default=True)
@click.option("--grounding-weight", type=NON_NEGATIVE_NUMBER, default=0.0, show_default=True,
              help="Weight of the IoU reward of <time> spans (records need segments).")
@click.option("--temporal", is_flag=True,
              help="T-GRPO (Video-R1): bonus when ordered frames beat shuffled frames.")
@click.option("--kernel-backend", type=click.Choice(["auto", "triton", "torch"]),
              default="auto", show_default=True,
              help="GRPO loss implementation (auto: Triton on CUDA, torch elsewhere).")
def grpo(threads, **options) -> None:
    """Group Relative Policy Optimization with accuracy + format rewards.

    \b
    Defaults as published for checkpoints: beta 0.04, lr 5e-6, weight decay 0.01,
    grad-norm clip 5, G 8 (presets: lr 5e-5, 256 new tokens).
    \b
    Examples:
      vtedge train grpo --init runs/sft-tiny/best --data data/train/records.jsonl \\
          --out runs/grpo-tiny --max-steps 40
      vtedge train grpo --init runs/sft-7b/last --data rl.jsonl --data-root /datasets \\
          --out runs/grpo-7b --spec video-thinker --temporal
    """
    from vtedge.train.grpo import GRPOConfig, train_grpo

    prepare_torch(threads, options["quiet"])
    result = train_grpo(GRPOConfig(**options))
    line = summarize(f"grpo: {result.steps} steps; ", result.summary)
    finish(line, result)


@command.command("tokenizer")
@click.option("--data", "data", required=True, multiple=True, type=click.Path(),
              help="Records whose chats (traces, and captions where records have segments) "
                   "the tokenizer learns; repeat for several files.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder for tokenizer.json and its config.")
@click.option("--preset", default="vt-tiny", show_default=True,
              help="Model preset whose vocabulary size to learn.")
@click.option("--data-root", type=click.Path(),
              help="Folder the records' paths resolve under (default: each data file's).")
def tokenizer(data, out, preset, data_root) -> None:
    """Learn a preset's byte-level BPE once, over every stage's records.

    \b
    Stages that start from a preset (caption alignment, then traces) should share one
    tokenizer: pass this folder as --tokenizer. Without it, a preset run learns one from
    its own --data.
    \b
    Example:
      vtedge train tokenizer --data data/train/records.jsonl \\
          --data data/captions/records.jsonl --out runs/tokenizer
    """
    from vtedge.errors import ModelError
    from vtedge.train.models import tokenizer_corpus
    from vtedge.train.presets import get_model_preset
    from vtedge.train.start import load_dataset
    from vtedge.train.tokenizer import train_tokenizer

    if (Path(out) / "config.json").exists():  # a new tokenizer would unmatch its weights
        raise ModelError(f"{out}: holds a model checkpoint; give the tokenizer a folder of "
                         "its own")
    vocab_size = get_model_preset(preset).vocab_size
    records = [r for path in data for r in load_dataset(path, data_root)]
    trained = train_tokenizer(tokenizer_corpus(records), vocab_size)
    trained.save_pretrained(out)
    click.echo(f"tokenizer: {len(trained)} tokens learned from {len(records)} records -> {out}")
