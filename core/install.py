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

An install is all or nothing: every step notes how to undo it, and any failure (a full disk, a
read-only folder, Ctrl-C, SIGTERM, an editor that will not switch the plug-in on) undoes them
all before the error is shown, so the user's files, the record and the settings are as they
were. Uninstall removes only what install made: a link the user put on the way is left (and
named), a file the user edited is moved to edited/ in the settings folder (and named), and a
record that names paths outside the plug-in's folder is refused before anything is touched.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

from . import bundles, config, hosts, smallfiles, stopping
from .errors import CleancutError
from .hosts import Editor, Target, Where
from .hosts.base import write_atomic


class InstallError(CleancutError):
    """An install that could not finish and was undone: it names the folder and the reason."""


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
    """What install moved aside, until uninstall puts it back."""
    return config.config_dir() / "backups"


def edited_dir() -> Path:
    """Plug-in files the user edited, kept by uninstall (which deletes only what install wrote)."""
    return config.config_dir() / "edited"


# installed.json lists a few dozen files per editor version: far below this.
RECORD_MAX_BYTES = 1 << 20


def load_record() -> dict[str, Any]:
    """installed.json, checked: a damaged or hand-edited record is an error naming the file."""
    path = record_path()
    try:
        raw = smallfiles.read_small(path, "the install record", RECORD_MAX_BYTES)
        if raw is None:
            return {"installs": []}
        data = json.loads(raw.decode("utf-8"))
    except (smallfiles.SmallFileError, ValueError) as err:
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
        problem = _paths_problem(entry)
        if problem:
            return where + problem
    return None


def _paths_problem(entry: dict[str, Any]) -> str | None:
    """A recorded path that is not where install puts things, or None.

    Uninstall deletes, moves and removes folders at these paths: each must lie inside the plug-in
    folder (backups inside backups/, created folders inside or above the plug-in folder), written
    plainly, with no `..` to climb out and no absolute path to jump out."""
    editor = hosts.EDITORS[entry["host"]]
    root = entry["root"]
    if not _plain_absolute(root) or (editor.root_names and Path(root).name not in editor.root_names):
        return f'["root"] is {_quoted(root)}, not the full path of a {editor.title} plug-in folder'
    for key in ("files", "backups"):
        for rel in entry.get(key, {}):
            if not _plain_relative(rel):
                return f'["{key}"] names {_quoted(rel)}, which is not inside the plug-in folder {root}'
    for saved in entry.get("backups", {}).values():
        if not _plain_absolute(saved) or backups_dir() not in Path(saved).parents:
            return f'["backups"] keeps a file at {_quoted(saved)}, which is not inside {backups_dir()}'
    for folder in entry.get("created_dirs", []):
        made, top = Path(folder), Path(root)
        if not _plain_absolute(folder) or not (made == top or top in made.parents or made in top.parents):
            return (f'["created_dirs"] names {_quoted(folder)}, which is neither inside nor above the plug-in '
                    f"folder {root}")
    return None


def _quoted(text: str) -> str:
    """A recorded path as it is written in installed.json, whole (the user has to find it there)."""
    return json.dumps(text, ensure_ascii=False)


def _plain_absolute(text: str) -> bool:
    path = Path(text)
    return "\0" not in text and path.is_absolute() and str(path) == text and ".." not in path.parts


def _plain_relative(rel: str) -> bool:
    """A/B/C below a folder: no `..`, `.`, empty, absolute or drive parts, no backslashes."""
    return (bool(rel) and not any(c in rel for c in "\\:\0")
            and all(part not in ("", ".", "..") for part in rel.split("/")))


def save_record(data: dict[str, Any]) -> None:
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".installed-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- install ---

@dataclass
class _Changes:
    """What an install has done so far: how to undo each step, and what to tidy once all succeeded."""

    undo: list[Callable[[], Any]] = field(default_factory=list)
    tidy: list[Callable[[], Any]] = field(default_factory=list)


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
    changes = _Changes()
    try:
        with stopping.unwinding():
            _apply(editor, targets, record, settings, changes, say)
    except BaseException as err:
        with _signals_held():
            problems = _undo(changes)
        if not isinstance(err, Exception):  # Ctrl-C, SIGTERM: the error line is the caller's
            say("stopped: " + ("could not put back: " + "; ".join(problems) if problems else "nothing was changed"))
        raise _reported(err, problems) from None
    _tidy(changes, say)
    return targets


