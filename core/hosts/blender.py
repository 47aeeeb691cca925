"""Blender 3.4 to 5.x: one user folder per version; add-on before 4.2, extension from 4.2 on.

Blender keeps each version's preferences and add-ons in a folder named after its major.minor
version (checked with the real 4.3.2, 4.5.15, 5.0.1 and 5.2.2: `~/.config/blender/5.2`,
`$XDG_CONFIG_HOME` honoured). Up to 4.1 an add-on lives in `scripts/addons/NAME`; from 4.2 on
it is an extension in the local repository `extensions/user_default/NAME` and its module is
`bl_ext.user_default.NAME`. Blender enables add-ons in its own preferences file, so the
enabling is done by that very Blender: `blender --background` runs addon_utils and saves its
preferences. A Blender can only do so for its own version's folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePath
from typing import Any, Callable

from ..errors import CleancutError
from .base import Bundle, Editor, Place, Target, Where, check_version, parse_version, version_tuple

MODULE = "cleancut_blender"
EXTENSIONS_FROM = (4, 2)  # the first version that loads extensions/user_default

# One folder for the 3.x add-on (scripts/addons) and the 4.2+ extension (blender_manifest.toml);
# the extension zip has the manifest at its top.
BLENDER = Bundle(
    "blender", "Blender", "blender/cleancut_blender", (("", "cleancut_blender/"),),
    client="cleancut_blender/cleancut_client.py",
    zips=(("", ""), ("extension", "cleancut_blender/")))


def supported(version: tuple[int, ...]) -> bool:
    return (3, 4) <= version < (6, 0)


def config_roots(where: Where) -> list[tuple[str, PurePath]]:
    """(flavour, the folder holding one sub-folder per Blender version, e.g. 5.2/)."""
    if where.windows:
        return [("native", where.appdata() / "Blender Foundation" / "Blender")]
    if where.macos:
        return [("native", where.application_support() / "Blender")]
    home = where.home_dir()
    return [("native", where.xdg_config() / "blender"),
            ("snap", home / "snap" / "blender" / "common" / ".config" / "blender"),
            ("flatpak", home / ".var" / "app" / "org.blender.Blender" / "config" / "blender")]


def places(where: Where, versions: list[str]) -> list[Place]:
    """Each version's add-on folder, in every flavour: scripts/addons or extensions/user_default."""
    out = []
    for flavour, root in config_roots(where):
        for version in versions:
            config = root / version
            if version_tuple(version) >= EXTENSIONS_FROM:
                plugins = config / "extensions" / "user_default"
            else:
                plugins = config / "scripts" / "addons"
            out.append(Place("blender", version, flavour, config, plugins))
    return out


def module_name(version: str) -> str:
    """The Python module Blender imports the add-on as, in that version."""
    return f"bl_ext.user_default.{MODULE}" if version_tuple(version) >= EXTENSIONS_FROM else MODULE


def versions_on_disk(root: str) -> list[str]:
    """Version folders (like 3.4, 5.2) under a Blender config root that cleancut supports, newest first.

    Named exactly as Blender names them: a "04.5" or "٤.٥" folder is not one Blender reads."""
    try:
        names = [n for n in os.listdir(root) if (v := parse_version(n)) is not None and supported(v)]
    except OSError:
        return []
    return sorted(names, key=version_tuple, reverse=True)


