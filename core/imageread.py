"""Image files in: decode whatever a user has into plain numpy arrays the engine can use.

Everything here works on plain numpy arrays so the rest of the engine never sees Pillow:

* :func:`read_image` decodes a file into a :class:`Picture` -- upright (EXIF orientation applied),
  at its real bit depth (16-bit PNG/TIFF stay 16-bit, also in colour), with grey, palette, 1-bit
  and CMYK inputs turned into RGB, any transparency turned into an alpha channel, and the ICC
  profile and EXIF kept so the output can carry them. Decompression bombs are refused from the
  header, before any pixel is decoded.
* :func:`to_rgb8` gives the 8-bit RGB view the models want.

Each colour mode's arrays are made in :mod:`cleancut.imagearrays`. Writing is
:mod:`cleancut.imagewrite`'s job; what both sides share is in :mod:`cleancut.imagecommon`.

Pillow alone cannot keep 16-bit colour: it decodes 16-bit RGB(A) PNG/TIFF samples to 8 bits.
Rather than add a dependency, this module decodes such files twice with Pillow's own decoders,
once unpacking the high byte and once the low byte of every sample, and joins them -- exact,
because both passes undo the same row filters, and fast, in C.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import struct
import sys
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from cleancut import imagearrays, orientation, smallfiles
from cleancut.errors import ImageError
from cleancut.imagecommon import detail, os_reason, to_8bit

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Picture",
    "read_image",
    "to_rgb8",
]

#: Largest image :func:`read_image` decodes by default: 150 megapixels is above any camera or
#: scan a user is likely to feed in (a 100 MP medium-format frame, a 600 dpi A4 scan), yet far
#: below what a crafted file could claim (a few bytes can declare 4 gigapixels).
DEFAULT_MAX_PIXELS: int = 150_000_000

@dataclass(eq=False)  # arrays make == ambiguous; compare the fields you care about instead
class Picture:
    """A decoded image, ready for the engine: upright, RGB, with its alpha and metadata.

    ``rgb`` is H x W x 3, uint8 or uint16, with colour values as stored in the file (sRGB, or
    whatever ``icc_profile`` says). Grey inputs are repeated into the three channels; a grey ICC
    profile is still returned as is, and :func:`cleancut.imagewrite.write_image` only embeds a profile in pixels of
    its own colour space. CMYK inputs are converted to RGB: through their embedded CMYK profile
    with LittleCMS when they have one (then ``icc_profile`` is an sRGB profile, which is what the
    pixels now are), else with Pillow's plain formula (then ``icc_profile`` is None).

    ``alpha`` is H x W with the dtype of ``rgb`` when the input has an alpha channel or
    palette/tRNS transparency, else None. ``bit_depth`` is 16 for 16-bit PNG and TIFF (grey or
    colour) and 32-bit integer or float TIFF, else 8. ``exif`` is the input's EXIF block (with
    Pillow's ``Exif\\0\\0`` prefix) with Orientation reset to 1, because the pixels are upright
    already; None when the input has none. ``format`` is Pillow's name of the input format
    ("PNG", "JPEG", "TIFF", ...).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int
    icc_profile: bytes | None
    exif: bytes | None
    format: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order Pillow and the editors use."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


def read_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS, *,
               data: bytes | None = None) -> Picture:
    """Decode the image at ``path`` into a :class:`Picture`, refusing anything over ``max_pixels``.

    ``data``, when given, is the file's content already read (a ``--ray`` actor gets it from the
    driver, on a node that may not see the file): it is decoded instead, and ``path`` only names
    the file in messages.

    The size is checked from the file header, before any pixel is decoded, so a decompression
    bomb costs nothing. Only ``max_pixels`` applies: Pillow's own process-wide guard
    (``PIL.Image.MAX_IMAGE_PIXELS``, ~89 MP with a warning and ~179 MP with an error) would
    otherwise refuse a large photo the user allowed, or warn about it. To make our limit the one
    that applies, Pillow's value is swapped for ours only while this function opens and decodes,
    under a lock, and restored afterwards: decoding is serialised by that lock, and another
    thread using Pillow at that very moment sees our limit instead of its own.

    Animated and multi-page files (GIF, APNG, WebP, multi-page TIFF) give their first frame: a
    background is removed from one picture, and the first frame is what viewers show.

    Every failure -- missing, empty, not an image, truncated, too large -- raises
    :class:`~cleancut.errors.ImageError` with one line that names the file and what is wrong.
    """
    name = os.fspath(path)
    if data is None:
        _check_input_file(name)
    elif not data:
        raise ImageError(f"cannot read {name}: the file is empty (0 bytes)")
    image, plan, low = _open_and_decode(name, max_pixels, data)
    with image:
        if plan:
            rgb, alpha = imagearrays.wide_arrays(name, image, low)
            bit_depth, icc = 16, image.info.get("icc_profile") or None
        else:
            rgb, alpha, bit_depth, icc = imagearrays.to_arrays(name, image)
        turn, exif = orientation.orientation_and_exif(image)
        file_format = image.format or "unknown"
    rgb, alpha = orientation.upright(rgb, turn), None if alpha is None else orientation.upright(alpha, turn)
    return Picture(
        rgb=_owned(rgb),
        alpha=None if alpha is None else _owned(alpha),
        bit_depth=bit_depth,
        icc_profile=icc,
        exif=exif,
        format=file_format,
    )


