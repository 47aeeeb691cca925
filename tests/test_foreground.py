"""foreground: colour decontamination of the soft band (multi-level foreground estimation)."""

import tracemalloc

import numpy as np
import pytest

from cleancut.foreground import estimate_foreground

RED = np.array([200, 30, 30], np.float32)
BLUE = np.array([20, 60, 220], np.float32)


def blended(height=40, width=60, ramp=(20, 40)):
    """A red object fading into a blue background over columns ramp[0]..ramp[1]."""
    alpha = np.ones((height, width), np.float32)
    lo, hi = ramp
    alpha[:, lo:hi] = np.linspace(1.0, 0.0, hi - lo + 2, dtype=np.float32)[1:-1]
    alpha[:, hi:] = 0.0
    image = alpha[..., None] * RED + (1 - alpha[..., None]) * BLUE
    return np.round(image).astype(np.uint8), alpha


def test_opaque_alpha_returns_the_image_itself():
    rgb, _ = blended()
    assert np.array_equal(estimate_foreground(rgb, np.ones(rgb.shape[:2], np.float32)), rgb)


def test_transparent_alpha_returns_the_image_itself():
    rgb, _ = blended()
    assert np.array_equal(estimate_foreground(rgb, np.zeros(rgb.shape[:2], np.float32)), rgb)


def test_soft_band_gets_the_objects_own_colour():
    rgb, alpha = blended()
    fg = estimate_foreground(rgb, alpha)
    band = (alpha > 0.1) & (alpha < 1.0)
    assert np.abs(fg[band].astype(np.float32) - RED).max() <= 6


def test_soft_band_loses_the_background_halo():
    rgb, alpha = blended()
    fg = estimate_foreground(rgb, alpha)
    band = (alpha > 0.1) & (alpha < 1.0)
    # the blue channel of the input grows towards the background; the estimate stays red
    assert fg[band][:, 2].max() < 0.5 * rgb[band][:, 2].max()


def test_opaque_pixels_keep_their_colours_exactly():
    rgb, alpha = blended()
    fg = estimate_foreground(rgb, alpha)
    assert np.array_equal(fg[alpha == 1.0], rgb[alpha == 1.0])


def test_output_is_uint8_rgb_of_the_image_size():
    rgb, alpha = blended()
    fg = estimate_foreground(rgb, alpha)
    assert fg.shape == rgb.shape and fg.dtype == np.uint8


@pytest.mark.parametrize("shape", [(1, 1), (1, 40), (40, 1), (2, 50)])
def test_tiny_and_thin_images(shape):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    alpha = rng.random(shape, dtype=np.float32)
    fg = estimate_foreground(rgb, alpha)
    assert fg.shape == shape + (3,) and fg.dtype == np.uint8


def test_alpha_of_another_size_is_refused():
    rgb, _ = blended()
    with pytest.raises(ValueError, match="alpha"):
        estimate_foreground(rgb, np.ones((3, 3), np.float32))


def test_image_must_be_uint8_rgb():
    rgb, alpha = blended()
    with pytest.raises(ValueError, match="uint8"):
        estimate_foreground(rgb.astype(np.float32), alpha)


def test_large_photo_takes_colours_from_the_reduced_solve(monkeypatch):
    from cleancut import foreground

    monkeypatch.setattr(foreground, "WORK_PIXELS", 600)  # 40×60 is solved at 20×30
    rgb, alpha = blended()
    fg = foreground.estimate_foreground(rgb, alpha)
    band = (alpha > 0.1) & (alpha < 1.0)
    assert np.abs(fg[band].astype(np.float32) - RED).max() <= 12


# --- band-only work ---

def test_transparent_pixels_keep_their_colours_exactly():
    rgb, alpha = blended()
    fg = estimate_foreground(rgb, alpha)
    assert np.array_equal(fg[alpha == 0.0], rgb[alpha == 0.0])


