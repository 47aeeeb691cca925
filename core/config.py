"""Where cleancut keeps its files, and the user's settings.

Settings live in one JSON file (``config.json`` in the user config folder) because the
host-side client must read it too, with nothing but Python's standard library (even 2.7).
Every location can be overridden by an environment variable, which is how tests, studios
and portable installs point cleancut somewhere else.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from .errors import CleancutError, brief
from .smallfiles import MiB, SmallFileError, existing_special_kind, read_small

ENV_CACHE_DIR = "CLEANCUT_CACHE_DIR"
ENV_CONFIG_DIR = "CLEANCUT_CONFIG_DIR"
ENV_OFFLINE = "CLEANCUT_OFFLINE"
ENV_COMMERCIAL = "CLEANCUT_COMMERCIAL"
ENV_CATALOG = "CLEANCUT_CATALOG"

# Settings are a few flags, paths and one acceptance record per model: kilobytes. The cap
# only stops a runaway or hostile file from being read into memory whole.
MAX_CONFIG_BYTES = 1 * MiB

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def cache_dir() -> Path:
    """The per-user cache folder that holds downloaded model files."""
    override = os.environ.get(ENV_CACHE_DIR)
    return Path(override) if override else Path(platformdirs.user_cache_dir("cleancut"))


def models_dir() -> Path:
    return cache_dir() / "models"


def config_dir() -> Path:
    override = os.environ.get(ENV_CONFIG_DIR)
    return Path(override) if override else Path(platformdirs.user_config_dir("cleancut"))


def config_path() -> Path:
    return config_dir() / "config.json"


def load_config() -> dict[str, Any]:
    """The user's settings; an absent file means defaults, a broken one is an error to fix.

    Broken includes valid JSON of the wrong shape: the known keys are checked here, once, so
    every caller (remove, models, install, uninstall, doctor, the worker) gets one
    CleancutError naming the file and the key instead of a traceback somewhere later.
    Unknown keys are kept as they are (a newer cleancut may have written them).
    Only a regular file of at most MAX_CONFIG_BYTES is read (see smallfiles): a FIFO or a
    device at this path would otherwise hang every command.
    """
    path = config_path()
    try:
        raw = read_small(path, "the settings file", MAX_CONFIG_BYTES)
    except SmallFileError as err:
        raise CleancutError(f"{err}; replace it with a JSON settings file or delete it") from None
    if raw is None:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise CleancutError(f"the settings file {path} is nested too deeply to be settings; fix it or "
                            "delete it to start afresh") from None
    except ValueError as err:  # UnicodeDecodeError included
        raise CleancutError(
            f"the settings file {path} is not valid JSON ({err}); fix it or delete it to start afresh"
        ) from None
    if not isinstance(data, dict):
        raise CleancutError(f"the settings file {path} must hold a JSON object; fix it or delete it")
    for key, check in _CHECKS.items():
        if key in data:
            problem = check(data[key])
            if problem:
                raise CleancutError(f"the settings file {path}: \"{key}\" {problem}, not "
                                    f"{brief(data[key])}; fix it or delete the key")
    return data


def _check_flag(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return None
    return "must be true or false"


def _is_path(value: Any) -> bool:
    """A string that can name a file: not empty, no NUL (which no operating system allows)."""
    return isinstance(value, str) and bool(value) and "\0" not in value


def _check_path_list(value: Any) -> str | None:
    if _is_path(value) or isinstance(value, list) and all(_is_path(v) for v in value):
        return None
    return "must be a file path or a list of file paths"


def _check_path(value: Any) -> str | None:
    return None if value is None or _is_path(value) else "must be a path (a string)"


def _check_acceptances(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return None
    return 'must map model ids to records like {"licence": "GPL-3.0-only", ...}'


_CHECKS = {
    "offline": _check_flag,
    "commercial_use": _check_flag,
    "catalog": _check_path_list,
    "engine_python": _check_path,
    "accepted_licences": _check_acceptances,
}


def save_config(data: dict[str, Any]) -> None:
    """Write the settings atomically, so a crash never leaves a half-written file.

    The new file is written beside the old one and renamed over it, so writing never opens
    what is at the path (a FIFO there cannot block it). Something other than a regular file
    there is refused rather than silently replaced: load_config() refuses it too, and the
    user put it there for a reason of their own.
    """
    path = config_path()
    kind = existing_special_kind(path)
    if kind is not None:
        raise CleancutError(f"the settings file {path} is {kind}, not a regular file; cleancut will not "
                            "replace it: delete it or move it away")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise CleancutError(f"cannot write the settings file {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except OSError as err:  # a full disk, a read-only folder
        Path(tmp).unlink(missing_ok=True)
        raise CleancutError(f"cannot write the settings file {path}: {err.strerror or err}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _flag(env_name: str, config_key: str) -> bool:
    raw = os.environ.get(env_name)
    if raw is not None:
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise CleancutError(f"{env_name}={raw!r} is not understood; use 1 or 0")
    setting = load_config().get(config_key)  # load_config has refused anything else
    if isinstance(setting, str):
        return setting.strip().lower() in _TRUE
    return setting is True


def offline() -> bool:
    """Offline mode: use cached models only (env CLEANCUT_OFFLINE or config "offline")."""
    return _flag(ENV_OFFLINE, "offline")


def commercial_use() -> bool:
    """The "commercial use" policy (env CLEANCUT_COMMERCIAL or config "commercial_use")."""
    return _flag(ENV_COMMERCIAL, "commercial_use")


def user_catalog_paths() -> list[Path]:
    """Extra catalog files with the user's own models: env (os.pathsep-separated) then config."""
    paths: list[Path] = []
    raw = os.environ.get(ENV_CATALOG)
    if raw:
        paths += [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
    configured = load_config().get("catalog") or []
    if isinstance(configured, str):
        configured = [configured]
    paths += [Path(p).expanduser() for p in configured]
    return paths
