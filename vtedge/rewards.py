"""GRPO rewards as plain callables with TRL's reward-function signature.

``fn(completions, **record_fields) -> list[float]``: ``completions`` are strings or TRL
conversational completions (lists of ``{"role", "content"}`` messages); each record field
arrives as a list with one value per completion (a single string or scalar is broadcast;
a list must hold one value per completion, so one record's segments come wrapped). Rewards
never raise on what a model wrote; malformed output scores 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from vtedge.reasoning.answers import answer_is_correct, solution_answer, tagged_answer
from vtedge.reasoning.grounding import best_ious
from vtedge.reasoning.parse import parse


def completion_text(completion: Any) -> str:
    """The generated text of one completion: a string, or the last message's content."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)) and completion:
        content = completion[-1].get("content", "") if isinstance(completion[-1], dict) else ""
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                part.get("text", "")
                for part in content
                if isinstance(part, dict) and isinstance(part.get("text", ""), str)
            )
    return ""


def _per_completion(values: Any, n: int, name: str) -> list:
    if values is None or isinstance(values, (str, dict)) or not isinstance(values, Sequence):
        return [values] * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} completions")
    return list(values)


def accuracy_reward(completions, solution, problem_type=None, **kw) -> list[float]:
    """1.0 when the answer inside the last ``<answer>`` tag equals the solution's.

    Multiple choice compares option letters, numerical compares numbers as Video-R1 does
    (``answer_is_correct``). Without a closed answer tag the reward is 0.
    """
    n = len(completions)
    solutions = _per_completion(solution, n, "solution")
    types = _per_completion(problem_type, n, "problem_type")
    rewards = []
    for completion, sol, kind in zip(completions, solutions, types, strict=True):
        answer = tagged_answer(completion_text(completion))
        gold = solution_answer(sol) if isinstance(sol, str) else None
        rewards.append(1.0 if gold is not None and answer_is_correct(answer, gold, kind) else 0.0)
    return rewards


def format_reward(completions, **kw) -> list[float]:
    """1.0 for the published format: at least one time/caption/think block, equal counts of
    the three tags and of blocks, exactly one answer."""
    return [1.0 if parse(completion_text(c)).well_formed else 0.0 for c in completions]


def grounding_reward(completions, segments=None, **kw) -> list[float]:
    """Mean over a record's ground-truth segments of the best IoU of a predicted ``<time>``
    span; 0 for records without segments (vtedge's addition, off by default)."""
    n = len(completions)
    per_record = _per_completion(segments, n, "segments")
    rewards = []
    for completion, gold in zip(completions, per_record, strict=True):
        if not gold or not isinstance(gold, (list, tuple)):
            rewards.append(0.0)
            continue
        ious = best_ious(gold, parse(completion_text(completion)).spans)
        rewards.append(sum(ious) / len(ious) if ious else 0.0)
    return rewards


REWARDS: dict[str, Callable[..., list[float]]] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "grounding": grounding_reward,
}
