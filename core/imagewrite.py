"""Image files out: encode cut-outs and masks losslessly, and put files in place atomically.

* :func:`write_image` encodes a mask or a cut-out as PNG, WebP or TIFF, atomically, keeping ICC
  and EXIF; :func:`encode_image` gives the same file's bytes and :func:`write_bytes` puts such
  bytes in place atomically (``cleancut remove --ray``: actors encode, the driver writes).
* Temporary names and a killed worker's leftovers are :mod:`cleancut.temporaries`'s.

Reading is :mod:`cleancut.imageread`'s job; what both sides share is in :mod:`cleancut.imagecommon`.

PNG is our own small encoder for every layout and depth (numpy's row filters, zlib-ng's
deflate, a large image's bands on threads): Pillow cannot encode 16-bit colour, and at 8 bits
its encoder, which tries all five row filters on every row, took three times as long for files
5-9 % larger (tools/speed/encoders8.py). 16-bit TIFF is ours too (Pillow's TIFF directory writer
for the tags). zlib-ng, not the standard zlib, because deflate is nearly all of their time: on
a 4000x3000 16-bit RGBA cut-out it took the PNG from 14.3 to 2.3 CPU seconds and the TIFF from
7.1 to 2.4, at the same level and within 3 % of the size (docs/architecture.md, dependencies).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np
from PIL import Image, TiffImagePlugin, TiffTags
from zlib_ng import zlib_ng

from cleancut import parallel, temporaries
from cleancut.errors import ImageError
from cleancut.imagecommon import EXIF_HEADER, ICC_TAG, TIFF_LAYOUT_TAGS, detail, icc_colour_space, os_reason, to_8bit

__all__ = [
    "SUPPORTED_OUTPUT_FORMATS",
    "encode_image",
    "write_bytes",
    "write_image",
]

#: What :func:`write_image` can encode: the three common formats that keep an alpha channel.
SUPPORTED_OUTPUT_FORMATS = ("png", "webp", "tiff")

_WEBP_MAX_SIDE = 16383  # a hard limit of the WebP bitstream (14 bits per dimension)

# What Pillow's encoders and ours raise on pixels or metadata they cannot encode.
_ENCODER_ERRORS = (ValueError, TypeError, KeyError, struct.error, zlib.error, zlib_ng.error)


def write_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    format: str | None = None,  # noqa: A002 -- the name users know from Pillow
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
) -> None:
    """Encode ``pixels`` losslessly at ``path`` as PNG, WebP or TIFF, atomically.

    ``pixels`` is H x W (a grey mask), H x W x 3 (RGB) or H x W x 4 (RGBA), uint8 or uint16.
    ``format`` is "png", "webp" or "tiff" (any case); by default it comes from the suffix
    (.png, .webp, .tif, .tiff).

    * PNG and TIFF keep uint16 at full 16-bit precision, grey, RGB and RGBA alike.
    * WebP is 8-bit only: uint16 is rounded to 8 bits (x / 257). It is written lossless with
      the colour under fully transparent pixels kept (``exact``), so 8-bit data round-trips
      exactly. WebP has no grey mode: a mask comes back as RGB with three equal channels, and
      WebP cannot be larger than 16383 pixels a side.
    * ``icc_profile`` is embedded only when its colour space matches the pixels (RGB profiles
      in RGB/RGBA, grey ones in masks): a mask is not colour data and an RGB profile would make
      it invalid. ``exif`` (with or without Pillow's ``Exif\\0\\0`` prefix) is embedded in all
      three formats.

    The file is written to a temporary file in the same folder, then renamed over ``path``, so
    a failed write never leaves half a file, nor destroys an existing one. Missing parent
    folders are created. Raises :class:`~cleancut.errors.ImageError` on any failure.
    """
    name = os.fspath(path)
    _write_atomically(name, _encoder(name, pixels, format, icc_profile, exif))


def encode_image(
    path: str | os.PathLike[str],
    pixels: np.ndarray,
    *,
    format: str | None = None,  # noqa: A002 -- as write_image
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
) -> bytes:
    """The bytes :func:`write_image` would write at ``path``, in memory; ``path`` only chooses the
    format (when ``format`` is None) and names the file in messages. A ``--ray`` actor encodes
    here and returns the bytes to the driver, which writes them with :func:`write_bytes`."""
    name = os.fspath(path)
    encode = _encoder(name, pixels, format, icc_profile, exif)
    stream = io.BytesIO()
    try:
        encode(stream)
    except _ENCODER_ERRORS as err:
        raise ImageError(f"cannot write {name}: the encoder failed ({detail(err)})") from None
    return stream.getvalue()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Put an already encoded file at ``path`` as :func:`write_image` does: through a temporary
    file beside it and a rename, so the file appears whole or not at all."""
    _write_atomically(os.fspath(path), lambda stream: stream.write(data))


def _encoder(name: str, pixels: np.ndarray, format: str | None,  # noqa: A002
             icc_profile: bytes | None, exif: bytes | None) -> Callable[[IO[bytes]], None]:
    """Check what write_image and encode_image were given; returns what writes it to a stream."""
    file_format = _output_format(name, format)
    pixels = _checked_pixels(name, pixels)
    height, width = pixels.shape[:2]
    if file_format == "webp" and max(width, height) > _WEBP_MAX_SIDE:
        raise ImageError(
            f"cannot write {name}: WebP images are limited to {_WEBP_MAX_SIDE} pixels a side and "
            f"this one is {width}x{height}; write PNG or TIFF instead (format 'png' or 'tiff')"
        )
    wanted_space = b"GRAY" if pixels.ndim == 2 else b"RGB "
    if icc_profile is not None and icc_colour_space(icc_profile) != wanted_space:
        icc_profile = None
    if exif is not None and not exif:
        exif = None
    if exif is not None and not exif.startswith(EXIF_HEADER):
        exif = EXIF_HEADER + exif
    encoder = _ENCODERS[file_format]
    return lambda stream: encoder(stream, pixels, icc_profile or None, exif)


def _output_format(name: str, requested: str | None) -> str:
    supported = ", ".join(SUPPORTED_OUTPUT_FORMATS)
    if requested is None:
        suffix = os.path.splitext(name)[1].lower().lstrip(".")
        chosen = {"tif": "tiff"}.get(suffix, suffix)
        if chosen not in SUPPORTED_OUTPUT_FORMATS:
            raise ImageError(
                f"cannot write {name}: '{os.path.splitext(name)[1]}' is not a format cleancut "
                f"writes; name the file .png, .webp or .tiff, or choose one of: {supported}"
            )
        return chosen
    chosen = {"tif": "tiff"}.get(requested.lower(), requested.lower())
    if chosen not in SUPPORTED_OUTPUT_FORMATS:
        raise ImageError(
            f"cannot write {name}: unsupported output format '{requested}'; "
            f"use one of: {supported}"
        )
    return chosen


def _checked_pixels(name: str, pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype.kind == "u" and pixels.dtype.itemsize in (1, 2):  # e.g. big-endian uint16
        pixels = pixels.astype(np.uint8 if pixels.dtype.itemsize == 1 else np.uint16, copy=False)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    shape_ok = pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))
    if not shape_ok or pixels.dtype not in (np.uint8, np.uint16) or 0 in pixels.shape:
        raise ImageError(
            f"cannot write {name}: pixels must be H x W, H x W x 3 or H x W x 4 of uint8 or "
            f"uint16, got shape {pixels.shape} of {pixels.dtype}"
        )
    return np.ascontiguousarray(pixels)


