"""GRPO's log-prob passes with each prompt run once per group instead of once per completion.

The G completions of a prompt share all of its few hundred tokens (system prompt, video,
question); the policy, old-policy and reference passes differ only on the completions. So
the distinct prompts run once, through the vision tower too, and every completion runs
against its prompt's key/value cache: the logits of the full sequences, to float rounding,
for about 1/G of the prompt's compute. Gradients reach the prompt through the cache.
"""

from __future__ import annotations


def causal_lm(model):
    """The ``Qwen2_5_VLForConditionalGeneration`` under a peft wrapper (LoRA layers stay)."""
    return model.get_base_model() if hasattr(model, "peft_config") else model


def shared_prompt_logits(model, prompts: dict, owners, completion_ids, completion_mask):
    """Logits that predict each completion token, ``(B, L, V)``, as ``completion_logits``
    gives them for the concatenated sequences.

    ``prompts`` is a left-padded ``prompt_batch`` of the distinct prompts; ``owners[b]`` is
    the prompt row completion ``b`` continues (a long tensor).
    """
    import torch

    lm = causal_lm(model)
    core = lm.model
    positions, _ = core.get_rope_index(
        prompts["input_ids"], mm_token_type_ids=prompts["mm_token_type_ids"],
        video_grid_thw=prompts["video_grid_thw"],
        second_per_grid_ts=prompts["second_per_grid_ts"],
        attention_mask=prompts["attention_mask"])
    head = core(**prompts, position_ids=positions, use_cache=True)
    cache = head.past_key_values
    for layer in cache.layers:
        layer.keys = layer.keys.index_select(0, owners)
        layer.values = layer.values.index_select(0, owners)
    # Left padding puts every prompt's last token last; completion text continues 1-D
    # positions from it on all three M-RoPE axes.
    length = completion_ids.shape[1]
    start = positions[0, :, -1].index_select(0, owners) + 1
    steps = start[:, None] + torch.arange(length, device=start.device)
    attention = torch.cat([prompts["attention_mask"].index_select(0, owners), completion_mask],
                          dim=1)
    tail = core(input_ids=completion_ids, attention_mask=attention,
                position_ids=steps.unsqueeze(0).expand(3, -1, -1), past_key_values=cache,
                use_cache=True).last_hidden_state
    last_prompt = head.last_hidden_state[:, -1:].index_select(0, owners)
    # fp32 like the wrapped model's outputs under autocast, for the log-softmax.
    return lm.lm_head(torch.cat([last_prompt, tail[:, :-1]], dim=1)).float()
