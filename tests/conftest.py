"""Shared fixtures: an isolated cache and config per test, tiny real models, a loopback server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hostkit import become_subreaper

from cleancut import fetch, segment

from support import LoopbackServer, catalog_entry, red_channel_model, slow_model

# The shared worker is detached on purpose; this sandbox's PID 1 terminates orphans some seconds
# after they lose their parent, which a real desktop never does (hostkit.processes says more).
become_subreaper()


# Hypothesis profiles for tests/test_fuzz_*.py: "cleancut" (loaded here, 150 examples a target)
# runs the whole fuzz set in about 40 s on 2 cores; `--hypothesis-profile=long` runs 20 times as
# many examples (about 15 minutes).
# Deadlines are each test's own (a reply within N s), not Hypothesis' per-example timer, which
# a loaded shared machine would trip. No example database: runs do not depend on earlier ones.
from hypothesis import HealthCheck, settings  # noqa: E402

_FUZZ = dict(deadline=None, database=None, print_blob=True,
             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                    HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("cleancut", max_examples=150, **_FUZZ)
settings.register_profile("long", max_examples=3000, **_FUZZ)
settings.load_profile("cleancut")


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """Every test gets its own empty cache and settings; no user file is ever touched."""
    root = tmp_path_factory.mktemp("cleancut-home")
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(root / "cache"))
    monkeypatch.setenv("CLEANCUT_CONFIG_DIR", str(root / "config"))
    for name in ("CLEANCUT_OFFLINE", "CLEANCUT_COMMERCIAL", "CLEANCUT_CATALOG", "CLEANCUT_FETCH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    fetch.forget_verified()
    segment.clear_sessions()
    yield root


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty home; cleancut's settings in its ~/.config/cleancut as on a desktop."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CLEANCUT_CONFIG_DIR", str(home / ".config" / "cleancut"))
    return home


@pytest.fixture
def red_model() -> bytes:
    return red_channel_model()


@pytest.fixture
def user_catalog(tmp_path, monkeypatch):
    """Write a user catalog file and point CLEANCUT_CATALOG at it."""

    def write(text: str) -> Path:
        path = tmp_path / "my-models.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("CLEANCUT_CATALOG", str(path))
        return path

    return write


@pytest.fixture
def server():
    srv = LoopbackServer()
    yield srv
    srv.close()


@pytest.fixture
def engine_models(user_catalog, red_model, server):
    """Custom models 'red' (16², instant) and 'slow' (1024², seconds), fetched into the cache."""
    slow = slow_model()
    text = catalog_entry("red", red_model, f'{{ kind = "url", url = "{server.add("/red.onnx", "ok", red_model)}" }}')
    text += catalog_entry("slow", slow, f'{{ kind = "url", url = "{server.add("/slow.onnx", "ok", slow)}" }}', size=1024)
    text += catalog_entry("gpl", red_model, f'{{ kind = "url", url = "{server.base}/red.onnx" }}', licence="GPL-3.0-only")
    user_catalog(text)
    from cleancut.catalog import load_catalog

    for model_id in ("red", "slow", "gpl"):
        fetch.ensure(load_catalog().get(model_id), progress=False)
    return "red", "slow"


PAIR_PRESET = """
[presets.pair]
name = "Test pair"
models = ["red", "gpl"]
flip = ["gpl"]
refine = "best"
"""


@pytest.fixture
def engine_preset(engine_models):
    """A user preset 'pair': 'red' draws the outline, 'gpl' (mirrored too) supports it."""
    path = Path(os.environ["CLEANCUT_CATALOG"])
    path.write_text(path.read_text(encoding="utf-8") + PAIR_PRESET, encoding="utf-8")
    return "pair"


@pytest.fixture(scope="session")
def real_model_cache(tmp_path_factory) -> Path:
    """A model cache shared by the whole session, so each real model is fetched once."""
    return tmp_path_factory.mktemp("real-model-cache")


@pytest.fixture
def real_cache(real_model_cache, monkeypatch) -> Path:
    """Point this test at the shared real-model cache (its settings stay isolated)."""
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(real_model_cache))
    return real_model_cache



@pytest.fixture
def tiny_disk(tmp_path) -> Path:
    """A real 64 KiB tmpfs, unmounted after the test: a write that does not fit fails with a
    real ENOSPC. Skipped where mounting is not allowed (it needs root, as CI has)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
