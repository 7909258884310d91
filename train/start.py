"""Starting or resuming a run, the part SFT and GRPO share: every check that can fail on the
user's input (run dir, records, clips, model) runs here, before the first training step."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from vtedge.errors import DatasetError


@dataclass
class Started:
    session: object
    out: Path
    loaded: object  # LoadedModel
    train_records: list
    val_records: list
    resume_from: Path | None


def load_dataset(path, root=None, limit: int | None = None, what: str = "training") -> list:
    from vtedge.datasets import load_records

    records = list(load_records(path, root=root))
    if limit is not None:
        records = records[:limit]
    if not records:
        raise DatasetError(f"{path}: no {what} records")
    return records


def start_run(config, *, model_arg: str) -> Started:
    """Run dir, records and model, in that order; resuming reloads ``last/``."""
    from vtedge.spec import get_spec
    from vtedge.train.lora import apply_lora, load_adapter_weights
    from vtedge.train.models import load_model
    from vtedge.train.run_dir import check_run_dir, resume_checkpoint
    from vtedge.train.session import Session

    session = Session(config.seed, cpu=config.cpu)
    out = Path(config.out)
    # Only the main process touches the run directory; the others wait for its verdict.
    if session.is_main:
        check_run_dir(out, config.resume, config.overwrite)
    session.barrier()
    train_records = load_dataset(config.data, config.data_root, config.limit)
    val_records = (load_dataset(config.val_data, config.data_root, config.val_limit,
                                "validation") if config.val_data else [])
    spec = get_spec(config.spec) if config.spec else None
    resume_from = resume_checkpoint(out) if config.resume else None
    if resume_from is not None and not config.lora:
        loaded = load_model(str(resume_from), spec=spec, seed=config.seed)
    else:
        tokenizer_dir = str(resume_from) if resume_from is not None else config.tokenizer
        loaded = load_model(model_arg, records=train_records, tokenizer_dir=tokenizer_dir,
                            spec=spec, seed=config.seed)
    if loaded.preset is None and loaded.meta.get("preset"):
        loaded.preset = loaded.meta["preset"]
    if config.freeze_vision:
        loaded.model.model.visual.requires_grad_(False)
    if config.lora:
        loaded.model = apply_lora(loaded.model, config.lora_rank, config.lora_alpha)
        if resume_from is not None:
            load_adapter_weights(loaded.model, resume_from)
    return Started(session, out, loaded, train_records, val_records, resume_from)


def record_run(started: Started, command: str, config) -> None:
    """Mark ``out`` as a run (``run.json``) once every input has been checked, so a run
    that failed on its input can simply be started again, and an ``--overwrite`` that
    failed on its input still has the run it would have replaced."""
    from vtedge.train.run_dir import claim_run_dir, write_run_file

    if started.session.is_main and not config.resume:
        claim_run_dir(started.out)
        write_run_file(started.out, command, dataclasses.asdict(config))
    started.session.barrier()


def save(started: Started, model, step: int, name: str, meta: dict, optimizer=None,
         scheduler=None, progress: dict | None = None) -> Path | None:
    """Write ``out/name`` atomically on the main process (weights merged if LoRA), with
    resume state when an optimizer is given."""
    from vtedge.train.checkpoint import save_checkpoint
    from vtedge.train.lora import merged_copy, save_adapter
    from vtedge.train.run_dir import save_trainer_state

    session = started.session
    plain = session.unwrap(model)
    # Under FSDP / ZeRO-3 every process takes part in gathering the full weights.
    sharded = session.accelerator.distributed_type.name in ("FSDP", "DEEPSPEED")
    state_dict = session.accelerator.get_state_dict(model) if sharded else None
    path = None
    if session.is_main:
        def extra(folder: Path) -> None:
            save_adapter(plain, folder)
            if optimizer is not None:
                save_trainer_state(folder, optimizer, scheduler, progress or {})

        record = {"preset": started.loaded.preset, "step": step, **meta}
        path = save_checkpoint(merged_copy(plain), started.loaded.tokenizer,
                               started.loaded.spec, started.out / name, record, extra=extra,
                               state_dict=state_dict)
    session.barrier()
    return path
