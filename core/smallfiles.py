"""Reading the small files a user points cleancut at (settings, catalogs, model cards) safely.

A path in an environment variable or a settings file can name anything: a FIFO (reading it
waits for a writer that never comes), /dev/zero or /dev/urandom (reading never ends), a
terminal, a directory, or a regular file of gigabytes. These files are small by nature, so
only a regular file is read, and only up to a limit; anything else is refused with a message
that says what the path is. The file is opened with O_NONBLOCK and checked with fstat before
a byte is read, so a FIFO never blocks, not even one swapped in after the first check.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import CleancutError

MiB = 1 << 20

# Opening must not block (FIFOs) nor make a terminal ours; O_BINARY matters on Windows only.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_BINARY", 0))


class SmallFileError(CleancutError):
    """A small file that is not a regular file, is too large, or cannot be read; the message
    names the file and says what it is. Callers add what to do about it for their file."""


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, in words: "a file", "a folder", "a named pipe (FIFO)"…
    The one wording for every message that names a path's kind (inputs, settings, the cache)."""
    for test, words in ((stat.S_ISREG, "a file"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "a special file"


def special_kind(mode: int) -> str | None:
    """kind_of() a file that is not a regular file; None for a regular file."""
    return None if stat.S_ISREG(mode) else kind_of(mode)


def describe(path: Path) -> str:
    """What ``path`` itself is, links named as such: "a symbolic link to a file", "missing"…"""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return "missing"
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link to {kind_of(path.stat().st_mode)}"
        except OSError:
            return "a symbolic link to nothing (a broken link)"
    return kind_of(mode)


def existing_special_kind(path: Path) -> str | None:
    """special_kind() of what ``path`` names now, following links; None when it is a regular
    file or there is nothing there. Checked without opening anything, so it never blocks."""
    try:
        return special_kind(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def _size_words(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit} bytes"


def read_small(path: Path, what: str, limit: int) -> bytes | None:
    """The bytes of the regular file ``path``, or None when there is no such file.

    ``what`` names the file in messages ("the settings file"). Refused with SmallFileError:
    anything but a regular file (checked before opening, so a device is never opened, and
    again by fstat on the open descriptor), a file over ``limit`` bytes (at most limit + 1
    bytes are ever read, for files whose size stat does not tell, like /proc's), a path that
    cannot name a file (a NUL character), and any other error of the operating system.
    Absence is not an error here because what it means is the caller's to say.
    """
    try:
        kind = special_kind(os.stat(path).st_mode)
        if kind is None:
            fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except ValueError:  # "embedded null byte"
        raise SmallFileError(f"{what} {str(path)[:200]!r} is not a usable path (it contains a NUL character)") from None
    except OSError as err:
        if err.errno == errno.ENXIO:  # a socket, or a FIFO swapped in since the stat
            raise SmallFileError(f"{what} {path} is not a regular file") from None
        raise SmallFileError(f"cannot read {what} {path}: {err.strerror or err}") from None
    if kind is not None:
        raise SmallFileError(f"{what} {path} is {kind}, not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            info = os.fstat(handle.fileno())
            kind = special_kind(info.st_mode)
            if kind is not None:
                raise SmallFileError(f"{what} {path} is {kind}, not a regular file")
            if info.st_size > limit:
                raise SmallFileError(f"{what} {path} is larger than {_size_words(limit)}, far more than "
                                     "such a file ever holds")
            data = handle.read(limit + 1)
        except OSError as err:
            raise SmallFileError(f"cannot read {what} {path}: {err.strerror or err}") from None
    if len(data) > limit:
        raise SmallFileError(f"{what} {path} is larger than {_size_words(limit)}, far more than such a "
                             "file ever holds")
    return data
