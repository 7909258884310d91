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
    # Resuming a finished run does nothing and says so truly: its steps and its last loss.
    again = train_sft(sft_config(synth_data, tmp_path / "cut", resume=True))
    assert again.steps == 4 and again.last_loss == pytest.approx(resumed.last_loss)


def test_the_logged_lr_is_the_one_the_step_used(synth_data, tmp_path):
    """Warmup of 2 steps at lr 1e-3: step 1 updates at half the rate, step 2 at all of it."""
    from vtedge.train.metrics_log import read_metrics
    from vtedge.train.sft import train_sft

    run = train_sft(sft_config(synth_data, tmp_path / "warm", lr=1e-3, warmup_ratio=0.5))
    rates = [r["lr"] for r in read_metrics(run.out) if r["split"] == "train"]
    assert rates[:3] == pytest.approx([5e-4, 1e-3, 1e-3])
    assert rates[3] < 1e-3


def test_caption_then_options_stages_lead_into_trace_sft(tmp_path):
    """The short stages: caption labels are the segment captions under the bare request,
    options labels are the options copied back; each starts from the last, and trace SFT
    starts from them with the tokenizer `train tokenizer` learned for all."""
    from click.testing import CliRunner

    from vtedge.cli import cli
    from vtedge.datasets import load_records
    from vtedge.reasoning import CAPTION_REQUEST, OPTIONS_REQUEST, SYSTEM_PROMPT
    from vtedge.synth.generate import generate_split
    from vtedge.train.batch import CAPTION, OPTIONS, prepare_examples
    from vtedge.train.metrics_log import read_metrics
    from vtedge.train.sft import train_sft
    from vtedge.train.tokenizer import load_tokenizer

    captions = generate_split(tmp_path / "captions", 4, seed=5, split="train", progress=False,
                              workers=1, families=("describe",))
    traces = generate_split(tmp_path / "traces", 4, seed=6, split="train", progress=False,
                            workers=1)
    made = CliRunner().invoke(cli, ["train", "tokenizer", "--data", str(captions),
                                    "--data", str(traces), "--out", str(tmp_path / "tok")])
    assert made.exit_code == 0, made.output
    tokenizer = load_tokenizer(tmp_path / "tok")
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "config.json").write_text("{}")  # a checkpoint keeps its tokenizer
    refused = CliRunner().invoke(cli, ["train", "tokenizer", "--data", str(captions),
                                       "--out", str(tmp_path / "ckpt")])
    assert refused.exit_code == 8 and "holds a model checkpoint" in refused.stderr
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json"]
    record = load_records(captions)[0]
    [example] = prepare_examples([record], tokenizer, _spec(), task=CAPTION, progress=False)
    prompt = tokenizer.decode(example.prompt_ids)
    assert CAPTION_REQUEST in prompt and SYSTEM_PROMPT not in prompt
    assert tokenizer.decode(example.target_ids).startswith(
        f"<time>00:00-00:02</time><caption>{record.segments[0].caption}</caption>\n")
    records = load_records(traces)[:2]
    bare, full = prepare_examples(records, tokenizer, _spec(), task=OPTIONS, progress=False)
    prompt = tokenizer.decode(bare.prompt_ids)
    assert prompt.endswith(f"{records[0].options[-1]}\n{OPTIONS_REQUEST}<|im_end|>\n"
                           "<|im_start|>assistant\n")
    assert SYSTEM_PROMPT not in prompt
    assert SYSTEM_PROMPT in tokenizer.decode(full.prompt_ids)
    for example, record in zip((bare, full), records, strict=True):
        assert tokenizer.decode(example.target_ids) == "\n".join(record.options) + "<|im_end|>"

    aligned = train_sft(sft_config(captions, tmp_path / "align", task=CAPTION, lr=3e-3,
                                   tokenizer=str(tmp_path / "tok"), val_data=str(captions),
                                   eval_every=4))
    reading = train_sft(sft_config(traces, tmp_path / "options", task=OPTIONS, lr=3e-3,
                                   model=str(aligned.out / "last"), val_data=str(traces),
                                   eval_every=4))
    for run in (aligned, reading):
        rows = read_metrics(run.out)
        losses = [r["loss"] for r in rows if r["split"] == "train"]
        assert losses[-1] < losses[0]
        [val] = [r for r in rows if r["split"] == "val"]
        assert set(val) >= {"loss"} and "accuracy" not in val
    traced = train_sft(sft_config(traces, tmp_path / "trace", model=str(reading.out / "last"),
                                  max_steps=1, val_data=str(traces), val_generate=0))
    assert traced.steps == 1
    # --val-generate 0 scores no answers, so it logs no accuracy (not a 0 of none).
    [val] = [r for r in read_metrics(traced.out) if r["split"] == "val"]
    assert "loss" in val and "accuracy" not in val and "format_rate" not in val
    assert len(load_tokenizer(traced.out / "last")) == len(tokenizer)


