"""GRPO: sample G answers per video question, reward the right and well-formed ones, and
push the policy toward the better-than-its-group answers (TRL's semantics, Video-Thinker's
settings). The loss is ``vtedge.kernels.grpo_loss`` (Triton on CUDA, torch elsewhere).

One step: rollout (G completions per prompt, sampled with temperature) -> scoring (core
rewards, weighted; optional T-GRPO bonus) -> reference (old and reference log-probs) ->
``iterations`` passes of loss + backward over micro-batches -> update (clip, AdamW).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

from vtedge.errors import DatasetError, ModelError

# Video-R1's T-GRPO constants: bonus alpha when p_ordered >= mu * p_shuffled.
TEMPORAL_ALPHA = 0.3
TEMPORAL_MU = 0.8


@dataclass
class GRPOConfig:
    """Settings of one GRPO run; ``None`` means the starting point's default."""

    data: str
    out: str
    model: str
    data_root: str | None = None
    tokenizer: str | None = None
    spec: str | None = None
    lr: float | None = None
    max_steps: int | None = None
    micro_batch: int | None = None
    warmup_ratio: float | None = None
    weight_decay: float | None = None
    max_grad_norm: float | None = None
    max_new_tokens: int | None = None
    save_every: int = 50
    limit: int | None = None
    num_generations: int | None = None
    prompts_per_step: int | None = None
    temperature: float | None = None
    top_p: float = 1.0
    beta: float | None = None
    eps_low: float = 0.2
    eps_high: float = 0.2
    loss_type: str = "grpo"
    scale_rewards: str = "group"
    iterations: int = 1
    accuracy_weight: float = 1.0
    format_weight: float = 1.0
    grounding_weight: float = 0.0
    temporal: bool = False
    kernel_backend: str = "auto"
    lora: bool = False
    lora_rank: int = 16
    lora_alpha: int = 32
    freeze_vision: bool = False
    vision_lr_scale: float = 1.0
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    cpu: bool = False
    quiet: bool = False
    val_data: str | None = None
    val_limit: int | None = None

    def resolved(self, preset: str | None) -> GRPOConfig:
        from vtedge.train.defaults import CHECKPOINT, GRPO_DEFAULTS, stage_defaults

        defaults = stage_defaults(GRPO_DEFAULTS, "preset" if preset else CHECKPOINT)
        values = {k: (getattr(self, k) if getattr(self, k) is not None else v)
                  for k, v in defaults.items()}
        return GRPOConfig(**{**self.__dict__, **values})


@dataclass
class GRPOResult:
    out: Path
    steps: int
    stopped: bool
    summary: dict = field(default_factory=dict)
    model: object = None


def reward_fields(records, times: int) -> dict:
    """Record fields as TRL passes them to reward functions: one value per completion."""
    fields: dict[str, list] = {"solution": [], "problem_type": [], "segments": [],
                               "problem": [], "options": []}
    for record in records:
        segments = [{"start": s.start, "end": s.end, "caption": s.caption}
                    for s in record.segments]
        for _ in range(times):
            fields["solution"].append(record.solution)
            fields["problem_type"].append(record.problem_type)
            fields["segments"].append(segments)
            fields["problem"].append(record.problem)
            fields["options"].append(list(record.options))
    return fields


def score(texts: list[str], fields: dict, config: GRPOConfig) -> dict[str, list[float]]:
    """Every reward the run uses, unweighted, per completion."""
    from vtedge.rewards import REWARDS

    scores = {name: REWARDS[name](texts, **fields) for name in ("accuracy", "format")}
    if config.grounding_weight:
        scores["grounding"] = REWARDS["grounding"](texts, **fields)
    return scores


def temporal_bonus(ordered: list[float], shuffled: list[float], group: int) -> list[float]:
    """T-GRPO: ``alpha`` for each correct ordered-frame answer of a prompt whose ordered
    accuracy is at least ``mu`` times its shuffled-frame accuracy (Video-R1)."""
    bonus = []
    for start in range(0, len(ordered), group):
        p = sum(ordered[start:start + group]) / group
        p_shuffled = sum(shuffled[start:start + group]) / group
        earned = p > 0 and p >= TEMPORAL_MU * p_shuffled
        bonus += [TEMPORAL_ALPHA * a if earned else 0.0 for a in ordered[start:start + group]]
    return bonus