_PILLOW_LIMIT_LOCK = threading.Lock()


def _open_and_decode(
    name: str, max_pixels: int, data: bytes | None = None
) -> tuple[Image.Image, tuple[str, str | None] | None, np.ndarray | None]:
    """Open, check the size, decode: the part that runs with Pillow's limit replaced by ours.

    Returns the decoded image, the 16-bit plan from :func:`_wide_decoding` and the low bytes
    of its second pass, if any.
    """
    with _PILLOW_LIMIT_LOCK, warnings.catch_warnings():
        # Pillow warns between its limit and twice it; our own check is the one that counts.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _open(name, data)
        try:
            _refuse_oversized(name, image.size, max_pixels)
            plan = _wide_decoding(image)
            with _pillow_pixel_limit(max_pixels):
                _decode(name, image, plan[0] if plan else None, max_pixels)
                # A GIF frame may lie outside the header's canvas and grow it while decoding.
                _refuse_oversized(name, image.size, max_pixels)
                low = _decode_again(name, plan[1], max_pixels, data) if plan and plan[1] else None
        except BaseException:
            image.close()
            raise
    return image, plan, low


def _owned(array: np.ndarray) -> np.ndarray:
    """Contiguous and writeable: Pillow hands out read-only buffers, rotations hand out views."""
    return np.require(array, requirements=("C_CONTIGUOUS", "WRITEABLE"))


def to_rgb8(picture: Picture) -> np.ndarray:
    """Return ``picture.rgb`` as H x W x 3 uint8, the input every model expects.

    8-bit pictures are returned as is (no copy); 16-bit ones are rounded to the nearest 8-bit
    value (x / 257), so 65535 maps to 255 and 257 * k to k exactly.
    """
    return to_8bit(picture.rgb)


# Pillow caps every compressed PNG chunk it inflates, the colour profile (iCCP) included, at
# 1 MiB (PngImagePlugin.MAX_TEXT_CHUNK, a guard against text bombs); real printer and camera
# profiles reach several MiB, so a valid photo would be called damaged. ICC's own size field
# is 32-bit; this bound keeps a bomb's cost at a few tens of MiB.
MAX_PROFILE_BYTES = 32 << 20


@contextlib.contextmanager
def _pillow_pixel_limit(limit: int | None) -> Iterator[None]:
    """Set Pillow's global bomb limits for the duration; the caller holds _PILLOW_LIMIT_LOCK."""
    saved = Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK
    Image.MAX_IMAGE_PIXELS = limit
    PngImagePlugin.MAX_TEXT_CHUNK = max(saved[1], MAX_PROFILE_BYTES)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK = saved


