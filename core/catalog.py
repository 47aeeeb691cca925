"""The model catalog: which models exist, where their files come from, how to run them.

The catalog is data (models/catalog.toml, shipped in the wheel). A user catalog in the same
format adds custom models through exactly the same code path as the built-in ones.
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

from . import config
from .errors import ModelError

SOURCE_KINDS = ("url", "pypi", "npm")
FAMILIES = ("salient", "rvm")
TASKS = ("salient-object", "people-matting")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


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


def _require(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ModelError(f"{where}: missing '{key}'")
    value = table[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise ModelError(f"{where}: '{key}' must be a {kind.__name__}, not {value!r}")
    return value


def _parse_source(raw: Any, where: str) -> Source:
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: each source must be a table")
    kind = _require(raw, "kind", str, where)
    if kind not in SOURCE_KINDS:
        raise ModelError(f"{where}: source kind '{kind}' is not one of {', '.join(SOURCE_KINDS)}")
    needed = {"url": ("url",), "pypi": ("package", "member"), "npm": ("package", "index", "key")}
    for key in needed[kind]:
        _require(raw, key, str, f"{where} ({kind} source)")
    if kind == "url" and not re.match(r"^https?://", raw["url"]):
        raise ModelError(f"{where}: url '{raw['url']}' must start with https:// or http://")
    unknown = set(raw) - {"kind", "url", "package", "member", "index", "key", "ignore_requires_python"}
    if unknown:
        raise ModelError(f"{where}: unknown source field(s) {', '.join(sorted(unknown))}")
    return Source(**raw)


def _parse_entry(model_id: str, raw: Any, where: str, card_root: Path) -> ModelEntry:
    where = f"{where} [models.{model_id}]"
    if not _ID.match(model_id):
        raise ModelError(f"{where}: an id uses lower-case letters, digits, '.', '_' and '-' only")
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: must be a table")
    sha = _require(raw, "sha256", str, where).lower()
    if not _SHA256.match(sha):
        raise ModelError(f"{where}: sha256 must be 64 hexadecimal digits")
    family = raw.get("family", "salient")
    if family not in FAMILIES:
        raise ModelError(f"{where}: family '{family}' is not one of {', '.join(FAMILIES)}")
    task = raw.get("task", "salient-object")
    if task not in TASKS:
        raise ModelError(f"{where}: task '{task}' is not one of {', '.join(TASKS)}")
    sources = _require(raw, "sources", list, where)
    if not sources:
        raise ModelError(f"{where}: needs at least one source")
    file = _require(raw, "file", str, where)
    if Path(file).name != file or file in (".", ".."):
        raise ModelError(f"{where}: file must be a plain file name, not a path")
    card = raw.get("card")
    return ModelEntry(
        id=model_id,
        name=raw.get("name", model_id),
        task=task,
        family=family,
        file=file,
        size=_require(raw, "size", int, where),
        sha256=sha,
        licence=_require(raw, "licence", str, where),
        commercial_use=bool(raw.get("commercial_use", False)),
        training_data=raw.get("training_data", "not stated"),
        training_data_terms=raw.get("training_data_terms", "not stated"),
        sources=tuple(_parse_source(s, f"{where} source {i + 1}") for i, s in enumerate(sources)),
        input=dict(raw.get("input", {})),
        output=dict(raw.get("output", {"index": 0, "normalise": "minmax"})),
        card=(card_root / card) if card else None,
        origin=where.split(" [")[0],
    )


def _parse_preset(preset_id: str, raw: Any, where: str) -> Preset:
    from .refine import MODES

    where = f"{where} [presets.{preset_id}]"
    if not _ID.match(preset_id):
        raise ModelError(f"{where}: an id uses lower-case letters, digits, '.', '_' and '-' only")
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: must be a table")
    models = _require(raw, "models", list, where)
    flip, edges = raw.get("flip", []), raw.get("edges", [])
    if not isinstance(flip, list) or not isinstance(edges, list) or not models \
            or not all(isinstance(m, str) for m in models + flip + edges):
        raise ModelError(f"{where}: 'models' (and 'flip', 'edges') must list model ids")
    if not set(flip) <= set(models):
        raise ModelError(f"{where}: 'flip' names models that are not in 'models'")
    if not set(edges) <= set(models[1:]):
        raise ModelError(f"{where}: 'edges' names models that are not in 'models' after the first "
                         "(the first model draws the outline)")
    refine = raw.get("refine")
    if refine is not None and refine not in MODES:
        raise ModelError(f"{where}: refine '{refine}' is not one of {', '.join(MODES)}")
    unknown = set(raw) - {"name", "models", "flip", "edges", "refine", "description"}
    if unknown:
        raise ModelError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return Preset(id=preset_id, name=raw.get("name", preset_id), models=tuple(models), flip=tuple(flip),
                  edges=tuple(edges), refine=refine, description=raw.get("description", ""), origin=where.split(" [")[0])


def parse_catalog(text: str, where: str, card_root: Path):
    """Parse one catalog file: (models, presets, default); errors name the file and the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ModelError(f"{where}: not valid TOML ({err})") from None
    models = data.get("models", {})
    presets = data.get("presets", {})
    if not isinstance(models, dict):
        raise ModelError(f"{where}: [models] must be a table of models")
    if not isinstance(presets, dict):
        raise ModelError(f"{where}: [presets] must be a table of presets")
    entries = {mid: _parse_entry(mid, raw, where, card_root) for mid, raw in models.items()}
    return entries, {pid: _parse_preset(pid, raw, where) for pid, raw in presets.items()}, data.get("default")


def _check_presets(models: dict[str, ModelEntry], presets: dict[str, Preset]) -> None:
    """Every preset names models that exist and can share a frame (no recurrent video models)."""
    for preset in presets.values():
        where = f"{preset.origin} [presets.{preset.id}]"
        if preset.id in models:
            raise ModelError(f"{where}: a model already has the id '{preset.id}'")
        for model_id in preset.models:
            if model_id not in models:
                raise ModelError(f"{where}: unknown model '{model_id}'")
            if models[model_id].family != "salient":
                raise ModelError(f"{where}: '{model_id}' is a {models[model_id].family} model; "
                                 "presets combine salient-object models only")


def builtin_catalog_text() -> str:
    return resources.files("cleancut.models").joinpath("catalog.toml").read_text(encoding="utf-8")


def load_catalog() -> Catalog:
    """The built-in catalog plus the user's catalogs; a user entry may replace a built-in one."""
    card_root = Path(str(resources.files("cleancut.models").joinpath("cards")))
    models, presets, default = parse_catalog(builtin_catalog_text(), "built-in catalog", card_root)
    for path in config.user_catalog_paths():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ModelError(f"cannot read the user catalog {path}: {err.strerror}") from None
        extra, extra_presets, _ = parse_catalog(text, str(path), path.parent)
        models.update(extra)
        presets.update(extra_presets)
    _check_presets(models, presets)
    default = default or next(iter(models))
    return Catalog(models=models, default=default, presets=presets)


def read_card(entry: ModelEntry) -> str:
    """The model card's Markdown, or a card assembled from the catalog when there is none."""
    if entry.card is not None and entry.card.is_file():
        return entry.card.read_text(encoding="utf-8")
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
