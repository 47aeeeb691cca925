# -*- coding: utf-8 -*-
"""cleancut_client: the only module editor plug-ins import from cleancut.

Standard library only, and Python 2.7-compatible syntax (GIMP 2.10's gimpfu), because it runs
inside the editor's own Python. It starts the engine's worker (`python -m cleancut worker`)
with the configured engine interpreter, sends pixels, returns the alpha, forwards progress,
supports cancel, enforces timeouts, restarts the worker after a crash, and raises one
exception type, CleancutError, whose message a user can act on.

Which interpreter runs the engine, first match wins:
  1. the ``python`` argument of Client();
  2. the environment variable CLEANCUT_ENGINE_PYTHON;
  3. "engine_python" in cleancut's settings file (config.json, written by `cleancut install`),
     in CLEANCUT_CONFIG_DIR or the platform's user config folder.

Packaging copies this single file into each editor's bundle; keep it self-contained.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

try:
    import queue
except ImportError:  # Python 2.7
    import Queue as queue  # noqa: N813

PROTOCOL = 1
CLIENT_VERSION = "0.1.0"
DEFAULT_START_TIMEOUT_S = 60.0
DEFAULT_REPLY_TIMEOUT_S = 600.0
ENV_PYTHON = "CLEANCUT_ENGINE_PYTHON"
ENV_CONFIG_DIR = "CLEANCUT_CONFIG_DIR"
FORMAT_BYTES = {"u8": 1, "u16": 2, "f32": 4}
CHANNEL_COUNT = {"Y": 1, "YA": 2, "RGB": 3, "RGBA": 4}


class CleancutError(Exception):
    """Anything that went wrong, worded for the person in front of the editor.

    ``kind`` says which: "setup" (no engine), "licence", "model", "cancelled", "crashed",
    "timeout", "protocol", "engine" or "internal".
    """

    def __init__(self, message, kind="engine"):
        Exception.__init__(self, message)
        self.kind = kind


def config_dir():
    """cleancut's settings folder, as the engine's platformdirs would name it."""
    override = os.environ.get(ENV_CONFIG_DIR)
    if override:
        return override
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
        return os.path.join(base, "cleancut", "cleancut")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Application Support/cleancut")
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, "cleancut")


def find_engine_python(python=None):
    """The engine interpreter to start, or a CleancutError saying how to configure one."""
    if python:
        return python
    if os.environ.get(ENV_PYTHON):
        return os.environ[ENV_PYTHON]
    path = os.path.join(config_dir(), "config.json")
    try:
        with open(path) as handle:
            configured = json.load(handle).get("engine_python")
    except (IOError, OSError, ValueError, AttributeError):
        configured = None
    if configured:
        return configured
    raise CleancutError(
        "No cleancut engine is configured. Install it with `pip install cleancut` and run "
        "`cleancut install <editor>`, or set %s to the Python that has cleancut." % ENV_PYTHON,
        "setup")


class Client(object):
    """One worker process, started on first use and restarted after any failure."""

    def __init__(self, python=None, start_timeout=DEFAULT_START_TIMEOUT_S,
                 reply_timeout=DEFAULT_REPLY_TIMEOUT_S, worker_args=()):
        self.python = python
        self.start_timeout = start_timeout
        self.reply_timeout = reply_timeout
        self.worker_args = list(worker_args)
        self.process = None
        self.replies = None
        self.stderr_file = None
        self.engine = None
        self.next_id = 0

    # --- lifecycle ---
    def start(self):
        """Start the worker and check it speaks our protocol; returns its hello reply."""
        if self.process is not None and self.process.poll() is None:
            return self.engine
        self._discard()
        python = find_engine_python(self.python)
        self.stderr_file = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                [python, "-m", "cleancut", "worker"] + self.worker_args,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr_file,
                bufsize=0, close_fds=True)
        except (OSError, ValueError) as err:
            self._discard()
            raise CleancutError(
                "The cleancut engine could not be started with %s (%s). Check the engine path "
                "(%s or `cleancut install <editor>`)." % (python, err, ENV_PYTHON), "setup")
        self.replies = queue.Queue()
        reader = threading.Thread(target=self._read_loop, args=(self.process.stdout, self.replies))
        reader.daemon = True
        reader.start()
        try:
            hello = self._request({"op": "hello", "protocol": PROTOCOL, "client": CLIENT_VERSION},
                                  timeout=self.start_timeout)
        except CleancutError as err:
            if err.kind == "crashed" and "No module named" in str(err):
                raise CleancutError(
                    "The Python at %s has no cleancut engine: run `%s -m pip install cleancut`, or "
                    "point %s at the right one." % (python, python, ENV_PYTHON), "setup")
            raise
        if hello.get("protocol") != PROTOCOL:
            self.close()
            raise CleancutError(
                "The cleancut engine speaks protocol %s but this plug-in speaks %s: update the "
                "plug-in and the engine to the same version." % (hello.get("protocol"), PROTOCOL), "setup")
        self.engine = hello
        return hello

    def close(self):
        """Ask the worker to stop, and make sure it does."""
        if self.process is not None and self.process.poll() is None:
            try:
                self._send({"op": "shutdown"})
                _wait(self.process, 2.0)
            except CleancutError:
                pass
        self._discard()

    def _discard(self):
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                try:
                    process.kill()
                except OSError:
                    pass
                process.wait()
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except (IOError, OSError):
                    pass
        if self.stderr_file is not None:
            self.stderr_file.close()
            self.stderr_file = None
        self.engine = None

    # --- framing ---
    @staticmethod
    def _read_loop(stream, replies):
        try:
            while True:
                line = stream.readline()
                if not line:
                    break
                header = json.loads(line.decode("utf-8"))
                size = header.get("nbytes", 0)
                payload = _read_exactly(stream, size) if size else b""
                if payload is None:
                    break
                replies.put((header, payload))
        except (IOError, OSError, ValueError):
            pass
        replies.put(None)

    def _send(self, header, payload=b""):
        if payload:
            header = dict(header, nbytes=len(payload))
        line = (json.dumps(header) + "\n").encode("utf-8")
        try:
            self.process.stdin.write(line)
            if payload:
                self.process.stdin.write(payload)
            self.process.stdin.flush()
        except (IOError, OSError):
            raise self._crashed()

    def _crashed(self):
        code = _wait(self.process, 2.0) if self.process is not None else None
        tail = ""
        if self.stderr_file is not None:
            self.stderr_file.seek(0)
            lines = [l for l in self.stderr_file.read().decode("utf-8", "replace").splitlines() if l.strip()]
            tail = " | ".join(lines[-3:])
        self._discard()
        message = "The cleancut engine stopped unexpectedly"
        if code is not None:
            message += " (exit code %s)" % code
        if tail:
            message += ": %s" % tail[-600:]
        return CleancutError(message + ". It will be restarted on the next try.", "crashed")

    def _request(self, header, payload=b"", timeout=None, progress=None, cancelled=None):
        """Send one request and wait for its final reply, forwarding progress, honouring cancel."""
        if self.process is None or self.process.poll() is not None:
            if header.get("op") != "hello":
                self.start()
        self.next_id += 1
        request_id = self.next_id
        header = dict(header, id=request_id)
        self._send(header, payload)
        limit = self.reply_timeout if timeout is None else timeout
        deadline = time.time() + limit
        cancel_sent = False
        while True:
            if cancelled is not None and not cancel_sent and cancelled():
                self._send({"op": "cancel", "target": request_id})
                cancel_sent = True
            try:
                item = self.replies.get(timeout=0.05)
            except queue.Empty:
                if time.time() > deadline:
                    self._discard()
                    raise CleancutError(
                        "The cleancut engine did not answer within %d s; it was stopped and will be "
                        "restarted on the next try." % limit, "timeout")
                continue
            if item is None:
                raise self._crashed()
            reply, data = item
            if reply.get("id") != request_id:
                continue  # e.g. the acknowledgement of a cancel
            if reply.get("op") == "progress":
                deadline = time.time() + limit  # progress proves the engine is alive
                if progress is not None:
                    progress(reply.get("fraction", 0.0), reply.get("stage", ""))
                continue
            if not reply.get("ok"):
                raise CleancutError(reply.get("message", "the engine reported an error"),
                                    reply.get("kind", "engine"))
            return dict(reply, payload=data)

    # --- requests ---
    def hello(self):
        return self.start()

    def models(self):
        """The engine's models: dicts with id, name, licence, class, needs_acceptance, cached…"""
        return self._request({"op": "models"})["models"]

    def accept(self, model_id):
        """Record the user's acceptance of a model's licence, through the engine."""
        return self._request({"op": "accept", "model": model_id})

    def remove(self, pixels, width, height, channels="RGBA", pixel_format="u8", stride=None,
               options=None, hint=None, alpha_format="u8", progress=None, cancelled=None,
               stream=None, stream_reset=False):
        """The alpha (bytes, width×height in alpha_format) for one frame of pixels.

        ``pixels``: bytes in ``pixel_format`` (u8, u16 or f32), ``channels`` Y, YA, RGB or RGBA.
        ``hint``: optional width×height bytes, a trimap (0, 128, 255) or rough mask.
        ``progress(fraction, stage)`` is called as the engine works; ``cancelled()`` is polled
        and, once it returns True, the run is cancelled and CleancutError(kind="cancelled")
        is raised.
        ``stream``: a name shared by consecutive frames of one video, so the engine carries
        state between them (RVM's recurrent state; temporal smoothing for other models);
        ``stream_reset=True`` on a stream's first frame.
        """
        header = {"op": "remove", "width": width, "height": height, "channels": channels,
                  "format": pixel_format, "options": options or {}, "alpha_format": alpha_format}
        if stride is not None:
            header["stride"] = stride
        if stream is not None:
            header["stream"] = stream
            header["stream_reset"] = bool(stream_reset)
        payload = bytes(pixels)
        if hint is not None:
            hint = bytes(hint)
            if len(hint) != width * height:
                raise CleancutError("the selection hint must be %d×%d bytes" % (width, height), "protocol")
            header["hint_nbytes"] = len(hint)
            payload += hint
        if self.process is None or self.process.poll() is not None:
            self.start()
        reply = self._request(header, payload, progress=progress, cancelled=cancelled)
        return reply["payload"][:reply["alpha_nbytes"]]


def _wait(process, seconds):
    """The exit code once the process ends, or None if it is still running after ``seconds``."""
    deadline = time.time() + seconds
    while process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    return process.poll()


def _read_exactly(stream, size):
    chunks = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
