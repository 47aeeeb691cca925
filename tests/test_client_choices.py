"""The client owns what "engine default" means for every editor: its one spelling, the refine
choices from the engine's hello (with one fallback), and the options a run sends.

The editors' own tests check that each of them offers these choices (tests/test_krita_qt.py,
tests/hosts/test_blender.py, tests/hosts/test_gimp3.py); tests/test_gimp2.py runs these
functions on Python 2.7.
"""

from __future__ import annotations

import sys

from cleancut import cleancut_client
from cleancut.options import REFINE_MODES

ENGINE_DEFAULT = cleancut_client.ENGINE_DEFAULT


def test_engine_default_is_the_empty_string_editors_store():
    assert ENGINE_DEFAULT == ""


def test_blenders_enum_spelling_of_engine_default_is_DEFAULT():
    assert cleancut_client.ENGINE_DEFAULT_ENUM == "DEFAULT"


def test_the_refine_fallback_is_off_alone():
    assert cleancut_client.REFINE_FALLBACK == ("off",)


def test_engine_default_and_its_enum_spelling_and_none_are_the_engines_default():
    assert [cleancut_client.is_engine_default(choice) for choice in ("", "DEFAULT", None)] == [True, True, True]


def test_a_model_or_a_refine_mode_is_not_the_engines_default():
    assert [cleancut_client.is_engine_default(choice) for choice in ("u2netp", "off", "default")] == [False] * 3


def test_refine_choices_are_the_modes_the_hello_lists_in_its_order():
    assert cleancut_client.refine_choices({"refine_modes": ["best", "off"]}) == ["best", "off"]


def test_refine_choices_fall_back_to_off_when_the_hello_lists_none():
    assert cleancut_client.refine_choices({"refine_modes": []}) == ["off"]


def test_refine_choices_fall_back_to_off_for_a_hello_without_the_field():
    assert cleancut_client.refine_choices({"protocol": 1}) == ["off"]


def test_refine_choices_fall_back_to_off_before_any_hello():
    assert [cleancut_client.refine_choices(hello) for hello in ({}, None)] == [["off"], ["off"]]


def test_refine_choices_are_a_new_list_each_time():
    hello = {"refine_modes": ["off", "fast"]}
    cleancut_client.refine_choices(hello).append("best")
    cleancut_client.refine_choices({}).append("best")
    assert (hello["refine_modes"], cleancut_client.refine_choices({})) == (["off", "fast"], ["off"])


def test_the_workers_hello_lists_every_refine_mode():
    client = cleancut_client.Client(python=sys.executable)
    try:
        assert cleancut_client.refine_choices(client.hello()) == list(REFINE_MODES)
    finally:
        client.close()


def test_run_options_send_the_chosen_model_and_refine_mode():
    assert cleancut_client.run_options("u2netp", "best") == {"model": "u2netp", "refine": "best"}


def test_run_options_leave_out_what_is_left_to_the_engine():
    assert cleancut_client.run_options(ENGINE_DEFAULT, ENGINE_DEFAULT) == {}


def test_run_options_leave_out_blenders_stored_DEFAULT():
    assert cleancut_client.run_options("u2netp", "DEFAULT") == {"model": "u2netp"}


def test_run_options_leave_out_none():
    assert cleancut_client.run_options(None, "fast") == {"refine": "fast"}


def test_run_options_default_to_the_engines_choices():
    assert cleancut_client.run_options() == {}


def test_run_options_keep_the_other_options():
    assert cleancut_client.run_options("", "off", foreground=False, threads=2) == {
        "refine": "off", "foreground": False, "threads": 2}
