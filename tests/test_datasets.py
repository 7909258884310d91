"""Dataset records in the published Video-R1 / Video-Thinker schema: roots, paths, bad input."""

import json

import pytest

from vtedge.datasets import GroundTruthSegment, LoadedRecords, Record, load_records
from vtedge.errors import DatasetError, MissingPathError


def _record(**changes):
    record = {
        "problem_id": 1,
        "problem": "What colour is the ball?",
        "problem_type": "multiple choice",
        "options": ["A. red", "B. blue", "C. green", "D. white"],
        "solution": "<answer>B</answer>",
        "process": "<time>00:01-00:03</time><caption>a ball</caption><think>blue</think>",
        "data_type": "video",
        "path": "./clips/a.mp4",
        "data_source": "LLaVA-Video-178K",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


@pytest.fixture
def layout(tmp_path):
    """A data file beside two source folders (one relative, one absolute) of videos."""
    (tmp_path / "data" / "llava" / "clips").mkdir(parents=True)
    (tmp_path / "data" / "llava" / "clips" / "a.mp4").write_bytes(b"\0")
    (tmp_path / "elsewhere" / "nested").mkdir(parents=True)
    (tmp_path / "elsewhere" / "nested" / "b.mp4").write_bytes(b"\0")
    roots = {"LLaVA-Video-178K": "./llava", "STAR": str(tmp_path / "elsewhere")}
    return tmp_path, roots


def test_published_schema_with_several_roots(layout):
    tmp_path, roots = layout
    records = [
        _record(),
        _record(
            problem_id="star-2",
            path="nested/b.mp4",
            data_source="STAR",
            options=None,
            problem_type="numerical",
            solution="<answer>3</answer>",
            process=None,
            segments=[{"start": 0, "end": 2.5, "caption": "two cups"}],
        ),
        _record(problem_id=3, path="./clips/../clips/a.mp4"),
    ]
    for name, text in (
        ("set.json", json.dumps(records, indent=1)),
        ("set.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n"),
    ):
        path = tmp_path / "data" / name
        path.write_text(text)
        loaded = load_records(path, roots=roots)
        assert isinstance(loaded, LoadedRecords) and loaded.skipped == 0 and len(loaded) == 3
        assert all(r.video_path.is_file() for r in loaded)
        first, second, _ = loaded
        assert first.video_path == tmp_path / "data" / "llava" / "clips" / "a.mp4"
        assert second.video_path == tmp_path / "elsewhere" / "nested" / "b.mp4"
        assert first.answer == "B" and second.answer == "3"
        assert (
            first.question
            == "What colour is the ball?\nOptions:\nA. red\nB. blue\nC. green\nD. white"
        )
        assert second.question == "What colour is the ball?"
        assert second.segments == (GroundTruthSegment(0.0, 2.5, "two cups"),)
        assert second.process == "" and first.source == str(path)
    assert [r.line for r in load_records(tmp_path / "data" / "set.jsonl", roots=roots)] == [1, 2, 3]


def test_single_root_and_default_root(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"\0")
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(_record(path="./videos/a.mp4", data_source="anything")) + "\n")
    assert load_records(path)[0].video_path == tmp_path / "videos" / "a.mp4"
    path.write_text(json.dumps(_record(path="a.mp4")) + "\n")
    assert load_records(path, root="videos")[0].video_path == tmp_path / "videos" / "a.mp4"
    assert load_records(path, root=tmp_path / "videos")[0].data_source == "LLaVA-Video-178K"
    record = load_records(path, root="videos")[0]
    assert isinstance(record, Record) and record.to_json()["path"] == "a.mp4"


BAD = [
    (_record(problem=None), "missing required field 'problem'"),
    (_record(solution=None), "missing required field 'solution'"),
    (_record(data_source="Unknown"), "unknown data_source 'Unknown'"),
    (_record(path="../../etc/passwd"), "escapes its root"),
    (_record(path="/etc/passwd"), "escapes its root"),
    (_record(path="./clips/missing.mp4"), "missing video"),
    (_record(path=""), "empty 'path'"),
    (_record(problem=5), "must be a string"),
    (_record(options=["A. only"]), "at least two options"),
    (_record(options="A. x"), "list of strings"),
    (_record(solution="<answer>F</answer>"), "not one of the 4 option letters"),
    (_record(solution="<answer>AB</answer>"), "not one of the 4 option letters"),
    (_record(solution="<answer></answer>"), "not one of the 4 option letters"),
    # Scoring reads the type in any case, so loading checks it so too.
    (_record(problem_type="Multiple Choice", solution="<answer>Z</answer>"),
     "not one of the 4 option letters"),
    (_record(problem_type=" "), "empty 'problem_type'"),
    (_record(data_type="image"), "video only"),
    (_record(segments=[{"start": 3, "end": 1}]), "segments[0]"),
    (_record(segments={"start": 0}), "must be a list"),
    (_record(segments=[{"start": 0, "end": float("inf"), "caption": "x"}]),
     "Infinity is not a JSON number"),
    (_record(problem_id=[1]), "problem_id"),
    (["not", "an", "object"], "must be a JSON object"),
]


