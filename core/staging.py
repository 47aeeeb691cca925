"""A model fetch's temporaries: locked while in use, swept away once their owner has died.

A fetch writes into staging files (``.FILE.XXXXXXXX.part``) and lets pip and npm work in
private folders (``.pip-XXXXXXXX``, ``.npm-XXXXXXXX``) inside the model's cache folder. Each is
locked (flock) by the process using it for as long as it does, so a later fetch's sweep removes
only those whose owner has died (SIGKILL, a power cut: no clean-up ran) and never one of a live
fetch in another process. Without flock (Windows) a temporary is known abandoned by its age.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock; there an abandoned temporary is known by its age
    fcntl = None  # type: ignore[assignment]

from .pathops import remove

# Names of a fetch's temporaries in a model folder, as tempfile makes them (8 random
# characters): staging files ``.FILE.XXXXXXXX.part``, and the pip / npm folders.
_STAGING_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.part", re.S)
_FOLDER_NAME = re.compile(r"\.(?:pip|npm)-[a-z0-9_]{8}")
_STALE_S = 24 * 3600.0  # without flock (Windows), a temporary this old is taken as abandoned


def sweep(models: Path) -> None:
    """Remove the temporaries that killed fetches left in the model folders under ``models``.

    A SIGKILL (or a power cut) runs no clean-up, so without this its staging file and pip
    folder would stay for ever. One is removed only when no live process holds its lock (the
    kernel drops a dead process' locks), so a fetch in progress elsewhere keeps its own."""
    try:
        folders = [folder for folder in models.iterdir() if folder.is_dir()]
    except OSError:  # no cache yet, or one we may not read: nothing of ours to sweep
        return
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if _STAGING_NAME.fullmatch(name):
                _remove_if_abandoned(folder / name, stat.S_ISREG)
            elif _FOLDER_NAME.fullmatch(name):
                _remove_if_abandoned(folder / name, stat.S_ISDIR)


def _remove_if_abandoned(path: Path, is_kind: Callable[[int], bool]) -> None:
    try:
        before = path.lstat()
        if not is_kind(before.st_mode):
            return  # not what a fetch makes under this name: not ours to remove
        if fcntl is None:
            if time.time() - before.st_mtime > _STALE_S:
                remove(path, ignore_errors=True)
            return
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a live fetch holds it
            if _same_file(os.fstat(fd), path.lstat()):  # still the one locked, not a new one
                remove(path, ignore_errors=True)
        finally:
            os.close(fd)
    except OSError:
        pass  # gone meanwhile, or not ours to read: left as it is


def _same_file(one: os.stat_result, other: os.stat_result) -> bool:
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def _claim(path: Path) -> int | None:
    """Lock a temporary just made, for as long as it is used (None where there is no flock).
    FileNotFoundError if a sweep took it between its making and its locking."""
    if fcntl is None:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a sweep holds it only while it removes it
        if not _same_file(os.fstat(fd), path.lstat()):
            raise FileNotFoundError(errno.ENOENT, "removed by a sweep", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def release(lock: int | None) -> None:
    """Unlock a temporary (the lock that new_staging returned), once it is gone: a sweep never
    finds it unlocked while it is still ours."""
    if lock is not None:
        os.close(lock)


def new_staging(folder: Path, prefix: str) -> tuple[Path, int | None]:
    """A new, empty, locked staging file in ``folder`` and its lock."""
    for _ in range(5):
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=folder)
        os.close(fd)  # written by name; kept open it could not be renamed on Windows
        try:
            return Path(name), _claim(Path(name))
        except FileNotFoundError:
            continue
    raise FileNotFoundError(errno.ENOENT, "staging files keep disappearing", str(folder))


@contextlib.contextmanager
def private_folder(prefix: str, parent: Path) -> Iterator[Path]:
    """A new locked folder for a download tool's files, removed with all it holds at the end
    (then unlocked, so a sweep never sees it unlocked while in use)."""
    for _ in range(5):
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        try:
            lock = _claim(path)
            break
        except FileNotFoundError:
            continue
    else:
        raise FileNotFoundError(errno.ENOENT, "temporary folders keep disappearing", str(parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        release(lock)
