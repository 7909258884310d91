"""Shared builders for the kernel tests: small, seeded GRPO batches, and a guard that no
Triton kernel is reached."""

import importlib

import pytest
import torch


def make_grpo_batch(batch=4, seq_len=5, vocab=67, seed=0, dtype=torch.float32,
                    device="cpu"):
    """Logits, ids, a mask with a ragged and an empty row, rewards, old and ref log-probs.

    Old/ref log-probs are the policy's own log-probs plus noise large enough that some
    ratios leave the clip range, so clipping and both signs of advantage are exercised.
    """
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(batch, seq_len, vocab, generator=g) * 2).to(dtype)
    ids = torch.randint(0, vocab, (batch, seq_len), generator=g)
    mask = torch.ones(batch, seq_len, dtype=torch.int64)
    mask[0, seq_len // 2:] = 0
    mask[batch - 1] = 0
    rewards = torch.randint(0, 3, (batch,), generator=g).float()
    rewards[0] += 0.5
    own = torch.log_softmax(logits.float(), -1).gather(-1, ids[..., None])[..., 0]
    old = own + torch.randn(batch, seq_len, generator=g) * 0.3
    ref = own + torch.randn(batch, seq_len, generator=g) * 0.3
    return {k: v.to(device) for k, v in dict(
        logits=logits, ids=ids, mask=mask, rewards=rewards, old=old, ref=ref
    ).items()}


@pytest.fixture
def grpo_batch():
    return make_grpo_batch


@pytest.fixture
def no_kernel_launch(monkeypatch):
    """Any attempt to reach a Triton kernel module fails the test."""
    def refuse(name):
        raise AssertionError(f"kernel module {name} reached")

    for name in ("frame_tokenize", "token_logps", "fused_linear_grpo"):
        module = importlib.import_module(f"vtedge.kernels.{name}")
        monkeypatch.setattr(module, "triton_module", refuse)
