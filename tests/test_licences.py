"""The licence gate: classes from SPDX expressions, per-model acceptance, the commercial-use policy."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleancut import config, licences
from cleancut.catalog import load_catalog
from cleancut.errors import LicenceError, ModelError

from support import catalog_entry


@pytest.mark.parametrize(
    "spdx, expected",
    [
        ("Apache-2.0", "permissive"), ("MIT", "permissive"), ("BSD-3-Clause", "permissive"),
        ("GPL-3.0-only", "copyleft"), ("AGPL-3.0-or-later", "copyleft"), ("LGPL-2.1-only", "copyleft"),
        ("MPL-2.0", "copyleft"), ("CC-BY-NC-4.0", "non-commercial"), ("CC-BY-NC-SA-4.0", "non-commercial"),
        ("LicenseRef-custom", "unknown"), ("", "unknown"),
    ],
)
def test_licence_class_is_derived_from_the_spdx_id(spdx, expected):
    assert licences.licence_class(spdx) == expected


@pytest.mark.parametrize(
    "spdx, expected",
    [
        ("BSD-3-Clause AND LicenseRef-scancode-x-NoCommercialUse", "non-commercial"),
        ("MIT AND GPL-3.0-only", "copyleft"),
        ("MIT OR GPL-3.0-only", "copyleft"),
        ("MIT OR CC-BY-NC-4.0", "non-commercial"),
        ("Apache-2.0 OR LicenseRef-custom", "unknown"),
        ("GPL-3.0-only OR CC-BY-NC-4.0", "non-commercial"),
        ("OpenRAIL-M OR MIT", "copyleft"),
        ("MIT OR Apache-2.0", "permissive"),
        ("MIT AND (Apache-2.0 OR ISC)", "permissive"),
        ("(MIT)", "permissive"),
        ("mit", "permissive"),
        ("MIT WITH Classpath-exception-2.0", "permissive"),
        ("GPL-2.0-only WITH Classpath-exception-2.0", "copyleft"),
        ("LicenseRef-custom WITH Classpath-exception-2.0", "unknown"),
        ("GPL-3.0+", "copyleft"),
        ("BSD-3-Clause-No-Military-License", "unknown"),
    ],
)
def test_a_compound_expression_takes_the_class_of_its_most_restrictive_term(spdx, expected):
    assert licences.licence_class(spdx) == expected


@pytest.mark.parametrize("spdx", ["MIT/Apache-2.0", "MIT WITH GPL-2.0", "MIT WITH LicenseRef-more-rights", "MIT AND",
                                  "(MIT", "()", "MIT (GPL-3.0-only)", "   "])
def test_an_expression_the_spdx_parser_cannot_read_is_unknown(spdx):
    assert licences.licence_class(spdx) == "unknown"


def test_no_commercial_use_makes_any_licence_non_commercial():
    assert licences.licence_class("Apache-2.0", commercial_use=False) == "non-commercial"


def test_a_commercial_use_flag_that_is_not_true_is_never_permissive():
    assert licences.licence_class("MIT", commercial_use="false") == "non-commercial"  # type: ignore[arg-type]


def test_commercial_use_as_a_string_in_a_user_catalog_is_refused(user_catalog, red_model):
    text = catalog_entry("mine", red_model, '{ kind = "url", url = "https://example.org/m.onnx" }')
    path = user_catalog(text.replace("commercial_use = true", 'commercial_use = "false"'))
    with pytest.raises(ModelError) as err:
        load_catalog()
    assert str(err.value) == f"{path}: models.mine.commercial_use must be true or false, not a string"


# --- properties of the classification (Hypothesis) ---

POOL = {
    "permissive": ["MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "ISC", "Zlib", "CC0-1.0", "0BSD", "MIT-0",
                   "BSL-1.0", "CC-BY-4.0", "Unlicense", "mit", "apache-2.0"],
    "copyleft": ["GPL-3.0-only", "GPL-2.0-or-later", "GPL-3.0+", "AGPL-3.0-only", "LGPL-2.1-only", "MPL-2.0",
                 "CC-BY-SA-4.0", "EUPL-1.2", "OpenRAIL-M"],
    "non-commercial": ["CC-BY-NC-4.0", "CC-BY-NC-SA-4.0", "CC-BY-NC-ND-4.0", "LicenseRef-scancode-x-NoCommercialUse",
                       "LicenseRef-NonCommercial-1.0"],
    "unknown": ["LicenseRef-custom", "LicenseRef-odd", "BUSL-1.1", "SSPL-1.0", "BSD-3-Clause-No-Military-License",
                "Elastic-2.0"],
}
RANK = ["permissive", "copyleft", "unknown", "non-commercial"]
EXCEPTIONS = ["Classpath-exception-2.0", "LLVM-exception", "GCC-exception-3.1"]


@st.composite
def terms(draw, classes=tuple(POOL)) -> tuple[str, str]:
    """(text, class) of one licence id, sometimes WITH a licence exception (which keeps its class)."""
    kind = draw(st.sampled_from(classes))
    text = draw(st.sampled_from(POOL[kind]))
    if draw(st.booleans()):
        text += " WITH " + draw(st.sampled_from(EXCEPTIONS))
    return text, kind


def combine(parts: list[tuple[str, set[str], bool]], operator: str) -> tuple[str, set[str], bool]:
    """Join (text, classes of its terms, is it compound) with AND or OR; compound parts are
    parenthesised, the result is not (so a classifier that looks at the first id is caught)."""
    text = f" {operator} ".join(f"({part})" if compound else part for part, _, compound in parts)
    return text, set().union(*(kinds for _, kinds, _ in parts)), True


def expressions(classes=tuple(POOL)):
    """(SPDX expression, the set of classes of its terms, compound): ids joined by AND / OR,
    nested; at least two terms, as a single id is the parametrised tests' business."""
    leaves = terms(classes).map(lambda term: (term[0], {term[1]}, False))

    def joined(inner):
        return st.tuples(st.lists(inner, min_size=2, max_size=4), st.sampled_from(["AND", "OR"])).map(
            lambda t: combine(*t))

    return joined(st.recursive(leaves, joined, max_leaves=6))


