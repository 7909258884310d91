"""Triton kernels for per-token log-probs over a large vocabulary, and their gradient.

Forward: each program streams ``ROWS`` tokens' logits in vocabulary blocks, keeping a
running max and sum of exponentials (online log-sum-exp), so no vocabulary-sized
intermediate exists; it writes each token's log-prob and its row's log-sum-exp. Backward:
one pass per row recomputes the softmax from the saved log-sum-exp and writes
``d logits = g * (onehot(id) - softmax) / temperature``, optionally over the logits
themselves. All arithmetic is fp32 whatever the logits' dtype.
"""

from __future__ import annotations

import triton
import triton.language as tl

from vtedge.kernels.dispatch import interpreting


@triton.jit
def _row_bases(ptr, rows, seq_len, stride_b, stride_l):
    b = (rows // seq_len).to(tl.int64)
    pos = (rows % seq_len).to(tl.int64)
    return ptr + b * stride_b + pos * stride_l


@triton.jit
def token_logps_forward_kernel(
    logits_ptr, ids_ptr, logps_ptr, lse_ptr,
    n_rows, seq_len, vocab, stride_b, stride_l, inv_temperature,
    ROWS: tl.constexpr, BLOCK_V: tl.constexpr,
):
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    live = rows < n_rows
    base = _row_bases(logits_ptr, rows, seq_len, stride_b, stride_l)
    running_max = tl.full((ROWS,), -float("inf"), tl.float32)
    running_sum = tl.zeros((ROWS,), tl.float32)
    for start in range(0, vocab, BLOCK_V):
        offs = start + tl.arange(0, BLOCK_V)
        inside = live[:, None] & (offs < vocab)[None, :]
        x = tl.load(base[:, None] + offs[None, :], mask=inside, other=-float("inf"))
        x = x.to(tl.float32) * inv_temperature
        new_max = tl.maximum(running_max, tl.max(x, axis=1))
        # Rows past the end, and rows whose values so far are all -inf (banned tokens),
        # have a max of -inf: shift them by 0 so -inf - -inf never makes a NaN.
        shift = tl.where(live & (new_max > -float("inf")), new_max, 0.0)
        running_sum = running_sum * tl.exp(running_max - shift) + tl.sum(
            tl.exp(x - shift[:, None]), axis=1
        )
        running_max = new_max
    lse = running_max + tl.log(tl.where(live, running_sum, 1.0))
    token = tl.load(ids_ptr + rows, mask=live, other=0).to(tl.int64)
    picked = tl.load(base + token, mask=live, other=0.0).to(tl.float32) * inv_temperature
    tl.store(logps_ptr + rows, picked - lse, mask=live)
    tl.store(lse_ptr + rows, lse, mask=live)


@triton.jit
def token_logps_backward_kernel(
    logits_ptr, ids_ptr, lse_ptr, grad_ptr, out_ptr,
    n_rows, seq_len, vocab, stride_b, stride_l, out_stride_b, out_stride_l, inv_temperature,
    ROWS: tl.constexpr, BLOCK_V: tl.constexpr,
):
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    live = rows < n_rows
    base = _row_bases(logits_ptr, rows, seq_len, stride_b, stride_l)
    out = _row_bases(out_ptr, rows, seq_len, out_stride_b, out_stride_l)
    scale = tl.load(grad_ptr + rows, mask=live, other=0.0).to(tl.float32) * inv_temperature
    lse = tl.load(lse_ptr + rows, mask=live, other=0.0)
    token = tl.load(ids_ptr + rows, mask=live, other=0).to(tl.int64)
    for start in range(0, vocab, BLOCK_V):
        offs = start + tl.arange(0, BLOCK_V)
        inside = live[:, None] & (offs < vocab)[None, :]
        x = tl.load(base[:, None] + offs[None, :], mask=inside, other=0.0).to(tl.float32)
        softmax = tl.exp(x * inv_temperature - lse[:, None])
        onehot = tl.where(offs[None, :] == token[:, None], 1.0, 0.0)
        tl.store(out[:, None] + offs[None, :], scale[:, None] * (onehot - softmax), mask=inside)


def block_config(n_rows: int, vocab: int) -> tuple[int, int, int]:
    """``(ROWS, BLOCK_V, num_warps)``.

    On a GPU one token per program and wide vocabulary blocks. The interpreter's cost is
    per operation, not per element, so it takes all rows in one program, and small vocabulary
    blocks make the tests cross several blocks and a ragged tail. Fixed rather than
    autotuned: the backward may run in place, where autotuning's repeated launches would
    corrupt the logits.
    """
    if interpreting():
        return triton.next_power_of_2(max(n_rows, 1)), 32, 1
    block = min(triton.next_power_of_2(vocab), 4096)
    return 1, block, 8 if block >= 2048 else 4


def forward(logits, ids, logps, lse, inv_temperature):
    """Fill ``logps`` and ``lse`` (both ``(B, L)`` fp32) from ``(B, L, V)`` logits."""
    batch, seq_len, vocab = logits.shape
    n_rows = batch * seq_len
    rows, block, warps = block_config(n_rows, vocab)
    token_logps_forward_kernel[(triton.cdiv(n_rows, rows),)](
        logits, ids, logps, lse, n_rows, seq_len, vocab, logits.stride(0), logits.stride(1),
        inv_temperature, ROWS=rows, BLOCK_V=block, num_warps=warps,
    )


def backward(logits, ids, lse, grad, out, inv_temperature):
    """Write d(logits) for ``grad`` = d(loss)/d(logps) into ``out`` (may be ``logits``)."""
    batch, seq_len, vocab = logits.shape
    n_rows = batch * seq_len
    rows, block, warps = block_config(n_rows, vocab)
    token_logps_backward_kernel[(triton.cdiv(n_rows, rows),)](
        logits, ids, lse, grad, out, n_rows, seq_len, vocab, logits.stride(0),
        logits.stride(1), out.stride(0), out.stride(1), inv_temperature,
        ROWS=rows, BLOCK_V=block, num_warps=warps,
    )
