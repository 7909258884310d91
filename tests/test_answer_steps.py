"""The answer-step split of `benchmarks.answer_steps` on hand-written answers."""

from types import SimpleNamespace

from benchmarks.answer_steps import steps

RECORD = SimpleNamespace(
    options=["A. yellow", "B. red", "C. blue", "D. green"], answer="B",
    process="<time>00:01-00:03</time><caption>The triangle is red.</caption>"
            "<think>It is red.</think>\nSo the triangle was red.\nA. yellow: no. B. red: yes.")


def test_the_gold_answer_is_right_at_every_step():
    gold = RECORD.process + "\n<answer>B</answer>"
    assert steps(RECORD, gold, "B") == (True, True, True)


def test_a_wrong_copy_and_a_wrong_conclusion_are_told_apart():
    miscopied = RECORD.process.replace("B. red: yes.", "B. blue: yes.")
    assert steps(RECORD, miscopied, "B") == (True, False, True)
    wrong = RECORD.process.replace("So the triangle was red.", "So the triangle was blue.")
    assert steps(RECORD, wrong, "C") == (False, True, False)
    assert steps(RECORD, "<answer>B</answer>", "B") == (False, None, True)
