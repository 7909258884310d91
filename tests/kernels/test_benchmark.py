"""The kernel benchmark's table and timing plumbing, on CPU at a tiny size."""

import pytest
import torch

from vtedge.cli.bench import load_benchmark
from vtedge.errors import MissingPathError


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("kernels")


def test_table_reports_bandwidth_share_and_ratio_to_the_reference(bench):
    rows = [bench.Row("k", "s", "torch eager", 4.0, 8e6, None),
            bench.Row("k", "s", "triton", 1.0, 8e6, 12.0),
            bench.Row("k", "s", "triton in-place", None, 8e6, None, "OOM")]
    table = bench.render(rows, copy_gbs=16.0, header=["# t"])
    lines = table.splitlines()
    assert "Device-to-device copy in this run: 16.0 GB/s." in table
    assert lines[-3].split("|")[4:9] == [" 4.00 ", " 2.0 ", " 12% ", " n/a ", " 1.00x "]
    assert lines[-2].split("|")[4:9] == [" 1.00 ", " 8.0 ", " 50% ", " 12 ", " 4.00x "]
    assert "OOM" in lines[-1]
    # A reference that failed leaves the others with no ratio, not one to themselves.
    failed = [bench.Row("k", "s", "torch eager", None, 8e6, None, "OOM"),
              bench.Row("k", "s", "triton", 1.0, 8e6, 12.0)]
    last = bench.render(failed, copy_gbs=16.0, header=["# t"]).splitlines()[-1]
    assert last.split("|")[8] == " n/a "


def test_frame_case_times_the_reference_on_cpu(bench):
    clock = bench.Clock(torch.device("cpu"), warmup=0, iters=1)
    frames = torch.zeros(2, 448, 448, 3, dtype=torch.uint8)
    (row,) = bench.frame_case(clock, frames, torch.float32, with_triton=False)
    assert row.impl == "torch eager" and row.ms > 0 and row.bytes_moved == frames.numel() * 5


def test_missing_benchmark_is_a_clear_error():
    with pytest.raises(MissingPathError, match="benchmarks/nope.py not found"):
        load_benchmark("nope")
