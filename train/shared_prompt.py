"""Leading tokens that several rows share, run once: the rows continue from their copy of
its key/value cache. Same logits as the full rows, to float rounding; gradients reach the
shared part through the cache.

- GRPO: the G completions of a prompt share all of its few hundred tokens (system prompt,
  video, question), so the policy, old-policy and reference passes run each distinct
  prompt once, vision tower included, for about 1/G of the prompt's compute.
- SFT: every trace prompt starts with the same system prompt (~250 of ~540 tokens); a
  batch runs it once and only the rest per row.
- Rollouts prefill each prompt once for its G samples (``rollout.InProcessRollout``).

A DDP, FSDP or DeepSpeed wrapper must see the whole forward, so the trainers use this only
on a model that runs unwrapped (one process).
"""

from __future__ import annotations

import functools
import inspect
from typing import NamedTuple


def causal_lm(model):
    """The ``Qwen2_5_VLForConditionalGeneration`` under a peft wrapper (LoRA layers stay)."""
    return model.get_base_model() if hasattr(model, "peft_config") else model


def rope_positions(core, batch: dict):
    """M-RoPE positions ``(3, B, L)`` of a batch, as transformers computes them."""
    return core.get_rope_index(
        batch["input_ids"], mm_token_type_ids=batch["mm_token_type_ids"],
        video_grid_thw=batch.get("video_grid_thw"),
        second_per_grid_ts=batch.get("second_per_grid_ts"),
        attention_mask=batch["attention_mask"])[0]


@functools.cache
def cache_name(core_type) -> str:
    """What ``core_type``'s forward and its output call the key/value cache. transformers
    5.24 renamed ``past_key_values`` to ``cache`` (the old names warn; the argument goes in
    5.40). Read once per class: rollouts call the forward once a token."""
    return "cache" if "cache" in inspect.signature(core_type.forward).parameters else (
        "past_key_values")


def continue_after(core, cache, **inputs):
    """``core(**inputs)`` on tokens that follow ``cache``."""
    return core(**inputs, **{cache_name(type(core)): cache}, use_cache=True)


def fan_out(cache, owners) -> None:
    """Give row ``b`` its own copy of row ``owners[b]`` of every layer's keys and values."""
    for layer in cache.layers:
        layer.keys = layer.keys.index_select(0, owners)
        layer.values = layer.values.index_select(0, owners)


class Prefilled(NamedTuple):
    """Each row's view of its prompt after one prefill: its own cache, the prompt's last
    hidden state ``(B, 1, H)``, the position of the row's next token, its attention mask."""

    cache: object
    last_hidden: object
    next_position: object
    attention: object


def prefill(core, prompts: dict, owners) -> Prefilled:
    """Run the distinct left-padded ``prompts`` once and hand row ``b`` a copy of prompt
    ``owners[b]`` (a long tensor). Left padding puts every prompt's last token last, and
    text after it continues 1-D positions on all three M-RoPE axes."""
    positions = rope_positions(core, prompts)
    head = core(**prompts, position_ids=positions, use_cache=True)
    cache = head[cache_name(type(core))]
    fan_out(cache, owners)
    return Prefilled(cache, head.last_hidden_state[:, -1:].index_select(0, owners),
                     positions[0, :, -1].index_select(0, owners) + 1,
                     prompts["attention_mask"].index_select(0, owners))


def shared_prompt_logits(model, prompts: dict, owners, completion_ids, completion_mask):
    """Logits that predict each completion token, ``(B, L, V)``, as ``completion_logits``
    gives them for the concatenated sequences.

    ``prompts`` is a left-padded ``prompt_batch`` of the distinct prompts; ``owners[b]`` is
    the prompt row completion ``b`` continues (a long tensor).
    """
    import torch

    lm = causal_lm(model)
    core = lm.model
    head = prefill(core, prompts, owners)
    steps = head.next_position[:, None] + torch.arange(completion_ids.shape[1],
                                                       device=completion_ids.device)
    tail = continue_after(core, head.cache, input_ids=completion_ids,
                          attention_mask=torch.cat([head.attention, completion_mask], dim=1),
                          position_ids=steps.unsqueeze(0).expand(3, -1, -1)).last_hidden_state
    # fp32 like the wrapped model's outputs under autocast, for the log-softmax.
    return lm.lm_head(torch.cat([head.last_hidden, tail[:, :-1]], dim=1)).float()


def common_prefix_length(batch: dict) -> int:
    """Leading tokens identical in every row, up to the first vision token (whose
    embeddings come from each row's own video)."""
    ids = batch["input_ids"]
    shared = (ids == ids[:1]).all(dim=0) & (batch["mm_token_type_ids"] == 0).all(dim=0)
    shared &= batch["attention_mask"].bool().all(dim=0)
    return int(shared.long().cumprod(dim=0).sum())


def shared_prefix_logits(model, batch: dict) -> tuple[object, int]:
    """``(logits, start)``: the logits of positions ``start..`` of a right-padded batch whose
    rows share their first ``start`` tokens, that prefix run once. Labels before ``start``
    must be ignored (it is prompt); with no shared prefix, every position's logits."""
    import torch

    start = common_prefix_length(batch)
    if start < 2 or batch["input_ids"].shape[0] < 2:
        return model(**batch).logits, 0
    lm = causal_lm(model)
    core = lm.model
    prefix = {k: batch[k][:1, :start] for k in ("input_ids", "attention_mask",
                                                 "mm_token_type_ids")}
    ids = batch["input_ids"]
    head = prefill(core, prefix, torch.zeros(ids.shape[0], dtype=torch.long, device=ids.device))
    rest = {k: v for k, v in batch.items() if k not in ("input_ids", "mm_token_type_ids")}
    tail = continue_after(core, head.cache, input_ids=ids[:, start:],
                          position_ids=rope_positions(core, batch)[:, :, start:],
                          **rest).last_hidden_state
    return lm.lm_head(tail).float(), start
