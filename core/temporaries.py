"""Temporary files and folders beside an output, and what a killed process left of them.

Every output (a photo, a video, an image sequence) is made under a temporary name in its own
folder and renamed over its final name when complete, so it appears whole or not at all. The
names say whose they are, ``.NAME.PID-XXXXXXXX.tmp``: when a worker process is killed before its
own clean-up ran, the batch that started it removes exactly what it left (:func:`remove`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil

# A file name's limit on the file systems users have (ext4, APFS, NTFS: 255 bytes).
_NAME_MAX = 255


def _prefix(base: str, pid: int) -> str:
    """``.NAME.PID-`` with NAME shortened so that the whole temporary name fits _NAME_MAX bytes:
    a legal 255-byte output name must not fail because its temporary is longer."""
    tail = f".{pid}-"
    room = _NAME_MAX - len(f".{tail}{'0' * 8}.tmp".encode())
    while len(os.fsencode(base)) > room:  # by characters, never half of one
        base = base[:-1]
    return f".{base}{tail}"


def create(folder: str, base: str) -> tuple[str, int]:
    """A new temporary file in ``folder`` for the output named ``base``: (its path, an open
    descriptor for writing). Raises OSError."""
    # os.open with 0o666 lets the user's umask decide the permissions, as for any new file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    prefix = _prefix(base, os.getpid())
    while True:
        candidate = os.path.join(folder, f"{prefix}{secrets.token_hex(4)}.tmp")
        try:
            return candidate, os.open(candidate, flags, 0o666)
        except FileExistsError:
            continue


def beside(path: str | os.PathLike[str]) -> str:
    """A new empty temporary file beside ``path`` (its folder made if need be), for writers such
    as a video encoder that open the file by name. Raises OSError."""
    name = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(name), exist_ok=True)
    temporary, descriptor = create(os.path.dirname(name), os.path.basename(name))
    os.close(descriptor)
    return temporary


def folder_beside(path: str | os.PathLike[str]) -> str:
    """A new empty temporary folder beside ``path``, for a result made of many files (an image
    sequence) that appears at ``path`` all at once. Raises OSError."""
    name = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(name), exist_ok=True)
    prefix = _prefix(os.path.basename(name), os.getpid())
    while True:
        candidate = os.path.join(os.path.dirname(name), f"{prefix}{secrets.token_hex(4)}.tmp")
        try:
            os.mkdir(candidate)
            return candidate
        except FileExistsError:
            continue


def remove(path: str | os.PathLike[str], pid: int) -> list[str]:
    """Remove what a killed process ``pid`` left of its write of ``path`` (its temporary file or
    folder, which its own clean-up never got to remove); returns the names removed."""
    name = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(name))
    prefix = _prefix(os.path.basename(name), pid)
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        if entry.startswith(prefix) and entry.endswith(".tmp") and len(entry) == len(prefix) + 12:
            found = os.path.join(folder, entry)
            with contextlib.suppress(OSError):
                if os.path.isdir(found) and not os.path.islink(found):
                    shutil.rmtree(found)  # an image sequence's frames
                else:
                    os.remove(found)
                removed.append(entry)
    return removed
