"""Supervised fine-tuning: teach the model to write Video-Thinker traces and answers.

Token-level cross-entropy on the assistant turn only, averaged over every label token of
the global batch (the same number whatever the process count or micro-batch size), AdamW
with warmup + cosine, gradient accumulation and clipping, periodic validation (loss, and
format rate / accuracy of greedy answers on a held-out slice), atomic checkpoints.

``task="caption"`` is the alignment stage that comes first for a model trained from
scratch: the target is the record's timed segment captions under a bare request, so
nearly every uncertain label token is read off the frames. ``task="options"`` is an
optional stage after it: the target is the question's options copied back, the in-context
copy that naming a shuffled option's letter rests on. Both are validated by loss alone.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtedge.errors import DatasetError, ModelError


@dataclass
class SFTConfig:
    """Settings of one SFT run; ``None`` means the starting point's default
    (``train/defaults.py``: a preset's own, or the published 7B settings)."""

    data: str
    out: str
    model: str = "vt-tiny"
    task: str = "trace"
    val_data: str | None = None
    data_root: str | None = None
    tokenizer: str | None = None
    spec: str | None = None
    lr: float | None = None
    epochs: float | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    micro_batch: int | None = None
    warmup_ratio: float | None = None
    weight_decay: float | None = None
    max_grad_norm: float | None = None
    min_lr_ratio: float = 0.1
    eval_every: int = 50
    save_every: int = 50
    val_generate: int = 64
    max_new_tokens: int | None = None
    limit: int | None = None
    val_limit: int | None = None
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: int = 32
    freeze_vision: bool = False
    vision_lr_scale: float = 1.0
    reasoning_weight: float = 1.0
    answer_weight: float = 1.0
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    cpu: bool = False
    quiet: bool = False

    def resolved(self, preset: str | None) -> SFTConfig:
        from vtedge.train.defaults import CHECKPOINT, SFT_DEFAULTS, stage_defaults

        defaults = stage_defaults(SFT_DEFAULTS, preset or CHECKPOINT)
        values = {k: (getattr(self, k) if getattr(self, k) is not None else v)
                  for k, v in defaults.items()}
        return SFTConfig(**{**self.__dict__, **values})


@dataclass
class SFTResult:
    out: Path
    steps: int
    last_loss: float
    best: dict | None
    stopped: bool
    model: object = None  # the trained model (unwrapped; LoRA adapters not merged)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled record order of one epoch: a function of (seed, epoch) only, so a
    resumed run sees exactly the batches the uninterrupted run would have."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def global_batch(step: int, batch_size: int, n: int, seed: int) -> list[int]:
    per_epoch = n // batch_size
    epoch, k = divmod(step, per_epoch)
    return epoch_order(seed, epoch, n)[k * batch_size:(k + 1) * batch_size].tolist()


def check_targets(records, task: str) -> None:
    """Every record must carry what the task trains on: a trace, timed captions, or
    options."""
    from vtedge.train.batch import CAPTION, OPTIONS, TASKS

    if task not in TASKS:
        raise DatasetError(f"unknown SFT task {task!r}; choose one of {', '.join(TASKS)}")
    field, what = {CAPTION: ("segments", "timed 'segments'"),
                   OPTIONS: ("options", "'options'")}.get(task, ("process", "a 'process' trace"))
    missing = [r.where for r in records if not getattr(r, field)]
    if missing:
        raise DatasetError(f"{missing[0]}: SFT task {task!r} needs {what} in every record "
                           f"({len(missing)} lack them)")


def token_losses(logits, labels):
    """Next-token cross-entropy at each position (fp32), 0 off the labels; position ``i``
    scores the label at ``i + 1``."""
    import torch

    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    return torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]), shift_labels.reshape(-1),
        ignore_index=-100, reduction="none").view(shift_labels.shape)


def token_loss_sum(logits, labels):
    """Summed next-token cross-entropy over label positions (fp32)."""
    return token_losses(logits, labels).sum()


