"""Shared fixtures for tests that drive the real editors (installed by tests/hosts/setup.sh).

Host tests never skip silently: when an editor is missing they fail and say to run
tests/hosts/setup.sh (the README's test command does). CLEANCUT_SKIP_HOSTS=1 skips them on
purpose, for a quick local run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hostkit import CHROOTS, HERE, build_engine_site


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
    """cleancut as a wheel installed into a folder, for every chroot (hostkit.build_engine_site)."""
    return build_engine_site(host_scratch)


@pytest.fixture(scope="session")
def chroot_engine(engine_wheel_site):
    """chroot_engine("sid") -> the engine folder, after checking that chroot is set up."""
    def get(name: str) -> Path:
        CHROOTS[name].require()
        return engine_wheel_site
    return get
