"""argparse value types shared by `cleancut` and `cleancut bench`: one rule and one wording each.

A bad value is argparse's own error (exit code 2) naming the flag and saying what it must be.
Counts take ASCII digits only: ``int()`` would also take "٣" or "1_000".
"""

from __future__ import annotations

import argparse

from .options import Options


def count(text: str) -> int:
    """A whole number of at least 1 (workers, actors, images)."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def count_or_zero(text: str) -> int:
    """A whole number of at least 0."""
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 0")
    return int(text)


def positive_number(text: str) -> float:
    """A finite number above 0 (sizes such as megapixels)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a number above 0")
    return value


def threads(text: str) -> int:
    """A thread count Options accepts (Options owns the limits)."""
    try:
        return Options(threads=count(text)).threads
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
