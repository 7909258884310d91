"""LoRA adapters (peft) on the language model's projections; the vision tower is left whole.

Checkpoints stay plain transformers: the adapter is merged into a copy of the model for
``save_pretrained``, and saved beside it (``adapter/``) so a run can resume training it.
Under LoRA the GRPO reference is the same model with its adapter disabled.
"""

from __future__ import annotations

import copy
from pathlib import Path

LANGUAGE_PROJECTIONS = (
    r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
)
ADAPTER_DIR = "adapter"


def apply_lora(model, rank: int = 16, alpha: int = 32, dropout: float = 0.0):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=LANGUAGE_PROJECTIONS, bias="none")
    return get_peft_model(model, config)


def is_lora(model) -> bool:
    return hasattr(model, "peft_config")


def merged_copy(model):
    """A plain transformers model with the adapter folded in; the trained model is untouched."""
    return copy.deepcopy(model).merge_and_unload() if is_lora(model) else model


def save_adapter(model, folder: Path) -> None:
    if is_lora(model):
        model.save_pretrained(str(folder / ADAPTER_DIR), safe_serialization=True)


def load_adapter_weights(model, folder: Path) -> None:
    """Put a saved adapter's weights into ``model`` (already wrapped by ``apply_lora``)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = load_file(str(folder / ADAPTER_DIR / "adapter_model.safetensors"))
    set_peft_model_state_dict(model, weights)
