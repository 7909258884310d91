"""``ask`` through torch: the same prompt and answer as the edge runtime, for a checkpoint.

Models not yet exported still answer, and the bundle can be checked against the model it
came from: prompt preparation and answer parsing are the runtime's own, while positions,
vision features and decoding are transformers' (``generate`` with its ``get_rope_index``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from vtedge.runtime import (
    Answer,
    TextStream,
    load_tokenizer,
    make_answer,
    prepare_prompt,
    resolve_spec,
    stop_token_ids,
    vision_placeholder_ids,
)
from vtedge.spec import VisionSpec


def plain_decoding(token_ids: dict[str, int]) -> dict:
    """``generate`` settings for what the bundle's decode loop does, whatever a checkpoint's
    generation_config.json asks (Qwen2.5-VL's: a repetition penalty of 1.05, which no
    bundle applies): no penalty, and the vision placeholders never sampled."""
    return {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0, "top_k": None,
            "suppress_tokens": sorted(vision_placeholder_ids(token_ids))}


class _TokenStreamer:
    """transformers streamer protocol: forwards generated ids one by one, skipping the prompt."""

    def __init__(self, on_token: Callable[[int], None]):
        self.on_token = on_token
        self.prompt_seen = False
        self.first_token_at: float | None = None

    def put(self, value) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        for token in value.reshape(-1).tolist():
            self.on_token(int(token))

    def end(self) -> None:
        pass


class TorchRuntime:
    """A checkpoint directory in transformers, with ``ask`` like ``BundleRuntime``'s."""

    provider = "torch"

    def __init__(self, path: str | Path, dtype=None):
        from transformers.utils import logging as transformers_logging

        from vtedge.train.checkpoint import load_checkpoint
        from vtedge.train.tokenizer import special_token_ids

        transformers_logging.disable_progress_bar()
        checkpoint = load_checkpoint(path, dtype=dtype)
        self.model = checkpoint.model.eval()
        self.spec = checkpoint.spec
        self.tokenizer = load_tokenizer(path)
        self.token_ids = special_token_ids(checkpoint.tokenizer)

    def ask(self, video: str | Path, question: str, options: list[str] | None = None, *,
            spec: VisionSpec | None = None, max_new_tokens: int = 1024,
            temperature: float = 0.0, top_p: float = 1.0, seed: int = 0,
            on_text: Callable[[str], None] | None = None) -> Answer:
        import torch

        spec = resolve_spec(self.spec, spec)
        config = self.model.config
        video_token = self.token_ids["video_token_id"]
        prompt = prepare_prompt(video, question, options, spec, self.tokenizer, video_token,
                                merge_size=config.vision_config.spatial_merge_size,
                                tokens_per_second=config.vision_config.tokens_per_second)
        input_ids = torch.from_numpy(prompt.input_ids)[None]
        stops = stop_token_ids(self.token_ids)
        stream = TextStream(self.tokenizer, on_text, stops)
        streamer = _TokenStreamer(stream)
        sampled = bool(temperature and temperature > 0)
        torch.manual_seed(seed)
        start = time.perf_counter()
        with torch.no_grad():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                mm_token_type_ids=(input_ids == video_token).int() * 2,
                pixel_values_videos=torch.from_numpy(prompt.pixel_values).to(self.model.dtype),
                video_grid_thw=torch.tensor([list(prompt.clip.grid_thw)]),
                second_per_grid_ts=torch.tensor([prompt.clip.second_per_grid_t]),
                max_new_tokens=max_new_tokens,
                do_sample=sampled,
                temperature=temperature if sampled else None,
                top_p=top_p if sampled else None,
                **plain_decoding(self.token_ids),
                eos_token_id=sorted(stops),
                pad_token_id=self.token_ids["pad_token_id"],
                streamer=streamer,
            )
        end = time.perf_counter()
        new_tokens = int(output.shape[1] - input_ids.shape[1])
        first = streamer.first_token_at or end
        timings = dict(prompt.timings)
        decode_s = end - first
        # generate runs the vision tower inside the prefill; they are timed together.
        timings.update(prefill_s=first - start, decode_s=decode_s, new_tokens=new_tokens,
                       tokens_per_s=(new_tokens - 1) / decode_s if decode_s > 0 else 0.0,
                       prompt_tokens=len(prompt.input_ids))
        return make_answer(stream.text(), options, timings)
