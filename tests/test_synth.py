"""The synthetic suite: deterministic, gold traces score perfectly, clips show the states,
and the ood split changes what it promises to change."""

import json
import re

import av
import numpy as np
import pytest
from click.testing import CliRunner

from vtedge.cli import cli
from vtedge.datasets import load_records
from vtedge.reasoning import parse, sft_target
from vtedge.rewards import accuracy_reward, format_reward, grounding_reward
from vtedge.spec import get_spec
from vtedge.synth import (
    BASE_FAMILIES,
    COLOURS,
    FAMILIES,
    HELD_OUT_PAIRS,
    OTHER_COLOURS,
    SHAPES,
    TWO_HOP_FAMILIES,
    Event,
    Scene,
    TraceStyle,
    generate_split,
    make_record,
    sample_scene,
    write_clip,
)
from vtedge.synth.render import (
    BOB,
    FPS,
    MOVING_Y,
    REST_Y,
    RGB,
    SIZE,
    TIMECODE,
    background,
    column_x,
    object_y,
    render_frame,
)


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    paths = {
        "train": generate_split(root / "train", 8, seed=3, split="train", progress=False),
        "ood": generate_split(root / "ood", 7, seed=3, split="ood", progress=False),
    }
    return root, paths


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _frames(path):
    """Every decoded RGB frame of a clip."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _phase_counts(path):
    """Each record's number of 2 s phases, from its clip's duration."""
    return {r["problem_id"]: round(r["duration"] / 2) for r in _lines(path)}


def test_same_seed_same_records_and_frames_other_seed_differs(splits, tmp_path):
    root, paths = splits
    again = generate_split(tmp_path / "again", 8, seed=3, split="train", progress=False)
    assert again.read_text() == paths["train"].read_text()
    first = _lines(paths["train"])[5]
    # The frames, not the bytes: libx264 now and then codes the same pixels two ways.
    remade = _frames(tmp_path / "again" / first["path"])
    frames = _frames(root / "train" / first["path"])
    assert len(remade) == len(frames) > 0
    assert all(np.array_equal(a, b) for a, b in zip(remade, frames, strict=True))
    # Record i depends only on (seed, split, i): a worker can make it alone.
    assert make_record(tmp_path / "one", 5, 3, "train") == first
    other = generate_split(tmp_path / "other", 8, seed=4, split="train", progress=False)
    assert [r["problem"] for r in _lines(other)] != [r["problem"] for r in _lines(paths["train"])]


@pytest.mark.parametrize("split", ["train", "ood"])
def test_gold_traces_score_perfectly(splits, split):
    _, paths = splits
    records = load_records(paths[split])
    assert len(records) == len(_lines(paths[split]))
    phase_counts = _phase_counts(paths[split])
    gold = [sft_target(r.process, r.solution) for r in records]
    solutions = [r.solution for r in records]
    segments = [[{"start": s.start, "end": s.end} for s in r.segments] for r in records]
    assert format_reward(gold) == [1.0] * len(gold)
    assert accuracy_reward(gold, solution=solutions) == [1.0] * len(gold)
    assert grounding_reward(gold, segments=segments) == [1.0] * len(gold)
    for record, text in zip(records, gold, strict=True):
        assert 3 <= len(record.options) <= 6 and record.data_source == "synth"
        # A walk step captions at most three shapes; focused blocks stay short.
        phases = phase_counts[record.problem_id]
        limit = 30 * phases + (0 if record.family == "describe" else 60)
        assert len(record.process.split()) <= limit, record.process
        assert parse(text).answer == record.answer
        assert record.problem_id.startswith(f"synth-{split}-3-")


@pytest.mark.parametrize("split", ["train", "ood"])
def test_every_trace_walks_the_phases_then_grounds_the_evidence(splits, split):
    """One block per 2 s phase, in order, each thought opening with the change at the phase's
    start (none for the first); then the record's segments (the evidence grounding scores)."""
    _, paths = splits
    phase_counts = _phase_counts(paths[split])
    for record in load_records(paths[split]):
        blocks = parse(sft_target(record.process, record.solution)).segments
        phases = phase_counts[record.problem_id]
        walk = blocks[:phases]
        assert [(s.start, s.end) for s in walk] == [(2 * p, 2 * p + 2) for p in range(phases)]
        assert walk[0].thought.startswith("No change yet.")
        assert all(not s.thought.startswith("No change") for s in walk[1:])
        evidence = walk if record.family == "describe" else blocks[phases:]
        assert [(s.start, s.end, s.caption) for s in evidence] == [
            (g.start, g.end, g.caption) for g in record.segments]


