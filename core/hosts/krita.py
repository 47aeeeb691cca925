"""Krita 5.1 to 6.x: one resource folder for every version, and kritarc to switch the plug-in on.

Krita keeps Python plug-ins in `pykrita/` and menu actions in `actions/` of its resource folder,
Qt's application-data folder for the application name "krita" (no organisation name is set, in
Krita 5 and in Krita 6's Qt 6 KisApplication alike), so 5.x and 6.x share it. A plug-in runs
only when `[python]` `enable_NAME=true` is in kritarc, which lives in Qt's configuration folder.
kritarc is a KConfig file: it is edited line by line, so Krita's own syntax stays as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .base import Bundle, Editor, Place, Target, Where, check_version, existing, write_atomic

PLUGIN = "cleancut_krita"
KEY = f"enable_{PLUGIN}"

# The zip has the same layout, which Krita's "Import Python Plugin from File…" also accepts.
KRITA = Bundle(
    "krita", "Krita", "krita",
    (("cleancut_krita.desktop", "pykrita/cleancut_krita.desktop"),
     ("cleancut_krita/", "pykrita/cleancut_krita/"),
     ("cleancut_krita.action", "actions/cleancut_krita.action")),
    client="pykrita/cleancut_krita/cleancut_client.py", shared=("pykrita", "actions"))


def places(where: Where) -> list[Place]:
    """Krita's resource folder: native, and Flatpak's on Linux."""
    if where.windows:
        roots = [("native", where.appdata() / "krita")]
    elif where.macos:
        roots = [("native", where.application_support() / "krita")]
    else:
        roots = [("native", where.xdg_data() / "krita"),
                 ("flatpak", where.home_dir() / ".var" / "app" / "org.kde.krita" / "data" / "krita")]
    return [Place("krita", "", flavour, root, root) for flavour, root in roots]


def kritarc_path(place: Place, where: Where):  # -> PurePath of the platform's kind
    """The kritarc that enables plug-ins for a resource folder found by places()."""
    if where.windows:
        return where.local_appdata() / "kritarc"
    if where.macos:
        return where.home_dir() / "Library" / "Preferences" / "kritarc"
    if place.flavour == "flatpak":
        return where.home_dir() / ".var" / "app" / "org.kde.krita" / "config" / "kritarc"
    return where.xdg_config() / "kritarc"


def find(where: Where, version: str | None, exe: str | None = None) -> list[Target]:
    """The resource folders found (or the native one, made when absent)."""
    if version is not None:
        check_version("Krita", version, lambda v: (5, 1) <= v < (7, 0), "5.1 to 6.x as major.minor (like 5.2 or 6.0)")
    candidates = places(where)
    found = existing(candidates) or [p for p in candidates if p.flavour == "native"]
    return [Target(KRITA, p, Path(p.plugins), switch={"kritarc": str(kritarc_path(p, where))})
            for p in found]


def switch_plan(target: Target) -> list[str]:
    assert target.switch
    return [f"{target.switch['kritarc']}: [python] {KEY}=true"]


def switch_on(target: Target) -> dict[str, Any]:
    assert target.switch
    path = Path(target.switch["kritarc"])
    undo = {"path": str(path), "created": not path.exists(), "previous": kritarc_get(path, KEY)}
    kritarc_set(path, KEY, "true")
    return undo


def switch_off(data: dict[str, Any], say: Callable[[str], None]) -> None:
    path = Path(data["path"])
    kritarc_set(path, KEY, data["previous"])
    if data.get("created") and _read_lines(path) == ["[python]"]:
        path.unlink()  # we made it, and nothing else was put in it since


def switch_check(data: dict[str, Any]) -> str | None:
    path = Path(data["path"])
    if kritarc_get(path, KEY) != "true":
        return (f"the plug-in is switched off in {path}: enable cleancut in Settings > Configure Krita > "
                "Python Plugin Manager, or `cleancut install krita`")
    return None


def hints(target: Target) -> list[str]:
    return ["Restart Krita: Layer > Remove Background, Select > Select Subject "
            "(Settings > Configure Krita > Python Plugin Manager lists it as cleancut)"]


# --- kritarc ---

def kritarc_get(path: Path, key: str, section: str = "python") -> str | None:
    lines = _read_lines(path)
    start, end = _section(lines, section)
    for line in lines[start:end]:
        name, _, value = line.partition("=")
        if name.strip() == key:
            return value.strip()
    return None


def kritarc_set(path: Path, key: str, value: str | None, section: str = "python") -> None:
    """Set (or with None, remove) one key of one section, leaving every other line alone."""
    lines = _read_lines(path)
    start, end = _section(lines, section)
    if start < 0:
        if value is None:
            return
        if lines and lines[-1].strip():
            lines.append("")
        lines += [f"[{section}]", f"{key}={value}"]
    else:
        for index in range(start, end):
            if lines[index].partition("=")[0].strip() == key:
                if value is None:
                    del lines[index]
                else:
                    lines[index] = f"{key}={value}"
                break
        else:
            if value is not None:
                lines.insert(start, f"{key}={value}")
    write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"))


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def _section(lines: list[str], section: str) -> tuple[int, int]:
    """(first line after the header, end of the section), or (-1, -1) when absent."""
    for index, line in enumerate(lines):
        if line.strip() == f"[{section}]":
            end = index + 1
            while end < len(lines) and not lines[end].lstrip().startswith("["):
                end += 1
            while end > index + 1 and not lines[end - 1].strip():
                end -= 1
            return index + 1, end
    return -1, -1


EDITOR = Editor("krita", "Krita", (KRITA,), "5.1 to 6.x", find, switch_plan=switch_plan,
                switch_on=switch_on, switch_off=switch_off, switch_check=switch_check, hints=hints,
                switch_shape={"path": (str,), "created": (bool,), "previous": (str, type(None))},
                root_names=("krita",))
