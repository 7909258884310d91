"""Option types for numbers, so a value no command can use is refused as the flag is read
(exit 2) rather than deep inside a run. click's ``FloatRange`` lets NaN through, and
``inf`` past an open upper bound; these refuse both."""

from __future__ import annotations

import math

import click

POSITIVE = click.IntRange(1)
NON_NEGATIVE = click.IntRange(0)


class FiniteRange(click.FloatRange):
    """A ``FloatRange`` of finite numbers."""

    name = "number"

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


POSITIVE_NUMBER = FiniteRange(min=0, min_open=True)
NON_NEGATIVE_NUMBER = FiniteRange(min=0)
FRACTION = FiniteRange(0, 1)