def _verdict(then: str, now: str) -> str:
    """What a then-and-now clause must conclude from its two states."""
    if then == now:
        return "same"
    if then == "hidden":
        return "appeared"
    if now == "hidden":
        return "vanished"
    colour, new_colour, new_motion = then.split(" and ")[0], *now.split(" and ")
    if colour != new_colour:
        return f"turned {new_colour}"
    return "started moving" if new_motion == "moving" else "stopped moving"


@pytest.mark.parametrize("split", ["train", "ood"])
def test_compare_states_sets_every_shape_then_beside_now(splits, split, tmp_path):
    """With ``compare``, a walk step's thought after the first opens with one ``was …, now
    …: verdict`` clause per shape seen then or now: ``now`` says what the step's caption
    says, ``was`` what the step before's caption said, the verdict follows from the two,
    and the change sentence names the one shape whose verdict is not ``same``. The rest
    of the record is unchanged."""
    _, paths = splits
    plain = paths[split]
    n = len(_lines(plain))
    compared = generate_split(tmp_path / split, n, seed=3, split=split, progress=False,
                              style=TraceStyle(compare=True))
    clause = r"The (\w+) was ([\w ]+?), now ([\w ]+?): ([\w ]+?)\."
    for a, b in zip(_lines(plain), _lines(compared), strict=True):
        assert {k: v for k, v in a.items() if k != "process"} == \
            {k: v for k, v in b.items() if k != "process"}
        assert re.sub(clause + " ", "", b["process"]) == a["process"]
    info = json.loads((tmp_path / split / "split.json").read_text())
    assert info["trace_style"] == {**vars(TraceStyle()), "compare": True}
    phase_counts = _phase_counts(compared)

    def looks(caption):
        return dict(re.findall(r"The (\w+) is (\w+ and \w+)\.", caption))

    for record in load_records(compared):
        walk = parse(sft_target(record.process, record.solution)).segments
        walk = walk[:phase_counts[record.problem_id]]
        for before, step in zip(walk, walk[1:], strict=False):
            then, now = looks(before.caption), looks(step.caption)
            states = [(s, then.get(s, "hidden"), now.get(s, "hidden"))
                      for s in SHAPES if s in then or s in now]
            clauses = re.findall(clause, step.thought)
            assert clauses == [(*state, _verdict(*state[1:])) for state in states], step.thought
            changed = [f"The {shape} {verdict}." for shape, _, _, verdict in clauses
                       if verdict != "same"]
            assert len(changed) == 1
            assert step.thought.split(". ", len(clauses))[-1].startswith(changed[0])


# Each family's question, and the goal the first walk step must restate from it.
GOALS = [
    (r"What colour was the (\w+) when the event right after (.+) happened\?",
     r"I look for when \2, then the next change and the \1's colour."),
    (r"What colour was the shape that (.+), at the moment (.+)\?",
     r"I look for the shape that \1, then its colour when \2."),
    (r"What colour was the (\w+) when (.+)\?", r"I look for when \2, then the \1's colour."),
    (r"Which shape changed right after (.+)\?", r"I look for when \1, then the next change."),
    (r"Which shape changed (\w+)\?", r"I look for the \1 change."),
    (r"How many times did the (\w+) .+\?", r"I count the changes of the \1."),
]


