"""Turn an alpha into what a user saves: a mask, an RGBA cut-out, or a composite over a colour or a picture.

Plain functions over numpy arrays, shared by the CLI, the worker and the pyblish plugins.
Outputs keep the input's bit depth (8 or 16).
"""

from __future__ import annotations

import numpy as np
from PIL import ImageColor


def _full_scale(bit_depth: int) -> int:
    if bit_depth not in (8, 16):
        raise ValueError(f"bit depth must be 8 or 16, not {bit_depth}")
    return 255 if bit_depth == 8 else 65535


def _dtype(bit_depth: int) -> type:
    return np.uint8 if bit_depth == 8 else np.uint16


def combine_alpha(alpha: np.ndarray, existing: np.ndarray | None) -> np.ndarray:
    """The model's alpha limited by an alpha the input already had: transparent stays transparent."""
    if existing is None:
        return alpha
    scale = 255.0 if existing.dtype == np.uint8 else 65535.0
    return alpha * (existing.astype(np.float32) / scale)


def quantise(alpha: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Alpha 0..1 as an integer mask (rounded, not truncated)."""
    scaled = np.clip(alpha, 0.0, 1.0)
    if scaled.dtype.kind != "f":
        scaled = scaled.astype(np.float64)
    scaled *= _full_scale(bit_depth)  # in one buffer: a 12 MP frame's alpha made four copies
    return np.rint(scaled, out=scaled).astype(_dtype(bit_depth))


def cutout(rgb: np.ndarray, alpha: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """H×W×4 RGBA: the colours (decontaminated ones when given) with the alpha as fourth channel."""
    pixels = np.empty(rgb.shape[:2] + (4,), _dtype(bit_depth))
    pixels[..., :3] = _rescale(rgb, bit_depth)
    pixels[..., 3] = quantise(alpha, bit_depth)
    return pixels


def over_background(rgb: np.ndarray, alpha: np.ndarray, background: tuple[int, int, int] | np.ndarray,
                    bit_depth: int = 8) -> np.ndarray:
    """H×W×3: the cut-out composited over a background in 8-bit units, a flat colour (r, g, b)
    or H×W×3 pixels of the same size (backgrounds.pixels makes either)."""
    top = _full_scale(bit_depth)
    fg = _rescale(rgb, bit_depth).astype(np.float32)
    bg = np.asarray(background, dtype=np.float32) * (top / 255.0)
    a = np.clip(alpha, 0.0, 1.0)[..., None].astype(np.float32)
    return np.rint(fg * a + bg * (1.0 - a)).clip(0, top).astype(_dtype(bit_depth))


def _rescale(rgb: np.ndarray, bit_depth: int) -> np.ndarray:
    if rgb.dtype == _dtype(bit_depth):
        return rgb
    if rgb.dtype == np.uint8:  # 8-bit colours into a 16-bit file
        return rgb.astype(np.uint16) * 257
    return np.rint(rgb.astype(np.float32) / 257.0).astype(np.uint8)


def parse_colour(text: str) -> tuple[int, int, int]:
    """A CSS colour name or #rrggbb; raises ValueError with the text when it is not one."""
    try:
        value = ImageColor.getrgb(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a colour; use a name such as white or a hex value such as #00ff00") from None
    return value[:3]


def finish(alpha: np.ndarray, own_alpha: np.ndarray | None, colours: np.ndarray, bit_depth: int, *,
           mask: bool = False, background: tuple[int, int, int] | np.ndarray | None = None) -> np.ndarray:
    """What a user saves of one picture or video frame, at its depth: the mask, the composite
    over ``background``, or the RGBA cut-out. The engine's ``alpha`` is first limited by the
    alpha the input had (``own_alpha``); ``colours`` are the decontaminated ones when computed."""
    alpha = combine_alpha(alpha, own_alpha)
    if mask:
        return quantise(alpha, bit_depth)
    if background is not None:
        return over_background(colours, alpha, background, bit_depth)
    return cutout(colours, alpha, bit_depth)
