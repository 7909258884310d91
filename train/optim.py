"""AdamW with linear warmup then cosine decay to a floor, and the clipped step that skips
non-finite gradients: how both stages update their weights."""

from __future__ import annotations

import math
import sys


def lr_factor(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate before optimizer step ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(model, lr: float, weight_decay: float, vision_lr_scale: float = 1.0,
                    betas=(0.9, 0.999), eps: float = 1e-8):
    """AdamW with no decay on biases and norm weights (1-D tensors), as is customary.

    The vision tower's groups run at ``lr * vision_lr_scale``: trained from scratch at the
    language model's rate, a tiny tower collapses to one constant feature.
    """
    import torch

    groups: dict[tuple[bool, bool], list] = {}
    for name, param in model.named_parameters():
        if param.requires_grad:
            key = (".visual." in f".{name}", param.ndim >= 2)
            groups.setdefault(key, []).append(param)
    return torch.optim.AdamW(
        [{"params": params, "lr": lr * (vision_lr_scale if vision else 1.0),
          "weight_decay": weight_decay if decays else 0.0}
         for (vision, decays), params in sorted(groups.items())],
        lr=lr, betas=betas, eps=eps)


def build_scheduler(optimizer, total_steps: int, warmup_steps: int, min_ratio: float = 0.0):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, min_ratio)
    )


def clipped_step(accelerator, model, optimizer, max_grad_norm: float) -> float:
    """Clip the gradients and step; return the gradient norm before clipping.

    A non-finite norm (an overflow in one bf16 micro-batch, say) skips the update, as a
    loss scaler would, so one bad batch cannot turn every weight into NaN; the row logged
    for the step shows it as ``grad_norm: null``. The norm is global, so every process of
    a distributed run skips the same steps.
    """
    norm = float(accelerator.clip_grad_norm_(model.parameters(), max_grad_norm))
    if math.isfinite(norm):
        optimizer.step()
    else:
        print(f"vtedge: warning: gradient norm is {norm}; update skipped", file=sys.stderr)
    optimizer.zero_grad(set_to_none=True)
    return norm
