"""GIMP: the GIMP 3 plug-in (3.0, 3.2) and the GIMP 2.10 gimpfu plug-in.

GIMP looks for plug-ins in `plug-ins/` of its user folder, one sub-folder per plug-in whose
entry point has the folder's name and must be executable (GIMP silently skips it otherwise).
It needs nothing switched on. Each minor release has its own user folder: GIMP 3.2 reads
~/.config/GIMP/3.2, not 3.0's (checked with the real GIMP 3.2.6), and on its first start copies
3.0's folder, plug-ins included, into it; so a GIMP 3.0 install does not reach 3.2 until 3.2 has
migrated, and then as a copy that `cleancut doctor` points out.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CleancutError
from .base import Bundle, Editor, Place, Target, Where, existing, shown

GIMP3 = Bundle(
    "gimp3", "GIMP", "gimp/cleancut", (("", "cleancut/"),),
    client="cleancut/cleancut_client.py", executable=("cleancut/cleancut.py",))
GIMP2 = Bundle(
    "gimp2", "GIMP", "gimp/gimp2", (("cleancut_gimp2.py", "cleancut_gimp2/cleancut_gimp2.py"),),
    client="cleancut_gimp2/cleancut_client.py", executable=("cleancut_gimp2/cleancut_gimp2.py",))

# release (what --host-version takes) -> the user folder it reads; newest first. A new GIMP
# release is a line here (and in BUNDLE_FOR).
FOLDERS = {"3.2": "3.2", "3.0": "3.0", "2.10": "2.10"}
BUNDLE_FOR = {"3.2": GIMP3, "3.0": GIMP3, "2.10": GIMP2}  # user folder -> the plug-in it gets


def places(where: Where, folders: tuple[str, ...] = tuple(FOLDERS.values())) -> list[Place]:
    """GIMP's user folders for these folder versions: native, then Flatpak and Snap on Linux."""
    out = []
    for folder in folders:
        if where.windows:
            roots = [("native", where.appdata() / "GIMP" / folder)]
        elif where.macos:
            roots = [("native", where.application_support() / "GIMP" / folder)]
        else:
            home = where.home_dir()
            roots = [("native", where.xdg_config() / "GIMP" / folder),
                     ("flatpak", home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP" / folder),
                     ("snap", home / "snap" / "gimp" / "current" / ".config" / "GIMP" / folder)]
        out += [Place("gimp", folder, flavour, root, root / "plug-ins") for flavour, root in roots]
    return out


def find(where: Where, version: str | None, exe: str | None = None) -> list[Target]:
    """Every GIMP user folder found, or the one for --host-version (made when absent)."""
    if version is not None and version not in FOLDERS:  # exactly as written: no "03.0", no "٣.٠"
        raise CleancutError(f"GIMP {shown(version)} is not supported: --host-version takes "
                            f"{', '.join(FOLDERS)}")
    folders = (FOLDERS[version],) if version else tuple(dict.fromkeys(FOLDERS.values()))
    candidates = places(where, folders)
    found = existing(candidates)
    if not found and version:
        found = [p for p in candidates if p.flavour == "native"]  # asked for: create it
    if not found:
        raise CleancutError(
            "no GIMP 3.x or 2.10 settings folder found (looked in "
            f"{', '.join(str(p.config) for p in candidates)}): start GIMP once, "
            "or pass --host-version 3.2 (or 3.0, 2.10)")
    return [Target(BUNDLE_FOR[p.version], p, Path(p.plugins)) for p in found]


def hints(target: Target) -> list[str]:
    if target.bundle is GIMP2:
        return ["Restart GIMP 2.10 (it needs Python-Fu): Layer > Mask > Remove Background…"]
    return [f"Restart GIMP {target.place.version}: Layer > Mask > Remove Background… and Select > Subject…"]


EDITOR = Editor("gimp", "GIMP", (GIMP3, GIMP2), "3.2, 3.0 and 2.10", find, hints=hints, root_names=("plug-ins",))
