"""`cleancut install HOST`: put a plug-in where the user's editor finds it (`cleancut uninstall`
takes it away again: see uninstall).

What is editor-specific (its folders, its bundles, switching the plug-in on) comes from the
editor's module in core/hosts/; this module does what is the same for every editor: it copies
the bundle, tells the client which Python runs the engine (settings file), and writes
everything it did to a record in cleancut's settings folder (see install_record), so uninstall
removes exactly that and restores what it changed.

Nothing of the user's is lost: a file (or link, or folder) already at a path the plug-in needs
that an earlier `cleancut install` did not put there is moved aside into cleancut's settings
folder (backups/), said so, recorded, and moved back by uninstall. Links on the way that belong
to the editor (Krita's pykrita/) are followed; a link where the plug-in's own folder goes (a
developer's checkout linked into plug-ins/) is moved aside as a link, never written through.

An install is all or nothing: every step notes how to undo it (see install_changes), and any
failure (a full disk, a read-only folder, Ctrl-C, SIGTERM, an editor that will not switch the
plug-in on) undoes them all before the error is shown, so the user's files, the record and the
settings are as they were. Uninstall removes only what install made: a link the user put on the
way is left (and named), a file the user edited is moved to edited/ in the settings folder (and
named), and a record that names paths outside the plug-in's folder is refused before anything
is touched.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable

from . import bundles, config, hosts, pathops, stopping
from .errors import CleancutError
from .hosts import Editor, Target, Where
from .install_changes import (Changes, keep_copy, make_dirs, reason, set_aside, signals_held, stash, tidy,
                              undo, write)
from .install_record import backups_dir, load_record, record_path, root_key, save_record


class InstallError(CleancutError):
    """An install that could not finish and was undone: it names the folder and the reason."""


def find_targets(host: str, host_version: str | None = None, blender: str | None = None,
                 where: Where | None = None) -> list[Target]:
    """Every installation of HOST found in the user's folders (or the one version asked for)."""
    editor = hosts.get(host)
    if blender and host != "blender":
        raise CleancutError("--blender names a Blender executable: use it with `cleancut install blender`")
    return editor.find(where or Where(), host_version, blender)


def install(host: str, host_version: str | None = None, dry_run: bool = False, blender: str | None = None,
            where: Where | None = None, say: Callable[[str], None] = print) -> list[Target]:
    """Install HOST's plug-in everywhere it is found; print what was (or would be) done.

    All or nothing: when any step fails, every step before it is undone, then the error is raised
    (an InstallError naming the folder and the reason for a failed file operation)."""
    editor = hosts.get(host)
    # Both files are read before anything is touched: a damaged one stops the install here.
    settings = config.load_config()
    record = load_record()
    targets = find_targets(host, host_version, blender, where)
    if dry_run:
        for target in targets:
            files = bundles.contents(target.bundle)
            _announce(editor, target, files, _in_the_way(target, files, _earlier_entry(record, target)), True, say)
        say(f"would set the engine Python to {sys.executable} in {config.config_path()}")
        return targets
    changes = Changes()
    try:
        with stopping.unwinding():
            _apply(editor, targets, record, settings, changes, say)
    except BaseException as err:
        with signals_held():
            problems = undo(changes)
        if not isinstance(err, Exception):  # Ctrl-C, SIGTERM: the error line is the caller's
            say("stopped: " + ("could not put back: " + "; ".join(problems) if problems else "nothing was changed"))
        raise _reported(err, problems) from None
    tidy(changes, say)
    return targets


def _apply(editor: Editor, targets: list[Target], record: dict[str, Any], settings: dict[str, Any],
           changes: Changes, say: Callable[[str], None]) -> None:
    """Every step of an install, each noting its undo in changes."""
    make_dirs(config.config_dir(), changes)
    keep_copy(record_path(), changes)
    keep_copy(config.config_path(), changes)
    entries = []
    for target in targets:
        files = bundles.contents(target.bundle)
        earlier = _earlier_entry(record, target)
        aside = _in_the_way(target, files, earlier)
        _announce(editor, target, files, aside, False, say)
        if earlier:
            record["installs"].remove(earlier)
        entries.append(_install_files(target, files, earlier, aside, changes))
        record["installs"].append(entries[-1])
    save_record(record)
    for target, entry in zip(targets, entries):
        switched = editor.switch_on(target)
        if switched is not None:
            changes.undo.append(partial(editor.switch_off, switched, say))
            entry["switch"] = switched
            save_record(record)
        for line in editor.hints(target):
            say(f"  {line}")
    say(f"setting the engine Python to {sys.executable} in {config.config_path()}")
    if "engine_python_previous" not in record:
        record["engine_python_previous"] = settings.get("engine_python")
        record["settings_created"] = not config.config_path().exists()
        save_record(record)
    settings["engine_python"] = sys.executable
    config.save_config(settings)


def _announce(editor: Editor, target: Target, files: dict[str, bytes], aside: list[str], dry_run: bool,
              say: Callable[[str], None]) -> None:
    say(f"{'would install' if dry_run else 'installing'} the {target.describe()} plug-in into {target.root}")
    for rel in files:
        say(f"  {target.root / rel}")
    for rel in aside:
        say(f"  {'would move' if dry_run else 'moving'} your {target.root / rel} aside to "
            f"{_backup_path(target, rel)} (uninstall puts it back)")
    for line in editor.switch_plan(target):
        say(f"  {line}")


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
                if sub not in ours_files or path.is_symlink() or not path.is_file():
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
    return backups_dir() / f"{target.bundle.name}-{root_key(target.bundle.name, str(target.root))}" / rel


def _install_files(target: Target, files: dict[str, bytes], earlier: dict[str, Any] | None,
                   aside: list[str], changes: Changes) -> dict[str, Any]:
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
        stash(set_aside(target.root / rel, changes), backup, changes)
        entry["backups"][rel] = str(backup)
    for rel, data in files.items():
        path = target.root / rel
        make_dirs(path.parent, changes, entry["created_dirs"])
        if os.path.lexists(path):  # the earlier install's own file: deleted once all succeeded
            changes.tidy.append(partial(pathops.remove, set_aside(path, changes)))
        write(path, data, rel in target.bundle.executable, changes)
        entry["files"][rel] = bundles.sha256(data)
    for rel in (earlier or {}).get("files", {}):
        path = target.root / rel
        if (rel not in files and os.path.lexists(path)
                and not pathops.link_on_the_way(target.root, rel, target.bundle.shared)):
            changes.tidy.append(partial(pathops.remove, set_aside(path, changes)))  # a file an older version had
    return entry


def _reported(err: BaseException, problems: list[str]) -> BaseException:
    """The error the user sees once the install is undone: one line, naming what was not put back."""
    outcome = f"; could not put back: {'; '.join(problems)}" if problems else "; nothing was changed"
    if isinstance(err, OSError):
        folder = Path(err.filename).parent if err.filename else "a folder"
        return InstallError(f"could not install into {folder}: {reason(err)}{outcome}")
    if isinstance(err, CleancutError) and problems:
        return CleancutError(f"{err}{outcome}")
    return err
