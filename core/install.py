"""`cleancut install|uninstall HOST`: put a plug-in where the user's editor finds it, and take it away.

Install copies the bundle (core/bundles.py) into every installation of the editor found in the
user's folders (core/hostdirs.py), tells the client which Python runs the engine (settings
file), and switches the plug-in on where the editor needs that: kritarc for Krita, Blender's own
preferences (run through that Blender) for Blender. Everything it does is written to a record in
cleancut's settings folder, so uninstall removes exactly that and restores what it changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from . import bundles, config, hostdirs
from .bundles import Bundle
from .errors import CleancutError

HOSTS = ("gimp", "krita", "blender")
KRITA_PLUGIN = "cleancut_krita"
BLENDER_MODULE = "cleancut_blender"
WHERE = {
    "gimp3": "Restart GIMP: Layer > Mask > Remove Background… and Select > Subject…",
    "gimp2": "Restart GIMP 2.10 (it needs Python-Fu): Layer > Mask > Remove Background…",
    "krita": "Restart Krita: Layer > Remove Background, Select > Select Subject "
             "(Settings > Configure Krita > Python Plugin Manager lists it as cleancut)",
    "blender": "Image Editor > Image > Remove Background, and the Compositor's Add menu",
}


@dataclass
class Target:
    """One installation of an editor that gets one bundle."""

    bundle: Bundle
    place: hostdirs.Place
    root: Path  # the plug-in root the bundle's paths are relative to
    kritarc: Path | None = None
    blender: str | None = None  # the Blender executable that enables the add-on
    blender_module: str | None = None

    def describe(self) -> str:
        flavour = "" if self.place.flavour == "native" else f" ({self.place.flavour})"
        return f"{self.bundle.title} {self.place.version}{flavour}"


@dataclass
class Environment:
    """Where to look: the real machine by default, any platform's layout in tests."""

    platform: str = sys.platform
    home: str = field(default_factory=lambda: str(Path.home()))
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


def find_targets(host: str, host_version: str | None = None, blender: str | None = None,
                 where: Environment | None = None) -> list[Target]:
    """Every installation of HOST found in the user's folders (or the one version asked for)."""
    where = where or Environment()
    if host == "gimp":
        return _gimp_targets(host_version, where)
    if host == "krita":
        return _krita_targets(where)
    if host == "blender":
        return _blender_targets(host_version, blender, where)
    raise CleancutError(f"unknown editor {host!r}: choose one of {', '.join(HOSTS)}")


def _gimp_targets(version: str | None, where: Environment) -> list[Target]:
    if version is not None and not re.fullmatch(r"(2\.10|3\.\d+)", version):
        raise CleancutError(f"GIMP {version} is not supported: use --host-version 3.0 (or 3.x) or 2.10")
    versions = (version,) if version else ("3.0", "2.10")
    places = hostdirs.gimp_places(where.platform, where.home, where.env, versions)
    found = [p for p in places if Path(p.config).is_dir()]
    if not found and version:
        found = [p for p in places if p.flavour == "native"]  # asked for: create it
    if not found:
        raise CleancutError(
            "no GIMP 3.0 or 2.10 settings folder found (looked in "
            f"{', '.join(str(p.config) for p in places)}): start GIMP once, or pass --host-version 3.0")
    return [Target(bundles.BUNDLES["gimp2" if p.version == "2.10" else "gimp3"], p, Path(p.plugins))
            for p in found]


def _krita_targets(where: Environment) -> list[Target]:
    places = hostdirs.krita_places(where.platform, where.home, where.env)
    found = [p for p in places if Path(p.config).is_dir()] or [p for p in places if p.flavour == "native"]
    return [Target(bundles.BUNDLES["krita"], p, Path(p.plugins),
                   kritarc=Path(hostdirs.kritarc_path(p, where.platform, where.home, where.env)))
            for p in found]