def _write_atomically(name: str, encode: Callable[[IO[bytes]], None]) -> None:
    """Write through a temporary file beside ``name`` and rename it over ``name`` when complete."""
    folder = os.path.dirname(os.path.abspath(name))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise ImageError(f"cannot write {name}: cannot create its folder ({os_reason(err)})") from None
    temporary = None
    try:
        temporary, descriptor = temporaries.create(folder, os.path.basename(name))
        with os.fdopen(descriptor, "wb") as stream:
            encode(stream)
            stream.flush()
            os.fsync(stream.fileno())
        with contextlib.suppress(OSError):  # overwriting keeps the existing file's permissions
            os.chmod(temporary, stat.S_IMODE(os.stat(name).st_mode))
        os.replace(temporary, name)
        temporary = None
    except ImageError:
        raise
    except OSError as err:
        raise ImageError(f"cannot write {name}: {os_reason(err)}") from None
    except _ENCODER_ERRORS as err:
        raise ImageError(f"cannot write {name}: the encoder failed ({detail(err)})") from None
    finally:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.remove(temporary)


def _pillow_image(pixels: np.ndarray) -> Image.Image:
    """uint8 grey/RGB/RGBA and uint16 grey (mode I;16): what Pillow can encode itself."""
    return Image.fromarray(pixels)


def _metadata(icc: bytes | None, exif: bytes | None) -> dict[str, bytes]:
    extra = {}
    if icc is not None:
        extra["icc_profile"] = icc
    if exif is not None:
        extra["exif"] = exif
    return extra


