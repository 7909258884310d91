"""``vtedge eval``: score predictions, or run a model over a dataset and score it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from vtedge.datasets import BadRecord, read_json_rows
from vtedge.errors import DatasetError, MissingPathError


def read_predictions(path: Path) -> tuple[list[dict], list[str]]:
    """Prediction objects from JSONL (or a JSON list), and the lines that were not objects.

    Unreadable lines are reported like unmatched predictions, not fatal: a generation run
    cut off mid-line still gets scored. A prediction without a problem_id keeps its line
    number (unless it names its record's ``line``), so a line dropped here does not shift
    the predictions after it onto other records.
    """
    if not path.is_file():
        raise MissingPathError(f"predictions file not found: {path}")
    rows = read_json_rows(path)
    predictions, bad = [], []
    for number, value in rows:
        if isinstance(value, dict):
            if value.get("problem_id") is None:
                value.setdefault("line", number)
            predictions.append(value)
        else:
            reason = value if isinstance(value, BadRecord) else "not a JSON object"
            bad.append(f"{path}:{number}: {reason}")
    return predictions, bad


def _refuse_shared_files(named: dict[str, str | None]) -> None:
    """Two flags naming one file would have eval write its output over an input."""
    seen: dict[Path, str] = {}
    for flag, path in named.items():
        if path is None:
            continue
        key = Path(path).resolve()
        if key in seen:
            raise click.UsageError(f"{seen[key]} and {flag} name the same file ({path})")
        seen[key] = flag


def _source_roots(pairs: tuple[str, ...]) -> dict[str, str]:
    roots = {}
    for pair in pairs:
        name, sep, folder = pair.partition("=")
        if not sep or not name or not folder:
            raise click.UsageError(f"--source-root takes NAME=DIR, got {pair!r}")
        roots[name] = folder
    return roots


@click.command("eval")
@click.option("--data", required=True, type=click.Path(), help="Dataset JSON/JSONL.")
@click.option(
    "--pred", type=click.Path(), help='Predictions JSONL: {"problem_id", "output"} per line.'
)
@click.option("--model", type=click.Path(),
              help="A bundle or checkpoint to run over the dataset (default, without "
              "--pred: the embedded default model).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="With --model: predictions JSONL to write (resumable; default "
              "NAME.pred.jsonl in the current folder, NAME the model folder's name).")
@click.option(
    "--json", "json_out", type=click.Path(dir_okay=False), help="Also write the scores here."
)
@click.option("--root", type=click.Path(), help="Folder every record's path resolves under.")
@click.option(
    "--source-root",
    multiple=True,
    metavar="NAME=DIR",
    help="Folder for one data_source (repeatable).",
)
@click.option("--skip-bad", is_flag=True,
              help="Skip and count bad records instead of stopping; with --model, a clip "
                   "that cannot be decoded is warned about and scored as missing.")
@click.option(
    "--no-check-videos", is_flag=True, help="Do not require the records' videos to exist."
)
def command(
    data: str,
    pred: str | None,
    model: str | None,
    out: str | None,
    json_out: str | None,
    root: str | None,
    source_root: tuple[str, ...],
    skip_bad: bool,
    no_check_videos: bool,
) -> None:
    """Accuracy, format rate and grounding of a model on a dataset.

    \b
    Accuracy uses Video-Thinker's published answer extraction, overall, per data_source
    and per question family; grounding is the mIoU and R@0.3/R@0.5 of predicted <time>
    spans against the records' segments. Records without a prediction score zero;
    predictions without a record are listed.

    \b
    Examples:
      vtedge eval --data examples/questions.jsonl
      vtedge eval --model bundles/tiny --data data/val/records.jsonl --json scores.json
      vtedge eval --pred preds.jsonl --data data/val/records.jsonl
    """
    from vtedge.datasets import load_records
    from vtedge.metrics import render_table, score

    if model is not None and pred is not None:
        raise click.UsageError("give either --model (to run it) or --pred, not both")
    if out is not None and pred is not None:
        raise click.UsageError("--out names where --model writes its predictions; --pred "
                               "scores a file that exists")
    run_model = pred is None
    if run_model:
        from vtedge.runtime import model_path

        # Without either, run the embedded default model.
        model = str(model_path(model))
        pred = out or f"{Path(model).name}.pred.jsonl"
    _refuse_shared_files({"--data": data, "--out" if run_model else "--pred": pred,
                          "--json": json_out})
    records = load_records(
        data,
        root=root,
        roots=_source_roots(source_root) or None,
        skip_bad=skip_bad,
        check_videos=not no_check_videos,
    )
    if not records:
        raise DatasetError(f"{data}: no records to score"
                           + (f" ({records.skipped} skipped as bad)" if records.skipped else ""))
    if run_model:
        from vtedge.predict import predict

        predict(model, records, pred, skip_undecodable=skip_bad)
    predictions, unreadable = read_predictions(Path(pred))
    scores = score(predictions, records)
    scores.unmatched[:0] = unreadable
    click.echo(render_table(scores))
    if records.skipped:
        click.echo(
            f"skipped {records.skipped} bad records (--skip-bad); first: {records.problems[0]}"
        )
    for line in scores.unmatched[:20]:
        click.echo(f"unmatched: {line}")
    if len(scores.unmatched) > 20:
        click.echo(f"unmatched: … and {len(scores.unmatched) - 20} more")
    if json_out is not None:
        result = {
            "data": data,
            "pred": pred,
            "skipped_records": records.skipped,
            **scores.to_dict(),
        }
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
