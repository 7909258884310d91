"""GRPO rewards: TRL's call signature, the published accuracy and format rules, grounding IoU."""

import pytest

from vtedge.datasets import GroundTruthSegment
from vtedge.rewards import (
    REWARDS,
    accuracy_reward,
    completion_text,
    format_reward,
    grounding_reward,
)

GOOD = (
    "<time>00:01-00:03</time><caption>The circle vanishes.</caption><think>So.</think>\n"
    "<time>00:05-00:07</time><caption>The square turns red.</caption><think>Then.</think>\n"
    "So it is B.\n<answer>B</answer>"
)


def test_registry_and_trl_keyword_call():
    assert set(REWARDS) == {"accuracy", "format", "grounding"}
    # TRL passes prompts, completion ids and every dataset column as keywords.
    kwargs = {
        "prompts": ["p", "p"],
        "completion_ids": [[1], [2]],
        "solution": ["<answer>B</answer>", "<answer>A</answer>"],
        "problem_type": ["multiple choice"] * 2,
        "segments": [[{"start": 1, "end": 3, "caption": ""}], None],
    }
    assert REWARDS["accuracy"](completions=[GOOD, GOOD], **kwargs) == [1.0, 0.0]
    assert REWARDS["format"](completions=[GOOD, "B"], **kwargs) == [1.0, 0.0]
    assert REWARDS["grounding"](completions=[GOOD, GOOD], **kwargs) == [1.0, 0.0]


def test_conversational_completions():
    chat = [[{"role": "assistant", "content": GOOD}]]
    parts = [[{"role": "assistant", "content": [{"type": "text", "text": GOOD}]}]]
    assert accuracy_reward(chat, solution=["<answer>B</answer>"]) == [1.0]
    assert format_reward(parts) == [1.0]
    assert completion_text([]) == "" and completion_text(None) == "" and completion_text(3) == ""


@pytest.mark.parametrize(
    ("output", "solution", "kind", "reward"),
    [
        ("<answer>B</answer>", "<answer>B</answer>", "multiple choice", 1.0),
        ("<answer> B. red </answer>", "<answer>B</answer>", "multiple choice", 1.0),
        ("<Answer>C</Answer>", "<answer>B</answer>", "multiple choice", 0.0),
        ("Final answer: B", "<answer>B</answer>", "multiple choice", 0.0),  # training needs the tag
        ("<answer>B", "<answer>B</answer>", "multiple choice", 0.0),  # unclosed
        ("<answer>3.50</answer>", "<answer>3.5</answer>", "numerical", 1.0),
        ("<answer>3.499</answer>", "<answer>3.5</answer>", "numerical", 1.0),
        ("<answer>4</answer>", "<answer>4.0</answer>", "numerical", 0.0),  # decimal mismatch
        ("<answer>1,200</answer>", "<answer>1,200</answer>", "numerical", 1.0),
        ("<answer>seven</answer>", "<answer>7</answer>", "numerical", 0.0),
        ("<answer>A red Ball.</answer>", "<answer>a red ball</answer>", "free-form", 1.0),
        ("<answer>B</answer>", "<answer>B</answer>", None, 1.0),
    ],
)
def test_accuracy_rules(output, solution, kind, reward):
    assert accuracy_reward([output], solution=[solution], problem_type=[kind]) == [reward]


def test_single_values_broadcast_and_lengths_must_match():
    assert accuracy_reward([GOOD, "x"], solution="<answer>B</answer>") == [1.0, 0.0]
    with pytest.raises(ValueError):
        accuracy_reward([GOOD, GOOD], solution=["<answer>B</answer>"])


@pytest.mark.parametrize(
    ("output", "reward"),
    [
        (GOOD, 1.0),
        ("<time>1-2</time> <caption>a</caption>\n<think>b</think><answer>A</answer>", 1.0),
        ("<time>1-2</time><caption>a</caption><think>b</think>", 0.0),
        ("<caption>a</caption><time>1-2</time><think>b</think><answer>A</answer>", 0.0),
        (
            "<time>1-2</time><caption>a</caption><think>b</think><time>3-4</time><answer>A</answer>",
            0.0,
        ),
        ("<answer>A</answer>", 0.0),
        ("", 0.0),
    ],
)
def test_format_rule(output, reward):
    assert format_reward([output]) == [reward]


def test_grounding_iou():
    gold = [{"start": 1.0, "end": 3.0}, {"start": 5.0, "end": 7.0}]
    assert grounding_reward([GOOD], segments=[gold]) == [1.0]
    half = "<time>00:02-00:03</time><caption>x</caption><think>y</think><answer>B</answer>"
    assert grounding_reward([half], segments=[gold]) == [pytest.approx((0.5 + 0.0) / 2)]
    objects = [GroundTruthSegment(1.0, 3.0, "x"), GroundTruthSegment(5.0, 7.0, "y")]
    assert grounding_reward([GOOD], segments=[objects]) == [1.0]
    assert grounding_reward([GOOD], segments=[[]]) == [0.0]
    assert grounding_reward([GOOD]) == [0.0]
    assert grounding_reward(["no spans"], segments=[gold]) == [0.0]
    assert grounding_reward([GOOD], segments=[[{"start": "x"}]]) == [0.0]
