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

from hostkit import CHROOTS, HERE, REPO, SID_CHROOT, TRIXIE_CHROOT


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CLEANCUT_SKIP_HOSTS") == "1":
        skip = pytest.mark.skip(reason="CLEANCUT_SKIP_HOSTS=1")
        for item in items:
            if HERE in Path(str(item.fspath)).parents:
                item.add_marker(skip)


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
def engine_wheel_site(host_scratch) -> Path:
    """cleancut built as a wheel and installed into a folder (pure Python: any chroot's Python
    puts it on PYTHONPATH beside that chroot's binary wheels)."""
    wheels = host_scratch / "wheels"
    target = host_scratch / "engine-site"
    shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools would reuse stale build/lib files
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True)
    (wheel,) = wheels.glob("cleancut-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    return target


@pytest.fixture(scope="session")
def trixie_engine(engine_wheel_site) -> Path:
    """The engine for the Debian 13 chroot's Python 3.13."""
    TRIXIE_CHROOT.require()
    return engine_wheel_site


@pytest.fixture(scope="session")
def sid_engine(engine_wheel_site) -> Path:
    """The engine for the Debian sid chroot's Python 3.14."""
    SID_CHROOT.require()
    return engine_wheel_site


@pytest.fixture(scope="session")
def chroot_engine(engine_wheel_site):
    """chroot_engine("sid") -> the engine folder, after checking that chroot is set up."""
    def get(name: str) -> Path:
        CHROOTS[name].require()
        return engine_wheel_site
    return get
