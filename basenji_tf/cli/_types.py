"""Argparse ``type=`` functions that reject bad numbers before any work starts.

Each raises ``argparse.ArgumentTypeError``, which argparse turns into one line naming the
option (``error: argument -p: expected an integer >= 1, got '0'``) and exit status 2.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = [
    "comma_strs",
    "fraction",
    "nonnegative_float",
    "nonnegative_int",
    "positive_float",
    "positive_int",
    "probability",
    "quantile",
]


def _integer(text: str, lowest: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < lowest:
        raise argparse.ArgumentTypeError(f"expected an integer >= {lowest}, got {text!r}")
    return value


def _real(text: str, accept: Callable[[float], bool], wanted: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and accept(value)):
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (batch sizes, process counts, lengths, epochs)."""
    return _integer(text, 1)


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (indexes, crops, seeds)."""
    return _integer(text, 0)


def positive_float(text: str) -> float:
    """A finite number > 0 (strides, learning rates, widths)."""
    return _real(text, lambda x: x > 0, "a number > 0")


def nonnegative_float(text: str) -> float:
    """A finite number >= 0 (clips, thresholds, pseudocounts)."""
    return _real(text, lambda x: x >= 0, "a number >= 0")


def fraction(text: str) -> float:
    """A number in (0, 1]: a share of the data to keep (``basenji_data.py -s``)."""
    return _real(text, lambda x: 0 < x <= 1, "a fraction in (0, 1]")


def probability(text: str) -> float:
    """A number in [0, 1): a rate such as dropout or an N fraction a window may hold."""
    return _real(text, lambda x: 0 <= x < 1, "a probability in [0, 1)")


def quantile(text: str) -> float:
    """A number in [0, 1]: a quantile of a track's values (``basenji_data_read.py --clip_pct``)."""
    return _real(text, lambda x: 0 <= x <= 1, "a quantile in [0, 1]")


def comma_strs(text: str) -> list[str]:
    """Parse 'a,b,,c' into ['a', 'b', 'c'] (chromosome and file lists)."""
    return [part.strip() for part in text.split(",") if part.strip()]
