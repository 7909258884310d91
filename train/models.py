"""The model a run starts from: a local Qwen2.5-VL checkpoint directory or a named preset.

Nothing is fetched from a hub. A preset gets a tokenizer trained on the run's own text
(system prompt, user template, questions, traces) unless one is given, so a preset model
and its tokenizer always match.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vtedge.errors import MissingPathError
from vtedge.spec import VisionSpec


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    spec: VisionSpec
    preset: str | None  # the preset name, or None for a checkpoint directory
    meta: dict


def is_preset(name: str) -> bool:
    """A preset name that is not also an existing path (a folder named vt-tiny wins)."""
    from vtedge.train.presets import MODEL_PRESETS

    return name in MODEL_PRESETS and not Path(name).exists()


def tokenizer_corpus(records) -> list[str]:
    """The text a preset's tokenizer learns from: every record's trace chat, and the
    alignment stage's captions for records that carry segments. The option-reading chat
    adds only its three-word request to the trace chat's text, so it is left out."""
    from vtedge.reasoning import caption_target, render_caption_chat, render_chat, sft_target

    texts = []
    for record in records:
        target = sft_target(record.process, record.solution) if record.process else None
        texts.append(render_chat(record.problem, list(record.options) or None, 0, target))
        if record.segments:
            texts.append(render_caption_chat(0, caption_target(record.segments)))
    return texts


def load_model(name_or_path: str, *, records=(), tokenizer_dir: str | None = None,
               spec: VisionSpec | None = None, seed: int = 0, dtype=None) -> LoadedModel:
    """A preset built fresh (seeded) or a checkpoint loaded from disk, with its vision spec.

    ``spec`` overrides the preset's or checkpoint's spec; a checkpoint vtedge did not write
    gets Video-Thinker's published spec.
    """
    from vtedge.spec import get_spec
    from vtedge.train.checkpoint import check_checkpoint_dir, load_checkpoint
    from vtedge.train.presets import MODEL_PRESETS, build_model
    from vtedge.train.tokenizer import load_tokenizer, train_tokenizer

    if is_preset(name_or_path):
        preset = MODEL_PRESETS[name_or_path]
        if tokenizer_dir is not None:
            if not Path(tokenizer_dir).is_dir():
                raise MissingPathError(f"{tokenizer_dir}: no such tokenizer directory")
            tokenizer = load_tokenizer(tokenizer_dir)
        else:
            tokenizer = train_tokenizer(tokenizer_corpus(records), preset.vocab_size)
        spec = spec or get_spec(preset.spec)
        model = build_model(name_or_path, tokenizer, spec, seed=seed)
        if dtype is not None:
            model = model.to(dtype)
        return LoadedModel(model, tokenizer, spec, name_or_path, {})
    path = Path(name_or_path)
    if not path.exists():
        raise MissingPathError(
            f"{path}: no such checkpoint directory (or use a preset: "
            f"{', '.join(MODEL_PRESETS)})"
        )
    check_checkpoint_dir(path)
    checkpoint = load_checkpoint(path, dtype=dtype)
    return LoadedModel(checkpoint.model, checkpoint.tokenizer, spec or checkpoint.spec, None,
                       checkpoint.meta)
