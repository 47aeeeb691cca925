"""Presets: the outline model decides where the subject is; the others only help it."""

from __future__ import annotations

import numpy as np
import pytest

from cleancut import ensemble, refine
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


def _another_object() -> np.ndarray:
    """A second model that sees the outline model's object as it does, and another object at
    the far right where the outline model is sure there is none."""
    other = soft_step_prob(40)
    other[:, 34:] = 1.0
    return other


@pytest.mark.parametrize("mode", ["fast", "best"])
def test_a_supporter_that_picked_another_object_changes_nothing(mode):
    rgb, outline = two_colour_image(60, 160, 80), soft_step_prob(40)
    alone = refine.refine_alpha(rgb, outline, mode)
    np.testing.assert_array_equal(refine.refine_alpha(rgb, outline, mode, support=(_another_object(),)), alone)


def test_a_supporter_that_agrees_softens_the_prior_where_it_agrees():
    outline = np.full((8, 8), 0.8, np.float32)
    prior = ensemble.prior(outline, [np.full((8, 8), 0.6, np.float32)], [], np.full((8, 8), 128, np.uint8))
    assert np.allclose(prior, 0.7)


def test_a_supporters_unsure_band_widens_the_outlines_only_nearby_and_where_they_agree():
    soft = np.zeros((40, 800), np.float32)
    soft[:, :200] = 1.0  # the outline model: object on the left, unknown band around column 200
    outline = refine.trimap_from_prob(soft, 1.0)
    disagreeing = soft.copy()
    disagreeing[:, 200:210] = 0.6  # unsure beside the edge, but calling it object: ignored
    assert (ensemble.trimap(soft, 1.0, [(disagreeing, 1.0)], [])[:, 200:210] == outline[:, 200:210]).all()
    agreeing = soft.copy()
    agreeing[:, 200:206] = 0.3  # unsure beside the edge, on the background side like the outline model
    agreeing[:, 600:610] = 0.3  # unsure far away
    widened = ensemble.trimap(soft, 1.0, [(agreeing, 1.0)], [])
    assert refine.unknown(widened[:, 200:206]).all()
    assert (widened[:, 400:] == refine.BACKGROUND).all()


def test_an_edge_model_gives_the_alpha_inside_the_band_but_never_moves_the_outline():
    rgb, outline = two_colour_image(), soft_step_prob()
    edge = np.full((20, 20), 0.3, np.float32)
    alpha = refine.refine_alpha(rgb, outline, "off", edges=(edge,))
    soft = refine.resize(outline, 60, 80)
    band = refine.unknown(ensemble.trimap(soft, 4.0, [], [(refine.resize(edge, 60, 80), 4.0)]))
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
