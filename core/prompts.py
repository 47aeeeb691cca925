"""Box, region and click prompts: what a user points at, as a hint or clicks, and the crop the model then sees.

A prompt says where the subject is, as Photoshop's object selection or GrabCut's rectangle do.
It reaches the engine as a hint in the one trimap convention (trimaps.BACKGROUND / UNKNOWN /
FOREGROUND = 0 / 128 / 255): a box or an editor's selection is a *region*, background outside
and unknown (the model decides) inside. When the region leaves much of the frame out, the
model runs on a crop around it with a margin, at the model's own input size, so a small subject
gets the model's whole resolution and the rest of the frame cannot draw its attention
(``crop_for``), beside its answer on the whole frame (``with_context``); the alpha is pasted
back, background outside the crop.

Why these numbers (boxes from GrabCut's lasso bounds and from ECSSD's masks, see "Box prompts"
in docs/benchmarks/2026-12-01-quality-presets-prompts.md): with the frame's answer averaged in, a MARGIN of 0.1 of the box's side did as
well as 0.25 or 0.5 (u2netp, mean IoU GrabCut / ECSSD: 0.880 / 0.882 against 0.870 / 0.890);
CROP_MAX 0.8: a crop that keeps most of the frame gains little for a second model run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import imageread, matting
from .errors import CleancutError

MARGIN = 0.1  # context around the prompt's bounds, as a fraction of its width / height
MARGIN_MIN = 8  # ... and at least this many pixels
CROP_MAX = 0.8  # crop only when the crop keeps less than this fraction of the frame's pixels


def with_context(on_crop: np.ndarray, on_frame: np.ndarray, crop: tuple[slice, slice],
                 shape: tuple[int, ...]) -> np.ndarray:
    """A model's probability for the crop: the mean of its answer on the crop and its answer on
    the whole frame (``shape``) cut to the crop, at ``on_crop``'s resolution.

    Why both (mean IoU, GrabCut boxes from the lassos / ECSSD boxes from the masks, `fast`): on
    the crop a small subject gets the model's whole resolution (u2netp on GrabCut: 0.882 against
    0.840 for the frame's answer cut to the box), but a crop tight around a large subject loses
    the context the model needs to see it whole (IS-Net on ECSSD: 0.872 against 0.899); the
    mean keeps most of each (u2netp 0.880 / 0.882, IS-Net 0.973 / 0.895).
    """
    height, width = shape[:2]
    sy, sx = on_frame.shape[0] / height, on_frame.shape[1] / width
    rows, cols = crop
    box = (cols.start * sx, rows.start * sy, cols.stop * sx, rows.stop * sy)
    cut = matting.resize_part(on_frame, on_crop.shape[1], on_crop.shape[0], box)
    return (np.asarray(on_crop, np.float32) + cut) * np.float32(0.5)


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``X,Y,W,H`` (pixels, top-left corner and size) as four ints, or ValueError saying why."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise ValueError(f"a box is X,Y,W,H (four whole numbers of pixels), not {text!r}")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"a box is X,Y,W,H (four whole numbers of pixels), not {text!r}") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise ValueError(f"a box needs X, Y ≥ 0 and a width and height above 0, not {text!r}")
    return x, y, w, h


def box_region(shape: tuple[int, ...], box: tuple[int, int, int, int]) -> np.ndarray:
    """The region hint of a box on an image of ``shape``: 128 inside, 0 outside (uint8).

    ValueError when the box lies wholly outside the image; a box reaching past the image's
    edge is cut at the edge.
    """
    height, width = shape[:2]
    x, y, w, h = box
    if x >= width or y >= height:
        raise ValueError(f"the box {x},{y},{w},{h} lies outside the {width}×{height} image")
    region = np.zeros((height, width), np.uint8)
    region[y:min(height, y + h), x:min(width, x + w)] = 128
    return region


def bounds(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right), bottom and right exclusive, of a mask's True pixels; None if none."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def crop_for(hint: np.ndarray) -> tuple[slice, slice] | None:
    """The crop the model should see for this hint: the bounds of everything the hint does not
    call background, widened by MARGIN on each side and cut at the frame; None when that crop
    would keep CROP_MAX of the frame or more (or the hint is background everywhere)."""
    box = bounds(hint != 0)
    if box is None:
        return None
    height, width = hint.shape[:2]
    top, bottom, left, right = box
    dy = max(MARGIN_MIN, int(round(MARGIN * (bottom - top))))
    dx = max(MARGIN_MIN, int(round(MARGIN * (right - left))))
    top, bottom = max(0, top - dy), min(height, bottom + dy)
    left, right = max(0, left - dx), min(width, right + dx)
    if (bottom - top) * (right - left) >= CROP_MAX * height * width:
        return None
    return slice(top, bottom), slice(left, right)


MAX_CLICKS = 64  # include and exclude points together, in one request or command

Point = tuple[float, float]


@dataclass(frozen=True)
class Clicks:
    """Points a user placed, in pixels of the image (x right, y down from the top-left corner;
    a point names the pixel it falls in): ``include`` says "the subject is here", ``exclude``
    "this is not the subject". pointing.py turns them into the subject's mask."""

    include: tuple[Point, ...] = ()
    exclude: tuple[Point, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.include or self.exclude)

    def checked(self, width: int, height: int) -> "Clicks":
        """These clicks, or ValueError naming the first point that lies outside a ``width`` ×
        ``height`` image, or too many points."""
        if len(self.include) + len(self.exclude) > MAX_CLICKS:
            raise ValueError(f"at most {MAX_CLICKS} include and exclude points together, "
                             f"not {len(self.include) + len(self.exclude)}")
        for kind, points in (("include", self.include), ("exclude", self.exclude)):
            for x, y in points:
                if not (0 <= x < width and 0 <= y < height):
                    raise ValueError(f"the {kind} point {_number(x)},{_number(y)} lies outside "
                                     f"the {width}×{height} image")
        return self


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def parse_point(text: str) -> Point:
    """``X,Y`` (pixels from the top-left corner, whole or decimal, not negative) as two floats,
    or ValueError saying why."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        x, y = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"a point is X,Y (pixels from the top-left corner), not {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0:
        raise ValueError(f"a point needs X, Y ≥ 0, not {text!r}")
    return x, y


@dataclass(frozen=True)
class Prompt:
    """Where the subject is, as the command line says it for every input: a box in pixels
    (X, Y, W, H) or a hint image file (a trimap 0 / 128 / 255, or a rough mask), and include /
    exclude clicks (with a box or alone). Jobs carry it to the workers, which turn it into each
    photo's hint (``hint_for``) and clicks (``clicks_for``)."""

    box: tuple[int, int, int, int] | None = None
    hint: Path | None = None
    clicks: Clicks = Clicks()


