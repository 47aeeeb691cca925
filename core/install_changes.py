"""An install's steps, each noting how to undo it: the all-or-nothing change journal.

Every step of `cleancut install` (a folder made, a file of the user's set aside or stashed in
backups/, a plug-in file written, a settings file about to be rewritten) notes in Changes how
to undo it, and what to tidy once the whole install has succeeded. A failure anywhere undoes
every step, newest first, with Ctrl-C and SIGTERM held off meanwhile (signals_held), so the
user's files are as they were. Undoing needs no space: what is replaced is renamed or hard
linked aside, and deleted only by the tidy after success.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from .hosts.base import write_atomic
from . import pathops


@dataclass
class Changes:
    """What an install has done so far: how to undo each step, and what to tidy once all succeeded."""

    undo: list[Callable[[], Any]] = field(default_factory=list)
    tidy: list[Callable[[], Any]] = field(default_factory=list)


def make_dirs(folder: Path, changes: Changes, created: list[str] | None = None) -> None:
    """mkdir -p, noting each folder it made (in created: uninstall removes those, when empty)."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir()
        changes.undo.append(each.rmdir)
        if created is not None:
            created.append(str(each))


def set_aside(path: Path, changes: Changes) -> Path:
    """Rename path out of the way within its own folder (needs no space); undone by renaming it back."""
    hidden = path.with_name(f".{path.name}.cleancut-{secrets.token_hex(4)}")  # a name no editor loads
    os.rename(path, hidden)
    changes.undo.append(partial(os.replace, hidden, path))
    return hidden


def stash(hidden: Path, backup: Path, changes: Changes) -> None:
    """Something of the user's, set aside, into backups/: renamed, or across disks copied (the original
    is deleted only once the whole install has succeeded, so undoing needs no space)."""
    make_dirs(backup.parent, changes)
    try:
        os.rename(hidden, backup)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
    else:
        changes.undo.append(partial(os.rename, backup, hidden))
        return
    try:
        pathops.copy(hidden, backup)
    except BaseException as err:
        pathops.remove(backup)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(backup)
        raise
    changes.undo.append(partial(pathops.remove, backup))
    changes.tidy.append(partial(pathops.remove, hidden))


def write(path: Path, data: bytes, executable: bool, changes: Changes) -> None:
    """A plug-in file written whole (atomic); undone by deleting it. Its OSError names the path."""
    try:
        write_atomic(path, data, executable=executable)
    except OSError as err:
        if err.filename is None:  # a failed write() does not say where
            err.filename = str(path)
        raise
    changes.undo.append(partial(path.unlink, missing_ok=True))


def keep_copy(path: Path, changes: Changes) -> None:
    """Before a settings file is rewritten: its copy to put back if the install is undone."""
    if not os.path.lexists(path):
        changes.undo.append(partial(path.unlink, missing_ok=True))
        return
    copy = path.with_name(f".{path.name}.cleancut-{secrets.token_hex(4)}")
    try:
        try:
            os.link(path, copy, follow_symlinks=False)  # the same file: no space needed
        except (OSError, NotImplementedError):
            shutil.copy2(path, copy, follow_symlinks=False)
    except BaseException:
        pathops.remove(copy)
        raise
    changes.undo.append(partial(_put_back, copy, path))
    changes.tidy.append(partial(pathops.remove, copy))


def _put_back(copy: Path, path: Path) -> None:
    """The kept copy back in place (a hard link to a file not rewritten after all is simply dropped:
    rename() between two links of one file does nothing)."""
    if os.path.lexists(path) and os.path.samestat(os.lstat(copy), os.lstat(path)):
        copy.unlink()
    else:
        os.replace(copy, path)


def undo(changes: Changes) -> list[str]:
    """Every step undone, newest first; what could not be put back, one text each."""
    problems = []
    for step in reversed(changes.undo):
        try:
            step()
        except Exception as err:  # noqa: BLE001 - the other steps are still undone
            problems.append(_failure_text(err))
    return problems


def tidy(changes: Changes, say: Callable[[str], None]) -> None:
    """After success: delete the earlier plug-in files and copies that were kept for undoing."""
    for step in changes.tidy:
        try:
            step()
        except OSError as err:
            say(f"  could not delete {err.filename} ({reason(err)}): delete it yourself")


def reason(err: OSError) -> str:
    """"no space left on device", "permission denied"…: the system's words, as part of a sentence."""
    text = os.strerror(err.errno) if err.errno else (str(err) or type(err).__name__)
    return text[:1].lower() + text[1:]


def _failure_text(err: Exception) -> str:
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename} ({reason(err)})"
    return str(err)


@contextmanager
def signals_held() -> Iterator[None]:
    """Undoing is not cut short by a second Ctrl-C or SIGTERM: they wait, then interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {number: signal.signal(number, lambda got, frame: arrived.append(got))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
    if arrived:
        raise KeyboardInterrupt
