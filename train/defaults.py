"""Default hyper-parameters per starting point: a preset carries its own; any checkpoint
directory gets Video-Thinker's published 7B settings (SFT lr 1e-5, 1 epoch, batch 16;
GRPO lr 5e-6, beta 0.04, weight decay 0.01, grad-norm clip 5, G 8)."""

from __future__ import annotations

CHECKPOINT = "checkpoint"

SFT_DEFAULTS: dict[str, dict] = {
    CHECKPOINT: {"lr": 1e-5, "epochs": 1.0, "batch_size": 16, "micro_batch": 1,
                 "warmup_ratio": 0.03, "weight_decay": 0.0, "max_grad_norm": 1.0,
                 "max_new_tokens": 1024},
    # From scratch, a few million parameters: a large rate and many passes over the suite;
    # 256 new tokens cover the synthetic suite's longest (`describe`) traces.
    "vt-tiny": {"lr": 2e-3, "epochs": 8.0, "batch_size": 16, "micro_batch": 16,
                "warmup_ratio": 0.05, "weight_decay": 0.01, "max_grad_norm": 1.0,
                "max_new_tokens": 256},
    "vt-small": {"lr": 1e-3, "epochs": 8.0, "batch_size": 16, "micro_batch": 8,
                 "warmup_ratio": 0.05, "weight_decay": 0.01, "max_grad_norm": 1.0,
                 "max_new_tokens": 256},
}

GRPO_DEFAULTS: dict[str, dict] = {
    CHECKPOINT: {"lr": 5e-6, "beta": 0.04, "weight_decay": 0.01, "max_grad_norm": 5.0,
                 "num_generations": 8, "prompts_per_step": 2, "micro_batch": 4,
                 "temperature": 1.0, "max_new_tokens": 1024, "warmup_ratio": 0.0},
    # vtedge-trained presets: a larger step than 7B's, but vt-tiny's greedy answers degrade
    # at 2e-4 and its format collapses at 1e-3 (benchmarks/results/training.md, session 5).
    "preset": {"lr": 5e-5, "beta": 0.04, "weight_decay": 0.01, "max_grad_norm": 5.0,
               "num_generations": 8, "prompts_per_step": 4, "micro_batch": 32,
               "temperature": 1.0, "max_new_tokens": 256, "warmup_ratio": 0.0},
}


def stage_defaults(table: dict[str, dict], key: str) -> dict:
    return dict(table.get(key, table[CHECKPOINT]))
