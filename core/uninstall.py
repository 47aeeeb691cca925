"""`cleancut uninstall HOST`: remove what `cleancut install` put there, and put back what it changed.

It goes by the install record alone (see install_record). Only what install made is removed: a
link the user put on the way is left (and named), a file the user edited is moved to edited/ in
the settings folder (and named), and a failure leaves what is not yet undone recorded, so
running uninstall again goes on from there. Once no install is left, the engine Python setting
is put back as it was.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

from . import bundles, config, hosts
from .errors import CleancutError
from .hosts import Editor
from .install_changes import reason
from .install_record import backups_dir, edited_dir, load_record, record_path, root_key, save_record
from .pathops import link_on_the_way


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
        shared = hosts.BUNDLES[entry["bundle"]].shared
        say(f"{'would remove' if dry_run else 'removing'} the {entry['bundle']} plug-in from {root}")
        for rel, backup in sorted(entry.get("backups", {}).items()):
            say(f"  {'would put' if dry_run else 'putting'} your {root / rel} back (from {backup})")
        if dry_run:
            continue
        try:
            _uninstall_entry(editor, entry, shared, say)
            record["installs"].remove(entry)
            save_record(record)
        except OSError as err:  # the entry stays recorded: running uninstall again goes on from here
            folder = Path(err.filename).parent if err.filename else root
            raise CleancutError(f"could not uninstall from {folder}: {reason(err)}; what is left stays recorded: "
                                f"run `cleancut uninstall {host}` again once that is fixed") from None
    if not dry_run and not record["installs"]:
        _restore_settings(record)
        say(f"restored the engine Python setting in {config.config_path()}")
    return len(mine)


def _uninstall_entry(editor: Editor, entry: dict[str, Any], shared: tuple[str, ...],
                     say: Callable[[str], None]) -> None:
    """Switch one install's plug-in off, remove its files and folders, put back what it moved aside."""
    root = Path(entry["root"])
    if entry.get("switch"):
        editor.switch_off(entry["switch"], say)
    _remove_files(entry, shared, say)
    for folder in sorted(entry["created_dirs"], key=len, reverse=True):
        _remove_empty_folder(root, Path(folder), shared)
    _restore(root, entry.get("backups", {}), shared, say)


def _remove_files(entry: dict[str, Any], shared: tuple[str, ...], say: Callable[[str], None]) -> None:
    """Delete the plug-in's files; links the user put there stay, and files the user edited are kept."""
    root = Path(entry["root"])
    told: set[Path] = set()
    for rel, digest in entry["files"].items():
        path = root / rel
        link = link_on_the_way(root, rel, shared)
        if link:
            if link not in told:
                say(f"  left {link} alone: it is a link (to {os.readlink(link)}) that cleancut did not make")
                told.add(link)
            continue
        if not os.path.lexists(path):
            continue
        if not path.is_file():
            say(f"  left {path} alone: cleancut put a file there, not what is there now")
            continue
        if bundles.sha256(path.read_bytes()) != digest:
            _keep_edited(entry, rel, say)
        else:
            path.unlink()
        _clear_pycache(path)


def _keep_edited(entry: dict[str, Any], rel: str, say: Callable[[str], None]) -> None:
    """A plug-in file the user changed since install: moved to edited/ (or left), and said where."""
    path = Path(entry["root"]) / rel
    base = edited_dir() / f"{entry['bundle']}-{root_key(entry['bundle'], entry['root'])}"
    kept, count = base / rel, 1
    while os.path.lexists(kept):
        count += 1
        kept = base.with_name(f"{base.name}-{count}") / rel
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(kept))
    except OSError as err:
        say(f"  you had edited {path}: it is left where it is (it could not be moved to {kept}: {reason(err)})")
        return
    say(f"  you had edited {path}: your copy is kept at {kept}")


def _remove_empty_folder(root: Path, folder: Path, shared: tuple[str, ...]) -> None:
    """A folder install made, removed when empty; never one reached through a link the user put there."""
    if root in folder.parents and link_on_the_way(root, folder.relative_to(root).as_posix(), shared):
        return
    try:
        folder.rmdir()  # only if empty: the user's own files stay
    except OSError:
        pass


def _restore(root: Path, backups: dict[str, str], shared: tuple[str, ...], say: Callable[[str], None]) -> None:
    """Move what install moved aside back to where it was."""
    for rel, backup in sorted(backups.items()):
        path, saved = root / rel, Path(backup)
        if not os.path.lexists(saved):
            say(f"  {saved} is gone: {path} cannot be put back")
            continue
        link = link_on_the_way(root, rel, shared)
        if os.path.lexists(path) or link:
            raise CleancutError(f"cannot put your {path} back: something else is there now"
                                f"{f' ({link} is a link)' if link and link != path else ''}; your original "
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
    if path.suffix == ".py" and cache.is_dir() and not cache.is_symlink():
        for compiled in cache.glob(path.stem + ".*.pyc"):
            compiled.unlink(missing_ok=True)
        try:
            cache.rmdir()
        except OSError:
            pass
