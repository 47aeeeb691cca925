"""One model's bytes on their way into a file: progress, cancel, a byte cap and a time limit.

Every source kind reports its bytes as they arrive (a ``Download`` to the caller's ``report``,
and the model's progress bar) and checks ``cancelled()`` between blocks of at most 64 KiB, so a
cancel stops a download within a block's time (Cancelled). No source is read past its cap: a
server that streams more, or forever, is cut off. A full disk or quota is the OSError it is
(NO_SPACE), for the fetch to name the cache folder and the space the model needs.
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from .catalog import ModelEntry
from .errors import Cancelled, CleancutError, FetchError

ENV_TIMEOUT = "CLEANCUT_FETCH_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0
MAX_TIMEOUT_S = 86400.0  # a day: more does not fit every platform's socket timeout
CHUNK = 1 << 20
"""Reads of local files (hashing, extracting): large, for speed."""
BLOCK = 1 << 16
"""Network reads: small enough that a cancel or a progress line comes often."""
NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
"""The errnos of a full disk or quota: every other source would fill the disk just the same."""


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


class Transfer:
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


def timeout() -> float:
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


def stream(url: str, target: Path, transfer: Transfer, limit: int, what: str) -> None:
    """GET ``url`` into ``target`` in blocks of BLOCK, reporting each, at most ``limit`` bytes."""
    import requests  # lazy: importing it takes about 0.1 s, which a cached model never needs

    try:
        with requests.get(url, stream=True, timeout=timeout(),
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
                for block in response.iter_content(BLOCK):
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
        raise FetchError(f"no answer within {timeout():g} s (set {ENV_TIMEOUT} to wait longer)") from None
    except requests.RequestException as err:
        raise FetchError(f"download failed: {_short(err)}") from None


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    reason = text[-1] if text else type(err).__name__
    if "timed out" in reason.lower():
        return f"the server stopped sending (read timed out after {timeout():g} s)"
    return reason[:300]


def copy_hashed(reader: IO[bytes], staging: Path, limit: int, check: Callable[[], None] = lambda: None) -> str:
    """Copy at most ``limit`` bytes (FetchError past that), returning their sha256; ``check()``
    runs between blocks (a cancel stops a long extraction too)."""
    digest = hashlib.sha256()
    copied = 0
    with open(staging, "wb") as out:
        for block in iter(lambda: reader.read(CHUNK), b""):
            check()
            copied += len(block)
            if copied > limit:
                raise FetchError(f"more than {limit} bytes, more than this model's declared size allows; discarded")
            digest.update(block)
            out.write(block)
    return digest.hexdigest()
