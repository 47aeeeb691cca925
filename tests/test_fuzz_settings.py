"""Property-based fuzzing of the settings file (config.json) as the engine and the editors' client read it.

Invariants, for any bytes and any JSON value in the file: config.load_config() returns a dict
or raises one CleancutError that names the file; everything built on it (offline, commercial
use, user catalogs, the licence gate's acceptances) does the same; a flag is never true unless
the file says true (or a word meaning it); the client's engine lookup returns a string or
raises its CleancutError of kind "setup", never another exception; reading never changes the file.

Also here, the settings path holding something other than a small regular file (a FIFO, a
device, a directory, a runaway file): refused in one line, never read, never blocking.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleancut import config, licences
from cleancut.catalog import load_catalog
from cleancut.cleancut_client import CleancutError as ClientError
from cleancut.cleancut_client import find_engine_python
from cleancut.config import MAX_CONFIG_BYTES
from cleancut.errors import CleancutError

KEYS = ["offline", "commercial_use", "catalog", "engine_python", "accepted_licences", "other"]
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
ANY_JSON = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
SETTINGS = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), ANY_JSON, max_size=4).map(lambda d: json.dumps(d).encode()),
    ANY_JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)
TRUE_WORDS = {"1", "true", "yes", "on"}


def _write(raw: bytes) -> None:
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)


@given(raw=SETTINGS)
def test_any_settings_file_is_read_or_refused_with_its_name(raw):
    _write(raw)
    path = config.config_path()
    try:
        data = config.load_config()
    except CleancutError as err:
        assert str(path) in str(err)
    else:
        assert isinstance(data, dict)
        for flag, read in (("offline", config.offline), ("commercial_use", config.commercial_use)):
            value = data.get(flag)
            assert read() is (value is True or isinstance(value, str) and value.strip().lower() in TRUE_WORDS)
        assert all(p.name for p in config.user_catalog_paths())
    assert path.read_bytes() == raw


@given(raw=SETTINGS)
def test_the_licence_gate_reads_any_settings_file_without_a_traceback(raw):
    config.config_path().unlink(missing_ok=True)  # an earlier example's file
    entry = load_catalog().get("u2netp")
    _write(raw)
    try:
        licences.is_accepted(entry)
        licences.check(entry)
    except CleancutError as err:
        assert str(config.config_path()) in str(err)


@given(raw=SETTINGS)
def test_the_editor_client_finds_an_engine_or_says_what_is_wrong(raw, monkeypatch):
    monkeypatch.delenv("CLEANCUT_ENGINE_PYTHON", raising=False)
    _write(raw)
    try:
        found = find_engine_python()
    except ClientError as err:
        assert err.kind == "setup"
    else:
        assert isinstance(found, str) and found


# --- special and oversized settings files ---

ADVICE = "replace it with a JSON settings file or delete it"


def _fifo_settings() -> str:
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return str(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
@pytest.mark.parametrize("command", [["models", "list"], ["models", "accept", "rvm"]])
def test_the_cli_refuses_a_fifo_as_the_settings_file_in_one_line_without_hanging(command):
    path = _fifo_settings()
    done = subprocess.run([sys.executable, "-m", "cleancut", *command], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"cleancut: the settings file {path} is a named pipe (FIFO), not a regular file; {ADVICE}\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
def test_saving_the_settings_over_a_fifo_is_refused_without_blocking_and_leaves_it():
    path = _fifo_settings()
    with pytest.raises(CleancutError) as err:
        config.save_config({"offline": True})
    assert str(err.value) == (f"the settings file {path} is a named pipe (FIFO), not a regular file; cleancut will "
                              "not replace it: delete it or move it away")
    assert os.path.exists(path) and not os.path.isfile(path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_settings_file_linked_to_dev_zero_is_refused_without_reading_it():
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.symlink_to("/dev/zero")
    with pytest.raises(CleancutError) as err:
        config.load_config()
    assert str(err.value) == f"the settings file {path} is a character device, not a regular file; {ADVICE}"


def test_a_directory_at_the_settings_path_is_refused():
    config.config_path().mkdir(parents=True)
    with pytest.raises(CleancutError) as err:
        config.load_config()
    assert str(err.value) == f"the settings file {config.config_path()} is a folder, not a regular file; {ADVICE}"


def test_a_settings_file_over_1_mib_is_refused():
    _write(b" " * MAX_CONFIG_BYTES + b"{}")
    with pytest.raises(CleancutError) as err:
        config.load_config()
    assert str(err.value) == (f"the settings file {config.config_path()} is larger than 1 MiB, far more than such a "
                              f"file ever holds; {ADVICE}")


def test_a_settings_file_of_exactly_1_mib_is_read():
    _write(b" " * (MAX_CONFIG_BYTES - 2) + b"{}")
    assert config.load_config() == {}


def test_a_catalog_path_with_a_nul_character_in_the_settings_is_refused():
    _write(json.dumps({"catalog": ["a\u0000b"]}).encode())
    with pytest.raises(CleancutError) as err:
        config.load_config()
    assert str(err.value) == (f'the settings file {config.config_path()}: "catalog" must be a file path or a list of '
                              'file paths, not ["a\\u0000b"]; fix it or delete the key')
