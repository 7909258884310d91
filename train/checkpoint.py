"""Checkpoints: transformers ``save_pretrained`` safetensors plus the tokenizer and a
``vtedge.json`` with the vision spec, so plain transformers loads them and vtedge knows
exactly which frames the model was trained on. Writes go to a sibling folder that is
renamed into place, so an interrupted save never leaves a half-written checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from vtedge.errors import MissingPathError, ModelError, first_line
from vtedge.spec import VisionSpec, get_spec

META_FILE = "vtedge.json"


@dataclass
class Checkpoint:
    model: object
    tokenizer: object
    spec: VisionSpec
    meta: dict


def save_checkpoint(model, tokenizer, spec: VisionSpec, out: str | Path,
                    meta: dict | None = None, extra=None, state_dict=None) -> Path:
    """Write atomically: ``out.tmp`` is filled, then replaces ``out`` in one rename.

    ``extra(folder)``, when given, writes more files (a trainer's resume state) into the
    staging folder, so they appear together with the weights or not at all.
    ``state_dict`` replaces the model's own (weights gathered from a sharded engine).
    """
    out = Path(out)
    staging = out.with_name(out.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    model.save_pretrained(staging, safe_serialization=True, state_dict=state_dict)
    tokenizer.save_pretrained(staging)
    record = {"vision_spec": spec.to_dict(), **(meta or {})}
    (staging / META_FILE).write_text(json.dumps(record, indent=2) + "\n")
    if extra is not None:
        extra(staging)
    if out.exists():
        retired = out.with_name(out.name + ".old")
        if retired.exists():
            shutil.rmtree(retired)
        os.replace(out, retired)
        os.replace(staging, out)
        shutil.rmtree(retired)
    else:
        os.replace(staging, out)
    return out


def read_meta(path: str | Path) -> dict:
    """``vtedge.json`` of a checkpoint, or ``{}`` for a checkpoint vtedge did not write."""
    meta_path = Path(path) / META_FILE
    return json.loads(meta_path.read_text()) if meta_path.exists() else {}


def checkpoint_spec(path: str | Path) -> VisionSpec:
    """The spec a checkpoint was trained with; foreign checkpoints get Video-Thinker's."""
    meta = read_meta(path)
    if "vision_spec" in meta:
        return VisionSpec.from_dict(meta["vision_spec"])
    return get_spec("video-thinker")


def check_checkpoint_dir(path: str | Path) -> Path:
    """A one-line error for anything that is not a Qwen2.5-VL checkpoint directory."""
    path = Path(path)
    if not path.exists():
        raise MissingPathError(f"{path}: no such checkpoint directory")
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a transformers checkpoint directory (no config.json)")
    try:
        config = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as error:
        raise ModelError(f"{path}/config.json: not valid JSON ({error.msg})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type is None:
        raise ModelError(f"{path}/config.json: no model_type; vtedge reads qwen2_5_vl models")
    if model_type != "qwen2_5_vl":
        raise ModelError(
            f"{path}: a {model_type!r} checkpoint; vtedge trains and exports qwen2_5_vl models"
        )
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise ModelError(f"{path}: no weights (*.safetensors or *.bin) beside config.json")
    return path


def load_checkpoint(path: str | Path, dtype=None) -> Checkpoint:
    """Model, tokenizer, vision spec and metadata from a local directory (no hub)."""
    from transformers import Qwen2_5_VLForConditionalGeneration

    from vtedge.train.tokenizer import load_tokenizer

    path = check_checkpoint_dir(path)
    try:
        model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            str(path), local_files_only=True, dtype=dtype
        )
    except Exception as error:  # safetensors, torch.load and config errors share no base
        raise ModelError(f"{path}: transformers cannot load this checkpoint "
                         f"({type(error).__name__}: {first_line(error)})") from None
    return Checkpoint(model, load_tokenizer(path), checkpoint_spec(path), read_meta(path))
