"""The GRPO loss from completion logits: the function the trainer calls.

On CUDA tensors the per-token log-probs come from the online log-sum-exp kernel and the
backward writes d(logits) in one pass (in place with ``inplace_backward=True``); the
per-token surrogate, KL and aggregation are ``(B, L)``-sized torch ops on top. Elsewhere the
whole loss is the TRL transcription in ``reference.py``.
"""

from __future__ import annotations

import torch

from vtedge.kernels.dispatch import use_triton
from vtedge.kernels.grpo_objective import (
    aggregation_weights,
    check_grpo_options,
    ensure_finite,
    metrics_from,
    per_token_objective,
)
from vtedge.kernels.reference import grpo_loss_reference
from vtedge.kernels.token_logps import TokenLogps, check_logits_and_ids


def grpo_loss(
    logits: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    *,
    rewards: torch.Tensor | None = None,
    group_size: int | None = None,
    advantages: torch.Tensor | None = None,
    old_logps: torch.Tensor | None = None,
    ref_logps: torch.Tensor | None = None,
    temperature: float = 1.0,
    beta: float = 0.04,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    loss_type: str = "grpo",
    scale_rewards: str = "group",
    num_items_in_batch: float | None = None,
    inplace_backward: bool = False,
    check_finite: bool = True,
    backend: str = "auto",
) -> tuple[torch.Tensor, dict]:
    """Scalar GRPO loss and detached metrics from ``(B, L, V)`` completion logits.

    Give ``rewards`` ``(B,)`` with ``group_size`` G (advantages computed inside, TRL's
    ``scale_rewards``) or precomputed ``advantages`` ``(B,)``. ``beta != 0`` without
    ``ref_logps`` is a ``ValueError``, as TRL always has a reference when beta is set.
    ``dr_grpo`` divides by ``B * L`` (pad completions to the maximum length for TRL's
    ``max_completion_length``); ``dapo`` by ``num_items_in_batch``, else this batch's token
    count. ``check_finite`` costs one extra read of the logits (an ``aminmax``, no
    temporaries) and a host sync; turn it off once a run is known healthy.
    ``inplace_backward`` only affects the Triton path. Metrics: ``kl`` (0 without
    ``ref_logps``), ``clip_fraction``, ``advantage_mean``, ``advantages`` ``(B,)`` and
    ``logps`` ``(B, L)``, all detached fp32.
    """
    check_logits_and_ids(logits, completion_ids)
    batch, seq_len, _ = logits.shape
    adv = check_grpo_options(
        batch, seq_len, logits.device, completion_mask, rewards, group_size, advantages,
        old_logps, ref_logps, temperature, beta, eps_low, eps_high, loss_type, scale_rewards,
        num_items_in_batch,
    )
    if check_finite:
        ensure_finite("logits", logits)
    old = None if old_logps is None else old_logps.detach().float()
    ref = None if ref_logps is None else ref_logps.detach().float()
    if not use_triton(backend, logits.device):
        loss, metrics = grpo_loss_reference(
            logits, completion_ids, completion_mask, adv, old, ref, temperature, beta,
            eps_low, eps_high, loss_type, num_items_in_batch,
        )
        metrics["advantages"] = adv
        return loss, metrics
    logps = TokenLogps.apply(logits, completion_ids, float(temperature), bool(inplace_backward))
    mask = completion_mask.float()
    loss_t, kl, clipped = per_token_objective(
        logps, adv.unsqueeze(1), old, ref, beta, eps_low, eps_high
    )
    loss = (loss_t * aggregation_weights(mask, loss_type, num_items_in_batch)).sum()
    return loss, metrics_from(logps, adv, kl, clipped, mask)
