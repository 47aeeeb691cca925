"""The editor versions the host tests run, and where each lives.

The editors live in these places (tests/hosts/setup.sh makes them): Debian 12 itself, a Debian 13
"trixie" chroot, a Debian sid chroot (GIMP 3.2, Krita 5.3, Blender 5.2) and a second sid chroot
with experimental's Krita 6.0, plus Blender 4.5 and 5.0 as PyPI `bpy` wheels run by this venv's
Python and Blender 5.1 and 5.3 as `bpy` wheels (cp313 only) run by the trixie chroot's Python
3.13. KRITAS and BLENDERS below are the one list of editor versions the host tests run: adding a
version is a line there (and, for a new place, its install in setup.sh).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .chroots import KRITA6_CHROOT, SID_CHROOT, TRIXIE_CHROOT, Chroot
from .needs import require

BPY = Path(os.environ.get("BPY", "/var/cache/cleancut-bpy"))
BPY_WHEELS = {"4.5": "4.5.15", "5.0": "5.0.1"}  # Blender version -> the PyPI bpy wheel (setup.sh reads this)
# Blender 5.1+ wheels are cp313 only: setup.sh installs them into the trixie chroot (BPY313_DIR),
# whose python3.13 runs them
BPY313_WHEELS = {"5.1": "5.1.2", "5.3": "5.3.0"}
BPY313_DIR = "/opt/bpy"  # inside the trixie chroot

# Krita version -> its chroot (None: Debian 12's own Krita 5.1.5)
KRITAS: dict[str, Chroot | None] = {"5.1": None, "5.2": TRIXIE_CHROOT, "5.3": SID_CHROOT, "6.0": KRITA6_CHROOT}
# Blender versions with an executable: 3.4.1 is Debian 12's own, these live in a chroot
BLENDER_CHROOTS: dict[str, Chroot] = {"4.3": TRIXIE_CHROOT, "5.2": SID_CHROOT}
BPY313_CHROOT = TRIXIE_CHROOT  # its python3.13 runs the BPY313_WHEELS
BLENDERS = sorted(["3.4", *BLENDER_CHROOTS, *BPY_WHEELS, *BPY313_WHEELS], key=lambda v: tuple(map(int, v.split("."))))


@dataclass(frozen=True)
class BpyWheel:
    """Blender ``version`` (major.minor) as a PyPI `bpy` wheel, and the Python that imports it:
    this venv's (``chroot`` None) or the chroot's python3.13 (for the cp313-only 5.1+ wheels)."""

    version: str
    chroot: Chroot | None
    site: str  # the wheel's folder, as that Python sees it
    python: str  # that Python, as the chroot sees it

    def require(self) -> None:
        where = Path(self.site) if self.chroot is None else self.chroot.root / self.site.lstrip("/")
        require(where / ".ready", f"Blender {self.version} (the bpy wheel)")


def bpy_wheel(version: str) -> BpyWheel:
    """Where Blender ``version``'s bpy wheel is and which Python runs it (checked installed)."""
    if version in BPY313_WHEELS:
        wheel = BpyWheel(version, BPY313_CHROOT, f"{BPY313_DIR}/{BPY313_WHEELS[version]}", "/usr/bin/python3.13")
    else:
        wheel = BpyWheel(version, None, str(BPY / BPY_WHEELS[version]), sys.executable)
    if wheel.chroot is not None:
        wheel.chroot.require()
    wheel.require()
    return wheel
