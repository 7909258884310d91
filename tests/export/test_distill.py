"""Distillation: the student learns from the teacher's logits on the teacher's own traces."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")


def test_divergences_are_zero_for_equal_distributions_and_positive_otherwise():
    from vtedge.export.distill import distillation_loss

    logits = torch.randn(5, 11)
    for loss in ("kl", "jsd"):
        assert distillation_loss(logits, logits, loss).item() == pytest.approx(0, abs=1e-6)
        assert distillation_loss(logits, torch.randn(5, 11), loss).item() > 0
    # JSD is bounded by log 2.
    far = torch.full((1, 2), -50.0)
    far[0, 0] = 50
    assert distillation_loss(far, far.flip(-1), "jsd").item() <= 0.6932


def test_distill_into_a_preset_student(tiny_checkpoint, synth_data, tmp_path):
    from vtedge.export.distill import distill
    from vtedge.train.checkpoint import read_meta

    messages = []
    out = distill(tiny_checkpoint, "vt-tiny", synth_data, 2, out_dir=tmp_path / "student",
                  loss="jsd", max_new_tokens=8, log=messages.append)
    meta = read_meta(out)
    assert meta["distill_steps"] == 2 and meta["distill_loss"] == "jsd"
    assert 0 <= meta["teacher_accuracy"] <= 1 and 0 <= meta["student_accuracy"] <= 1
    assert any("teacher" in m and "student" in m for m in messages)
    assert json.loads((out / "vtedge.json").read_text())["vision_spec"]["nframes"] == 8


def test_a_teacher_with_a_padded_vocabulary_teaches_a_student_without(tiny_checkpoint,
                                                                       synth_data, tmp_path):
    """Qwen releases pad the vocabulary past the tokenizer's; a preset student has only
    the tokenizer's, and the padding (no token) is left out of the divergence."""
    from vtedge.export.distill import distill
    from vtedge.train.checkpoint import load_checkpoint, save_checkpoint

    loaded = load_checkpoint(tiny_checkpoint)
    loaded.model.resize_token_embeddings(len(loaded.tokenizer) + 64)
    teacher = save_checkpoint(loaded.model, loaded.tokenizer, loaded.spec, tmp_path / "padded",
                              {"preset": "vt-tiny"})
    out = distill(teacher, "vt-tiny", synth_data, 1, out_dir=tmp_path / "student",
                  max_new_tokens=4, log=lambda message: None)
    assert load_checkpoint(out).model.get_output_embeddings().weight.shape[0] == \
        len(loaded.tokenizer)
