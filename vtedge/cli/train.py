"""``vtedge train``: supervised fine-tuning and GRPO on Qwen2.5-VL-family models."""

from __future__ import annotations

import click

from vtedge.errors import NotBuiltError


@click.group("train")
def command() -> None:
    """Train a video reasoner: `sft` teaches the format, `grpo` teaches it to be right."""


@command.command("sft")
@click.option("--data", required=True, type=click.Path(), help="Training records (JSON/JSONL).")
def sft(data: str) -> None:
    """Supervised fine-tuning on reasoning traces."""
    raise NotBuiltError("`vtedge train sft` is not built yet")


@command.command("grpo")
@click.option("--data", required=True, type=click.Path(), help="Training records (JSON/JSONL).")
def grpo(data: str) -> None:
    """Group Relative Policy Optimization with accuracy + format rewards."""
    raise NotBuiltError("`vtedge train grpo` is not built yet")
