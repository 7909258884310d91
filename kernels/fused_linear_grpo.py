"""GRPO loss straight from the last hidden states and the ``lm_head`` weight.

Logits for all completion tokens would be ``tokens x 151,936`` values; here they exist one
chunk of tokens (optionally also one slice of the vocabulary) at a time. Each aggregation
is a per-token weight known from the mask (``grpo_objective.aggregation_weights``), so a
chunk's loss and its gradients for the hidden states, weight and bias are final as soon
as the chunk is done: forward computes them and backward only scales them. Peak memory is
one chunk of logits (overwritten by its own gradient) plus gradient buffers the size of
the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vtedge.kernels.dispatch import triton_module, use_triton
from vtedge.kernels.grpo_objective import (
    aggregation_weights,
    check_grpo_options,
    ensure_finite,
    metrics_from,
    per_token_objective,
)
from vtedge.kernels.token_logps import FLOAT_DTYPES, ID_DTYPES, check_ids_in_vocab


@dataclass
class Settings:
    """Non-tensor arguments of one fused-linear call; ``sink`` receives the metrics."""

    triton_path: bool
    needs_grad: bool
    chunk_size: int
    vocab_chunk_size: int
    temperature: float
    beta: float
    eps_low: float
    eps_high: float
    sink: dict


class FusedLinearGrpo(torch.autograd.Function):
    """Chunked logits -> log-probs -> loss, with gradients computed during forward."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, ids, token_weights, token_adv, old, ref, settings):
        rows, vocab = hidden.shape[0], weight.shape[0]
        slices = [(v, min(v + settings.vocab_chunk_size, vocab))
                  for v in range(0, vocab, settings.vocab_chunk_size)]
        logps = torch.empty(rows, dtype=torch.float32, device=hidden.device)
        kl = torch.zeros(rows, device=hidden.device) if ref is not None else None
        clipped = torch.zeros(rows, dtype=torch.bool, device=hidden.device)
        loss = torch.zeros((), dtype=torch.float32, device=hidden.device)
        grads = _GradBuffers(hidden, weight, bias) if settings.needs_grad else None
        for start in range(0, rows, settings.chunk_size):
            part = slice(start, min(start + settings.chunk_size, rows))
            h, chunk_ids = hidden[part], ids[part]
            chunk_logps, lse, logits = _chunk_logps(h, weight, bias, chunk_ids, slices, settings)
            with torch.enable_grad():
                leaf = chunk_logps.detach().requires_grad_()
                loss_t, kl_t, clipped_t = per_token_objective(
                    leaf, token_adv[part], None if old is None else old[part],
                    None if ref is None else ref[part], settings.beta, settings.eps_low,
                    settings.eps_high,
                )
                chunk_loss = (loss_t * token_weights[part]).sum()
                if grads is not None:
                    (grad_logps,) = torch.autograd.grad(chunk_loss, leaf)
            loss += chunk_loss.detach()
            logps[part] = chunk_logps
            clipped[part] = clipped_t
            if kl is not None:
                kl[part] = kl_t.detach()
            if grads is not None:
                grads.add_chunk(part, h, weight, bias, chunk_ids, slices, logits, lse,
                                grad_logps, settings)
        settings.sink.update(logps=logps, kl=kl, clipped=clipped)
        saved = (grads.hidden, grads.weight, grads.bias) if grads else (None, None, None)
        ctx.save_for_backward(*saved)
        ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        weight_dtype, bias_dtype = ctx.dtypes
        if grad_hidden is None:
            raise RuntimeError("fused_linear_grpo_loss ran without gradients being enabled")
        grad_hidden = grad_hidden * grad_loss.to(grad_hidden.dtype)
        grad_weight = (grad_weight * grad_loss).to(weight_dtype)
        if grad_bias is not None:
            grad_bias = (grad_bias * grad_loss).to(bias_dtype)
        return grad_hidden, grad_weight, grad_bias, None, None, None, None, None, None


