"""EXIF orientation: which way round a photo is stored, the pixels turned upright, and the EXIF
handed on with its orientation set to 1 (so viewers do not turn the upright pixels again).

Cameras store pixels as the sensor read them and say in EXIF how to turn them; the engine
works on upright pixels and writes upright results, so reading undoes the turn once, here.
"""

from __future__ import annotations

import struct

import numpy as np
from PIL import Image, TiffTags

from .imagecommon import EXIF_HEADER, TIFF_LAYOUT_TAGS

ORIENTATION = 0x0112  # the EXIF tag


def orientation_and_exif(image: Image.Image) -> tuple[int, bytes | None]:
    """The EXIF orientation to undo, and the EXIF to hand on (with orientation set to 1)."""
    try:
        tags = image.getexif()
        orientation = int(tags.get(ORIENTATION, 1))
    except Exception:  # noqa: BLE001 -- broken EXIF must not make a good image unreadable
        return 1, None
    if orientation not in range(1, 9):
        orientation = 1
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        if not raw.startswith(EXIF_HEADER):
            raw = EXIF_HEADER + raw
        return orientation, _upright_exif(raw)
    if image.format == "TIFF":
        return orientation, _tiff_exif(tags)
    return orientation, None


def _upright_exif(exif: bytes) -> bytes | None:
    """Set Orientation to 1 in an EXIF block, changing those two bytes only.

    Patching in place keeps maker notes and every offset in the block valid, which rebuilding
    it would not. Falls back to Pillow's rebuild, and to dropping the EXIF when even that fails,
    because EXIF that still says "rotate" would make viewers turn the upright pixels again.
    """
    tiff = exif[len(EXIF_HEADER) :]
    try:
        order = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd0)
        for index in range(count):
            entry = ifd0 + 2 + 12 * index
            tag, kind, number = struct.unpack_from(order + "HHI", tiff, entry)
            if tag == ORIENTATION:
                if kind != 3 or number != 1:  # not a single SHORT: let Pillow rebuild it
                    break
                value = struct.pack(order + "H", 1)
                return EXIF_HEADER + tiff[: entry + 8] + value + tiff[entry + 10 :]
        else:
            return exif  # no orientation tag: nothing to reset
    except (KeyError, struct.error):
        pass
    try:
        tags = Image.Exif()
        tags.load(exif)
        tags[ORIENTATION] = 1
        return tags.tobytes()
    except Exception:  # noqa: BLE001 -- unparseable EXIF is dropped rather than passed on wrong
        return None


def _tiff_exif(tags: Image.Exif) -> bytes | None:
    """A TIFF's descriptive tags (camera, date, EXIF and GPS directories) as an EXIF block."""
    try:
        exif = Image.Exif()
        for tag, value in tags.items():
            if tag in TiffTags.TAGS_V2_GROUPS:
                exif[tag] = tags.get_ifd(tag)
            elif tag not in TIFF_LAYOUT_TAGS:
                exif[tag] = value
        if not len(exif):
            return None
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        return exif.tobytes()
    except Exception:  # noqa: BLE001 -- odd tags must not make a good image unreadable
        return None


def upright(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation 1-8 to an H x W (x C) array, as Pillow's exif_transpose does."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(array, 1)
    return array
