"""Video streams: RVM's recurrent state carried between frames, motion-adaptive smoothing for the rest."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cleancut import licences, pipeline, temporal
from cleancut.catalog import load_catalog
from cleancut.options import Options

from support import REPO, gradient_image


def test_smoothing_off_returns_the_frame_unchanged():
    alpha = np.array([[0.2, 0.8]], np.float32)
    assert temporal.smooth(alpha, np.zeros_like(alpha), 0.0) is alpha


def test_small_changes_are_pulled_towards_the_previous_frame():
    previous = np.array([[0.50]], np.float32)
    alpha = np.array([[0.55]], np.float32)  # change 0.05: weight = 0.8 * (1 - 0.05 / 0.25) = 0.64
    np.testing.assert_allclose(temporal.smooth(alpha, previous, 0.8), [[0.55 - 0.64 * 0.05]], atol=1e-6)


def test_changes_beyond_the_motion_threshold_pass_through():
    previous = np.array([[0.0, 1.0]], np.float32)
    alpha = np.array([[0.3, 0.7]], np.float32)
    np.testing.assert_array_equal(temporal.smooth(alpha, previous, 0.9), alpha)


def test_the_first_frame_of_a_stream_has_nothing_to_smooth_towards():
    alpha = np.array([[0.4]], np.float32)
    assert temporal.smooth(alpha, None, 0.9) is alpha


def test_a_stream_smooths_the_second_frame_of_a_salient_model(engine_models):
    state = temporal.StreamState()
    options = Options(model="red", refine="off", temporal_smoothing=0.5)
    first = gradient_image()
    second = first.copy()
    second[..., 0] = np.clip(second[..., 0].astype(int) + 10, 0, 255).astype(np.uint8)
    a1 = pipeline.remove(first, options, stream=state).alpha
    a2 = pipeline.remove(second, options, stream=state).alpha
    alone = pipeline.remove(second, options).alpha
    assert state.frames == 2
    np.testing.assert_allclose(a1, first[..., 0] / 255.0, atol=1e-6)
    assert np.abs(a2 - a1).mean() < np.abs(alone - a1).mean()


@pytest.fixture
def rvm(real_cache):
    licences.accept(load_catalog().get("rvm"))
    return Options(model="rvm", threads=2)


def test_rvm_carries_its_recurrent_state_from_frame_to_frame(rvm):
    photo = np.asarray(Image.open(REPO / "examples" / "astronaut.png").convert("RGB"))
    state = temporal.StreamState()
    pipeline.remove(photo, rvm, stream=state)
    assert state.recurrent is not None and len(state.recurrent) == 4
    carried = pipeline.remove(photo, rvm, stream=state).alpha
    fresh = pipeline.remove(photo, rvm).alpha
    assert np.abs(carried - fresh).max() > 0.01  # the state changed the answer
    assert carried[100, 256] > 0.9 and carried[20, 490] < 0.1  # and it is still her, not the backdrop


def test_a_new_stream_state_gives_the_still_image_answer(rvm):
    photo = np.asarray(Image.open(REPO / "examples" / "astronaut.png").convert("RGB"))
    first_frame = pipeline.remove(photo, rvm, stream=temporal.StreamState()).alpha
    np.testing.assert_allclose(first_frame, pipeline.remove(photo, rvm).alpha, atol=1e-6)
