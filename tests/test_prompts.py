"""Box and region prompts: parsing, the region a box makes, the crop a model sees, the CLI's
--box and --hint, and the pipeline running the models on the crop."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from PIL import Image

from cleancut import pipeline, prompts
from cleancut.cli import main as run
from cleancut.errors import CleancutError
from cleancut.options import Options

from support import gradient_image


def test_a_box_is_four_whole_numbers():
    assert prompts.parse_box("10, 20,30,40") == (10, 20, 30, 40)


@pytest.mark.parametrize("text", ["1,2,3", "1,2,3,4,5", "a,b,c,d", "1.5,2,3,4", "0,0,0,5", "-1,0,4,4"])
def test_a_malformed_box_says_what_a_box_is(text):
    with pytest.raises(ValueError, match="box"):
        prompts.parse_box(text)


def test_a_box_region_is_unknown_inside_and_background_outside_cut_at_the_frame():
    region = prompts.box_region((6, 8, 3), (5, 2, 10, 3))
    expected = np.zeros((6, 8), np.uint8)
    expected[2:5, 5:8] = 128
    np.testing.assert_array_equal(region, expected)


def test_a_box_wholly_outside_the_image_is_refused():
    with pytest.raises(ValueError, match="outside the 8×6 image"):
        prompts.box_region((6, 8), (8, 0, 2, 2))


def test_bounds_are_those_of_the_true_pixels_end_exclusive():
    mask = np.zeros((10, 12), bool)
    mask[3, 4] = mask[6, 9] = True
    assert prompts.bounds(mask) == (3, 7, 4, 10)
    assert prompts.bounds(np.zeros((4, 4), bool)) is None


def test_the_crop_is_the_hints_bounds_with_a_margin():
    hint = np.zeros((400, 600), np.uint8)
    hint[100:200, 300:500] = 128  # 100 high, 200 wide: margins of 10 and 20 pixels
    assert prompts.crop_for(hint) == (slice(90, 210), slice(280, 520))


def test_no_crop_when_it_would_keep_most_of_the_frame_or_nothing_is_marked():
    hint = np.zeros((100, 100), np.uint8)
    assert prompts.crop_for(hint) is None
    hint[5:95, 5:95] = 128
    assert prompts.crop_for(hint) is None


def test_hint_for_a_box_is_its_region():
    region = prompts.hint_for(prompts.Prompt(box=(1, 1, 2, 2)), (4, 4, 3), 10**6)
    assert region.tolist() == [[0, 0, 0, 0], [0, 128, 128, 0], [0, 128, 128, 0], [0, 0, 0, 0]]


def test_a_hint_file_of_another_size_is_a_clear_error(tmp_path):
    Image.new("L", (5, 4)).save(tmp_path / "hint.png")
    with pytest.raises(CleancutError, match="hint.png is 5×4, the image 16×16"):
        prompts.hint_for(prompts.Prompt(hint=tmp_path / "hint.png"), (16, 16, 3), 10**6)


# --- the pipeline: the models look at the crop ---

def _red(rgb: np.ndarray) -> np.ndarray:
    from cleancut import fetch, segment
    from cleancut.catalog import load_catalog

    entry = load_catalog().get("red")
    return segment.predict(np.ascontiguousarray(rgb), entry, fetch.ensure(entry))


def test_a_small_region_runs_the_model_on_the_crop_around_it_and_on_the_frame(engine_models):
    from cleancut import refine

    rgb = gradient_image(64, 64)
    region = np.zeros((64, 64), np.uint8)
    region[40:56, 40:56] = 128
    alpha = pipeline.remove(rgb, Options(model="red", refine="fast", foreground=False), hint=region).alpha
    crop = prompts.crop_for(region)
    assert crop == (slice(32, 64), slice(32, 64))
    prob = prompts.with_context(_red(rgb[crop]), _red(rgb), crop, rgb.shape)
    expected = np.zeros((64, 64), np.float32)
    expected[crop] = refine.refine_alpha(np.ascontiguousarray(rgb[crop]), prob, "fast")
    expected[region == 0] = 0.0
    np.testing.assert_array_equal(alpha, expected)


def test_the_crops_probability_is_the_mean_of_the_crops_answer_and_the_frames_cut_to_it():
    on_frame = np.zeros((10, 10), np.float32)
    on_frame[3:, 3:] = 1.0  # the frame's answer: the bottom-right, past the crop's resampling reach
    on_crop = np.full((4, 4), 0.5, np.float32)
    mean = prompts.with_context(on_crop, on_frame, (slice(50, 100), slice(50, 100)), (100, 100, 3))
    np.testing.assert_allclose(mean, 0.75)


def test_colours_outside_the_crop_are_the_photos_own(engine_models):
    rgb = gradient_image(64, 64)
    region = np.zeros((64, 64), np.uint8)
    region[40:56, 40:56] = 128
    colours = pipeline.remove(rgb, Options(model="red"), hint=region).foreground
    np.testing.assert_array_equal(colours[:32], rgb[:32])
    np.testing.assert_array_equal(colours[:, :32], rgb[:, :32])


# --- the command line ---

def _photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(gradient_image(64, 48)).save(path)
    return path


def test_box_cuts_out_only_inside_the_box(tmp_path, engine_models):
    out = tmp_path / "mask.png"
    assert run(["remove", str(_photo(tmp_path)), "--model", "red", "--mask", "--box", "8,4,20,10",
                "-o", str(out), "-q"]) == 0
    mask = np.asarray(Image.open(out))
    outside = np.ones(mask.shape, bool)
    outside[4:14, 8:28] = False
    assert (mask[outside] == 0).all() and mask[~outside].any()


def test_hint_file_of_the_wrong_size_fails_that_file_and_writes_nothing(tmp_path, engine_models, capsys):
    Image.new("L", (10, 10), 128).save(tmp_path / "hint.png")
    out = tmp_path / "mask.png"
    assert run(["remove", str(_photo(tmp_path)), "--model", "red", "--mask", "--hint", str(tmp_path / "hint.png"),
                "-o", str(out), "-q"]) == 1
    assert "a hint must be the image's size" in capsys.readouterr().err
    assert not out.exists()


def test_hint_file_guides_the_cut_out(tmp_path, engine_models):
    trimap = np.zeros((48, 64), np.uint8)
    trimap[10:30, 10:40] = 128
    trimap[15:25, 15:35] = 255
    Image.fromarray(trimap).save(tmp_path / "hint.png")
    out = tmp_path / "mask.png"
    assert run(["remove", str(_photo(tmp_path)), "--model", "red", "--mask", "--hint", str(tmp_path / "hint.png"),
                "-o", str(out), "-q"]) == 0
    mask = np.asarray(Image.open(out))
    assert (mask[trimap == 255] == 255).all() and (mask[trimap == 0] == 0).all()


def test_an_unreadable_hint_file_stops_before_any_work(tmp_path, engine_models, capsys):
    (tmp_path / "hint.png").write_bytes(b"not an image")
    assert run(["remove", str(_photo(tmp_path)), "--model", "red", "--hint", str(tmp_path / "hint.png"),
                "-o", str(tmp_path / "out.png"), "-q"]) == 1
    assert "hint.png" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_hint_file_with_ray_is_a_usage_error_before_ray_is_touched(tmp_path, engine_models, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # importing Ray would fail the test
    for name in ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"):
        monkeypatch.delenv(name, raising=False)
    Image.new("L", (64, 48)).save(tmp_path / "hint.png")
    assert run(["remove", str(_photo(tmp_path)), "--hint", str(tmp_path / "hint.png"), "--ray"]) == 2
    assert "use --box" in capsys.readouterr().err
    assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in os.environ  # a later real cluster must not inherit it


def test_box_and_hint_together_are_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(["remove", str(_photo(tmp_path)), "--box", "1,1,2,2", "--hint", "x.png"])
    assert exit_.value.code == 2
