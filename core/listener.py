"""`cleancut worker --listen SOCKET`: the worker on a Unix socket, outliving its callers.

For hosts whose plug-in process lives for one call only (GIMP 3): the socket keeps the models
warm between their calls. Each connection is one ``worker.Worker`` on its own thread; removals
run one at a time (worker.ENGINE_LOCK). Only a dead worker's socket is replaced, never a file,
and a second worker on a live socket leaves at once, so racing clients end up sharing one.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import threading
import time

from .framing import DEFAULT_STALL_TIMEOUT_S, ByteStream, Channel
from .worker import DEFAULT_IDLE_TIMEOUT_S, Worker


def listen(path: str, idle_timeout: float = DEFAULT_IDLE_TIMEOUT_S,
           stall_timeout: float = DEFAULT_STALL_TIMEOUT_S) -> int:
    """Serve editors on a Unix socket, keeping models warm between their connections.

    For hosts whose plug-in process lives for one call only (GIMP 3): the worker outlives
    it. Each connection is served by its own thread; removals run one at a time (ENGINE_LOCK).
    The socket's folder must be private to the user (the client makes it 0700). Exits after
    ``idle_timeout`` seconds with no connection, or on a shutdown request; a second worker on
    a live socket exits at once, so racing clients end up sharing one.
    """
    if not hasattr(socket, "AF_UNIX"):
        print("cleancut: this platform has no Unix sockets; use the plain worker", file=sys.stderr)
        return 2
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(path)
    except OSError as first:
        if _socket_alive(path):
            return 0  # another worker already serves here
        try:
            kind = stat.S_IFMT(os.lstat(path).st_mode)
        except OSError:
            kind = None
        if kind != stat.S_IFSOCK:  # only a dead worker's socket is ours to replace, never a file
            what = "nothing usable" if kind is None else "a file that is not a socket"
            print(f"cleancut: cannot listen on {path}: {first.strerror or first} ({what} is there; "
                  "it was left alone)", file=sys.stderr)
            server.close()
            return 1
        try:
            os.unlink(path)  # stale: its worker died
            server.bind(path)
        except OSError as err:
            print(f"cleancut: cannot listen on {path}: {err}", file=sys.stderr)
            server.close()
            return 1
    os.chmod(path, 0o600)
    ours = os.stat(path).st_ino
    server.listen(8)
    server.settimeout(min(idle_timeout, 1.0))
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    state = {"active": 0, "last": time.monotonic(), "stop": False}
    lock = threading.Lock()

    def forget_socket() -> None:
        try:
            if os.stat(path).st_ino == ours:  # not a successor's socket
                os.unlink(path)
        except OSError:
            pass

    def serve(conn: socket.socket) -> None:
        ended = "closed"
        try:
            with conn, conn.makefile("wb", buffering=1 << 16) as writer:
                channel = Channel(ByteStream(conn.recv), writer, stall_timeout=stall_timeout)
                ended = Worker(channel, idle_timeout).serve()
        except OSError:  # the client went away while we wrote
            pass
        except Exception as err:  # a bug: this connection ends, the worker carries on
            print(f"cleancut worker: connection failed: {type(err).__name__}: {err}", file=sys.stderr)
        finally:
            with lock:
                state["active"] -= 1
                state["last"] = time.monotonic()
                if ended == "shutdown" and not state["stop"]:
                    state["stop"] = True
                    forget_socket()  # refuse newcomers at once

    try:
        while True:
            with lock:
                if state["stop"]:
                    return 0
                if state["active"] == 0 and time.monotonic() - state["last"] > idle_timeout:
                    return 0
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            with lock:
                if state["stop"]:
                    conn.close()
                    return 0
            conn.settimeout(None)
            with lock:
                state["active"] += 1
            threading.Thread(target=serve, args=(conn,), name="cleancut-connection", daemon=True).start()
    finally:
        server.close()
        forget_socket()


def _socket_alive(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()
