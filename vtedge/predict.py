"""Run a model (bundle or checkpoint) over dataset records and write predictions JSONL.

Decoding follows the published evaluation settings in the prompt file (temperature,
top_p, max_tokens); frames follow the model's own vision spec, which a bundle's vision
encoder is fixed to. Each prediction is appended and flushed as soon as it exists, and a
re-run skips the records already in the file, so an interrupted evaluation resumes. Every
line carries a ``run`` fingerprint (the model's files, the dataset file and the decoding
settings), and a file written by another run is refused rather than resumed, so one score
never mixes two models' answers, nor answers to another dataset's questions.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

from vtedge.errors import DatasetError, VideoDecodeError


def published_decoding() -> dict:
    """``evaluation_decoding`` of the packaged Video-Thinker prompt file."""
    from vtedge.reasoning import load_prompt_file

    return dict(load_prompt_file()["evaluation_decoding"])


def run_fingerprint(model: Path, decoding: dict, records: Sequence) -> str:
    """A short digest of what decides a prediction: a bundle's manifest (which holds every
    graph's sha256) or a checkpoint's config and weights, the decoding settings, and the
    dataset files the records come from (two datasets may share problem_ids)."""
    from vtedge.bundle import MANIFEST, file_digest, is_bundle

    if is_bundle(model):
        files = [model / MANIFEST]
    else:
        files = sorted(p for p in model.iterdir()
                       if p.name == "config.json" or p.suffix in (".safetensors", ".bin"))
    sources = sorted({str(Path(source).resolve()) for source in {r.source for r in records}
                      if source})
    digest = hashlib.sha256(json.dumps([decoding, sources], sort_keys=True).encode())
    for path in files:
        digest.update(f"{path.name}:{file_digest(path)}".encode())
    return digest.hexdigest()[:16]


def _done(out: Path, run: str) -> tuple[set[str], set[int]]:
    """problem_ids already predicted in ``out``, and the data-file lines of those predicted
    records that have none; refuses a file whose lines another run wrote."""
    ids: set[str] = set()
    lines: set[int] = set()
    if not out.exists():
        return ids, lines
    from vtedge.datasets import BadRecord, read_json_rows

    # The reader `vtedge eval` scores this file with, so both see the same lines.
    rows = read_json_rows(out)
    if rows and isinstance(rows[-1][1], BadRecord) and _drop_cut_off_line(out):
        warnings.warn(f"{out}:{rows[-1][0]}: dropped a line cut off mid-write (the run "
                      "before stopped there); resuming", RuntimeWarning, stacklevel=3)
        rows = rows[:-1]
    for number, row in rows:
        if isinstance(row, BadRecord) or not isinstance(row, dict):
            raise DatasetError(
                f"{out}:{number}: not a JSON object; fix or remove the line to resume")
        if "run" not in row:
            raise DatasetError(
                f"{out}:{number}: no run fingerprint, so not written by a model run; pass "
                "another --out (score a file of your own with --pred)")
        if row["run"] != run:
            raise DatasetError(
                f"{out}:{number}: written by another model, dataset or decoding settings (run "
                f"{row['run']}, this is {run}); pass another --out, or delete it to start over")
        if row.get("problem_id") is not None:
            ids.add(str(row["problem_id"]))
        elif isinstance(row.get("line"), int):
            lines.add(row["line"])
    return ids, lines


def _drop_cut_off_line(out: Path) -> bool:
    """Truncate a last line that lacks its newline, the mark of a run killed mid-write;
    True if there was one. Appending after it would glue the next answer onto it."""
    data = out.read_bytes()
    if data.endswith(b"\n"):
        return False
    with out.open("r+b") as file:
        file.truncate(data.rfind(b"\n") + 1)
    return True


def predict(model: str | Path | None, records: Sequence, out: str | Path, *,
            provider: str = "auto", max_new_tokens: int | None = None,
            temperature: float | None = None, top_p: float | None = None, seed: int = 0,
            progress: bool = True, warn=None, skip_undecodable: bool = False) -> Path:
    """Append one ``{"problem_id", "output", "answer", "run", "timings"}`` line per new
    record (plus the record's data-file ``line`` when it has no problem_id).
    ``skip_undecodable`` warns about a clip that cannot be decoded and goes on without
    its prediction (scored as missing) instead of stopping."""
    from vtedge.progress import progress_bar
    from vtedge.runtime import existing_model_path, open_model

    decoding = published_decoding()
    max_new_tokens = max_new_tokens or int(decoding["max_tokens"])
    temperature = decoding["temperature"] if temperature is None else temperature
    top_p = decoding["top_p"] if top_p is None else top_p
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model = existing_model_path(model)
    run = run_fingerprint(model, {"max_new_tokens": max_new_tokens,
                                  "temperature": temperature, "top_p": top_p, "seed": seed},
                          records)
    done, done_lines = _done(out, run)
    todo = [r for r in records
            if (r.line not in done_lines if r.problem_id is None
                else str(r.problem_id) not in done)]
    if not todo:
        return out
    runtime = open_model(model, provider, warn=warn)
    with progress_bar("predict", len(todo), disable=not progress, transient=True) as advance, \
            out.open("a", encoding="utf-8") as sink:
        for record in todo:
            try:
                answer = runtime.ask(record.video_path, record.problem,
                                     list(record.options) or None,
                                     max_new_tokens=max_new_tokens, temperature=temperature,
                                     top_p=top_p, seed=seed)
            except VideoDecodeError as error:
                if not skip_undecodable:
                    raise
                warnings.warn(f"{record.where}: skipped ({error})", RuntimeWarning,
                              stacklevel=2)
                advance()
                continue
            row = {"problem_id": record.problem_id, "output": answer.raw,
                   "answer": answer.answer, "run": run, "timings": answer.timings}
            if record.problem_id is None:
                row["line"] = record.line  # what `vtedge eval` matches it by
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
            advance()
    return out
