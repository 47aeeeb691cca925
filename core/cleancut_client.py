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

import hashlib
import inspect
import json
import os
import socket
import stat
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
# What each engine stage is doing, worded for a progress display (see progress_text).
STAGES = {"model": "Loading the model", "download": "Downloading", "segment": "Finding the subject",
          "refine": "Refining the edges", "foreground": "Estimating the colours", "done": "Done"}
DOWNLOAD_FIELDS = ("model", "done", "total", "size")
# An editor's model or refine choice that leaves it to the engine: the field is then left out of
# the run's options, so the engine uses its default model, and a preset's own refine mode, else
# its default one. Editors store it as is (GIMP's procedure arguments, Krita's kritarc).
ENGINE_DEFAULT = ""
# ENGINE_DEFAULT where a choice cannot be empty: an EnumProperty identifier in Blender (an empty
# one is a separator there, not a choice), which Blender's stored preferences hold. Every
# function here reads it as ENGINE_DEFAULT; no model id or refine mode is upper case.
ENGINE_DEFAULT_ENUM = "DEFAULT"
# The refine modes to offer when the engine's hello lists none (an engine older than the list):
# "off" is the one mode every engine runs.
REFINE_FALLBACK = ("off",)


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
    configured = _configured_engine(path)
    if configured:
        return configured
    raise CleancutError(
        "No cleancut engine is configured. Install it with `pip install cleancut` and run "
        "`cleancut install <editor>`, or set %s to the Python that has cleancut." % ENV_PYTHON,
        "setup")


def _configured_engine(path):
    """"engine_python" from the settings file; None when the file is absent or does not set it.

    A file that is there but unreadable, not JSON, not an object or with a non-string
    "engine_python" is a setup error naming the file: "no engine is configured" would send
    the user to reinstall instead of to the file that is broken.
    """
    try:
        raw = _read_settings_bytes(path)
    except (IOError, OSError) as err:
        if getattr(err, "errno", None) == 2:  # ENOENT: no settings yet
            return None
        raise CleancutError("The cleancut settings file %s cannot be read (%s); fix its permissions."
                            % (path, getattr(err, "strerror", None) or err), "setup")
    if raw is None:
        raise CleancutError("The cleancut settings file %s is not a regular file (a named pipe, a device "
                            "or a folder); move it away and run `cleancut install <editor>` again."
                            % path, "setup")
    if len(raw) > _SETTINGS_MAX:
        raise CleancutError("The cleancut settings file %s is larger than %d MiB, so it is not one cleancut "
                            "wrote; move it away and run `cleancut install <editor>` again."
                            % (path, _SETTINGS_MAX >> 20), "setup")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RuntimeError) as err:
        raise CleancutError("The cleancut settings file %s is corrupt (not valid JSON: %s); fix it, or "
                            "delete it and run `cleancut install <editor>` again." % (path, str(err)[:200]),
                            "setup")
    if not isinstance(data, dict):
        raise CleancutError("The cleancut settings file %s is corrupt (it must hold a JSON object); fix "
                            "it, or delete it and run `cleancut install <editor>` again." % path, "setup")
    configured = data.get("engine_python")
    if configured is None:
        return None
    if not isinstance(configured, type(u"")) and not isinstance(configured, str) or not configured:
        raise CleancutError("The cleancut settings file %s is corrupt: \"engine_python\" must be the path "
                            "of a Python (a string), not %s; run `cleancut install <editor>` again."
                            % (path, json.dumps(configured)[:60]), "setup")
    return configured


# As the engine's own limit on its settings file (smallfiles.read_small there): this module
# runs inside the editors' Pythons, 2.7 included, with the standard library only.
_SETTINGS_MAX = 1 << 20