def _apply(editor: Editor, targets: list[Target], record: dict[str, Any], settings: dict[str, Any],
           changes: _Changes, say: Callable[[str], None]) -> None:
    """Every step of an install, each noting its undo in changes."""
    _make_dirs(config.config_dir(), changes)
    _keep_copy(record_path(), changes)
    _keep_copy(config.config_path(), changes)
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
    return backups_dir() / f"{target.bundle.name}-{_root_key(target.bundle.name, str(target.root))}" / rel


def _root_key(bundle: str, root: str) -> str:
    return hashlib.sha256(f"{bundle}\0{root}".encode()).hexdigest()[:12]


def _install_files(target: Target, files: dict[str, bytes], earlier: dict[str, Any] | None,
                   aside: list[str], changes: _Changes) -> dict[str, Any]:
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
        _stash(_set_aside(target.root / rel, changes), backup, changes)
        entry["backups"][rel] = str(backup)
    for rel, data in files.items():
        path = target.root / rel
        _make_dirs(path.parent, changes, entry["created_dirs"])
        if os.path.lexists(path):  # the earlier install's own file: deleted once all succeeded
            changes.tidy.append(partial(_remove, _set_aside(path, changes)))
        _write(path, data, rel in target.bundle.executable, changes)
        entry["files"][rel] = bundles.sha256(data)
    for rel in (earlier or {}).get("files", {}):
        path = target.root / rel
        if rel not in files and os.path.lexists(path) and not _link_on_the_way(target.root, rel, target.bundle.shared):
            changes.tidy.append(partial(_remove, _set_aside(path, changes)))  # a file an older version had
    return entry


# --- install's steps, each undoable ---

def _make_dirs(folder: Path, changes: _Changes, created: list[str] | None = None) -> None:
    """mkdir -p, noting each folder it made (in created: uninstall removes those, when empty)."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir()
        changes.undo.append(each.rmdir)
        if created is not None:
            created.append(str(each))


def _set_aside(path: Path, changes: _Changes) -> Path:
    """Rename path out of the way within its own folder (needs no space); undone by renaming it back."""
    hidden = path.with_name(f".{path.name}.cleancut-{secrets.token_hex(4)}")  # a name no editor loads
    os.rename(path, hidden)
    changes.undo.append(partial(os.replace, hidden, path))
    return hidden


def _stash(hidden: Path, backup: Path, changes: _Changes) -> None:
    """Something of the user's, set aside, into backups/: renamed, or across disks copied (the original
    is deleted only once the whole install has succeeded, so undoing needs no space)."""
    _make_dirs(backup.parent, changes)
    try:
        os.rename(hidden, backup)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
    else:
        changes.undo.append(partial(os.rename, backup, hidden))
        return
    try:
        _copy(hidden, backup)
    except BaseException as err:
        _remove(backup)
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(backup)
        raise
    changes.undo.append(partial(_remove, backup))
    changes.tidy.append(partial(_remove, hidden))


def _copy(source: Path, target: Path) -> None:
    """A file, link (as a link) or folder copied with its modes and times; errors stay plain OSErrors."""
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    elif source.is_dir():
        target.mkdir()
        for child in sorted(source.iterdir()):
            _copy(child, target / child.name)
        shutil.copystat(source, target)
    else:
        shutil.copy2(source, target)


def _write(path: Path, data: bytes, executable: bool, changes: _Changes) -> None:
    try:
        write_atomic(path, data, executable=executable)
    except OSError as err:
        if err.filename is None:  # a failed write() does not say where
            err.filename = str(path)
        raise
    changes.undo.append(partial(path.unlink, missing_ok=True))


def _keep_copy(path: Path, changes: _Changes) -> None:
    """Before a settings file is rewritten: its copy to put back if the install is undone."""
    if not os.path.lexists(path):
        changes.undo.append(partial(path.unlink, missing_ok=True))
        return
    copy = path.with_name(f".{path.name}.cleancut-{secrets.token_hex(4)}")
    try:
        try:
            os.link(path, copy, follow_symlinks=False)  # the same file: no space needed
        except (OSError, NotImplementedError):
            shutil.copy2(path, copy, follow_symlinks=False)
    except BaseException:
        _remove(copy)
        raise
    changes.undo.append(partial(_put_back, copy, path))
    changes.tidy.append(partial(_remove, copy))


def _put_back(copy: Path, path: Path) -> None:
    """The kept copy back in place (a hard link to a file not rewritten after all is simply dropped:
    rename() between two links of one file does nothing)."""
    if os.path.lexists(path) and os.path.samestat(os.lstat(copy), os.lstat(path)):
        copy.unlink()
    else:
        os.replace(copy, path)


def _remove(path: Path) -> None:
    """Delete a file, link or folder (a link itself, never what it points to); nothing there is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _undo(changes: _Changes) -> list[str]:
    """Every step undone, newest first; what could not be put back, one text each."""
    problems = []
    for step in reversed(changes.undo):
        try:
            step()
        except Exception as err:  # noqa: BLE001 - the other steps are still undone
            problems.append(_failure_text(err))
    return problems


