"""Distillation before export: a smaller student learns the teacher's token distributions.

The teacher first writes its own reasoning trace (greedy) for every record; the student
is then trained on prompt + trace to match the teacher's next-token distribution at
every trace position (on-policy for the teacher, as in sequence-level KD). Losses:

- ``kl``: forward KL, ``sum p_t (log p_t - log p_s)`` (mode-covering);
- ``jsd``: generalized Jensen-Shannon (GKD), ``b KL(p_t || m) + (1-b) KL(p_s || m)`` with
  ``m = b p_t + (1-b) p_s`` and ``b = 0.5``.

Teacher and student share the tokenizer (a student preset is built on the teacher's) and
the vision spec. Teacher and student accuracy on the same records are reported and saved.
"""

from __future__ import annotations

import time
from pathlib import Path

from vtedge.errors import ModelError

LOSSES = ("kl", "jsd")


def distillation_loss(teacher_logits, student_logits, loss: str = "kl", beta: float = 0.5):
    """Mean over positions of the chosen divergence between teacher and student."""
    import math

    import torch
    import torch.nn.functional as F

    teacher = F.log_softmax(teacher_logits.float(), dim=-1)
    student = F.log_softmax(student_logits.float(), dim=-1)
    if loss == "kl":
        return (teacher.exp() * (teacher - student)).sum(-1).mean()
    if loss == "jsd":
        mixture = torch.logsumexp(torch.stack([teacher + math.log(beta),
                                               student + math.log(1 - beta)]), dim=0)
        kl_teacher = (teacher.exp() * (teacher - mixture)).sum(-1)
        kl_student = (student.exp() * (student - mixture)).sum(-1)
        return (beta * kl_teacher + (1 - beta) * kl_student).mean()
    raise ModelError(f"unknown distillation loss {loss!r}; choose one of {', '.join(LOSSES)}")


def _inputs(prompt, video_token_id: int, extra_ids=()):
    import torch

    ids = torch.tensor([prompt.input_ids.tolist() + list(extra_ids)])
    return dict(input_ids=ids, attention_mask=torch.ones_like(ids),
                mm_token_type_ids=(ids == video_token_id).int() * 2,
                pixel_values_videos=torch.from_numpy(prompt.pixel_values),
                video_grid_thw=torch.tensor([list(prompt.clip.grid_thw)]),
                second_per_grid_ts=torch.tensor([prompt.clip.second_per_grid_t]))


def _greedy(model, prompt, token_ids, stops, max_new_tokens) -> list[int]:
    import torch

    from vtedge.train.infer import plain_decoding

    inputs = _inputs(prompt, token_ids["video_token_id"])
    model.model.rope_deltas = None
    with torch.no_grad():
        output = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens,
                                eos_token_id=sorted(stops), pad_token_id=min(stops),
                                temperature=None, top_p=None,
                                **plain_decoding(token_ids))
    return output[0, inputs["input_ids"].shape[1]:].tolist()


def _accuracy(answers: list[str], records) -> float:
    from vtedge.reasoning.answers import output_is_correct

    right = sum(output_is_correct(a, r.answer, r.problem_type)
                for a, r in zip(answers, records, strict=True))
    return right / len(records) if records else 0.0


def distill(teacher: str | Path, student: str, data: str | Path, steps: int, *,
            out_dir: str | Path, loss: str = "kl", lr: float = 1e-3, seed: int = 0,
            max_new_tokens: int = 1024, log=print) -> Path:
    """Train ``student`` (a preset name or checkpoint) on ``teacher``; returns its checkpoint."""
    import torch

    from vtedge.datasets import load_records
    from vtedge.runtime import load_tokenizer, prepare_prompt, stop_token_ids
    from vtedge.train.checkpoint import load_checkpoint, save_checkpoint
    from vtedge.train.presets import MODEL_PRESETS, build_model
    from vtedge.train.tokenizer import special_token_ids

    if loss not in LOSSES:
        raise ModelError(f"unknown distillation loss {loss!r}; choose one of {', '.join(LOSSES)}")
    loaded = load_checkpoint(teacher)
    teacher_model, spec = loaded.model.float().eval(), loaded.spec
    ids = special_token_ids(loaded.tokenizer)
    if student in MODEL_PRESETS:
        student_model = build_model(student, loaded.tokenizer, spec, seed=seed)
    else:
        other = load_checkpoint(student)
        if other.tokenizer.get_vocab() != loaded.tokenizer.get_vocab():
            raise ModelError(f"{student}: the student's tokenizer differs from the teacher's")
        student_model = other.model.float()
    tokenizer = load_tokenizer(teacher)
    stops = stop_token_ids(ids)
    vision = teacher_model.config.vision_config
    records = list(load_records(data))
    if not records:
        raise ModelError(f"{data}: no records to distill on")
    log(f"teacher traces on {len(records)} record(s)")
    prompts = [prepare_prompt(r.video_path, r.problem, list(r.options) or None, spec, tokenizer,
                              ids["video_token_id"], merge_size=vision.spatial_merge_size,
                              tokens_per_second=vision.tokens_per_second) for r in records]
    traces = [_greedy(teacher_model, p, ids, stops, max_new_tokens)
              for p in prompts]
    teacher_accuracy = _accuracy([tokenizer.decode(t) for t in traces], records)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(student_model.parameters(), lr=lr)
    student_model.train()
    start = time.perf_counter()
    for step in range(steps):
        index = step % len(records)
        prompt, trace = prompts[index], traces[index]
        inputs = _inputs(prompt, ids["video_token_id"], trace)
        first = len(prompt.input_ids) - 1  # logits at this position predict trace[0]
        with torch.no_grad():
            teacher_model.model.rope_deltas = None
            target = teacher_model(**inputs).logits[0, first:-1]
        student_model.model.rope_deltas = None
        predicted = student_model(**inputs).logits[0, first:-1]
        # Qwen releases pad the vocabulary past the tokenizer's; the padding holds no token.
        vocab = min(target.shape[-1], predicted.shape[-1])
        value = distillation_loss(target[:, :vocab], predicted[:, :vocab], loss)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step == 0 or (step + 1) % 10 == 0 or step + 1 == steps:
            log(f"distill step {step + 1}/{steps}: {loss} {value.item():.4f}")
    student_model.eval()
    answers = [tokenizer.decode(_greedy(student_model, p, ids, stops,
                                        max_new_tokens)) for p in prompts]
    student_accuracy = _accuracy(answers, records)
    log(f"accuracy on {len(records)} record(s): teacher {teacher_accuracy:.3f}, "
        f"student {student_accuracy:.3f} ({time.perf_counter() - start:.0f} s)")
    meta = {"distilled_from": str(teacher), "distill_loss": loss, "distill_steps": steps,
            "teacher_accuracy": teacher_accuracy, "student_accuracy": student_accuracy}
    return save_checkpoint(student_model, loaded.tokenizer, spec, out_dir, meta)
