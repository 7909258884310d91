"""``vtedge ask``: grounded reasoning and an answer about one video."""

from __future__ import annotations

import json
import sys

import click

from vtedge.cli.ranges import FRACTION, NON_NEGATIVE, NON_NEGATIVE_NUMBER, POSITIVE
from vtedge.cli.spec_options import spec_options


def _format_span(start: float, end: float) -> str:
    from vtedge.reasoning import format_span

    return format_span(start, end)


def _print_answer(result, options) -> None:
    click.echo("")
    if result.segments:
        click.secho("segments", bold=True)
        for segment in result.segments:
            click.echo(f"  {_format_span(segment['start'], segment['end'])}  "
                       f"{segment['caption']}")
            if segment["thought"]:
                click.echo(f"      {segment['thought']}")
    if options:
        text = f" — {result.answer_text}" if result.answer_text else ""
        click.secho(f"answer: {result.answer or '(none given)'}{text}", bold=True)
    else:
        click.secho(f"answer: {result.answer or '(none given)'}", bold=True)


def _lettered(ctx, param, options: tuple[str, ...]) -> tuple[str, ...]:
    """Each option starts with its own letter ("A. red"): the answer is that letter."""
    from vtedge.reasoning.answers import option_letter

    letters = []
    for option in options:
        letter = option_letter(option)
        if letter is None:
            raise click.BadParameter(f'{option!r} does not start with its letter, as in "A. red"')
        letters.append(letter)
    repeated = sorted({letter for letter in letters if letters.count(letter) > 1})
    if repeated:
        raise click.BadParameter(f"letter {', '.join(repeated)} names more than one option")
    return options


def _asked(ctx, param, question: str) -> str:
    if not question.strip():
        raise click.BadParameter("is empty; ask something about the video")
    return question


@click.command("ask")
@click.argument("video", type=click.Path())
@click.argument("question", callback=_asked)
@click.option("--options", "options", multiple=True, metavar='"A. …"', callback=_lettered,
              help="One answer option, starting with its letter (repeat the flag); without "
              "it the question is free-form.")
@click.option("--model", "model", type=click.Path(),
              help="A bundle (vtedge export) or a checkpoint directory (runs with torch).")
@spec_options(base="the model's own")
@click.option("--provider", default="auto", show_default=True,
              type=click.Choice(["auto", "tensorrt", "cuda", "cpu"]),
              help="onnxruntime execution provider for a bundle.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (answer, answer_text, segments, raw, timings).")
@click.option("--max-new-tokens", default=1024, show_default=True, type=POSITIVE,
              help="Longest answer to generate.")
@click.option("--temperature", default=0.0, show_default=True, type=NON_NEGATIVE_NUMBER,
              help="0 decodes greedily; above 0 samples (with --top-p).")
@click.option("--top-p", default=1.0, show_default=True, type=FRACTION,
              help="Nucleus size when sampling.")
@click.option("--seed", default=0, show_default=True, type=NON_NEGATIVE,
              help="Sampling seed.")
def command(video: str, question: str, options: tuple[str, ...], model: str | None, spec,
            provider: str, as_json: bool, max_new_tokens: int, temperature: float, top_p: float,
            seed: int) -> None:
    """Answer QUESTION about VIDEO, printing the grounded reasoning first.

    With a bundle the run is torch-free (onnxruntime); with a checkpoint directory it runs
    through torch. Spec options change the model's own vision spec (--spec replaces it).
    A bundle's vision encoder takes one frame size, so a bundle resizes every clip to it
    whatever the pixel options say, with a warning when the spec would have given another
    size; a --resize to another size is refused (export a bundle for that size).

    \b
    Example:
      vtedge ask clip.mp4 "What colour is the square when the circle appears?" \\
          --options "A. red" --options "B. blue" --model bundles/tiny
    """
    from vtedge.runtime import open_model

    runtime = open_model(model, provider)
    chosen = spec.resolve(runtime.spec) if spec.given else None
    options_list = list(options) or None

    def stream(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    result = runtime.ask(video, question, options_list, spec=chosen,
                         max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                         seed=seed, on_text=None if as_json else stream)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        _print_answer(result, options_list)
