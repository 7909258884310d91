"""Named model presets: Qwen2.5-VL architecture at sizes that train on a laptop CPU.

Same classes as the published 7B (``Qwen2_5_VLForConditionalGeneration``), so every code
path — M-RoPE, window attention, the patch merger, export — is exercised at tiny scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from vtedge.errors import ModelError
from vtedge.spec import VisionSpec


@dataclass(frozen=True)
class ModelPreset:
    """Sizes of one preset; the vision tower's patch geometry comes from the vision spec."""

    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    intermediate_size: int
    vision_hidden_size: int
    vision_depth: int
    vision_heads: int
    vision_intermediate_size: int
    vocab_size: int
    spec: str


MODEL_PRESETS: dict[str, ModelPreset] = {
    # ~1.9M parameters with a 2k vocabulary: trains on 2 CPU cores.
    "vt-tiny": ModelPreset(
        hidden_size=128, layers=4, heads=4, kv_heads=2, intermediate_size=384,
        vision_hidden_size=128, vision_depth=2, vision_heads=4, vision_intermediate_size=256,
        vocab_size=2048, spec="tiny",
    ),
    # ~18M parameters: a larger CPU-scale model, e.g. a teacher for distillation into vt-tiny.
    "vt-small": ModelPreset(
        hidden_size=384, layers=8, heads=6, kv_heads=2, intermediate_size=1024,
        vision_hidden_size=256, vision_depth=4, vision_heads=4, vision_intermediate_size=512,
        vocab_size=4096, spec="tiny",
    ),
}


def get_model_preset(name: str) -> ModelPreset:
    try:
        return MODEL_PRESETS[name]
    except KeyError:
        raise ModelError(
            f"unknown model preset {name!r}; choose one of {', '.join(MODEL_PRESETS)}"
        ) from None


def preset_config(preset: ModelPreset, token_ids: dict[str, int], vocab_size: int,
                  spec: VisionSpec):
    """A ``Qwen2_5_VLConfig`` for ``preset`` with the tokenizer's special-token ids."""
    from transformers import Qwen2_5_VLConfig

    head_dim = preset.hidden_size // preset.heads
    # Qwen2.5-VL splits the rotary half-dim 1:1.5:1.5 over (time, height, width).
    quarter = head_dim // 8
    mrope_section = [quarter, (head_dim // 2 - quarter) // 2, head_dim // 2 - quarter
                     - (head_dim // 2 - quarter) // 2]
    text_config = {
        "vocab_size": vocab_size,
        "hidden_size": preset.hidden_size,
        "intermediate_size": preset.intermediate_size,
        "num_hidden_layers": preset.layers,
        "num_attention_heads": preset.heads,
        "num_key_value_heads": preset.kv_heads,
        "max_position_embeddings": 4096,
        "max_window_layers": preset.layers,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                            "mrope_section": mrope_section},
        "bos_token_id": token_ids["bos_token_id"],
        "eos_token_id": token_ids["eos_token_id"],
        "pad_token_id": token_ids["pad_token_id"],
        "tie_word_embeddings": True,
    }
    vision_config = {
        "depth": preset.vision_depth,
        "hidden_size": preset.vision_hidden_size,
        "intermediate_size": preset.vision_intermediate_size,
        "num_heads": preset.vision_heads,
        "out_hidden_size": preset.hidden_size,
        "patch_size": spec.patch_size,
        "spatial_merge_size": spec.merge_size,
        "temporal_patch_size": spec.temporal_patch_size,
        "tokens_per_second": spec.tokens_per_second,
        "window_size": spec.patch_size * spec.merge_size * 4,
        "fullatt_block_indexes": [preset.vision_depth - 1],
    }
    return Qwen2_5_VLConfig(
        text_config=text_config,
        vision_config=vision_config,
        image_token_id=token_ids["image_token_id"],
        video_token_id=token_ids["video_token_id"],
        vision_start_token_id=token_ids["vision_start_token_id"],
        vision_end_token_id=token_ids["vision_end_token_id"],
        tie_word_embeddings=True,
    )


def build_model(name: str, tokenizer, spec: VisionSpec | None = None, seed: int = 0):
    """A freshly initialised preset model matching ``tokenizer``'s vocabulary and ids."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from vtedge.spec import get_spec
    from vtedge.train.tokenizer import special_token_ids

    preset = get_model_preset(name)
    spec = spec or get_spec(preset.spec)
    config = preset_config(preset, special_token_ids(tokenizer), len(tokenizer), spec)
    torch.manual_seed(seed)
    return Qwen2_5_VLForConditionalGeneration(config)
