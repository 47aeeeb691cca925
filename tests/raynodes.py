"""Ray nodes on this machine for tests and benchmarks: `ray start --block` as a child
subreaper, so every process Ray starts for a node stays its descendant and can be stopped
exactly (never `ray stop`, which stops every Ray of the user on the machine).

Ray rewrites 127.0.0.1 to the machine's outward address; give nodes other loopback addresses
(127.0.0.2, 127.0.0.3, ...) to keep all their traffic on the `lo` interface.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")
# Become a child subreaper, then be `ray start --block`: Ray's daemons stay our descendants.
LAUNCH = "import ctypes, os, sys; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); os.execv(sys.argv[1], sys.argv[1:])"


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, index = [pid], 0
    while index < len(found):
        found += children.get(found[index], [])
        index += 1
    return found


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_tree(pid: int) -> None:
    for member in descendants(pid):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Node:
    """One `ray start --block` and everything it starts; ``args`` are more `ray start` options."""

    def __init__(self, ip: str, args: list[str], env: dict[str, str], temp_dir: str, timeout: float = 120) -> None:
        self.ip = ip
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(RAY), "start", "--block", f"--node-ip-address={ip}",
             f"--temp-dir={temp_dir}", "--object-store-memory=100000000", "--disable-usage-stats",
             f"--dashboard-agent-listen-port={free_port()}", *args],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        started = threading.Event()
        threading.Thread(target=self._read, args=(started,), daemon=True).start()  # a full pipe would stall it
        if not started.wait(timeout):
            self.stop()
            raise RuntimeError(f"ray start did not start a node within {timeout:g} s:\n" + "".join(self.output[-20:]))

    def _read(self, started: threading.Event) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if "Ray runtime started" in line:  # printed once the node has joined
                started.set()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        kill_tree(self.process.pid)
        self.process.wait(timeout=30)

    def actor_pids(self) -> list[int]:
        return [pid for pid in descendants(self.process.pid) if command_line(pid).startswith("ray::Remover")]
