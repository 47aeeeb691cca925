"""Property-based fuzzing of the worker protocol: any header, any payload length, any shape.

The worker's real serving loop (Worker.serve, its reader thread, Channel framing) runs in
this process over real OS pipes, with a small frame limit, so thousands of requests fit in
seconds. Invariants for every request: a reply (strict JSON, no NaN/Infinity) within
REPLY_DEADLINE_S, the worker still serving afterwards (a hello is answered), no exception in
any worker thread, traced memory bounded by the frame limit, and the model cache unchanged.
Examples per test come from the Hypothesis profile (tests/conftest.py: "cleancut" by
default, "long" with --hypothesis-profile=long).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import select
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from cleancut import config, framing, worker

REPLY_DEADLINE_S = 10.0
MAX_PIXELS = 48 * 48  # the frame limit of the worker under test
# What one request may cost in Python-side memory: a few dozen copies of the largest frame the
# limit allows, plus the pipeline's fixed working set (catalog, one model session's arrays).
MEMORY_BOUND = 64 * MAX_PIXELS * 17 + (16 << 20)
NOT_JSON = object()


def _strict(line: bytes) -> dict:
    def refuse(name: str):
        raise AssertionError(f"reply holds {name}, which is not JSON: {line[:200]!r}")

    return json.loads(line, parse_constant=refuse)


class PipeWorker:
    """Worker.serve in a thread, fed and read through os.pipe()s like a real editor's pipes."""

    def __init__(self) -> None:
        to_worker_r, self.to_worker = os.pipe()
        self.from_worker, from_worker_w = os.pipe()
        reader = framing.ByteStream(lambda n: os.read(to_worker_r, n))
        writer = os.fdopen(from_worker_w, "wb", buffering=1 << 16)
        channel = framing.Channel(reader, writer, max_pixels=MAX_PIXELS, stall_timeout=0.3)
        self.errors: list[BaseException] = []
        self.ended: queue.Queue = queue.Queue()
        self.buffer = b""
        self.next_id = 10**6

        def run() -> None:
            try:
                self.ended.put(worker.Worker(channel, idle_timeout=600).serve())
            except BaseException as err:  # the invariant is that this never happens
                self.errors.append(err)
                self.ended.put("crashed")

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.to_worker, view)
            view = view[written:]

    def read_header(self, deadline: float) -> dict:
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            assert left > 0, "no reply within the deadline"
            ready, _, _ = select.select([self.from_worker], [], [], left)
            if ready:
                chunk = os.read(self.from_worker, 1 << 16)
                assert chunk, "the worker closed its output"
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        header = _strict(line)
        size = header.get("nbytes", 0)
        while len(self.buffer) < size:
            ready, _, _ = select.select([self.from_worker], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, "reply payload did not arrive"
            self.buffer += os.read(self.from_worker, 1 << 16)
        self.buffer = self.buffer[size:]
        return header

    def mark_memory(self) -> None:
        """Start measuring what the next request costs in traced memory (numpy included)."""
        self.baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()

    def still_serving(self) -> None:
        """A hello is answered; every reply before it is strict JSON (already checked); what
        the request cost in memory (up to now, from mark_memory) is bounded by the frame limit."""
        grown = tracemalloc.get_traced_memory()[1] - getattr(self, "baseline", 0)
        assert grown < MEMORY_BOUND, f"a request took {grown} bytes of traced memory"
        self.next_id += 1
        self.write(json.dumps({"op": "hello", "id": self.next_id}).encode() + b"\n")
        deadline = time.monotonic() + REPLY_DEADLINE_S
        while True:
            reply = self.read_header(deadline)
            if reply.get("id") == self.next_id:
                assert reply["op"] == "hello" and reply["ok"] is True
                return

    def close(self) -> None:
        os.close(self.to_worker)
        self.thread.join(10)
        os.close(self.from_worker)


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def pipe_worker(engine_models, monkeypatch):
    monkeypatch.setenv("CLEANCUT_OFFLINE", "1")  # a request naming no model must not download the default
    cache = config.cache_dir()
    before = _tree(cache)
    tracemalloc.start()
    server = PipeWorker()
    yield server
    server.close()
    tracemalloc.stop()
    assert not server.errors, f"the worker raised: {server.errors!r}"
    assert _tree(cache) == before, "the model cache changed"


# --- strategies ---

JSON_LEAVES = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**30), max_value=10**30)
               | st.floats() | st.text(max_size=20))
