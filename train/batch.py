"""Dataset records to Qwen2.5-VL inputs, exactly as the edge runtime builds them.

The clip is decoded with the checkpoint's vision spec (``vtedge.load_clip``), tokenized
into patches (``vtedge.patchify`` on CPU, the frame-tokenize kernel on CUDA), and the
prompt is the published chat text with ``<|video_pad|>`` repeated ``gt*gh*gw/4`` times.
The prompt and the assistant turn are tokenized separately, as generation sees them, so
SFT labels cover exactly the tokens the model will have to write: the trace, the answer
and ``<|im_end|>``. Two short stages that can come before it for a model trained from
scratch use a bare user turn instead: the ``caption`` task (alignment) asks for the record's timed
segment captions, and the ``options`` task asks for its options copied back (every other
record in the trace prompt instead, the distance at which the trace will need them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from vtedge.errors import BudgetError
from vtedge.spec import VisionSpec

IGNORE_INDEX = -100
VIDEO_TOKEN_TYPE = 2  # transformers' mm_token_type_ids: text 0, image 1, video 2
ASSISTANT_END = "<|im_end|>"
TRACE, CAPTION, OPTIONS = "trace", "caption", "options"
TASKS = (TRACE, CAPTION, OPTIONS)


@dataclass
class Example:
    """One record, decoded and tokenized once; frames stay uint8 to keep the cache small."""

    record: object
    frames: np.ndarray  # (T, H, W, 3) uint8 as load_clip returned them
    grid_thw: tuple[int, int, int]
    second_per_grid_t: float
    prompt_ids: list[int]
    target_ids: list[int]  # assistant text + <|im_end|>; empty when prepared without targets
    target_weights: list[float] | None = None  # loss weight per target token; None: all 1

    @property
    def label_weight(self) -> float:
        """The weight this example adds to a batch's token-mean loss."""
        return sum(self.target_weights) if self.target_weights else len(self.target_ids)


def assistant_text(record) -> str:
    """The SFT target of a record: its thinking trace, a newline, its solution."""
    from vtedge.reasoning import sft_target

    return sft_target(record.process, record.solution)


def chat_parts(record, video_tokens: int, task: str = TRACE,
               bare: bool = False) -> tuple[str, str]:
    """The prompt and the assistant text (without ``<|im_end|>``) of one record for a task;
    ``bare`` picks the options task's bare-turn layout."""
    from vtedge.reasoning import (
        caption_target,
        options_target,
        render_caption_chat,
        render_chat,
        render_options_chat,
    )

    if task == CAPTION:
        return render_caption_chat(video_tokens), caption_target(record.segments)
    if task == OPTIONS:
        # The bare turn is where the copy is learned fast; the trace prompt, a few hundred
        # tokens longer, is where it is used. The stage alternates them (``bare``).
        options = list(record.options)
        prompt = (render_options_chat(record.problem, options, video_tokens) if bare
                  else render_chat(record.problem, options, video_tokens))
        return prompt, options_target(options)
    prompt = render_chat(record.problem, list(record.options) or None, video_tokens)
    return prompt, assistant_text(record)


def prepare_examples(records: Sequence, tokenizer, spec: VisionSpec, *,
                     max_video_tokens: int | None = None, with_targets: bool = True,
                     task: str = TRACE, progress: bool = True,
                     reasoning_weight: float = 1.0, answer_weight: float = 1.0
                     ) -> list[Example]:
    """Decode every clip and tokenize every prompt up front, so a bad clip or an
    over-budget clip stops the run before any training step. ``reasoning_weight`` or
    ``answer_weight`` other than 1 weights a trace's reasoning or answer tokens in the loss
    (``train/token_weights.py``)."""
    from vtedge.progress import progress_bar
    from vtedge.video import load_clip

    examples: list[Example] = []
    with progress_bar("decoding clips", len(records), disable=not progress) as advance:
        for index, record in enumerate(records):
            clip = load_clip(record.video_path, spec)
            if max_video_tokens is not None and clip.video_tokens > max_video_tokens:
                raise BudgetError(
                    f"{record.where}: {record.video_path} takes {clip.video_tokens} video "
                    f"tokens, over the budget of {max_video_tokens}"
                )
            prompt, answer = chat_parts(record, clip.video_tokens, task, bare=index % 2 == 0)
            target = answer + ASSISTANT_END if with_targets else ""
            target_ids, weights = [], None
            if target and task == TRACE and (reasoning_weight, answer_weight) != (1.0, 1.0):
                target_ids, weights = weighted_encode(tokenizer, target, reasoning_weight,
                                                      answer_weight)
            elif target:
                target_ids = encode(tokenizer, target)
            examples.append(Example(
                record=record,
                frames=clip.frames,
                grid_thw=tuple(int(v) for v in clip.grid_thw),
                second_per_grid_t=float(clip.second_per_grid_t),
                prompt_ids=encode(tokenizer, prompt),
                target_ids=target_ids,
                target_weights=weights,
            ))
            advance()
    return examples


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def weighted_encode(tokenizer, text: str, reasoning: float,
                    answer: float) -> tuple[list[int], list[float]]:
    """``text``'s ids (as ``encode`` gives them) and each one's loss weight."""
    from vtedge.train.token_weights import trace_weights

    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return encoded["input_ids"], trace_weights(text, encoded["offset_mapping"], reasoning,
                                               answer)


