"""`benchmarks.colour_reading`: which colour words it scores, and a real checkpoint's scores."""

from __future__ import annotations

from tests.train.conftest import sft_config

TRACE = ("<time>00:00-00:02</time><caption>The circle is green and still. The square is red "
         "and moving.</caption><think>No change yet.</think>\n"
         "<time>00:01-00:03</time><caption>The circle is blue and still.</caption>"
         "<think>Not a phase of the walk.</think>\n"
         "<time>00:02-00:04</time><caption>Nothing is visible.</caption><think>Both "
         "vanished; the circle is green.</think>")


def test_only_the_walk_captions_colour_words_are_scored():
    from benchmarks.colour_reading import walk_colours

    found = walk_colours(TRACE)
    assert [(shape, colour) for _, shape, colour in found] == [("circle", "green"),
                                                                ("square", "red")]
    assert [TRACE[at:at + len(colour)] for at, _, colour in found] == ["green", "red"]


def test_a_checkpoint_gets_one_score_per_walk_colour_word(synth_data, tmp_path):
    from benchmarks.colour_reading import colour_scores, walk_colours
    from vtedge.datasets import load_records
    from vtedge.train.batch import assistant_text
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.sft import train_sft

    run = train_sft(sft_config(synth_data, tmp_path / "sft", max_steps=2, save_every=2))
    records = load_records(synth_data)
    scores = colour_scores(load_checkpoint(run.out / "last"), records, batch_size=4)
    # Train clips never show a held-out pair.
    assert set(scores) == {False}
    assert len(scores[False]) == sum(len(walk_colours(assistant_text(r))) for r in records)
    assert all(0.0 <= p <= 1.0 for p, _ in scores[False])
