"""What ``--bg`` names, a flat colour or a picture, and the pixels it puts behind a cut-out.

A picture is scaled to cover the frame and centre-cropped (never stretched, never letterboxed),
once per frame size: a batch of same-sized photos or a video's frames reuse it.
A value that names an existing path is a picture, even when it is also a colour name.
"""

from __future__ import annotations

import functools
import os

import numpy as np
from PIL import Image, ImageOps

from . import compose, imageread
from .errors import CleancutError, UsageError


class BackgroundError(UsageError):
    """A --bg value that is neither a colour nor a readable picture (the command line is wrong)."""


def is_picture(text: str) -> bool:
    """Whether ``text`` names a file (or something at that path) rather than a colour."""
    return os.path.lexists(text)


def check(text: str, max_pixels: int) -> None:
    """Refuse a --bg value before any work: an unreadable picture, or text that is no colour."""
    if is_picture(text):
        _picture(text, max_pixels)
        return
    try:
        compose.parse_colour(text)
    except ValueError:
        raise BackgroundError(f"--bg '{text}' is neither a colour (a name such as white, or #00ff00) "
                              "nor an existing picture file") from None


def pixels(text: str, height: int, width: int, max_pixels: int) -> tuple[int, int, int] | np.ndarray:
    """The background for a height × width frame: a colour triple, or H×W×3 uint8 pixels."""
    if not is_picture(text):
        return compose.parse_colour(text)
    return _covering(text, height, width, max_pixels)


@functools.lru_cache(maxsize=4)
def _covering(text: str, height: int, width: int, max_pixels: int) -> np.ndarray:
    picture = Image.fromarray(_picture(text, max_pixels))
    covered = np.asarray(ImageOps.fit(picture, (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5)))
    covered.flags.writeable = False  # shared by every frame of this size
    return covered


@functools.lru_cache(maxsize=2)
def _picture(text: str, max_pixels: int) -> np.ndarray:
    try:
        return imageread.to_rgb8(imageread.read_image(text, max_pixels))
    except CleancutError as err:
        raise BackgroundError(f"--bg {text}: {err}") from None
