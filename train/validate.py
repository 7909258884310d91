"""Validation on a held-out set: teacher-forced loss, and greedy answers scored by the
core's rewards (format rate, accuracy), as ``vtedge eval`` would score them. The short
stages (caption, options) have no answer to score, so they report the loss alone."""

from __future__ import annotations


def validate(session, model, loaded, examples, config, batch_size: int = 16) -> dict | None:
    """Scores on the main process (``None`` elsewhere); every process waits for it."""
    import torch

    from vtedge.train.batch import TRACE, sft_batch
    from vtedge.train.sft import token_loss_sum
    from vtedge.train.tokenizer import special_token_ids

    scores = None
    if session.is_main:
        plain = session.unwrap(model)
        ids = special_token_ids(loaded.tokenizer)
        was_training = plain.training
        plain.eval()
        loss_sum, label_tokens = 0.0, 0
        with torch.no_grad(), session.autocast():
            for start in range(0, len(examples), batch_size):
                chunk = examples[start:start + batch_size]
                batch = sft_batch(chunk, loaded.spec, ids["pad_token_id"],
                                  ids["video_token_id"], session.device, session.pixel_dtype)
                labels = batch.pop("labels")
                loss_sum += float(token_loss_sum(plain(**batch).logits, labels))
                label_tokens += sum(len(e.target_ids) for e in chunk)
        scores = {"loss": loss_sum / max(1, label_tokens)}
        if config.task == TRACE and config.val_generate > 0:  # 0: the loss alone
            scores.update(answer_scores(session, plain, loaded, ids,
                                        examples[:config.val_generate],
                                        config.max_new_tokens, batch_size))
        plain.train(was_training)
    session.barrier()
    return scores


def answer_scores(session, model, loaded, ids: dict[str, int], examples,
                  max_new_tokens: int, batch_size: int) -> dict:
    """Format rate, accuracy and length of greedy answers to ``examples``."""
    from vtedge.rewards import accuracy_reward, format_reward
    from vtedge.train.batch import prompt_batch
    from vtedge.train.rollout import InProcessRollout

    pad_id, video_id = ids["pad_token_id"], ids["video_token_id"]
    engine = InProcessRollout(model, ids["eos_token_id"], pad_id)
    texts, records, lengths = [], [], []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        prompts = prompt_batch(chunk, loaded.spec, pad_id, video_id, session.device,
                               session.pixel_dtype)
        with session.autocast():
            out = engine.generate(prompts, 1, max_new_tokens=max_new_tokens, greedy=True)
        texts += decode_completions(loaded.tokenizer, out)
        records += [e.record for e in chunk]
        lengths += out.lengths
    accuracy = accuracy_reward(texts, solution=[r.solution for r in records],
                               problem_type=[r.problem_type for r in records])
    formats = format_reward(texts)
    return {
        "accuracy": sum(accuracy) / max(1, len(accuracy)),
        "format_rate": sum(formats) / max(1, len(formats)),
        "completion_length": sum(lengths) / max(1, len(lengths)),
        "generated": len(texts),
        "sample": texts[0] if texts else "",
    }


def decode_completions(tokenizer, completions) -> list[str]:
    """Completion text without the end-of-turn and padding tokens."""
    rows = completions.ids.tolist()
    return [tokenizer.decode(row[:length], skip_special_tokens=True)
            for row, length in zip(rows, completions.lengths, strict=True)]
