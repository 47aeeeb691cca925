"""The Debian chroots tests/hosts/setup.sh makes, and running a command inside one.

Editors in a chroot run with the repository and a scratch folder bound in at the same paths
they have outside (tests/hosts/chroot.sh), so no path needs translating.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .needs import missing, require
from .paths import CHROOT_SH
from .processes import run_group


@dataclass(frozen=True)
class Chroot:
    """A Debian chroot made by setup.sh: where it is and where its engine wheels are."""

    name: str  # the Debian suite
    root: Path
    site: str  # the engine's binary wheels for the chroot's Python, a path inside the chroot
    python: str

    def pythonpath(self, engine: Path) -> str:
        """PYTHONPATH inside the chroot for the engine folder beside the chroot's binary wheels."""
        return f"{engine}:{self.site}"

    def markers(self) -> list[tuple[Path, str]]:
        """The files setup.sh leaves once this chroot and its Python wheels are ready."""
        return [(self.root / ".cleancut-ready", f"the Debian {self.name} chroot"),
                (self.root / self.site.lstrip("/") / ".ready", f"the {self.name} chroot's Python {self.python} wheels")]

    def problem(self) -> str | None:
        """What is not installed yet, said with its remedy; None when the chroot is ready."""
        return next((message for message in (missing(path, what) for path, what in self.markers()) if message), None)

    def require(self) -> None:
        """Fail the test unless the chroot and its wheels are installed."""
        for path, what in self.markers():
            require(path, what)


TRIXIE_CHROOT = Chroot("trixie", Path(os.environ.get("TRIXIE", "/var/cache/cleancut-trixie")), "/opt/site313", "3.13")
SID_CHROOT = Chroot("sid", Path(os.environ.get("SID", "/var/cache/cleancut-sid")), "/opt/site314", "3.14")
# sid with experimental's Krita 6 (it replaces sid's Krita 5.3, so it has a chroot of its own)
KRITA6_CHROOT = Chroot("sid+experimental", Path(os.environ.get("KRITA6", "/var/cache/cleancut-krita6")),
                       "/opt/site314", "3.14")
CHROOTS = {c.name: c for c in (TRIXIE_CHROOT, SID_CHROOT, KRITA6_CHROOT)}


def chroot_command(chroot: Chroot, scratch: Path, argv: list[str],
                   env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that run argv inside the chroot with only ``env`` (chroot.sh binds the
    repository and ``scratch`` in, and makes HOME scratch/home unless ``env`` says otherwise)."""
    pairs = [f"{k}={v}" for k, v in env.items()]
    return [str(CHROOT_SH), "run", str(scratch), "env", *pairs, *argv], dict(os.environ, CHROOT=str(chroot.root))


def in_chroot(chroot: Chroot, scratch: Path, argv: list[str], env: dict[str, str],
              timeout: float = 300) -> subprocess.CompletedProcess:
    """Run argv inside the chroot as run_group does: bounded, its process group killed at the end."""
    command, outer = chroot_command(chroot, scratch, argv, env)
    return run_group(command, timeout, env=outer)
