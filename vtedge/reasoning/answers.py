"""The answer a model gave, by Video-Thinker's published evaluation rules, and how answers compare.

Letter extraction (``prompts/video_thinker.json``): take the last ``<answer>…</answer>``,
else the text after ``Final answer:``, else the whole text; read a capital letter at its
start; else look for ``X:``, ``[X`` or ``X `` for the letters A to O. Tags match in any case.
"""

from __future__ import annotations

import re

_ANSWER = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)
_FINAL = re.compile(r"Final answer:", re.IGNORECASE)
_LEADING_LETTER = re.compile(r"\s*([A-Z])\b")
SCAN_LETTERS = "ABCDEFGHIJKLMNO"


def answer_text(text: str) -> str:
    """The part of ``text`` that holds the answer, by the published precedence."""
    if not isinstance(text, str):
        return ""
    tagged = _ANSWER.findall(text)
    if tagged:
        return tagged[-1].strip()
    final = list(_FINAL.finditer(text))
    if final:
        return text[final[-1].end() :].strip()
    return text


def option_letter(option: str) -> str | None:
    """``"A"`` for ``"A. red"``: the capital letter an option starts with, standing alone
    (``"Apple"`` has none)."""
    head = option.lstrip()
    if head[:1].isascii() and head[:1].isupper() and (len(head) == 1 or not head[1].isalnum()):
        return head[0]
    return None


def extract_answer_letter(text: str) -> str | None:
    """The option letter a model chose, or ``None`` (scored as wrong)."""
    answer = answer_text(text)
    match = _LEADING_LETTER.match(answer)
    if match:
        return match.group(1)
    for letter in SCAN_LETTERS:
        if f"{letter}:" in answer or f"[{letter}" in answer or f"{letter} " in answer:
            return letter
    return None


def solution_answer(solution: str) -> str:
    """The gold answer inside a record's ``solution`` (``<answer>C</answer>`` → ``C``)."""
    tagged = _ANSWER.findall(solution) if isinstance(solution, str) else []
    return tagged[-1].strip() if tagged else str(solution).strip()


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
    tagged = _ANSWER.findall(text)
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


def answer_is_correct(answer: str | None, gold: str, problem_type: str | None) -> bool:
    """Whether an extracted answer equals the gold one for the record's problem type.

    Multiple choice compares option letters (``answer`` is read with the published letter
    rules), numerical compares numbers as Video-R1 does, anything else compares the
    normalised text (lower case, single spaces, no trailing full stop).
    """
    if answer is None or not isinstance(gold, str):
        return False
    kind = (problem_type or "multiple choice").strip().lower()
    if kind == "multiple choice":
        letter = extract_answer_letter(answer)
        return letter is not None and letter == extract_answer_letter(gold)
    if kind == "numerical":
        return numbers_match(answer, gold)
    return _normalise(answer) == _normalise(gold)