def _read_settings_bytes(path):
    """Up to _SETTINGS_MAX + 1 bytes of a regular file; None for anything else. Opened without
    blocking and checked on the open descriptor: a named pipe there would wait forever for a
    writer, /dev/zero would never end."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                         | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        chunks = []
        left = _SETTINGS_MAX + 1
        while left > 0:
            chunk = os.read(descriptor, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def megabytes(nbytes):
    """A size as people read it in a progress line: "176 MB", "4.6 MB" (1 MB = 1,000,000 bytes)."""
    value = nbytes / 1e6
    return "%.0f MB" % value if value >= 10 else "%.1f MB" % value


def progress_text(stage, download=None):
    """The line an editor shows for a progress event: "Downloading u2net: 34 of 176 MB" while a
    model downloads (``download``: the event's model, done, total, size), else the stage's words."""
    if stage == "download" and download:
        done, total = download.get("done", 0), download.get("total", 0)
        amount = ("%s of %s" % (megabytes(done)[:-3], megabytes(total)) if total
                  else megabytes(done))
        return "Downloading %s: %s" % (download.get("model", "the model"), amount)
    return STAGES.get(stage, stage)


def progress_fraction(fraction, download=None):
    """What a progress bar shows: the download's own share while a model downloads (the run's
    fraction hardly moves then), else the run's fraction; always within 0..1."""
    if download and download.get("total"):
        fraction = float(download.get("done", 0)) / download["total"]
    return min(max(fraction, 0.0), 1.0)


def is_engine_default(choice):
    """Whether an editor's model or refine choice leaves it to the engine: ENGINE_DEFAULT,
    ENGINE_DEFAULT_ENUM or None."""
    return choice is None or choice in (ENGINE_DEFAULT, ENGINE_DEFAULT_ENUM)


def refine_choices(hello):
    """The refine modes an editor offers after its engine-default entry: those the engine's
    ``hello`` lists, or REFINE_FALLBACK when it lists none (also for an empty or None hello)."""
    return list((hello or {}).get("refine_modes") or REFINE_FALLBACK)


def run_options(model=ENGINE_DEFAULT, refine=ENGINE_DEFAULT, **options):
    """The ``options`` of Client.remove for an editor's choices: ``options`` (foreground,
    threads...) with ``model`` and ``refine`` added, except a choice left to the engine
    (is_engine_default), which is left out."""
    chosen = dict(options)
    for key, choice in (("model", model), ("refine", refine)):
        if not is_engine_default(choice):
            chosen[key] = choice
    return chosen


def first_run_notice(model):
    """What a first run of ``model`` (an entry of Client.models()) will download, worded for the
    editor's dialog before it starts; None when the model is already downloaded."""
    missing = model.get("download_size", 0 if model.get("cached") else model.get("size", 0))
    if model.get("cached") or not missing:
        return None
    return ("%s (%s) is not downloaded yet: the first run downloads %s (licence %s) into the "
            "model cache, then runs. Cancel stops the download." % (
                model.get("name", model.get("id")), model.get("id"), megabytes(missing),
                model.get("licence", "not stated")))


def _takes_download(callback):
    """Whether a progress callback takes a third argument (the download), so a two-argument one,
    written before downloads were reported, keeps working. Python 2.7 and 3."""
    try:
        if hasattr(inspect, "signature"):
            inspect.signature(callback).bind(0.0, "download", None)
            return True
        spec = inspect.getargspec(callback)  # Python 2.7
    except (TypeError, ValueError):
        return False
    args = len(spec.args) - (1 if inspect.ismethod(callback) else 0)
    return spec.varargs is not None or args >= 3


