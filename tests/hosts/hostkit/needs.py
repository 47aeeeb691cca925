"""What the host tests need installed: a test fails (never skips) and says how to install it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .paths import SETUP


def missing(path: str | Path, what: str) -> str | None:
    """The message for ``what`` when ``path`` (its marker) is absent, else None; for callers
    that report it their own way (the screenshot tool)."""
    if Path(path).exists():
        return None
    return f"{what} is not installed ({path} missing): {SETUP}"


def require(path: str | Path, what: str) -> None:
    """Fail the test when ``path`` is absent: an editor not installed is a failure, not a skip."""
    message = missing(path, what)
    if message is not None:
        pytest.fail(message)


def which(name: str) -> str:
    """The full path of the program ``name``; fails the test when it is not installed."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {SETUP}")
    return found
