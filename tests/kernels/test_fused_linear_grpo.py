"""Fused-linear GRPO: chunked hidden @ W^T -> loss against logits-then-loss (the reference)."""

import pytest
import torch

from vtedge.kernels import fused_linear_grpo_loss, group_advantages, grpo_loss_reference


def linear_batch(batch=4, seq_len=5, dim=16, vocab=67, seed=0, bias=True, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    out = dict(
        hidden=torch.randn(batch, seq_len, dim, generator=g),
        weight=torch.randn(vocab, dim, generator=g) * 0.5,
        bias=torch.randn(vocab, generator=g) if bias else None,
        ids=torch.randint(0, vocab, (batch, seq_len), generator=g),
        mask=torch.ones(batch, seq_len),
        rewards=torch.tensor([0.0, 1.0, 2.0, 0.5] * (batch // 4)),
    )
    out["mask"][1, 2:] = 0
    out["mask"][2] = 0
    with torch.no_grad():
        logits = out["hidden"] @ out["weight"].t()
        logps = torch.log_softmax(logits, -1).gather(-1, out["ids"][..., None])[..., 0]
    out["old"] = logps + torch.randn(batch, seq_len, generator=g) * 0.3
    out["ref"] = logps + torch.randn(batch, seq_len, generator=g) * 0.3
    return {k: (v.to(device) if v is not None else None) for k, v in out.items()}


def leaves(data):
    return [data[k].clone().requires_grad_() if data[k] is not None else None
            for k in ("hidden", "weight", "bias")]


def close(actual, expected, rtol=1e-5):
    scale = expected.detach().abs().max().clamp(min=1e-12)
    torch.testing.assert_close(actual.detach(), expected.detach(), rtol=rtol, atol=rtol * scale)


def logits_then_loss(data, **options):
    hidden, weight, bias = leaves(data)
    logits = hidden @ weight.t() + (bias if bias is not None else 0)
    advantages = group_advantages(data["rewards"], 2)
    loss, metrics = grpo_loss_reference(logits, data["ids"], data["mask"], advantages,
                                        **options)
    loss.backward()
    return loss, metrics, [t.grad if t is not None else None for t in (hidden, weight, bias)]


def fused(data, backend, chunk_size, **options):
    hidden, weight, bias = leaves(data)
    rename = {"old_logps": options.pop("old_logps", None),
              "ref_logps": options.pop("ref_logps", None)}
    loss, metrics = fused_linear_grpo_loss(
        hidden, weight, data["ids"], data["mask"], bias=bias, rewards=data["rewards"],
        group_size=2, chunk_size=chunk_size, backend=backend, **rename, **options)
    loss.backward()
    return loss, metrics, [t.grad if t is not None else None for t in (hidden, weight, bias)]


CASES = [
    ("triton", "grpo", True, 7, None),
    ("triton", "dapo", False, 3, None),
    ("triton", "dr_grpo", True, 64, 32),
    ("triton", "bnpo", False, 9, 50),
    ("torch", "bnpo", True, 6, None),
    ("torch", "grpo", False, 20, 32),
]


@pytest.mark.parametrize("backend,loss_type,bias,chunk,vocab_chunk", CASES)
def test_fused_linear_matches_logits_then_loss(backend, loss_type, bias, chunk, vocab_chunk):
    data = linear_batch(vocab=67 if bias else 130, seed=chunk, bias=bias)
    options = dict(old_logps=data["old"], ref_logps=data["ref"], beta=0.04,
                   loss_type=loss_type, temperature=0.8)
    expected = logits_then_loss(data, **{**options, "old_logps": data["old"],
                                         "ref_logps": data["ref"]})
    ours = fused(data, backend, chunk, vocab_chunk_size=vocab_chunk, **options)
    close(ours[0], expected[0])
    for got, want in zip(ours[2], expected[2], strict=True):
        if want is None:
            assert got is None
        else:
            close(got, want)
    for key in ("kl", "clip_fraction", "logps"):
        close(ours[1][key], expected[1][key])


def test_without_old_and_ref_and_beta_zero():
    data = linear_batch(seed=1)
    expected = logits_then_loss(data, beta=0.0)
    ours = fused(data, "triton", 5, beta=0.0)
    close(ours[0], expected[0])
    for got, want in zip(ours[2], expected[2], strict=True):
        close(got, want)
    assert ours[1]["kl"] == 0


def test_no_grad_gives_log_probs_for_old_policy_passes(monkeypatch):
    """Under no_grad the pass keeps no gradient buffers, even for leaves that want grads."""
    import vtedge.kernels.fused_linear_grpo as module

    def refuse(*args):
        raise AssertionError("gradient buffers built under no_grad")

    monkeypatch.setattr(module, "_GradBuffers", refuse)
    data = linear_batch(seed=2)
    hidden, weight, bias = leaves(data)
    with torch.no_grad():
        loss, metrics = fused_linear_grpo_loss(
            hidden, weight, data["ids"], data["mask"], bias=bias,
            rewards=data["rewards"], group_size=2, beta=0.0, chunk_size=8, backend="triton")
    logits = data["hidden"] @ data["weight"].t() + data["bias"]
    expected = torch.log_softmax(logits, -1).gather(-1, data["ids"][..., None])[..., 0]
    close(metrics["logps"], expected)
    assert loss.grad_fn is None


@pytest.mark.cuda
@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_cuda_fused_linear_matches(loss_type):
    data = linear_batch(batch=8, seq_len=37, dim=64, vocab=5003, seed=3, device="cuda")
    options = dict(old_logps=data["old"], ref_logps=data["ref"], loss_type=loss_type)
    expected = logits_then_loss(data, **options)
    ours = fused(data, "auto", 50, vocab_chunk_size=2048, **options)
    close(ours[0], expected[0], rtol=1e-4)
    for got, want in zip(ours[2], expected[2], strict=True):
        close(got, want, rtol=1e-4)
