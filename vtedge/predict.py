"""Run a model (bundle or checkpoint) over dataset records and write predictions JSONL.

Decoding follows the published evaluation settings in the prompt file (temperature,
top_p, max_tokens); frames follow the model's own vision spec, which a bundle's vision
encoder is fixed to. Each prediction is appended and flushed as soon as it exists, and a
re-run skips the records already in the file, so an interrupted evaluation resumes. Every
line carries a ``run`` fingerprint (the model's files and the decoding settings), and a
file written by another run is refused rather than resumed, so one score never mixes two
models' answers.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from vtedge.errors import DatasetError


def published_decoding() -> dict:
    """``evaluation_decoding`` of the packaged Video-Thinker prompt file."""
    from vtedge.reasoning import load_prompt_file

    return dict(load_prompt_file()["evaluation_decoding"])


def run_fingerprint(model: Path, decoding: dict) -> str:
    """A short digest of what decides a prediction: a bundle's manifest (which holds every
    graph's sha256) or a checkpoint's config and weights, and the decoding settings."""
    from vtedge.bundle import MANIFEST, file_digest, is_bundle

    if is_bundle(model):
        files = [model / MANIFEST]
    else:
        files = sorted(p for p in model.iterdir()
                       if p.name == "config.json" or p.suffix in (".safetensors", ".bin"))
    digest = hashlib.sha256(json.dumps(decoding, sort_keys=True).encode())
    for path in files:
        digest.update(f"{path.name}:{file_digest(path)}".encode())
    return digest.hexdigest()[:16]


def _done(out: Path, run: str) -> tuple[set[str], int]:
    """problem_ids already predicted in ``out``, and how many predictions carry none;
    refuses a file whose lines another run wrote."""
    ids, anonymous = set(), 0
    if not out.exists():
        return ids, anonymous
    for number, line in enumerate(out.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise DatasetError(
                f"{out}:{number}: not JSON; fix or remove the line to resume") from None
        if row.get("run", run) != run:
            raise DatasetError(
                f"{out}:{number}: written by another model or decoding settings (run "
                f"{row['run']}, this is {run}); pass another --out, or delete it to start over")
        if row.get("problem_id") is None:
            anonymous += 1
        else:
            ids.add(str(row["problem_id"]))
    return ids, anonymous


def predict(model: str | Path | None, records: Sequence, out: str | Path, *,
            provider: str = "auto", max_new_tokens: int | None = None,
            temperature: float | None = None, top_p: float | None = None, seed: int = 0,
            progress: bool = True, warn=None) -> Path:
    """Append one ``{"problem_id", "output", "answer", "run", "timings"}`` line per new
    record."""
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
                                  "temperature": temperature, "top_p": top_p, "seed": seed})
    done, anonymous = _done(out, run)
    todo = []
    for record in records:
        if record.problem_id is None:
            if anonymous:
                anonymous -= 1
                continue
        elif str(record.problem_id) in done:
            continue
        todo.append(record)
    if not todo:
        return out
    if warn is None:
        def warn(message: str) -> None:
            print(f"vtedge: warning: {message}", file=sys.stderr)
    runtime = open_model(model, provider, warn=warn)
    with progress_bar("predict", len(todo), disable=not progress, transient=True) as advance, \
            out.open("a", encoding="utf-8") as sink:
        for record in todo:
            answer = runtime.ask(record.video_path, record.problem, list(record.options) or None,
                                 max_new_tokens=max_new_tokens, temperature=temperature,
                                 top_p=top_p, seed=seed)
            row = {"problem_id": record.problem_id, "output": answer.raw,
                   "answer": answer.answer, "run": run, "timings": answer.timings}
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            sink.flush()
            advance()
    return out
