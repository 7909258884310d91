"""Per-token log-probs of completion ids, differentiable, without vocabulary-sized temporaries.

``token_logps`` is what the GRPO loss and the trainer's old/ref log-prob passes call: on
CUDA it runs the online log-sum-exp kernel and, in backward, writes d(logits) in one pass
(into the logits buffer itself with ``inplace_backward=True``); elsewhere it is the torch
reference, ``log_softmax`` + ``gather``.
"""

from __future__ import annotations

import torch

from vtedge.kernels.dispatch import triton_module, use_triton
from vtedge.kernels.reference import token_logps_reference


class TokenLogps(torch.autograd.Function):
    """Triton forward/backward of ``log_softmax(logits / T)[ids]``."""

    @staticmethod
    def forward(ctx, logits, ids, temperature, inplace_backward):
        kernels = triton_module("triton_logps")
        if logits.stride(-1) != 1:
            logits = logits.contiguous()
        ids = ids.contiguous()
        batch, seq_len, _ = logits.shape
        logps = torch.empty(batch, seq_len, dtype=torch.float32, device=logits.device)
        lse = torch.empty_like(logps)
        kernels.forward(logits, ids, logps, lse, 1.0 / temperature)
        ctx.save_for_backward(logits, ids, lse)
        ctx.temperature = temperature
        ctx.inplace_backward = inplace_backward
        return logps

    @staticmethod
    def backward(ctx, grad_logps):
        kernels = triton_module("triton_logps")
        logits, ids, lse = ctx.saved_tensors
        grad = grad_logps.float().contiguous()
        # In place, the logits become their own gradient: no second (B, L, V) tensor exists.
        # Not where elements share memory (an expanded view): rows would write over rows.
        inplace = ctx.inplace_backward and not overlapping(logits)
        out = logits if inplace else torch.empty_like(logits)
        kernels.backward(logits, ids, lse, grad, out, 1.0 / ctx.temperature)
        return out, None, None, None


def token_logps(
    logits: torch.Tensor, ids: torch.Tensor, temperature: float = 1.0, backend: str = "auto",
    inplace_backward: bool = False,
) -> torch.Tensor:
    """``(B, L, V)`` logits and ``(B, L)`` ids -> ``(B, L)`` fp32 log-probs of the ids.

    ``inplace_backward=True`` overwrites ``logits`` with its gradient during backward, so
    the logits must not be read after ``backward()`` (Triton path only).
    """
    check_logits_and_ids(logits, ids)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if not use_triton(backend, logits.device):
        return token_logps_reference(logits, ids, temperature)
    return TokenLogps.apply(logits, ids, float(temperature), bool(inplace_backward))


def overlapping(tensor: torch.Tensor) -> bool:
    """Whether two elements of a strided view share memory (a stride-0 or expanded dim)."""
    dims = sorted((stride, size) for stride, size in zip(tensor.stride(), tensor.shape,
                                                        strict=True) if size > 1)
    span = 1
    for stride, size in dims:
        if stride < span:
            return True
        span = stride * size
    return False


FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
ID_DTYPES = (torch.int64, torch.int32)


def check_logits_and_ids(logits, ids) -> None:
    """Shapes and dtypes, and ids inside the vocabulary (one B*L reduction and a sync)."""
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
        raise ValueError(f"logits must be a (B, L, V) tensor, got {_describe(logits)}")
    if logits.dtype not in FLOAT_DTYPES:
        raise ValueError(f"logits must be float32, bfloat16 or float16, got {logits.dtype}")
    if not isinstance(ids, torch.Tensor) or ids.dtype not in ID_DTYPES:
        raise ValueError(f"completion_ids must be an int64 or int32 tensor, got {_describe(ids)}")
    if tuple(ids.shape) != tuple(logits.shape[:2]):
        raise ValueError(
            f"completion_ids shape {tuple(ids.shape)} does not match logits (B, L) "
            f"{tuple(logits.shape[:2])}"
        )
    if ids.device != logits.device:
        raise ValueError(f"completion_ids on {ids.device} but logits on {logits.device}")
    check_ids_in_vocab(ids, logits.shape[-1])


def check_ids_in_vocab(ids, vocab: int) -> None:
    """An id outside the vocabulary would make a kernel read out of bounds."""
    if not ids.numel():
        return
    low, high = (int(v) for v in torch.aminmax(ids))
    if low < 0 or high >= vocab:
        raise ValueError(f"completion_ids must lie in [0, {vocab}), got values in [{low}, {high}]")


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} {tuple(value.shape)}"
    return type(value).__name__
