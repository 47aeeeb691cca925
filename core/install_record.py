"""The record of what `cleancut install` did (installed.json), and where it keeps what it moved.

Uninstall deletes, moves and removes folders at the paths this record names, so a record is
read only after its shape and every path in it are checked: a damaged or hand-edited one is an
error naming the file, before anything is touched. What install moved aside waits in backups/
of cleancut's settings folder, and plug-in files the user edited are kept in edited/, each in a
folder per plug-in root (root_key).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from . import config, hosts, smallfiles
from .errors import CleancutError

def record_path() -> Path:
    """installed.json in cleancut's settings folder: what install did, for uninstall to undo."""
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
    """installed.json replaced whole (written aside, then renamed): never left half written."""
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


def root_key(bundle: str, root: str) -> str:
    """A short name for one plug-in root, so that the backups/ and edited/ folders of two
    installs (two editor versions, two bundles) never meet."""
    return hashlib.sha256(f"{bundle}\0{root}".encode()).hexdigest()[:12]
