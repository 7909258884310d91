"""The GRPO objective on per-token log-probs, shared by the logits and fused-linear paths.

TRL's four aggregations are all linear in the per-token loss, so each becomes a per-token
weight fixed by the mask alone (``aggregation_weights``); the loss is ``sum(weight * loss)``.
That lets the fused-linear path finish a chunk of tokens, gradient included, without
seeing the rest of the batch. ``reference.grpo_loss_reference`` keeps TRL's own wording and
the tests hold the two equal.
"""

from __future__ import annotations

import torch

from vtedge.kernels.reference import LOSS_TYPES, SCALE_REWARDS, group_advantages


def per_token_objective(logps, advantages, old_logps, ref_logps, beta, eps_low, eps_high):
    """Per-token clipped surrogate (+ beta * k3 KL): ``(loss, kl or None, clipped)``.

    ``advantages`` is per token (broadcast from per sequence); ``old_logps`` None means the
    policy that sampled is this one (ratio 1, gradient kept), as in TRL.
    """
    old = logps.detach() if old_logps is None else old_logps
    ratio = torch.exp(logps - old)
    clipped_ratio = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    loss = -torch.min(ratio * advantages, clipped_ratio * advantages)
    kl = None
    if ref_logps is not None:
        log_ratio = ref_logps - logps
        kl = torch.exp(log_ratio) - log_ratio - 1
        if beta != 0.0:
            loss = loss + beta * kl
    low = (ratio < 1 - eps_low) & (advantages < 0)
    high = (ratio > 1 + eps_high) & (advantages > 0)
    clipped = low | high
    return loss, kl, clipped


def aggregation_weights(mask: torch.Tensor, loss_type: str, num_items_in_batch=None):
    """``(B, L)`` weights with ``loss = sum(weight * per_token_loss)`` for ``loss_type``."""
    batch, seq_len = mask.shape
    if loss_type == "grpo":
        return mask / (mask.sum(-1, keepdim=True).clamp(min=1.0) * batch)
    if loss_type == "bnpo":
        return mask / mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        return mask / (batch * seq_len)
    items = mask.sum() if num_items_in_batch is None else num_items_in_batch
    return mask / torch.as_tensor(items, dtype=mask.dtype, device=mask.device).clamp(min=1.0)


def check_grpo_options(
    batch, seq_len, device, completion_mask, rewards, group_size, advantages, old_logps,
    ref_logps, temperature, beta, eps_low, eps_high, loss_type, scale_rewards,
    num_items_in_batch,
) -> torch.Tensor:
    """Validate everything but the logits; return per-sequence advantages ``(B,)`` fp32.

    Raises ``ValueError`` with the offending name and shape before any kernel runs.
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, got {loss_type!r}")
    if scale_rewards not in SCALE_REWARDS:
        raise ValueError(
            f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}, got {scale_rewards!r}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if eps_low < 0 or eps_high < 0:
        raise ValueError(f"eps_low and eps_high must be >= 0, got {eps_low} and {eps_high}")
    if beta != 0.0 and ref_logps is None:
        raise ValueError(
            f"beta={beta} needs ref_logps (the KL term is against the reference policy); "
            "pass ref_logps or set beta=0"
        )
    if num_items_in_batch is not None and float(num_items_in_batch) <= 0:
        raise ValueError(f"num_items_in_batch must be positive, got {num_items_in_batch}")
    _check_tensor("completion_mask", completion_mask, (batch, seq_len), device,
                  (torch.bool, torch.int64, torch.int32, torch.uint8, torch.float32,
                   torch.bfloat16, torch.float16))
    for name, value in (("old_logps", old_logps), ("ref_logps", ref_logps)):
        if value is not None:
            _check_tensor(name, value, (batch, seq_len), device, FLOATS)
    if group_size is not None:
        if not isinstance(group_size, int) or group_size < 2:
            raise ValueError(f"group_size must be an int >= 2, got {group_size!r}")
        if batch % group_size:
            raise ValueError(
                f"batch of {batch} sequences is not divisible by group_size {group_size}"
            )
    if (rewards is None) == (advantages is None):
        raise ValueError("give exactly one of rewards (with group_size) or advantages")
    if advantages is not None:
        _check_tensor("advantages", advantages, (batch,), device, FLOATS)
        return advantages.detach().float()
    if group_size is None:
        raise ValueError("rewards need group_size (completions per prompt, G)")
    _check_tensor("rewards", rewards, (batch,), device, FLOATS)
    return group_advantages(rewards.detach(), group_size, scale_rewards)


FLOATS = (torch.float32, torch.bfloat16, torch.float16, torch.float64)


def _check_tensor(name, value, shape, device, dtypes) -> None:
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dtype not in dtypes:
        raise ValueError(f"{name} has dtype {value.dtype}, expected one of "
                         + ", ".join(str(d).removeprefix("torch.") for d in dtypes))
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} has shape {tuple(value.shape)}, expected {tuple(shape)}")
    if value.device != device:
        raise ValueError(f"{name} is on {value.device}, expected {device}")


def ensure_finite(name: str, value: torch.Tensor) -> None:
    """One ``aminmax`` pass (NaN propagates through it) and one host sync; no temporaries."""
    low, high = torch.aminmax(value)
    if not bool(torch.isfinite(low) & torch.isfinite(high)):
        raise ValueError(f"{name} contains NaN or infinite values")


def metrics_from(logps, advantages, kl, clipped, mask) -> dict:
    """TRL's logged quantities as detached scalars, plus the per-token log-probs."""
    tokens = mask.sum().clamp(min=1.0)
    zero = torch.zeros((), device=logps.device)
    return {
        "kl": ((kl * mask).sum() / tokens).detach() if kl is not None else zero,
        "clip_fraction": ((clipped * mask).sum() / tokens).detach(),
        "advantage_mean": advantages.mean().detach(),
        "advantages": advantages.detach(),
        "logps": logps.detach(),
    }