def _tidy(changes: _Changes, say: Callable[[str], None]) -> None:
    """After success: delete the earlier plug-in files and copies that were kept for undoing."""
    for step in changes.tidy:
        try:
            step()
        except OSError as err:
            say(f"  could not delete {err.filename} ({_reason(err)}): delete it yourself")


def _reported(err: BaseException, problems: list[str]) -> BaseException:
    """The error the user sees once the install is undone: one line, naming what was not put back."""
    outcome = f"; could not put back: {'; '.join(problems)}" if problems else "; nothing was changed"
    if isinstance(err, OSError):
        folder = Path(err.filename).parent if err.filename else "a folder"
        return InstallError(f"could not install into {folder}: {_reason(err)}{outcome}")
    if isinstance(err, CleancutError) and problems:
        return CleancutError(f"{err}{outcome}")
    return err


def _reason(err: OSError) -> str:
    """"no space left on device", "permission denied"…: the system's words, as part of a sentence."""
    text = os.strerror(err.errno) if err.errno else (str(err) or type(err).__name__)
    return text[:1].lower() + text[1:]


def _failure_text(err: Exception) -> str:
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename} ({_reason(err)})"
    return str(err)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Undoing is not cut short by a second Ctrl-C or SIGTERM: they wait, then interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {number: signal.signal(number, lambda got, frame: arrived.append(got))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
    if arrived:
        raise KeyboardInterrupt


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
            raise CleancutError(f"could not uninstall from {folder}: {_reason(err)}; what is left stays recorded: "
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


def _link_on_the_way(root: Path, rel: str, shared: tuple[str, ...]) -> Path | None:
    """The first link from root down to root/rel (itself included) that install did not follow.

    Install never makes links, and follows only the editor's own folders (shared); any other link
    there was put by the user after install, and what it points to is theirs."""
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        sub = "/".join(parts[:depth])
        path = root / sub
        if path.is_symlink() and sub not in shared:
            return path
        if not os.path.lexists(path):
            return None
    return None


def _remove_files(entry: dict[str, Any], shared: tuple[str, ...], say: Callable[[str], None]) -> None:
    """Delete the plug-in's files; links the user put there stay, and files the user edited are kept."""
    root = Path(entry["root"])
    told: set[Path] = set()
    for rel, digest in entry["files"].items():
        path = root / rel
        link = _link_on_the_way(root, rel, shared)
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
    base = edited_dir() / f"{entry['bundle']}-{_root_key(entry['bundle'], entry['root'])}"
    kept, count = base / rel, 1
    while os.path.lexists(kept):
        count += 1
        kept = base.with_name(f"{base.name}-{count}") / rel
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(kept))
    except OSError as err:
        say(f"  you had edited {path}: it is left where it is (it could not be moved to {kept}: {_reason(err)})")
        return
    say(f"  you had edited {path}: your copy is kept at {kept}")


def _remove_empty_folder(root: Path, folder: Path, shared: tuple[str, ...]) -> None:
    """A folder install made, removed when empty; never one reached through a link the user put there."""
    if root in folder.parents and _link_on_the_way(root, folder.relative_to(root).as_posix(), shared):
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
        link = _link_on_the_way(root, rel, shared)
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
