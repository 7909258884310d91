"""Rollouts: G sampled completions per prompt, behind a small interface.

``RolloutEngine.generate`` takes a left-padded prompt batch (ids, masks, video patches,
grids, ``second_per_grid_ts``) and returns completion token ids. The in-process engine here
samples from the policy itself, each prompt prefilled once for its G samples.

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


class InProcessRollout:
    """Sampling on the policy itself, so it is always in sync: each distinct prompt is
    prefilled once (vision tower included) and its G samples decode from copies of its
    key/value cache. Temperature, nucleus (``top_p``) and greedy decoding as transformers'
    ``generate`` does them; vision placeholders are never sampled."""

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

        from vtedge.train.shared_prompt import causal_lm, continue_after, prefill

        lm = causal_lm(self.model)
        core = lm.model
        rows = prompts["input_ids"].shape[0] * num_generations
        device = prompts["input_ids"].device
        owners = torch.arange(prompts["input_ids"].shape[0], device=device
                              ).repeat_interleave(num_generations)
        banned = torch.tensor(sorted(vision_placeholder_ids(vars(self.model.config))),
                              dtype=torch.long, device=device)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            head = prefill(core, prompts, owners)
            logits = lm.lm_head(head.last_hidden[:, -1])
            position, attention = head.next_position, head.attention
            finished = torch.zeros(rows, dtype=torch.bool, device=device)
            tokens = []
            for _ in range(max_new_tokens):
                logits = logits.float()
                logits[:, banned] = float("-inf")
                token = next_tokens(logits, temperature, top_p, greedy)
                token = torch.where(finished, torch.full_like(token, self.pad_id), token)
                tokens.append(token)
                finished |= token == self.eos_id
                if bool(finished.all()) or len(tokens) == max_new_tokens:
                    break
                attention = torch.cat([attention, attention.new_ones(rows, 1)], dim=1)
                hidden = continue_after(
                    core, head.cache, input_ids=token[:, None], attention_mask=attention,
                    position_ids=position.view(1, rows, 1).expand(3, -1, -1)).last_hidden_state
                logits = lm.lm_head(hidden[:, -1])
                position = position + 1
        self.model.train(was_training)
        return trim_completions(torch.stack(tokens, dim=1), self.eos_id, self.pad_id)


def next_tokens(logits, temperature: float, top_p: float, greedy: bool):
    """One token per row: the argmax, or a sample from the temperature-scaled distribution
    cut to its smallest set of tokens holding ``top_p`` of the mass."""
    import torch

    if greedy:
        return logits.argmax(dim=-1)
    logits = logits / temperature
    if top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        ordered = ordered.masked_fill(probs.cumsum(dim=-1) - probs >= top_p, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, ordered)
    return torch.multinomial(logits.softmax(dim=-1), 1).squeeze(-1)


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
