"""Property-based fuzzing of user catalogs, loaded the way the CLI loads them (CLEANCUT_CATALOG).

Invariant, for any file: load_catalog() returns a catalog or raises one ModelError (the
catalog's CleancutError) whose one-line message names the file; what it returns is usable
(every model has a licence class and a card, every preset resolves). Never another exception,
never a hang. The documents are random TOML at every level: a valid catalog (a model entry
with every field and all three kinds of source, and a preset) with a few keys dropped, added
or given values of any TOML type anywhere in it, whole random documents, and random bytes.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import time

from hypothesis import given
from hypothesis import strategies as st

from cleancut import licences
from cleancut.catalog import load_catalog, read_card
from cleancut.errors import ModelError

DATA = b"not really a model"
VALID_MODEL = {
    "name": "Test model", "task": "salient-object", "family": "salient", "file": "red.onnx", "size": len(DATA),
    "sha256": hashlib.sha256(DATA).hexdigest(), "licence": "MIT", "commercial_use": True,
    "training_data": "none", "training_data_terms": "not applicable", "card": "red.md",
    "input": {"name": "input", "width": 16, "height": 16, "resize": "bilinear", "scale": 1 / 255,
              "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
    "output": {"index": 0, "normalise": "none"},
    "sources": [{"kind": "url", "url": "https://example.org/red.onnx"},
                {"kind": "pypi", "package": "tiny==1", "member": "tiny/red.onnx", "ignore_requires_python": True},
                {"kind": "npm", "package": "tiny@1", "index": "package/r.json", "key": "/models/red"}],
}
VALID_PRESET = {"name": "Pair", "models": ["red", "u2netp"], "flip": ["red"], "edges": ["u2netp"], "refine": "best",
                "description": "a pair"}
# Values a catalog uses, so that mutations often stay nearly valid and reach the deeper checks.
LIKELY = st.sampled_from(["salient", "rvm", "salient-object", "max", "minmax", "none", "url", "pypi", "npm", "best",
                          "https://e.org/m", "u2netp", "red", "MIT", "GPL-3.0-only OR MIT", "()", "", ".", "..",
                          "-r", "a\x00b", VALID_MODEL["sha256"], 0, -1, 3, 16384, 16385, 1.5])
LEAVES = (st.none() | st.booleans() | st.integers() | st.floats()
          | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
          | st.dates() | st.times() | st.datetimes() | LIKELY)
ANY_VALUE = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
KEYS = st.sampled_from(sorted({*VALID_MODEL, *VALID_MODEL["input"], *VALID_PRESET, "kind", "url", "package", "index",
                               "key", "member", "licenses", "schema", "default", ""})) | st.text(max_size=5)


def toml(value: object) -> str:
    """``value`` as an inline TOML value; None (which TOML lacks) becomes an empty table."""
    if value is None:
        return "{}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if value != value else {float("inf"): "inf", float("-inf"): "-inf"}.get(value, repr(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml(str(k))} = {toml(v)}" for k, v in value.items()) + "}"


def document(table: dict) -> str:
    return "".join(f"{toml(str(key))} = {toml(value)}\n" for key, value in table.items())


def _places(value: object, path: tuple = ()) -> list[tuple]:
    """Every key path inside ``value`` (through tables and arrays), the root excluded."""
    inner = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [place for key, item in inner for place in [path + (key,), *_places(item, path + (key,))]]


@st.composite
def edited(draw, value: object, most: int = 3) -> object:
    """``value`` with up to ``most`` edits anywhere in it: a value replaced by any TOML value
    (often one a catalog uses elsewhere), a key or item dropped, or a key or item added.
    Few edits, so that most documents get past the first check and reach the later ones."""
    value = copy.deepcopy(value)
    for _ in range(draw(st.integers(0, most))):
        places = _places(value)
        if not places:
            break
        *parents, key = draw(st.sampled_from(places))
        parent = value
        for step in parents:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            parent[key] = draw(LIKELY | ANY_VALUE)
        elif action == "drop":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(KEYS)] = draw(ANY_VALUE)
        else:
            parent.append(draw(ANY_VALUE))
    return value


@st.composite
def catalogs(draw) -> str:
    model_id = draw(st.just("red") | st.sampled_from(["u2netp", "mine.v2", "Red", ""]) | st.text(max_size=4))
    preset_id = draw(st.just("pair") | st.sampled_from(["u2netp", "x y", "red"]))
    table = draw(edited({"schema": 1, "models": {model_id: VALID_MODEL}, "presets": {preset_id: VALID_PRESET}}))
    return document(table)


FILES = st.one_of(
    catalogs().map(str.encode),
    st.dictionaries(KEYS, ANY_VALUE, max_size=4).map(lambda table: document(table).encode()),
    st.text(max_size=80).map(str.encode),
    st.binary(max_size=80),
)


@given(raw=FILES)
def test_any_user_catalog_loads_or_is_refused_naming_the_file(raw, user_catalog):
    path = user_catalog("")
    path.write_bytes(raw)
    (path.parent / "red.md").write_text("# Red\n", encoding="utf-8")
    started = time.monotonic()
    try:
        catalog = load_catalog()
        for entry in catalog.models.values():
            assert licences.entry_class(entry) in ("permissive", "copyleft", "non-commercial", "unknown")
            assert read_card(entry).startswith("#")
        for preset in catalog.presets:
            catalog.resolve(preset)
    except ModelError as err:
        assert str(path) in str(err) and "\n" not in str(err), str(err)
    assert time.monotonic() - started < 10, "loading a small catalog must not take seconds"


@given(model=edited(VALID_MODEL, most=1))
def test_an_edited_entry_loads_as_written_or_the_error_names_its_key_path(model, user_catalog):
    path = user_catalog(document({"models": {"red": model}}))
    try:
        entry = load_catalog().get("red")
    except ModelError as err:
        assert str(err).startswith(f"{path}: models.red"), str(err)
    else:
        assert (entry.sha256, entry.licence) == (model["sha256"], model["licence"])
