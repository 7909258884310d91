"""Kernel microbenchmarks: Triton vs. the torch references, measured in one run.

Per kernel and shape: time, achieved GB/s, that as a % of a device-to-device copy measured
in the same run, peak extra memory, and the speed ratio to the reference. On a machine
without a GPU it says so and times only the references, at the issue's shapes where they
fit and at reduced ones (named in the table) where they do not.

    python -m benchmarks.kernels [--quiet] [--out benchmarks/results/kernels-<device>.md]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from vtedge.kernels import (
    frame_tokenize,
    frame_tokenize_reference,
    fused_linear_grpo_loss,
    grpo_loss,
)
from vtedge.kernels.frame_tokenize import clip_table, tokenize_with_table
from vtedge.spec import get_spec

RESULTS = Path(__file__).resolve().parent / "results"
VOCAB = 151_936
HIDDEN = 3584  # Qwen2.5-VL-7B
GROUP = 8
SEQ_LEN = 512


@dataclass
class Row:
    kernel: str
    shape: str
    impl: str
    ms: float | None
    bytes_moved: float
    peak_mib: float | None
    note: str = ""


class Clock:
    """Median wall time of ``fn``: CUDA events after warmup on a GPU, perf_counter on CPU."""

    def __init__(self, device: torch.device, warmup: int, iters: int):
        self.device, self.warmup, self.iters = device, warmup, iters

    def __call__(self, fn) -> tuple[float, float | None]:
        """``(milliseconds, peak extra MiB or None on CPU)``."""
        cuda = self.device.type == "cuda"
        for _ in range(self.warmup):
            fn()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        times = []
        for _ in range(self.iters):
            if cuda:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if cuda else None
        return statistics.median(times), peak


def copy_bandwidth(clock: Clock, device: torch.device) -> float:
    """GB/s of ``empty_like(x).copy_(x)`` on 1 GiB (256 MiB on CPU): read + write bytes."""
    size = 2**30 if device.type == "cuda" else 2**28
    src = torch.empty(size, dtype=torch.uint8, device=device).random_(0, 255)
    dst = torch.empty_like(src)
    ms, _ = clock(lambda: dst.copy_(src))
    return 2 * size / ms / 1e6


def frame_rows(clock: Clock, device: torch.device, with_triton: bool) -> list[Row]:
    rows = []
    for frames_count in (16, 64):
        g = torch.Generator().manual_seed(frames_count)
        frames = torch.randint(0, 256, (frames_count, 448, 448, 3), dtype=torch.uint8,
                               generator=g).to(device)
        for dtype in (torch.float32, torch.bfloat16):
            rows += frame_case(clock, frames, dtype, with_triton)
    return rows


def frame_case(clock: Clock, frames: torch.Tensor, dtype, with_triton: bool) -> list[Row]:
    spec = get_spec("video-thinker")
    shape = f"{frames.shape[0]}x448x448 -> {str(dtype).removeprefix('torch.')}"
    moved = frames.numel() * (1 + dtype.itemsize)  # uint8 in, one element out per byte in
    impls = [("torch eager", lambda: frame_tokenize_reference(frames, spec, dtype))]
    if with_triton:
        table, windows, _ = clip_table([frames], spec)
        impls += [("triton", lambda: frame_tokenize(frames, spec, dtype, backend="triton")),
                  ("triton, table prebuilt",
                   lambda: tokenize_with_table(table, windows, spec, dtype))]
    rows = []
    for name, fn in impls:
        ms, peak = clock(fn)
        rows.append(Row("frame_tokenize", shape, name, ms, moved, peak))
    return rows


def measure(clock: Clock, kernel: str, shape: str, name: str, fn, moved: float,
            note: str) -> Row:
    """One timed case; running out of device memory is a result, not a crash."""
    try:
        ms, peak = clock(fn)
        return Row(kernel, shape, name, ms, moved, peak, note)
    except torch.OutOfMemoryError:
        return Row(kernel, shape, name, None, moved, None, "OOM")
    finally:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def batch_shape(tokens: int) -> tuple[int, int]:
    """``(sequences, length)``: groups of G completions of up to ``SEQ_LEN`` tokens."""
    batch = max(GROUP, tokens // SEQ_LEN // GROUP * GROUP)
    return batch, tokens // batch


def grpo_case(clock: Clock, device: torch.device, tokens: int, with_triton: bool,
              note: str) -> list[Row]:
    batch, seq_len = batch_shape(tokens)
    g = torch.Generator(device=device).manual_seed(tokens)
    logits = torch.randn(batch, seq_len, VOCAB, device=device, dtype=torch.bfloat16,
                         generator=g).requires_grad_()
    ids = torch.randint(0, VOCAB, (batch, seq_len), device=device, generator=g)
    mask = torch.ones(batch, seq_len, device=device)
    rewards = torch.rand(batch, device=device, generator=g)
    ref = torch.full((batch, seq_len), -12.0, device=device)
    shape = f"{tokens} tok x V={VOCAB} bf16"
    # fwd reads the logits once; bwd reads them and writes d(logits).
    moved = 3 * logits.numel() * logits.element_size()

    def step(backend, inplace=False):
        # autograd.grad, not backward(): in place, the logits become the returned gradient.
        loss, _ = grpo_loss(logits, ids, mask, rewards=rewards, group_size=GROUP,
                            ref_logps=ref, inplace_backward=inplace, check_finite=False,
                            backend=backend)
        torch.autograd.grad(loss, logits)

    impls = [("torch reference", lambda: step("torch"))]
    if with_triton:
        impls += [("triton", lambda: step("triton")),
                  ("triton in-place", lambda: step("triton", inplace=True))]
    return [measure(clock, "grpo_loss fwd+bwd", shape, name, fn, moved, note)
            for name, fn in impls]


def fused_linear_case(clock: Clock, device: torch.device, tokens: int, hidden_size: int,
                      with_triton: bool, note: str) -> list[Row]:
    """Fused-linear vs. materialized logits then the loss (gradients for hidden and W).

    bf16 on a GPU; fp32 on CPU, where bf16 matmuls take a slow path.
    """
    backend = "triton" if with_triton else "torch"
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    batch, seq_len = batch_shape(tokens)
    g = torch.Generator(device=device).manual_seed(tokens)
    hidden = torch.randn(batch, seq_len, hidden_size, device=device, dtype=dtype,
                         generator=g).requires_grad_()
    weight = (torch.randn(VOCAB, hidden_size, device=device, dtype=dtype,
                          generator=g) * 0.02).requires_grad_()
    ids = torch.randint(0, VOCAB, (batch, seq_len), device=device, generator=g)
    mask = torch.ones(batch, seq_len, device=device)
    rewards = torch.rand(batch, device=device, generator=g)
    shape = f"{tokens} tok x D={hidden_size} x V={VOCAB} {str(dtype).removeprefix('torch.')}"
    moved = 3 * tokens * VOCAB * dtype.itemsize  # the logits traffic of the unfused path

    def fused(vocab_chunk_size=None):
        loss, _ = fused_linear_grpo_loss(hidden, weight, ids, mask, rewards=rewards,
                                         group_size=GROUP, beta=0.0, check_finite=False,
                                         chunk_size=1024, vocab_chunk_size=vocab_chunk_size,
                                         backend=backend)
        torch.autograd.grad(loss, (hidden, weight))

    def logits_path():
        logits = hidden @ weight.t()
        loss, _ = grpo_loss(logits, ids, mask, rewards=rewards, group_size=GROUP, beta=0.0,
                            check_finite=False, inplace_backward=with_triton, backend=backend)
        torch.autograd.grad(loss, (hidden, weight))

    impls = [("logits then loss", logits_path), (f"fused-linear ({backend})", fused)]
    if with_triton:
        impls.append(("fused-linear, vocab slices of 16384", lambda: fused(16384)))
    return [measure(clock, "fused_linear_grpo fwd+bwd", shape, name, fn, moved, note)
            for name, fn in impls]


def render(rows: list[Row], copy_gbs: float, header: list[str]) -> str:
    """Markdown: header lines, then one table; ratios are to the first impl of each shape."""
    lines = [*header, "", f"Device-to-device copy in this run: {copy_gbs:.1f} GB/s.", "",
             "| kernel | shape | impl | time (ms) | GB/s | % of copy | peak extra (MiB) "
             "| speed vs. reference | note |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    # The first impl of a shape is its reference; where it failed (out of memory, say)
    # the others have nothing to be compared with.
    baseline: dict[tuple[str, str], float | None] = {}
    for row in rows:
        key = (row.kernel, row.shape)
        baseline.setdefault(key, row.ms)
        if row.ms is None:
            lines.append(f"| {row.kernel} | {row.shape} | {row.impl} | - | - | - | - | - "
                         f"| {row.note} |")
            continue
        gbs = row.bytes_moved / row.ms / 1e6
        peak = "n/a" if row.peak_mib is None else f"{row.peak_mib:.0f}"
        speed = "n/a" if baseline[key] is None else f"{baseline[key] / row.ms:.2f}x"
        lines.append(
            f"| {row.kernel} | {row.shape} | {row.impl} | {row.ms:.2f} | {gbs:.1f} "
            f"| {100 * gbs / copy_gbs:.0f}% | {peak} | {speed} | {row.note} |"
        )
    return "\n".join(lines) + "\n"


def device_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="markdown file to write the table to")
    parser.add_argument("--quiet", action="store_true", help="print only the table")
    args = parser.parse_args(argv)
    return run(args.out, args.quiet)


def run(out: Path | None = None, quiet: bool = False) -> int:
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")

    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    if cuda:
        name = torch.cuda.get_device_name()
        clock = Clock(device, warmup=3, iters=10)
        header = [f"# Kernel benchmarks on {name}", "",
                  f"torch {torch.__version__}; median of 10 after 3 warmup runs "
                  "(CUDA events). GB/s counts the bytes a kernel must move (read + write)."]
        grpo_tokens, fused_tokens, hidden_size, note = [8192, 32768], [8192, 32768], HIDDEN, ""
    else:
        name = f"{torch.get_num_threads()}-thread CPU"
        clock = Clock(device, warmup=1, iters=3)
        header = [f"# Kernel benchmarks on a {name}", "",
                  "No GPU is present: only the torch references are timed, so there is no "
                  "Triton column and no speed-up to report (GPU numbers: not measured).",
                  "Frame tokenization runs at the issue's shapes; GRPO is reduced from 8k/32k "
                  f"to 128/512 completion tokens (V={VOCAB} kept) and the fused-linear case to "
                  "D=256 in fp32, to fit a shared CPU. Peak memory is tracked only on CUDA. CPU "
                  "times depend on whatever else shares the machine."]
        grpo_tokens, fused_tokens, hidden_size, note = [128, 512], [512], 256, "reduced shape"
    say(f"vtedge bench kernels: {name}" + ("" if cuda else " (no GPU: references only)"))
    say("measuring device-to-device copy ...")
    copy_gbs = copy_bandwidth(clock, device)
    say("measuring frame tokenization ...")
    rows = frame_rows(clock, device, cuda)
    for tokens in grpo_tokens:
        say(f"measuring GRPO loss from logits, {tokens} tokens ...")
        rows += grpo_case(clock, device, tokens, cuda, note)
    for tokens in fused_tokens:
        say(f"measuring fused-linear GRPO, {tokens} tokens ...")
        rows += fused_linear_case(clock, device, tokens, hidden_size, cuda, note)
    table = render(rows, copy_gbs, header)
    print(table)
    out = out or RESULTS / f"kernels-{'cpu' if not cuda else device_slug(name)}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    say(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
