"""Helpers for tests that drive the real editors: run in the trixie chroot, engine environments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TRIXIE = Path(os.environ.get("TRIXIE", "/var/cache/cleancut-trixie"))
SITE313 = "/opt/site313"


def require(path: str | Path, what: str) -> None:
    if not Path(path).exists():
        pytest.fail(f"{what} is not installed ({path} missing): run `sudo tests/hosts/setup.sh`")


def in_trixie(scratch: Path, argv: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run argv inside the chroot (scratch bound at its own path, HOME=scratch/home)."""
    pairs = [f"{k}={v}" for k, v in env.items()]
    return subprocess.run([str(HERE / "chroot.sh"), "run", str(scratch), "env", *pairs, *argv],
                          capture_output=True, text=True, timeout=timeout)


def engine_env_trixie(engine: Path, cache: Path, config: Path) -> dict[str, str]:
    """Environment for the chroot's /usr/bin/python3 to run the cleancut worker."""
    return {
        "CLEANCUT_ENGINE_PYTHON": "/usr/bin/python3",
        "PYTHONPATH": f"{engine}:{SITE313}",
        "CLEANCUT_CACHE_DIR": str(cache),
        "CLEANCUT_CONFIG_DIR": str(config),
        "CLEANCUT_OFFLINE": "1",
    }


def engine_env_native(cache: Path, config: Path) -> dict[str, str]:
    """Environment for a Debian 12 editor to run the worker with this venv's Python."""
    return {
        "CLEANCUT_ENGINE_PYTHON": sys.executable,
        "CLEANCUT_CACHE_DIR": str(cache),
        "CLEANCUT_CONFIG_DIR": str(config),
        "CLEANCUT_OFFLINE": "1",
    }


def which(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `sudo tests/hosts/setup.sh`")
    return found
