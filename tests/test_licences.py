"""The licence gate: classes from SPDX ids, per-model acceptance, the commercial-use policy."""

from __future__ import annotations

import json

import pytest

from cleancut import config, licences
from cleancut.catalog import load_catalog
from cleancut.errors import LicenceError

from support import catalog_entry


@pytest.mark.parametrize(
    "spdx, expected",
    [
        ("Apache-2.0", "permissive"), ("MIT", "permissive"), ("BSD-3-Clause", "permissive"),
        ("GPL-3.0-only", "copyleft"), ("AGPL-3.0-or-later", "copyleft"), ("LGPL-2.1-only", "copyleft"),
        ("MPL-2.0", "copyleft"), ("CC-BY-NC-4.0", "non-commercial"), ("CC-BY-NC-SA-4.0", "non-commercial"),
        ("LicenseRef-custom", "unknown"), ("MIT OR GPL-3.0-only", "unknown"), ("", "unknown"),
    ],
)
def test_licence_class_is_derived_from_the_spdx_id(spdx, expected):
    assert licences.licence_class(spdx) == expected


def test_no_commercial_use_makes_any_licence_non_commercial():
    assert licences.licence_class("Apache-2.0", commercial_use=False) == "non-commercial"


def test_built_in_classes():
    catalog = load_catalog()
    assert {m: licences.entry_class(e) for m, e in catalog.models.items()} == {
        "u2netp": "permissive", "u2net": "permissive", "isnet": "copyleft", "isnet-q8": "copyleft", "rvm": "copyleft",
        "modnet": "permissive"}


def test_permissive_model_runs_without_acceptance():
    licences.check(load_catalog().get("u2netp"))


def test_copyleft_model_needs_acceptance_and_says_how():
    with pytest.raises(LicenceError) as err:
        licences.check(load_catalog().get("rvm"))
    message = str(err.value)
    assert "GPL-3.0-only" in message and "Adobe Image Matting" in message
    assert "`cleancut models accept rvm`" in message


def test_acceptance_is_recorded_per_model_in_the_settings():
    catalog = load_catalog()
    licences.accept(catalog.get("rvm"))
    licences.check(catalog.get("rvm"))
    with pytest.raises(LicenceError):
        licences.check(catalog.get("isnet"))
    record = json.loads(config.config_path().read_text())["accepted_licences"]["rvm"]
    assert record["licence"] == "GPL-3.0-only" and record["sha256"] == catalog.get("rvm").sha256


def test_acceptance_of_another_licence_does_not_count(user_catalog, red_model):
    source = '{ kind = "url", url = "https://example.org/m.onnx" }'
    user_catalog(catalog_entry("mine", red_model, source, licence="GPL-3.0-only"))
    licences.accept(load_catalog().get("mine"))
    user_catalog(catalog_entry("mine", red_model, source, licence="AGPL-3.0-only"))
    with pytest.raises(LicenceError, match="needs your acceptance"):
        licences.check(load_catalog().get("mine"))


def test_revoke_withdraws_an_acceptance():
    entry = load_catalog().get("isnet")
    licences.accept(entry)
    assert licences.revoke(entry) is True
    with pytest.raises(LicenceError):
        licences.check(entry)


def test_commercial_policy_refuses_non_commercial_even_when_accepted(user_catalog, red_model, monkeypatch):
    source = '{ kind = "url", url = "https://example.org/m.onnx" }'
    user_catalog(catalog_entry("nc", red_model, source, licence="CC-BY-NC-4.0", commercial=False))
    entry = load_catalog().get("nc")
    licences.accept(entry)
    monkeypatch.setenv("CLEANCUT_COMMERCIAL", "1")
    with pytest.raises(LicenceError, match="refused by the commercial-use policy"):
        licences.check(entry)


def test_commercial_policy_refuses_unknown_licences(user_catalog, red_model, monkeypatch):
    user_catalog(catalog_entry("odd", red_model, '{ kind = "url", url = "https://e.org/m" }', licence="LicenseRef-odd"))
    monkeypatch.setenv("CLEANCUT_COMMERCIAL", "1")
    with pytest.raises(LicenceError, match="LicenseRef-odd is unknown"):
        licences.check(load_catalog().get("odd"))


def test_commercial_policy_from_the_settings_file_allows_accepted_copyleft():
    config.save_config({"commercial_use": True})
    entry = load_catalog().get("rvm")
    licences.accept(entry)
    licences.check(entry)
    assert config.commercial_use() is True


def test_a_broken_settings_file_is_reported_not_overwritten():
    config.config_path().parent.mkdir(parents=True)
    config.config_path().write_text("{not json")
    with pytest.raises(Exception, match="not valid JSON"):
        licences.accept(load_catalog().get("rvm"))
    assert config.config_path().read_text() == "{not json"


def test_a_presets_provenance_records_every_model_and_its_licence():
    entries, preset = load_catalog().resolve("quality")
    record = licences.provenance(entries, preset)
    assert record["id"] == "quality" and record["preset"] is True
    assert [(m["id"], m["licence"], m["licence_class"]) for m in record["models"]] == [
        ("isnet", "AGPL-3.0-only", "copyleft"), ("u2netp", "Apache-2.0", "permissive")]
