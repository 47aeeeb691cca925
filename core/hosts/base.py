"""The plain records every editor module fills in, and the folder helpers they share.

An editor module (gimp.py, krita.py, blender.py) is data plus a few small functions; these
records are what install, uninstall, doctor and packaging read from it. Folders are computed
from a `Where` (platform, home, environment), never from the running machine directly, so every
platform's answer is testable on any machine.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any, Callable, Mapping

from ..errors import UsageError


@dataclass(frozen=True)
class Bundle:
    """A plug-in: the folder its files come from and the relative paths they are installed at."""

    name: str  # gimp3, gimp2, krita, blender: also the name of its zip and of its wheel folder
    title: str
    checkout: str  # the source folder in a checkout (editable installs), relative to the repository
    # (path inside the source folder, path inside the editor's plug-in root); a source ending in
    # "/" (or "") is a folder copied whole, without caches
    files: tuple[tuple[str, str], ...]
    client: str  # where the client goes, inside the plug-in root
    executable: tuple[str, ...] = ()  # plug-in root paths that must be executable (GIMP on Unix)
    # folders on the way to the plug-in that belong to the editor, not to the plug-in (Krita's
    # pykrita/ and actions/): a link there is followed, never moved aside
    shared: tuple[str, ...] = ()
    # the zips packaging/build.py makes: (kind, leading folder left out); kind "" is the plain zip
    zips: tuple[tuple[str, str], ...] = (("", ""),)

    @property
    def packaged(self) -> str:
        """The bundle's folder inside an installed wheel, relative to the cleancut package."""
        return f"plugins/{self.name}"


@dataclass(frozen=True)
class Place:
    """One editor installation's user folder for plug-ins."""

    host: str  # gimp, krita, blender
    version: str  # the version its folder is named after ("3.0", "2.10", "4.3"); "" when unversioned
    flavour: str  # native, flatpak, snap
    config: PurePath  # the editor's user folder (exists once the editor has run)
    plugins: PurePath  # where the bundle goes


@dataclass
class Target:
    """One installation of an editor that gets one bundle."""

    bundle: Bundle
    place: Place
    root: Path  # the plug-in root the bundle's paths are relative to
    # what switching the plug-in on needs, editor-specific plain data (kritarc path, Blender exe)
    switch: dict[str, Any] | None = None

    def describe(self) -> str:
        flavour = "" if self.place.flavour == "native" else f" ({self.place.flavour})"
        version = f" {self.place.version}" if self.place.version else ""
        return f"{self.bundle.title}{version}{flavour}"


@dataclass
class Where:
    """Where to look: the real machine by default, any platform's layout in tests."""

    platform: str = sys.platform
    home: str = field(default_factory=lambda: str(Path.home()))
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def windows(self) -> bool:
        return self.platform.startswith("win")

    @property
    def macos(self) -> bool:
        return self.platform == "darwin"

    def path(self, *parts: str) -> PurePath:
        """A path of this platform's kind (Windows paths stay Windows paths on Linux)."""
        return (PureWindowsPath if self.windows else PurePosixPath)(*parts)

    def home_dir(self) -> PurePath:
        return self.path(self.home)

    def env_dir(self, name: str, default: PurePath) -> PurePath:
        """An environment variable naming a folder (XDG_CONFIG_HOME, APPDATA…), else the default."""
        value = self.env.get(name)
        return self.path(value) if value else default

    def appdata(self) -> PurePath:
        """Windows' roaming application data (%APPDATA%)."""
        return self.env_dir("APPDATA", self.home_dir() / "AppData" / "Roaming")

    def local_appdata(self) -> PurePath:
        return self.env_dir("LOCALAPPDATA", self.home_dir() / "AppData" / "Local")

    def application_support(self) -> PurePath:
        return self.home_dir() / "Library" / "Application Support"

    def xdg_config(self) -> PurePath:
        return self.env_dir("XDG_CONFIG_HOME", self.home_dir() / ".config")

    def xdg_data(self) -> PurePath:
        return self.env_dir("XDG_DATA_HOME", self.home_dir() / ".local" / "share")


@dataclass(frozen=True)
class Editor:
    """One editor, as install, uninstall, doctor, the CLI and packaging see it."""

    name: str  # the CLI's word: gimp, krita, blender
    title: str
    bundles: tuple[Bundle, ...]
    versions: str  # the versions it supports, in words for messages and help ("3.0, 3.2 and 2.10")
    # find(where, host_version, exe) -> the installations to install into
    find: Callable[[Where, "str | None", "str | None"], list[Target]]
    # what switching the plug-in on will do, one line each (printed by install, also in dry runs)
    switch_plan: Callable[[Target], list[str]] = lambda target: []
    # switch_on(target) -> plain data recorded in installed.json, that switch_off(data, say) undoes
    switch_on: Callable[[Target], "dict[str, Any] | None"] = lambda target: None
    switch_off: Callable[[dict[str, Any], Callable[[str], None]], None] = lambda data, say: None
    # the recorded switch's keys and their types (installed.json is checked against them)
    switch_shape: Mapping[str, tuple[type, ...]] = field(default_factory=dict)
    # doctor: what is wrong with the recorded switch (a FIX text), or None
    switch_check: Callable[[dict[str, Any]], "str | None"] = lambda data: None
    # after install: where the plug-in shows up, what to do next (one line each)
    hints: Callable[[Target], list[str]] = lambda target: []
    # the names a plug-in root of this editor has (plug-ins, krita…): installed.json is checked
    # against them, so a hand-edited record cannot point uninstall at any other folder
    root_names: tuple[str, ...] = ()


def version_tuple(version: str) -> tuple[int, ...]:
    """"4.10" -> (4, 10): versions compare as numbers, not strings."""
    return tuple(int(part) for part in version.split("."))


# An editor names its version folders major.minor in ASCII digits without leading zeros (4.5,
# 3.10): "04.5" or Arabic-Indic "٤.٥" would make a folder no editor reads, although int() reads
# them as 4 and 5.
_MAJOR_MINOR = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", re.ASCII)


def parse_version(text: str) -> tuple[int, int] | None:
    """"4.5" -> (4, 5); None for anything an editor would not name a folder (04.5, ٤.٥, 4.5.1, " 4.5")."""
    found = _MAJOR_MINOR.fullmatch(text)
    return (int(found[1]), int(found[2])) if found else None


def shown(text: str) -> str:
    """A version as typed, for a message: as it is when plain, else quoted and escaped (spaces,
    invisible or lookalike characters would not be seen)."""
    plain = text.isascii() and text.isprintable() and " " not in text and text != ""
    return text if plain else ascii(text)


def check_version(editor: str, version: str, supported: Callable[[tuple[int, ...]], bool], words: str) -> str:
    """A --host-version: major.minor that the editor module supports, else a clear error listing the forms taken."""
    parsed = parse_version(version)
    if parsed is None or not supported(parsed):
        raise UsageError(f"{editor} {shown(version)} is not supported: --host-version takes {words}, "
                            "written in plain digits without leading zeros")
    return version


def existing(places: list[Place]) -> list[Place]:
    """The places whose editor folder is there (the editor has run as this user)."""
    return [p for p in places if Path(p.config).is_dir()]


def write_atomic(path: Path, data: bytes, executable: bool = False) -> None:
    """Write a file whole or not at all (a crash never leaves half a plug-in or half a kritarc)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".cleancut-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
