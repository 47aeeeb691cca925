"""Shared fixtures for tests that drive the real editors (installed by tests/hosts/setup.sh).

Host tests never skip silently: when an editor is missing they fail and say to run
tests/hosts/setup.sh (the README's test command does). CLEANCUT_SKIP_HOSTS=1 skips them on
purpose, for a quick local run.
"""

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


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CLEANCUT_SKIP_HOSTS") == "1":
        skip = pytest.mark.skip(reason="CLEANCUT_SKIP_HOSTS=1")
        for item in items:
            if HERE in Path(str(item.fspath)).parents:
                item.add_marker(skip)


def require(path: str | Path, what: str) -> None:
    if not Path(path).exists():
        pytest.fail(f"{what} is not installed ({path} missing): run `sudo tests/hosts/setup.sh`")


@pytest.fixture(scope="session")
def host_scratch(tmp_path_factory) -> Path:
    """A session folder under /tmp shared by host tests (bound into the chroot at the same path)."""
    return tmp_path_factory.mktemp("hosts")


@pytest.fixture(scope="session")
def model_cache(host_scratch) -> Path:
    """A cache with the real u2netp fetched and verified once per session."""
    cache = host_scratch / "cache"
    env = dict(os.environ, CLEANCUT_CACHE_DIR=str(cache))
    subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", "u2netp", "-q"],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return cache


@pytest.fixture(scope="session")
def trixie_engine(host_scratch) -> Path:
    """cleancut built as a wheel and installed for the chroot's Python 3.13 (pure Python)."""
    require(TRIXIE / ".cleancut-ready", "the Debian 13 chroot")
    require(TRIXIE / SITE313.lstrip("/") / ".ready", "the chroot's Python 3.13 wheels")
    wheels = host_scratch / "wheels"
    target = host_scratch / "engine313"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True)
    (wheel,) = wheels.glob("cleancut-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    return target


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