@pytest.mark.parametrize("split", ["train", "ood"])
def test_restate_goal_opens_the_walk_with_the_question_reworded(splits, split, tmp_path):
    """With ``goal``, the first walk step's thought opens with the question's goal, which
    follows from the question's own words; ``describe`` has no walk before its blocks and is
    unchanged, and so is everything but the trace."""
    _, paths = splits
    plain = _lines(paths[split])
    goals = _lines(generate_split(tmp_path / split, len(plain), seed=3, split=split,
                                  progress=False, style=TraceStyle(goal=True)))
    info = json.loads((tmp_path / split / "split.json").read_text())
    assert info["trace_style"] == {**vars(TraceStyle()), "goal": True}
    for a, b in zip(plain, goals, strict=True):
        assert {k: v for k, v in a.items() if k != "process"} == \
            {k: v for k, v in b.items() if k != "process"}
        if a["family"] == "describe":
            assert b["process"] == a["process"]
            continue
        pattern, goal = next((p, g) for p, g in GOALS if re.fullmatch(p, a["problem"]))
        expected = re.sub(pattern, goal, a["problem"])
        assert b["process"] == a["process"].replace("<think>", f"<think>{expected} ", 1)


@pytest.mark.parametrize("split", ["train", "ood"])
def test_tally_counts_keeps_a_running_count_through_the_walk(splits, split, tmp_path):
    """With ``tally``, every walk step of a ``count`` trace says the change, then how many
    of the walk's changes so far were the asked shape's, ending at the answer; the
    focused blocks, the other families and everything but the trace are unchanged."""
    _, paths = splits
    plain = _lines(paths[split])
    tallied = generate_split(tmp_path / split, len(plain), seed=3, split=split,
                             progress=False, style=TraceStyle(tally=True))
    info = json.loads((tmp_path / split / "split.json").read_text())
    assert info["trace_style"] == {**vars(TraceStyle()), "tally": True}
    phase_counts = _phase_counts(tallied)
    counted = 0
    for a, b in zip(plain, _lines(tallied), strict=True):
        assert {k: v for k, v in a.items() if k != "process"} == \
            {k: v for k, v in b.items() if k != "process"}
        if a["family"] != "count":
            assert b["process"] == a["process"]
            continue
        counted += 1
        shape = re.match(r"How many times did the (\w+) ", a["problem"]).group(1)
        phases = phase_counts[a["problem_id"]]
        old, new = a["process"].splitlines(), b["process"].splitlines()
        assert old[phases:] == new[phases:]
        total = 0
        for line in new[:phases]:
            thought = re.search(r"<think>(.*)</think>", line).group(1)
            change, tally = thought.split(". ", 1)
            total += change.startswith(f"The {shape} ")
            assert tally == f"The {shape}: {total} so far."
        letter = b["solution"].removeprefix("<answer>").removesuffix("</answer>")
        assert b["options"]["ABCDEF".index(letter)] == f"{letter}. {total}"
    assert counted


def _count_traces(tmp_path, **style):
    """The same 40 train records with plain running counts and with ``style`` too: each
    ``count`` record's asked shape and its trace lines in both wordings, side by side. Every
    other record, and every field but the trace, must be the same."""
    tallied, styled = (_lines(generate_split(tmp_path / name, 40, seed=3, split="train",
                                             progress=False, style=TraceStyle(tally=True, **extra)))
                       for name, extra in (("tally", {}), ("styled", style)))
    for a, b in zip(tallied, styled, strict=True):
        if a["family"] != "count":
            assert b == a
            continue
        assert {k: v for k, v in a.items() if k != "process"} == \
            {k: v for k, v in b.items() if k != "process"}
        shape = re.match(r"How many times did the (\w+) ", a["problem"]).group(1)
        yield shape, zip(a["process"].splitlines(), b["process"].splitlines(), strict=True)