@pytest.mark.parametrize(("task", "change", "message"), [
    ("caption", {"segments": []}, "needs timed 'segments'"),
    # A multiple-choice record without options never loads; a numerical one may lack them.
    ("options", {"options": [], "problem_type": "numerical", "solution": "<answer>2</answer>"},
     "needs 'options'"),
])
def test_short_stages_refuse_records_without_their_target(synth_data, tmp_path, task, change,
                                                          message):
    import json

    from vtedge.errors import DatasetError
    from vtedge.train.sft import train_sft

    lines = synth_data.read_text().splitlines()
    bare = {**json.loads(lines[0]), **change}
    data = synth_data.parent / f"no_{task}_target.jsonl"
    data.write_text("\n".join([json.dumps(bare)] + lines[1:]) + "\n")
    with pytest.raises(DatasetError, match=message):
        train_sft(sft_config(data, tmp_path / "run", task=task))
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_signal_stops_the_command_with_status_130_and_resume_finishes(synth_data, tmp_path,
                                                                        monkeypatch):
    """SIGTERM mid-run: the step ends, last/ is saved, and the exit status tells a script
    (the recipe, ``&&``) that the run did not finish; ``--resume`` then does."""
    import os
    import signal

    from click.testing import CliRunner

    import vtedge.train.sft as sft
    from vtedge.cli import cli

    def terminate_at_step_one(step, row):
        if step == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    run = sft.train_sft
    args = ["train", "sft", "--model", "vt-tiny", "--data", str(synth_data), "--out",
            str(tmp_path / "run"), "--max-steps", "3", "--batch-size", "4", "--micro-batch",
            "2", "--quiet"]
    monkeypatch.setattr(sft, "train_sft", lambda config: run(config, terminate_at_step_one))
    stopped = CliRunner().invoke(cli, args)
    assert stopped.exit_code == 130, stopped.output
    assert "stopped early, resume with --resume" in stopped.output
    monkeypatch.setattr(sft, "train_sft", run)
    resumed = CliRunner().invoke(cli, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.startswith("sft: 3 steps")


def _spec():
    from vtedge.spec import get_spec

    return get_spec("tiny")


def test_shared_system_prompt_gives_the_full_batch_loss_and_gradients(sft_run, synth_data):
    """The batch's common prefix (the system prompt) run once gives the loss and gradients
    of every row run in full."""
    import torch

    from vtedge.datasets import load_records
    from vtedge.train.batch import prepare_examples, sft_batch
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.sft import token_loss_sum
    from vtedge.train.shared_prompt import shared_prefix_logits
    from vtedge.train.tokenizer import special_token_ids

    checkpoint = load_checkpoint(sft_run.out / "last")
    model, spec = checkpoint.model.train(), checkpoint.spec
    ids = special_token_ids(checkpoint.tokenizer)
    examples = prepare_examples(list(load_records(synth_data))[:3], checkpoint.tokenizer, spec,
                                progress=False)
    batch = sft_batch(examples, spec, ids["pad_token_id"], ids["video_token_id"], "cpu",
                      torch.float32)
    labels = batch.pop("labels")

    def loss_and_grads(shared):
        model.zero_grad(set_to_none=True)
        logits, start = shared_prefix_logits(model, batch) if shared else (
            model(**batch).logits, 0)
        loss = token_loss_sum(logits, labels[:, start:])
        loss.backward()
        return loss.detach(), start, {n: p.grad.clone() for n, p in model.named_parameters()
                                      if p.grad is not None}

    full_loss, _, full_grads = loss_and_grads(shared=False)
    shared_loss, start, shared_grads = loss_and_grads(shared=True)
    assert start > 100  # the system prompt
    torch.testing.assert_close(shared_loss, full_loss, atol=1e-4, rtol=1e-5)
    assert shared_grads.keys() == full_grads.keys()
    for name, grad in full_grads.items():
        torch.testing.assert_close(shared_grads[name], grad, atol=1e-4, rtol=1e-3, msg=name)