ANY_JSON = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
OPS = st.sampled_from(["hello", "models", "accept", "remove", "cancel", "paint", ""]) | ANY_JSON
CHANNELS = st.sampled_from(["Y", "YA", "RGB", "RGBA"])
FORMATS = st.sampled_from(["u8", "u16", "f32"])


def _maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a plausible value, sometimes any JSON at all."""
    return st.one_of(valid, valid, valid, ANY_JSON)


@st.composite
def remove_requests(draw) -> tuple[dict, int]:
    """A remove header (fields plausible or hostile) and how many payload bytes to send."""
    width = draw(_maybe(st.integers(min_value=-2, max_value=64)))
    height = draw(_maybe(st.integers(min_value=-2, max_value=64)))
    header = {"op": "remove", "width": width, "height": height}
    for name, value in (("channels", _maybe(CHANNELS)), ("format", _maybe(FORMATS)),
                        ("alpha_format", _maybe(FORMATS)),
                        ("stride", _maybe(st.integers(min_value=0, max_value=2**40))),
                        ("hint_nbytes", _maybe(st.integers(min_value=0, max_value=4096))),
                        ("foreground", _maybe(st.booleans())),
                        ("stream", _maybe(st.text(min_size=1, max_size=4))),
                        ("stream_reset", _maybe(st.booleans())),
                        ("options", _maybe(st.fixed_dictionaries({"model": st.just("red")}, optional={
                            "refine": _maybe(st.sampled_from(["off", "fast", "best"])),
                            "threads": _maybe(st.integers(min_value=0, max_value=2)),
                            "temporal_smoothing": _maybe(st.floats(min_value=0, max_value=1)),
                            "foreground": _maybe(st.booleans()),
                        })))):
        if draw(st.booleans()):
            header[name] = draw(value)
    # payload: usually the exact size of the described frame, else any small length
    size = None
    try:
        size = worker.frames.frame_size(width, height, header.get("channels", "RGBA"), header.get("format", "u8"),
                                        header.get("stride"), max_bytes=MAX_PIXELS * 17)
    except Exception:
        pass
    hint = header.get("hint_nbytes", 0) if isinstance(header.get("hint_nbytes", 0), int) else 0
    exact = size + hint if size is not None and not isinstance(hint, bool) else 0
    nbytes = draw(st.sampled_from([exact, exact]) | st.integers(min_value=0, max_value=MAX_PIXELS * 17 + 10))
    return header, nbytes


HEADERS = st.one_of(
    st.dictionaries(st.text(max_size=10), ANY_JSON, max_size=6).map(lambda d: (d, 0)),
    st.builds(lambda op, rid, rest: ({**rest, "op": op, "id": rid}, 0), OPS, ANY_JSON,
              st.dictionaries(st.sampled_from(["model", "target", "nbytes", "protocol", "x"]), ANY_JSON, max_size=3)),
    remove_requests().map(lambda pair: ({**pair[0], "id": 7}, pair[1])),
    ANY_JSON.map(lambda value: (value, 0)),
)


def _line(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8") + b"\n"


@given(request=HEADERS)
def test_any_json_header_gets_a_reply_and_the_worker_keeps_serving(pipe_worker, request):
    header, nbytes = request
    if isinstance(header, dict) and header.get("op") == "shutdown":
        header = dict(header, op="hello")
    if isinstance(header, dict) and nbytes:
        header = dict(header, nbytes=nbytes)
    announced = header.get("nbytes") if isinstance(header, dict) else None
    line = _line(header)
    try:  # a header the worker cannot parse loses the framing: its payload would read as headers
        framing.parse_header(line)
    except framing.ProtocolError:
        announced = None
    payload = b""
    if isinstance(announced, int) and not isinstance(announced, bool) and 0 < announced <= MAX_PIXELS * 17:
        payload = bytes(range(256)) * (announced // 256) + bytes(announced % 256)
    pipe_worker.mark_memory()
    pipe_worker.write(line + payload)
    reply = pipe_worker.read_header(time.monotonic() + REPLY_DEADLINE_S)  # every line gets one
    event(f"reply: {reply['op']}" + (f" ({reply.get('kind')})" if reply["op"] == "error" else ""))
    assert reply["op"] in ("error", "hello", "models", "accept", "remove", "cancel", "progress")
    if reply["op"] == "error":
        assert reply["kind"] in ("protocol", "model", "licence", "engine"), reply
    pipe_worker.still_serving()


@given(line=st.binary(max_size=300).filter(lambda b: b"\n" not in b))
def test_any_bytes_as_a_header_line_get_a_reply(pipe_worker, line):
    pipe_worker.mark_memory()
    pipe_worker.write(line + b"\n")
    reply = pipe_worker.read_header(time.monotonic() + REPLY_DEADLINE_S)
    assert reply["op"] in ("error", "hello", "models", "accept", "remove", "cancel", "progress", "shutdown")
    if reply["op"] != "shutdown":
        pipe_worker.still_serving()


@given(depth=st.integers(min_value=1, max_value=200_000), opener=st.sampled_from([b"[", b"{\"a\":"]),
       digits=st.integers(min_value=1, max_value=20_000))
def test_deep_nesting_and_long_numbers_get_a_reply(pipe_worker, depth, opener, digits):
    pipe_worker.mark_memory()
    pipe_worker.write(b'{"op": "hello", "id": 1, "x": ' + opener * depth + b"\n")
    assert pipe_worker.read_header(time.monotonic() + REPLY_DEADLINE_S)["op"] == "error"
    pipe_worker.write(b'{"op": "hello", "id": 2, "x": ' + b"7" * digits + b"}\n")
    reply = pipe_worker.read_header(time.monotonic() + REPLY_DEADLINE_S)
    assert reply["op"] in ("error", "hello")
    pipe_worker.still_serving()


@st.composite
def valid_removes(draw) -> tuple[dict, bytes]:
    """A remove request that is right in every field, with any frame size, layout and padding."""
    width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    channels, fmt, alpha_format = draw(CHANNELS), draw(FORMATS), draw(FORMATS)
    row = width * worker.frames.CHANNELS[channels] * worker.frames.FORMATS[fmt].itemsize
    stride = row + draw(st.integers(0, 16))
    pixels = draw(st.binary(min_size=stride * (height - 1) + row, max_size=stride * (height - 1) + row))
    header = {"op": "remove", "id": draw(st.integers(0, 2**62) | st.text(max_size=8)), "width": width,
              "height": height, "channels": channels, "format": fmt, "stride": stride, "alpha_format": alpha_format,
              "foreground": draw(st.booleans()),
              "options": {"model": "red", "refine": draw(st.sampled_from(["off", "fast", "best"]))}}
    if draw(st.booleans()):
        hint = draw(st.binary(min_size=width * height, max_size=width * height))
        header["hint_nbytes"] = len(hint)
        pixels += hint
    if draw(st.booleans()):
        header.update(stream=draw(st.sampled_from(["a", "b"])), stream_reset=draw(st.booleans()))
    return header, pixels


@given(request=valid_removes())
def test_any_valid_frame_gets_an_alpha_of_exactly_its_size(pipe_worker, request):
    header, payload = request
    pipe_worker.mark_memory()
    pipe_worker.write(_line(dict(header, nbytes=len(payload))) + payload)
    deadline = time.monotonic() + REPLY_DEADLINE_S
    reply = pipe_worker.read_header(deadline)
    while reply["op"] == "progress":
        reply = pipe_worker.read_header(deadline)
    assert reply["op"] == "remove" and reply["ok"] is True and reply["id"] == header["id"], reply
    size = header["width"] * header["height"] * worker.frames.FORMATS[header["alpha_format"]].itemsize
    assert reply["alpha_nbytes"] == size
    assert reply["nbytes"] == size * (4 if header["foreground"] else 1) or not header["foreground"]
    pipe_worker.still_serving()
