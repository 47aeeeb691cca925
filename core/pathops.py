"""A file, link or folder copied, removed or passed through as what it is: a link is a link,
never what it points to. Shared by the model fetch (its temporaries) and the plug-in install."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def remove(path: Path, *, ignore_errors: bool = False) -> None:
    """Delete a file, link or folder (a link itself, never what it points to); nothing there is fine.

    ``ignore_errors``: a folder is removed as far as it can be, silently (a sweep of abandoned
    temporaries); otherwise the first failure is raised (an install undoing its steps says it)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=ignore_errors)
    else:
        path.unlink(missing_ok=True)


def copy(source: Path, target: Path) -> None:
    """A file, link (as a link) or folder copied with its modes and times; errors stay plain OSErrors."""
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        target.mkdir()
        for child in sorted(source.iterdir()):
            copy(child, target / child.name)
        shutil.copystat(source, target)
    else:
        shutil.copy2(source, target)


def link_on_the_way(root: Path, rel: str, shared: tuple[str, ...]) -> Path | None:
    """The first link from root down to root/rel (itself included) that install did not follow.

    Install never makes links, and follows only the editor's own folders (shared); any other link
    there was put by the user after install, and what it points to is theirs."""
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        sub = "/".join(parts[:depth])
        path = root / sub
        if path.is_symlink() and sub not in shared:
            return path
        if not os.path.lexists(path):
            return None
    return None
