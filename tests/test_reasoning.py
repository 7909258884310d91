"""The reasoning format: published prompts byte for byte, the Qwen chat layout, the parser
and the answer extraction, with property tests that nothing raises on arbitrary text."""

import hashlib
import json
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtedge.reasoning import (
    CAPTION_REQUEST,
    OPTIONS_REQUEST,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    USER_TEMPLATE,
    caption_target,
    extract_answer_letter,
    format_question,
    format_span,
    options_target,
    parse,
    parse_span,
    render_caption_chat,
    render_chat,
    render_options_chat,
    render_user,
    sft_target,
    tagged_answer,
)
from vtedge.rewards import REWARDS
from vtedge.spec import get_spec

# sha256 of the published strings (``prompts/video_thinker.json`` of the shared design).
SYSTEM_SHA256 = "655a28cffb06d4399e4031242bf7126cbaf5019e6e6e56100fb89e6133fa72c2"
PROMPT_FILE_SHA256 = "272c563b485057cdb84ff2d7284242d38b33246821d3902338b82b4934d4fe10"
PUBLISHED_USER_TAIL = (
    "\n\nPlease analyze the video carefully by identifying key segments and their important "
    "visual clues within `<time> </time>`, `<caption> </caption>`, `<think> </think>` tags then "
    "conduct deep analysis and reasoning to arrive at your answer to the question, finally "
    "provide only the single option letter (e.g., A, B, C, D, E, F etc.) within the "
    "`<answer> </answer>` tags.Follow the format specified in the instructions."
)


def test_packaged_prompt_file_is_the_published_one():
    raw = resources.files("vtedge").joinpath("prompts", "video_thinker.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == PROMPT_FILE_SHA256
    data = json.loads(raw)
    assert SYSTEM_PROMPT == data["system"] and USER_TEMPLATE == data["user_template"]
    assert hashlib.sha256(SYSTEM_PROMPT.encode()).hexdigest() == SYSTEM_SHA256
    assert "such as such as" in SYSTEM_PROMPT and "tags.Follow" in USER_TEMPLATE
    assert PROMPT_VERSION == "video-thinker-7b/1"


def test_render_user_is_byte_identical_to_the_template():
    assert render_user("What is {x}?") == "What is {x}?" + PUBLISHED_USER_TAIL
    question = format_question("Which colour?", ["A. red", "B. blue"])
    assert question == "Which colour?\nOptions:\nA. red\nB. blue"
    assert format_question("How many?", None) == "How many?"
    assert format_question("How many?", []) == "How many?"
    assert sft_target("<time>00:01-00:02</time>", "<answer>A</answer>") == (
        "<time>00:01-00:02</time>\n<answer>A</answer>"
    )


def test_render_chat_layout():
    user = render_user(format_question("Q?", ["A. x", "B. y"]))
    expected = (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + "<|video_pad|>" * 3
        + f"<|vision_end|>{user}<|im_end|>\n<|im_start|>assistant\n"
    )
    assert render_chat("Q?", ["A. x", "B. y"], 3) == expected
    assert render_chat("Q?", ["A. x", "B. y"], 3, "out") == expected + "out<|im_end|>\n"
    with pytest.raises(ValueError):
        render_chat("Q?", None, -1)


# The Qwen2-VL / Qwen2.5-VL chat template (tokenizer_config / chat_template.json).
QWEN_VL_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture "
    "{{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _messages(problem, options, assistant=None):
    user = render_user(format_question(problem, options))
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": user}]},
    ]
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return messages


def test_render_chat_matches_the_qwen_template():
    jinja2 = pytest.importorskip("jinja2")
    template = jinja2.Environment().from_string(QWEN_VL_TEMPLATE)
    spec = get_spec("tiny")
    grid = spec.grid_thw(8, *spec.frame_size(128, 128, 8))
    tokens = spec.video_tokens(grid)
    assert grid == (4, 8, 8) and tokens == 64
    for assistant in (None, "<time>00:00-00:02</time>\n<answer>B</answer>"):
        text = template.render(
            messages=_messages("Q {x}?", ["A. a", "B. b"], assistant),
            add_generation_prompt=assistant is None,
        )
        # The processor expands the one placeholder to grid.prod() / merge**2 tokens.
        text = text.replace("<|video_pad|>", "<|video_pad|>" * tokens)
        assert text == render_chat("Q {x}?", ["A. a", "B. b"], tokens, assistant)


