"""Torch references for every kernel, written the plain eager way.

They define what the Triton kernels must compute, run wherever Triton does not (CPU, MPS),
and are what the benchmarks compare against. The GRPO pieces transcribe TRL's
``GRPOTrainer`` (advantages in ``_generate_and_score_completions``, the loss in
``_compute_loss``) so a run here can be compared with a TRL run.
"""

from __future__ import annotations

import torch

from vtedge.spec import VisionSpec

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
SCALE_REWARDS = ("group", "batch", "none")


def frame_tokenize_reference(
    frames: torch.Tensor, spec: VisionSpec, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """Eager torch: float conversion, rescale, normalize, view/permute/contiguous.

    Every step is one fp32 IEEE operation in the same order as ``vtedge.patchify``'s table,
    so the fp32 result is bit-identical to it.
    """
    t, h, w, c = frames.shape
    p, tp, m = spec.patch_size, spec.temporal_patch_size, spec.merge_size
    if t % tp:
        frames = torch.cat([frames, frames[-1:].expand(tp - t % tp, h, w, c)])
    gt, gh, gw = frames.shape[0] // tp, h // p, w // p
    scale = torch.tensor(1 / 255, dtype=torch.float32, device=frames.device)
    mean = torch.tensor(spec.image_mean, dtype=torch.float32, device=frames.device)
    std = torch.tensor(spec.image_std, dtype=torch.float32, device=frames.device)
    x = frames.permute(0, 3, 1, 2).to(torch.float32) * scale
    x = (x - mean.view(1, c, 1, 1)) / std.view(1, c, 1, 1)
    x = x.reshape(gt, tp, c, gh // m, m, p, gw // m, m, p).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return x.reshape(gt * gh * gw, c * tp * p * p).to(dtype).contiguous(), (gt, gh, gw)


def token_logps_reference(
    logits: torch.Tensor, completion_ids: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """``log_softmax(logits / temperature)`` gathered at the completion ids, in fp32.

    TRL's ``selective_log_softmax``; the upcast to fp32 matches what the kernel computes
    (TRL keeps bf16 logits in bf16 here, which only loses precision).
    """
    logits = logits.float() / temperature
    logps = torch.log_softmax(logits, dim=-1)
    return torch.gather(logps, dim=-1, index=completion_ids.long().unsqueeze(-1)).squeeze(-1)


def group_advantages(
    rewards: torch.Tensor, group_size: int, scale_rewards: str = "group"
) -> torch.Tensor:
    """TRL's advantages: reward minus its group's mean, over a std (Bessel) plus 1e-4.

    ``group`` divides by each group's std, ``batch`` by the std of the whole batch (the
    mean stays the group's), ``none`` does not divide.
    """
    if scale_rewards not in SCALE_REWARDS:
        raise ValueError(
            f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}, got {scale_rewards!r}"
        )
    rewards = rewards.float()
    mean_grouped = rewards.view(-1, group_size).mean(dim=1).repeat_interleave(group_size, dim=0)
    advantages = rewards - mean_grouped
    if scale_rewards == "group":
        std = rewards.view(-1, group_size).std(dim=1).repeat_interleave(group_size, dim=0)
    elif scale_rewards == "batch":
        std = rewards.std().expand_as(rewards)
    else:
        return advantages
    return advantages / (std + 1e-4)


def grpo_loss_reference(
    logits: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    advantages: torch.Tensor,
    old_logps: torch.Tensor | None = None,
    ref_logps: torch.Tensor | None = None,
    temperature: float = 1.0,
    beta: float = 0.04,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    loss_type: str = "grpo",
    num_items_in_batch: float | None = None,
) -> tuple[torch.Tensor, dict]:
    """The GRPO loss from logits, line by line as TRL's ``_compute_loss`` writes it.

    ``dr_grpo`` divides by ``B * L`` (TRL: ``max_completion_length``); ``dapo`` by
    ``num_items_in_batch`` (TRL passes the generation batch's token count), else by this
    batch's ``mask.sum()``. Returns the loss and TRL's logged metrics (``kl`` whenever
    reference log-probs are given, 0 otherwise).
    """
    if beta != 0.0 and ref_logps is None:  # TRL's rule, as check_grpo_options says it
        raise ValueError("beta != 0 needs ref_logps (the reference model's log-probs)")
    per_token_logps = token_logps_reference(logits, completion_ids, temperature)
    completion_mask = completion_mask.to(per_token_logps.dtype)
    if ref_logps is not None:
        per_token_kl = (
            torch.exp(ref_logps - per_token_logps) - (ref_logps - per_token_logps) - 1
        )
    old_per_token_logps = per_token_logps.detach() if old_logps is None else old_logps
    coef_1 = torch.exp(per_token_logps - old_per_token_logps)
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    per_token_loss1 = coef_1 * advantages.unsqueeze(1)
    per_token_loss2 = coef_2 * advantages.unsqueeze(1)
    per_token_loss = -torch.min(per_token_loss1, per_token_loss2)
    if beta != 0.0:
        per_token_loss = per_token_loss + beta * per_token_kl

    masked = per_token_loss * completion_mask
    if loss_type == "grpo":
        loss = (masked.sum(-1) / completion_mask.sum(-1).clamp(min=1.0)).mean()
    elif loss_type == "bnpo":
        loss = masked.sum() / completion_mask.sum().clamp(min=1.0)
    elif loss_type == "dr_grpo":
        loss = masked.sum() / (per_token_loss.size(0) * per_token_loss.size(1))
    elif loss_type == "dapo":
        normalizer = completion_mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = masked.sum() / torch.as_tensor(normalizer, dtype=masked.dtype).clamp(min=1.0)
    else:
        raise ValueError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, got {loss_type!r}")

    tokens = completion_mask.sum().clamp(min=1.0)
    is_low_clipped = (coef_1 < 1 - eps_low) & (advantages.unsqueeze(1) < 0)
    is_high_clipped = (coef_1 > 1 + eps_high) & (advantages.unsqueeze(1) > 0)
    is_region_clipped = is_low_clipped | is_high_clipped
    metrics = {
        "kl": ((per_token_kl * completion_mask).sum() / tokens).detach()
        if ref_logps is not None else torch.zeros((), device=logits.device),
        "clip_fraction": ((is_region_clipped * completion_mask).sum() / tokens).detach(),
        "advantage_mean": advantages.float().mean().detach(),
        "logps": per_token_logps.detach(),
    }
    return loss, metrics
