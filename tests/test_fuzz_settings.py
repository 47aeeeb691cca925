"""Property-based fuzzing of the settings file (config.json) as the engine and the editors' client read it.

Invariants, for any bytes and any JSON value in the file: config.load_config() returns a dict
or raises one CleancutError that names the file; everything built on it (offline, commercial
use, user catalogs, the licence gate's acceptances) does the same; a flag is never true unless
the file says true (or a word meaning it); the client's engine lookup returns a string or
raises its CleancutError of kind "setup", never another exception; reading never changes the file.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from cleancut import config, licences
from cleancut.catalog import load_catalog
from cleancut.cleancut_client import CleancutError as ClientError
from cleancut.cleancut_client import find_engine_python
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
