"""Where each editor looks for user plug-ins, on Linux, Windows and macOS.

Plain functions of (platform, home, environment) so every platform's answer can be tested on
any machine. Each returns candidate folders, most likely first; `existing` keeps the ones
whose editor configuration is actually there.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Mapping


@dataclass(frozen=True)
class Place:
    """One editor installation's user folder for plug-ins."""

    host: str  # gimp, krita, blender
    version: str  # e.g. "3.0", "2.10", "5", "4.3"
    flavour: str  # native, flatpak, snap
    config: PurePath  # the editor's user config folder (exists when the editor has run)
    plugins: PurePath  # where our bundle goes


def _paths(platform: str):
    return PureWindowsPath if platform.startswith("win") else PurePosixPath


def _env(env: Mapping[str, str], name: str, default: PurePath) -> PurePath:
    value = env.get(name)
    return type(default)(value) if value else default


def gimp_places(platform: str, home: str, env: Mapping[str, str], versions: tuple[str, ...] = ("3.0", "2.10")) -> list[Place]:
    """GIMP 3.0 / 2.10 plug-in folders: native, Flatpak and Snap on Linux."""
    P = _paths(platform)
    home_p = P(home)
    places = []
    for version in versions:
        if platform.startswith("win"):
            roots = [("native", _env(env, "APPDATA", home_p / "AppData" / "Roaming") / "GIMP" / version)]
        elif platform == "darwin":
            roots = [("native", home_p / "Library" / "Application Support" / "GIMP" / version)]
        else:
            xdg = _env(env, "XDG_CONFIG_HOME", home_p / ".config")
            roots = [("native", xdg / "GIMP" / version),
                     ("flatpak", home_p / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP" / version),
                     ("snap", home_p / "snap" / "gimp" / "current" / ".config" / "GIMP" / version)]
        places += [Place("gimp", version, flavour, root, root / "plug-ins") for flavour, root in roots]
    return places


def krita_places(platform: str, home: str, env: Mapping[str, str]) -> list[Place]:
    """Krita's resource folder (pykrita/ and actions/ live in it); kritarc is beside it."""
    P = _paths(platform)
    home_p = P(home)
    if platform.startswith("win"):
        roots = [("native", _env(env, "APPDATA", home_p / "AppData" / "Roaming") / "krita")]
    elif platform == "darwin":
        roots = [("native", home_p / "Library" / "Application Support" / "krita")]
    else:
        data = _env(env, "XDG_DATA_HOME", home_p / ".local" / "share")
        roots = [("native", data / "krita"),
                 ("flatpak", home_p / ".var" / "app" / "org.kde.krita" / "data" / "krita")]
    return [Place("krita", "5", flavour, root, root) for flavour, root in roots]


def kritarc_path(place: Place, platform: str, home: str, env: Mapping[str, str]) -> PurePath:
    """The kritarc that enables plug-ins, for a Krita resource folder found by krita_places."""
    P = _paths(platform)
    home_p = P(home)
    if platform.startswith("win"):
        return _env(env, "LOCALAPPDATA", home_p / "AppData" / "Local") / "kritarc"
    if platform == "darwin":
        return home_p / "Library" / "Preferences" / "kritarc"
    if place.flavour == "flatpak":
        return home_p / ".var" / "app" / "org.kde.krita" / "config" / "kritarc"
    return _env(env, "XDG_CONFIG_HOME", home_p / ".config") / "kritarc"


_BLENDER_VERSION = re.compile(r"^\d+\.\d+$")


def blender_config_root(platform: str, home: str, env: Mapping[str, str]) -> list[tuple[str, PurePath]]:
    """(flavour, folder holding one sub-folder per Blender version, e.g. 4.3/)."""
    P = _paths(platform)
    home_p = P(home)
    if platform.startswith("win"):
        return [("native", _env(env, "APPDATA", home_p / "AppData" / "Roaming") / "Blender Foundation" / "Blender")]
    if platform == "darwin":
        return [("native", home_p / "Library" / "Application Support" / "Blender")]
    xdg = _env(env, "XDG_CONFIG_HOME", home_p / ".config")
    return [("native", xdg / "blender"),
            ("snap", home_p / "snap" / "blender" / "common" / ".config" / "blender"),
            ("flatpak", home_p / ".var" / "app" / "org.blender.Blender" / "config" / "blender")]


def blender_places(platform: str, home: str, env: Mapping[str, str], versions: list[str]) -> list[Place]:
    """Blender's per-version add-on folders: scripts/addons (3.x–4.1) or extensions/user_default (4.2+)."""
    places = []
    for flavour, root in blender_config_root(platform, home, env):
        for version in versions:
            config = root / version
            if version_tuple(version) >= (4, 2):
                target = config / "extensions" / "user_default"
            else:
                target = config / "scripts" / "addons"
            places.append(Place("blender", version, flavour, config, target))
    return places


def blender_versions_on_disk(root: str) -> list[str]:
    """Version folders (like 3.4, 4.3) that exist under a Blender config root, newest first."""
    try:
        names = [n for n in os.listdir(root) if _BLENDER_VERSION.match(n)]
    except OSError:
        return []
    return sorted(names, key=version_tuple, reverse=True)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
