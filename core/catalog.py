"""The model catalog: which models exist, where their files come from, how to run them.

The catalog is data (models/catalog.toml, shipped in the wheel). A user catalog in the same
format adds custom models through exactly the same code path as the built-in ones.

Everything in a catalog is checked here, once, for type and shape: a user catalog is written
by hand, and a wrong value must be refused with the file and the key path that hold it
(``my-models.toml: models.red.card must be a string, not an integer``), not turn into a
TypeError in whatever code first uses it. Unknown keys are refused too (a typo such as
``licenses`` would otherwise be ignored silently, and the model run under the wrong terms).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from . import config, tomlfields
from .errors import ModelError, brief
from .options import REFINE_MODES
from .smallfiles import MiB, SmallFileError, read_small

SOURCE_KINDS = ("url", "pypi", "npm")
FAMILIES = ("salient", "rvm")
TASKS = ("salient-object", "people-matting")
RESIZE_MODES = ("lanczos", "bilinear", "bicubic")  # the resampling filters segment.py knows
NORMALISE_MODES = ("minmax", "none")
SCHEMA = 1
# A catalog entry is about a kilobyte, so 1 MiB holds a thousand models. The cap is this low
# because tomllib's time and memory grow faster than the file (a hostile 1 MiB of dotted keys
# takes seconds and hundreds of MB to parse; 4 MiB would take a minute and gigabytes).
MAX_CATALOG_BYTES = 1 * MiB
MAX_CARD_BYTES = 1 * MiB
MAX_INPUT_SIDE = 16384  # pixels; a larger working size would not fit in memory anyway

_SHA256 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")
_TOP_KEYS = ("schema", "default", "models", "presets")
_MODEL_KEYS = ("name", "task", "family", "file", "size", "sha256", "licence", "commercial_use", "training_data",
               "training_data_terms", "card", "input", "output", "sources")
_PRESET_KEYS = ("name", "models", "flip", "edges", "refine", "description")
_INPUT_SIDES = ("width", "height", "short_side", "multiple", "long_side", "downsample_long_side")
_INPUT_KEYS = ("name",) + _INPUT_SIDES + ("resize", "scale", "mean", "std")
_OUTPUT_KEYS = ("name", "index", "normalise")
_SOURCE_NEEDS = {"url": ("url",), "pypi": ("package", "member"), "npm": ("package", "index", "key")}
_SOURCE_KEYS = {"url": ("kind", "url"), "pypi": ("kind", "package", "member", "ignore_requires_python"),
                "npm": ("kind", "package", "index", "key")}


@dataclass(frozen=True)
class Source:
    """One place a model file can be obtained from; the fields used depend on ``kind``."""

    kind: str
    url: str = ""
    package: str = ""
    member: str = ""
    index: str = ""
    key: str = ""
    ignore_requires_python: bool = False

    def describe(self) -> str:
        if self.kind == "url":
            return self.url
        if self.kind == "pypi":
            return f"PyPI {self.package} → {self.member}"
        return f"npm {self.package} → {self.index} [{self.key}]"


@dataclass(frozen=True)
class ModelEntry:
    """Everything cleancut knows about one model, as stated by a catalog file."""

    id: str
    name: str
    task: str
    family: str
    file: str
    size: int
    sha256: str
    licence: str
    commercial_use: bool
    training_data: str
    training_data_terms: str
    sources: tuple[Source, ...]
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    card: Path | None = None
    origin: str = "built-in"


@dataclass(frozen=True)
class Preset:
    """A named way of running several catalog models together (an ensemble), as data.

    The first model draws the outline (the trimap); the others help only where they agree with
    it, and models named in ``edges`` (soft-edge matting) give the alpha prior inside its
    unknown band (see ensemble.py). Models named in ``flip`` also run on the mirrored image.
    ``refine`` is the refinement used when the caller does not choose one.
    """

    id: str
    name: str
    models: tuple[str, ...]
    flip: tuple[str, ...] = ()
    edges: tuple[str, ...] = ()
    refine: str | None = None
    description: str = ""
    origin: str = "built-in"


@dataclass(frozen=True)
class Catalog:
    models: dict[str, ModelEntry]
    default: str
    presets: dict[str, Preset] = field(default_factory=dict)

    def get(self, model_id: str) -> ModelEntry:
        """The entry for ``model_id``, or an error that lists the ids that do exist."""
        try:
            return self.models[model_id]
        except KeyError:
            raise ModelError(f"unknown model '{model_id}'; {self._known()}") from None

    def resolve(self, name: str) -> tuple[list[ModelEntry], Preset | None]:
        """The models a model id or a preset id stands for, first the one that draws the outline."""
        if name in self.models:
            return [self.models[name]], None
        if name in self.presets:
            preset = self.presets[name]
            return [self.models[m] for m in preset.models], preset
        raise ModelError(f"unknown model or preset '{name}'; {self._known()}")

    def _known(self) -> str:
        known = f"known models: {', '.join(sorted(self.models))}"
        if self.presets:
            known += f"; presets: {', '.join(sorted(self.presets))}"
        return known + " (see `cleancut models list`)"


# --- checking a catalog: every message is "FILE: KEY.PATH problem" (tomlfields.py) ----------

def _side(file: str, table: dict[str, Any], path: str, key: str) -> None:
    value = tomlfields.get(file, table, path, key, int)
    if not 1 <= value <= MAX_INPUT_SIDE:
        raise tomlfields.fault(file, tomlfields.key_path(path, key), f"must be an integer from 1 to {MAX_INPUT_SIDE}, not {value}")


def _parse_input(file: str, raw: Any, path: str, family: str) -> dict[str, Any]:
    """How pixels become the model's input tensor (see segment.py): checked here so that a bad
    spec is a catalog error at load, not a KeyError on the first image."""
    spec = tomlfields.table(file, raw, path)
    tomlfields.no_unknown_keys(file, spec, path, _INPUT_KEYS, "an input table")
    tomlfields.text(file, spec, path, "name", None)
    for side in _INPUT_SIDES:
        if side in spec:
            _side(file, spec, path, side)
    tomlfields.choice(file, spec, path, "resize", RESIZE_MODES, None)
    scale = spec.get("scale", "max")
    if scale != "max" and not (tomlfields.finite(scale) and scale > 0):
        raise tomlfields.fault(file, tomlfields.key_path(path, "scale"),
                               f'must be "max" or a number above 0, not {scale if tomlfields.finite(scale) else tomlfields.toml_type(scale)}')
    for key in ("mean", "std"):
        values = tomlfields.get(file, spec, path, key, list, None)
        if values is not None and (len(values) != 3 or not all(tomlfields.finite(v) for v in values)):
            raise tomlfields.fault(file, tomlfields.key_path(path, key), "must be an array of 3 numbers (red, green, blue)")
        if key == "std" and values is not None and 0 in values:
            raise tomlfields.fault(file, tomlfields.key_path(path, key), "must not hold 0 (it divides)")
    if family == "salient" and "short_side" not in spec and not ("width" in spec and "height" in spec):
        raise tomlfields.fault(file, path, "needs width and height (a fixed input size) or short_side (a dynamic one)")
    return dict(spec)


def _parse_output(file: str, raw: Any, path: str) -> dict[str, Any]:
    """Which output holds the foreground probability, and how to normalise it."""
    spec = tomlfields.table(file, raw, path)
    tomlfields.no_unknown_keys(file, spec, path, _OUTPUT_KEYS, "an output table")
    tomlfields.text(file, spec, path, "name", None)
    index = tomlfields.get(file, spec, path, "index", int, 0)
    if index < 0:
        raise tomlfields.fault(file, tomlfields.key_path(path, "index"), f"must be 0 or more, not {index}")
    tomlfields.choice(file, spec, path, "normalise", NORMALISE_MODES, None)
    return dict(spec)


def _parse_source(file: str, raw: Any, path: str) -> Source:
    source = tomlfields.table(file, raw, path)
    kind = tomlfields.choice(file, source, path, "kind", SOURCE_KINDS, tomlfields.MISSING)
    tomlfields.no_unknown_keys(file, source, path, _SOURCE_KEYS[kind], f"a {kind} source")
    values = {key: tomlfields.text(file, source, path, key) for key in _SOURCE_NEEDS[kind]}
    if kind == "url" and not re.match(r"https?://", values["url"]):
        raise tomlfields.fault(file, tomlfields.key_path(path, "url"), f"must start with https:// or http://, not {brief(values['url'])}")
    if kind != "url" and values["package"].startswith("-"):  # it is passed to pip / npm as an argument
        raise tomlfields.fault(file, tomlfields.key_path(path, "package"), f"must name a package, not {brief(values['package'])}")
    ignore = tomlfields.get(file, source, path, "ignore_requires_python", bool, False)
    return Source(kind=kind, ignore_requires_python=ignore, **values)


def _id_path(file: str, table: str, item_id: str, what: str) -> str:
    """The key path of a model or preset, once its id is one the CLI and the cache can use."""
    path = tomlfields.key_path(table, item_id)
    if not _ID.fullmatch(item_id):
        raise tomlfields.fault(file, path, f"is not a usable {what} id: an id uses lower-case letters, digits, '.', '_' "
                                 "and '-' only")
    return path


def _parse_entry(file: str, model_id: str, raw: Any, card_root: Path) -> ModelEntry:
    path = _id_path(file, "models", model_id, "model")
    entry = tomlfields.table(file, raw, path)
    tomlfields.no_unknown_keys(file, entry, path, _MODEL_KEYS, "a model")
    family = tomlfields.choice(file, entry, path, "family", FAMILIES, "salient")
    file_name = tomlfields.text(file, entry, path, "file")
    if Path(file_name).name != file_name or file_name in (".", "..") or "/" in file_name or "\\" in file_name:
        raise tomlfields.fault(file, tomlfields.key_path(path, "file"), "must be a plain file name, not a path")
    size = tomlfields.get(file, entry, path, "size", int)
    if size < 1:
        raise tomlfields.fault(file, tomlfields.key_path(path, "size"), f"must be the file's size in bytes (1 or more), not {size}")
    sha = tomlfields.get(file, entry, path, "sha256", str).lower()
    if not _SHA256.fullmatch(sha):
        raise tomlfields.fault(file, tomlfields.key_path(path, "sha256"), "must be 64 hexadecimal digits")
    card = tomlfields.text(file, entry, path, "card", None)
    sources = tomlfields.get(file, entry, path, "sources", list)
    if not sources:
        raise tomlfields.fault(file, tomlfields.key_path(path, "sources"), "needs at least one source")
    output_path = tomlfields.key_path(path, "output")
    return ModelEntry(
        id=model_id,
        name=tomlfields.text(file, entry, path, "name", model_id),
        task=tomlfields.choice(file, entry, path, "task", TASKS, "salient-object"),
        family=family,
        file=file_name,
        size=size,
        sha256=sha,
        licence=tomlfields.get(file, entry, path, "licence", str),
        commercial_use=tomlfields.get(file, entry, path, "commercial_use", bool, False),
        training_data=tomlfields.get(file, entry, path, "training_data", str, "not stated"),
        training_data_terms=tomlfields.get(file, entry, path, "training_data_terms", str, "not stated"),
        sources=tuple(_parse_source(file, s, tomlfields.key_path(tomlfields.key_path(path, "sources"), i)) for i, s in enumerate(sources)),
        input=_parse_input(file, entry.get("input", {}), tomlfields.key_path(path, "input"), family),
        output=_parse_output(file, entry["output"], output_path) if "output" in entry
        else {"index": 0, "normalise": "minmax"},
        card=(card_root / card) if card else None,
        origin=file,
    )


def _model_ids(file: str, table: dict[str, Any], path: str, key: str, default: Any = tomlfields.MISSING) -> list[str]:
    """An array of model ids (a preset's models, flip, edges)."""
    ids = tomlfields.get(file, table, path, key, list, default)
    for i, model_id in enumerate(ids):
        if not isinstance(model_id, str):
            raise tomlfields.fault(file, tomlfields.key_path(tomlfields.key_path(path, key), i), f"must be a model id (a string), not "
                         f"{tomlfields.toml_type(model_id)}")
    return ids


def _parse_preset(file: str, preset_id: str, raw: Any) -> Preset:
    path = _id_path(file, "presets", preset_id, "preset")
    preset = tomlfields.table(file, raw, path)
    tomlfields.no_unknown_keys(file, preset, path, _PRESET_KEYS, "a preset")
    models = _model_ids(file, preset, path, "models")
    flip, edges = _model_ids(file, preset, path, "flip", []), _model_ids(file, preset, path, "edges", [])
    if not models:
        raise tomlfields.fault(file, tomlfields.key_path(path, "models"), "must list at least one model id")
    if not set(flip) <= set(models):
        raise tomlfields.fault(file, tomlfields.key_path(path, "flip"), "names models that are not in 'models'")
    if not set(edges) <= set(models[1:]):
        raise tomlfields.fault(file, tomlfields.key_path(path, "edges"), "names models that are not in 'models' after the first "
                                                    "(the first model draws the outline)")
    return Preset(id=preset_id, name=tomlfields.text(file, preset, path, "name", preset_id), models=tuple(models),
                  flip=tuple(flip), edges=tuple(edges), refine=tomlfields.choice(file, preset, path, "refine", REFINE_MODES, None),
                  description=tomlfields.get(file, preset, path, "description", str, ""), origin=file)


def parse_catalog(text: str, where: str,
                  card_root: Path) -> tuple[dict[str, ModelEntry], dict[str, Preset], str | None]:
    """Parse one catalog file: (models, presets, default); errors name the file and the key path."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise ModelError(f"{where}: nested too deeply to be a catalog") from None
    except ValueError as err:  # TOMLDecodeError, and the integer-digits limit tomllib lets through
        raise ModelError(f"{where}: not valid TOML ({err})") from None
    tomlfields.no_unknown_keys(where, data, "", _TOP_KEYS, "a catalog")
    # The top level's key path is "": its messages read "FILE: schema must be ...".
    schema = tomlfields.get(where, data, "", "schema", int, SCHEMA)
    if schema != SCHEMA:
        raise tomlfields.fault(where, "schema", f"is {schema}; this cleancut reads catalogs of schema {SCHEMA}"
                     + (" (upgrade cleancut)" if schema > SCHEMA else ""))
    default = tomlfields.get(where, data, "", "default", str, None)
    models = tomlfields.get(where, data, "", "models", dict, {})
    presets = tomlfields.get(where, data, "", "presets", dict, {})
    entries = {mid: _parse_entry(where, mid, raw, card_root) for mid, raw in models.items()}
    return entries, {pid: _parse_preset(where, pid, raw) for pid, raw in presets.items()}, default


def _check_presets(models: dict[str, ModelEntry], presets: dict[str, Preset]) -> None:
    """Every preset names models that exist and can share a frame (no recurrent video models)."""
    for preset in presets.values():
        path = tomlfields.key_path("presets", preset.id)
        if preset.id in models:
            raise tomlfields.fault(preset.origin, path, f"cannot be: a model already has the id '{preset.id}'")
        for model_id in preset.models:
            if model_id not in models:
                raise tomlfields.fault(preset.origin, tomlfields.key_path(path, "models"), f"names an unknown model {brief(model_id)}")
            if models[model_id].family != "salient":
                raise tomlfields.fault(preset.origin, tomlfields.key_path(path, "models"),
                                       f"names '{model_id}', a {models[model_id].family} model; presets combine "
                                       "salient-object models only")


def builtin_catalog_text() -> str:
    return resources.files("cleancut.models").joinpath("catalog.toml").read_text(encoding="utf-8")


def read_user_catalog(path: Path) -> str:
    """The text of a user catalog file: only a regular file of at most MAX_CATALOG_BYTES, in
    UTF-8 (see smallfiles: a FIFO or /dev/zero named by CLEANCUT_CATALOG must not hang)."""
    advice = 'point CLEANCUT_CATALOG (or "catalog" in the settings file) at a catalog TOML file'
    try:
        raw = read_small(path, "the user catalog", MAX_CATALOG_BYTES)
    except SmallFileError as err:
        raise ModelError(f"{err}; {advice}") from None
    if raw is None:
        raise ModelError(f"cannot read the user catalog {path}: no such file; {advice}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelError(f"{path}: not UTF-8 text (byte {err.start} is {raw[err.start]:#04x}); a catalog is a "
                         "TOML file") from None


def load_catalog() -> Catalog:
    """The built-in catalog plus the user's catalogs; a user entry may replace a built-in one."""
    card_root = Path(str(resources.files("cleancut.models").joinpath("cards")))
    models, presets, default = parse_catalog(builtin_catalog_text(), "built-in catalog", card_root)
    for path in config.user_catalog_paths():
        extra, extra_presets, _ = parse_catalog(read_user_catalog(path), str(path), path.parent)
        models.update(extra)
        presets.update(extra_presets)
    _check_presets(models, presets)
    default = default or next(iter(models))
    return Catalog(models=models, default=default, presets=presets)


def read_card(entry: ModelEntry) -> str:
    """The model card's Markdown, or a card assembled from the catalog when there is none.

    A card that is not a regular file (a FIFO, a device) is refused rather than read: see
    smallfiles."""
    if entry.card is not None:
        try:
            raw = read_small(entry.card, "the model card", MAX_CARD_BYTES)
        except SmallFileError as err:
            raise ModelError(f"{err}; {entry.origin}: {tomlfields.key_path(tomlfields.key_path('models', entry.id), 'card')} "
                             "should name a Markdown file") from None
        if raw is not None:
            return raw.decode("utf-8", errors="replace")
    sources = "\n".join(f"- {s.describe()}" for s in entry.sources)
    return (
        f"# {entry.name} (`{entry.id}`)\n\n"
        f"(No model card; this summary comes from {entry.origin}.)\n\n"
        f"- task: {entry.task}\n- licence: {entry.licence}\n"
        f"- commercial use: {'yes' if entry.commercial_use else 'no'}\n"
        f"- training data: {entry.training_data}\n- its terms: {entry.training_data_terms}\n"
        f"- file: {entry.file}, {entry.size} bytes, sha256 {entry.sha256}\n\n"
        f"Sources:\n{sources}\n"
    )
