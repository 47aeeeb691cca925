"""A decoded Pillow image's pixels as the engine's arrays: (rgb, alpha) at the file's depth.

Every colour mode a user's file may have ends as H×W×3 RGB and an optional H×W alpha: 1-bit,
grey and grey+alpha repeated to three channels; palettes and tRNS colour keys as an alpha;
32-bit integer and float TIFFs at 16 bits; CMYK through its own ICC profile to sRGB. The two
16-bit decoding passes that imageread plans are joined here.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import numpy as np
from cleancut.errors import ImageError
from cleancut.imagecommon import detail, icc_colour_space
from PIL import Image, ImageCms


def to_arrays(name: str, image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, int, bytes | None]:
    """(rgb, alpha, bit_depth, icc) from an image Pillow decoded by itself."""
    icc = image.info.get("icc_profile") or None
    if image.mode.startswith("I;16"):
        grey = np.asarray(image).astype(np.uint16)
        return _grey3(grey), _colour_key_alpha(grey, image.info.get("transparency"), 65535), 16, icc
    if image.mode in ("I", "F"):
        return _grey3(_deep_to_uint16(np.asarray(image))), None, 16, icc
    if image.mode == "CMYK":
        image, icc = _cmyk_to_rgb(image, icc)
    try:
        rgb, alpha = _arrays_8bit(image)
    except (ValueError, OSError) as err:
        raise ImageError(
            f"cannot read {name}: its colour mode {image.mode} is not supported ({detail(err)}); "
            "save it as RGB"
        ) from None
    return rgb, alpha, 8, icc


def wide_arrays(
    name: str, image: Image.Image, low: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit rgb and alpha from the passes planned by :func:`_wide_decoding`."""
    high = np.asarray(image).astype(np.uint16)
    if low is None:  # 16-bit grey+alpha PNG decoded as bytes: grey high, grey low, alpha high, low
        return _grey3((high[..., 0] << 8) | high[..., 1]), (high[..., 2] << 8) | high[..., 3]
    if high.shape != low.shape:  # cannot happen with the raw modes above; be loud if it does
        raise ImageError(f"cannot read {name}: the two 16-bit decoding passes disagree")
    wide = (high << 8) | low
    rgb = wide[..., :3]
    if image.mode == "RGBA":
        return rgb, wide[..., 3]
    return rgb, _colour_key_alpha(rgb, image.info.get("transparency"), 65535)


def _arrays_8bit(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    transparent = image.has_transparency_data
    if image.mode in ("1", "L") and not transparent:
        return _grey3(np.asarray(image.convert("L"))), None
    if image.mode == "LA":
        grey_alpha = np.asarray(image)
        return _grey3(grey_alpha[..., 0]), grey_alpha[..., 1]
    if image.mode == "RGB" and not transparent:
        return np.asarray(image), None
    if image.mode != "RGBA":
        # palette (with or without transparency), tRNS colour keys, RGBX, premultiplied, YCbCr...
        image = image.convert("RGBA" if transparent else "RGB")
        if image.mode == "RGB":
            return np.asarray(image), None
    rgba = np.asarray(image)
    return rgba[..., :3], rgba[..., 3]


def _grey3(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., np.newaxis], 3, axis=2)


def _colour_key_alpha(pixels: np.ndarray, key: Any, opaque: int) -> np.ndarray | None:
    """Alpha from a PNG tRNS colour key (one grey value or one RGB triple that is transparent)."""
    if key is None or isinstance(key, bytes):
        return None
    if pixels.ndim == 3:
        transparent = np.all(pixels == np.asarray(key, dtype=pixels.dtype), axis=-1)
    else:
        transparent = pixels == key
    return np.where(transparent, 0, opaque).astype(pixels.dtype)


def _deep_to_uint16(values: np.ndarray) -> np.ndarray:
    """32-bit integer TIFFs are clipped to 0..65535; float TIFFs are taken as 0..1 (GIMP, Krita)."""
    if values.dtype.kind == "f":
        return np.round(np.clip(np.nan_to_num(values), 0.0, 1.0) * 65535).astype(np.uint16)
    return np.clip(values, 0, 65535).astype(np.uint16)


def _cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """CMYK to RGB through the file's own CMYK profile when it has a usable one.

    Relative colorimetric with black-point compensation, Photoshop's default, so paper white
    maps to white. Without a profile Pillow's plain formula is the best guess there is.
    """
    if icc is not None and icc_colour_space(icc) == b"CMYK":
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image,
                source,
                ImageCms.createProfile("sRGB"),
                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                outputMode="RGB",
                flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
        else:
            if converted is not None:
                return converted, _srgb_profile()
    return image.convert("RGB"), None


@functools.lru_cache(maxsize=1)
def _srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
