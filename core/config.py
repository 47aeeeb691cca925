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

from .errors import CleancutError

ENV_CACHE_DIR = "CLEANCUT_CACHE_DIR"
ENV_CONFIG_DIR = "CLEANCUT_CONFIG_DIR"
ENV_OFFLINE = "CLEANCUT_OFFLINE"
ENV_COMMERCIAL = "CLEANCUT_COMMERCIAL"
ENV_CATALOG = "CLEANCUT_CATALOG"

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
    """The user's settings; an absent file means defaults, a broken one is an error to fix."""
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise CleancutError(f"cannot read the settings file {path}: {err.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise CleancutError(
            f"the settings file {path} is not valid JSON ({err}); fix it or delete it to start afresh"
        ) from None
    if not isinstance(data, dict):
        raise CleancutError(f"the settings file {path} must hold a JSON object; fix it or delete it")
    return data


def save_config(data: dict[str, Any]) -> None:
    """Write the settings atomically, so a crash never leaves a half-written file."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
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
    return bool(load_config().get(config_key, False))


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
    configured = load_config().get("catalog", [])
    if isinstance(configured, str):
        configured = [configured]
    paths += [Path(p).expanduser() for p in configured]
    return paths
