"""The worker protocol's framing: one JSON header line, then the bytes it announces.

Both ways: a header line (UTF-8 JSON object, at most MAX_HEADER bytes, plain JSON only: no NaN
or Infinity, nesting at most MAX_DEPTH deep), then exactly ``nbytes`` raw bytes when the header
announces them (0 when absent). A payload larger than the channel's limits is refused without
being read; a peer that stops sending mid-payload is given up after ``stall_timeout`` seconds.
Every field is read through ``field``, which checks its type, so a wrongly typed field is a
protocol error naming it. worker.py says what the requests mean.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any, BinaryIO, Callable

from .errors import CleancutError, brief
from .imageread import DEFAULT_MAX_PIXELS

MAX_HEADER = 1 << 20
DEFAULT_STALL_TIMEOUT_S = 10.0
MAX_DEPTH = 32  # nesting of a header's JSON; real requests use 2
MAX_ID_CHARS = 256


class ProtocolError(CleancutError):
    """A request the worker cannot understand."""


class ByteStream:
    """Bytes from a pipe or socket, read by a thread so that waits can time out on any OS.

    ``read(n)`` is the blocking read of the underlying stream (os.read on a pipe, recv on a socket).
    """

    def __init__(self, read: Callable[[int], bytes]):
        self.read_raw = read
        self.chunks: queue.Queue = queue.Queue(maxsize=64)
        self.buffer = bytearray()
        self.eof = False
        threading.Thread(target=self._pump, name="cleancut-reader", daemon=True).start()

    def _pump(self) -> None:
        while True:
            try:
                chunk = self.read_raw(1 << 16)
            except OSError:
                chunk = b""
            self.chunks.put(chunk)
            if not chunk:
                return

    def _fill(self, timeout: float | None) -> bool:
        """Wait for more bytes; False at end of input or when ``timeout`` passes first."""
        if self.eof:
            return False
        try:
            chunk = self.chunks.get(timeout=timeout)
        except queue.Empty:
            return False
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def readline(self, limit: int) -> bytes:
        """A line including its newline; shorter than that only at end of input or past ``limit``."""
        while True:
            end = self.buffer.find(b"\n", 0, limit)
            if end >= 0:
                return self._take(end + 1)
            if len(self.buffer) >= limit or not self._fill(None):
                return self._take(min(limit, len(self.buffer)))

    def read(self, count: int, stall_timeout: float) -> bytes:
        """Up to ``count`` bytes; fewer when input ends or stalls for ``stall_timeout`` seconds."""
        while len(self.buffer) < count and self._fill(stall_timeout):
            pass
        return self._take(min(count, len(self.buffer)))

    def _take(self, count: int) -> bytes:
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data


class Channel:
    """Reads framed requests and writes framed replies; writes are serialised by a lock."""

    def __init__(self, reader: ByteStream, writer: BinaryIO, max_pixels: int = DEFAULT_MAX_PIXELS,
                 stall_timeout: float = DEFAULT_STALL_TIMEOUT_S):
        self.reader = reader
        self.writer = writer
        self.max_pixels = max_pixels
        self.max_bytes = max_pixels * 4 * 4 + max_pixels  # an RGBA f32 frame plus a u8 hint
        self.stall_timeout = stall_timeout
        self.lock = threading.Lock()

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        if payload:
            header = dict(header, nbytes=len(payload))
        line = json.dumps(header, separators=(",", ":")).encode("utf-8") + b"\n"
        with self.lock:
            self.writer.write(line)
            if payload:
                self.writer.write(payload)
            self.writer.flush()

    def receive(self) -> tuple[dict[str, Any] | None, bytes, str | None]:
        """(header, payload, problem). header None means end of input: the client is gone."""
        line = self.reader.readline(MAX_HEADER)
        if not line.endswith(b"\n"):
            if len(line) < MAX_HEADER:
                return None, b"", None
            while line and not line.endswith(b"\n"):  # skip the rest of the oversized line
                line = self.reader.readline(MAX_HEADER)
            return {}, b"", f"header line longer than {MAX_HEADER} bytes"
        try:
            header = parse_header(line)
        except ProtocolError as err:
            return {}, b"", str(err)
        nbytes = header.get("nbytes", 0)
        if not has_type(nbytes, (int,)) or nbytes < 0:
            return header, b"", f"nbytes must be a non-negative integer, not {nbytes!r}"
        if nbytes > self.max_bytes:
            # Not read: no legal frame is this large, so the client has lost its framing.
            return header, b"", f"announced payload of {nbytes} bytes is over the limit of {self.max_bytes}"
        payload = self.reader.read(nbytes, self.stall_timeout) if nbytes else b""
        if len(payload) != nbytes:
            if self.reader.eof:
                return None, b"", None
            return header, b"", (f"payload incomplete: {len(payload)} of the announced {nbytes} bytes "
                                 f"arrived, then nothing for {self.stall_timeout:g} s; discarded")
        return header, payload, None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:40]} is out of range for a number")
    return value


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a decoded JSON value, without recursion (so no depth can crash it)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack += [(v, level + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, level + 1) for v in item]
    return deepest


def parse_header(line: bytes) -> dict[str, Any]:
    """One header line as a dict, or ProtocolError saying what is wrong with it.

    Refused: bytes that are not UTF-8, text that is not JSON, NaN/Infinity (not JSON, and
    other clients' parsers reject them), numbers Python will not convert (over 4300 digits),
    nesting deeper than MAX_DEPTH, and anything but an object at the top.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProtocolError(f"header is not JSON (not UTF-8: {err.reason} at byte {err.start})") from None
    try:
        header = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:  # Python's decoder recurses once per level of nesting
        raise ProtocolError(f"header is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:
        raise ProtocolError(f"header is not JSON ({str(err)[:200]})") from None
    if not isinstance(header, dict):
        raise ProtocolError("header must be a JSON object")
    if _depth(header, MAX_DEPTH) > MAX_DEPTH:
        raise ProtocolError(f"header is nested deeper than {MAX_DEPTH} levels")
    return header


def request_id(header: dict[str, Any]) -> Any:
    """The id replies echo: a string, an integer or null; anything else is not echoed."""
    value = header.get("id")
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int) and abs(value) < 1 << 63:
        return value
    if isinstance(value, str) and len(value) <= MAX_ID_CHARS:
        return value
    return None


def field(header: dict[str, Any], name: str, kinds: tuple[type, ...], default: Any, what: str) -> Any:
    """``header[name]`` if it has one of ``kinds`` (bool is never an int here), else ProtocolError."""
    value = header.get(name, default)
    if value is None and default is None:
        return None
    if not has_type(value, kinds):
        raise ProtocolError(f"field '{name}' must be {what}, not {brief(value)}")
    return value


def has_type(value: Any, kinds: tuple[type, ...]) -> bool:
    """isinstance, except that a JSON true/false is never taken for a number."""
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))