def _blender_targets(version: str | None, blender: str | None, where: Environment) -> list[Target]:
    if version is not None and not re.fullmatch(r"\d+\.\d+", version):
        raise CleancutError(f"--host-version for Blender is its major.minor version, like 4.3 (not {version!r})")
    roots = hostdirs.blender_config_root(where.platform, where.home, where.env)
    places = []
    for flavour, root in roots:
        versions = [version] if version else hostdirs.blender_versions_on_disk(str(root))
        places += [p for p in hostdirs.blender_places(where.platform, where.home, where.env, versions)
                   if p.flavour == flavour and (Path(p.config).is_dir() or (version and flavour == "native"))]
    if not places:
        raise CleancutError(
            "no Blender settings folder found (looked in "
            f"{', '.join(str(r) for _, r in roots)}): start Blender once, or pass --host-version 4.3")
    # The Blender that switches the add-on on: the one given, else `blender` on PATH; it can only
    # do so for its own version's preferences.
    exe = (shutil.which(blender) or blender) if blender else shutil.which("blender", path=where.env.get("PATH"))
    exe_version = blender_version(exe) if exe else None
    targets = []
    for place in places:
        if blender and exe_version != place.version:
            raise CleancutError(f"{blender} is Blender {exe_version}, not {place.version}: pass the matching "
                                f"--blender, or --host-version {exe_version}")
        extension = hostdirs.version_tuple(place.version) >= (4, 2)
        module = f"bl_ext.user_default.{BLENDER_MODULE}" if extension else BLENDER_MODULE
        targets.append(Target(bundles.BUNDLES["blender"], place, Path(place.plugins),
                              blender=exe if exe_version == place.version else None, blender_module=module))
    return targets


def blender_version(exe: str) -> str | None:
    """major.minor of a Blender executable, from `blender --version`."""
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"Blender (\d+)\.(\d+)", out)
    return f"{found.group(1)}.{found.group(2)}" if found else None


# --- the record of what install did ---

def record_path() -> Path:
    return config.config_dir() / "installed.json"


def load_record() -> dict:
    try:
        data = json.loads(record_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"installs": []}
    except (OSError, ValueError) as err:
        raise CleancutError(f"cannot read {record_path()} ({err}); delete it if it is damaged") from None
    data.setdefault("installs", [])
    return data


def save_record(data: dict) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".installed-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


# --- install ---

def install(host: str, host_version: str | None = None, dry_run: bool = False, blender: str | None = None,
            where: Environment | None = None, say: Callable[[str], None] = print) -> list[Target]:
    """Install HOST's plug-in everywhere it is found; print what was (or would be) done."""
    targets = find_targets(host, host_version, blender, where)
    engine = sys.executable
    record = load_record() if not dry_run else None
    for target in targets:
        files = bundles.contents(target.bundle)
        say(f"{'would install' if dry_run else 'installing'} the {target.describe()} plug-in "
            f"into {target.root}")
        for rel in files:
            say(f"  {target.root / rel}")
        if target.kritarc:
            say(f"  {target.kritarc}: [python] enable_{KRITA_PLUGIN}=true")
        if target.blender:
            say(f"  enable {target.blender_module} in Blender {target.place.version}'s preferences "
                f"(with {target.blender})")
        if dry_run:
            continue
        entry = _install_files(target, files, _take_entry(record, target))
        if target.kritarc:
            entry.setdefault("kritarc", {"path": str(target.kritarc), "created": not target.kritarc.exists(),
                                         "previous": kritarc_get(target.kritarc, f"enable_{KRITA_PLUGIN}")})
            kritarc_set(target.kritarc, f"enable_{KRITA_PLUGIN}", "true")
        if target.blender:
            blender_enable(target.blender, target.blender_module, True)
            entry["blender"] = {"exe": target.blender, "module": target.blender_module}
        record["installs"].append(entry)
        save_record(record)
        say(f"  {WHERE[target.bundle.name]}")
        if target.bundle.name == "blender" and not target.blender:
            say(f"  Then enable it: Edit > Preferences > Add-ons, search \"cleancut\" "
                f"(or rerun with --blender PATH to have Blender {target.place.version} enable it)")
    settings = config.load_config()
    say(f"{'would set' if dry_run else 'setting'} the engine Python to {engine} in {config.config_path()}")
    if not dry_run:
        if "engine_python_previous" not in record:
            record["engine_python_previous"] = settings.get("engine_python")
            record["settings_created"] = not config.config_path().exists()
            save_record(record)
        settings["engine_python"] = engine
        config.save_config(settings)
    return targets


def _take_entry(record: dict, target: Target) -> dict | None:
    """Remove and return an earlier install's entry for the same plug-in root (reinstall/upgrade)."""
    for entry in list(record["installs"]):
        if entry["root"] == str(target.root) and entry["bundle"] == target.bundle.name:
            record["installs"].remove(entry)
            return entry
    return None


def _install_files(target: Target, files: dict[str, bytes], earlier: dict | None) -> dict:
    entry = {"host": target.place.host, "bundle": target.bundle.name, "version": target.place.version,
             "flavour": target.place.flavour, "root": str(target.root), "files": {},
             "created_dirs": list(earlier["created_dirs"]) if earlier else []}
    for key in ("kritarc", "blender"):
        if earlier and key in earlier:
            entry[key] = earlier[key]
    for rel, data in files.items():
        path = target.root / rel
        _make_dirs(path.parent, entry["created_dirs"])
        _write_atomic(path, data, executable=rel in target.bundle.executable)
        entry["files"][rel] = bundles.sha256(data)
    for rel in (earlier or {}).get("files", {}):
        if rel not in files:  # a file an older version had
            (target.root / rel).unlink(missing_ok=True)
    return entry


