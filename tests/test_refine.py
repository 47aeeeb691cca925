"""refine: low-resolution probability -> full-resolution alpha (off / fast / best, hinted)."""

import numpy as np
import pytest

from cleancut import matting, refine, trimaps
from cleancut.options import REFINE_MODES as MODES


def two_colour_image(height=60, width=80, edge=40):
    """Red object on the left of column ``edge``, blue background on the right."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :edge] = (220, 40, 30)
    rgb[:, edge:] = (20, 60, 200)
    return rgb


def soft_step_prob(size=20, edge_fraction=0.5, softness=3.0):
    """A model-resolution probability: a blurred vertical step, foreground on the left."""
    x = np.arange(size, dtype=np.float32) + 0.5
    column = 1.0 / (1.0 + np.exp((x - edge_fraction * size) / (softness / 4)))
    return np.tile(column, (size, 1)).astype(np.float32)


def test_off_is_a_bilinear_resize_of_the_probability():
    prob = np.full((10, 10), 0.25, np.float32)
    alpha = refine.refine_alpha(two_colour_image(), prob, "off")
    assert alpha.shape == (60, 80)
    assert alpha.dtype == np.float32
    assert np.allclose(alpha, 0.25)


def test_every_mode_options_accepts_is_one_refine_knows():
    # Options owns the list of modes and refuses any other; refine only has to know them all.
    assert set(MODES) == {"off", *refine.MODE_SETTINGS}


def test_image_must_be_uint8_rgb():
    with pytest.raises(ValueError, match="uint8"):
        refine.refine_alpha(two_colour_image().astype(np.float32), soft_step_prob(), "fast")


@pytest.mark.parametrize("mode", MODES)
def test_output_is_full_resolution_float32_within_0_1(mode):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (45, 70, 3), dtype=np.uint8)
    alpha = refine.refine_alpha(rgb, rng.random((16, 16), dtype=np.float32), mode)
    assert alpha.shape == (45, 70) and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0


@pytest.mark.parametrize("mode", MODES)
def test_all_foreground_probability_gives_opaque_alpha(mode):
    alpha = refine.refine_alpha(two_colour_image(), np.ones((20, 20), np.float32), mode)
    assert np.array_equal(alpha, np.ones((60, 80), np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_all_background_probability_gives_transparent_alpha(mode):
    alpha = refine.refine_alpha(two_colour_image(), np.zeros((20, 20), np.float32), mode)
    assert np.array_equal(alpha, np.zeros((60, 80), np.float32))


@pytest.mark.parametrize("mode", ("fast", "best"))
def test_no_confident_pixel_keeps_the_models_uncertainty(mode):
    # Degenerate probability (no confident fg nor bg): the result stays the model's 0.5.
    alpha = refine.refine_alpha(two_colour_image(), np.full((20, 20), 0.5, np.float32), mode)
    assert np.allclose(alpha, 0.5, atol=1e-3)


def test_off_keeps_the_models_edge():
    alpha = refine.refine_alpha(two_colour_image(), soft_step_prob(edge_fraction=0.55), "off")
    assert (alpha[:, 40:43] >= 0.5).all()


@pytest.mark.parametrize("mode", ("fast", "best"))
def test_refinement_moves_the_edge_onto_the_colour_edge(mode):
    # The model puts the edge 4 pixels too far right; the image's edge is at column 40.
    alpha = refine.refine_alpha(two_colour_image(), soft_step_prob(edge_fraction=0.55), mode)
    assert (alpha[:, :40] >= 0.5).all()
    assert (alpha[:, 40:] < 0.5).all()


def test_best_resolves_a_blurred_edge_into_a_hard_one():
    alpha = refine.refine_alpha(two_colour_image(), soft_step_prob(), "best")
    assert (alpha[:, :38] >= 0.98).all()
    assert (alpha[:, 42:] <= 0.02).all()


def test_best_beats_plain_resize_on_a_blurred_edge():
    truth = np.zeros((60, 80), np.float32)
    truth[:, :40] = 1.0
    off = refine.refine_alpha(two_colour_image(), soft_step_prob(), "off")
    best = refine.refine_alpha(two_colour_image(), soft_step_prob(), "best")
    assert np.abs(best - truth).sum() < 0.05 * np.abs(off - truth).sum()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 50), (50, 1), (2, 64), (64, 3)])
def test_tiny_and_thin_images(mode, shape):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    alpha = refine.refine_alpha(rgb, rng.random((8, 8), dtype=np.float32), mode)
    assert alpha.shape == shape and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0


@pytest.mark.parametrize("mode", MODES)
def test_hint_trimap_decides_where_it_is_certain(mode):
    hint = np.full((60, 80), 128, np.uint8)
    hint[:, :10] = 0  # the user says background, although the model says foreground
    hint[:, 70:] = 255  # and foreground where the model says background
    alpha = refine.refine_alpha(two_colour_image(), soft_step_prob(), mode, hint=hint)
    assert (alpha[:, :10] == 0.0).all()
    assert (alpha[:, 70:] == 1.0).all()


def test_hint_must_match_the_image_size():
    with pytest.raises(ValueError, match="hint"):
        refine.refine_alpha(two_colour_image(), soft_step_prob(), "best", hint=np.zeros((5, 5), np.uint8))


def test_rough_mask_hint_is_refined_to_the_colour_edge():
    mask = np.zeros((60, 80), np.uint8)
    mask[:, :43] = 255  # a selection drawn three pixels too wide
    alpha = refine.refine_alpha(two_colour_image(), np.full((20, 20), 0.5, np.float32), "best", hint=mask)
    assert (alpha[:, :38] >= 0.98).all()
    assert (alpha[:, 42:] <= 0.02).all()


def test_trimap_from_probability_without_confident_pixels_is_all_unknown():
    trimap = trimaps.from_probability(np.full((30, 30), 0.5, np.float32), 2.0)
    assert (trimap == 128).all()


def test_trimap_from_probability_marks_confident_regions():
    prob = np.zeros((40, 40), np.float32)
    prob[:, :20] = 1.0
    trimap = trimaps.from_probability(prob, 1.0)
    assert set(np.unique(trimap).tolist()) == {0, 128, 255}
    assert (trimap[:, :15] == 255).all() and (trimap[:, 25:] == 0).all()
    assert (trimap[:, 19:21] == 128).all()


def test_guided_filter_keeps_a_constant_input():
    rng = np.random.default_rng(3)
    guide = rng.random((20, 30, 3), dtype=np.float32)
    out = matting.guided_filter(guide, np.full((20, 30), 0.7, np.float32), 2, 1e-3)
    assert np.allclose(out, 0.7, atol=1e-4)


def test_boolean_selection_hint_counts_as_a_rough_mask():
    selection = np.zeros((60, 80), bool)
    selection[:, :43] = True
    alpha = refine.refine_alpha(two_colour_image(), np.full((20, 20), 0.5, np.float32), "best", hint=selection)
    assert (alpha[:, :38] >= 0.98).all()
    assert (alpha[:, 42:] <= 0.02).all()


def test_float_hint_is_refused():
    with pytest.raises(ValueError, match="uint8"):
        refine.refine_alpha(two_colour_image(), soft_step_prob(), "best", hint=np.zeros((60, 80), np.float32))


def test_large_photo_is_solved_small_and_upsampled_along_the_colour_edge(monkeypatch):
    monkeypatch.setattr(refine, "WORK_PIXELS", 1200)  # 60×80 is solved at 30×40
    alpha = refine.refine_alpha(two_colour_image(), soft_step_prob(), "best")
    assert alpha.shape == (60, 80)
    assert (alpha[:, :38] >= 0.98).all()
    assert (alpha[:, 42:] <= 0.02).all()


# --- ensembles: other models' probabilities as support ---

def test_off_with_support_averages_the_probabilities():
    alpha = refine.refine_alpha(two_colour_image(), np.full((10, 10), 0.2, np.float32), "off",
                                support=(np.full((5, 5), 0.6, np.float32),))
    assert np.allclose(alpha, 0.4)


@pytest.mark.parametrize("mode", ["fast", "best"])
def test_support_cannot_add_an_object_the_outline_model_is_sure_is_not_there(mode):
    rgb = two_colour_image()
    outline = soft_step_prob()
    elsewhere = np.zeros((20, 20), np.float32)
    elsewhere[:, 16:] = 1.0  # a second model sees an object at the far right
    alpha = refine.refine_alpha(rgb, outline, mode, support=(elsewhere,))
    trimap = trimaps.from_probability(matting.resize(outline, 60, 80), 4.0)
    assert (alpha[trimap == 255] == 1.0).all()
    assert (alpha[:, 72:] == 0.0).all()  # beyond where the second model is unsure


@pytest.mark.parametrize("mode", MODES)
def test_support_keeps_degenerate_images_working(mode):
    rgb = np.full((1, 300, 3), 90, np.uint8)
    alpha = refine.refine_alpha(rgb, np.ones((20, 20), np.float32), mode,
                                support=(np.zeros((8, 8), np.float32),))
    assert alpha.shape == (1, 300) and 0.0 <= alpha.min() and alpha.max() <= 1.0


def test_keep_outline_moves_alpha_onto_the_outlines_side_of_one_half_and_nothing_else():
    alpha = np.array([0.1, 0.7, 0.3, 0.9, 0.5], np.float32)
    outline = np.array([0.8, 0.2, 0.1, 0.6, 0.4], np.float32)
    kept = refine.keep_outline(alpha, outline)
    just_under = np.nextafter(np.float32(0.5), np.float32(0.0))
    np.testing.assert_array_equal(kept, np.array([0.5, just_under, 0.3, 0.9, just_under], np.float32))
    np.testing.assert_array_equal(kept >= 0.5, outline >= 0.5)


# --- band-only work: the unsure band's tiles, everything else copied ---

def textured_image(height, width, seed=5):
    """A smooth random photo-like image (so that the guided filter has edges to follow)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


