"""What reading and writing image files share, so both sides agree without reaching into each other.

:mod:`cleancut.imageread` and :mod:`cleancut.imagewrite` must agree on how EXIF is framed,
which TIFF tags describe pixel layout rather than the photo, what an ICC profile's colour space
is, how 16 bits round to 8, and how an OS or Pillow error reads to a user. Those few facts
live here once.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EXIF_HEADER", "ICC_TAG", "TIFF_LAYOUT_TAGS", "detail", "icc_colour_space", "os_reason", "to_8bit"]

#: Pillow's prefix of an EXIF block (as in JPEG's APP1); PNG's eXIf chunk stores the block without it.
EXIF_HEADER = b"Exif\x00\x00"
#: The TIFF tag that holds an ICC profile.
ICC_TAG = 34675

# TIFF tags that describe one file's pixel layout; they must not travel as EXIF.
TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 288, 289,
     290, 291, 292, 293, 317, 320, 322, 323, 324, 325, 330, 332, 338, 339, 340, 341, 347, 512,
     513, 514, 515, 517, 518, 519, 520, 521, 529, 530, 531, 532, 700, 33723, 34377, ICC_TAG}
)


def to_8bit(array: np.ndarray) -> np.ndarray:
    """uint16 rounded to the nearest 8-bit value (x / 257, so 65535 gives 255); uint8 as is, no copy."""
    if array.dtype == np.uint8:
        return array
    return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)


def icc_colour_space(icc: bytes) -> bytes | None:
    """The data colour space of an ICC profile ("RGB ", "GRAY", "CMYK", ...) from its header."""
    return icc[16:20] if len(icc) >= 128 else None


def os_reason(err: OSError) -> str:
    """An OS error as the end of a one-line message: "permission denied", "no space left on device"."""
    if isinstance(err, PermissionError):
        return "permission denied"
    if isinstance(err, IsADirectoryError):
        return "it is a folder, not an image file"
    return (err.strerror or detail(err)).rstrip(".").lower()


def detail(err: BaseException) -> str:
    """Pillow's reason on one line, without the file-object reprs that mean nothing to a user."""
    text = " ".join(str(err).split())
    if not text or "<_io." in text or "BytesIO" in text:
        return type(err).__name__
    return text
