"""Presets: the salient models' mean draws the outline; an edge model only fills in the band."""

from __future__ import annotations

import numpy as np
import pytest

from cleancut import ensemble, matting, refine, trimaps
from cleancut.catalog import ModelEntry, Preset

from test_refine import soft_step_prob, two_colour_image


def _entry(model_id: str) -> ModelEntry:
    from cleancut.catalog import load_catalog

    return load_catalog().get(model_id)


def test_the_first_model_draws_the_outline_and_edges_are_named_by_the_preset():
    preset = Preset(id="p", name="p", models=("u2net", "u2netp", "modnet"), edges=("modnet",))
    entries = [_entry(m) for m in preset.models]
    assert ensemble.roles(entries, preset) == ("outline", "support", "edges")
    assert ensemble.roles(entries[:1], None) == ("outline",)


def test_split_hands_refine_the_supporters_and_the_edge_models_apart():
    a, b, c = (np.full((2, 2), v, np.float32) for v in (0.1, 0.2, 0.3))
    parts = ensemble.split([a, b, c], ("outline", "support", "edges"))
    assert parts["support"] == (b,) and parts["edges"] == (c,)


def test_outline_models_are_averaged():
    prior = ensemble.outline_prior(np.full((8, 8), 0.8, np.float32), [np.full((8, 8), 0.2, np.float32)])
    assert np.allclose(prior, 0.5)


@pytest.mark.parametrize("mode", ["fast", "best"])
def test_a_presets_outline_is_that_of_its_outline_models_mean(mode):
    rgb = two_colour_image()
    first = soft_step_prob(edge_fraction=0.4)
    second = soft_step_prob(edge_fraction=0.6)
    alpha = refine.refine_alpha(rgb, first, mode, support=(second,))
    mean = matting.resize((first + second) / 2, 60, 80)
    outline = refine._outline(rgb, mean, (20, 20)) >= 0.5
    np.testing.assert_array_equal(alpha >= 0.5, outline)


def test_another_models_unsure_band_widens_the_first_models_only_nearby():
    soft = np.zeros((40, 800), np.float32)
    soft[:, :200] = 1.0  # the first model: object on the left, unknown band around column 200
    other = soft.copy()
    other[:, 200:206] = 0.3  # unsure right beside the edge
    other[:, 600:610] = 0.3  # unsure far away
    widened = ensemble.trimap(soft, 1.0, [(other, 1.0)])
    assert trimaps.unknown(widened[:, 200:206]).all()
    assert (widened[:, 400:] == trimaps.BACKGROUND).all()
    np.testing.assert_array_equal(widened[:, :190], trimaps.from_probability(soft, 1.0)[:, :190])


def test_an_edge_model_gives_the_alpha_inside_the_band_but_never_moves_the_outline():
    rgb, outline = two_colour_image(), soft_step_prob()
    edge = np.full((20, 20), 0.3, np.float32)
    alpha = refine.refine_alpha(rgb, outline, "off", edges=(edge,))
    soft = matting.resize(outline, 60, 80)
    band = trimaps.unknown(ensemble.trimap(soft, 4.0, [(matting.resize(edge, 60, 80), 4.0)]))
    assert band.any()
    inside = soft >= 0.5
    np.testing.assert_array_equal(alpha[band & ~inside], np.float32(0.3))
    np.testing.assert_array_equal(alpha[band & inside], np.float32(0.5))  # held on the outline's side
    np.testing.assert_array_equal(alpha[~band], soft[~band])


@pytest.mark.parametrize("mode", ["fast", "best"])
def test_an_edge_model_keeps_the_outline_models_side_of_one_half(mode):
    rgb, outline = two_colour_image(), soft_step_prob()
    edge = np.zeros((20, 20), np.float32)  # an edge model that sees nothing at all
    alone = refine.refine_alpha(rgb, outline, mode) >= 0.5
    assert np.array_equal(refine.refine_alpha(rgb, outline, mode, edges=(edge,)) >= 0.5, alone)
