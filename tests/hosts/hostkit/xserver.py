"""A private X server (Xvfb) for an editor's GUI, one per run, that editors in a chroot reach too.

An editor in a chroot cannot see this machine's /tmp, so it reaches the server through its
abstract socket ``@/tmp/.X11-unix/XN``, which every chroot shares. An X server started inside a
chroot (xvfb-run's, say) has its lock file in that chroot's /tmp only, so Xvfb's own choice of a
free display can pick a number whose abstract socket another server holds, and the editor would
then knock on that server's door (and be refused). So the number is chosen here, free of lock
files in every root and of abstract sockets, and the server is used only once the abstract
socket is seen to be its own.
"""

from __future__ import annotations

import os
import random
import select
import subprocess
import time
from pathlib import Path
from types import TracebackType

from .chroots import CHROOTS
from .processes import end_group


class XServerError(RuntimeError):
    """No X server could be started."""


class XServer:
    """An Xvfb of this run's own, in a process group of its own that is ended on exit.

    ``with XServer(log) as server:`` gives ``server.display`` (":N") once the server is ready.
    ``-listen local`` adds the abstract socket editors in a chroot connect to; ``-noreset``, as
    editors (Krita) probe OpenGL with short connections first, and a server that resets when its
    last client leaves refuses the connection that arrives during the reset; ``-ac``, as clients
    from a chroot have no cookie (the server listens on no network).
    """

    ATTEMPTS = 8

    def __init__(self, log: Path | None = None, size: tuple[int, int] = (1280, 1024), timeout: float = 30):
        self.log = log
        self.size = size
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.display: str | None = None

    def __enter__(self) -> XServer:
        for _ in range(self.ATTEMPTS):
            number = free_display()
            if self._start(number):
                self.display = f":{number}"
                return self
            self._stop()  # lost a race for that number: another one
        raise XServerError(f"Xvfb did not start in {self.ATTEMPTS} attempts"
                           + (f"; see {self.log}" if self.log else ""))

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop()

    def _start(self, number: int) -> bool:
        read, write = os.pipe()
        try:
            with open(self.log or os.devnull, "ab") as log:
                self.process = subprocess.Popen(
                    ["Xvfb", f":{number}", "-displayfd", str(write), "-screen", "0", "%dx%dx24" % self.size,
                     "-ac", "-nolisten", "tcp", "-listen", "local", "-listen", "unix", "-noreset"],
                    pass_fds=(write,), start_new_session=True, stdout=log, stderr=log)
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        try:
            ready = _read_line(read, self.timeout) == str(number)
        except BaseException:
            self._stop()
            raise
        finally:
            os.close(read)
        return ready and abstract_socket_owner(number) == self.process.pid

    def _stop(self) -> None:
        """SIGTERM first (Xvfb then removes its socket and lock file), SIGKILL for the group."""
        if self.process is not None:
            end_group(self.process)
            self.process = None


def x_server_left(display: str) -> bool:
    """Whether anything still holds this display: its abstract socket or its lock file."""
    number = int(display.lstrip(":"))
    return number in abstract_x_sockets() or Path(f"/tmp/.X{number}-lock").exists()


def abstract_x_sockets() -> dict[int, int]:
    """Display number -> socket inode of every listening abstract X socket on this machine."""
    found = {}
    with open("/proc/net/unix") as table:
        next(table)
        for line in table:
            fields = line.split()
            if len(fields) >= 8 and fields[7].startswith("@/tmp/.X11-unix/X") and fields[7][17:].isdigit():
                found[int(fields[7][17:])] = int(fields[6])
    return found


def abstract_socket_owner(number: int) -> int | None:
    """The pid of the process holding display ``number``'s abstract socket, if any."""
    inode = abstract_x_sockets().get(number)  # machine-wide: chroots share the table
    if inode is None:
        return None
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return int(pid)
    return None


def free_display() -> int:
    """A display number with no lock file in this machine's or a chroot's /tmp and no abstract
    socket, from a random start well above xvfb-run's 99; runs side by side rarely collide, and
    a collision is seen: the socket is checked to be this server's."""
    roots = [Path("/")] + [chroot.root for chroot in CHROOTS.values()]
    taken = set(abstract_x_sockets())
    start = random.randrange(1000, 1900)
    for number in range(start, start + 1000):
        if number not in taken and not any((root / "tmp" / f".X{number}-lock").exists() for root in roots):
            return number
    raise XServerError("no free X display number")


def _read_line(fd: int, timeout: float) -> str:
    """The first line written to fd within timeout seconds ("" when none came)."""
    data = b""
    end = time.time() + timeout
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not ready:
            return ""
        chunk = os.read(fd, 64)
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()
