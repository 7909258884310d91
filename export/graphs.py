"""The three exportable graphs of a Qwen2.5-VL model, as plain torch modules.

``DecoderGraph`` rewrites the text decoder's forward with explicit tensors for the KV
cache (no cache objects, nothing data-dependent), in the onnx-community layout:
``inputs_embeds``, ``attention_mask``, ``position_ids (3, B, S)``,
``past_key_values.{i}.key|value`` -> ``logits``, ``present.{i}.key|value``. It reuses the
model's own modules (norms, projections, MLPs), computes RoPE, masks and softmax in
float32, and matches ``Qwen2_5_VLForConditionalGeneration`` to float rounding.

``VisionGraph`` runs the vision tower for one frame size and any number of frames: the
window partition and rotary tables depend on the frame's patch grid only, so tracing bakes
them in once and the temporal patches run as a batch.
"""

from __future__ import annotations

import torch
from torch import nn


class EmbedGraph(nn.Module):
    """``input_ids (B, S) int64 -> inputs_embeds (B, S, hidden)``."""

    def __init__(self, model):
        super().__init__()
        self.embed_tokens = model.model.language_model.embed_tokens

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embed_tokens(input_ids)


class LinearPatchEmbed(nn.Module):
    """The patch embedding's Conv3d (kernel = stride = one patch) as the matmul it is, so
    it exports as MatMul, which every INT8 recipe quantizes, instead of a 5-D Conv."""

    def __init__(self, conv: nn.Conv3d):
        super().__init__()
        self.weight = nn.Parameter(conv.weight.detach().reshape(conv.weight.shape[0], -1).t(),
                                   requires_grad=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return torch.matmul(hidden_states.to(self.weight.dtype), self.weight)


class VisionGraph(nn.Module):
    """``pixel_values (T·h·w, patch_dim) -> image_features (T·h·w / merge², hidden)``.

    Qwen2.5-VL's vision tower never mixes temporal patches: window and full attention both
    stay inside one (cu_seqlens restart at every temporal patch), and its rotary positions
    are (row, column) only. So the tower is traced for one temporal patch of an ``h x w``
    grid and runs the ``T`` patches of any clip as a batch: the frame count is a dynamic
    axis. The window order, rotary tables and window layout are computed once, from the
    model's own helpers, and baked in as constants. Window layers gather each window's
    rows, padded to the longest window, and attend within them: exact, batched, and
    O(S·window) per frame like the tower's own split windows.

    Use as a context manager around export: it swaps the vision tower's patch embedding
    for ``LinearPatchEmbed`` and puts the original back afterwards.
    """

    def __init__(self, model, grid_hw: tuple[int, int]):
        super().__init__()
        from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as qwen

        self.visual = visual = model.model.visual
        config = visual.config
        grid = torch.tensor([[1, *grid_hw]], dtype=torch.long)
        self.patches = grid_hw[0] * grid_hw[1]
        self.unit = visual.spatial_merge_unit
        window_index, cu_windows = qwen.get_vision_window_index(
            grid, spatial_merge_size=visual.spatial_merge_size, window_size=visual.window_size,
            patch_size=visual.patch_size, kwargs={})
        positions = qwen.get_vision_position_ids(grid, visual.spatial_merge_size, kwargs={})
        anchor = torch.zeros(1, dtype=torch.float32)
        cos, sin = (self._window_order(table.float(), window_index)
                    for table in visual.rotary_pos_emb(anchor, positions))
        self.register_buffer("window_index", window_index, persistent=False)
        self.register_buffer("restore_index", torch.argsort(window_index), persistent=False)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self._register_windows(cu_windows)
        self.full_attention = set(config.fullatt_block_indexes)

    def _window_order(self, rows: torch.Tensor, window_index: torch.Tensor) -> torch.Tensor:
        """Patch rows reordered window by window, as the tower orders its sequence."""
        grouped = rows.reshape(self.patches // self.unit, self.unit, -1)
        return grouped[window_index].reshape(self.patches, -1)

    def _register_windows(self, cu_windows: torch.Tensor) -> None:
        """The padded window layout: ``window_rows`` gathers every window's rows, padded to
        the longest (``window_width``); ``window_keys (n, 1, width)`` hides the padding
        from every query; ``window_place`` finds each row again in the padded layout."""
        bounds = cu_windows.long()
        starts, sizes = bounds[:-1], bounds.diff()
        self.window_width = int(sizes.max())
        offsets = torch.arange(self.window_width)
        real = offsets[None, :] < sizes[:, None]
        rows = torch.where(real, starts[:, None] + offsets, 0)
        padded = torch.arange(len(sizes))[:, None] * self.window_width + offsets
        self.register_buffer("window_rows", rows.reshape(-1), persistent=False)
        self.register_buffer("window_keys", torch.where(real, 0.0, -1e9)[:, None, :],
                             persistent=False)
        self.register_buffer("window_place", padded[real], persistent=False)

    def __enter__(self):
        self._conv_embed = self.visual.patch_embed
        self.visual.patch_embed = LinearPatchEmbed(self._conv_embed.proj)
        return self

    def __exit__(self, *exc):
        self.visual.patch_embed = self._conv_embed

    def attention(self, block, hidden: torch.Tensor, windowed: bool) -> torch.Tensor:
        """One block's attention over ``(T, S, C)``, within each window or over the whole
        frame; rotary and softmax in float32."""
        attn = block.attn
        frames, length, channels = hidden.shape
        qkv = attn.qkv(hidden).reshape(frames, length, 3, attn.num_heads, attn.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (T, heads, S, head_dim)
        q = (q.float() * self.cos + _rotate_half(q.float()) * self.sin).to(v.dtype)
        k = (k.float() * self.cos + _rotate_half(k.float()) * self.sin).to(v.dtype)
        if windowed:  # each (T, heads, windows, width, head_dim)
            q, k, v = (x.index_select(2, self.window_rows).unflatten(2, (-1, self.window_width))
                       for x in (q, k, v))
        scores = torch.matmul(q, k.transpose(-1, -2)) * attn.scaling
        if windowed:
            scores = scores + self.window_keys
        probs = torch.softmax(scores.float(), dim=-1).to(v.dtype)
        out = torch.matmul(probs, v)
        if windowed:
            out = out.flatten(2, 3).index_select(2, self.window_place)
        return attn.proj(out.transpose(1, 2).reshape(frames, length, channels))

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden = self.visual.patch_embed(pixel_values)
        channels = hidden.shape[-1]
        hidden = hidden.reshape(-1, self.patches // self.unit, self.unit, channels)
        hidden = hidden[:, self.window_index].reshape(-1, self.patches, channels)
        for index, block in enumerate(self.visual.blocks):
            windowed = index not in self.full_attention
            hidden = hidden + self.attention(block, block.norm1(hidden), windowed)
            hidden = hidden + block.mlp(block.norm2(hidden))
        merged = self.visual.merger(hidden.reshape(-1, channels))
        merged = merged.reshape(-1, self.patches // self.unit, merged.shape[-1])
        return merged[:, self.restore_index].reshape(-1, merged.shape[-1])


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class DecoderGraph(nn.Module):
    """The text decoder with an explicit KV cache; see the module docstring for the layout."""

    def __init__(self, model):
        super().__init__()
        language = model.model.language_model
        config = language.config
        self.layers = language.layers
        self.norm = language.norm
        self.lm_head = model.lm_head
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.mrope_section = list(language.rotary_emb.mrope_section)
        self.register_buffer("inv_freq", language.rotary_emb.inv_freq.float().clone(),
                             persistent=False)

    def rotary(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 1, S, head_dim)`` cos and sin: each frequency band takes its M-RoPE axis."""
        freqs = position_ids[..., None].float() * self.inv_freq  # (3, B, S, head_dim/2)
        bands = freqs.split(self.mrope_section, dim=-1)
        freqs = torch.cat([band[i % 3] for i, band in enumerate(bands)], dim=-1)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]

    def attention_bias(self, attention_mask: torch.Tensor, query_length: int,
                       past_length: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, P+S)`` additive float32 mask: causal and padding, -1e9 where masked.

        A finite value keeps fully masked (padding) query rows finite instead of NaN.
        """
        total = attention_mask.shape[-1]
        keys = torch.arange(total, device=attention_mask.device)
        queries = torch.arange(query_length, device=attention_mask.device) + past_length
        allowed = (keys[None, :] <= queries[:, None])[None, None] \
            & attention_mask[:, None, None, :].bool()
        zero = torch.zeros((), dtype=torch.float32)
        return torch.where(allowed, zero, torch.full((), -1e9, dtype=torch.float32))

    def forward(self, inputs_embeds, attention_mask, position_ids, *past):
        batch, length, _ = inputs_embeds.shape
        past_length = past[0].shape[2]
        cos, sin = self.rotary(position_ids)
        bias = self.attention_bias(attention_mask, length, past_length)
        groups = self.heads // self.kv_heads
        hidden = inputs_embeds
        presents = []
        for index, layer in enumerate(self.layers):
            attn = layer.self_attn
            x = layer.input_layernorm(hidden)
            q = attn.q_proj(x).view(batch, length, self.heads, self.head_dim).transpose(1, 2)
            k = attn.k_proj(x).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            v = attn.v_proj(x).view(batch, length, self.kv_heads, self.head_dim).transpose(1, 2)
            q = q.float() * cos + _rotate_half(q.float()) * sin
            k = k.float() * cos + _rotate_half(k.float()) * sin
            k = torch.cat([past[2 * index], k], dim=2)
            v = torch.cat([past[2 * index + 1], v], dim=2)
            presents += [k, v]
            k = k.repeat_interleave(groups, dim=1) if groups > 1 else k
            v = v.repeat_interleave(groups, dim=1) if groups > 1 else v
            scores = torch.matmul(q, k.transpose(2, 3)) * attn.scaling + bias
            probs = torch.softmax(scores.float(), dim=-1).to(v.dtype)
            out = torch.matmul(probs, v).transpose(1, 2).reshape(batch, length, -1)
            hidden = hidden + attn.o_proj(out)
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        logits = self.lm_head(self.norm(hidden)).float()
        return (logits, *presents)
