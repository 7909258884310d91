"""GRPO loss from logits: Triton kernels (interpreted on CPU) against the torch reference,
and the reference against an independent transcription of TRL's formulas."""

import numpy as np
import pytest
import torch

from vtedge.kernels import (
    group_advantages,
    grpo_loss,
    grpo_loss_reference,
    token_logps,
    token_logps_reference,
)

LOSS_TYPES = ["grpo", "bnpo", "dr_grpo", "dapo"]
# (old log-probs given, ref log-probs given, beta): TRL requires ref whenever beta != 0.
POLICIES = [(False, False, 0.0), (True, False, 0.0), (False, True, 0.04), (True, True, 0.04),
            (True, True, 0.0)]


def close(actual, expected, rtol=1e-5):
    """Within ``rtol`` relative, with an absolute floor at ``rtol`` of the largest entry."""
    scale = expected.detach().abs().max().clamp(min=1e-12)
    torch.testing.assert_close(actual.detach(), expected.detach(), rtol=rtol, atol=rtol * scale)


def run(batch, backend, inplace=False, **options):
    logits = batch["logits"].clone().requires_grad_()
    kwargs = dict(options)
    kwargs.setdefault("rewards", batch["rewards"])
    loss, metrics = grpo_loss(logits * 1.0 if inplace else logits, batch["ids"], batch["mask"],
                              backend=backend, inplace_backward=inplace, **kwargs)
    loss.backward()
    return loss, metrics, logits.grad


def compare(batch, **options):
    ours = run(batch, "triton", **options)
    ref = run(batch, "torch", **options)
    close(ours[0], ref[0])
    close(ours[2], ref[2])
    for key in ("kl", "clip_fraction", "logps"):  # advantages: one function serves both
        close(ours[1][key], ref[1][key])
    return ours, ref


@pytest.mark.parametrize("loss_type", LOSS_TYPES)
@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"old{p[0]:d}-ref{p[1]:d}-b{p[2]}")
def test_triton_matches_reference(grpo_batch, loss_type, policy):
    with_old, with_ref, beta = policy
    vocab = [37, 67, 130][(LOSS_TYPES.index(loss_type) + POLICIES.index(policy)) % 3]
    batch = grpo_batch(batch=4, seq_len=5, vocab=vocab, seed=POLICIES.index(policy))
    (loss, metrics, grad), _ = compare(
        batch, group_size=2, beta=beta, loss_type=loss_type,
        old_logps=batch["old"] if with_old else None,
        ref_logps=batch["ref"] if with_ref else None,
        temperature=0.7 if with_old else 1.0,
    )
    assert torch.isfinite(loss) and grad[batch["mask"] == 0].abs().max() == 0
    if with_old:
        assert 0 < metrics["clip_fraction"] < 1


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
@pytest.mark.parametrize("scale_rewards", ["group", "batch", "none"])
def test_group_of_eight(grpo_batch, loss_type, scale_rewards):
    batch = grpo_batch(batch=16, seq_len=3, vocab=37, seed=3)
    compare(batch, group_size=8, loss_type=loss_type, scale_rewards=scale_rewards,
            beta=0.04, ref_logps=batch["ref"], old_logps=batch["old"],
            num_items_in_batch=40 if loss_type == "dapo" else None)


def test_precomputed_advantages_and_bf16_logits(grpo_batch):
    batch = grpo_batch(batch=4, seq_len=4, vocab=67, seed=5, dtype=torch.bfloat16)
    advantages = torch.tensor([1.0, -0.5, 0.25, 2.0])
    ours = run(batch, "triton", rewards=None, advantages=advantages, beta=0.0,
               old_logps=batch["old"])
    ref = run(batch, "torch", rewards=None, advantages=advantages, beta=0.0,
              old_logps=batch["old"])
    close(ours[0], ref[0])
    close(ours[1]["logps"], ref[1]["logps"])
    assert ours[2].dtype == torch.bfloat16
    # Gradients are stored in bf16: the interpreter truncates, so allow one bf16 ulp.
    close(ours[2].float(), ref[2].float(), rtol=2**-7)


