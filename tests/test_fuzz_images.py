"""Property-based fuzzing of the image decoder on mutated real files (examples/*.png, and a
JPEG, WebP and TIFF made from them).

Invariants for any mutation (bytes flipped, overwritten, inserted, cut, header sizes changed):
imageread.read_image returns a Picture or raises ImageError, never another exception, within a
deadline; sizes over max_pixels are refused; the mutated input file is unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from cleancut import imageread
from cleancut.errors import ImageError

from support import REPO

DEADLINE_S = 10.0
MAX_PIXELS = 600_000


def _seeds() -> dict[str, bytes]:
    """Small real files: the examples shrunk (so each decode is quick), in four formats."""
    seeds = {}
    for source in sorted((REPO / "examples").glob("*.png")):
        with Image.open(source) as image:
            small = image.convert("RGB").resize((96, 96))
        for fmt, options in (("PNG", {}), ("JPEG", {"quality": 80, "exif": b""}), ("WEBP", {}),
                             ("TIFF", {"compression": "tiff_deflate"})):
            buffer = io.BytesIO()
            small.save(buffer, fmt, **{k: v for k, v in options.items() if v != b""})
            seeds[f"{source.stem}.{fmt.lower()}"] = buffer.getvalue()
        seeds[f"{source.stem}.original.png"] = source.read_bytes()
    return seeds


SEEDS = _seeds()


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "overwrite", "insert", "cut", "truncate", "png-size"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at:at + len(chunk)] = chunk
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif action == "cut":
            del data[at:at + draw(st.integers(1, 256))]
        elif action == "truncate":
            del data[at:]
        elif action == "png-size" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 33:
            # a header that claims another size, with a valid CRC so the decoder believes it
            width, height = draw(st.integers(0, 2**31 - 1)), draw(st.integers(0, 2**31 - 1))
            data[16:24] = struct.pack(">II", width, height)
            data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return name, bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on the damage it skips
@given(sample=mutated())
def test_a_mutated_image_is_read_or_refused_cleanly(tmp_path_factory, sample):
    name, data = sample
    path = Path(tmp_path_factory.mktemp("fuzz")) / name
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    began = time.monotonic()
    try:
        picture = imageread.read_image(path, max_pixels=MAX_PIXELS)
    except ImageError as err:
        assert str(path) in str(err) or path.name in str(err)
    else:
        height, width = picture.rgb.shape[:2]
        assert width * height <= MAX_PIXELS and picture.rgb.shape[2] == 3
    assert time.monotonic() - began < DEADLINE_S
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_reads_unmutated(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(SEEDS[name])
    with Image.open(path) as image:
        width, height = image.size
    assert imageread.read_image(path).rgb.shape == (height, width, 3)
