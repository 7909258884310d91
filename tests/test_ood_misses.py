"""What `benchmarks.ood_misses` reads off hand-written ood answers."""

from types import SimpleNamespace

from benchmarks.ood_misses import Misses, conclusion_form, misses

WALK = ("<time>00:00-00:02</time><caption>The triangle is red and still.</caption>"
        "<think>No change yet.</think>\n"
        "<time>00:02-00:04</time><caption>The triangle is red and moving.</caption>"
        "<think>The triangle started moving.</think>\n"
        "<time>00:04-00:06</time><caption>The triangle is yellow and moving.</caption>"
        "<think>The triangle turned yellow.</think>\n")
RECORD = SimpleNamespace(
    answer="D", segments=(SimpleNamespace(start=3.0, end=5.0),),
    process=WALK + "<time>00:03-00:05</time><caption>The triangle turns yellow.</caption>"
    "<think>This is the change.</think>\nSo the triangle turned yellow.")


def test_the_gold_answer_names_every_pair_and_walks_to_the_end():
    assert misses(RECORD, RECORD.process, "D") == Misses((2, 2), True, True, True, True)


def test_an_answer_that_renames_the_pair_and_stops_early():
    renamed = WALK.replace("triangle is red", "triangle is green", 1)
    short = "\n".join(renamed.splitlines()[:2])
    # Its walk ends at 4 s: the second gold phase is compared, the third is not, and the
    # gold segment (3-5 s) ends past the walk.
    assert misses(RECORD, short, "B") == Misses((1, 2), False, False, False, False)


def test_a_conclusion_keeps_its_form_whatever_it_names():
    assert conclusion_form("<think>x</think>\nSo the square was cyan.\n<answer>B</answer>") == (
        "So the SHAPE was COLOUR.")
    assert conclusion_form("So 1 shape is visible at the end.") == conclusion_form(
        "So 3 shapes are visible at the end.")
    assert conclusion_form("So next, the circle turned red.") == "So next, the SHAPE EVENT."


def test_an_answer_concluding_as_another_family_does_is_caught():
    counted = WALK + "So the count for the triangle is 2.\n<answer>C</answer>"
    assert not misses(RECORD, counted, "C").own_conclusion
    assert misses(RECORD, WALK + "So the circle vanished.", "B").own_conclusion