def test_render_chat_matches_transformers_processor():
    """The same check through transformers' own template rendering and pad expansion."""
    pytest.importorskip("transformers")
    from types import SimpleNamespace

    import numpy as np
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast
    from transformers.models.qwen2_vl.processing_qwen2_vl import Qwen2VLProcessor

    vocab = Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=vocab, unk_token="<unk>")
    text = tokenizer.apply_chat_template(
        _messages("Q?", ["A. x", "B. y"]),
        chat_template=QWEN_VL_TEMPLATE,
        tokenize=False,
        add_generation_prompt=True,
    )
    fake = SimpleNamespace(
        video_processor=SimpleNamespace(merge_size=2), video_token="<|video_pad|>"
    )
    pads = Qwen2VLProcessor.replace_video_token(fake, {"video_grid_thw": np.array([[4, 4, 4]])}, 0)
    assert text.replace("<|video_pad|>", pads) == render_chat("Q?", ["A. x", "B. y"], 16)


def test_caption_chat_is_a_bare_user_turn_with_timed_captions():
    from types import SimpleNamespace

    segments = [SimpleNamespace(start=0.0, end=2.0, caption="The circle is red."),
                SimpleNamespace(start=2.5, end=3.2, caption="Nothing is visible.")]
    target = caption_target(segments)
    assert target == ("<time>00:00-00:02</time><caption>The circle is red.</caption>\n"
                      "<time>00:02-00:04</time><caption>Nothing is visible.</caption>")
    text = render_caption_chat(2, target)
    assert text == ("<|im_start|>user\n<|vision_start|><|video_pad|><|video_pad|>"
                    f"<|vision_end|>{CAPTION_REQUEST}<|im_end|>\n<|im_start|>assistant\n"
                    f"{target}<|im_end|>\n")
    assert SYSTEM_PROMPT not in text
    assert render_caption_chat(2).endswith("<|im_start|>assistant\n")


def test_options_chat_asks_for_the_options_back():
    options = ["A. yellow", "B. red"]
    target = options_target(options)
    assert target == "A. yellow\nB. red"
    text = render_options_chat("What colour?", options, 1, target)
    assert text == ("<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>"
                    f"What colour?\nOptions:\nA. yellow\nB. red\n{OPTIONS_REQUEST}<|im_end|>\n"
                    f"<|im_start|>assistant\n{target}<|im_end|>\n")
    assert SYSTEM_PROMPT not in text


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("00:12-00:20", (12.0, 20.0)),
        (" 01:05 - 02:00 ", (65.0, 120.0)),
        ("12.5-20", (12.5, 20.0)),
        ("3s-7.5s", (3.0, 7.5)),
        ("01:00:05-01:00:09", (3605.0, 3609.0)),
        ("00:01.5 to 00:03", (1.5, 3.0)),
        ("00:20-00:12", None),
        ("00:75-00:80", None),
        ("soon", None),
        ("", None),
    ],
)
def test_parse_span_formats(text, span):
    assert parse_span(text) == span


def test_format_span_covers_the_evidence():
    assert format_span(3.0, 5.0) == "00:03-00:05"
    assert format_span(2.4, 61.2) == "00:02-01:02"
    assert format_span(3600, 3725) == "01:00:00-01:02:05"


def test_parse_blocks_answer_and_counts():
    text = (
        "Let me look.\n<time>00:01-00:03</time> <caption>red circle</caption>\n"
        "<think>hmm</think> some free text\n"
        "<TIME>12.5-20</Time><Caption>blue</CAPTION><think>wait</think>\n<answer> C </answer>"
    )
    r = parse(text)
    assert [(s.start, s.end, s.caption, s.thought) for s in r.segments] == [
        (1.0, 3.0, "red circle", "hmm"),
        (12.5, 20.0, "blue", "wait"),
    ]
    assert r.answer == "C" and r.blocks == 2 and r.well_formed
    assert r.counts == {"time": 2, "caption": 2, "think": 2, "answer": 1}


def test_parse_whitespace_in_tags_and_unclosed_tail():
    r = parse("< time >00:02-00:04</ time><caption>a square<think>it moves")
    assert r.segments[0].start == 2.0 and r.segments[0].caption == "a square"
    assert r.segments[0].thought == "it moves"
    assert r.counts["caption"] == 0 and r.blocks == 0 and not r.well_formed
    assert parse("<answer>B").answer == "B"


@pytest.mark.parametrize(
    "text",
    [
        "<time>00:01-00:02</time><caption>a</caption><answer>A</answer>",  # no think
        "<time>00:01-00:02</time><caption>a</caption><think>b</think>",  # no answer
        "<time>1-2</time><caption>a</caption><think>b</think><answer>A</answer><answer>B</answer>",
        "<time>1-2</time>text<caption>a</caption><think>b</think><answer>A</answer>",
        "<time>1-2</time><caption>a</caption><think>b</think><think>c</think><answer>A</answer>",
        "<answer>A</answer>",
    ],
)
def test_malformed_outputs_are_not_well_formed(text):
    assert not parse(text).well_formed


