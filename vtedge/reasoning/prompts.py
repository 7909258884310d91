"""The published Video-Thinker prompts and the Qwen2.5-VL chat layout that carries them.

The system prompt and user template are read from the packaged ``prompts/video_thinker.json``
and used byte for byte (typos included) so the published checkpoint behaves as published.
"""

from __future__ import annotations

import json
from importlib import resources

PROMPT_FILE = "video_thinker.json"
PROMPT_VERSION = "video-thinker-7b/1"

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
VIDEO_PAD = "<|video_pad|>"
# The token each special id of a model's config, and of a bundle's manifest, stands for.
TOKEN_OF_ID = {
    "pad_token_id": "<|endoftext|>",
    "bos_token_id": "<|endoftext|>",
    "eos_token_id": IM_END,
    "im_start_token_id": IM_START,
    "vision_start_token_id": VISION_START,
    "vision_end_token_id": VISION_END,
    "image_token_id": "<|image_pad|>",
    "video_token_id": VIDEO_PAD,
}
# The alignment stage's request: a bare user turn, as LLaVA-style pretraining uses, so a
# model learning to look at the video is not asked to read past a long system prompt.
CAPTION_REQUEST = "Describe the video."
# The option-reading stage's request, after the question and its options: copying them
# back trains the in-context copy a small model needs to name the option it concluded.
OPTIONS_REQUEST = "Repeat the options."


def load_prompt_file() -> dict:
    """The packaged prompt file as a dict (system, user_template, extraction rules)."""
    text = resources.files("vtedge").joinpath("prompts", PROMPT_FILE).read_text(encoding="utf-8")
    return json.loads(text)


_PROMPTS = load_prompt_file()
SYSTEM_PROMPT: str = _PROMPTS["system"]
USER_TEMPLATE: str = _PROMPTS["user_template"]


def format_question(problem: str, options: list[str] | None) -> str:
    """The question as Video-Thinker's evaluation writes it: problem, then the options."""
    if not options:
        return problem
    return problem + "\nOptions:\n" + "\n".join(options)


def render_user(question: str) -> str:
    """The user turn's text: the published template with ``{Question}`` filled in."""
    # str.replace, not str.format: the template's text holds no other fields, and a
    # question may hold braces.
    return USER_TEMPLATE.replace("{Question}", question)


def render_chat(
    problem: str,
    options: list[str] | None,
    video_tokens: int,
    assistant: str | None = None,
) -> str:
    """The full Qwen2.5-VL chat text for one video question.

    Matches the Qwen2.5-VL chat template for ``[system, user(video, text)]`` with the
    processor's expansion of ``<|video_pad|>`` to one token per merged video patch.
    Without ``assistant`` it ends with the generation prompt; with it, the turn is closed
    (the SFT layout).
    """
    if video_tokens < 0:
        raise ValueError(f"video_tokens must be >= 0, got {video_tokens}")
    user = render_user(format_question(problem, options))
    text = (
        f"{IM_START}system\n{SYSTEM_PROMPT}{IM_END}\n"
        f"{IM_START}user\n{VISION_START}{VIDEO_PAD * video_tokens}{VISION_END}{user}{IM_END}\n"
        f"{IM_START}assistant\n"
    )
    if assistant is not None:
        text += f"{assistant}{IM_END}\n"
    return text


def sft_target(process: str, solution: str) -> str:
    """What SFT teaches the model to write: the thinking trace, a newline, the answer."""
    return process + "\n" + solution


def bare_chat(user: str, video_tokens: int, assistant: str | None = None) -> str:
    """A single user turn (the video, then ``user``) without the system prompt: the
    layout of the short stages that come before trace SFT."""
    if video_tokens < 0:
        raise ValueError(f"video_tokens must be >= 0, got {video_tokens}")
    text = (
        f"{IM_START}user\n{VISION_START}{VIDEO_PAD * video_tokens}{VISION_END}"
        f"{user}{IM_END}\n{IM_START}assistant\n"
    )
    if assistant is not None:
        text += f"{assistant}{IM_END}\n"
    return text


def render_caption_chat(video_tokens: int, assistant: str | None = None) -> str:
    """The alignment stage's chat: the video and ``CAPTION_REQUEST``."""
    return bare_chat(CAPTION_REQUEST, video_tokens, assistant)


def render_options_chat(problem: str, options: list[str], video_tokens: int,
                        assistant: str | None = None) -> str:
    """The option-reading stage's chat: the video, the question with its options, and
    ``OPTIONS_REQUEST``."""
    return bare_chat(format_question(problem, options) + "\n" + OPTIONS_REQUEST,
                     video_tokens, assistant)


def options_target(options) -> str:
    """The options copied back, one per line, as ``format_question`` lists them."""
    return "\n".join(options)


def caption_target(segments) -> str:
    """Timed captions in the trace's own tags, one ``<time>…</time><caption>…</caption>``
    line per segment (objects with ``start``, ``end``, ``caption``)."""
    from vtedge.reasoning.timestamps import format_span

    return "\n".join(f"<time>{format_span(s.start, s.end)}</time><caption>{s.caption}</caption>"
                     for s in segments)
