"""The answer-step split of `benchmarks.answer_steps` on hand-written answers."""

from types import SimpleNamespace

from benchmarks.answer_steps import Steps, change_sentence, steps

WALK = ("<time>00:00-00:02</time><caption>The square is red and still.</caption>"
        "<think>No change yet.</think>\n"
        "<time>00:02-00:04</time><caption>The square is blue and still.</caption>"
        "<think>The square turned blue. This is the first event.</think>\n")
RECORD = SimpleNamespace(
    answer="B",
    process=WALK + "<time>00:01-00:03</time><caption>The square turns blue.</caption>"
    "<think>This is the first event.</think>\nSo the square turned blue first.")


def test_the_gold_answer_is_right_at_every_step():
    gold = steps(RECORD, RECORD.process + "\n<answer>B</answer>", "B")
    assert gold == Steps((2, 2), (1, 1), True, True) and gold.walked


def test_a_wrong_change_a_wrong_caption_and_a_short_walk_are_told_apart():
    wrong_change = RECORD.process.replace("turned blue. This", "vanished. This")
    assert steps(RECORD, wrong_change, "B") == Steps((2, 2), (0, 1), True, True)
    wrong_caption = RECORD.process.replace("The square is red", "The square is green")
    assert steps(RECORD, wrong_caption, "C") == Steps((1, 2), (1, 1), True, False)
    assert not steps(RECORD, wrong_caption, "C").walked
    assert steps(RECORD, WALK.split("\n")[0], "A") == Steps((1, 2), (0, 1), False, False)


def test_then_and_now_clauses_are_not_the_change():
    thought = ("The square was red and still, now blue and still. The square turned blue. "
               "This is the first event.")
    assert change_sentence(thought) == "The square turned blue"