def read_hint_file(path: Path, max_pixels: int) -> np.ndarray:
    """A hint image as H×W uint8 grey (its first channel if it has colour), read with the same
    guards as any input (size limit, hostile headers). CleancutError (ImageError) if unreadable."""
    picture = imageread.read_image(path, max_pixels=max_pixels)
    return np.ascontiguousarray(imageread.to_rgb8(picture)[..., 0])


def hint_for(prompt: Prompt | None, shape: tuple[int, ...], max_pixels: int) -> np.ndarray | None:
    """The hint a photo of ``shape`` gets from ``prompt``: a box's region, or the hint file's
    pixels, which must be the photo's size. None without a prompt."""
    if prompt is None:
        return None
    if prompt.box is not None:
        try:
            return box_region(shape, prompt.box)
        except ValueError as err:
            raise CleancutError(str(err)) from None
    if prompt.hint is not None:
        hint = read_hint_file(prompt.hint, max_pixels)
        if hint.shape != tuple(shape[:2]):
            raise CleancutError(f"the hint {prompt.hint.name} is {hint.shape[1]}×{hint.shape[0]}, "
                                f"the image {shape[1]}×{shape[0]}: a hint must be the image's size")
        return hint
    return None


def clicks_for(prompt: Prompt | None, shape: tuple[int, ...]) -> Clicks | None:
    """The clicks a photo of ``shape`` gets from ``prompt``, checked against its size; None
    without any. CleancutError when a point lies outside the photo."""
    if prompt is None or not prompt.clicks:
        return None
    try:
        return prompt.clicks.checked(shape[1], shape[0])
    except ValueError as err:
        raise CleancutError(str(err)) from None
