"""Processes started by the host tests and tools: each in a process group of its own, bounded by
a timeout and ended whole, so a hung editor never leaves an X server or a worker behind.

The editors' shared workers are detached on purpose and outlive the call that started them. On
a desktop, systemd --user adopts them; this sandbox's PID 1 instead terminates orphans some
seconds after they lose their parent (measured: 15-50 s), which would kill a warm worker between
calls. So whatever runs editors becomes a child subreaper (Linux's PR_SET_CHILD_SUBREAPER) and,
being their adopter, ends them itself.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
_PRCTL = f"ctypes.CDLL(None).prctl({PR_SET_CHILD_SUBREAPER}, 1, 0, 0, 0)"
# python -c code that becomes a subreaper, then runs argv as its child (and exits with its status)
_RUN_AS_SUBREAPER = f"import ctypes, subprocess, sys; {_PRCTL}; sys.exit(subprocess.call(sys.argv[1:]))"
# ... or becomes argv itself (execv keeps the subreaper setting)
_EXEC_AS_SUBREAPER = f"import ctypes, os, sys; {_PRCTL}; os.execv(sys.argv[1], sys.argv[1:])"


def become_subreaper() -> None:
    """Adopt this process's orphaned descendants, as a desktop session's systemd --user does."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def subreaper_command(argv: list[str], python: str = sys.executable, replace: bool = False) -> list[str]:
    """argv run by ``python`` (which may be a chroot's) as a child subreaper: the subreaper runs
    argv as its child, or with ``replace`` becomes argv (which must then be a full path)."""
    return [python, "-c", _EXEC_AS_SUBREAPER if replace else _RUN_AS_SUBREAPER, *argv]


def run_group(argv: list[str], timeout: float, env: dict[str, str] | None = None,
              cwd: str | Path | None = None, merge: bool = False) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output=True, text=True) in a new process group that is killed whole
    when the command ends or times out (then TimeoutExpired is raised as by subprocess.run).
    ``merge``: stderr goes into stdout (stderr is then "")."""
    stderr = subprocess.STDOUT if merge else subprocess.PIPE
    with subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE, stderr=stderr,
                          text=True, env=env, cwd=cwd) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, output=out, stderr=err) from None
        finally:
            kill_group(proc.pid)  # what it left running: an X server, a stray child
    return subprocess.CompletedProcess(argv, proc.returncode, out, err or "")


def kill_group(pgid: int) -> None:
    """SIGKILL every process of the group (none left is fine)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def end_group(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """End a process started with start_new_session and its whole group: SIGTERM first, so a
    server can remove its sockets and lock files, SIGKILL for what is left after ``grace`` s."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    kill_group(proc.pid)
    proc.wait()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (its children, theirs, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found = list(children.get(pid, []))
    index = 0
    while index < len(found):
        found += children.get(found[index], [])
        index += 1
    return found


def signal_all(pids: Iterable[int], sig: int) -> None:
    """Send ``sig`` to each process that is still there."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def end_descendants(grace: float = 3.0) -> None:
    """End every process this one started that is still there, adopted ones included (a
    subreaper's orphans): SIGTERM, ``grace`` s, SIGKILL; then collect them."""
    pids = descendants(os.getpid())
    signal_all(pids, signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline and any(running(pid) for pid in pids):
        _collect()
        time.sleep(0.1)
    signal_all(descendants(os.getpid()), signal.SIGKILL)
    time.sleep(0.2)
    _collect()


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait for a reaper that never comes)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _collect() -> None:
    """Wait for adopted children that have ended (as their subreaper, no one else will)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def tail(text: str, lines: int = 40) -> str:
    """The last lines of an editor's output, without the Python SyntaxWarnings of its own
    scripts that would crowd out what went wrong."""
    keep = [line for line in text.splitlines() if "SyntaxWarning" not in line and "\\{" not in line]
    return "\n".join(keep[-lines:])
