"""How the GRPO trainer splits one step's loss into micro-batches and processes: the
parts must add up to TRL's loss over the whole generation batch for every loss type."""

from __future__ import annotations

import pytest
import torch

from vtedge.kernels import grpo_loss
from vtedge.kernels.reference import group_advantages
from vtedge.train.grpo import batch_advantages, micro_weight

ROWS, WIDTH, VOCAB, MAX_NEW_TOKENS = 4, 3, 11, 8
ADVANTAGES = torch.tensor([1.0, -2.0, 0.5, 3.0])


def batch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(ROWS, WIDTH, VOCAB, generator=g)
    ids = torch.randint(0, VOCAB, (ROWS, WIDTH), generator=g)
    mask = torch.tensor([[1, 1, 1], [1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.float32)
    return logits, ids, mask


def trl_loss(loss_type: str, mask: torch.Tensor) -> float:
    """TRL's aggregation of a per-token loss of -A (the ratio is 1 on the policy's first
    pass), written out by hand; completions are trimmed to WIDTH < MAX_NEW_TOKENS."""
    per_token = -ADVANTAGES[:, None] * mask
    if loss_type == "grpo":
        return float((per_token.sum(1) / mask.sum(1)).mean())
    if loss_type == "dr_grpo":
        return float(per_token.sum() / (ROWS * MAX_NEW_TOKENS))
    return float(per_token.sum() / mask.sum())  # bnpo and dapo, one process


@pytest.mark.parametrize("micro", [1, 2, 4])
@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
def test_micro_batches_add_up_to_trl_loss(loss_type, micro):
    logits, ids, mask = batch()
    total_tokens = float(mask.sum())
    loss = 0.0
    for start in range(0, ROWS, micro):
        rows = slice(start, start + micro)
        part, _ = grpo_loss(logits[rows], ids[rows], mask[rows], advantages=ADVANTAGES[rows],
                            beta=0.0, loss_type=loss_type, num_items_in_batch=total_tokens,
                            backend="torch")
        loss += float(part) * micro_weight(loss_type, micro, ROWS, mask[rows], total_tokens,
                                           MAX_NEW_TOKENS)
    assert loss == pytest.approx(trl_loss(loss_type, mask), rel=1e-6)


class TwoProcesses:
    """The second of two processes, whose peer scored ``peer``."""

    world, rank, device = 2, 1, "cpu"

    def __init__(self, peer: list[float]):
        self.peer = peer

    def gather_floats(self, values: list[float]) -> list[float]:
        return self.peer + list(values)


def test_batch_scaling_divides_by_the_std_of_every_process_rewards():
    peer, mine = [0.0, 2.0, 0.0, 2.0], [0.0, 0.1, 0.0, 0.1]
    everyone = group_advantages(torch.tensor(peer + mine), 2, "batch")
    ours = batch_advantages(TwoProcesses(peer), mine, 2, "batch")
    assert torch.allclose(ours, everyone[4:])
    local = group_advantages(torch.tensor(mine), 2, "batch")
    assert not torch.allclose(ours, local)  # the local std would inflate them ~16x
    grouped = batch_advantages(TwoProcesses(peer), mine, 2, "group")
    assert torch.allclose(grouped, group_advantages(torch.tensor(mine), 2, "group"))
