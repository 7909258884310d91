"""``ask``: one video and one question to grounded reasoning and an answer, torch-free.

The pipeline is decode (``load_clip``) -> ``patchify`` -> the published chat prompt ->
token ids (``tokenizers``, from the bundle's ``tokenizer.json``) -> M-RoPE positions on
the host -> vision encoder -> embeddings with the video features scattered into the
``<|video_pad|>`` slots -> prefill -> KV-cached decoding, streaming text as it comes.
The prompt and answer steps are shared with the torch path (``vtedge.train.infer``) so
the two differ only in the model that runs.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vtedge.bundle import TOKENIZER, Bundle, check_bucket, is_bundle, verify_bundle
from vtedge.errors import BudgetError, BundleError, MissingPathError, ModelError
from vtedge.spec import VisionSpec

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"


@dataclass
class Prompt:
    """Everything the model reads for one question, computed on the host."""

    clip: object
    pixel_values: np.ndarray
    input_ids: np.ndarray  # (S,) int64
    position_ids: np.ndarray  # (3, 1, S) int64
    rope_deltas: np.ndarray  # (1, 1) int64
    timings: dict[str, float]


@dataclass
class Answer:
    """What ``ask`` returns; ``to_dict`` is the ``--json`` object."""

    answer: str | None
    answer_text: str | None
    segments: list[dict]
    raw: str
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def load_tokenizer(path: str | Path):
    """The ``tokenizers`` tokenizer in ``tokenizer.json`` (no transformers needed)."""
    from tokenizers import Tokenizer

    file = Path(path) / TOKENIZER if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise MissingPathError(f"{file}: no tokenizer.json")
    return Tokenizer.from_file(str(file))


def prepare_prompt(video: str | Path, question: str, options: list[str] | None,
                   spec: VisionSpec, tokenizer, video_token_id: int, *, merge_size: int,
                   tokens_per_second: int) -> Prompt:
    """Decode, patchify, render the chat, tokenize and place the M-RoPE positions."""
    from vtedge.mrope import rope_index
    from vtedge.patchify import patchify
    from vtedge.reasoning import render_chat
    from vtedge.video import load_clip

    timings = {}
    start = time.perf_counter()
    clip = load_clip(video, spec)
    timings["decode_video_s"] = time.perf_counter() - start
    start = time.perf_counter()
    pixel_values, grid = patchify(clip.frames, spec)
    timings["patchify_s"] = time.perf_counter() - start
    text = render_chat(question, options, clip.video_tokens)
    input_ids = np.asarray(tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64)
    found = int((input_ids == video_token_id).sum())
    if found != clip.video_tokens:
        raise ModelError(f"the tokenizer split the video placeholders: {found} of "
                         f"{clip.video_tokens} <|video_pad|> tokens survived")
    positions, deltas = rope_index(input_ids[None], video_token_id, [grid],
                                   [clip.second_per_grid_t], merge_size=merge_size,
                                   tokens_per_second=tokens_per_second)
    return Prompt(clip, pixel_values, input_ids, positions, deltas, timings)


def option_text(options: list[str] | None, letter: str | None) -> str | None:
    """``"red"`` for letter ``A`` of ``["A. red", …]``; ``None`` when it names no option."""
    from vtedge.reasoning.answers import option_letter

    if not options or letter is None:
        return None
    for option in options:
        if option_letter(option) == letter:
            return option.lstrip()[1:].lstrip(" .:)]").strip()
    return None


def make_answer(raw: str, options: list[str] | None, timings: dict[str, float]) -> Answer:
    """Parse what the model wrote into segments and an answer (a letter with options)."""
    from vtedge.reasoning import answer_text, extract_answer_letter, parse

    reasoning = parse(raw)
    segments = [{"start": s.start, "end": s.end, "caption": s.caption, "thought": s.thought}
                for s in reasoning.segments]
    if options:
        letter = extract_answer_letter(raw)
        return Answer(letter, option_text(options, letter), segments, raw, timings)
    free = answer_text(raw).strip() if reasoning.answer is None else reasoning.answer.strip()
    return Answer(free or None, free or None, segments, raw, timings)


class TextStream:
    """Token ids in, new text out: decodes the whole sequence and emits the new suffix,
    holding back a trailing partial UTF-8 character."""

    def __init__(self, tokenizer, on_text: Callable[[str], None] | None, stop_ids: set[int]):
        self.tokenizer, self.on_text, self.stop_ids = tokenizer, on_text, stop_ids
        self.tokens: list[int] = []
        self.sent = 0

    def __call__(self, token: int) -> None:
        if token in self.stop_ids:
            return
        self.tokens.append(token)
        if self.on_text is None:
            return
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=False)
        if text.endswith("\ufffd"):
            return
        if len(text) > self.sent:
            self.on_text(text[self.sent:])
            self.sent = len(text)

    def text(self) -> str:
        return self.tokenizer.decode(self.tokens, skip_special_tokens=False)


def stop_token_ids(token_ids: dict[str, int]) -> set[int]:
    return {token_ids["eos_token_id"], token_ids["pad_token_id"]}


VISION_PLACEHOLDERS = ("image_token_id", "video_token_id", "vision_start_token_id",
                       "vision_end_token_id")


def vision_placeholder_ids(token_ids: dict[str, int]) -> set[int]:
    """Tokens an answer must never hold: they mark where frames go, and a sampled
    ``<|video_pad|>`` makes a training forward look for features that do not exist."""
    return {token_ids[name] for name in VISION_PLACEHOLDERS if token_ids.get(name) is not None}


def resolve_spec(model_spec: VisionSpec, user_spec: VisionSpec | None) -> VisionSpec:
    return user_spec if user_spec is not None else model_spec


class BundleRuntime:
    """A verified bundle loaded into onnxruntime, ready to answer questions."""

    def __init__(self, bundle: str | Path | Bundle, provider: str = "auto",
                 cache_dir: str | Path | None = None, threads: int | None = None,
                 warn: Callable[[str], None] | None = None):
        from vtedge.engine import Engine
        from vtedge.reasoning.prompts import TOKEN_OF_ID

        self.bundle = bundle if isinstance(bundle, Bundle) else verify_bundle(bundle)
        self.spec = self.bundle.spec
        try:
            self.tokenizer = load_tokenizer(self.bundle.file(TOKENIZER))
        except Exception as error:  # tokenizers raises a bare Exception on a bad file
            raise BundleError(f"{self.bundle.path}: unreadable {TOKENIZER} ({error})") from None
        for name, token in TOKEN_OF_ID.items():
            value, found = self.bundle.token_ids.get(name), self.tokenizer.token_to_id(token)
            if value is not None and found != value:
                raise BundleError(f"{self.bundle.path}: the manifest's {name} {value} is not "
                                  f"the tokenizer's {token} ({found})")
        self.warn = warn or (lambda message: warnings.warn(message, RuntimeWarning,
                                                           stacklevel=4))
        self.engine = Engine(self.bundle, provider, cache_dir, threads, self.warn)
        self.provider = self.engine.provider
        self._stretched: set[tuple[int, int]] = set()

    def ask(self, video: str | Path, question: str, options: list[str] | None = None, *,
            spec: VisionSpec | None = None, max_new_tokens: int = 1024,
            temperature: float = 0.0, top_p: float = 1.0, seed: int = 0,
            on_text: Callable[[str], None] | None = None) -> Answer:
        spec = resolve_spec(self.spec, spec)
        ids = self.bundle.token_ids
        prompt = self.prompt(video, question, options, spec)
        self._warn_if_stretched(video, spec, prompt.clip)
        self._check_profile(len(prompt.input_ids), max_new_tokens)
        timings = dict(prompt.timings)
        start = time.perf_counter()
        features = self.engine.encode_video(prompt.pixel_values)
        timings["vision_encoder_s"] = time.perf_counter() - start
        embeds = self.engine.embed(prompt.input_ids)
        embeds[0, prompt.input_ids == ids["video_token_id"]] = features
        stops = stop_token_ids(ids)
        stream = TextStream(self.tokenizer, on_text, stops)
        generation = self.engine.generate(
            embeds, prompt.position_ids, prompt.rope_deltas, max_new_tokens=max_new_tokens,
            stop_ids=stops, temperature=temperature, top_p=top_p, seed=seed, on_token=stream,
            suppress_ids=vision_placeholder_ids(ids))
        timings.update(prefill_s=generation.prefill_s, decode_s=generation.decode_s,
                       new_tokens=len(generation.tokens),
                       tokens_per_s=generation.tokens_per_s, prompt_tokens=len(prompt.input_ids))
        return make_answer(stream.text(), options, timings)

    def prompt(self, video: str | Path, question: str, options: list[str] | None,
               spec: VisionSpec) -> Prompt:
        """The prompt this bundle takes: ``spec``'s frames resized to the bucket, because
        the vision encoder takes one frame size."""
        bucket = self.bundle.bucket
        check_bucket(spec, bucket)
        config = self.bundle.manifest["model_config"]
        fitted = spec.replace(resized_height=bucket["height"], resized_width=bucket["width"])
        return prepare_prompt(video, question, options, fitted, self.tokenizer,
                              self.bundle.token_ids["video_token_id"],
                              merge_size=config["merge_size"],
                              tokens_per_second=config["tokens_per_second"])

    def _check_profile(self, prompt_tokens: int, max_new_tokens: int) -> None:
        """TensorRT's shape profiles end at the bucket's longest sequence: past it the
        engine fails mid-answer, so say so before the first token."""
        longest = self.bundle.bucket["max_sequence_length"]
        if self.provider == "tensorrt" and prompt_tokens + max_new_tokens > longest:
            raise BudgetError(
                f"the prompt's {prompt_tokens} tokens and --max-new-tokens {max_new_tokens} "
                f"exceed the {longest} tokens of the bundle's TensorRT profiles; ask a "
                "shorter question, lower --max-new-tokens, or run on --provider cuda")

    def _warn_if_stretched(self, video, spec: VisionSpec, clip) -> None:
        """Say once per source size when the bucket changes a clip's aspect: the torch
        checkpoint, with no bucket, would see other frames."""
        try:
            own = spec.frame_size(clip.source_height, clip.source_width, len(clip.timestamps))
        except BudgetError as error:  # the spec refuses this clip, as the checkpoint would
            raise BudgetError(f"{video}: {error}") from None
        source = (clip.source_height, clip.source_width)
        if own == (clip.height, clip.width) or source in self._stretched:
            return
        self._stretched.add(source)
        self.warn(f"{video}: frames resized to the bundle's {clip.height}x{clip.width}; "
                  f"the spec would give {own[0]}x{own[1]} (vtedge export --bucket "
                  f"{own[0]}x{own[1]} keeps that size)")


def default_model() -> Path | None:
    """The bundle shipped inside the package, if this install has one."""
    return DEFAULT_MODEL_DIR if is_bundle(DEFAULT_MODEL_DIR) else None


def model_path(path: str | Path | None) -> Path:
    """``path``, or the embedded default model when it is None."""
    if path is not None:
        return Path(path)
    embedded = default_model()
    if embedded is None:
        raise ModelError(
            "no model given and this install has no embedded default model (make "
            "default-model builds it); pass --model BUNDLE or a checkpoint directory"
        )
    return embedded


def existing_model_path(path: str | Path | None) -> Path:
    """``model_path(path)``, refused with a one-line error when nothing is there."""
    path = model_path(path)
    if not path.exists():
        raise MissingPathError(f"{path}: no such model (bundle or checkpoint directory)")
    return path


def open_model(path: str | Path | None, provider: str = "auto", *,
               cache_dir: str | Path | None = None, warn: Callable[[str], None] | None = None):
    """A runtime for a bundle (onnxruntime) or a checkpoint directory (torch).

    Both have ``ask(video, question, options, …) -> Answer`` and a ``spec``.
    """
    path = existing_model_path(path)
    if is_bundle(path):
        return BundleRuntime(path, provider, cache_dir, warn=warn)
    if path.is_dir() and (path / "config.json").is_file():
        try:
            from vtedge.train.infer import TorchRuntime
        except ModuleNotFoundError as error:
            raise ModelError(
                f"{path} is a checkpoint; running it needs torch and transformers "
                f"(pip install 'vtedge[train]'): {error}"
            ) from None
        if provider != "auto":
            message = (f"--provider {provider} applies to bundles; {path} is a checkpoint and "
                       "runs through torch")
            if warn is None:
                warnings.warn(message, RuntimeWarning, stacklevel=2)
            else:
                warn(message)
        return TorchRuntime(path)
    raise ModelError(f"{path}: neither a bundle (manifest.json) nor a checkpoint directory "
                     "(config.json)")
