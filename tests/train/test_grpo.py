"""A GRPO step end to end: rollouts, core rewards, the kernel's loss (torch reference on CPU,
and the real Triton kernel under TRITON_INTERPRET), checkpoint and metrics."""

from __future__ import annotations

import math

import pytest

from tests.train.conftest import sft_config


@pytest.fixture(scope="module")
def init_checkpoint(synth_data, tmp_path_factory):
    from vtedge.train.sft import train_sft

    out = tmp_path_factory.mktemp("runs") / "sft"
    return train_sft(sft_config(synth_data, out, max_steps=2, save_every=2)).out / "last"


def grpo_config(data, init, out, **changes):
    from vtedge.train.grpo import GRPOConfig

    settings = dict(data=str(data), out=str(out), model=str(init), max_steps=1,
                    prompts_per_step=2, num_generations=2, micro_batch=4, max_new_tokens=6,
                    quiet=True, seed=0)
    settings.update(changes)
    return GRPOConfig(**settings)


def policy_and_prompts(synth_data, init_checkpoint, records: int):
    """The SFT checkpoint's model (eval mode), vision spec and special ids, and the first
    ``records`` synthetic records as examples and a left-padded prompt batch."""
    import torch

    from vtedge.datasets import load_records
    from vtedge.train.batch import prepare_examples, prompt_batch
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.tokenizer import special_token_ids

    checkpoint = load_checkpoint(init_checkpoint)
    spec = checkpoint.spec
    ids = special_token_ids(checkpoint.tokenizer)
    examples = prepare_examples(list(load_records(synth_data))[:records], checkpoint.tokenizer,
                                spec, with_targets=False, progress=False)
    prompts = prompt_batch(examples, spec, ids["pad_token_id"], ids["video_token_id"], "cpu",
                           torch.float32)
    return checkpoint.model.eval(), spec, ids, examples, prompts


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_grpo_step_runs_end_to_end(synth_data, init_checkpoint, tmp_path, backend):
    from vtedge.train.checkpoint import read_meta
    from vtedge.train.grpo import train_grpo
    from vtedge.train.metrics_log import read_metrics

    result = train_grpo(grpo_config(synth_data, init_checkpoint, tmp_path / "grpo",
                                    kernel_backend=backend, iterations=2))
    (row,) = read_metrics(result.out)
    for key in ("reward_mean", "reward_std", "accuracy", "format_rate", "kl",
                "clip_fraction", "frac_reward_zero_std", "completion_length",
                "seconds_rollout", "seconds_scoring",
                "seconds_loss", "seconds_update"):
        assert row[key] is not None and math.isfinite(row[key]), key
    assert 1 <= row["completion_length"] <= 6
    assert row["kl"] >= 0 and 0 <= row["clip_fraction"] <= 1
    assert 0 <= row["frac_reward_zero_std"] <= 1
    assert math.isfinite(row["grad_norm"])
    assert read_meta(result.out / "last")["stage"] == "grpo"


def test_logged_reward_stats_follow_trl(synth_data, init_checkpoint, tmp_path, monkeypatch):
    """reward_std is TRL's: the mean of each group's Bessel std, not the batch's std; lr is
    the rate the step's update used (one step, no warmup: all of it)."""
    import vtedge.train.grpo as grpo
    from vtedge.train.metrics_log import read_metrics

    fixed = {"accuracy": [1.0, 0.0, 1.0, 1.0], "format": [0.0] * 4}  # two groups of two
    monkeypatch.setattr(grpo, "score", lambda texts, fields, config: fixed)
    result = grpo.train_grpo(grpo_config(synth_data, init_checkpoint, tmp_path / "grpo",
                                         lr=1e-4))
    (row,) = read_metrics(result.out)
    assert row["lr"] == pytest.approx(1e-4)
    assert row["reward_mean"] == pytest.approx(0.75)
    assert row["reward_std"] == pytest.approx(math.sqrt(0.5) / 2)  # groups: 0.707 and 0
    assert row["frac_reward_zero_std"] == pytest.approx(0.5)
    assert row["accuracy"] == pytest.approx(0.75)


def test_grpo_with_lora_and_temporal_bonus(synth_data, init_checkpoint, tmp_path):
    from transformers import Qwen2_5_VLForConditionalGeneration

    from vtedge.train.grpo import train_grpo
    from vtedge.train.metrics_log import read_metrics

    result = train_grpo(grpo_config(synth_data, init_checkpoint, tmp_path / "lora", lora=True,
                                    lora_rank=4, temporal=True))
    (row,) = read_metrics(result.out)
    assert "temporal_bonus_mean" in row
    assert (result.out / "last" / "adapter" / "adapter_model.safetensors").is_file()
    # The saved checkpoint is merged: plain transformers loads it without peft.
    Qwen2_5_VLForConditionalGeneration.from_pretrained(str(result.out / "last"))