class _GradBuffers:
    """Gradients for hidden, weight and bias, filled chunk by chunk.

    Weight and bias gradients accumulate in fp32 even for bf16 parameters.
    """

    def __init__(self, hidden, weight, bias):
        self.hidden = torch.zeros_like(hidden)
        self.weight = torch.zeros_like(weight, dtype=torch.float32)
        self.bias = None if bias is None else torch.zeros_like(bias, dtype=torch.float32)

    def add_chunk(self, part, h, weight, bias, ids, slices, logits, lse, grad_logps, settings):
        """``logits`` is the chunk's whole-vocabulary logits, or None to recompute slices."""
        grad_h = None
        for v0, v1 in slices:
            if logits is None:
                logits = _slice_logits(h, weight, bias, v0, v1)
            grad_logits = _slice_grad_logits(logits, ids - v0, lse, grad_logps, settings)
            logits = None
            product = grad_logits @ weight[v0:v1]
            grad_h = product if grad_h is None else grad_h.float().add_(product)
            if self.weight.dtype == grad_logits.dtype:
                self.weight[v0:v1].addmm_(grad_logits.t(), h)
            else:  # bf16/fp16 weights: one slice-sized product, summed in fp32
                self.weight[v0:v1] += grad_logits.t() @ h
            if self.bias is not None:
                self.bias[v0:v1] += grad_logits.sum(0, dtype=torch.float32)
        self.hidden[part] = grad_h


def _slice_logits(h, weight, bias, v0, v1):
    if bias is None:
        return h @ weight[v0:v1].t()
    return torch.addmm(bias[v0:v1], h, weight[v0:v1].t())


def _chunk_logps(h, weight, bias, ids, slices, settings):
    """Log-probs and log-sum-exp of one token chunk, and its logits when unsliced.

    With several vocabulary slices, the slices' log-sum-exps combine with ``logaddexp``
    and each token's own logit comes from the slice that holds it.
    """
    if len(slices) == 1:
        logits = _slice_logits(h, weight, bias, 0, weight.shape[0])
        logps, lse = _slice_logps(logits, ids, settings)
        return logps, lse, logits
    lse = torch.full((h.shape[0],), -float("inf"), device=h.device)
    picked = torch.zeros(h.shape[0], device=h.device)
    for v0, v1 in slices:
        logits = _slice_logits(h, weight, bias, v0, v1)
        inside = (ids >= v0) & (ids < v1)
        local = (ids - v0).clamp(0, v1 - v0 - 1)
        slice_logps, slice_lse = _slice_logps(logits, local, settings)
        picked = torch.where(inside, slice_logps + slice_lse, picked)
        lse = torch.logaddexp(lse, slice_lse)
    return picked - lse, lse, None


def _slice_logps(logits, ids, settings):
    """``(n, Vs)`` logits and in-range ids -> fp32 log-probs and log-sum-exp over ``Vs``."""
    if not settings.triton_path:
        scaled = logits.float() / settings.temperature
        lse = torch.logsumexp(scaled, dim=-1)
        return scaled.gather(-1, ids.long()[:, None])[:, 0] - lse, lse
    kernels = triton_module("triton_logps")
    logps = torch.empty(1, logits.shape[0], dtype=torch.float32, device=logits.device)
    lse = torch.empty_like(logps)
    kernels.forward(logits[None], ids[None].contiguous(), logps, lse, 1.0 / settings.temperature)
    return logps[0], lse[0]


def _slice_grad_logits(logits, ids, lse, grad_logps, settings):
    """d(loss)/d(logits) of one slice given the full log-sum-exp; ids outside the slice
    (negative or past its end) contribute only the softmax term. Triton writes it over
    ``logits``."""
    if settings.triton_path:
        kernels = triton_module("triton_logps")
        kernels.backward(logits[None], ids[None].contiguous(), lse[None].contiguous(),
                         grad_logps.float().contiguous(), logits[None],
                         1.0 / settings.temperature)
        return logits
    scale = grad_logps.float() / settings.temperature
    grad = torch.exp(logits.float() / settings.temperature - lse[:, None])
    grad.mul_(-scale[:, None])
    inside = (ids >= 0) & (ids < logits.shape[1])
    rows = torch.arange(len(ids), device=grad.device)[inside]
    grad[rows, ids[inside].long()] += scale[inside]
    return grad.to(logits.dtype)


