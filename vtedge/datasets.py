"""Video-R1 / Video-Thinker dataset records: read JSON or JSONL, resolve videos, validate.

A record's ``path`` resolves under the folder its ``data_source`` maps to (``roots``), or
under one ``root`` for all, or under the data file's folder; it may not leave that folder.
A bad record raises ``DatasetError`` naming the file and line, or, with ``skip_bad``, is
counted in ``LoadedRecords.skipped`` (with the reason in ``LoadedRecords.problems``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vtedge.errors import DatasetError, MissingPathError
from vtedge.reasoning.answers import is_multiple_choice, solution_answer
from vtedge.reasoning.prompts import format_question

REQUIRED_FIELDS = ("problem", "problem_type", "solution", "path")
OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class GroundTruthSegment:
    """A span of the video (seconds) that holds evidence, with what it shows."""

    start: float
    end: float
    caption: str = ""


@dataclass(frozen=True)
class Record:
    """One question about one video, validated, with its video resolved on disk."""

    problem_id: str | int | None
    problem: str
    problem_type: str
    options: tuple[str, ...]
    solution: str
    process: str
    data_type: str
    path: str
    data_source: str
    video_path: Path
    segments: tuple[GroundTruthSegment, ...] = ()
    family: str | None = None
    source: str = ""
    line: int = 0

    @property
    def answer(self) -> str:
        """The gold answer: the letter (or value) inside ``solution``'s answer tags."""
        return solution_answer(self.solution)

    @property
    def question(self) -> str:
        """The question text a model sees: problem plus options, evaluation form."""
        return format_question(self.problem, list(self.options) or None)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        """The record in the published schema (plus vtedge's ``segments`` and ``family``)."""
        data: dict[str, Any] = {
            "problem_id": self.problem_id,
            "problem": self.problem,
            "problem_type": self.problem_type,
            "options": list(self.options),
            "solution": self.solution,
            "process": self.process,
            "data_type": self.data_type,
            "path": self.path,
            "data_source": self.data_source,
        }
        if self.segments:
            data["segments"] = [
                {"start": s.start, "end": s.end, "caption": s.caption} for s in self.segments
            ]
        if self.family is not None:
            data["family"] = self.family
        return data


class LoadedRecords(list):
    """The records that loaded, plus how many were skipped as bad and why."""

    def __init__(self, records=(), skipped: int = 0, problems: list[str] | None = None):
        super().__init__(records)
        self.skipped = skipped
        self.problems = problems if problems is not None else []


class BadRecord(Exception):
    """Internal: why one record is rejected (turned into a ``DatasetError`` with its place)."""


@dataclass
class _Roots:
    """Where each record's ``path`` resolves."""

    default: Path | None
    by_source: dict[str, Path] = field(default_factory=dict)

    def for_source(self, data_source: str) -> Path:
        if self.by_source:
            if data_source in self.by_source:
                return self.by_source[data_source]
            if self.default is None:
                known = ", ".join(sorted(self.by_source)) or "none"
                raise BadRecord(f"unknown data_source {data_source!r} (known: {known})")
        if self.default is None:
            raise BadRecord(f"no root folder for data_source {data_source!r}")
        return self.default


def _resolve_root(folder: str | os.PathLike, base: Path) -> Path:
    folder = Path(folder).expanduser()
    return Path(os.path.normpath(folder if folder.is_absolute() else base / folder))


def read_json_rows(path: Path) -> list[tuple[int, Any]]:
    """``(line, value)`` per record: JSONL line numbers, or 1-based positions in a JSON list.

    A JSONL line that does not parse comes back as a ``BadRecord`` value, so the caller
    decides whether it is fatal; a broken JSON list is a ``DatasetError``. A leading
    byte-order mark is skipped (editors on Windows write one); ``NaN`` and ``Infinity``,
    which Python's json reads but JSON does not have, are refused.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text ({error.reason})") from None
    if text.lstrip().startswith("["):
        try:
            values = _strict_json(text)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{error.lineno}: invalid JSON: {error.msg}") from None
        except BadRecord as error:
            raise DatasetError(f"{path}: invalid JSON: {error}") from None
        return list(enumerate(values, start=1))
    rows: list[tuple[int, Any]] = []
    # Split on newlines only: str.splitlines would also cut at U+2028 and other separators
    # that JSON strings may hold unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, _strict_json(line)))
        except json.JSONDecodeError as error:
            rows.append((number, BadRecord(f"invalid JSON: {error.msg}")))
        except BadRecord as error:
            rows.append((number, BadRecord(f"invalid JSON: {error}")))
    return rows


def _strict_json(text: str) -> Any:
    """``json.loads`` held to JSON: a syntax error stays a ``JSONDecodeError`` (it has a
    line number); anything else it cannot read is a ``BadRecord``."""
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise BadRecord("nested too deeply") from None
    except ValueError as error:  # e.g. an integer over Python's 4,300-digit limit
        raise BadRecord(str(error)) from None


def _refuse_constant(name: str) -> None:
    raise BadRecord(f"{name} is not a JSON number")


def _text(data: dict, key: str, default: str | None = None) -> str:
    value = data.get(key)
    if value is None:  # absent or null: an optional field takes its default
        value = default
    if value is None:
        raise BadRecord(f"missing required field {key!r}")
    if not isinstance(value, str):
        raise BadRecord(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def _segments(value: Any) -> tuple[GroundTruthSegment, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRecord("field 'segments' must be a list")
    out = []
    for k, item in enumerate(value):
        if not isinstance(item, dict):
            raise BadRecord(f"segments[{k}] must be an object with start, end, caption")
        start, end = item.get("start"), item.get("end")
        if not (_is_seconds(start) and _is_seconds(end)) or not 0 <= start <= end:
            raise BadRecord(
                f"segments[{k}] needs numeric 0 <= start <= end, got {start!r}, {end!r}"
            )
        caption = item.get("caption", "")
        if not isinstance(caption, str):
            raise BadRecord(f"segments[{k}].caption must be a string")
        out.append(GroundTruthSegment(float(start), float(end), caption))
    return tuple(out)


def _is_seconds(value: Any) -> bool:
    """A finite JSON number; an integer too large for a float is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _video_path(root: Path, relative: str, check_videos: bool) -> Path:
    if not relative.strip():
        raise BadRecord("empty 'path'")
    candidate = Path(os.path.normpath(root / relative))
    # Lexical containment: a path may not climb out of its root with '..' or be absolute
    # elsewhere; symlinks inside the root are the dataset owner's choice and are followed.
    if candidate != root and root not in candidate.parents:
        raise BadRecord(f"path {relative!r} escapes its root {root}")
    if check_videos and not candidate.is_file():
        raise BadRecord(f"missing video {candidate}")
    return candidate


