"""Run directories: what a run writes, when it may write there, and how it resumes.

A run directory holds ``run.json`` (the command and its settings), ``metrics.jsonl``,
``last/`` (the latest complete checkpoint plus the trainer's resume state) and, for SFT,
``best/`` (the checkpoint with the best validation score). Checkpoints are written aside
and renamed into place, so a run killed at any moment leaves ``last/`` (or, killed between
the two renames of a replacement, ``last.old/``) complete and resumable.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from vtedge.errors import ModelError

RUN_FILE = "run.json"
LAST = "last"
BEST = "best"
STATE_TENSORS = "trainer_state.safetensors"
STATE_JSON = "trainer_state.json"


def is_run_dir(path: Path) -> bool:
    return (path / RUN_FILE).is_file() or (path / LAST).is_dir()


def check_run_dir(out: str | Path, resume: bool, overwrite: bool) -> None:
    """Check ``out`` before any work: refuse to clobber a run unless told how to treat it.
    Nothing is removed here: ``claim_run_dir`` does that once every input has been read."""
    out = Path(out)
    if resume and overwrite:
        raise ModelError("give either --resume or --overwrite, not both")
    if out.exists() and not out.is_dir():
        raise ModelError(f"{out}: exists and is not a directory")
    holds_run = out.is_dir() and is_run_dir(out)
    if resume:
        if not holds_run:
            raise ModelError(f"{out}: no run to resume (no {RUN_FILE})")
        if resume_checkpoint(out) is None:
            raise ModelError(f"{out}: holds no complete checkpoint to resume from")
    elif holds_run and not overwrite:
        raise ModelError(
            f"{out}: already holds a run; pass --resume to continue it or --overwrite "
            "to start over"
        )
    elif not holds_run and out.is_dir() and any(out.iterdir()):
        raise ModelError(f"{out}: exists, is not empty and is not a vtedge run directory")


def claim_run_dir(out: Path) -> None:
    """Empty the run ``--overwrite`` replaces (``check_run_dir`` allowed it) and create
    ``out``: late, so a bad input, or a model loaded from that run, loses nothing."""
    if out.is_dir() and is_run_dir(out):
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def write_run_file(out: Path, command: str, settings: dict) -> None:
    from vtedge import __version__

    record = {"command": command, "vtedge_version": __version__, "settings": settings}
    (out / RUN_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n")


def resume_checkpoint(out: str | Path) -> Path | None:
    """The newest complete checkpoint with resume state in a run directory."""
    out = Path(out)
    for name in (LAST, LAST + ".old"):
        folder = out / name
        if (folder / STATE_JSON).is_file() and (folder / STATE_TENSORS).is_file():
            return folder
    return None


def save_trainer_state(folder: Path, optimizer, scheduler, progress: dict) -> None:
    """Optimizer moments, schedule, RNG and the loop's position, without pickles:
    tensors in safetensors, everything else in JSON."""
    import torch
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = rng
    scalars: dict[str, dict] = {}
    for param_id, param_state in state["state"].items():
        for name, value in param_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{param_id}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    schedule = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    record = {"progress": progress, "param_groups": state["param_groups"],
              "optimizer_scalars": scalars, "scheduler": schedule}
    save_file(tensors, str(folder / STATE_TENSORS))
    (folder / STATE_JSON).write_text(json.dumps(record, indent=2) + "\n")


def load_trainer_state(folder: Path, optimizer, scheduler) -> dict:
    """Restore what ``save_trainer_state`` wrote; returns the loop's ``progress`` dict."""
    import torch
    from safetensors.torch import load_file

    tensors = load_file(str(folder / STATE_TENSORS))
    record = json.loads((folder / STATE_JSON).read_text())
    per_param: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, param_id, name = key.split(".", 2)
            per_param.setdefault(int(param_id), {})[name] = value
    for param_id, values in record["optimizer_scalars"].items():
        per_param.setdefault(int(param_id), {}).update(values)
    groups = record["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    schedule = dict(record["scheduler"])
    schedule["lr_lambdas"] = [None] * len(groups)
    scheduler.load_state_dict(schedule)
    torch.set_rng_state(tensors["rng.torch"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    return record["progress"]


class StopRequest:
    """SIGINT/SIGTERM ask the loop to stop after the current step (and save); a second
    signal interrupts at once. The last complete checkpoint is never touched mid-write."""

    def __init__(self):
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopRequest:
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