def test_band_boxes_cover_one_pixel_with_its_tile_and_the_margin_clipped_to_the_frame():
    mask = np.zeros((100, 100), bool)
    mask[40, 70] = True
    assert matting.band_boxes(mask, 32, 5) == [((32, 64, 64, 96), (27, 69, 59, 100))]


def test_band_boxes_merge_neighbouring_tiles_of_a_row_into_one_run():
    mask = np.zeros((64, 200), bool)
    mask[3, [5, 40, 70, 150]] = True  # tiles 0, 1, 2 and 4 of the first row of tiles
    inner = [box for box, _ in matting.band_boxes(mask, 32, 0)]
    assert inner == [(0, 32, 0, 96), (0, 32, 128, 160)]


def test_band_boxes_of_a_frame_without_band_are_none():
    assert matting.band_boxes(np.zeros((70, 90), bool), 32, 8) == []


def test_guided_filter_band_equals_the_full_frame_filter_on_the_band_and_touches_nothing_else():
    rgb = textured_image(150, 260)
    rng = np.random.default_rng(6)
    src = rng.random((150, 260), dtype=np.float32)
    where = np.zeros((150, 260), bool)
    where[60:80, 100:200] = True
    out = np.full((150, 260), -7.0, np.float32)
    matting.guided_filter_band(rgb, src, 6, matting.GF_EPS, where, out)
    full = matting.guided_filter(rgb.astype(np.float32) / np.float32(255.0), src, 6, matting.GF_EPS)
    assert np.abs(out[where] - full[where]).max() <= 1e-6
    assert (out[~where] == -7.0).all()