def find(where: Where, version: str | None, exe: str | None) -> list[Target]:
    """Every Blender version folder found (or the one asked for), with the Blender that enables it."""
    if version is not None:
        check_version("Blender", version, supported, "its major.minor version, 3.4 to 5.x (like 4.5 or 5.2)")
    found = []
    for flavour, root in config_roots(where):
        versions = [version] if version else versions_on_disk(str(root))
        found += [p for p in places(where, versions)
                  if p.flavour == flavour and (Path(p.config).is_dir() or (version and flavour == "native"))]
    if not found:
        raise CleancutError(
            "no Blender settings folder found (looked in "
            f"{', '.join(str(r) for _, r in config_roots(where))}): start Blender once, "
            "or pass --host-version 5.2 (or 4.5, …)")
    # The Blender that switches the add-on on: the one given, else `blender` on PATH; it can only
    # do so for its own version's preferences.
    path = (shutil.which(exe) or exe) if exe else shutil.which("blender", path=where.env.get("PATH"))
    path_version = blender_version(path) if path else None
    targets = []
    for place in found:
        if exe and path_version != place.version:
            raise CleancutError(f"{exe} is Blender {path_version}, not {place.version}: pass the matching "
                                f"--blender, or --host-version {path_version}")
        switch = {"exe": path if path_version == place.version else None, "module": module_name(place.version)}
        targets.append(Target(BLENDER, place, Path(place.plugins), switch=switch))
    return targets


def blender_version(exe: str) -> str | None:
    """major.minor of a Blender executable, from `blender --version`."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"Blender ([0-9]+)\.([0-9]+)", out)
    return f"{found.group(1)}.{found.group(2)}" if found else None


def switch_plan(target: Target) -> list[str]:
    assert target.switch
    if not target.switch["exe"]:
        return []
    return [f"enable {target.switch['module']} in Blender {target.place.version}'s preferences "
            f"(with {target.switch['exe']})"]


def switch_on(target: Target) -> dict[str, Any] | None:
    assert target.switch
    if not target.switch["exe"]:
        return None
    enable(target.switch["exe"], target.switch["module"], True)
    return {"exe": target.switch["exe"], "module": target.switch["module"]}


def switch_off(data: dict[str, Any], say: Callable[[str], None]) -> None:
    if Path(data["exe"]).exists():
        enable(data["exe"], data["module"], False)
    else:
        say(f"  {data['exe']} is gone: Blender will note the missing add-on once; "
            "untick it in Edit > Preferences > Add-ons")


def hints(target: Target) -> list[str]:
    out = ["Image Editor > Image > Remove Background, and the Compositor's Add menu"]
    if not (target.switch and target.switch["exe"]):
        out.append("Then enable it: Edit > Preferences > Add-ons, search \"cleancut\" "
                   f"(or rerun with --blender PATH to have Blender {target.place.version} enable it)")
    return out


# The add-on switch, run inside that Blender (and by the installed-editor tests). From 4.2 on,
# the local repository is refreshed first so Blender knows the extension it has not seen yet
# (where the extensions add-on is there to do it).
SWITCH_SCRIPT = """
import sys, addon_utils, bpy
module, enable = sys.argv[-2], sys.argv[-1] == "1"
if enable:
    if module.startswith("bl_ext.") and hasattr(bpy.ops.extensions, "repo_refresh_all"):
        bpy.ops.extensions.repo_refresh_all()
    if addon_utils.enable(module, default_set=True, persistent=True, handle_error=None) is None:
        sys.exit("cannot enable " + module)
else:
    addon_utils.disable(module, default_set=True)
bpy.ops.wm.save_userpref()
"""


def enable(exe: str, module: str, on: bool) -> None:
    """Switch the add-on on or off in the preferences of the Blender at exe, and save them."""
    try:
        done = subprocess.run([exe, "--background", "--python-exit-code", "1", "--python-expr",
                               SWITCH_SCRIPT, "--", module, "1" if on else "0"],
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as err:
        raise CleancutError(f"could not run Blender at {exe}: {err}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise CleancutError(f"Blender ({exe}) could not {'enable' if on else 'disable'} {module}:\n{tail}")


EDITOR = Editor("blender", "Blender", (BLENDER,), "3.4 to 5.x", find, switch_plan=switch_plan,
                switch_on=switch_on, switch_off=switch_off, hints=hints,
                switch_shape={"exe": (str,), "module": (str,)}, root_names=("user_default", "addons"))