def test_pixels_whose_alpha_rounds_to_0_or_255_keep_their_colours_exactly():
    rgb, alpha = blended()
    alpha[:, 0] = 1.0 - 0.4 / 255
    alpha[:, -1] = 0.4 / 255
    fg = estimate_foreground(rgb, alpha)
    assert np.array_equal(fg[:, 0], rgb[:, 0]) and np.array_equal(fg[:, -1], rgb[:, -1])


def test_a_band_level_answers_its_solved_pixels_and_defers_the_rest_to_the_coarser_level():
    from cleancut.foreground import _Level

    coarse_f = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    coarse = _Level(2, 3, coarse_f, -coarse_f)
    solved = np.array([[0.5, 0.5, 0.5], [0.25, 0.25, 0.25]], np.float32)
    level = _Level(4, 6, solved, -solved, nodes=np.array([7, 20]), coarser=coarse)
    f, b = level.at(np.array([7, 20, 0, 23]))
    # pixel 0 (row 0, col 0) lies over coarse (0, 0); pixel 23 (row 3, col 5) over coarse (1, 2)
    np.testing.assert_array_equal(f, np.stack([solved[0], solved[1], coarse_f[0, 0], coarse_f[1, 2]]))
    np.testing.assert_array_equal(b, -f)


def test_large_photo_colours_are_the_bilinear_resize_of_the_reduced_solve(monkeypatch):
    from PIL import Image

    from cleancut import foreground

    rng = np.random.default_rng(4)
    top_f = rng.random((30, 50, 3), dtype=np.float32)
    top = foreground._Level(30, 50, top_f, top_f.copy())
    rgb = rng.integers(0, 256, (90, 150, 3), dtype=np.uint8)
    soft = np.zeros((90, 150), bool)
    soft[20:70:3, 10:140:7] = True
    out = rgb.copy()
    foreground._upsample_band(top, rgb, soft, out)
    planes = [np.asarray(Image.fromarray(top_f[..., c]).resize((150, 90), Image.Resampling.BILINEAR))
              for c in range(3)]
    expected = np.clip(np.stack(planes, axis=2) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(out[soft], expected[soft])
    assert np.array_equal(out[~soft], rgb[~soft])


def test_levels_that_solve_only_the_band_still_give_the_objects_own_colour(monkeypatch):
    from cleancut import foreground

    monkeypatch.setattr(foreground, "EVERYWHERE_SIZE", 64)  # every level above 8×8 is band-only
    rgb, alpha = blended()
    fg = foreground.estimate_foreground(rgb, alpha)
    band = (alpha > 0.1) & (alpha < 1.0)
    assert np.abs(fg[band].astype(np.float32) - RED).max() <= 6


def unrefined_scene(background_alpha: float):
    """A 5 MP red disc with a soft rim on blue, its background at ``background_alpha``: an
    unrefined probability is tiny but not 0 across the background."""
    yy, xx = np.mgrid[0:2000, 0:2500]
    alpha = np.clip((900.0 - np.hypot(yy - 1000.0, xx - 1250.0)) / 40.0, 0.0, 1.0).astype(np.float32)
    alpha[alpha == 0.0] = background_alpha
    image = alpha[..., None] * RED + (1 - alpha[..., None]) * BLUE
    return np.round(image).astype(np.uint8), alpha


def test_an_alpha_8_bits_cannot_see_costs_no_more_than_none():
    peaks = []
    for background_alpha in (0.0, 1e-4):
        rgb, alpha = unrefined_scene(background_alpha)
        tracemalloc.start()
        estimate_foreground(rgb, alpha)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()

    assert peaks[1] < 1.2 * peaks[0]


def test_an_alpha_8_bits_cannot_see_gives_the_colours_of_none():
    clean = estimate_foreground(*unrefined_scene(0.0))
    rgb, alpha = unrefined_scene(1e-4)

    tiny = estimate_foreground(rgb, alpha)

    soft = (alpha > 0.5 / 255) & (alpha < 1 - 0.5 / 255)
    assert np.abs(tiny[soft].astype(int) - clean[soft].astype(int)).max() <= 1
