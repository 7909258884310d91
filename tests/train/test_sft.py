"""SFT end to end on a few synthetic clips: it learns, it resumes exactly, it saves plain
transformers checkpoints."""

from __future__ import annotations

import pytest

from tests.train.conftest import sft_config


@pytest.fixture(scope="module")
def sft_run(synth_data, tmp_path_factory):
    from vtedge.train.sft import train_sft

    out = tmp_path_factory.mktemp("runs") / "sft"
    return train_sft(sft_config(synth_data, out, max_steps=6, save_every=3, lr=3e-3))


def test_sft_lowers_the_loss(sft_run):
    from vtedge.train.metrics_log import read_metrics

    losses = [row["loss"] for row in read_metrics(sft_run.out) if row["split"] == "train"]
    assert len(losses) == 6
    assert losses[-1] < losses[0] - 0.5
    assert (sft_run.out / "last" / "model.safetensors").is_file()


def test_checkpoint_reloads_in_plain_transformers(sft_run, synth_data):
    import torch
    from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration

    from vtedge.datasets import load_records
    from vtedge.train.batch import prepare_examples, sft_batch
    from vtedge.train.checkpoint import checkpoint_spec
    from vtedge.train.tokenizer import special_token_ids

    path = sft_run.out / "last"
    plain = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(path)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    spec = checkpoint_spec(path)
    examples = prepare_examples(list(load_records(synth_data))[:2], tokenizer, spec,
                                progress=False)
    ids = special_token_ids(tokenizer)
    batch = sft_batch(examples, spec, ids["pad_token_id"], ids["video_token_id"], "cpu",
                      torch.float32)
    batch.pop("labels")
    trained = sft_run.model.eval()
    with torch.no_grad():
        assert torch.equal(plain(**batch).logits, trained(**batch).logits)


def test_resume_after_interruption_gives_the_same_next_loss(synth_data, tmp_path):
    from vtedge.train.metrics_log import read_metrics
    from vtedge.train.sft import train_sft

    straight = train_sft(sft_config(synth_data, tmp_path / "straight"))
    interrupted = train_sft(sft_config(synth_data, tmp_path / "cut"),
                            on_step=lambda step, row: step == 2)
    assert interrupted.stopped and interrupted.steps == 2
    resumed = train_sft(sft_config(synth_data, tmp_path / "cut", resume=True))
    assert resumed.steps == 4 and not resumed.stopped

    def losses(run):
        return {r["step"]: r["loss"] for r in read_metrics(run) if r["split"] == "train"}

    expected, got = losses(straight.out), losses(resumed.out)
    assert sorted(got) == [1, 2, 3, 4]
    for step in (3, 4):
        assert got[step] == pytest.approx(expected[step], rel=1e-6, abs=1e-6)
