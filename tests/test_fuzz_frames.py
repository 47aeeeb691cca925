"""Property-based fuzzing of the frame decoder (frames.py): the bytes editors hand over.

Invariants: any description (any JSON value for width, height, channels, format, stride)
either decodes or raises FrameError, never anything else; what decodes is exactly the pixels
that were laid out, padding ignored; memory stays bounded by the frame's own size, whatever
its stride says.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cleancut import frames

ANY = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6) | st.lists(st.integers(), max_size=2)
LIMIT = 1 << 20


@given(width=st.integers(-3, 40) | ANY, height=st.integers(-3, 40) | ANY,
       channels=st.sampled_from(list(frames.CHANNELS)) | ANY, fmt=st.sampled_from(list(frames.FORMATS)) | ANY,
       stride=st.none() | st.integers(-10, 2**42) | ANY, data=st.binary(max_size=4096))
def test_any_description_decodes_or_is_a_frame_error(width, height, channels, fmt, stride, data):
    tracemalloc.start()
    try:
        try:
            size = frames.frame_size(width, height, channels, fmt, stride, max_bytes=LIMIT)
            rgb, alpha = frames.decode(data[:size] if size <= len(data) else data, width, height, channels, fmt, stride)
        except frames.FrameError:
            return
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8
    assert alpha is None or alpha.shape == (height, width)
    assert peak < 64 * (width * height * 4 * 4) + (1 << 16)


@given(width=st.integers(1, 24), height=st.integers(1, 24), channels=st.sampled_from(list(frames.CHANNELS)),
       padding=st.integers(0, 64), seed=st.integers(0, 2**32 - 1))
def test_padded_u8_rows_decode_to_exactly_the_pixels_laid_out(width, height, channels, padding, seed):
    count = frames.CHANNELS[channels]
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, count), dtype=np.uint8)
    row = width * count
    rows = np.full((height, row + padding), 0xAB, np.uint8)
    rows[:, :row] = pixels.reshape(height, row)
    buffer = rows.tobytes()[:(row + padding) * (height - 1) + row]
    rgb, alpha = frames.decode(buffer, width, height, channels, "u8", stride=row + padding)
    colour = pixels[..., :3] if count >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    np.testing.assert_array_equal(rgb, colour)
    if channels in ("YA", "RGBA"):
        np.testing.assert_allclose(alpha, pixels[..., -1] / 255.0, atol=1e-6)
    else:
        assert alpha is None


@given(values=st.lists(st.floats(width=32), min_size=3, max_size=3))
def test_any_float_pixel_decodes_to_a_colour_in_range(values):
    buffer = np.asarray(values, dtype="<f4").tobytes()
    rgb, _ = frames.decode(buffer, 1, 1, "RGB", "f32")
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 1, 3)


@pytest.mark.parametrize("stride", [2**31, 2**40, 4_000_000_000])
def test_a_huge_stride_on_one_row_is_bounded_by_the_limit(stride):
    with pytest.raises(frames.FrameError, match="over the limit"):
        frames.frame_size(1, 1, "RGB", "u8", stride, max_bytes=LIMIT)