def _make_dirs(folder: Path, created: list[str]) -> None:
    """mkdir -p, noting each folder it made (uninstall removes those, when empty)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir()
        created.append(str(each))


def _write_atomic(path: Path, data: bytes, executable: bool) -> None:
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


# --- uninstall ---

def uninstall(host: str, dry_run: bool = False, say: Callable[[str], None] = print) -> int:
    """Remove what `cleancut install HOST` added, and put back what it changed; returns how many."""
    if host not in HOSTS:
        raise CleancutError(f"unknown editor {host!r}: choose one of {', '.join(HOSTS)}")
    record = load_record()
    mine = [e for e in record["installs"] if e["host"] == host]
    if not mine:
        say(f"cleancut is not installed in {host} (nothing in {record_path()})")
        return 0
    for entry in mine:
        root = Path(entry["root"])
        say(f"{'would remove' if dry_run else 'removing'} the {entry['bundle']} plug-in from {root}")
        if dry_run:
            continue
        if "blender" in entry:
            if Path(entry["blender"]["exe"]).exists():
                blender_enable(entry["blender"]["exe"], entry["blender"]["module"], False)
            else:
                say(f"  {entry['blender']['exe']} is gone: Blender will note the missing add-on once; "
                    "untick it in Edit > Preferences > Add-ons")
        for rel in entry["files"]:
            (root / rel).unlink(missing_ok=True)
            _clear_pycache(root / rel)
        for folder in sorted(entry["created_dirs"], key=len, reverse=True):
            try:
                Path(folder).rmdir()  # only if empty: the user's own files stay
            except OSError:
                pass
        if "kritarc" in entry:
            kritarc = Path(entry["kritarc"]["path"])
            kritarc_set(kritarc, f"enable_{KRITA_PLUGIN}", entry["kritarc"]["previous"])
            if entry["kritarc"].get("created") and _read_lines(kritarc) == ["[python]"]:
                kritarc.unlink()  # we made it, and nothing else was put in it since
        record["installs"].remove(entry)
        save_record(record)
    if not dry_run and not record["installs"]:
        settings = config.load_config()
        previous = record.pop("engine_python_previous", None)
        if previous:
            settings["engine_python"] = previous
        else:
            settings.pop("engine_python", None)
        if settings or not record.get("settings_created"):
            config.save_config(settings)
        else:
            config.config_path().unlink(missing_ok=True)  # we made it, and it holds nothing else
        record_path().unlink(missing_ok=True)
        say(f"restored the engine Python setting in {config.config_path()}")
    return len(mine)


def _clear_pycache(path: Path) -> None:
    """Python caches the editor made of our modules (they are ours too)."""
    cache = path.parent / "__pycache__"
    if path.suffix == ".py" and cache.is_dir():
        for compiled in cache.glob(path.stem + ".*.pyc"):
            compiled.unlink(missing_ok=True)
        try:
            cache.rmdir()
        except OSError:
            pass


# --- kritarc (a KConfig file: edited line by line, so Krita's own syntax is kept as it is) ---

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
    _write_atomic(path, ("\n".join(lines) + "\n").encode("utf-8"), executable=False)


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


# --- Blender: its own preferences, through its own Python ---

_BLENDER_SCRIPT = """
import sys, addon_utils, bpy
module, enable = sys.argv[-2], sys.argv[-1] == "1"
if enable:
    if hasattr(bpy.ops.extensions, "repo_refresh_all") and module.startswith("bl_ext."):
        bpy.ops.extensions.repo_refresh_all()
    if addon_utils.enable(module, default_set=True, persistent=True, handle_error=None) is None:
        sys.exit("cannot enable " + module)
else:
    addon_utils.disable(module, default_set=True)
bpy.ops.wm.save_userpref()
"""


def blender_enable(exe: str, module: str, enable: bool) -> None:
    """Switch the add-on on or off in the preferences of the Blender at exe, and save them."""
    try:
        done = subprocess.run([exe, "--background", "--python-exit-code", "1", "--python-expr",
                               _BLENDER_SCRIPT, "--", module, "1" if enable else "0"],
                              capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as err:
        raise CleancutError(f"could not run Blender at {exe}: {err}") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise CleancutError(f"Blender ({exe}) could not {'enable' if enable else 'disable'} {module}:\n{tail}")
