"""The Video-Thinker reasoning format: prompts, the chat layout, the parser, answer extraction."""

from vtedge.reasoning.answers import (
    answer_is_correct,
    answer_text,
    extract_answer_letter,
    numbers_match,
    parse_number,
    solution_answer,
    tagged_answer,
)
from vtedge.reasoning.grounding import as_span, best_ious, span_iou
from vtedge.reasoning.parse import TAGS, Element, Reasoning, Segment, parse
from vtedge.reasoning.prompts import (
    CAPTION_REQUEST,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    USER_TEMPLATE,
    caption_target,
    format_question,
    load_prompt_file,
    render_caption_chat,
    render_chat,
    render_user,
    sft_target,
)
from vtedge.reasoning.timestamps import format_clock, format_span, parse_clock, parse_span

__all__ = [
    "CAPTION_REQUEST",
    "PROMPT_VERSION",
    "SYSTEM_PROMPT",
    "TAGS",
    "USER_TEMPLATE",
    "Element",
    "Reasoning",
    "Segment",
    "answer_is_correct",
    "answer_text",
    "as_span",
    "best_ious",
    "caption_target",
    "extract_answer_letter",
    "format_clock",
    "format_question",
    "format_span",
    "load_prompt_file",
    "parse",
    "parse_clock",
    "numbers_match",
    "parse_number",
    "parse_span",
    "render_caption_chat",
    "render_chat",
    "render_user",
    "sft_target",
    "solution_answer",
    "span_iou",
    "tagged_answer",
]
