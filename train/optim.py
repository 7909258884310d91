"""AdamW with linear warmup then cosine decay to a floor: the schedule both stages use."""

from __future__ import annotations

import math


def lr_factor(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate before optimizer step ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(parameters, lr: float, weight_decay: float, betas=(0.9, 0.999),
                    eps: float = 1e-8):
    """AdamW with no decay on biases and norm weights (1-D tensors), as is customary."""
    import torch

    decay, no_decay = [], []
    for param in parameters:
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def build_scheduler(optimizer, total_steps: int, warmup_steps: int, min_ratio: float = 0.0):
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, min_ratio)
    )