def test_parse_ignores_stray_closers_and_bad_times():
    r = parse(
        "</think></time><time>later</time><caption>x</caption><think>y</think><answer>A</answer>"
    )
    assert r.segments == [] and r.unparsed_times == 1
    assert r.well_formed  # the published check counts tags, not whether times parse


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("<think>..</think><answer>B</answer>", "B"),
        ("<answer>A</answer> then <answer> C. red</answer>", "C"),
        ("<ANSWER>d</ANSWER>", None),  # lower case is no option letter
        ("reasoning... Final answer: E", "E"),
        ("Final answer: (C)", None),
        ("The option [B] fits", "B"),
        ("pick D: because", "D"),
        ("<answer>B is right</answer>", "B"),
        ("<answer>The answer is B</answer>", None),  # no letter at the start, no "B " or "B:"
        ("nothing here", None),
        ("", None),
    ],
)
def test_extract_answer_letter_published_rules(text, letter):
    assert extract_answer_letter(text) == letter


@pytest.mark.parametrize(
    ("output", "gold", "problem_type", "correct"),
    [
        # The letter is read once, from the answer tag's content, by the published rules.
        ("<answer>A. Final answer: B</answer>", "A", "multiple choice", True),
        ("<answer>A. Final answer: B</answer>", "B", "multiple choice", False),
        ("C, as the square moved", "C", "Multiple Choice", True),  # untagged: the whole text
        # Other types grade only a marked answer: a timestamp is not a count.
        ("<time>00:05-00:10</time> two changes", "0", "numerical", False),
        ("<time>00:05-00:10</time> Final answer: 2", "2", "numerical", True),
        ("<think>..</think><answer>2</answer>", "2", "numerical", True),
        ("a red ball", "a red ball", "free-form", False),
        ("<answer>A red ball.</answer>", "a red ball", "free-form", True),
    ],
)
def test_output_is_graded_as_evaluation_reads_it(output, gold, problem_type, correct):
    from vtedge.reasoning import output_is_correct

    assert output_is_correct(output, gold, problem_type) is correct


FRAGMENTS = st.sampled_from(
    [
        "<time>",
        "</time>",
        "<caption>",
        "</caption>",
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "<TIME>",
        "< answer >",
        "00:01-00:03",
        "12.5-20",
        "01:00:00-01:00:05",
        "A",
        "B",
        " ",
        "\n",
        "Final answer:",
        "[C",
        "99:99-00:00",
        "-",
        ":",
    ]
)
ARBITRARY = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(ARBITRARY)
def test_parse_and_extract_never_raise(text):
    r = parse(text)
    assert r.blocks <= min(r.counts["time"], r.counts["caption"], r.counts["think"])
    assert all(0 <= s.start <= s.end for s in r.segments)
    letter = extract_answer_letter(text)
    assert letter is None or (len(letter) == 1 and letter.isupper())


ANSWER_FRAGMENTS = st.sampled_from(["<answer>", "</answer>", "< ANSWER >", "</ answer>",
                                    "< / answer\n>", "A", " ", "\n", "<", "/", ">"])


@settings(max_examples=300, deadline=None)
@given(st.lists(ANSWER_FRAGMENTS, max_size=30).map("".join))
def test_answer_tags_read_as_the_lazy_pattern_reads_them(text):
    """The one-pass reader of answer tags finds what the published-style lazy regex finds
    (it exists because that regex is quadratic on a run of unclosed tags)."""
    import re

    lazy = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)
    found = lazy.findall(text)
    assert tagged_answer(text) == (found[-1].strip() if found else None)


@settings(max_examples=200, deadline=None)
@given(
    ARBITRARY,
    st.sampled_from(["<answer>A</answer>", "<answer>3.5</answer>", "B"]),
    st.sampled_from(["multiple choice", "numerical", "free-form", None]),
)
def test_every_reward_stays_in_range(text, solution, problem_type):
    segments = [[{"start": 1.0, "end": 3.0, "caption": "x"}]]
    fields = {"solution": [solution], "problem_type": [problem_type], "segments": segments}
    for completions in ([text], [[{"role": "assistant", "content": text}]]):
        for name, reward in REWARDS.items():
            values = reward(completions, **fields)
            assert len(values) == 1 and 0.0 <= values[0] <= 1.0, name
