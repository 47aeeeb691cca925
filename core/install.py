"""`cleancut install|uninstall HOST`: put a plug-in where the user's editor finds it, and take it away.

What is editor-specific (its folders, its bundles, switching the plug-in on) comes from the
editor's module in core/hosts/; this module does what is the same for every editor: it copies
the bundle, tells the client which Python runs the engine (settings file), and writes
everything it did to a record in cleancut's settings folder, so uninstall removes exactly that
and restores what it changed.

Nothing of the user's is lost: a file (or link, or folder) already at a path the plug-in needs
that an earlier `cleancut install` did not put there is moved aside into cleancut's settings
folder (backups/), said so, recorded, and moved back by uninstall. Links on the way that belong
to the editor (Krita's pykrita/) are followed; a link where the plug-in's own folder goes (a
developer's checkout linked into plug-ins/) is moved aside as a link, never written through.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from . import bundles, config, hosts
from .errors import CleancutError
from .hosts import Target, Where
from .hosts.base import write_atomic


def find_targets(host: str, host_version: str | None = None, blender: str | None = None,
                 where: Where | None = None) -> list[Target]:
    """Every installation of HOST found in the user's folders (or the one version asked for)."""
    editor = hosts.get(host)
    if blender and host != "blender":
        raise CleancutError("--blender names a Blender executable: use it with `cleancut install blender`")
    return editor.find(where or Where(), host_version, blender)


# --- the record of what install did ---

def record_path() -> Path:
    return config.config_dir() / "installed.json"


def backups_dir() -> Path:
    return config.config_dir() / "backups"


def load_record() -> dict[str, Any]:
    """installed.json, checked: a damaged or hand-edited record is an error naming the file."""
    path = record_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"installs": []}
    except (OSError, ValueError) as err:
        raise CleancutError(f"cannot read {path} ({err}); delete it if it is damaged "
                            "(cleancut then forgets what it installed)") from None
    problem = _record_problem(data)
    if problem:
        raise CleancutError(f"{path} is not a record cleancut wrote ({problem}); fix it or delete it "
                            "(cleancut then forgets what it installed)")
    data.setdefault("installs", [])
    return data


def _record_problem(data: Any) -> str | None:
    """What is wrong with the record's shape or types, or None."""
    if not isinstance(data, dict):
        return f"it holds a JSON {type(data).__name__}, not an object"
    installs = data.get("installs", [])
    if not isinstance(installs, list):
        return '"installs" is not a list'
    for key in ("engine_python_previous",):
        if data.get(key) is not None and not isinstance(data[key], str):
            return f'"{key}" is not a string'
    if "settings_created" in data and not isinstance(data["settings_created"], bool):
        return '"settings_created" is not true or false'
    for index, entry in enumerate(installs):
        where = f'"installs"[{index}]'
        if not isinstance(entry, dict):
            return f"{where} is not an object"
        for key in ("host", "bundle", "version", "flavour", "root"):
            if not isinstance(entry.get(key), str):
                return f'{where}["{key}"] is missing or not a string'
        if entry["host"] not in hosts.EDITORS or entry["bundle"] not in hosts.BUNDLES:
            return f"{where} names an editor or plug-in this cleancut does not know"
        for key in ("files", "backups"):
            mapping = entry.get(key, {})
            if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
                return f'{where}["{key}"] is not an object of strings'
        dirs = entry.get("created_dirs", [])
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            return f'{where}["created_dirs"] is not a list of strings'
        switch = entry.get("switch")
        if switch is not None:
            shape = hosts.EDITORS[entry["host"]].switch_shape
            if not isinstance(switch, dict) or not all(isinstance(switch.get(k), t) for k, t in shape.items()):
                return f'{where}["switch"] is not what {entry["host"]} records'
    return None


def save_record(data: dict[str, Any]) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".installed-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


# --- install ---

def install(host: str, host_version: str | None = None, dry_run: bool = False, blender: str | None = None,
            where: Where | None = None, say: Callable[[str], None] = print) -> list[Target]:
    """Install HOST's plug-in everywhere it is found; print what was (or would be) done."""
    editor = hosts.get(host)
    # Both files are read before anything is touched: a damaged one stops the install here.
    settings = config.load_config()
    record = load_record()
    targets = find_targets(host, host_version, blender, where)
    engine = sys.executable
    for target in targets:
        files = bundles.contents(target.bundle)
        earlier = _earlier_entry(record, target)
        aside = _in_the_way(target, files, earlier)
        say(f"{'would install' if dry_run else 'installing'} the {target.describe()} plug-in "
            f"into {target.root}")
        for rel in files:
            say(f"  {target.root / rel}")
        for rel in aside:
            say(f"  {'would move' if dry_run else 'moving'} your {target.root / rel} aside to "
                f"{_backup_path(target, rel)} (uninstall puts it back)")
        for line in editor.switch_plan(target):
            say(f"  {line}")
        if dry_run:
            continue
        if earlier:
            record["installs"].remove(earlier)
        entry = _install_files(target, files, earlier, aside)
        record["installs"].append(entry)
        save_record(record)  # before switching on: if that fails, uninstall still finds the files
        switched = editor.switch_on(target)
        if switched is not None:
            entry["switch"] = switched
            save_record(record)
        for line in editor.hints(target):
            say(f"  {line}")
    say(f"{'would set' if dry_run else 'setting'} the engine Python to {engine} in {config.config_path()}")
    if not dry_run:
        if "engine_python_previous" not in record:
            record["engine_python_previous"] = settings.get("engine_python")
            record["settings_created"] = not config.config_path().exists()
            save_record(record)
        settings["engine_python"] = engine
        config.save_config(settings)
    return targets