def parse_record(data: Any, roots: _Roots, source: str, line: int, check_videos: bool) -> Record:
    """One validated ``Record`` from a decoded JSON value; raises ``BadRecord``."""
    if isinstance(data, BadRecord):
        raise data
    if not isinstance(data, dict):
        raise BadRecord(f"a record must be a JSON object, got {type(data).__name__}")
    for key in REQUIRED_FIELDS:
        if key not in data:
            raise BadRecord(f"missing required field {key!r}")
    problem_type = _text(data, "problem_type").strip()
    if not problem_type:
        raise BadRecord("empty 'problem_type'")
    options = data.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise BadRecord("field 'options' must be a list of strings")
    solution = _text(data, "solution")
    if is_multiple_choice(problem_type):  # scored so in any case (reasoning.answers)
        if len(options) < 2:
            raise BadRecord("a multiple choice record needs at least two options")
        letter = solution_answer(solution)
        if len(letter) != 1 or letter not in OPTION_LETTERS[: len(options)]:
            raise BadRecord(f"answer {letter!r} is not one of the {len(options)} option letters")
    data_type = _text(data, "data_type", "video")
    if data_type != "video":
        raise BadRecord(f"data_type {data_type!r} is not supported (video only)")
    problem_id = data.get("problem_id")
    if problem_id is not None and (
        isinstance(problem_id, bool) or not isinstance(problem_id, (str, int))
    ):
        raise BadRecord("field 'problem_id' must be a string or an integer")
    family = data.get("family")
    if family is not None and not isinstance(family, str):
        raise BadRecord("field 'family' must be a string")
    data_source = _text(data, "data_source", "")
    path = _text(data, "path")
    return Record(
        problem_id=problem_id,
        problem=_text(data, "problem"),
        problem_type=problem_type,
        options=tuple(options),
        solution=solution,
        process=_text(data, "process", ""),
        data_type=data_type,
        path=path,
        data_source=data_source,
        video_path=_video_path(roots.for_source(data_source), path, check_videos),
        segments=_segments(data.get("segments")),
        family=family,
        source=source,
        line=line,
    )


def load_records(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    roots: Mapping[str, str | os.PathLike] | None = None,
    skip_bad: bool = False,
    check_videos: bool = True,
) -> LoadedRecords:
    """Every record of a JSON list or JSONL file, validated, videos resolved.

    ``roots`` maps ``data_source`` → folder; ``root`` serves every source (or those
    ``roots`` lacks); with neither, paths resolve against the data file's folder. Relative
    roots resolve against the data file's folder too.
    """
    path = Path(path)
    if path.is_dir():
        raise MissingPathError(f"{path}: a folder, not a dataset file (records.jsonl inside?)")
    if not path.is_file():
        raise MissingPathError(f"dataset file not found: {path}")
    base = path.resolve().parent
    resolved = _Roots(
        default=_resolve_root(root, base) if root is not None else (None if roots else base),
        by_source={k: _resolve_root(v, base) for k, v in (roots or {}).items()},
    )
    loaded = LoadedRecords()
    seen_ids: dict[str, int] = {}
    for line, value in read_json_rows(path):
        try:
            record = parse_record(value, resolved, str(path), line, check_videos)
            if record.problem_id is not None:
                key = str(record.problem_id)  # as predictions match them: 7 is "7"
                if key in seen_ids:
                    raise BadRecord(
                        f"duplicate problem_id {record.problem_id!r} (first at line "
                        f"{seen_ids[key]})"
                    )
                seen_ids[key] = line
        except BadRecord as error:
            message = f"{path}:{line}: {error}"
            if not skip_bad:
                raise DatasetError(message) from None
            loaded.skipped += 1
            loaded.problems.append(message)
            continue
        loaded.append(record)
    return loaded
