"""Shared fixtures for tests that drive the real editors (installed by tests/hosts/setup.sh).

Host tests never skip silently: when an editor is missing they fail and say to run
tests/hosts/setup.sh (the README's test command does). CLEANCUT_SKIP_HOSTS=1 skips them on
purpose, for a quick local run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostkit import CHROOTS, HOSTS, build_engine_site, fetch_real_model
from krita_matrix import start_sessions, wanted, write_inputs


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CLEANCUT_SKIP_HOSTS") == "1":
        skip = pytest.mark.skip(reason="CLEANCUT_SKIP_HOSTS=1")
        for item in items:
            if HOSTS in Path(str(item.fspath)).parents:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def host_scratch(tmp_path_factory) -> Path:
    """A session folder under /tmp shared by host tests (bound into the chroot at the same path)."""
    return tmp_path_factory.mktemp("hosts")


@pytest.fixture(scope="session")
def model_cache(host_scratch) -> Path:
    """A cache with the real u2netp fetched and verified once per session."""
    cache = host_scratch / "cache"
    fetch_real_model("u2netp", cache)
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


@pytest.fixture(scope="session")
def krita_inputs(host_scratch) -> dict:
    """The raw layer pixels the Krita scenarios load (krita_matrix.write_inputs)."""
    return write_inputs(host_scratch / "krita-inputs")


@pytest.fixture(scope="session")
def krita_sessions(request, host_scratch, model_cache, krita_inputs, chroot_engine):
    """Every selected Krita version's session, started (threads) and left running: futures."""
    pool, futures = start_sessions(wanted(request.session.items), host_scratch, model_cache, krita_inputs,
                                   chroot_engine)
    yield futures
    pool.shutdown(wait=True)


@pytest.fixture(scope="session", autouse=True)
def krita_side_by_side(request):
    """The Krita matrix sessions start with the first host test and run beside the Blender and
    GIMP tests (on 2 cores they would otherwise add their ~4 minutes after them). A session that
    cannot start fails test_krita.py's tests, not this one: pytest keeps the fixture's error and
    raises it again there."""
    if CLEANCUT_SERIAL_HOSTS or not wanted(request.session.items):
        return
    try:
        request.getfixturevalue("krita_sessions")
    except Exception:
        pass
    except BaseException as failure:  # pytest.fail: an editor is not installed
        if isinstance(failure, (KeyboardInterrupt, SystemExit)):
            raise


CLEANCUT_SERIAL_HOSTS = os.environ.get("CLEANCUT_SERIAL_HOSTS") == "1"  # 1: Krita after the others, as before