def test_inplace_backward_equals_out_of_place(grpo_batch):
    batch = grpo_batch(batch=4, seq_len=5, vocab=130, seed=6)
    options = dict(group_size=2, old_logps=batch["old"], ref_logps=batch["ref"])
    inplace = run(batch, "triton", inplace=True, **options)
    out_of_place = run(batch, "triton", **options)
    assert torch.equal(inplace[0], out_of_place[0])
    assert torch.equal(inplace[2], out_of_place[2])


def test_inplace_backward_writes_the_gradient_over_the_logits(grpo_batch):
    batch = grpo_batch(batch=2, seq_len=3, vocab=37, seed=7)
    leaf = batch["logits"].clone().requires_grad_()
    logits = leaf * 1.0
    loss, _ = grpo_loss(logits, batch["ids"], batch["mask"], rewards=batch["rewards"],
                        group_size=2, beta=0.0, inplace_backward=True, backend="triton")
    loss.backward()
    assert torch.equal(logits.detach(), leaf.grad)


def test_token_logps_on_a_strided_slice_with_temperature():
    g = torch.Generator().manual_seed(8)
    full = torch.randn(3, 6, 67, generator=g).requires_grad_()
    logits = full[:, :-1, :]  # the usual shift: positions predicting the next token
    ids = torch.randint(0, 67, (3, 5), generator=g)
    ours = token_logps(logits, ids, temperature=0.6, backend="triton")
    ref = token_logps_reference(logits, ids, temperature=0.6)
    close(ours, ref)
    weights = torch.randn(3, 5, generator=g)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), full)
    (grad_ref,) = torch.autograd.grad((ref * weights).sum(), full)
    close(grad_ours, grad_ref)


def test_token_logps_with_banned_tokens_filling_the_first_vocabulary_block():
    """-inf logits (tokens masked out) across a whole first block: the online softmax
    starts at a max of -inf and must not make -inf - -inf."""
    g = torch.Generator().manual_seed(9)
    leaf = torch.randn(2, 3, 100, generator=g)
    leaf[0, 0, :40] = -float("inf")  # the interpreter's blocks are 32 wide
    ids = torch.randint(40, 100, (2, 3), generator=g)
    logits = leaf.clone().requires_grad_()
    ours = token_logps(logits, ids, backend="triton")
    (grad_ours,) = torch.autograd.grad(ours.sum(), logits)
    reference = leaf.clone().requires_grad_()
    ref = token_logps_reference(reference, ids)
    (grad_ref,) = torch.autograd.grad(ref.sum(), reference)
    assert torch.isfinite(ours).all()
    close(ours, ref)
    close(grad_ours, grad_ref)


def test_inplace_backward_on_an_expanded_view_writes_no_row_over_another():
    g = torch.Generator().manual_seed(10)
    row = torch.randn(1, 4, 37, generator=g).requires_grad_()
    ids = torch.randint(0, 37, (3, 4), generator=g)
    weights = torch.randn(3, 4, generator=g)
    (ours,) = torch.autograd.grad(
        (token_logps(row.expand(3, 4, 37) * 1.0, ids, backend="triton") * weights).sum(), row)
    (inplace,) = torch.autograd.grad(
        (token_logps(row.expand(3, 4, 37), ids, backend="triton", inplace_backward=True)
         * weights).sum(), row)
    (ref,) = torch.autograd.grad(
        (token_logps_reference(row.expand(3, 4, 37), ids) * weights).sum(), row)
    close(ours, ref)
    close(inplace, ref)


def test_the_reference_refuses_a_kl_term_without_reference_log_probs():
    logits, ids = torch.randn(2, 3, 5), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="needs ref_logps"):
        grpo_loss_reference(logits, ids, torch.ones(2, 3), torch.zeros(2), beta=0.04)


def test_group_advantages_match_numpy():
    rewards = torch.tensor([1.0, 0.0, 2.0, 2.0, 0.5, 1.5])
    r = rewards.numpy().reshape(-1, 3)
    mean = r.mean(1, keepdims=True)
    group = ((r - mean) / (r.std(1, ddof=1, keepdims=True) + 1e-4)).ravel()
    batch = ((r - mean) / (rewards.numpy().std(ddof=1) + 1e-4)).ravel()
    np.testing.assert_allclose(group_advantages(rewards, 3, "group"), group, rtol=1e-6)
    np.testing.assert_allclose(group_advantages(rewards, 3, "batch"), batch, rtol=1e-6)
    np.testing.assert_allclose(group_advantages(rewards, 3, "none"), (r - mean).ravel())