def test_temporal_bonus_follows_video_r1():
    from vtedge.train.grpo import TEMPORAL_ALPHA, temporal_bonus

    ordered = [1.0, 0.0, 1.0, 1.0]  # prompt 1: 1/2 correct, prompt 2: 2/2
    shuffled = [1.0, 1.0, 0.0, 0.0]  # prompt 1 did better shuffled, prompt 2 worse
    assert temporal_bonus(ordered, shuffled, 2) == [0.0, 0.0, TEMPORAL_ALPHA, TEMPORAL_ALPHA]
    # mu = 0.8: ordered 4/5 against shuffled 5/5 earns it, 3/5 does not, 0/5 never does.
    ordered = [1.0, 1.0, 1.0, 1.0, 0.0] + [1.0, 1.0, 1.0, 0.0, 0.0] + [0.0] * 5
    shuffled = [1.0] * 10 + [0.0] * 5
    alpha = TEMPORAL_ALPHA
    assert temporal_bonus(ordered, shuffled, 5) == [alpha] * 4 + [0.0] * 11


def test_rollout_tokens_are_what_the_training_forward_predicts(synth_data, init_checkpoint):
    """Generation (KV cache, left padding) and the loss's forward (prompt + completion) see
    the same positions: greedy tokens are the forward's argmax."""
    import torch

    from vtedge.train.grpo import completion_logits, sequence_batch
    from vtedge.train.rollout import InProcessRollout

    model, spec, ids, examples, prompts = policy_and_prompts(synth_data, init_checkpoint, 3)
    assert len({len(e.prompt_ids) for e in examples}) > 1  # left padding is exercised
    engine = InProcessRollout(model, ids["eos_token_id"], ids["pad_token_id"])
    out = engine.generate(prompts, 1, max_new_tokens=5, greedy=True)
    batch, completion_ids, mask = sequence_batch(examples, out, [0, 1, 2], 1, spec, ids, "cpu",
                                                 torch.float32)
    with torch.no_grad():
        predicted = completion_logits(model, batch, completion_ids.shape[1]).argmax(-1)
    assert torch.equal(predicted[mask.bool()], completion_ids[mask.bool()])


def test_rollouts_never_hold_vision_placeholders(synth_data, init_checkpoint, monkeypatch):
    """A policy that prefers <|video_pad|> still samples none (a GRPO run once crashed on
    one: its training forward found more video tokens than video features)."""
    import torch

    from vtedge.train import rollout
    from vtedge.train.rollout import InProcessRollout

    model, _, ids, _, prompts = policy_and_prompts(synth_data, init_checkpoint, 2)
    engine = InProcessRollout(model, ids["eos_token_id"], ids["pad_token_id"])
    first = engine.generate(prompts, 1, max_new_tokens=1, greedy=True).ids[:, 0]
    with torch.no_grad():  # tied embeddings: <|video_pad|> now outscores the greedy choice
        weights = model.get_input_embeddings().weight
        weights[ids["video_token_id"]] = 50 * weights[first[0]]
    with monkeypatch.context() as unbanned:
        unbanned.setattr(rollout, "vision_placeholder_ids", lambda config: set())
        preferred = engine.generate(prompts, 1, max_new_tokens=1, greedy=True).ids[0, 0]
    assert preferred == ids["video_token_id"]  # without the ban it would be sampled
    out = engine.generate(prompts, 1, max_new_tokens=4, greedy=True)
    placeholders = [ids[k] for k in ("image_token_id", "video_token_id",
                                     "vision_start_token_id", "vision_end_token_id")]
    assert not torch.isin(out.ids[out.mask.bool()], torch.tensor(placeholders)).any()


