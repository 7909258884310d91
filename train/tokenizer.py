"""A byte-level BPE tokenizer that vtedge trains itself, with Qwen2.5-VL's special tokens.

Tiny presets cannot afford Qwen's 151k vocabulary; a few thousand merges learned from the
prompts and traces they will see keep sequences short and the embedding table small.
Byte-level, so any text still encodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048):
    """Learn a byte-level BPE over ``texts``; returns a transformers fast tokenizer.

    Special tokens take the first ids, in Qwen's order, so they never split.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(QWEN_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
    )


def load_tokenizer(path: str | Path):
    """The tokenizer saved in a checkpoint directory (never fetched from a hub)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def special_token_ids(tokenizer) -> dict[str, int]:
    """Ids the model config and the runtime need, looked up rather than assumed."""
    from vtedge.reasoning.prompts import TOKEN_OF_ID

    return {name: tokenizer.convert_tokens_to_ids(token) for name, token in TOKEN_OF_ID.items()}
