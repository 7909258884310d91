"""Make a split of the synthetic suite: clips in ``out/videos/``, records in ``out/records.jsonl``.

Record ``i`` of a split depends only on ``(seed, split, families, i)``, so splits are
reproducible and the work can be spread over processes without changing a byte of the
records.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from vtedge.errors import DatasetError
from vtedge.synth.questions import BASE_FAMILIES, FAMILIES, PLAIN, TWO_HOP_FAMILIES, TraceStyle
from vtedge.synth.render import FPS, SIZE, write_clip
from vtedge.synth.scene import COLOURS, sample_scene

GENERATOR_VERSION = "vtedge-synth/5"
DATA_SOURCE = "synth"


@dataclass(frozen=True)
class SplitConfig:
    """What a split varies: clip length, scene size, held-out pairs, question families.

    A clip has one of ``phases`` phase counts. Train varies it so the walk learns to go on
    until the clip ends instead of stopping after a fixed count (it stopped at 8 s on every
    12 s ood clip when train was all 8 s; benchmarks/results/training.md, session 9)."""

    name: str
    code: int
    phases: tuple[int, ...]
    phase_seconds: float
    min_objects: int
    max_objects: int
    held_out: bool
    families: tuple[str, ...]


SPLITS: dict[str, SplitConfig] = {
    "train": SplitConfig("train", 0, (3, 4, 5), 2.0, 2, 3, False, BASE_FAMILIES),
    "val": SplitConfig("val", 1, (3, 4, 5), 2.0, 2, 3, False, BASE_FAMILIES),
    # Longer clips, colour/shape pairs train never shows, two-hop questions train never asks.
    "ood": SplitConfig("ood", 2, (6,), 2.0, 3, 3, True, BASE_FAMILIES + TWO_HOP_FAMILIES),
}


def get_split(name: str) -> SplitConfig:
    try:
        return SPLITS[name]
    except KeyError:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}") from None


def split_families(config: SplitConfig, families: tuple[str, ...] | None) -> tuple[str, ...]:
    """The families a split asks, in the split's order: all, or the chosen subset."""
    if not families:
        return config.families
    unknown = [f for f in families if f not in config.families]
    if unknown:
        raise ValueError(f"split {config.name!r} has no family {unknown[0]!r}; choose from "
                         f"{', '.join(config.families)}")
    return tuple(f for f in config.families if f in families)


def make_record(out: Path, index: int, seed: int, split: str,
                families: tuple[str, ...] | None = None,
                style: TraceStyle = PLAIN, palette: tuple[str, ...] = COLOURS) -> dict:
    """Sample, render and write record ``index`` of a split, its shapes in ``palette``'s
    colours and its trace worded as ``style`` asks; returns its JSON dict."""
    config = get_split(split)
    rng = np.random.default_rng([seed, config.code, index])
    asked = split_families(config, families)
    family = asked[index % len(asked)]
    phases = config.phases[0]
    if len(config.phases) > 1:  # one phase count draws nothing: ood's clips stay as they were
        phases = int(config.phases[rng.integers(len(config.phases))])
    while True:
        objects = int(rng.integers(config.min_objects, config.max_objects + 1))
        scene = sample_scene(rng, phases, config.phase_seconds, objects, config.held_out,
                             palette)
        question = FAMILIES[family](rng, scene)
        if question is not None:
            break
    problem_id = f"synth-{split}-{seed}-{index:06d}"
    relative = f"./videos/{problem_id}.mp4"
    write_clip(scene, out / relative)
    return {
        "problem_id": problem_id,
        "problem": question.problem,
        "problem_type": "multiple choice",
        "options": question.options,
        "solution": f"<answer>{question.letter}</answer>",
        "process": question.process(style),
        "data_type": "video",
        "path": relative,
        "data_source": DATA_SOURCE,
        "segments": [
            {"start": b.start, "end": b.end, "caption": b.caption}
            for b in question.evidence(style)
        ],
        "family": question.family,
        "duration": scene.duration,
    }


def _make_chunk(args: tuple[Path, list[int], int, str, tuple[str, ...] | None, TraceStyle,
                            tuple[str, ...]]) -> list[dict]:
    out, indices, seed, split, families, style, palette = args
    return [make_record(out, i, seed, split, families, style, palette) for i in indices]


def generate_split(
    out: Path, n: int, seed: int, split: str, progress: bool = True, workers: int | None = None,
    families: tuple[str, ...] | None = None, style: TraceStyle = PLAIN,
    palette: tuple[str, ...] = COLOURS, overwrite: bool = True,
) -> Path:
    """Write ``n`` records of ``split`` under ``out``; returns ``out/records.jsonl``.

    A dataset already in ``out`` is replaced, old clips and all, or refused without
    ``overwrite``.

    ``workers`` processes render and encode in parallel (default: up to 2, the CPU count).
    ``families`` keeps only those question families (``describe`` alone makes the timed
    captions of the alignment stage). ``style`` words the traces (``TraceStyle``).
    ``palette`` colours the shapes (``OTHER_COLOURS``: none a question asks about).
    """
    config = get_split(split)
    if config.held_out and palette != COLOURS:
        raise ValueError(f"split {split!r} shows held-out colour/shape pairs, which are in "
                         "the suite's palette; other colours go with train or val")
    asked = split_families(config, families)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    out = Path(out)
    if (out / "records.jsonl").exists():
        if not overwrite:
            raise DatasetError(f"{out}: already holds a dataset (records.jsonl); pass "
                               "--overwrite to replace it")
        shutil.rmtree(out / "videos", ignore_errors=True)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    if workers is None:
        workers = max(1, min(2, os.cpu_count() or 1))
    chunk = 16
    jobs = [(out, list(range(s, min(n, s + chunk))), seed, split, families, style, palette)
            for s in range(0, n, chunk)]

    from vtedge.progress import progress_bar

    records: list[dict] = []
    with progress_bar(f"synth {split}", n, disable=not progress, transient=True) as advance:
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(workers) as pool:
                for done in pool.map(_make_chunk, jobs):
                    records.extend(done)
                    advance(len(done))
        else:
            for job in jobs:
                done = _make_chunk(job)
                records.extend(done)
                advance(len(done))

    path = out / "records.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    info = {
        "generator": GENERATOR_VERSION,
        "split": asdict(config),
        "families": list(asked),
        "trace_style": asdict(style),
        "palette": list(palette),
        "seed": seed,
        "n": n,
        "fps": FPS,
        "size": [SIZE, SIZE],
    }
    (out / "split.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return path