class Client(object):
    """One worker, started on first use and restarted after any failure.

    ``shared=True`` (for hosts whose plug-in process lives for one call, like GIMP 3) talks to
    a worker that outlives this process, over a Unix socket in a private folder, so models
    stay loaded between calls; the first client starts it, later ones reuse it, and it exits
    after its idle timeout. Where Unix sockets are missing, a private worker is used instead.
    """

    def __init__(self, python=None, start_timeout=DEFAULT_START_TIMEOUT_S,
                 reply_timeout=DEFAULT_REPLY_TIMEOUT_S, worker_args=(), shared=False):
        self.python = python
        self.start_timeout = start_timeout
        self.reply_timeout = reply_timeout
        self.worker_args = list(worker_args)
        self.shared = bool(shared) and hasattr(socket, "AF_UNIX")
        self.process = None  # the private worker (pipes)
        self.sock = None  # the connection to a shared worker
        self.reader = None
        self.writer = None
        self.replies = None
        self.stderr_file = None
        self.log_path = None
        self.engine = None
        self.next_id = 0
        self.note = None  # why a shared worker was asked for but a private one is used
        self.connection = {}  # what the reader learnt about this connection: "closing" (why)
        self.reader_thread = None

    # --- lifecycle ---
    def _alive(self):
        if self.connection.get("closing"):
            return False  # the worker said it is closing this connection (idle timeout)
        if self.sock is not None:
            return True
        return self.process is not None and self.process.poll() is None

    def start(self):
        """Start (or reach) the worker and check it speaks our protocol; returns its hello reply."""
        if self._alive() and self.engine is not None:
            return self.engine
        self._discard()
        python = find_engine_python(self.python)
        try:
            try:
                hello = self._open(python)
            except CleancutError as err:
                # A shared worker killed a moment ago can still hold its listening socket while
                # the kernel tears it down: the connection is accepted, then broken. Once more.
                if not (self.shared and err.kind == "crashed"):
                    raise
                time.sleep(0.2)
                hello = self._open(python)
        except CleancutError as err:
            text = str(err)  # only cleancut itself missing, not one of its dependencies
            if err.kind == "crashed" and ("No module named cleancut" in text
                                          or "No module named 'cleancut'" in text):
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

    def _open(self, python):
        """Reach or spawn the worker, start reading its replies, and return its hello."""
        if self.shared:
            try:
                self._connect_shared(python)
            except _NoSharedFolder as err:
                self.shared = False  # for this client's life: the folder will not mend itself
                self.note = str(err)
                sys.stderr.write("cleancut: %s\n" % err)
        if not self.shared:
            self._spawn_private(python)
        self.replies = queue.Queue()
        self.connection = {}
        thread = threading.Thread(target=self._read_loop, args=(self.reader, self.replies, self.connection))
        thread.daemon = True
        thread.start()
        self.reader_thread = thread
        return self._request({"op": "hello", "protocol": PROTOCOL, "client": CLIENT_VERSION},
                             timeout=self.start_timeout)

    def _launch(self, argv, **streams):
        try:
            return subprocess.Popen(argv, bufsize=0, close_fds=True, **streams)
        except (OSError, ValueError) as err:
            self._discard()
            raise CleancutError(
                "The cleancut engine could not be started with %s (%s). Check the engine path "
                "(%s or `cleancut install <editor>`)." % (argv[0], err, ENV_PYTHON), "setup")

    def _spawn_private(self, python):
        self.stderr_file = tempfile.TemporaryFile()
        self.process = self._launch([python, "-m", "cleancut", "worker"] + self.worker_args,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=self.stderr_file)
        self.reader = self.process.stdout
        self.writer = self.process.stdin

    def _connect_shared(self, python):
        path = shared_socket_path(python)
        self.log_path = path[:-len(".sock")] + ".log"
        sock = _try_connect(path)
        if sock is None:
            log = open(self.log_path, "wb")
            try:
                with open(os.devnull, "rb") as devnull:
                    # A detached grandchild: it outlives this process and is never our zombie.
                    starter = self._launch(
                        [python, "-c", _DETACH, str(self.start_timeout), path,
                         python, "-m", "cleancut", "worker", "--listen", path] + self.worker_args,
                        stdin=devnull, stdout=log, stderr=log)
            finally:
                log.close()
            code = starter.wait()
            sock = _try_connect(path)
            if sock is None:
                raise self._crashed(code=code or None)
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.writer = _SocketWriter(sock)

    def close(self):
        """Release the worker: a private one is asked to stop; a shared one stays warm."""
        if self._alive() and not self.shared:
            try:
                self._send({"op": "shutdown"})
                _wait(self.process, 2.0)
            except CleancutError:
                pass
        self._discard()

    def shutdown(self):
        """Stop the worker, shared or not (e.g. to free its memory now); never starts one."""
        if self.shared and self.sock is None:
            try:
                runtime_dir()
            except CleancutError:  # no usable shared folder: no shared worker to stop
                return
        try:
            if not self._alive() and self.shared:
                if _try_connect_quietly(shared_socket_path(find_engine_python(self.python))):
                    self.start()
        except CleancutError:
            pass  # it went away while we looked: stopped is what was asked
        if self._alive():
            try:
                self._request({"op": "shutdown"}, timeout=5.0)
            except CleancutError:
                pass
        self._discard()

    def _discard(self, kill=False):
        """Forget the worker; ``kill`` also ends a shared one (after a timeout)."""
        if kill and self.sock is not None and self.engine and self.engine.get("pid"):
            try:
                os.kill(self.engine["pid"], 9)
            except OSError:
                pass
        # Stop the other end first: closing a stream that the reader thread is blocked on would hang.
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except (IOError, OSError):
                pass
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass
            process.wait()
        for stream in (self.reader, self.writer):
            try:
                if stream is not None:
                    stream.close()
            except (IOError, OSError):
                pass
        self.reader = self.writer = None
        if sock is not None:
            sock.close()
        if self.stderr_file is not None:
            self.stderr_file.close()
            self.stderr_file = None
        self.engine = None

    # --- framing ---
    @staticmethod
    def _read_loop(stream, replies, connection):
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
                if header.get("op") == "closing" and header.get("id") is None:
                    connection["closing"] = header.get("reason") or "closing"
                    continue
                replies.put((header, payload))
        except (IOError, OSError, ValueError, AttributeError):
            pass
        replies.put(None)

    def _send(self, header, payload=b""):
        if payload:
            header = dict(header, nbytes=len(payload))
        line = (json.dumps(header) + "\n").encode("utf-8")
        try:
            self.writer.write(line)
            if payload:
                self.writer.write(payload)
            self.writer.flush()
        except (IOError, OSError, AttributeError):
            raise self._crashed()

    def _idled_out(self, connection):
        """Whether this connection was closed by the worker's idle timeout (waits for its reader)."""
        thread = self.reader_thread
        if thread is not None and not connection.get("closing"):
            thread.join(1.0)
        return bool(connection.get("closing"))

    def _crashed(self, code=None, connection=None):
        if code is None and self.process is not None:
            code = _wait(self.process, 2.0)
        lines = []
        if self.stderr_file is not None:
            self.stderr_file.seek(0)
            lines = self.stderr_file.read().decode("utf-8", "replace").splitlines()
        elif self.log_path is not None:
            try:
                with open(self.log_path, "rb") as log:
                    lines = log.read()[-4000:].decode("utf-8", "replace").splitlines()
            except (IOError, OSError):
                pass
        tail = " | ".join([l for l in lines if l.strip()][-3:])
        self._discard()
        if connection is not None and connection.get("closing") == "idle":
            return CleancutError("The cleancut engine closed this connection after its idle timeout; "
                                 "it will be reopened on the next try.", "crashed")
        message = "The cleancut engine stopped unexpectedly"
        if code is not None:
            message += " (exit code %s)" % code
        if tail:
            message += ": %s" % tail[-600:]
        return CleancutError(message + ". It will be restarted on the next try.", "crashed")

    def _request(self, header, payload=b"", timeout=None, progress=None, cancelled=None, retry=True):
        """Send one request and wait for its final reply, forwarding progress, honouring cancel.

        A connection the worker closed for idleness (it says so first) is reopened and the
        request sent again, once: the worker never started on it.
        """
        if not self._alive() and header.get("op") != "hello":
            self.start()
        connection = self.connection
        self.next_id += 1
        request_id = self.next_id
        sent = dict(header, id=request_id)
        try:
            self._send(sent, payload)
        except CleancutError:
            if retry and header.get("op") != "hello" and self._idled_out(connection):
                return self._request(header, payload, timeout, progress, cancelled, retry=False)
            raise
        header = sent
        limit = self.reply_timeout if timeout is None else timeout
        deadline = time.time() + limit
        cancel_sent = False
        detailed = progress is not None and _takes_download(progress)
        while True:
            if cancelled is not None and not cancel_sent and cancelled():
                self._send({"op": "cancel", "target": request_id})
                cancel_sent = True
            try:
                item = self.replies.get(timeout=0.05)
            except queue.Empty:
                if time.time() > deadline:
                    self._discard(kill=True)
                    raise CleancutError(
                        "The cleancut engine did not answer within %d s; it was stopped and will be "
                        "restarted on the next try." % limit, "timeout")
                continue
            if item is None:
                if retry and header.get("op") != "hello" and connection.get("closing"):
                    self._discard()
                    return self._request(dict(header, id=None), payload, timeout, progress, cancelled,
                                         retry=False)
                raise self._crashed(connection=connection)
            reply, data = item
            if reply.get("id") != request_id:
                continue  # e.g. the acknowledgement of a cancel
            if reply.get("op") == "progress":
                deadline = time.time() + limit  # progress proves the engine is alive
                if progress is not None:
                    download = dict((k, reply[k]) for k in DOWNLOAD_FIELDS if k in reply) or None
                    if detailed:
                        progress(reply.get("fraction", 0.0), reply.get("stage", ""), download)
                    else:
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

    def model(self, model_id=None):
        """The models() entry of ``model_id`` (a model or preset), or of the engine's default
        model when it is None or ""; None when the engine does not list it."""
        models = self.models()
        wanted = model_id or next((m["id"] for m in models if m.get("default")), None)
        return next((m for m in models if m["id"] == wanted), None)

    def first_run_notice(self, model_id=None):
        """first_run_notice() for the model a run with ``model_id`` would use (None: nothing to
        download, or the engine does not know the model: its run will say so)."""
        entry = self.model(model_id)
        return first_run_notice(entry) if entry is not None else None

    def accept(self, model_id):
        """Record the user's acceptance of a model's licence, through the engine."""
        return self._request({"op": "accept", "model": model_id})

    def remove(self, pixels, width, height, channels="RGBA", pixel_format="u8", stride=None,
               options=None, hint=None, alpha_format="u8", progress=None, cancelled=None,
               stream=None, stream_reset=False, include=None, exclude=None):
        """The alpha (bytes, width×height in alpha_format) for one frame of pixels.

        ``pixels``: bytes in ``pixel_format`` (u8, u16 or f32), ``channels`` Y, YA, RGB or RGBA.
        ``hint``: optional width×height bytes, a trimap (0, 128, 255) or rough mask.
        ``progress(fraction, stage)`` is called as the engine works; a callback that takes a
        third argument gets, while a model downloads (stage "download"), a dict with its
        ``model`` id, ``done`` and ``total`` bytes and the model's ``size`` (None otherwise);
        progress_text() and progress_fraction() word it for a display. ``cancelled()`` is
        polled and, once it returns True, the run is cancelled (a download too) and
        CleancutError(kind="cancelled") is raised.
        ``stream``: a name shared by consecutive frames of one video, so the engine carries
        state between them (RVM's recurrent state; temporal smoothing for other models);
        ``stream_reset=True`` on a stream's first frame.
        ``include`` / ``exclude``: points (x, y) in the frame's pixels, from its top-left corner:
        the subject is there / that is not the subject (at most 64 together; see clicks_header).
        """
        header = {"op": "remove", "width": width, "height": height, "channels": channels,
                  "format": pixel_format, "options": options or {}, "alpha_format": alpha_format}
        if stride is not None:
            header["stride"] = stride
        if stream is not None:
            header["stream"] = stream
            header["stream_reset"] = bool(stream_reset)
        header.update(clicks_header(include, exclude))
        payload = bytes(pixels)
        if hint is not None:
            hint = bytes(hint)
            if len(hint) != width * height:
                raise CleancutError("the selection hint must be %d×%d bytes" % (width, height), "protocol")
            header["hint_nbytes"] = len(hint)
            payload += hint
        if not self._alive():
            self.start()
        reply = self._request(header, payload, progress=progress, cancelled=cancelled)
        return reply["payload"][:reply["alpha_nbytes"]]