def test_fast_equals_the_full_frame_guided_filter_inside_the_band_within_1e_6():
    rgb = textured_image(200, 400)
    prob = soft_step_prob(size=40)[:20]  # 20×40 model pixels, edge in the middle
    alpha = refine.refine_alpha(rgb, prob, "fast")
    soft = np.clip(matting.resize(prob, 200, 400), 0.0, 1.0)
    trimap = trimaps.from_probability(soft, 10.0)
    full = np.clip(matting.guided_filter(rgb.astype(np.float32) / np.float32(255.0), soft, 30, matting.GF_EPS), 0, 1)
    band = trimap == 128
    assert np.abs(alpha[band] - full[band]).max() <= 1e-6


def test_fast_copies_the_trimaps_certain_pixels_exactly():
    rgb = textured_image(200, 400)
    prob = soft_step_prob(size=40)[:20]
    alpha = refine.refine_alpha(rgb, prob, "fast")
    trimap = trimaps.from_probability(np.clip(matting.resize(prob, 200, 400), 0.0, 1.0), 10.0)
    assert (alpha[trimap == 255] == 1.0).all() and (alpha[trimap == 0] == 0.0).all()


def full_frame_guided_upsample(small_rgb, alpha_low, rgb, trimap_low, radius):
    """The guided upsample over the whole frame (He & Sun 2015), as refine did it before it
    worked on the band only: the specification the band version must meet."""
    from PIL import Image
    from scipy import ndimage

    height, width = rgb.shape[:2]
    coef, offset = matting.guided_coefficients(small_rgb.astype(np.float32) / np.float32(255.0), alpha_low,
                                              radius, matting.GF_EPS)
    out = matting.resize(offset, height, width)
    for c in range(3):
        out += matting.resize(coef[..., c], height, width) * rgb[..., c] * np.float32(1.0 / 255.0)
    np.clip(out, 0.0, 1.0, out=out)
    unsure = ndimage.binary_dilation(trimap_low == 128, iterations=1)
    sure = np.where(unsure, 128, trimap_low).astype(np.uint8)
    sure = np.asarray(Image.fromarray(sure).resize((width, height), Image.Resampling.NEAREST))
    out[sure == 255] = 1.0
    out[sure == 0] = 0.0
    return out