@pytest.mark.parametrize("kind", sorted(POOL))
def test_every_id_in_the_property_pools_has_its_class_alone(kind):
    assert {spdx: licences.licence_class(spdx) for spdx in POOL[kind]} == {spdx: kind for spdx in POOL[kind]}


@given(expressions())
def test_no_expression_with_a_non_permissive_term_is_permissive(expression):
    text, kinds, _ = expression
    if kinds != {"permissive"}:
        assert licences.licence_class(text) != "permissive", text


@given(expressions())
def test_an_expression_has_the_class_of_its_most_restrictive_term(expression):
    text, kinds, _ = expression
    assert licences.licence_class(text) == max(kinds, key=RANK.index), text


@given(terms(classes=("permissive",)), st.integers(0, 3))
def test_a_single_permissive_id_is_permissive_in_any_parentheses(term, depth):
    assert licences.licence_class("(" * depth + term[0] + ")" * depth) == "permissive"


@given(st.lists(terms().map(lambda term: (term[0], {term[1]}, False)) | expressions(), min_size=2, max_size=4)
       .flatmap(lambda parts: st.tuples(st.just(parts), st.permutations(parts))))
def test_the_class_of_an_and_does_not_depend_on_the_order_of_its_terms(orders):
    first, second = (" AND ".join(f"({text})" if compound else text for text, _, compound in parts)
                     for parts in orders)
    assert licences.licence_class(first) == licences.licence_class(second)


@given(st.text(max_size=60) | st.lists(st.sampled_from(["MIT", "AND", "OR", "WITH", "(", ")", "GPL-3.0-only",
                                                          "Classpath-exception-2.0", "+", "/", "NC"]),
                                         max_size=10).map(" ".join))
def test_any_text_gets_one_of_the_four_classes(text):
    assert licences.licence_class(text) in RANK


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