@pytest.mark.parametrize(("record", "reason"), BAD)
def test_bad_record_names_file_and_line(layout, record, reason):
    tmp_path, roots = layout
    path = tmp_path / "data" / "bad.jsonl"
    path.write_text(json.dumps(_record(problem_id=100)) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(DatasetError) as error:
        load_records(path, roots=roots)
    assert str(error.value).startswith(f"{path}:2: ") and reason in str(error.value)
    loaded = load_records(path, roots=roots, skip_bad=True)
    assert len(loaded) == 1 and loaded.skipped == 1 and reason in loaded.problems[0]


def test_bad_lines_and_files(layout):
    tmp_path, roots = layout
    path = tmp_path / "data" / "lines.jsonl"
    path.write_text(
        json.dumps(_record())
        + "\n{not json\n"
        + json.dumps(_record())
        + "\n"
        + json.dumps(_record(problem_id=2))
        + "\n"
    )
    with pytest.raises(DatasetError, match=r"lines\.jsonl:2: invalid JSON"):
        load_records(path, roots=roots)
    loaded = load_records(path, roots=roots, skip_bad=True)
    assert [r.problem_id for r in loaded] == [1, 2] and loaded.skipped == 2
    assert "duplicate problem_id 1" in loaded.problems[1]
    with pytest.raises(MissingPathError, match="dataset file not found"):
        load_records(tmp_path / "nope.jsonl")
    with pytest.raises(MissingPathError, match="a folder, not a dataset file"):
        load_records(tmp_path / "data")
    broken = tmp_path / "data" / "broken.json"
    broken.write_text('[{"problem": 1,\n')
    with pytest.raises(DatasetError, match="invalid JSON"):
        load_records(broken, skip_bad=True)
    (tmp_path / "data" / "binary.jsonl").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_records(tmp_path / "data" / "binary.jsonl")


def test_what_json_allows_reads_and_what_it_does_not_is_refused(layout):
    """A byte-order mark and U+2028 in a string are valid JSON text; 1e999 overflows."""
    tmp_path, roots = layout
    path = tmp_path / "data" / "r.jsonl"
    caption = "a ball\u2028rolls"
    text = json.dumps(_record(segments=[{"start": 0, "end": 2, "caption": caption}]),
                      ensure_ascii=False)
    path.write_text("\ufeff" + text + "\n", encoding="utf-8")
    loaded = load_records(path, roots=roots)
    assert loaded[0].segments[0].caption == caption
    for end in ("1e999", "1" + "0" * 400):  # a float's and an integer's overflow
        path.write_text(text.replace('"end": 2', f'"end": {end}') + "\n", encoding="utf-8")
        with pytest.raises(DatasetError, match="r.jsonl:1: segments"):
            load_records(path, roots=roots)
    # Nested past the recursion limit, and an integer past Python's 4,300-digit limit.
    for body in ('{"a": ' + "[" * 10**5 + "]" * 10**5 + "}", '{"problem_id": ' + "9" * 5000 + "}"):
        path.write_text(body + "\n", encoding="utf-8")
        with pytest.raises(DatasetError, match="r.jsonl:1: invalid JSON"):
            load_records(path, roots=roots)


def test_check_videos_off(layout):
    tmp_path, roots = layout
    path = tmp_path / "data" / "r.jsonl"
    path.write_text(json.dumps(_record(path="./clips/not-yet.mp4")) + "\n")
    loaded = load_records(path, roots=roots, check_videos=False)
    assert not loaded[0].video_path.exists()


def test_null_optional_fields_take_their_defaults_and_ids_compare_as_text(layout):
    tmp_path, roots = layout
    path = tmp_path / "data" / "nulls.jsonl"
    record = {**_record(), "process": None, "data_type": None}
    path.write_text(json.dumps(record) + "\n")
    (loaded,) = load_records(path, roots=roots)
    assert loaded.process == "" and loaded.data_type == "video"
    # Predictions match ids as text, so 7 and "7" would be one record to them.
    path.write_text(json.dumps(_record(problem_id=7)) + "\n"
                    + json.dumps(_record(problem_id="7")) + "\n")
    with pytest.raises(DatasetError, match=r":2: duplicate problem_id '7' \(first at line 1\)"):
        load_records(path, roots=roots)
