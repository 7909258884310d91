"""--reasoning-weight and --answer-weight: which trace tokens they weight, and that the
logged loss stays the plain token mean while the update changes."""

from __future__ import annotations

import re

import pytest

from tests.train.conftest import sft_config

TRACE = ("<time>00:00-00:02</time><caption>The circle is red.</caption>"
         "<think>No change yet.</think>\nSo the circle was red.\n<answer>A</answer>")


def test_weights_are_one_inside_time_and_caption_the_answer_weight_on_the_answer():
    from vtedge.train.token_weights import trace_weights

    weights = trace_weights(TRACE, [(i, i + 1) for i in range(len(TRACE))], 3.0, 7.0)

    def weighted(weight):
        return "".join(c for c, w in zip(TRACE, weights, strict=True) if w == weight)

    assert weighted(1.0) == "<time>00:00-00:02</time><caption>The circle is red.</caption>"
    assert weighted(7.0) == "<answer>A</answer>"
    assert weighted(3.0) == "<think>No change yet.</think>\nSo the circle was red.\n"
    # The answer weight defaults to 1.
    assert trace_weights(TRACE, [(0, 1), (len(TRACE) - 1, len(TRACE))], 3.0) == [1.0, 1.0]
    # A token reaching past a perception element, or into the answer, is reasoning.
    assert trace_weights(TRACE, [(30, 70), (len(TRACE) - 20, len(TRACE) - 10)], 3.0, 7.0) == [
        3.0, 3.0]


def test_weighted_examples_keep_their_ids_and_batch_their_weights(synth_data):
    import torch

    from vtedge.datasets import load_records
    from vtedge.spec import get_spec
    from vtedge.train.batch import prepare_examples, sft_batch
    from vtedge.train.tokenizer import special_token_ids, train_tokenizer

    records = list(load_records(synth_data))[:2]
    tokenizer = train_tokenizer([r.process for r in records], vocab_size=400)
    spec = get_spec("tiny")
    plain = prepare_examples(records, tokenizer, spec, progress=False)
    weighted = prepare_examples(records, tokenizer, spec, progress=False, reasoning_weight=2.5,
                                answer_weight=6.0)
    for a, b in zip(plain, weighted, strict=True):
        assert a.target_weights is None and a.label_weight == len(a.target_ids)
        assert b.target_ids == a.target_ids
        pairs = list(zip(b.target_ids, b.target_weights, strict=True))
        perceived = tokenizer.decode([t for t, w in pairs if w == 1.0])
        reasoned = tokenizer.decode([t for t, w in pairs if w == 2.5])
        answered = tokenizer.decode([t for t, w in pairs if w == 6.0])
        text = tokenizer.decode(b.target_ids)
        assert "think" not in perceived and "answer" not in perceived
        for caption in re.findall(r"<caption>(.*?)</caption>", text):
            assert caption in perceived
        for thought in re.findall(r"<think>(.*?)</think>", text):
            assert thought in reasoned
        assert "answer" not in reasoned
        assert re.sub(r"\s", "", answered) == re.search(r"<answer>.*</answer>", text)[0]
        assert b.label_weight > len(b.target_ids)
    ids = special_token_ids(tokenizer)
    batch = sft_batch(weighted, spec, ids["pad_token_id"], ids["video_token_id"], "cpu",
                      torch.float32)
    on_labels = batch["labels"] != -100
    assert torch.all(batch["label_weights"][~on_labels] == 0)
    assert sorted(batch["label_weights"][on_labels].unique().tolist()) == [1.0, 2.5, 6.0]
    assert "label_weights" not in sft_batch(plain, spec, ids["pad_token_id"],
                                            ids["video_token_id"], "cpu", torch.float32)


def test_the_weights_change_the_update_not_the_logged_loss(synth_data, tmp_path):
    from vtedge.train.metrics_log import read_metrics
    from vtedge.train.sft import train_sft

    def losses(name, **weights):
        run = train_sft(sft_config(synth_data, tmp_path / name, max_steps=2, save_every=2,
                                   **weights))
        return [r["loss"] for r in read_metrics(run.out) if r["split"] == "train"]

    plain = losses("plain")
    for name, weights in (("reasoning", {"reasoning_weight": 4.0}),
                          ("answer", {"answer_weight": 4.0})):
        weighted = losses(name, **weights)
        assert weighted[0] == pytest.approx(plain[0], rel=1e-6), name
        assert abs(weighted[1] - plain[1]) > 1e-4, name
