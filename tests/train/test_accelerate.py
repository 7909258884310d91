"""Two CPU processes under `accelerate launch` (gloo): a few SFT steps, both ranks holding
the same weights, and the same losses as one process (the loss is a token mean over the
global batch whatever the process count)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.train.conftest import sft_config

RANK_ABORT = "terminate called without an active exception"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_sft_agrees(synth_data, tmp_path):
    from vtedge.train.metrics_log import read_metrics
    from vtedge.train.sft import train_sft

    launcher = Path(sys.executable).with_name("accelerate")
    if not launcher.exists() and shutil.which("accelerate") is None:
        pytest.skip("accelerate's launcher is not installed")
    out = tmp_path / "ddp"
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    command = [str(launcher if launcher.exists() else "accelerate"), "launch", "--multi_gpu",
               "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
               "--dynamo_backend", "no", "--main_process_port", str(free_port()),
               "-m", "vtedge.cli", "train", "sft", "--cpu", "--data", str(synth_data),
               "--out", str(out), "--max-steps", "2", "--batch-size", "4",
               "--micro-batch", "1", "--save-every", "2", "--threads", "1", "--quiet"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and RANK_ABORT in done.stderr:
        # A gloo rank sometimes aborts this way (1 run in about 30 here, 2 cores; once on a
        # GPU host); unexplained, so one more try, and a second abort fails the test.
        shutil.rmtree(out, ignore_errors=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"stdout: {done.stdout[-500:]}\nstderr: {done.stderr[-3000:]}"
    assert done.stdout.count("sft: 2 steps") == 1  # only the main process reports
    rows = read_metrics(out)
    (ranks,) = [r for r in rows if r["split"] == "ranks"]
    assert ranks["agree"] and len(ranks["parameter_checksums"]) == 2

    single = train_sft(sft_config(synth_data, tmp_path / "one", max_steps=2, micro_batch=2))
    alone = [r["loss"] for r in read_metrics(single.out) if r["split"] == "train"]
    together = [r["loss"] for r in rows if r["split"] == "train"]
    assert together == pytest.approx(alone, rel=1e-5)


def test_a_model_sharded_in_place_is_not_run_by_its_parts(monkeypatch):
    """FSDP2 shards in place (unwrapping returns the same object), yet its forward hooks
    must run: the trainers' shared-prompt path, which calls the model's parts, is off."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import DistributedType

    from vtedge.train.session import Session

    session, model = Session(seed=0, cpu=True), torch.nn.Linear(2, 2)
    assert session.runs_unwrapped(model)
    monkeypatch.setattr(Accelerator, "distributed_type",
                        property(lambda self: DistributedType.FSDP))
    assert session.unwrap(model) is model and not session.runs_unwrapped(model)