def fused_linear_grpo_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    completion_ids: torch.Tensor,
    completion_mask: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
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
    chunk_size: int = 1024,
    vocab_chunk_size: int | None = None,
    check_finite: bool = True,
    backend: str = "auto",
) -> tuple[torch.Tensor, dict]:
    """GRPO loss and metrics from hidden states ``(B, L, D)`` and ``lm_head`` ``(V, D)``.

    Same options and metrics as ``grpo_loss``; at most ``chunk_size`` tokens' logits exist
    at once, and with ``vocab_chunk_size`` only that many vocabulary columns of them (the
    logits are then computed twice, once for the log-sum-exp and once for the gradient).
    Both backends chunk; ``triton`` adds the fused log-prob kernels. Gradients reach
    ``hidden``, ``weight`` and ``bias``. ``check_finite`` reads hidden and weight once.
    """
    _check_linear_inputs(hidden, weight, bias, completion_ids, chunk_size)
    vocab = weight.shape[0]
    if vocab_chunk_size is None:
        vocab_chunk_size = vocab
    if not isinstance(vocab_chunk_size, int) or vocab_chunk_size < 1:
        raise ValueError(f"vocab_chunk_size must be a positive int, got {vocab_chunk_size!r}")
    batch, seq_len, dim = hidden.shape
    adv = check_grpo_options(
        batch, seq_len, hidden.device, completion_mask, rewards, group_size, advantages,
        old_logps, ref_logps, temperature, beta, eps_low, eps_high, loss_type, scale_rewards,
        num_items_in_batch,
    )
    if check_finite:
        ensure_finite("hidden", hidden)
        ensure_finite("weight", weight)
    triton_path = use_triton(backend, hidden.device)
    mask = completion_mask.float()
    token_weights = aggregation_weights(mask, loss_type, num_items_in_batch).reshape(-1)
    token_adv = adv[:, None].expand(batch, seq_len).reshape(-1)
    old = None if old_logps is None else old_logps.detach().float().reshape(-1)
    ref = None if ref_logps is None else ref_logps.detach().float().reshape(-1)
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (hidden, weight, bias)
    )
    sink: dict = {}
    settings = Settings(triton_path, needs_grad, chunk_size, min(vocab_chunk_size, vocab),
                        float(temperature), beta, eps_low, eps_high, sink)
    loss = FusedLinearGrpo.apply(
        hidden.reshape(batch * seq_len, dim), weight, bias,
        completion_ids.reshape(-1).contiguous(), token_weights, token_adv, old, ref, settings,
    )
    kl = None if sink["kl"] is None else sink["kl"].view(batch, seq_len)
    metrics = metrics_from(sink["logps"].view(batch, seq_len), adv, kl,
                           sink["clipped"].view(batch, seq_len), mask)
    return loss, metrics


def _check_linear_inputs(hidden, weight, bias, ids, chunk_size) -> None:
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3:
        raise ValueError("hidden must be a (B, L, D) tensor")
    if hidden.dtype not in FLOAT_DTYPES or weight.dtype != hidden.dtype:
        raise ValueError(
            f"hidden and weight must share one float dtype, got {hidden.dtype} and {weight.dtype}"
        )
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[2]:
        raise ValueError(
            f"weight must be (V, D) with D={hidden.shape[2]}, got {tuple(weight.shape)}"
        )
    if bias is not None and (tuple(bias.shape) != (weight.shape[0],) or bias.dtype != weight.dtype):
        raise ValueError(f"bias must be ({weight.shape[0]},) {weight.dtype}, got "
                         f"{bias.dtype} {tuple(bias.shape)}")
    if not isinstance(ids, torch.Tensor) or ids.dtype not in ID_DTYPES:
        raise ValueError("completion_ids must be an int64 or int32 tensor")
    if tuple(ids.shape) != tuple(hidden.shape[:2]):
        raise ValueError(f"completion_ids shape {tuple(ids.shape)} does not match hidden "
                         f"(B, L) {tuple(hidden.shape[:2])}")
    devices = {t.device for t in (hidden, weight, ids) if t is not None}
    if bias is not None:
        devices.add(bias.device)
    if len(devices) > 1:
        raise ValueError(f"hidden, weight, bias and ids must share a device, got {devices}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    check_ids_in_vocab(ids, weight.shape[0])
