# SPDX-License-Identifier: GPL-3.0-or-later
"""Pixels out of Blender images and mattes into PNG files, with the standard library only.

Blender hands out float RGBA, rows bottom-up; the engine wants rows top-down, so rows are
reversed here (the only pixel work the add-on does). Byte images give their stored values
(/255), which is the gamma-encoded form the engine expects for f32 pixels.
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


def read_rgba(image):
    """(f32 RGBA bytes with rows top-down, width, height) of an image's current buffer."""
    width, height = image.size[0], image.size[1]
    if width < 1 or height < 1 or not image.has_data:
        raise PixelError("The image %r has no pixels (is its file missing?)." % image.name)
    count = width * height * 4
    values = array.array("f", bytes(4 * count))
    image.pixels.foreach_get(values)
    return _flip_rows(values.tobytes(), width * 16, height), width, height


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