def sequence_batch(examples, completions, rows: list[int], group: int, spec, ids, device,
                   dtype) -> tuple[dict, object, object]:
    """Prompt + completion for ``rows`` (row r belongs to example r // group): the model
    inputs, the completion ids and their mask."""
    import torch

    from vtedge.train.batch import prompt_batch, token_types

    batch = prompt_batch([examples[r // group] for r in rows], spec, ids["pad_token_id"],
                         ids["video_token_id"], device, dtype)
    completion_ids = completions.ids[rows].to(device)
    completion_mask = completions.mask[rows].to(device)
    batch["input_ids"] = torch.cat([batch["input_ids"], completion_ids], dim=1)
    batch["attention_mask"] = torch.cat([batch["attention_mask"], completion_mask], dim=1)
    batch["mm_token_type_ids"] = token_types(batch["input_ids"], ids["video_token_id"])
    return batch, completion_ids, completion_mask


def completion_logits(model, batch: dict, length: int):
    """Logits that predict each completion token: ``(B, L, V)``."""
    return model(**batch, logits_to_keep=length + 1).logits[:, :-1]


@dataclass
class RowBatch:
    """A micro-batch of completions and what scores them: the distinct prompts and each
    row's prompt (``owners``), or, where ``owners`` is None, the full sequences."""

    inputs: dict
    owners: object
    completion_ids: object
    completion_mask: object

    def logits(self, model):
        if self.owners is None:
            return completion_logits(model, self.inputs, self.completion_ids.shape[1])
        from vtedge.train.shared_prompt import shared_prompt_logits

        return shared_prompt_logits(model, self.inputs, self.owners, self.completion_ids,
                                    self.completion_mask)


def row_batch(examples, completions, rows: list[int], group: int, spec, ids, device, dtype,
              shared: bool) -> RowBatch:
    """``rows`` of the step's completions (row r continues example r // group), each prompt
    run once when ``shared`` (the model runs unwrapped); else the full sequences."""
    import torch

    from vtedge.train.batch import prompt_batch

    if not shared:
        inputs, completion_ids, completion_mask = sequence_batch(
            examples, completions, rows, group, spec, ids, device, dtype)
        return RowBatch(inputs, None, completion_ids, completion_mask)
    owner_of_row = [r // group for r in rows]
    distinct = sorted(set(owner_of_row))
    prompts = prompt_batch([examples[i] for i in distinct], spec, ids["pad_token_id"],
                           ids["video_token_id"], device, dtype)
    owners = torch.tensor([distinct.index(o) for o in owner_of_row], device=device)
    return RowBatch(prompts, owners, completions.ids[rows].to(device),
                    completions.mask[rows].to(device))


def train_grpo(config: GRPOConfig, on_step=None) -> GRPOResult:
    """Run (or resume) GRPO; ``on_step(step, row)`` may return True to stop as a signal does."""
    import torch

    from vtedge.kernels import grpo_loss
    from vtedge.progress import progress_bar
    from vtedge.train.batch import prepare_examples, prompt_batch
    from vtedge.train.lora import is_lora
    from vtedge.train.metrics_log import MetricsLog
    from vtedge.train.optim import build_optimizer, build_scheduler, clipped_step
    from vtedge.train.rollout import InProcessRollout
    from vtedge.train.run_dir import LAST, StopRequest, load_trainer_state
    from vtedge.train.sft import global_batch
    from vtedge.train.start import record_run, save, start_run
    from vtedge.train.tokenizer import special_token_ids
    from vtedge.train.validate import decode_completions

    started = start_run(config, model_arg=config.model)
    config = config.resolved(started.loaded.preset)
    session, loaded = started.session, started.loaded
    ids = special_token_ids(loaded.tokenizer)
    quiet = config.quiet or not session.is_main
    examples = prepare_examples(started.train_records, loaded.tokenizer, loaded.spec,
                                with_targets=False, progress=not quiet)
    n, group, prompts = len(examples), config.num_generations, config.prompts_per_step
    if group < 2:
        raise ModelError(f"GRPO needs at least 2 generations per prompt, got {group}")
    if prompts > n:
        raise DatasetError(f"{prompts} prompts per step exceed the {n} training records")
    if prompts % session.world:
        raise ModelError(f"prompts per step {prompts} must divide among {session.world} "
                         "processes")
    record_run(started, "grpo", config)
    total_steps = config.max_steps or max(1, n // prompts)
    warmup = int(config.warmup_ratio * total_steps)

    model = loaded.model
    reference = None
    if config.beta and not is_lora(model):
        reference = copy.deepcopy(model).eval().requires_grad_(False).to(session.device)
    model.train()
    optimizer = build_optimizer(model, config.lr, config.weight_decay,
                                config.vision_lr_scale)
    updates = config.iterations
    scheduler = build_scheduler(optimizer, total_steps * updates, warmup * updates)
    model, optimizer = session.accelerator.prepare(model, optimizer)
    shared = session.runs_unwrapped(model)
    start_step = 0
    if started.resume_from is not None:
        start_step = load_trainer_state(started.resume_from, optimizer, scheduler)["step"]
    log = MetricsLog(started.out, enabled=session.is_main)
    engine = InProcessRollout(session.unwrap(model), ids["eos_token_id"], ids["pad_token_id"])
    first_reward, last_row, stopped, done = None, {}, False, start_step

    def reference_logps(part: RowBatch):
        with torch.no_grad(), session.autocast():
            if reference is not None:
                return token_logps_of(reference, part, config)
            with session.unwrap(model).disable_adapter():  # LoRA: the adapter-free base
                return token_logps_of(model, part, config)

    with StopRequest() as stop, progress_bar("grpo", total_steps, disable=quiet) as advance:
        advance(start_step)
        for step in range(start_step, total_steps):
            timings = dict.fromkeys(("rollout", "scoring", "reference", "loss", "update"), 0.0)
            began = time.perf_counter()
            chosen = global_batch(step, prompts, n, config.seed)[session.rank::session.world]
            chunk = [examples[i] for i in chosen]
            batch = prompt_batch(chunk, loaded.spec, ids["pad_token_id"], ids["video_token_id"],
                                 session.device, session.pixel_dtype)
            engine.sync_weights(session.unwrap(model))
            sampling = {"max_new_tokens": config.max_new_tokens,
                        "temperature": config.temperature, "top_p": config.top_p}
            with session.autocast():
                completions = engine.generate(batch, group, **sampling)
                if config.temporal:
                    shuffled_batch = prompt_batch(
                        chunk, loaded.spec, ids["pad_token_id"], ids["video_token_id"],
                        session.device, session.pixel_dtype,
                        shuffle_frames_seed=config.seed * 100_003 + step)
                    shuffled = engine.generate(shuffled_batch, group, **sampling)
            timings["rollout"] = time.perf_counter() - began

            mark = time.perf_counter()
            texts = decode_completions(loaded.tokenizer, completions)
            fields = reward_fields([e.record for e in chunk], group)
            scores = score(texts, fields, config)
            rewards = [config.accuracy_weight * a + config.format_weight * f
                       for a, f in zip(scores["accuracy"], scores["format"], strict=True)]
            if "grounding" in scores:
                rewards = [r + config.grounding_weight * g
                           for r, g in zip(rewards, scores["grounding"], strict=True)]
            if config.temporal:
                shuffled_texts = decode_completions(loaded.tokenizer, shuffled)
                shuffled_accuracy = score(shuffled_texts, fields, config)["accuracy"]
                bonus = temporal_bonus(scores["accuracy"], shuffled_accuracy, group)
                rewards = [r + b for r, b in zip(rewards, bonus, strict=True)]
            reward_tensor = torch.tensor(rewards, dtype=torch.float32, device=session.device)
            advantages = batch_advantages(session, rewards, group, config.scale_rewards)
            group_stds = reward_tensor.view(-1, group).std(dim=1)
            # A group whose G rewards are all equal has zero advantages: no gradient.
            flat_groups = int((group_stds == 0).sum())
            timings["scoring"] = time.perf_counter() - mark

            rows = len(rewards)
            micro = max(1, config.micro_batch)
            chunks = [list(range(i, min(rows, i + micro))) for i in range(0, rows, micro)]
            total_tokens = float(completions.mask.sum())
            # dapo divides by the whole generation batch's tokens; DDP then averages the
            # processes' gradients, so each divides by that count over the processes (TRL).
            dapo_items = (session.sum([total_tokens])[0] / session.world
                          if config.loss_type == "dapo" else None)
            mark = time.perf_counter()
            inputs, old, ref = [], [], []
            for rows_chunk in chunks:
                part = row_batch(chunk, completions, rows_chunk, group, loaded.spec, ids,
                                 session.device, session.pixel_dtype, shared)
                inputs.append(part)
                if config.iterations > 1:
                    with torch.no_grad(), session.autocast():
                        old.append(token_logps_of(model, part, config))
                ref.append(reference_logps(part) if config.beta else None)
            timings["reference"] = time.perf_counter() - mark

            kl = clip = 0.0
            for iteration in range(config.iterations):
                for index, part in enumerate(inputs):
                    mark = time.perf_counter()
                    comp_mask = part.completion_mask
                    with session.no_sync(model, skip=index < len(inputs) - 1), \
                            session.autocast():
                        loss, metrics = grpo_loss(
                            part.logits(model), part.completion_ids, comp_mask,
                            advantages=advantages[chunks[index][0]:chunks[index][-1] + 1],
                            old_logps=old[index] if old else None, ref_logps=ref[index],
                            temperature=config.temperature, beta=config.beta,
                            eps_low=config.eps_low, eps_high=config.eps_high,
                            loss_type=config.loss_type, scale_rewards=config.scale_rewards,
                            num_items_in_batch=dapo_items, backend=config.kernel_backend)
                        session.accelerator.backward(
                            loss * micro_weight(config.loss_type, len(chunks[index]), rows,
                                                comp_mask, total_tokens,
                                                config.max_new_tokens))
                    timings["loss"] += time.perf_counter() - mark
                    if iteration == config.iterations - 1:
                        tokens = float(comp_mask.sum())
                        kl += float(metrics["kl"]) * tokens / max(1.0, total_tokens)
                        clip += float(metrics["clip_fraction"]) * tokens / max(1.0, total_tokens)
                mark = time.perf_counter()
                grad_norm = clipped_step(session.accelerator, model, optimizer,
                                         config.max_grad_norm)
                lr = scheduler.get_last_lr()[0]  # the rate this update used
                scheduler.step()  # once per optimizer step, as TRL's
                timings["update"] += time.perf_counter() - mark

            local = [sum(rewards), float(group_stds.sum()), sum(scores["accuracy"]),
                     sum(scores["format"]), float(sum(completions.lengths)),
                     float(sum(completions.truncated)), float(rows), kl, clip,
                     float(flat_groups)]
            totals = session.sum(local)
            count = totals[6]
            mean = totals[0] / count
            seconds = time.perf_counter() - began
            row = {"reward_mean": mean,
                   # TRL's: the mean over groups of each group's (Bessel) std.
                   "reward_std": totals[1] * group / count,
                   "accuracy": totals[2] / count, "format_rate": totals[3] / count,
                   "completion_length": totals[4] / count, "truncated": totals[5] / count,
                   "kl": totals[7] / session.world, "clip_fraction": totals[8] / session.world,
                   "frac_reward_zero_std": totals[9] * group / count,
                   "grad_norm": float(grad_norm), "lr": lr,
                   **{f"seconds_{k}": v for k, v in timings.items()}, "seconds": seconds,
                   "completions_per_s": count / seconds}
            if config.temporal:
                row["temporal_bonus_mean"] = sum(bonus) / len(bonus)
            if "grounding" in scores:
                row["grounding"] = sum(scores["grounding"]) / len(scores["grounding"])
            last_row = log.write(step + 1, "train", row)
            first_reward = mean if first_reward is None else first_reward
            advance(reward=mean)
            done = step + 1
            wants_stop = session.any(stop.requested or bool(on_step and on_step(done, last_row)))
            if done % config.save_every == 0 or done == total_steps or wants_stop:
                save(started, model, done, LAST, {"stage": "grpo", "reward_mean": mean},
                     optimizer, scheduler, {"step": done})
            if wants_stop:
                stopped = True
                break
    log.close()
    session.end()
    summary = {"first_reward_mean": first_reward, "last_reward_mean": last_row.get("reward_mean"),
               "last_accuracy": last_row.get("accuracy"),
               "last_format_rate": last_row.get("format_rate")}
    return GRPOResult(started.out, done, stopped, summary, session.unwrap(model))


def batch_advantages(session, rewards: list[float], group: int, scale_rewards: str):
    """This process's advantages. ``batch`` scaling divides by the std of the whole
    generation batch, every process's rewards, as TRL gathers them before normalizing."""
    import torch

    from vtedge.kernels.reference import group_advantages

    everyone = session.gather_floats(rewards) if scale_rewards == "batch" else rewards
    values = torch.tensor(everyone, dtype=torch.float32, device=session.device)
    advantages = group_advantages(values, group, scale_rewards)
    start = session.rank * len(rewards) if scale_rewards == "batch" else 0
    return advantages[start:start + len(rewards)]


def token_logps_of(model, part: RowBatch, config):
    from vtedge.kernels import token_logps

    return token_logps(part.logits(model), part.completion_ids, config.temperature,
                       backend=config.kernel_backend)


def micro_weight(loss_type: str, rows_in_chunk: int, rows: int, mask, total_tokens: float,
                 max_new_tokens: int):
    """Scale a micro-batch's loss so the micro-batches add up to the whole batch's loss."""
    if loss_type == "grpo":
        return rows_in_chunk / rows  # a mean over sequences
    if loss_type == "dr_grpo":
        # The loss divided by rows x this chunk's width; TRL's divides by rows x
        # max_completion_length, and completions are trimmed to the longest.
        return rows_in_chunk / rows * mask.shape[1] / max_new_tokens
    if loss_type == "bnpo":
        return float(mask.sum()) / max(1.0, total_tokens)  # token mean over the batch
    return 1.0  # dapo: already divided by the batch's token count