def _check_input_file(name: str) -> None:
    """Name the common mistakes (typo, folder, empty export) before Pillow gives them odd names."""
    try:
        info = os.stat(name)
    except FileNotFoundError:
        raise ImageError(f"cannot read {name}: no such file") from None
    except OSError as err:
        raise ImageError(f"cannot read {name}: {os_reason(err)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(f"cannot read {name}: it is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block, or never end
        raise ImageError(f"cannot read {name}: it is {smallfiles.kind_of(info.st_mode)}, not an image file")
    if info.st_size == 0:
        raise ImageError(f"cannot read {name}: the file is empty (0 bytes)")


def _open(name: str, data: bytes | None = None) -> Image.Image:
    """Identify the file (or ``data``, its bytes) from its header only; Pillow's bomb check is
    off, ours follows."""
    try:
        with _pillow_pixel_limit(None):
            return Image.open(name if data is None else io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(
            f"cannot read {name}: not an image, or a format cleancut cannot read "
            "(use PNG, JPEG, TIFF or WebP)"
        ) from None
    except OSError as err:
        if err.errno is not None:
            raise ImageError(f"cannot read {name}: {os_reason(err)}") from None
        raise _damaged(name, err) from None
    except (SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error) as err:
        raise _damaged(name, err) from None


def _refuse_oversized(name: str, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(
            f"cannot read {name}: it is {width}x{height} ({pixels / 1e6:.1f} megapixels), over the "
            f"limit of {max_pixels / 1e6:g} megapixels that guards against decompression bombs; "
            f"if you trust this file, raise the limit with --max-megapixels "
            f"{math.ceil(pixels / 1e6)}"
        )


def _decode(name: str, image: Image.Image, rawmode: str | None, max_pixels: int) -> None:
    """Decode the pixels (optionally with another raw mode), turning Pillow's errors into ours."""
    try:
        if rawmode is not None:
            image.tile = [_with_rawmode(tile, rawmode) for tile in image.tile]
        image.load()
    except Image.DecompressionBombError:
        raise ImageError(
            f"cannot read {name}: it grows past the limit of {max_pixels / 1e6:g} "
            "megapixels while decoding (a possible decompression bomb); if you trust this file, "
            "raise the limit with --max-megapixels"
        ) from None
    except MemoryError:
        width, height = image.size
        raise ImageError(
            f"cannot read {name}: not enough memory to decode {width}x{height} pixels"
        ) from None
    except _DECODING_ERRORS as err:
        raise _damaged(name, err) from None


# What Pillow's decoders raise on damaged data (besides its OSError for truncated files).
_DECODING_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error, zlib.error
)


def _damaged(name: str, err: BaseException) -> ImageError:
    return ImageError(
        f"cannot read {name}: the file is truncated or damaged ({detail(err)}); "
        "export or download it again"
    )


def _decode_again(name: str, rawmode: str, max_pixels: int, data: bytes | None = None) -> np.ndarray:
    """Decode the file a second time with another raw mode; see :func:`_wide_decoding`."""
    with _open(name, data) as image:
        _decode(name, image, rawmode, max_pixels)
        return np.asarray(image)


# Raw modes whose Pillow unpacker only picks one byte of every 16-bit sample (L: the second,
# B: the first, N: the machine's order), so that decoding once with the high byte and once with
# the low byte gives the exact 16-bit values.
_WIDE_RAWMODES = {base + order for base in ("RGB;16", "RGBA;16", "RGBX;16") for order in "LBN"}
_NATIVE = "L" if sys.byteorder == "little" else "B"


def _wide_decoding(image: Image.Image) -> tuple[str, str | None] | None:
    """The (first pass, second pass) raw modes that keep 16-bit colour, or None for other images.

    Pillow decodes 16-bit RGB(A) PNG and TIFF to 8 bits by keeping the high byte of every sample.
    Its raw modes differ only in which byte they keep, and all of them undo PNG row filters and
    TIFF predictors on the full 16-bit rows, so a second decode with the opposite byte order
    gives the low bytes exactly. 16-bit grey+alpha PNG is decoded in one pass as 8-bit RGBA
    (grey high, grey low, alpha high, alpha low), which has the same 32 bits per pixel.

    Data is big-endian in PNG, in the file's byte order for uncompressed TIFF, and in the
    machine's order when libtiff decompresses it. Anything else (premultiplied alpha, separate
    planes, CMYK) returns None and is read at 8 bits.
    """
    tiles = list(image.tile)
    if image.format not in ("PNG", "TIFF") or not tiles:
        return None
    codecs = {_tile_codec(tile) for tile in tiles}
    rawmodes = {_tile_rawmode(tile) for tile in tiles}
    if len(codecs) != 1 or len(rawmodes) != 1:
        return None
    codec, rawmode = codecs.pop(), rawmodes.pop()
    if image.format == "PNG" and codec == "zip" and rawmode == "LA;16B" and image.mode == "RGBA":
        return "RGBA", None  # one pass gives all four bytes
    if rawmode not in _WIDE_RAWMODES:
        return None
    base, order = rawmode[:-1], rawmode[-1]
    if image.format == "PNG" and codec == "zip":
        high = "B"
    elif image.format == "TIFF" and codec == "raw":
        high = _NATIVE if order == "N" else order
    elif image.format == "TIFF" and codec == "libtiff":
        high = _NATIVE
    else:
        return None
    low = "L" if high == "B" else "B"
    return base + high, base + low


def _tile_codec(tile: Any) -> str:
    return tile[0]


def _tile_rawmode(tile: Any) -> str | None:
    args = tile[3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


def _with_rawmode(tile: Any, rawmode: str) -> Any:
    args = tile[3]
    new_args = rawmode if isinstance(args, str) else (rawmode, *args[1:])
    if hasattr(tile, "_replace"):  # Pillow >= 11 uses a named tuple
        return tile._replace(args=new_args)
    return (tile[0], tile[1], tile[2], new_args)