def test_tally_verdicts_say_whether_each_change_is_the_asked_shapes(tmp_path):
    """With ``verdict`` too, each count after a change opens with "That is" when the change
    is the asked shape's and "Not" otherwise; nothing else of the tallied trace changes."""
    verdicts = 0
    for shape, lines in _count_traces(tmp_path, verdict=True):
        for old, new in lines:
            change = re.search(r"<think>(.*?)\. ", old)
            if " so far." not in old or change.group(1) == "No change yet":
                assert new == old
                continue
            verdict = "That is the" if change.group(1).startswith(f"The {shape} ") else "Not the"
            assert new == old.replace(f". The {shape}: ", f". {verdict} {shape}: ")
            verdicts += 1
    assert verdicts


def test_tally_each_shape_counts_the_changed_shapes_own_changes(tmp_path):
    """With ``each_shape``, each count after a change is the changed shape's own running
    count, read off the walk's change sentences; the first step keeps only "No change yet."
    and nothing but the walk's thoughts differs from the tallied trace."""
    steps = 0
    for _, lines in _count_traces(tmp_path, each_shape=True):
        totals: dict[str, int] = {}
        for old, new in lines:
            if " so far." not in old:
                assert new == old
                continue
            change = re.search(r"<think>(.*?\.) ", old).group(1)
            if change == "No change yet.":
                assert new == old.replace(re.search(r" The \w+: 0 so far\.", old).group(0), "")
                continue
            shape = re.match(r"The (\w+) ", change).group(1)
            totals[shape] = totals.get(shape, 0) + 1
            assert re.search(r"<think>(.*)</think>", new).group(1) == \
                f"{change} The {shape}: {totals[shape]} so far."
            steps += 1
    assert steps


def test_tally_before_now_copies_the_last_count_then_adds_the_steps_change(tmp_path):
    """With ``before_now``, each count after a change repeats the step before's count, then
    gives this step's, one more when the change is the asked shape's; the first step's
    count is "now"; nothing but the walk's counts differs from the tallied trace."""
    steps = 0
    for shape, lines in _count_traces(tmp_path, before_now=True):
        last = None
        for old, new in lines:
            count = re.search(rf"\. The {shape}: (\d) so far\.", old)
            if count is None:
                assert new == old
                continue
            now = int(count.group(1))
            said = f"{last} before, {now} now" if last is not None else f"{now} now"
            assert new == old.replace(f"{now} so far", said)
            assert last is None or now - last == old.count(f"<think>The {shape} ")
            last = now
            steps += 1
    assert steps


def test_a_count_is_worded_one_way(tmp_path):
    """Two tally wordings at once are refused in one line, before any clip is written."""
    with pytest.raises(ValueError, match="choose one"):
        TraceStyle(tally=True, each_shape=True, before_now=True)
    out = tmp_path / "both"
    result = CliRunner().invoke(cli, ["data", "synth", "--out", str(out), "--n", "2",
                                      "--tally-verdicts", "--tally-before-now", "--quiet"])
    assert result.exit_code == 2 and "choose one of --tally-verdicts" in result.output
    assert not out.exists()


def test_captions_by_column_read_left_to_right_colour_before_shape():
    """With ``columns``, a walk step's caption names each visible shape by its column,
    left to right, colour before shape; the thought and the answer stay."""
    from vtedge.synth.scene import SceneObject

    scene = Scene((SceneObject("circle", 2, "green", True, False),
                   SceneObject("square", 0, "red", True, True),
                   SceneObject("triangle", 1, "blue", False, False)),
                  (Event(2.0, 0, "vanish"),), phases=2, phase_seconds=2.0)
    question = FAMILIES["describe"](np.random.default_rng(0), scene)
    plain, by_column = question.process(), question.process(TraceStyle(columns=True))
    assert "<caption>The circle is green and still. The square is red and moving.</caption>" \
        in plain
    assert by_column == plain.replace(
        "The circle is green and still. The square is red and moving.",
        "Left: a red square, moving. Right: a green circle, still.").replace(
        "<caption>The square is red and moving.</caption>",
        "<caption>Left: a red square, moving.</caption>")
    assert [b.caption for b in question.evidence(TraceStyle(columns=True))] == [
        "Left: a red square, moving. Right: a green circle, still.",
        "Left: a red square, moving."]


