"""Our PNG encoder (imagewrite): every layout and depth decodes to exactly the pixels given,
a large image's bands deflated on threads join into one valid zlib stream whose bytes do not
depend on the threads, and a full disk or a Ctrl-C mid-encode loses nothing."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from cleancut import imagewrite
from cleancut.errors import ImageError
from cleancut.imageread import read_image
from cleancut.imagewrite import encode_image, write_image

LAYOUTS = [((61, 47), np.uint8), ((61, 47, 3), np.uint8), ((61, 47, 4), np.uint8),
           ((61, 47), np.uint16), ((61, 47, 3), np.uint16), ((61, 47, 4), np.uint16)]


def noise(shape, dtype, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks as (kind, data), each chunk's CRC checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + body)
        found.append((kind, body))
        at += 12 + length
    return found


def assert_round_trip(path: Path, pixels: np.ndarray) -> None:
    picture = read_image(path)
    colour = np.stack([pixels] * 3, axis=-1) if pixels.ndim == 2 else pixels[..., :3]
    assert picture.bit_depth == 8 * pixels.dtype.itemsize
    assert np.array_equal(picture.rgb, colour)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        assert np.array_equal(picture.alpha, pixels[..., 3])
    else:
        assert picture.alpha is None


@pytest.fixture
def many_bands(monkeypatch):
    """Bands of a few rows each, deflated on four threads: what a 12 MP cut-out goes through."""
    monkeypatch.setattr(imagewrite, "_PNG_BAND_BYTES", 500)
    monkeypatch.setattr(imagewrite, "_PNG_THREADS", 4)


@pytest.mark.parametrize("shape, dtype", LAYOUTS)
def test_every_layout_and_depth_decodes_to_exactly_the_pixels_given(tmp_path, shape, dtype):
    pixels = noise(shape, dtype)

    write_image(tmp_path / "out.png", pixels)

    assert_round_trip(tmp_path / "out.png", pixels)


@pytest.mark.parametrize("shape, dtype", LAYOUTS)
def test_an_image_in_many_bands_on_threads_decodes_to_exactly_the_pixels_given(tmp_path, many_bands, shape, dtype):
    pixels = noise(shape, dtype)

    write_image(tmp_path / "out.png", pixels)

    assert_round_trip(tmp_path / "out.png", pixels)


@pytest.mark.parametrize("shape", [(1, 1), (1, 3000, 4), (3000, 1, 4), (2, 1)])
def test_one_pixel_and_one_row_or_column_images_round_trip(tmp_path, many_bands, shape):
    pixels = noise(shape, np.uint8)

    write_image(tmp_path / "out.png", pixels)

    assert_round_trip(tmp_path / "out.png", pixels)


def test_the_bands_join_into_one_zlib_stream_with_the_checksum_of_every_filtered_byte(many_bands):
    pixels = noise((80, 30, 4), np.uint8)

    found = chunks(encode_image("out.png", pixels))

    stream = b"".join(body for kind, body in found if kind == b"IDAT")
    rows = zlib.decompress(stream)  # checks the header and the Adler-32 at the end
    assert len(rows) == 80 * (30 * 4 + 1)
    assert [kind for kind, _ in found][0] == b"IHDR" and found[-1] == (b"IEND", b"")


def test_the_bytes_do_not_depend_on_how_many_threads_deflate_the_bands(monkeypatch, many_bands):
    pixels = noise((200, 50, 4), np.uint8)
    pixels[:, :20] = 0  # runs that reach across band edges

    on_four = encode_image("out.png", pixels)
    monkeypatch.setattr(imagewrite, "_PNG_THREADS", 1)
    on_one = encode_image("out.png", pixels)

    assert on_four == on_one


def test_a_band_starts_from_the_bytes_before_it_so_bands_cost_almost_nothing(monkeypatch):
    # Eight rows of noise repeated: each band finds its rows in the 32 KiB before it, or would
    # have to store 8 KB of noise again.
    pixels = np.tile(noise((8, 256, 4), np.uint8), (50, 1, 1))
    whole = encode_image("out.png", pixels)
    monkeypatch.setattr(imagewrite, "_PNG_BAND_BYTES", 10 * 256 * 4)  # 40 bands

    banded = encode_image("out.png", pixels)

    assert len(banded) < len(whole) + 40 * 32


def test_a_full_disk_mid_encode_is_one_error_keeps_the_old_file_and_leaves_no_temporary(tiny_disk, many_bands):
    target = tiny_disk / "cutout.png"
    target.write_bytes(b"the previous result")

    with pytest.raises(ImageError) as caught:
        write_image(target, noise((600, 400, 4), np.uint8))  # 960 KB of noise: no room for it

    assert str(caught.value) == f"cannot write {target}: no space left on device"
    assert target.read_bytes() == b"the previous result"
    assert sorted(os.listdir(tiny_disk)) == ["cutout.png"]


ENCODE_FOREVER = """
import sys, numpy as np
from cleancut import imagewrite
pixels = np.random.default_rng(0).integers(0, 256, (6000, 6000, 4), dtype=np.uint8)
print("encoding", flush=True)
for _ in range(100):
    imagewrite.write_image(sys.argv[1], pixels)
"""


def test_ctrl_c_while_bands_deflate_on_threads_stops_at_once_and_leaves_the_old_file_alone(tmp_path):
    target = tmp_path / "cutout.png"
    target.write_bytes(b"the previous result")
    child = subprocess.Popen([sys.executable, "-c", ENCODE_FOREVER, str(target)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "encoding\n"
        time.sleep(0.5)  # inside the first write: 144 MB of noise take seconds to deflate
        child.send_signal(signal.SIGINT)
        child.wait(timeout=10)
    finally:
        child.kill()
    assert child.returncode != 0 and "KeyboardInterrupt" in child.stderr.read()
    assert target.read_bytes() == b"the previous result"
    assert sorted(os.listdir(tmp_path)) == ["cutout.png"]
