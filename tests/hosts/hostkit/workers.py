"""Ending the shared cleancut workers an editor's plug-in started (they outlive the editor)."""

from __future__ import annotations

import socket
from pathlib import Path

SHUTDOWN = b'{"op": "shutdown", "id": 1}\n'


def shutdown_workers(runtime: str | Path) -> None:
    """Ask every shared worker of this CLEANCUT_RUNTIME_DIR to exit (they may be gone already);
    each has its socket in the client's cleancut-UID folder there."""
    for path in Path(runtime).glob("cleancut-*/*.sock"):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(5)
        try:
            probe.connect(str(path))
            probe.sendall(SHUTDOWN)
            probe.recv(4096)
        except OSError:
            pass
        finally:
            probe.close()