def trl_transcription(logits, ids, mask, advantages, old, ref, temperature, beta, eps_low,
                      eps_high, loss_type, max_completion_length):
    """TRL ``GRPOTrainer._compute_loss`` written out again, independently of the package."""
    logits = logits / temperature
    per_token_logps = torch.stack([
        torch.log_softmax(row, dim=-1).gather(-1, row_ids[:, None]).squeeze(-1)
        for row, row_ids in zip(logits, ids, strict=True)
    ])
    per_token_kl = torch.exp(ref - per_token_logps) - (ref - per_token_logps) - 1
    old_per_token_logps = per_token_logps.detach() if old is None else old
    coef_1 = torch.exp(per_token_logps - old_per_token_logps)
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    per_token_loss1 = coef_1 * advantages.unsqueeze(1)
    per_token_loss2 = coef_2 * advantages.unsqueeze(1)
    per_token_loss = -torch.min(per_token_loss1, per_token_loss2) + beta * per_token_kl
    if loss_type == "grpo":
        return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    return (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_completion_length)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo"])
def test_reference_is_trl(grpo_batch, loss_type):
    batch = grpo_batch(batch=4, seq_len=5, vocab=37, seed=9)
    mask = batch["mask"].float()
    rewards = batch["rewards"]
    mean = rewards.view(-1, 2).mean(1).repeat_interleave(2)
    std = rewards.view(-1, 2).std(1).repeat_interleave(2)
    advantages = (rewards - mean) / (std + 1e-4)
    logits = batch["logits"].clone().requires_grad_()
    expected = trl_transcription(logits, batch["ids"], mask, advantages, batch["old"],
                                 batch["ref"], 0.9, 0.04, 0.2, 0.28, loss_type, 5)
    (expected_grad,) = torch.autograd.grad(expected, logits)
    for backend in ("torch", "triton"):
        loss, _ = grpo_loss(logits, batch["ids"], batch["mask"], rewards=rewards, group_size=2,
                            old_logps=batch["old"], ref_logps=batch["ref"], temperature=0.9,
                            eps_high=0.28, loss_type=loss_type, backend=backend)
        (grad,) = torch.autograd.grad(loss, logits)
        close(loss, expected)
        close(grad, expected_grad)


def test_reference_metrics_follow_trl(grpo_batch):
    batch = grpo_batch(batch=4, seq_len=5, vocab=37, seed=10)
    advantages = torch.tensor([1.0, -1.0, 0.5, -0.5])
    _, metrics = grpo_loss_reference(batch["logits"], batch["ids"], batch["mask"], advantages,
                                     batch["old"], batch["ref"])
    mask = batch["mask"].bool()
    log_probs = torch.log_softmax(batch["logits"].float(), -1)
    logps = log_probs.gather(-1, batch["ids"][..., None])[..., 0]
    close(metrics["logps"], logps)
    ratio = torch.exp(logps - batch["old"])
    a = advantages[:, None].expand_as(ratio)
    clipped = ((ratio < 0.8) & (a < 0)) | ((ratio > 1.2) & (a > 0))
    kl = torch.exp(batch["ref"] - logps) - (batch["ref"] - logps) - 1
    close(metrics["clip_fraction"], clipped[mask].float().mean())
    close(metrics["kl"], kl[mask].mean())


@pytest.mark.cuda
@pytest.mark.parametrize("loss_type", LOSS_TYPES)
def test_cuda_matches_reference(grpo_batch, loss_type):
    batch = grpo_batch(batch=8, seq_len=33, vocab=5003, seed=11, device="cuda")
    compare(batch, group_size=8, loss_type=loss_type, old_logps=batch["old"],
            ref_logps=batch["ref"], temperature=0.8)
    inplace = run(batch, "triton", inplace=True, group_size=8, ref_logps=batch["ref"])
    out_of_place = run(batch, "triton", group_size=8, ref_logps=batch["ref"])
    close(inplace[2], out_of_place[2], rtol=1e-6)
