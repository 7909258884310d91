"""``vtedge data``: datasets, starting with the synthetic thinking-with-videos suite."""

from __future__ import annotations

import time

import click

from vtedge.cli.ranges import NON_NEGATIVE, POSITIVE


@click.group("data")
def command() -> None:
    """Make and inspect datasets."""


@command.command("synth")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False), help="Folder for clips and records."
)
@click.option(
    "--n",
    "n",
    default=100,
    show_default=True,
    type=POSITIVE,
    help="Records (one clip each).",
)
@click.option(
    "--seed", default=0, show_default=True, type=NON_NEGATIVE,
    help="Same seed, same split, byte for byte."
)
@click.option(
    "--split",
    default="train",
    show_default=True,
    type=click.Choice(["train", "val", "ood"]),
    help="ood: longer clips, unseen colour/shape pairs, two-hop questions.",
)
@click.option(
    "--families",
    help="Comma-separated question families to keep (default: all of the split's). "
    "`describe` alone gives timed captions of every phase, for `train sft --task caption`.",
)
@click.option(
    "--workers", type=POSITIVE, help="Processes rendering clips (default: up to 2)."
)
@click.option(
    "--compare-states", is_flag=True,
    help="Open each walk step's thought with every shape then and now and a verdict ('The "
    "circle was red and moving, now blue and moving: turned blue.') before the change it "
    "names. Clips and questions are unchanged.",
)
@click.option(
    "--restate-goal", is_flag=True,
    help="Open the first walk step's thought with what the question looks for ('I look for "
    "when the circle vanished, then the square's colour.'). Clips and questions are unchanged.",
)
@click.option(
    "--tally-counts", is_flag=True,
    help="End each walk step of a `count` question with the running count ('The circle: 1 so "
    "far.') instead of the change notes. Clips and questions are unchanged.",
)
@click.option(
    "--tally-verdicts", is_flag=True,
    help="As --tally-counts, each count after a change opening with whether the change is the "
    "asked shape's ('The square vanished. Not the circle: 0 so far.', 'That is the circle: "
    "1 so far.').",
)
@click.option(
    "--tally-each-shape", is_flag=True,
    help="As --tally-counts, each count after a change being the changed shape's own ('The "
    "square vanished. The square: 2 so far.'), so no step compares the change with the asked "
    "shape; only the conclusion reads the asked shape's last count.",
)
@click.option(
    "--tally-before-now", is_flag=True,
    help="As --tally-counts, each count after a change giving the count before it, then "
    "after it ('The circle: 0 before, 1 now.'), so a step adds at most one to a number it "
    "has just copied.",
)
@click.option(
    "--captions-by-column", is_flag=True,
    help="Caption each phase column by column, colour before shape ('Left: a green circle, "
    "still. Right: a red square, moving.'), not shape by shape ('The circle is green and "
    "still.').",
)
@click.option(
    "--captions-in-passes", is_flag=True,
    help="Caption each phase column by column in two passes, every shape then every colour "
    "('Left: circle. Right: square. Left: green, still. Right: red, moving.'); wins over "
    "--captions-by-column.",
)
@click.option(
    "--other-colours", is_flag=True,
    help="Draw the shapes in orange, purple, white and cyan, colours no question of the "
    "suite asks about, so every shape comes in every colour: captions of these clips teach "
    "a shape apart from its colour. train and val only (ood's held-out pairs are palette "
    "colours).",
)
@click.option("--overwrite", is_flag=True,
              help="Replace the dataset OUT holds (its records and clips); without it, a "
                   "folder with records.jsonl is refused.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def synth(out: str, n: int, seed: int, split: str, families: str | None, workers: int | None,
          compare_states: bool, restate_goal: bool, tally_counts: bool, tally_verdicts: bool,
          tally_each_shape: bool, tally_before_now: bool,
          captions_by_column: bool, captions_in_passes: bool, other_colours: bool,
          overwrite: bool, quiet: bool) -> None:
    """Write synthetic clips with known events and Video-Thinker-format questions.

    \b
    Writes OUT/records.jsonl (published record schema plus segments and family),
    OUT/videos/*.mp4 (112x112 H.264 at 8 fps) and OUT/split.json.

    \b
    Examples:
      vtedge data synth --out data/train --n 1000 --seed 0 --split train
      vtedge data synth --out data/captions --n 1000 --seed 3 --families describe
      vtedge data synth --out data/train --n 1000 --seed 0 --compare-states
    """
    from pathlib import Path

    from vtedge.synth import COLOURS, OTHER_COLOURS, TraceStyle, generate_split

    chosen = tuple(f.strip() for f in families.split(",") if f.strip()) if families else None
    if tally_verdicts + tally_each_shape + tally_before_now > 1:
        raise click.UsageError("choose one of --tally-verdicts, --tally-each-shape and "
                               "--tally-before-now")
    began = time.perf_counter()
    try:
        path = generate_split(Path(out), n, seed, split, progress=not quiet, workers=workers,
                              families=chosen, style=TraceStyle(
                                  compare=compare_states, goal=restate_goal,
                                  tally=tally_counts or tally_verdicts or tally_each_shape
                                  or tally_before_now, verdict=tally_verdicts,
                                  each_shape=tally_each_shape, before_now=tally_before_now,
                                  columns=captions_by_column, passes=captions_in_passes),
                              palette=OTHER_COLOURS if other_colours else COLOURS,
                              overwrite=overwrite)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    seconds = time.perf_counter() - began
    rate = n / seconds if seconds > 0 else 0.0
    click.echo(f"wrote {n} {split} records to {path} ({rate:.1f} clips/s)")
