"""Rollouts: G sampled completions per prompt, behind a small interface.

``RolloutEngine.generate`` takes a left-padded prompt batch (ids, masks, video patches,
grids, ``second_per_grid_ts``) and returns completion token ids. The in-process engine here
calls transformers' ``generate`` on the policy itself, so it is always in sync.

The vLLM seam: on GPU clusters an engine with the same method can forward the prompts to a
vLLM server (``trl vllm-serve``-style, Qwen2.5-VL supported) as
``{"prompt_token_ids": ..., "multi_modal_data": {"video": frames}}`` with
``SamplingParams(n=G, temperature=..., top_p=..., max_tokens=...)``, and must receive the
policy's weights after every optimizer step (``sync_weights(model)``). It is not
implemented here because no vLLM runs where this is tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vtedge.runtime import vision_placeholder_ids


@dataclass
class Completions:
    """``ids`` (N, L) right-padded with ``pad_id``; ``mask`` 1 on real tokens, through the
    first end-of-turn token inclusive; rows are prompt-major (G rows per prompt)."""

    ids: object
    mask: object
    lengths: list[int]
    truncated: list[bool]  # ran out of max_new_tokens before ending the turn


class RolloutEngine(Protocol):
    def generate(self, prompts: dict, num_generations: int, *, max_new_tokens: int,
                 temperature: float = 1.0, top_p: float = 1.0, greedy: bool = False,
                 ) -> Completions: ...

    def sync_weights(self, model) -> None: ...


class HFGenerateRollout:
    """Sampling with ``model.generate`` (KV cache, M-RoPE positions from transformers)."""

    def __init__(self, model, eos_id: int, pad_id: int):
        self.model = model
        self.eos_id = eos_id
        self.pad_id = pad_id

    def sync_weights(self, model) -> None:
        self.model = model  # same process, same tensors: nothing to copy

    def generate(self, prompts: dict, num_generations: int, *, max_new_tokens: int,
                 temperature: float = 1.0, top_p: float = 1.0, greedy: bool = False,
                 ) -> Completions:
        import torch

        from vtedge.train.batch import repeat_batch

        inputs = repeat_batch(prompts, num_generations) if num_generations > 1 else prompts
        prompt_len = inputs["input_ids"].shape[1]
        was_training = self.model.training
        self.model.eval()
        sampling = {"do_sample": False} if greedy else {
            "do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
        placeholders = sorted(vision_placeholder_ids(vars(self.model.config)))
        with torch.no_grad():
            sequences = self.model.generate(
                **inputs, max_new_tokens=max_new_tokens, eos_token_id=self.eos_id,
                pad_token_id=self.pad_id, use_cache=True, suppress_tokens=placeholders,
                **sampling,
            )
        self.model.train(was_training)
        # Cached M-RoPE deltas belong to this batch; a later forward must recompute them.
        inner = getattr(self.model, "model", None)
        if inner is not None and hasattr(inner, "rope_deltas"):
            inner.rope_deltas = None
        return trim_completions(sequences[:, prompt_len:], self.eos_id, self.pad_id)


def trim_completions(generated, eos_id: int, pad_id: int) -> Completions:
    """Cut every row after its first end-of-turn token and build the loss mask."""
    import torch

    rows, width = generated.shape
    is_eos = generated == eos_id
    has_eos = is_eos.any(dim=1)
    first = torch.where(has_eos, is_eos.int().argmax(dim=1),
                        torch.full((rows,), width - 1, device=generated.device))
    positions = torch.arange(width, device=generated.device).unsqueeze(0)
    mask = (positions <= first.unsqueeze(1)).long()
    lengths = mask.sum(dim=1)
    keep = max(1, int(lengths.max()))
    ids = torch.where(mask.bool(), generated, torch.full_like(generated, pad_id))[:, :keep]
    return Completions(ids=ids, mask=mask[:, :keep], lengths=lengths.tolist(),
                       truncated=(~has_eos).tolist())