def test_large_photo_fast_equals_the_full_frame_guided_upsample_within_1e_6(monkeypatch):
    from PIL import Image

    monkeypatch.setattr(refine, "WORK_PIXELS", 20_000)  # 300×600 is solved at 100×200
    rgb = textured_image(300, 600)
    prob = soft_step_prob(size=40)[:20]
    alpha = refine.refine_alpha(rgb, prob, "fast")
    small_rgb = np.asarray(Image.fromarray(rgb).resize((200, 100), Image.Resampling.BOX))
    soft = np.clip(matting.resize(prob, 100, 200), 0.0, 1.0)
    trimap = trimaps.from_probability(soft, 5.0)
    low = np.clip(matting.guided_filter(small_rgb.astype(np.float32) / np.float32(255.0), soft, 15,
                                       matting.GF_EPS), 0, 1).astype(np.float32)
    low[trimap == 255] = 1.0
    low[trimap == 0] = 0.0
    expected = full_frame_guided_upsample(small_rgb, low, rgb, trimap, refine.UPSAMPLE_RADIUS)
    assert np.abs(alpha - expected).max() <= 1e-6


def test_guided_filter_band_over_the_whole_frame_is_the_full_frame_filter():
    rgb = textured_image(90, 120)
    src = np.random.default_rng(7).random((90, 120), dtype=np.float32)
    out = np.zeros((90, 120), np.float32)
    matting.guided_filter_band(rgb, src, 5, matting.GF_EPS, np.ones((90, 120), bool), out)
    full = matting.guided_filter(rgb.astype(np.float32) / np.float32(255.0), src, 5, matting.GF_EPS)
    np.testing.assert_array_equal(out, full)