def _encode_png(stream: IO[bytes], pixels: np.ndarray, icc: bytes | None, exif: bytes | None) -> None:
    """Any PNG we write: grey, RGB or RGBA at 8 or 16 bits, deflated by zlib-ng band by band
    (memory stays bounded), the bands of a large image on threads (see _deflate)."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    depth = 8 * pixels.dtype.itemsize
    stream.write(b"\x89PNG\r\n\x1a\n")
    _png_chunk(stream, b"IHDR", struct.pack(">IIBBBBB", width, height, depth, _PNG_COLOUR_TYPES[channels], 0, 0, 0))
    if icc is not None:
        _png_chunk(stream, b"iCCP", b"ICC profile\x00\x00" + zlib_ng.compress(icc))
    if exif is not None:
        _png_chunk(stream, b"eXIf", exif[len(EXIF_HEADER) :])
    row_filter, level = _PNG_ROWS[depth]
    rows = pixels.reshape(height, width * channels)
    band = max(1, _PNG_BAND_BYTES // rows[0].nbytes)
    for data in _deflate(rows, band, row_filter, channels * pixels.dtype.itemsize, level):
        _png_chunk(stream, b"IDAT", data)
    _png_chunk(stream, b"IEND", b"")


def _encode_webp(stream: IO[bytes], pixels: np.ndarray, icc: bytes | None, exif: bytes | None) -> None:
    image = _pillow_image(to_8bit(pixels))
    if image.mode == "L":
        image = image.convert("RGB")  # WebP has no grey mode; say it here rather than let Pillow guess
    # method 2 / quality 50: the same size as Pillow's default effort (method 4) in 40% of the time.
    image.save(stream, format="WEBP", lossless=True, exact=True, method=2, quality=50, **_metadata(icc, exif))


def _encode_tiff(stream: IO[bytes], pixels: np.ndarray, icc: bytes | None, exif: bytes | None) -> None:
    if pixels.dtype == np.uint16 and pixels.ndim == 3:
        _encode_tiff16(stream, pixels, icc, exif)
    else:
        _pillow_image(pixels).save(
            stream, format="TIFF", compression="tiff_adobe_deflate", **_metadata(icc, exif)
        )


_ENCODERS: dict[str, Callable[[IO[bytes], np.ndarray, bytes | None, bytes | None], None]] = {
    "png": _encode_png,
    "webp": _encode_webp,
    "tiff": _encode_tiff,
}


# ---- PNG


_PNG_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)
_PNG_BAND_BYTES = 4 << 20  # rows filtered and deflated together: bounds the memory used
_PNG_THREADS: int | None = None  # bands deflated at once (a large image only; None: parallel.threads())
_ZDICT_BYTES = 32 << 10  # deflate's window: a band starts from the bytes before it


def _up_filter(rows: np.ndarray, above: np.ndarray | None, pixel_bytes: int) -> np.ndarray:
    """PNG filter type 2: each byte minus the byte above it, modulo 256 (``above``: the row
    before the first, None at the top of the image)."""
    filtered = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 2
    if above is None:
        filtered[0, 1:] = rows[0]
    else:
        np.subtract(rows[0], above, out=filtered[0, 1:])
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    return filtered


def _sub_filter(rows: np.ndarray, above: np.ndarray | None, pixel_bytes: int) -> np.ndarray:
    """PNG filter type 1: each byte minus the same byte of the pixel to its left, modulo 256."""
    filtered = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 1
    filtered[:, 1 : pixel_bytes + 1] = rows[:, :pixel_bytes]
    np.subtract(rows[:, pixel_bytes:], rows[:, :-pixel_bytes], out=filtered[:, pixel_bytes + 1 :])
    return filtered


# Per bit depth: the row filter and the deflate level. 8 bits: Up at level 2. On the speed
# bench's varied cut-outs it took 31 ms a 1280×720 RGBA photo and 0.35 s at 12 MP against
# 89 ms and 1.06 s for Pillow's encoder at the same level (which tries all five filters on
# every row), and wrote files 5–9 % smaller (tools/speed/encoders8.py). 16 bits: Sub at level
# 6: on a smooth image with sensor-like noise it compressed as well as Paeth (within 1 %).
_PNG_ROWS = {8: (_up_filter, 2), 16: (_sub_filter, 6)}


def _deflate(rows: np.ndarray, band: int, row_filter: Callable[..., np.ndarray], pixel_bytes: int,
             level: int) -> Iterator[bytes]:
    """One zlib stream of the filtered ``rows`` (H×N, uint8 or uint16), in pieces.

    Each band of ``band`` rows is filtered and deflated on its own, as pigz does: a raw deflate
    stream primed with the 32 KiB before it and ended by a sync flush, so the pieces joined
    are one stream (the zlib header before them, the Adler-32 of all the filtered bytes after).
    The bands of a large image run on threads (parallel.ordered_map); the output is the same
    bytes whichever thread finishes first.
    """
    height = rows.shape[0]
    tops = range(0, height, band)
    big_endian = rows.astype(rows.dtype.newbyteorder(">"), copy=False) if rows.dtype.itemsize > 1 else rows

    def filtered(top: int, bottom: int) -> bytes:
        part = big_endian[top:bottom].view(np.uint8)
        above = big_endian[top - 1].view(np.uint8) if top else None
        return row_filter(part, above, pixel_bytes).tobytes()

    def work(top: int) -> tuple[bytes, bytes]:
        data = filtered(top, min(height, top + band))
        before = b""
        if top:
            row_bytes = big_endian[0].nbytes + 1
            before = filtered(max(0, top - -(-_ZDICT_BYTES // row_bytes)), top)[-_ZDICT_BYTES:]
        compressor = (zlib_ng.compressobj(level, zlib_ng.DEFLATED, -15, zdict=before) if before
                      else zlib_ng.compressobj(level, zlib_ng.DEFLATED, -15))
        last = top + band >= height
        return data, compressor.compress(data) + compressor.flush(zlib_ng.Z_FINISH if last else zlib_ng.Z_SYNC_FLUSH)

    yield zlib_ng.compress(b"", level)[:2]  # the zlib header of this level
    checksum = zlib_ng.adler32(b"")
    for data, deflated in parallel.ordered_map(work, tops, _PNG_THREADS):
        checksum = zlib_ng.adler32(data, checksum)
        yield deflated
    yield struct.pack(">I", checksum)


def _png_chunk(stream: IO[bytes], kind: bytes, data: bytes) -> None:
    stream.write(struct.pack(">I", len(data)) + kind + data)
    stream.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


# ---- 16-bit RGB(A) TIFF, which Pillow cannot encode


_TIFF_STRIP_BYTES = 1 << 20  # uncompressed bytes per strip, the size libtiff itself favours


def _encode_tiff16(stream: IO[bytes], pixels: np.ndarray, icc: bytes | None, exif: bytes | None) -> None:
    """A 16-bit RGB or RGBA baseline TIFF: deflated strips, unassociated alpha, ICC and EXIF.

    The tag directory is built by Pillow's own TIFF writer (which also writes EXIF and GPS
    sub-directories); it expects the strips to follow it, with offsets counted from its end.
    """
    height, width, channels = pixels.shape
    row_bytes = width * channels * 2
    rows_per_strip = min(height, max(1, _TIFF_STRIP_BYTES // row_bytes))
    samples = pixels.astype("<u2")
    strips = [
        zlib_ng.compress(samples[top : top + rows_per_strip].tobytes(), 6)
        for top in range(0, height, rows_per_strip)
    ]
    directory = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    if exif is not None:
        tags = Image.Exif()
        tags.load(exif)
        for tag in tags:
            if tag in TiffTags.TAGS_V2_GROUPS:
                directory[tag] = tags.get_ifd(tag)
            elif tag not in TIFF_LAYOUT_TAGS:
                directory[tag] = tags[tag]
    layout: dict[int, Any] = {
        256: width,
        257: height,
        258: (16,) * channels,
        259: 8,  # Adobe deflate
        262: 2,  # RGB
        277: channels,
        278: rows_per_strip,
        284: 1,  # chunky
        339: (1,) * channels,  # unsigned integers
    }
    if channels == 4:
        layout[338] = 2  # unassociated (straight) alpha
    for tag, value in layout.items():
        directory[tag] = value
        directory.tagtype[tag] = TiffTags.LONG if tag in (256, 257, 278) else TiffTags.SHORT
    offsets = np.cumsum([0] + [len(strip) for strip in strips[:-1]]).tolist()
    if offsets[-1] + len(strips[-1]) >= 1 << 32:
        raise ImageError("a 16-bit TIFF over 4 GiB is not supported; write PNG instead")
    directory[273] = tuple(offsets)
    directory[279] = tuple(len(strip) for strip in strips)
    directory.tagtype[273] = directory.tagtype[279] = TiffTags.LONG
    if icc is not None:
        directory[ICC_TAG] = icc
        directory.tagtype[ICC_TAG] = TiffTags.UNDEFINED
    stream.write(b"II" + struct.pack("<HI", 42, 8))
    stream.write(directory.tobytes(8))
    for strip in strips:
        stream.write(strip)
