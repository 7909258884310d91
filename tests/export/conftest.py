"""Session fixtures: a random vt-tiny checkpoint, calibration data, and its bundles.

The checkpoint is untrained (a few steps of training cost minutes on a shared 2-core
CI machine); its raw greedy text is what the bundle-versus-torch comparisons compare.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PARITY_TOKENS = 48


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """Two synthetic val records with their clips; returns the records file."""
    from vtedge.synth.generate import make_record

    out = tmp_path_factory.mktemp("synth")
    records = [make_record(out, index, 0, "val") for index in range(2)]
    path = out / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, synth_data) -> Path:
    from vtedge.reasoning import SYSTEM_PROMPT, USER_TEMPLATE
    from vtedge.spec import get_spec
    from vtedge.train.checkpoint import save_checkpoint
    from vtedge.train.presets import build_model
    from vtedge.train.tokenizer import train_tokenizer

    records = [json.loads(line) for line in synth_data.read_text().splitlines()]
    texts = [SYSTEM_PROMPT, USER_TEMPLATE] + [
        r["problem"] + "\n" + "\n".join(r["options"]) + r["process"] + r["solution"]
        for r in records]
    tokenizer = train_tokenizer(texts * 2, vocab_size=700)
    spec = get_spec("tiny")
    model = build_model("vt-tiny", tokenizer, spec, seed=0)
    out = tmp_path_factory.mktemp("ckpt") / "vt-tiny"
    return save_checkpoint(model, tokenizer, spec, out, {"preset": "vt-tiny"})


@pytest.fixture(scope="session")
def fps_checkpoint(tmp_path_factory, tiny_checkpoint) -> Path:
    """The same weights with a spec that samples 2 frames a second (16 and 20 frames on
    the two synthetic clips)."""
    from vtedge.spec import get_spec
    from vtedge.train.checkpoint import load_checkpoint, save_checkpoint

    loaded = load_checkpoint(tiny_checkpoint)
    out = tmp_path_factory.mktemp("ckpt") / "vt-tiny-2fps"
    return save_checkpoint(loaded.model, loaded.tokenizer, get_spec("tiny-2fps"), out,
                           {"preset": "vt-tiny"})


def _export(tmp_path_factory, checkpoint: Path, calib: Path, name: str, **options) -> Path:
    from vtedge.export.bundle_export import export_bundle

    out = tmp_path_factory.mktemp("bundles") / name
    export_bundle(checkpoint, out, calib=calib, parity_tokens=PARITY_TOKENS,
                  log=lambda message: None, **options)
    return out


@pytest.fixture(scope="session")
def fps_bundle(tmp_path_factory, fps_checkpoint, synth_data) -> Path:
    return _export(tmp_path_factory, fps_checkpoint, synth_data, "fps")


@pytest.fixture(scope="session")
def fp32_bundle(tmp_path_factory, tiny_checkpoint, synth_data) -> Path:
    return _export(tmp_path_factory, tiny_checkpoint, synth_data, "fp32")


@pytest.fixture(scope="session")
def int8_bundle(tmp_path_factory, tiny_checkpoint, synth_data) -> Path:
    return _export(tmp_path_factory, tiny_checkpoint, synth_data, "int8", int8=True,
                   target="cpu")


@pytest.fixture(scope="session")
def synth_record(synth_data) -> dict:
    record = json.loads(synth_data.read_text().splitlines()[0])
    record["video"] = str(synth_data.parent / record["path"])
    return record
