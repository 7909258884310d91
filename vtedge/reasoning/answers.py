"""The answer a model gave, by Video-Thinker's published evaluation rules, and how answers compare.

Letter extraction (``prompts/video_thinker.json``): take the last ``<answer>…</answer>``,
else the text after ``Final answer:``, else the whole text; read a capital letter at its
start; else look for ``X:``, ``[X`` or ``X `` for the letters A to O. Tags match in any case.
"""

from __future__ import annotations

import re

_ANSWER_TAG = re.compile(r"<\s*(?:(/)\s*)?answer\s*>", re.IGNORECASE)
_FINAL = re.compile(r"Final answer:", re.IGNORECASE)
_LEADING_LETTER = re.compile(r"\s*([A-Z])\b")
SCAN_LETTERS = "ABCDEFGHIJKLMNO"


def _tagged(text: str) -> list[str]:
    """The content of each closed ``<answer>`` tag: from an opening tag to the first
    closing tag after it, as a lazy regex reads them, but in one pass (a lazy regex
    rescans the rest of the text from every unclosed opening tag)."""
    found, start = [], None
    for tag in _ANSWER_TAG.finditer(text):
        if tag.group(1) is None:
            start = tag.end() if start is None else start
        elif start is not None:
            found.append(text[start:tag.start()])
            start = None
    return found


def _marked_answer(text: str) -> str | None:
    """The last ``<answer>`` tag's content, else the text after ``Final answer:``."""
    tagged = tagged_answer(text)
    if tagged is not None:
        return tagged
    final = list(_FINAL.finditer(text))
    if final:
        return text[final[-1].end() :].strip()
    return None


def answer_text(text: str) -> str:
    """The part of ``text`` that holds the answer, by the published precedence."""
    if not isinstance(text, str):
        return ""
    marked = _marked_answer(text)
    return text if marked is None else marked


def option_letter(option: str) -> str | None:
    """``"A"`` for ``"A. red"``: the capital letter an option starts with, standing alone
    (``"Apple"`` has none)."""
    head = option.lstrip()
    if head[:1].isascii() and head[:1].isupper() and (len(head) == 1 or not head[1].isalnum()):
        return head[0]
    return None


def extract_answer_letter(text: str) -> str | None:
    """The option letter a model chose, or ``None`` (scored as wrong)."""
    return letter_of(answer_text(text))


def letter_of(answer: str) -> str | None:
    """The option letter an already extracted answer names, by the published letter rules
    (extracting again would read a ``Final answer:`` inside the answer tag)."""
    match = _LEADING_LETTER.match(answer)
    if match:
        return match.group(1)
    for letter in SCAN_LETTERS:
        if f"{letter}:" in answer or f"[{letter}" in answer or f"{letter} " in answer:
            return letter
    return None


def solution_answer(solution: str) -> str:
    """The gold answer inside a record's ``solution`` (``<answer>C</answer>`` → ``C``)."""
    tagged = tagged_answer(solution)
    return tagged if tagged is not None else str(solution).strip()


_NUMBER = re.compile(r"[-+]?(?:\d+(?:,\d{3})*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def parse_number(text: str) -> float | None:
    """The first number in ``text`` (commas as thousands separators), or ``None``."""
    if not isinstance(text, str):
        return None
    match = _NUMBER.search(text)
    if match is None:
        return None
    try:
        return float(match.group(0).replace(",", ""))
    except ValueError:
        return None


def tagged_answer(text: str) -> str | None:
    """The content of the last closed ``<answer>`` tag, or ``None`` (the training rule)."""
    if not isinstance(text, str):
        return None
    tagged = _tagged(text)
    return tagged[-1].strip() if tagged else None


def _normalise(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .")


def numbers_match(predicted: str, gold: str) -> bool:
    """Video-R1's numerical rule: both or neither written with a decimal point (or comma),
    and equal when rounded to two decimals."""
    if (("." in gold) or ("," in gold)) != (("." in predicted) or ("," in predicted)):
        return False
    p, g = parse_number(predicted), parse_number(gold)
    return p is not None and g is not None and round(p, 2) == round(g, 2)


def is_multiple_choice(problem_type: str | None) -> bool:
    """Video-R1's ``multiple choice`` in any case; a missing type counts as one."""
    return (problem_type or "multiple choice").strip().lower() == "multiple choice"


def answer_is_correct(answer: str | None, gold: str, problem_type: str | None) -> bool:
    """Whether an extracted answer equals the gold one for the record's problem type.

    Multiple choice compares option letters (``answer`` is read with the published letter
    rules), numerical compares numbers as Video-R1 does, anything else compares the
    normalised text (lower case, single spaces, no trailing full stop).
    """
    if answer is None or not isinstance(gold, str):
        return False
    if is_multiple_choice(problem_type):
        letter = letter_of(answer)
        return letter is not None and letter == letter_of(gold)
    kind = problem_type.strip().lower()
    if kind == "numerical":
        return numbers_match(answer, gold)
    return _normalise(answer) == _normalise(gold)


def output_is_correct(output: str, gold: str, problem_type: str | None) -> bool:
    """Whether a whole model output answers right, as evaluation grades it. Multiple choice
    reads the letter by the published rules, from the whole text when nothing marks the
    answer; other types grade only a marked answer (tag or ``Final answer:``), since the
    first number of untagged reasoning is a timestamp, not an answer."""
    if not isinstance(output, str):
        return False
    answer = answer_text(output) if is_multiple_choice(problem_type) else _marked_answer(output)
    return answer_is_correct(answer, gold, problem_type)