MAX_CLICKS = 64  # include and exclude points together: the engine's limit (cleancut.prompts.MAX_CLICKS)


def clicks_header(include=None, exclude=None):
    """The remove request's fields for include / exclude points: {"include": [[x, y], ...]};
    numbers of pixels (an editor's path anchors or sample points may fall between pixels).
    CleancutError("protocol") for anything that is not a pair of finite numbers, or for more
    than MAX_CLICKS points together."""
    if len(include or ()) + len(exclude or ()) > MAX_CLICKS:
        raise CleancutError("at most %d include and exclude points together, not %d"
                            % (MAX_CLICKS, len(include or ()) + len(exclude or ())), "protocol")
    fields = {}
    for name, points in (("include", include), ("exclude", exclude)):
        if not points:
            continue
        pairs = []
        for point in points:
            try:
                x, y = point
                x, y = float(x), float(y)
            except (TypeError, ValueError):
                raise CleancutError("a %s point must be two numbers (x, y), not %r" % (name, point), "protocol")
            if x != x or y != y or x in (float("inf"), float("-inf")) or y in (float("inf"), float("-inf")):
                raise CleancutError("a %s point must be two finite numbers, not %r" % (name, point), "protocol")
            pairs.append([x, y])
        fields[name] = pairs
    return fields


