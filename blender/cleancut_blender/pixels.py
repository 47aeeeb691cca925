# SPDX-License-Identifier: GPL-3.0-or-later
"""Pixels out of Blender images and mattes into PNG files, with the standard library only.

Blender hands out float RGBA, rows bottom-up; the engine wants rows top-down, so rows are
reversed here (the only pixel work the add-on does, with a mask image's values put back to
8-bit levels for the hint). Byte images give their stored values (/255), which is the
gamma-encoded form the engine expects for f32 pixels.
"""

from __future__ import annotations

import array
import os
import struct
import zlib


class PixelError(Exception):
    """An image that has no pixels to give (missing file, empty sequence frame…)."""


def _flip_rows(data, row_bytes, height):
    view = memoryview(data)
    return b"".join(view[(height - 1 - y) * row_bytes:(height - y) * row_bytes] for y in range(height))


def size(image):
    """(width, height) of an image that has pixels; PixelError for one that has none."""
    width, height = image.size[0], image.size[1]
    if width < 1 or height < 1 or not image.has_data:
        raise PixelError("The image %r has no pixels (is its file missing?)." % image.name)
    return width, height


def _values(image, channels):
    """(float values of an image's current buffer, rows bottom-up as Blender keeps them, width, height)."""
    width, height = size(image)
    values = array.array("f", bytes(4 * width * height * channels))
    image.pixels.foreach_get(values)
    return values, width, height


def read_rgba(image):
    """(f32 RGBA bytes with rows top-down, width, height) of an image's current buffer."""
    values, width, height = _values(image, 4)
    return _flip_rows(values.tobytes(), width * 16, height), width, height


def _level(value):
    """A Blender pixel value (0..1, a byte image's stored level / 255) as the 8-bit level."""
    return 0 if value <= 0.0 else 255 if value >= 1.0 else int(value * 255.0 + 0.5)


def read_gray8(image):
    """(u8 bytes of the first channel with rows top-down, width, height) of an image's current
    buffer: a grey mask as the engine takes hints (a byte image gives its stored levels)."""
    channels = image.channels
    values, width, height = _values(image, channels)
    return _flip_rows(bytes(map(_level, values[::channels])), width, height), width, height


def png_gray8(alpha, width, height):
    """A grayscale 8-bit PNG of ``alpha`` (width×height bytes, rows top-down)."""
    view = memoryview(alpha)
    raw = b"".join(b"\x00" + view[y * width:(y + 1) * width].tobytes() for y in range(height))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 3))
            + chunk(b"IEND", b""))


def write_file(path, data):
    """Write bytes atomically: a temporary file beside ``path`` renamed into place."""
    folder = os.path.dirname(path)
    if folder and not os.path.isdir(folder):
        os.makedirs(folder)
    temporary = path + ".part"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