def pixel_inputs(examples: Sequence[Example], spec: VisionSpec, device, dtype):
    """``pixel_values_videos``, ``video_grid_thw`` and ``second_per_grid_ts`` of a batch.

    On CUDA the uint8 frames go to the device and the Triton kernel tokenizes the whole
    batch in one launch; on CPU numpy ``patchify`` does it (bit-identical in fp32).
    """
    import torch

    from vtedge.patchify import patchify

    if getattr(device, "type", str(device)) == "cuda":
        from vtedge.kernels import frame_tokenize_packed

        clips = [torch.from_numpy(e.frames).to(device, non_blocking=True) for e in examples]
        pixel_values, grids = frame_tokenize_packed(clips, spec, dtype=dtype)
    else:
        parts = [patchify(e.frames, spec) for e in examples]
        pixel_values = torch.from_numpy(np.concatenate([p for p, _ in parts])).to(device, dtype)
        grids = torch.tensor([g for _, g in parts], dtype=torch.long, device=device)
    for example, grid in zip(examples, grids.tolist(), strict=True):
        if tuple(grid) != example.grid_thw:
            raise BudgetError(f"{example.record.where}: patch grid {grid} does not match the "
                              f"clip's {example.grid_thw}")
    seconds = torch.tensor([e.second_per_grid_t for e in examples], dtype=torch.float32,
                           device=device)
    return {"pixel_values_videos": pixel_values, "video_grid_thw": grids,
            "second_per_grid_ts": seconds}


def token_types(input_ids, video_token_id: int):
    """``mm_token_type_ids``: transformers needs them to build the 3-D M-RoPE positions."""
    import torch

    return (input_ids == video_token_id).to(torch.int32) * VIDEO_TOKEN_TYPE


def sft_batch(examples: Sequence[Example], spec: VisionSpec, pad_id: int, video_token_id: int,
              device, dtype) -> dict:
    """Right-padded prompt+target sequences with labels only on the target tokens, and
    ``label_weights`` (0 off the labels) when any example weights its tokens."""
    import torch

    length = max(len(e.prompt_ids) + len(e.target_ids) for e in examples)
    input_ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), length), IGNORE_INDEX, dtype=torch.long)
    weights = (torch.zeros((len(examples), length), dtype=torch.float32)
               if any(e.target_weights for e in examples) else None)
    attention = torch.zeros((len(examples), length), dtype=torch.long)
    for row, example in enumerate(examples):
        ids = example.prompt_ids + example.target_ids
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, len(example.prompt_ids): len(ids)] = torch.tensor(example.target_ids)
        if weights is not None:
            weights[row, len(example.prompt_ids): len(ids)] = torch.tensor(
                example.target_weights or [1.0] * len(example.target_ids))
        attention[row, : len(ids)] = 1
    batch = {"input_ids": input_ids.to(device), "attention_mask": attention.to(device),
             "labels": labels.to(device)}
    if weights is not None:
        batch["label_weights"] = weights.to(device)
    batch["mm_token_type_ids"] = token_types(batch["input_ids"], video_token_id)
    batch.update(pixel_inputs(examples, spec, device, dtype))
    return batch


def prompt_batch(examples: Sequence[Example], spec: VisionSpec, pad_id: int,
                 video_token_id: int, device, dtype, shuffle_frames_seed: int | None = None
                 ) -> dict:
    """Left-padded prompts for generation (every row ends at the same position).

    ``shuffle_frames_seed`` permutes each clip's frames (T-GRPO's shuffled-order rollout).
    """
    import torch

    if shuffle_frames_seed is not None:
        rng = np.random.default_rng(shuffle_frames_seed)
        examples = [shuffled_frames(e, rng) for e in examples]
    length = max(len(e.prompt_ids) for e in examples)
    input_ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(examples), length), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example.prompt_ids)
        input_ids[row, length - n:] = torch.tensor(example.prompt_ids)
        attention[row, length - n:] = 1
    batch = {"input_ids": input_ids.to(device), "attention_mask": attention.to(device)}
    batch["mm_token_type_ids"] = token_types(batch["input_ids"], video_token_id)
    batch.update(pixel_inputs(examples, spec, device, dtype))
    return batch


def shuffled_frames(example: Example, rng: np.random.Generator) -> Example:
    """The same example with its frames in a random order (same grid, same tokens)."""
    order = rng.permutation(len(example.frames))
    return replace(example, frames=example.frames[order])


def repeat_batch(batch: dict, times: int) -> dict:
    """Each prompt ``times`` times in a row (G completions per prompt), videos included."""
    import torch

    out = {}
    rows = batch["input_ids"].shape[0]
    for key in ("input_ids", "attention_mask", "mm_token_type_ids", "video_grid_thw",
                "second_per_grid_ts"):
        out[key] = batch[key].repeat_interleave(times, dim=0)
    sizes = batch["video_grid_thw"].prod(-1).tolist()
    chunks = torch.split(batch["pixel_values_videos"], sizes)
    assert len(chunks) == rows
    out["pixel_values_videos"] = torch.cat([c for c in chunks for _ in range(times)])
    return out
