"""options: each option's one validator, whichever entry point built the Options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cleancut import options
from cleancut.options import MAX_THREADS, REFINE_MODES, RULES, Options


def test_every_field_of_options_has_exactly_one_rule():
    assert set(RULES) == {field.name for field in dataclasses.fields(Options)}


def test_the_defaults_are_valid_options():
    assert all(options.problem(field.name, field.default) is None for field in dataclasses.fields(Options))


@pytest.mark.parametrize(("name", "value", "message"), [
    ("refine", "sharpest", 'refine must be one of off, fast, best, not "sharpest"'),
    ("threads", 0, f"threads must be a whole number from 1 to {MAX_THREADS}, not 0"),
    ("threads", MAX_THREADS + 1, f"threads must be a whole number from 1 to {MAX_THREADS}, not {MAX_THREADS + 1}"),
    ("threads", True, f"threads must be a whole number from 1 to {MAX_THREADS}, not true"),
    ("threads", 2.0, f"threads must be a whole number from 1 to {MAX_THREADS}, not 2.0"),
    ("temporal_smoothing", 0.96, "temporal_smoothing must be a number from 0 to 0.95, not 0.96"),
    ("temporal_smoothing", float("nan"), "temporal_smoothing must be a number from 0 to 0.95, not NaN"),
    ("temporal_smoothing", None, "temporal_smoothing must be a number from 0 to 0.95, not null"),
    ("foreground", 1, "foreground must be true or false, not 1"),
    ("offline", "yes", 'offline must be true or false, not "yes"'),
    ("model", 7, "model must be a model or preset id, not 7"),
    ("provider", ["cpu"], 'provider must be a provider name, not ["cpu"]'),
])
def test_options_refuses_a_bad_value_with_the_rules_message(name, value, message):
    assert f"{name} {options.problem(name, value)}" == message
    with pytest.raises(ValueError) as caught:
        Options(**{name: value})
    assert str(caught.value) == message


@pytest.mark.parametrize(("name", "value"), [
    ("refine", None), ("threads", None), ("threads", 1), ("threads", MAX_THREADS), ("threads", np.int64(4)),
    ("temporal_smoothing", 0), ("temporal_smoothing", 0.95), ("offline", None), ("model", "quality"),
])
def test_options_takes_every_value_inside_the_rules(name, value):
    assert getattr(Options(**{name: value}), name) == value


@pytest.mark.parametrize("mode", REFINE_MODES)
def test_every_refine_mode_is_an_option(mode):
    assert Options(refine=mode).refine == mode


@pytest.mark.parametrize(("caller", "preset", "used"), [
    ("off", "best", "off"), (None, "best", "best"), (None, None, options.DEFAULT_REFINE), ("best", None, "best"),
])
def test_the_refine_mode_is_the_callers_else_the_presets_else_the_default(caller, preset, used):
    assert Options(refine=caller).refine_for(preset) == used
