"""The optimizer step both trainers take: a non-finite gradient norm skips the update."""

import math

import pytest

torch = pytest.importorskip("torch")


def one_weight_step(grad: float):
    from accelerate import Accelerator

    from vtedge.train.optim import clipped_step

    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer.weight.grad = torch.full_like(layer.weight, grad)
    norm = clipped_step(Accelerator(cpu=True), layer, optimizer, max_grad_norm=10.0)
    return norm, float(layer.weight.detach()), layer.weight.grad


def test_finite_gradient_steps_and_clears_the_gradient():
    norm, weight, grad = one_weight_step(2.0)
    assert norm == pytest.approx(2.0)
    assert weight == pytest.approx(0.0)  # 1 - 0.5 * 2
    assert grad is None


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_gradient_skips_the_update(bad, capsys):
    norm, weight, grad = one_weight_step(bad)
    assert not math.isfinite(norm)
    assert weight == 1.0
    assert grad is None
    assert "update skipped" in capsys.readouterr().err