def test_captions_by_column_change_only_the_walk_captions(splits, tmp_path):
    """Same clips, questions and answers; each walk caption names the same shapes, colours
    and motions, left to right; the rest of the trace keeps its wording."""
    _, paths = splits
    plain = _lines(paths["ood"])
    columns = generate_split(tmp_path / "ood", len(plain), seed=3, split="ood",
                             progress=False, style=TraceStyle(columns=True))
    phase_counts = _phase_counts(columns)
    shape_first = re.compile(r"The (\w+) is (\w+) and (\w+)\.")
    column_first = re.compile(r"(Left|Middle|Right): an? (\w+) (\w+), (\w+)\.")
    caption = re.compile(r"<caption>(.*)</caption>")
    for a, b in zip(plain, _lines(columns), strict=True):
        assert {k: v for k, v in a.items() if k not in ("process", "segments")} == \
            {k: v for k, v in b.items() if k not in ("process", "segments")}
        phases = phase_counts[a["problem_id"]]
        old, new = a["process"].splitlines(), b["process"].splitlines()
        if a["family"] != "describe":
            assert old[phases:] == new[phases:]
        for was, now in zip(old[:phases], new[:phases], strict=True):
            assert caption.sub("", was) == caption.sub("", now)
            clauses = column_first.findall(caption.search(now).group(1))
            assert sorted((s, c, m) for _, c, s, m in clauses) == \
                sorted(shape_first.findall(caption.search(was).group(1)))
            named = [name for name, *_ in clauses]
            assert named == sorted(named, key=("Left", "Middle", "Right").index)


def test_captions_in_passes_name_every_shape_then_every_colour():
    """With ``passes``, a walk step's caption names the visible shapes by column, then their
    colours and motions by column; it replaces the by-column caption when both are asked."""
    from vtedge.synth.scene import SceneObject

    scene = Scene((SceneObject("circle", 2, "green", True, False),
                   SceneObject("square", 0, "red", True, True),
                   SceneObject("triangle", 1, "blue", False, False)),
                  (Event(2.0, 0, "vanish"),), phases=2, phase_seconds=2.0)
    question = FAMILIES["describe"](np.random.default_rng(0), scene)
    for style in (TraceStyle(passes=True), TraceStyle(passes=True, columns=True)):
        assert [b.caption for b in question.evidence(style)] == [
            "Left: square. Right: circle. Left: red, moving. Right: green, still.",
            "Left: square. Left: red, moving."]
        assert question.process(style).count("<caption>Left: square. Left: red, moving.")


