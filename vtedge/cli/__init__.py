"""The ``vtedge`` command line. Each command lives in its own module and imports heavy
libraries (torch, onnxruntime) only inside its body, so ``--help`` stays instant."""

from __future__ import annotations

import sys
import warnings

import click

from vtedge import __version__
from vtedge.errors import MissingPathError, VtedgeError


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as the user reads it: one line, without the source line that raised it."""
    click.echo(f"vtedge: warning: {message}", err=True)


class VtedgeGroup(click.Group):
    """Turns a user's mistake into one line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _one_line_warning
                return super().invoke(ctx)
        except VtedgeError as error:
            click.echo(f"vtedge: error: {error}", err=True)
            sys.exit(error.exit_code)
        except BrokenPipeError:
            raise  # the reader left (`| head`): nothing to tell it
        except OSError as error:
            # The file system said no: an output path under a file, one the user may not
            # write, a read-only or full disk (PyAV's errors are OSErrors too).
            where = f"{error.filename}: " if error.filename else ""
            click.echo(f"vtedge: error: {where}{error.strerror or error}", err=True)
            sys.exit(MissingPathError.exit_code)
        except KeyboardInterrupt:
            click.echo("vtedge: interrupted", err=True)
            sys.exit(130)


@click.group(cls=VtedgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vtedge")
def cli() -> None:
    """Train video-language models to think with videos, and run them on small devices.

    \b
    The model grounds moments (<time>00:22-00:34</time>), describes them (<caption>),
    reflects (<think>) and then answers (<answer>C</answer>).

    \b
    Start here:
      vtedge frames clip.mp4            what the model will see of a video
      vtedge ask clip.mp4 "question"    grounded reasoning and an answer
      vtedge data synth --out data/     a synthetic suite to train and measure on
    """


def _register() -> None:
    from vtedge.cli import ask, bench, data, eval, export, frames, train

    for module in (ask, bench, data, eval, export, frames, train):
        cli.add_command(module.command)


_register()


def main() -> None:
    cli(prog_name="vtedge")
