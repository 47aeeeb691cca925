"""Ray nodes on this machine for tests and benchmarks: `ray start --block` as a child
subreaper, so every process Ray starts for a node stays its descendant and can be stopped
exactly (never `ray stop`, which stops every Ray of the user on the machine).

Ray rewrites 127.0.0.1 to the machine's outward address; give nodes other loopback addresses
(127.0.0.2, 127.0.0.3, ...) to keep all their traffic on the `lo` interface.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from hostkit import descendants, signal_all, subreaper_command

RAY = Path(sys.executable).with_name("ray")


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and every process below it."""
    signal_all([pid, *descendants(pid)], signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Node:
    """One `ray start --block` and everything it starts; ``args`` are more `ray start` options."""

    def __init__(self, ip: str, args: list[str], env: dict[str, str], temp_dir: str, timeout: float = 120) -> None:
        self.ip = ip
        # `ray start --block` as a child subreaper: Ray's daemons stay our descendants
        self.process = subprocess.Popen(
            subreaper_command([str(RAY), "start", "--block", f"--node-ip-address={ip}", f"--temp-dir={temp_dir}",
                               "--object-store-memory=100000000", "--disable-usage-stats",
                               f"--dashboard-agent-listen-port={free_port()}", *args], replace=True),
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