def _earlier_entry(record: dict[str, Any], target: Target) -> dict[str, Any] | None:
    """An earlier install's entry for the same plug-in root (reinstall/upgrade)."""
    for entry in record["installs"]:
        if entry["root"] == str(target.root) and entry["bundle"] == target.bundle.name:
            return entry
    return None


def _in_the_way(target: Target, files: dict[str, bytes], earlier: dict[str, Any] | None) -> list[str]:
    """Root-relative paths of the user's own things where the plug-in's files and folders go."""
    ours_files = set((earlier or {}).get("files", {}))
    aside: list[str] = []
    for rel in files:
        parts = rel.split("/")
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            if any(sub == a or sub.startswith(a + "/") for a in aside):
                break  # a folder above is moved aside already
            path = target.root / sub
            if not os.path.lexists(path):
                break  # nothing here, nor below
            if depth == len(parts):  # the file itself: a link there is the user's, even where ours was
                if sub not in ours_files or path.is_symlink():
                    aside.append(sub)
            elif sub in target.bundle.shared:  # the editor's folder: links followed
                if not path.is_dir():
                    aside.append(sub)
                    break
            elif path.is_symlink() or not path.is_dir():  # the plug-in's own folder: never written through
                aside.append(sub)
                break
    return aside


def _backup_path(target: Target, rel: str) -> Path:
    key = hashlib.sha256(f"{target.bundle.name}\0{target.root}".encode()).hexdigest()[:12]
    return backups_dir() / f"{target.bundle.name}-{key}" / rel


def _install_files(target: Target, files: dict[str, bytes], earlier: dict[str, Any] | None,
                   aside: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "host": target.place.host, "bundle": target.bundle.name, "version": target.place.version,
        "flavour": target.place.flavour, "root": str(target.root), "files": {},
        "created_dirs": list(earlier["created_dirs"]) if earlier else [],
        "backups": dict(earlier.get("backups", {})) if earlier else {}}
    if earlier and "switch" in earlier:
        entry["switch"] = earlier["switch"]
    for rel in aside:
        backup = _backup_path(target, rel)
        if os.path.lexists(backup):
            raise CleancutError(f"cannot move {target.root / rel} aside: {backup} is already there (from an "
                                "earlier install); move one of them away yourself, then install again")
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target.root / rel), str(backup))  # a link stays a link
        entry["backups"][rel] = str(backup)
    for rel, data in files.items():
        path = target.root / rel
        _make_dirs(path.parent, entry["created_dirs"])
        write_atomic(path, data, executable=rel in target.bundle.executable)
        entry["files"][rel] = bundles.sha256(data)
    for rel in (earlier or {}).get("files", {}):
        if rel not in files:  # a file an older version had
            (target.root / rel).unlink(missing_ok=True)
    return entry


def _make_dirs(folder: Path, created: list[str]) -> None:
    """mkdir -p, noting each folder it made (uninstall removes those, when empty)."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir()
        created.append(str(each))


# --- uninstall ---

def uninstall(host: str, dry_run: bool = False, say: Callable[[str], None] = print) -> int:
    """Remove what `cleancut install HOST` added, and put back what it changed; returns how many."""
    editor = hosts.get(host)
    config.load_config()  # a damaged settings file stops here, before anything is removed
    record = load_record()
    mine = [e for e in record["installs"] if e["host"] == host]
    if not mine:
        say(f"cleancut is not installed in {host} (nothing in {record_path()})")
        return 0
    for entry in mine:
        root = Path(entry["root"])
        say(f"{'would remove' if dry_run else 'removing'} the {entry['bundle']} plug-in from {root}")
        for rel, backup in sorted(entry.get("backups", {}).items()):
            say(f"  {'would put' if dry_run else 'putting'} your {root / rel} back (from {backup})")
        if dry_run:
            continue
        if entry.get("switch"):
            editor.switch_off(entry["switch"], say)
        for rel in entry["files"]:
            (root / rel).unlink(missing_ok=True)
            _clear_pycache(root / rel)
        for folder in sorted(entry["created_dirs"], key=len, reverse=True):
            try:
                Path(folder).rmdir()  # only if empty: the user's own files stay
            except OSError:
                pass
        _restore(root, entry.get("backups", {}), say)
        record["installs"].remove(entry)
        save_record(record)
    if not dry_run and not record["installs"]:
        _restore_settings(record)
        say(f"restored the engine Python setting in {config.config_path()}")
    return len(mine)


def _restore(root: Path, backups: dict[str, str], say: Callable[[str], None]) -> None:
    """Move what install moved aside back to where it was."""
    for rel, backup in sorted(backups.items()):
        path, saved = root / rel, Path(backup)
        if not os.path.lexists(saved):
            say(f"  {saved} is gone: {path} cannot be put back")
            continue
        if os.path.lexists(path):
            raise CleancutError(f"cannot put your {path} back: something else is there now; your original "
                                f"is kept at {saved}")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(saved), str(path))
        folder = saved.parent
        while folder != backups_dir() and backups_dir() in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    try:
        backups_dir().rmdir()
    except OSError:
        pass


def _restore_settings(record: dict[str, Any]) -> None:
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