def train_sft(config: SFTConfig, on_step=None) -> SFTResult:
    """Run (or resume) SFT; ``on_step(step, row)`` may return True to stop as a signal does."""
    from vtedge.progress import progress_bar
    from vtedge.train.batch import TRACE, prepare_examples, sft_batch
    from vtedge.train.checkpoint import read_meta
    from vtedge.train.metrics_log import MetricsLog
    from vtedge.train.optim import build_optimizer, build_scheduler, clipped_step
    from vtedge.train.run_dir import LAST, StopRequest, load_trainer_state
    from vtedge.train.shared_prompt import shared_prefix_logits
    from vtedge.train.start import record_run, save, start_run
    from vtedge.train.tokenizer import special_token_ids
    from vtedge.train.validate import validate

    started = start_run(config, model_arg=config.model)
    config = config.resolved(started.loaded.preset)
    session, loaded = started.session, started.loaded
    ids = special_token_ids(loaded.tokenizer)
    quiet = config.quiet or not session.is_main
    # Trace validation scores answers even for records without a trace; the short stages
    # have nothing to score but their loss, so their validation records need targets too.
    check_targets(started.train_records + (started.val_records if config.task != TRACE
                                           else []), config.task)
    examples = prepare_examples(started.train_records, loaded.tokenizer, loaded.spec,
                                task=config.task, progress=not quiet,
                                reasoning_weight=config.reasoning_weight,
                                answer_weight=config.answer_weight)
    val_examples = prepare_examples(started.val_records, loaded.tokenizer, loaded.spec,
                                    task=config.task, progress=not quiet
                                    ) if started.val_records else []
    n = len(examples)
    if config.batch_size > n:
        raise DatasetError(f"batch size {config.batch_size} exceeds the {n} training records")
    if config.batch_size % session.world:
        raise ModelError(f"batch size {config.batch_size} must divide among "
                         f"{session.world} processes")
    record_run(started, "sft", config)
    per_epoch = n // config.batch_size
    total_steps = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))
    warmup = int(config.warmup_ratio * total_steps)

    model = loaded.model
    model.train()
    optimizer = build_optimizer(model, config.lr, config.weight_decay,
                                config.vision_lr_scale)
    scheduler = build_scheduler(optimizer, total_steps, warmup, config.min_lr_ratio)
    model, optimizer = session.accelerator.prepare(model, optimizer)
    start_step, best, last_loss = 0, None, float("nan")
    if started.resume_from is not None:
        progress = load_trainer_state(started.resume_from, optimizer, scheduler)
        start_step, best = progress["step"], progress.get("best")
        last_loss = read_meta(started.resume_from).get("loss", last_loss)
    log = MetricsLog(started.out, enabled=session.is_main)
    pad_id, video_id = ids["pad_token_id"], ids["video_token_id"]
    local_size = config.batch_size // session.world
    micro = max(1, min(config.micro_batch, local_size))
    shared = session.runs_unwrapped(model)

    def checkpoint(step: int, name: str = LAST) -> None:
        save(started, model, step, name, {"stage": "sft", "loss": last_loss},
             optimizer, scheduler, {"step": step, "best": best})

    stopped, done = False, start_step
    with StopRequest() as stop, progress_bar("sft", total_steps, disable=quiet) as advance:
        advance(start_step)
        for step in range(start_step, total_steps):
            began = time.perf_counter()
            chosen = global_batch(step, config.batch_size, n, config.seed)
            label_tokens = sum(len(examples[i].target_ids) for i in chosen)
            label_weight = sum(examples[i].label_weight for i in chosen)
            local = chosen[session.rank::session.world]
            loss_sum, seen_tokens = 0.0, 0
            chunks = [local[i:i + micro] for i in range(0, len(local), micro)]
            for index, chunk in enumerate(chunks):
                batch = sft_batch([examples[i] for i in chunk], loaded.spec, pad_id, video_id,
                                  session.device, session.pixel_dtype)
                labels = batch.pop("labels")
                weights = batch.pop("label_weights", None)
                with session.no_sync(model, skip=index < len(chunks) - 1), session.autocast():
                    logits, start = (shared_prefix_logits(model, batch) if shared
                                     else (model(**batch).logits, 0))
                    losses = token_losses(logits, labels[:, start:])
                    summed = losses.sum()
                    weighted = summed if weights is None else (
                        losses * weights[:, start + 1:]).sum()
                    # DDP averages gradients over processes; scale so the result is the
                    # (weighted) token mean over the whole global batch.
                    session.accelerator.backward(weighted * session.world / label_weight)
                loss_sum += float(summed.detach())
                seen_tokens += int(batch["attention_mask"].sum())
            grad_norm = clipped_step(session.accelerator, model, optimizer, config.max_grad_norm)
            lr = scheduler.get_last_lr()[0]  # the rate this step's update used
            scheduler.step()
            loss_total, tokens_total = session.sum([loss_sum, float(seen_tokens)])
            last_loss = loss_total / label_tokens
            seconds = time.perf_counter() - began
            row = log.write(step + 1, "train", {
                "loss": last_loss, "lr": lr,
                "grad_norm": float(grad_norm), "tokens": tokens_total,
                "tokens_per_s": tokens_total / seconds,
                "clips_per_s": config.batch_size / seconds, "seconds": seconds,
                "epoch": (step + 1) / per_epoch})
            advance(loss=last_loss)
            done = step + 1
            if val_examples and (done % config.eval_every == 0 or done == total_steps):
                scores = validate(session, model, loaded, val_examples, config)
                improved = False
                if scores is not None:
                    log.write(done, "val", scores)
                    # The GRPO reward of a greedy answer: accuracy + format, then the loss.
                    key = (scores.get("accuracy", 0.0) + scores.get("format_rate", 0.0),
                           -scores["loss"])
                    improved = best is None or key > tuple(best["key"])
                    if improved:
                        best = {"key": list(key), "step": done, **scores}
                if session.any(improved):
                    save(started, model, done, "best", {"stage": "sft", **(scores or {})})
            wants_stop = stop.requested or bool(on_step and on_step(done, row))
            if done % config.save_every == 0 or done == total_steps:
                checkpoint(done)
            if session.any(wants_stop):
                if done % config.save_every and done != total_steps:
                    checkpoint(done)
                stopped = True
                break
    if session.world > 1:
        sums = session.gather_floats([session.parameter_checksum(model)])
        agree = max(sums) - min(sums) <= 1e-9 * max(1.0, abs(sums[0]))
        log.write(done, "ranks", {"parameter_checksums": sums, "agree": agree})
    log.close()
    session.end()
    return SFTResult(started.out, done, last_loss, best, stopped, session.unwrap(model))
