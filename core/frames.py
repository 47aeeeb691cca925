"""Raw pixel buffers as editors hand them over, to and from numpy arrays.

A frame is width × height pixels of one of the CHANNELS layouts in one of the FORMATS, rows
``stride`` bytes apart (rows may be padded). f32 values are 0..1 and taken as already
perceptually encoded (hosts ask their pixel APIs for gamma-encoded data).
"""

from __future__ import annotations

import numpy as np

from .errors import CleancutError

FORMATS = {"u8": np.dtype(np.uint8), "u16": np.dtype("<u2"), "f32": np.dtype("<f4")}
CHANNELS = {"Y": 1, "YA": 2, "RGB": 3, "RGBA": 4}


class FrameError(CleancutError):
    """A frame whose description and bytes do not fit together."""


def frame_size(width: int, height: int, channels: str, fmt: str, stride: int | None = None,
               max_bytes: int | None = None) -> int:
    """Bytes a frame occupies; raises FrameError for an impossible description.

    ``max_bytes`` bounds the frame's whole extent, stride × height (the padding too): a 1-row
    frame with a huge stride describes few bytes but would have to be laid out in memory.
    """
    if not isinstance(channels, str) or channels not in CHANNELS:
        raise FrameError(f"unknown channel layout {channels!r}; use one of {', '.join(CHANNELS)}")
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise FrameError(f"unknown pixel format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not (_is_int(width) and _is_int(height)) or width < 1 or height < 1:
        raise FrameError(f"a frame needs a positive width and height, not {width!r}×{height!r}")
    row = width * CHANNELS[channels] * FORMATS[fmt].itemsize
    stride = row if stride is None else stride
    if not _is_int(stride):
        raise FrameError(f"stride must be an integer number of bytes, not {stride!r}")
    if stride < row:
        raise FrameError(f"stride {stride} is shorter than a row of {row} bytes")
    if max_bytes is not None and stride * height > max_bytes:
        raise FrameError(f"a {width}×{height} frame with rows {stride} bytes apart spans {stride * height} "
                         f"bytes, over the limit of {max_bytes}")
    return stride * (height - 1) + row


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def decode(buffer: bytes, width: int, height: int, channels: str, fmt: str,
           stride: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(H×W×3 uint8 RGB for the model, H×W float32 alpha of the frame or None)."""
    needed = frame_size(width, height, channels, fmt, stride)
    if len(buffer) != needed:
        raise FrameError(f"a {width}×{height} {channels} {fmt} frame needs {needed} bytes, got {len(buffer)}")
    dtype = FORMATS[fmt]
    count = CHANNELS[channels]
    row = width * count * dtype.itemsize
    stride = row if stride is None else stride
    flat = np.frombuffer(buffer, dtype=np.uint8)
    # Rows read in place, ``stride`` apart: nothing the size of the padding is ever allocated.
    rows = np.lib.stride_tricks.as_strided(flat, shape=(height, row), strides=(stride, 1), writeable=False)
    pixels = rows.copy().view(dtype).reshape(height, width, count)
    if fmt == "u8":
        unit = pixels.astype(np.float32) / 255.0
        rgb8 = pixels[..., : 3 if count >= 3 else 1]
    else:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf pixels: cleaned just below
            unit = pixels.astype(np.float32) / (65535.0 if fmt == "u16" else 1.0)
        unit = np.nan_to_num(unit, nan=0.0, posinf=1.0, neginf=0.0)
        rgb8 = np.rint(np.clip(unit[..., : 3 if count >= 3 else 1], 0.0, 1.0) * 255.0).astype(np.uint8)
    if rgb8.shape[2] == 1:
        rgb8 = np.repeat(rgb8, 3, axis=2)
    alpha = np.clip(unit[..., -1], 0.0, 1.0) if channels in ("YA", "RGBA") else None
    return np.ascontiguousarray(rgb8), alpha


def encode_alpha(alpha: np.ndarray, fmt: str) -> bytes:
    """Alpha 0..1 as tightly packed little-endian bytes in the requested format."""
    if fmt not in FORMATS:
        raise FrameError(f"unknown pixel format {fmt!r}; use one of {', '.join(FORMATS)}")
    clipped = np.clip(alpha, 0.0, 1.0)
    if fmt == "f32":
        return clipped.astype("<f4").tobytes()
    top = 255.0 if fmt == "u8" else 65535.0
    return np.rint(clipped * top).astype(FORMATS[fmt]).tobytes()


def encode_rgb(rgb: np.ndarray, fmt: str) -> bytes:
    """H×W×3 uint8 colours as tightly packed bytes in the requested format."""
    if fmt == "u8":
        return np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    if fmt == "u16":
        return (rgb.astype("<u2") * 257).tobytes()
    if fmt == "f32":
        return (rgb.astype("<f4") / 255.0).tobytes()
    raise FrameError(f"unknown pixel format {fmt!r}; use one of {', '.join(FORMATS)}")
