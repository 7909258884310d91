"""`benchmarks.colour_reading`: which colour words it scores, and a real checkpoint's scores."""

from __future__ import annotations

from tests.train.conftest import sft_config

TRACE = ("<time>00:00-00:02</time><caption>The circle is green and still. The square is red "
         "and moving.</caption><think>No change yet.</think>\n"
         "<time>00:01-00:03</time><caption>The circle is blue and still.</caption>"
         "<think>Not a phase of the walk.</think>\n"
         "<time>00:02-00:04</time><caption>Nothing is visible.</caption><think>Both "
         "vanished; the circle is green.</think>")


def test_only_the_walk_captions_words_are_scored():
    from benchmarks.colour_reading import walk_clauses

    found = walk_clauses(TRACE)
    assert [(c.shape, c.colour) for c in found] == [("circle", "green"), ("square", "red")]
    assert [TRACE[c.at["colour"]:c.at["colour"] + len(c.colour)] for c in found] == [
        "green", "red"]
    assert [TRACE[c.at["shape"]:c.at["shape"] + len(c.shape)] for c in found] == [
        "circle", "square"]


def test_captions_by_column_are_read_too():
    from benchmarks.colour_reading import walk_clauses

    text = ("<time>00:02-00:04</time><caption>Left: a green circle, still. Right: a red "
            "square, moving.</caption><think>No change yet.</think>")
    found = walk_clauses(text)
    assert [(c.shape, c.colour) for c in found] == [("circle", "green"), ("square", "red")]
    assert [text[c.at["shape"]:c.at["shape"] + 6] for c in found] == ["circle", "square"]


def test_captions_in_passes_pair_each_column_s_shape_and_colour():
    from benchmarks.colour_reading import walk_clauses

    text = ("<time>00:02-00:04</time><caption>Left: circle. Right: square. Left: green, "
            "still. Right: red, moving.</caption><think>No change yet.</think>")
    found = walk_clauses(text)
    assert [(c.shape, c.colour) for c in found] == [("circle", "green"), ("square", "red")]
    assert [text[c.at["shape"]:c.at["shape"] + 6] for c in found] == ["circle", "square"]
    assert [text[c.at["colour"]:c.at["colour"] + 5] for c in found] == ["green", "red, "]


def test_a_checkpoint_gets_one_score_per_walk_colour_word(synth_data, tmp_path):
    from benchmarks.colour_reading import reading_scores, walk_clauses
    from vtedge.datasets import load_records
    from vtedge.train.batch import assistant_text
    from vtedge.train.checkpoint import load_checkpoint
    from vtedge.train.sft import train_sft

    run = train_sft(sft_config(synth_data, tmp_path / "sft", max_steps=2, save_every=2))
    records = load_records(synth_data)
    scores = reading_scores(load_checkpoint(run.out / "last"), records, batch_size=4)
    # Train clips never show a held-out pair.
    assert set(scores) == {("colour", False), ("shape", False)}
    clauses = sum(len(walk_clauses(assistant_text(r))) for r in records)
    assert len(scores[("colour", False)]) == len(scores[("shape", False)]) == clauses
    assert all(0.0 <= p <= 1.0 for pairs in scores.values() for p, _ in pairs)
