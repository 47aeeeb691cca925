"""pipeline.remove: hints, the stages' results, degenerate inputs through the whole engine."""

from __future__ import annotations

import numpy as np
import pytest

from cleancut import pipeline
from cleancut.errors import CleancutError
from cleancut.options import Options

from support import gradient_image


def test_a_region_hint_clears_outside_and_lets_the_model_decide_inside(engine_models):
    rgb = gradient_image()
    region = np.zeros((16, 16), np.uint8)
    region[:, 8:] = 128
    options = Options(model="red", refine="fast")
    alpha = pipeline.remove(rgb, options, hint=region).alpha
    alone = pipeline.remove(rgb, options).alpha
    assert (alpha[:, :8] == 0).all()
    np.testing.assert_array_equal(alpha[:, 8:], alone[:, 8:])


def test_a_hint_of_the_wrong_size_is_a_clear_error(engine_models):
    with pytest.raises(CleancutError, match="hint"):
        pipeline.remove(gradient_image(), Options(model="red"), hint=np.zeros((4, 4), np.uint8))


@pytest.mark.parametrize("mode", ["off", "fast", "best"])
def test_every_refine_mode_gives_a_full_size_alpha_and_colours(engine_models, mode):
    result = pipeline.remove(gradient_image(40, 24), Options(model="red", refine=mode))
    assert result.alpha.shape == (24, 40) and result.alpha.dtype == np.float32
    assert 0.0 <= result.alpha.min() and result.alpha.max() <= 1.0
    assert result.foreground.shape == (24, 40, 3) and result.foreground.dtype == np.uint8
    assert set(result.timings) == {"model", "segment", "refine", "foreground"}


def test_colours_are_skipped_when_not_asked_for(engine_models):
    result = pipeline.remove(gradient_image(), Options(model="red", foreground=False))
    assert result.foreground is None and "foreground" not in result.timings


@pytest.mark.parametrize("shape", [(1, 1), (1, 300), (300, 2)])
def test_tiny_and_very_thin_images_go_through(engine_models, shape):
    rgb = np.full((*shape, 3), 200, np.uint8)
    assert pipeline.remove(rgb, Options(model="red", refine="best")).alpha.shape == shape


# --- presets: several models on one image ---

def _probability(model_id: str, rgb: np.ndarray, flip: bool = False) -> np.ndarray:
    from cleancut import fetch, segment
    from cleancut.catalog import load_catalog

    entry = load_catalog().get(model_id)
    return segment.predict(rgb, entry, fetch.ensure(entry), flip=flip)


def test_a_preset_needs_every_one_of_its_models_licences(engine_preset):
    from cleancut.errors import LicenceError

    with pytest.raises(LicenceError, match="model 'gpl' needs your acceptance"):
        pipeline.remove(gradient_image(), Options(model=engine_preset))


def test_a_preset_refines_the_outline_models_probability_with_the_others_support(engine_preset):
    from cleancut import licences, refine
    from cleancut.catalog import load_catalog

    licences.accept(load_catalog().get("gpl"))
    rgb = gradient_image(40, 24)
    result = pipeline.remove(rgb, Options(model=engine_preset, foreground=False))
    expected = refine.refine_alpha(rgb, _probability("red", rgb), "best",
                                   support=(_probability("gpl", rgb, flip=True),))
    np.testing.assert_array_equal(result.alpha, expected)
    assert [e.id for e in result.models] == ["red", "gpl"] and result.model.id == "red"
    assert result.preset.id == "pair"


def test_the_callers_refine_mode_wins_over_the_presets(engine_preset):
    from cleancut import licences, refine
    from cleancut.catalog import load_catalog

    licences.accept(load_catalog().get("gpl"))
    rgb = gradient_image(40, 24)
    alpha = pipeline.remove(rgb, Options(model=engine_preset, refine="off", foreground=False)).alpha
    expected = refine.refine_alpha(rgb, _probability("red", rgb), "off",
                                   support=(_probability("gpl", rgb, flip=True),))
    np.testing.assert_array_equal(alpha, expected)


def test_a_single_model_without_a_refine_mode_gets_the_default(engine_models):
    from cleancut import refine
    from cleancut.options import DEFAULT_REFINE

    rgb = gradient_image(40, 24)
    alpha = pipeline.remove(rgb, Options(model="red", foreground=False)).alpha
    np.testing.assert_array_equal(alpha, refine.refine_alpha(rgb, _probability("red", rgb), DEFAULT_REFINE))