def test_grpo_resumes_where_it_stopped(synth_data, init_checkpoint, tmp_path):
    """Stopped after step 1 and resumed, step 2 samples the same completions (RNG restored)
    and reaches the same numbers as an uninterrupted run."""
    from vtedge.train.grpo import train_grpo
    from vtedge.train.metrics_log import read_metrics

    settings = dict(max_steps=2, save_every=2, max_new_tokens=4)
    straight = train_grpo(grpo_config(synth_data, init_checkpoint, tmp_path / "a", **settings))
    cut = train_grpo(grpo_config(synth_data, init_checkpoint, tmp_path / "b", **settings),
                     on_step=lambda step, row: step == 1)
    assert cut.stopped and cut.steps == 1
    train_grpo(grpo_config(synth_data, init_checkpoint, tmp_path / "b", resume=True,
                           **settings))
    expected, got = read_metrics(straight.out)[1], read_metrics(cut.out)[1]
    assert got["step"] == expected["step"] == 2
    for key in ("reward_mean", "completion_length", "kl"):
        assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7), key
    # Four new tokens earn no reward, so the gradient is the KL term's alone, at rounding
    # level: a clean-clone CI run saw 1.1e-7 uninterrupted against 0.0 resumed.
    assert got["grad_norm"] == pytest.approx(expected["grad_norm"], rel=1e-5, abs=1e-6)


def test_shared_prompt_scoring_matches_full_sequences(synth_data, init_checkpoint):
    """Each prompt run once with its cache copied to its completions gives the full
    sequences' logits and gradients, also where a micro-batch splits a group."""
    import torch

    from vtedge.train.grpo import row_batch
    from vtedge.train.rollout import InProcessRollout, trim_completions

    model, spec, ids, examples, prompts = policy_and_prompts(synth_data, init_checkpoint, 3)
    model.train()
    assert len({len(e.prompt_ids) for e in examples}) > 1  # left padding is exercised
    torch.manual_seed(0)
    sampled = InProcessRollout(model, ids["eos_token_id"], ids["pad_token_id"]).generate(
        prompts, 2, max_new_tokens=8, temperature=1.5).ids
    sampled[0, 3] = sampled[3, 5] = ids["eos_token_id"]  # completions of three lengths
    out = trim_completions(sampled, ids["eos_token_id"], ids["pad_token_id"])

    def logits_and_grads(rows, shared):
        model.zero_grad(set_to_none=True)
        part = row_batch(examples, out, rows, 2, spec, ids, "cpu", torch.float32, shared)
        logits = part.logits(model)
        weights = torch.linspace(-1, 1, logits.shape[-1])
        (logits * weights * part.completion_mask[..., None]).sum().backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return logits.detach() * part.completion_mask[..., None], grads

    for rows in ([0, 1, 2, 3, 4, 5], [1, 2, 3]):
        full_logits, full_grads = logits_and_grads(rows, shared=False)
        shared_logits, shared_grads = logits_and_grads(rows, shared=True)
        torch.testing.assert_close(shared_logits, full_logits, atol=1e-4, rtol=1e-4)
        assert shared_grads.keys() == full_grads.keys()
        for name, grad in full_grads.items():
            torch.testing.assert_close(shared_grads[name], grad, atol=1e-4, rtol=1e-3,
                                       msg=name)


def test_rollout_greedy_matches_transformers_generate(synth_data, init_checkpoint):
    """The in-process engine (each prompt prefilled once, G rows decoding from its cache)
    writes what transformers' ``generate`` writes for the repeated prompts."""
    import torch

    from vtedge.train.batch import repeat_batch
    from vtedge.train.rollout import InProcessRollout, trim_completions

    model, _, ids, _, prompts = policy_and_prompts(synth_data, init_checkpoint, 3)
    ours = InProcessRollout(model, ids["eos_token_id"], ids["pad_token_id"]).generate(
        prompts, 2, max_new_tokens=6, greedy=True)
    inputs = repeat_batch(prompts, 2)
    with torch.no_grad():
        sequences = model.generate(**inputs, max_new_tokens=6, do_sample=False,
                                   eos_token_id=ids["eos_token_id"],
                                   pad_token_id=ids["pad_token_id"])
    theirs = trim_completions(sequences[:, inputs["input_ids"].shape[1]:], ids["eos_token_id"],
                              ids["pad_token_id"])
    assert torch.equal(ours.ids, theirs.ids) and torch.equal(ours.mask, theirs.mask)


def test_nucleus_sampling_keeps_the_smallest_set_holding_top_p():
    import torch

    from vtedge.train.rollout import next_tokens

    torch.manual_seed(0)
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log().expand(4000, -1)
    drawn = next_tokens(logits, temperature=1.0, top_p=0.8, greedy=False)
    assert set(drawn.tolist()) == {0, 1}  # 0.5 + 0.3 reach 0.8: the rest is cut
    assert abs(float((drawn == 0).float().mean()) - 0.5 / 0.8) < 0.03
    assert next_tokens(logits[:1], 1.0, 1.0, greedy=True).tolist() == [0]