class _NoSharedFolder(CleancutError):
    """No folder private to this user can hold the shared worker's socket: use a private worker."""

    def __init__(self, message):
        CleancutError.__init__(self, message, "setup")


def runtime_dir():
    """A folder private to this user for the shared worker's socket (0700, checked).

    The checks look at the folder itself, never through a link (lstat): a link, a file, or a
    folder someone else owns (pre-created in a shared /tmp) cannot be made ours, so they raise
    _NoSharedFolder and the client runs a private worker instead. A folder of ours that others
    may enter is a setup error: its owner can fix it (chmod 700).
    """
    base = os.environ.get("CLEANCUT_RUNTIME_DIR") or os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = os.path.join(base, "cleancut-%d" % uid)
    try:
        os.mkdir(folder, 0o700)
    except (IOError, OSError) as err:
        if getattr(err, "errno", None) != 17:  # EEXIST: checked below
            raise _NoSharedFolder("No shared cleancut worker: its folder %s cannot be created (%s); "
                                  "a private worker is used instead (set CLEANCUT_RUNTIME_DIR to a folder "
                                  "of yours to share one)." % (folder, getattr(err, "strerror", None) or err))
    try:
        info = os.lstat(folder)
    except (IOError, OSError) as err:
        raise _NoSharedFolder("No shared cleancut worker: %s cannot be checked (%s); a private worker is "
                              "used instead." % (folder, getattr(err, "strerror", None) or err))
    if not stat.S_ISDIR(info.st_mode):
        what = "a link" if stat.S_ISLNK(info.st_mode) else "not a folder"
        raise _NoSharedFolder("No shared cleancut worker: %s is %s, so it is not used; a private worker "
                              "is used instead (remove it, or set CLEANCUT_RUNTIME_DIR to a folder of "
                              "yours)." % (folder, what))
    if hasattr(os, "getuid") and info.st_uid != uid:
        raise _NoSharedFolder("No shared cleancut worker: %s belongs to another user (uid %d), so it is "
                              "not used; a private worker is used instead (ask your administrator to "
                              "remove it, or set CLEANCUT_RUNTIME_DIR to a folder of yours)."
                              % (folder, info.st_uid))
    if hasattr(os, "getuid") and info.st_mode & 0o077:
        raise CleancutError("The folder %s must belong to you alone (mode 0700) before a shared "
                            "cleancut worker can use it: run `chmod 700 %s`." % (folder, folder), "setup")
    return folder