def test_other_colours_paint_every_shape_in_colours_no_question_asks_about(tmp_path):
    """``--other-colours`` draws the shapes, their recolours and a colour question's options
    from ``OTHER_COLOURS``; the frames show them; ood's held-out pairs rule it out."""
    out = tmp_path / "other"
    result = CliRunner().invoke(cli, ["data", "synth", "--out", str(out), "--n", "12",
                                      "--seed", "4", "--split", "train", "--families",
                                      "state,describe", "--other-colours", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = _lines(out / "records.jsonl")
    assert json.loads((out / "split.json").read_text())["palette"] == list(OTHER_COLOURS)
    words = set(re.findall(r"is (\w+) and (?:still|moving)", " ".join(r["process"] for r in rows)))
    assert words and words <= set(OTHER_COLOURS)
    for row in (r for r in rows if r["family"] == "state"):
        assert [o.split(". ", 1)[1] for o in row["options"]] == list(OTHER_COLOURS)
        letter = row["solution"].removeprefix("<answer>").removesuffix("</answer>")
        assert row["process"].endswith(f"was {OTHER_COLOURS['ABCD'.index(letter)]}.")
    scene = sample_scene(np.random.default_rng(1), 4, 2.0, 3, held_out=False,
                         palette=OTHER_COLOURS)
    frame = render_frame(scene, 1.0)
    for k, obj in enumerate(scene.objects):
        state = scene.state(k, 1.0)
        if state.visible:
            y, x = object_y(state.moving, state.moving_since, 1.0), column_x(obj.column)
            assert tuple(frame[y, x]) == RGB[state.colour]
    ood = CliRunner().invoke(cli, ["data", "synth", "--out", str(tmp_path / "ood"), "--n", "1",
                                   "--split", "ood", "--other-colours"])
    assert ood.exit_code == 2 and "held-out colour/shape pairs" in ood.output


def test_shape_questions_list_the_shapes_in_a_fixed_order(splits):
    """``after`` and ``order`` ask which shape changed; the letter names the conclusion's shape."""
    _, paths = splits
    rows = [r for p in paths.values() for r in _lines(p) if r["family"] in ("after", "order")]
    assert rows
    for row in rows:
        assert row["problem"].startswith("Which shape changed")
        assert [o.split(". ", 1)[1] for o in row["options"]] == [f"The {s}" for s in SHAPES]
        letter = row["solution"].removeprefix("<answer>").removesuffix("</answer>")
        conclusion = row["process"].splitlines()[-1]
        assert f"the {SHAPES['ABC'.index(letter)]} " in conclusion, conclusion


def test_colour_options_follow_the_palette(splits):
    """A colour question's letter follows from the colour it concludes, like count's numbers."""
    _, paths = splits
    colour_rows = [r for r in _lines(paths["ood"]) if r["family"] in ("state", "state-after",
                                                                       "who-state")]
    assert colour_rows
    for row in colour_rows:
        assert [o.split(". ", 1)[1] for o in row["options"]] == list(COLOURS)
        letter = row["solution"].removeprefix("<answer>").removesuffix("</answer>")
        colour = COLOURS["ABCD".index(letter)]
        assert row["process"].endswith(f"was {colour}."), row["process"]


def test_ood_changes_length_pairs_and_families(splits):
    _, paths = splits
    train, ood = _lines(paths["train"]), _lines(paths["ood"])
    assert {r["family"] for r in train} == set(BASE_FAMILIES)
    assert {r["family"] for r in ood} == set(BASE_FAMILIES + TWO_HOP_FAMILIES)
    # Train clips vary in length so the walk learns to run to the end; ood is longer still.
    assert {r["duration"] for r in train} == {6.0, 8.0, 10.0}
    assert {r["duration"] for r in ood} == {12.0}
    rng = np.random.default_rng(0)
    for _ in range(100):
        seen = sample_scene(rng, 4, 2.0, int(rng.integers(2, 4)), held_out=False).pairs_shown()
        assert not seen & HELD_OUT_PAIRS
        assert sample_scene(rng, 6, 2.0, 3, held_out=True).pairs_shown() & HELD_OUT_PAIRS


def test_clip_shows_each_state(tmp_path):
    scene = sample_scene(np.random.default_rng(7), 4, 2.0, 3, held_out=False)
    path = write_clip(scene, tmp_path / "clip.mp4")
    frames = _frames(path)
    assert len(frames) == scene.duration * FPS and frames[0].shape == (SIZE, SIZE, 3)
    for phase in range(scene.phases):
        index = int((phase + 0.5) * scene.phase_seconds * FPS)
        time = index / FPS
        for k, obj in enumerate(scene.objects):
            state = scene.state(k, time)
            y, x = object_y(state.moving, state.moving_since, time), column_x(obj.column)
            pixel = frames[index][y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3).mean(0)
            expected = RGB[state.colour] if state.visible else background(time)
            assert np.abs(pixel - expected).max() < 40, (phase, obj.shape, state)
        corner = frames[index][:4, :4].reshape(-1, 3).mean(0)
        assert np.abs(corner - TIMECODE[int(time)]).max() < 12, (phase, corner)


def test_cli_synth(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "data",
            "synth",
            "--out",
            str(tmp_path / "d"),
            "--n",
            "2",
            "--seed",
            "1",
            "--split",
            "val",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 2 val records" in result.output and "clips/s" in result.output
    assert len(load_records(tmp_path / "d" / "records.jsonl")) == 2
    assert json.loads((tmp_path / "d" / "split.json").read_text())["split"]["name"] == "val"
    bad = CliRunner().invoke(cli, ["data", "synth", "--out", str(tmp_path), "--split", "test"])
    assert bad.exit_code == 2
    # A folder holding a dataset is replaced only when asked, clips and all.
    again = ["data", "synth", "--out", str(tmp_path / "d"), "--n", "1", "--quiet"]
    kept = CliRunner().invoke(cli, again)
    assert kept.exit_code == 6 and "pass --overwrite" in kept.stderr
    assert len(load_records(tmp_path / "d" / "records.jsonl")) == 2
    replaced = CliRunner().invoke(cli, [*again, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert len(load_records(tmp_path / "d" / "records.jsonl")) == 1
    assert len(list((tmp_path / "d" / "videos").iterdir())) == 1


def _read_column(frame, x):
    """What a column shows: (visible, colour, moving), read from pixels alone."""
    palette = {**RGB, None: (24, 24, 24)}

    def colour_at(pixel):
        return min(palette, key=lambda c: np.abs(np.asarray(palette[c]) - pixel).sum())

    resting = colour_at(frame[REST_Y, x].astype(int))
    if resting is not None:
        return True, resting, False
    band = [colour_at(frame[y, x].astype(int)) for y in range(MOVING_Y - BOB, MOVING_Y + BOB + 1)]
    seen = [c for c in band if c is not None]
    return (True, seen[len(seen) // 2], True) if seen else (False, None, False)


@pytest.mark.parametrize(("phases", "held_out"), [(4, False), (6, True)])
def test_eight_sampled_frames_show_every_state(tmp_path, phases, held_out):
    """What the tiny vision spec sees (8 frames at 112x112) holds every phase's full state."""
    spec = get_spec("tiny")
    rng = np.random.default_rng(11)
    for k in range(3):
        scene = sample_scene(rng, phases, 2.0, 3, held_out=held_out)
        path = write_clip(scene, tmp_path / f"{k}.mp4")
        frames = _frames(path)
        n = spec.num_frames(len(frames), FPS)
        assert n == 8 and spec.frame_size(SIZE, SIZE, n) == (SIZE, SIZE)
        indices = np.linspace(0, len(frames) - 1, n).round().astype(int)
        times = indices / FPS
        assert {int(t // scene.phase_seconds) for t in times} == set(range(scene.phases))
        for index, time in zip(indices, times, strict=True):
            for j, obj in enumerate(scene.objects):
                state = scene.state(j, time)
                truth = (
                    (True, state.colour, state.moving) if state.visible else (False, None, False)
                )
                assert _read_column(frames[index], column_x(obj.column)) == truth, (time, obj)


def test_families_keeps_only_the_chosen_ones(tmp_path):
    path = generate_split(tmp_path / "d", 3, seed=3, split="train", progress=False, workers=1,
                          families=("describe",))
    records = load_records(path)
    assert [r.family for r in records] == ["describe"] * 3
    # Every phase of the clip is one timed caption: the alignment stage's target.
    phase_counts = _phase_counts(path)
    assert all(len(r.segments) == phase_counts[r.problem_id] for r in records)
    assert json.loads((tmp_path / "d" / "split.json").read_text())["families"] == ["describe"]
    with pytest.raises(ValueError, match="no family 'who-state'"):
        generate_split(tmp_path / "e", 1, seed=3, split="train", families=("who-state",))
    bad = CliRunner().invoke(cli, ["data", "synth", "--out", str(tmp_path / "f"), "--n", "1",
                                   "--families", "describe,nope", "--quiet"])
    assert bad.exit_code == 2 and "no family 'nope'" in bad.output
