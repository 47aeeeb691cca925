"""`cleancut worker`: the engine as a long-lived process that editors talk to over stdin/stdout.

Framing, both ways (framing.py): one JSON header line, then exactly ``nbytes`` raw bytes when
the header announces them (0 when absent).

Requests (``op``): hello, models, accept, remove, cancel, shutdown. Every request may carry an
``id`` that its replies repeat. Replies: the request's op with ``"ok": true``; ``progress``
events while a remove runs (``fraction``, ``stage``; while a model downloads, stage
"download" also carries ``model``, ``done`` and ``total`` bytes of the transfer and the
model's ``size``); ``error`` with ``kind`` and an actionable ``message``. ``models`` lists each
model's licence, size, whether it is ``cached`` and the bytes a first run still downloads
(``download_size``), so an editor can say so before it starts.

A remove header: width, height, channels (Y, YA, RGB, RGBA), format (u8, u16, f32), optional
stride, options (the Options fields), alpha_format, foreground (bool), and optionally
hint_nbytes: an H×W u8 trimap/mask that follows the pixels inside the same payload,
optionally include and exclude: lists of [x, y] points in the frame's pixels (at most
prompts.MAX_CLICKS together), and optionally stream (a name) + stream_reset: consecutive video frames of one stream share state
(RVM's recurrent state, or temporal smoothing for other models).
The result header announces the alpha bytes (+ foreground RGB bytes, when asked).

Robustness: a malformed request gets an error and the worker keeps serving; a payload larger
than the limits is refused without being read; end of input (the editor went away) ends the
worker; so does an idle timeout. A header must be a JSON object of plain JSON (no NaN or
Infinity, nesting at most MAX_DEPTH deep); every field is checked for its type before use, so
a wrongly typed field is a "protocol" error naming the field, never an "internal" one. A
connection closed for idleness is told so first (``{"op": "closing", "reason": "idle"}``), so
the client reconnects instead of reporting a crash.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import sys
import threading
import time
from typing import Any

import numpy as np

from . import __version__, fetch, frames, framing, licences, pipeline, prompts, temporal, transfer
from .catalog import load_catalog
from .errors import CleancutError, LicenceError, ModelError, brief
from .framing import DEFAULT_STALL_TIMEOUT_S, MAX_ID_CHARS, ByteStream, Channel, ProtocolError, request_id
from .options import REFINE_MODES, RULES, Options, problem

PROTOCOL = 1
DEFAULT_IDLE_TIMEOUT_S = 900.0
MAX_STREAMS = 8
PROGRESS_INTERVAL_S = 0.1  # at most this often a progress event of one stage (the first always goes)
ENGINE_LOCK = threading.Lock()  # one removal at a time, whichever connection asks


class Worker:
    def __init__(self, channel: Channel, idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S):
        self.channel = channel
        self.idle_timeout = idle_timeout
        self.inbox: queue.Queue = queue.Queue()
        self.current: tuple[Any, pipeline.CancelToken] | None = None
        self.current_lock = threading.Lock()
        self.streams: dict[str, temporal.StreamState] = {}

    # --- reading: a thread, so that cancel arrives while a remove is running ---
    def _read_loop(self) -> None:
        try:
            while True:
                header, payload, problem = self.channel.receive()
                if header is None:
                    break
                if problem is None and header.get("op") == "cancel":
                    self._cancel(header)
                    continue
                self.inbox.put((header, payload, problem))
        except Exception as err:  # a bug here would leave the editor waiting: end the worker
            print(f"cleancut worker: reader failed: {type(err).__name__}: {err}", file=sys.stderr)
        except BaseException:
            self.inbox.put(None)
            raise
        self._cancel_running()
        self.inbox.put(None)

    def _cancel_running(self) -> None:
        """The client is gone (its plug-in ended or was killed): stop what it asked for."""
        with self.current_lock:
            running = self.current
        if running is not None:
            running[1].cancel()

    def _cancel(self, header: dict[str, Any]) -> None:
        with self.current_lock:
            running = self.current
        target = header.get("target")
        if running is not None and (target is None or target == running[0]):
            running[1].cancel()
        self.channel.send({"op": "cancel", "id": request_id(header), "ok": True,
                           "cancelled": running is not None})

    def serve(self) -> str:
        """Answer requests until "shutdown", "closed" (end of input) or "idle" (timeout)."""
        threading.Thread(target=self._read_loop, name="cleancut-reader", daemon=True).start()
        while True:
            try:
                item = self.inbox.get(timeout=self.idle_timeout)
            except queue.Empty:
                # Said, so that the client reconnects on its next call instead of reporting a crash.
                try:
                    self.channel.send({"op": "closing", "id": None, "ok": True, "reason": "idle",
                                       "message": f"closed after {self.idle_timeout:g} s without a request"})
                except (OSError, ValueError):
                    pass
                return "idle"
            if item is None:
                return "closed"
            header, payload, problem = item
            rid = request_id(header)
            if problem is not None:
                self._error(rid, "protocol", problem)
                continue
            op = header.get("op")
            if not isinstance(op, str):
                self._error(rid, "protocol", f"field 'op' must be a string, not {brief(op)}")
                continue
            if "id" in header and header["id"] is not None and rid is None:
                self._error(None, "protocol", f"field 'id' must be a string of at most {MAX_ID_CHARS} "
                                              f"characters or an integer, not {brief(header['id'])}")
                continue
            if op == "shutdown":
                self.channel.send({"op": "shutdown", "id": rid, "ok": True})
                return "shutdown"
            handler = {"hello": self._hello, "models": self._models, "accept": self._accept,
                       "remove": self._remove}.get(op)
            if handler is None:
                self._error(rid, "protocol", f"unknown op {op[:60]!r}; known: hello, models, accept, "
                                             "remove, cancel, shutdown")
                continue
            try:
                handler(header, payload)
            except pipeline.Cancelled as err:
                self._error(rid, "cancelled", str(err))
            except LicenceError as err:
                self._error(rid, "licence", str(err))
            except ModelError as err:
                self._error(rid, "model", str(err))
            except (ProtocolError, frames.FrameError) as err:
                self._error(rid, "protocol", str(err))
            except CleancutError as err:
                self._error(rid, "engine", str(err))
            except MemoryError:
                self._error(rid, "engine", "out of memory; try a smaller layer")
            except Exception as err:  # a bug: report it, keep serving
                self._error(rid, "internal", f"{type(err).__name__}: {err}")

    def _error(self, request_id: Any, kind: str, message: str) -> None:
        self.channel.send({"op": "error", "id": request_id, "ok": False, "kind": kind, "message": message})

    # --- requests ---
    def _hello(self, header: dict[str, Any], payload: bytes) -> None:
        self.channel.send({"op": "hello", "id": request_id(header), "ok": True, "protocol": PROTOCOL,
                           "engine": __version__, "python": sys.version.split()[0],
                           "pid": os.getpid(), "refine_modes": list(REFINE_MODES)})

    def _models(self, header: dict[str, Any], payload: bytes) -> None:
        catalog = load_catalog()
        models = [{
            "id": e.id, "name": e.name, "task": e.task, "licence": e.licence,
            "class": licences.entry_class(e), "needs_acceptance": licences.needs_acceptance(e),
            "commercial_use": e.commercial_use, "training_data": e.training_data,
            "training_data_terms": e.training_data_terms, "cached": fetch.is_cached(e),
            "size": e.size, "download_size": 0 if fetch.is_cached(e) else e.size,
            "default": e.id == catalog.default,
        } for e in catalog.models.values()]
        for preset in catalog.presets.values():  # listed like models, so editors offer them as such
            members, _ = catalog.resolve(preset.id)
            classes = [licences.entry_class(e) for e in members]
            models.append({
                "id": preset.id, "name": preset.name, "task": "salient-object", "preset": True,
                "models": list(preset.models), "licence": " + ".join(e.licence for e in members),
                "class": next((c for c in classes if c != licences.PERMISSIVE), licences.PERMISSIVE),
                "needs_acceptance": any(licences.needs_acceptance(e) for e in members),
                "commercial_use": all(e.commercial_use for e in members),
                "training_data": "; ".join(f"{e.id}: {e.training_data}" for e in members),
                "training_data_terms": " ".join(f"{e.id}: {e.training_data_terms}" for e in members),
                "cached": all(fetch.is_cached(e) for e in members), "size": sum(e.size for e in members),
                "download_size": sum(e.size for e in members if not fetch.is_cached(e)),
                "default": False, "description": preset.description,
            })
        self.channel.send({"op": "models", "id": request_id(header), "ok": True, "models": models})

    def _accept(self, header: dict[str, Any], payload: bytes) -> None:
        name = framing.field(header, "model", (str,), None, "a model or preset id (a string)")
        if name is None:
            raise ProtocolError("accept needs field 'model': a model or preset id")
        members = licences.accept_for(*load_catalog().resolve(name))
        self.channel.send({"op": "accept", "id": request_id(header), "ok": True, "model": name,
                           "licence": " + ".join(e.licence for e in members)})

    def _remove(self, header: dict[str, Any], payload: bytes) -> None:
        request_id_ = request_id(header)
        options = _options(framing.field(header, "options", (dict,), {}, "a JSON object") or {})
        foreground = framing.field(header, "foreground", (bool,), False, "true or false")
        if not foreground:  # colours nobody will receive are not worth computing
            options = dataclasses.replace(options, foreground=False)
        width = framing.field(header, "width", (int,), None, "a positive integer")
        height = framing.field(header, "height", (int,), None, "a positive integer")
        if width is None or height is None:
            raise ProtocolError("remove needs fields 'width' and 'height' (positive integers)")
        channels = framing.field(header, "channels", (str,), "RGBA", f"one of {', '.join(frames.CHANNELS)}")
        fmt = framing.field(header, "format", (str,), "u8", f"one of {', '.join(frames.FORMATS)}")
        stride = framing.field(header, "stride", (int,), None, "a positive integer (bytes per row)")
        alpha_format = framing.field(header, "alpha_format", (str,), "u8", f"one of {', '.join(frames.FORMATS)}")
        if alpha_format not in frames.FORMATS:
            raise ProtocolError(f"alpha_format must be one of {', '.join(frames.FORMATS)}")
        hint_nbytes = framing.field(header, "hint_nbytes", (int,), 0, "a non-negative integer") or 0
        if width < 1 or height < 1 or width * height > self.channel.max_pixels:
            raise ProtocolError(f"a {width}×{height} frame is outside the worker's size limit "
                                f"(1 to {self.channel.max_pixels} pixels)")
        size = frames.frame_size(width, height, channels, fmt, stride, max_bytes=self.channel.max_bytes)
        if hint_nbytes not in (0, width * height) or len(payload) != size + hint_nbytes:
            raise ProtocolError(f"payload is {len(payload)} bytes; a {width}×{height} {channels} {fmt} "
                                f"frame needs {size}" + (f" plus a {width * height}-byte hint" if hint_nbytes else ""))
        rgb, _ = frames.decode(payload[:size], width, height, channels, fmt, stride)
        hint = None
        if hint_nbytes:
            hint = np.frombuffer(payload[size:], dtype=np.uint8).reshape(height, width)
        clicks = _clicks(header, width, height)

        stream = self._stream(header)
        token = pipeline.CancelToken()
        with self.current_lock:
            self.current = (request_id_, token)
        last = {"stage": None, "at": 0.0}

        def progress(fraction: float, stage: str, download: transfer.Download | None = None) -> None:
            now = time.monotonic()
            finished = download is not None and download.done == download.total
            if stage != last["stage"] or now - last["at"] > PROGRESS_INTERVAL_S or finished:
                last.update(stage=stage, at=now)
                event = {"op": "progress", "id": request_id_, "fraction": fraction, "stage": stage}
                if download is not None:
                    event.update(model=download.model, done=download.done, total=download.total,
                                 size=download.size)
                self.channel.send(event)

        try:
            with ENGINE_LOCK:
                result = pipeline.remove(rgb, options, hint=hint, progress=progress, cancel=token, stream=stream,
                                         clicks=clicks)
        finally:
            with self.current_lock:
                self.current = None
        body = frames.encode_alpha(result.alpha, alpha_format)
        reply = {"op": "remove", "id": request_id_, "ok": True, "width": width, "height": height,
                 "alpha_format": alpha_format, "alpha_nbytes": len(body), "model": result.preset.id if result.preset else result.model.id,
                 "timings": result.timings}
        if foreground and result.foreground is not None:
            colours = frames.encode_rgb(result.foreground, alpha_format)
            reply["foreground_nbytes"] = len(colours)
            body += colours
        self.channel.send(reply, body)


    def _stream(self, header: dict[str, Any]) -> temporal.StreamState | None:
        """The video stream this frame continues (stream_reset starts it afresh), or None."""
        name = header.get("stream")
        if name is None:
            return None
        if not isinstance(name, str) or not name or len(name) > MAX_ID_CHARS:
            raise ProtocolError(f"field 'stream' must be a non-empty string of at most {MAX_ID_CHARS} characters, "
                                f"not {brief(name)}")
        reset = framing.field(header, "stream_reset", (bool,), False, "true or false")
        if reset or name not in self.streams:
            self.streams.pop(name, None)
            if len(self.streams) >= MAX_STREAMS:
                self.streams.pop(next(iter(self.streams)))  # forget the oldest stream
            self.streams[name] = temporal.StreamState()
        return self.streams[name]


def _options(raw: Any) -> Options:
    if not isinstance(raw, dict):
        raise ProtocolError("options must be a JSON object")
    unknown = set(raw) - set(RULES)
    if unknown:
        raise ProtocolError(f"unknown option(s): {', '.join(sorted(unknown))}")
    for name, value in raw.items():
        reason = problem(name, value)
        if reason:
            raise ProtocolError(f"bad options: '{name}' {reason}")
    return Options(**raw)


def run(idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S, stall_timeout: float = DEFAULT_STALL_TIMEOUT_S) -> int:
    """Serve on this process's stdin/stdout. Anything else printing to stdout goes to stderr."""
    fd = os.dup(sys.stdin.fileno())
    reader = ByteStream(lambda n: os.read(fd, n))
    writer = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=1 << 16)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    Worker(Channel(reader, writer, stall_timeout=stall_timeout), idle_timeout).serve()
    return 0


def _clicks(header: dict[str, Any], width: int, height: int) -> prompts.Clicks | None:
    """A remove request's include and exclude points, checked against its frame; None if none."""
    found = {}
    for name in ("include", "exclude"):
        value = framing.field(header, name, (list,), [], "a list of [x, y] points") or []
        if len(value) > prompts.MAX_CLICKS:
            raise ProtocolError(f"at most {prompts.MAX_CLICKS} include and exclude points together")
        points = []
        for item in value:
            if not (isinstance(item, list) and len(item) == 2
                    and all(framing.has_type(v, (int, float)) for v in item)):
                raise ProtocolError(f"field '{name}' must be a list of [x, y] points (numbers of pixels)")
            points.append((float(item[0]), float(item[1])))
        found[name] = tuple(points)
    clicks = prompts.Clicks(**found)
    if not clicks:
        return None
    try:
        return clicks.checked(width, height)
    except ValueError as err:
        raise ProtocolError(str(err)) from None