def shared_socket_path(python):
    """One shared worker per engine interpreter and cleancut environment settings."""
    key = "\0".join([python] + ["%s=%s" % (k, v) for k, v in sorted(os.environ.items())
                                 if k.startswith("CLEANCUT_") or k == "PYTHONPATH"])
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    path = os.path.join(runtime_dir(), "worker-%s.sock" % digest)
    encoded = path.encode("utf-8") if not isinstance(path, bytes) else path
    if len(encoded) >= _SOCKET_PATH_MAX:
        raise _NoSharedFolder("No shared cleancut worker: its socket path %s is %d bytes, longer than "
                              "Unix sockets allow (%d); a private worker is used instead (set "
                              "CLEANCUT_RUNTIME_DIR to a shorter folder of yours to share one)."
                              % (path, len(encoded), _SOCKET_PATH_MAX - 1))
    return path


# The size of sockaddr_un.sun_path, its closing NUL included: 104 bytes on macOS and the BSDs,
# 108 on Linux. A longer path cannot be bound or connected to.
_SOCKET_PATH_MAX = 108 if sys.platform.startswith("linux") else 104


# Run by the engine's Python: start the listening worker in its own session, then wait until
# it answers on its socket (exit 0) or died (exit with its code), so errors surface at once.
# (A probe connection, not the file's existence: a dead worker's socket file may linger.)
_DETACH = (
    "import socket, subprocess, sys, time\n"
    "timeout, path, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3:]\n"
    "worker = subprocess.Popen(argv, start_new_session=True)\n"
    "deadline = time.time() + timeout\n"
    "while time.time() < deadline:\n"
    "    probe = socket.socket(socket.AF_UNIX)\n"
    "    try:\n"
    "        probe.connect(path)\n"
    "        sys.exit(0)\n"
    "    except OSError:\n"
    "        pass\n"
    "    finally:\n"
    "        probe.close()\n"
    "    if worker.poll() is not None:\n"
    "        sys.exit(worker.returncode or 3)\n"
    "    time.sleep(0.02)\n"
)


def _try_connect(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        return sock
    except (IOError, OSError):
        sock.close()
        return None


def _try_connect_quietly(path):
    """Whether a worker answers on this socket (the probe connection is closed at once)."""
    sock = _try_connect(path)
    if sock is None:
        return False
    sock.close()
    return True


class _SocketWriter(object):
    """write/flush/close over a socket, for the same framing code as a pipe."""

    def __init__(self, sock):
        self.sock = sock

    def write(self, data):
        self.sock.sendall(data)

    def flush(self):
        pass

    def close(self):
        pass


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
