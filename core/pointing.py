"""Include and exclude clicks → the subject's mask, with the catalog's salient models.

No promptable model (SAM and its kin) can be obtained here, so a click steers the salient
models instead of feeding one:

1. ``zoom``: the models also look at a crop around what the include points touch (the parts of
   the models' answer that hold a point, and a square around a point they missed), as a box
   prompt does; one extra model run for all the points.
2. ``select``: of the models' answer, the parts that hold an include point are the subject (all
   parts, when there is no include point) and the parts that hold only exclude points are not.
3. a graph cut (OpenCV's GrabCut: colour models of subject and background, and a smoothness
   term along the image's edges) then settles every unsure pixel, with the include points as
   certain subject and the exclude points as certain background, so an exclude point splits a
   part that holds both and an include point claims the region around it that matches it.

Everything here runs at WORK_SIDE pixels on the long side; the mask it gives is a rough mask
for refine.py, whose unknown band then follows the photo's edges at full resolution.
Measurements and the numbers behind each constant: docs/benchmarks/2026-12-07-clicks.md.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from . import matting, prompts
from .prompts import Clicks

WORK_SIDE = 512  # the long side, in pixels, at which points select parts and the graph cut runs
MISS_SIDE = 0.4  # the square the models look at around a point they missed, of the short side
SEED_RADIUS = 0.01  # a point is a disc this fraction of the long side across (at least 1 pixel)
GRABCUT_ROUNDS = 3
LEVEL = 0.5  # probability at or above which a pixel belongs to a part of the models' answer


def work_shape(height: int, width: int) -> tuple[int, int]:
    """The working size of an image: the long side WORK_SIDE at most, the aspect kept."""
    factor = min(1.0, WORK_SIDE / max(height, width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def _scaled(points: tuple[prompts.Point, ...], sy: float, sx: float, shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Points as (row, column) pixels of an image ``shape`` that is ``sy``, ``sx`` times the original."""
    return [(min(shape[0] - 1, int(y * sy)), min(shape[1] - 1, int(x * sx))) for x, y in points]


def _parts(prob: np.ndarray) -> tuple[np.ndarray, int]:
    """The connected parts (8-neighbours) of the models' answer, labelled 1..n."""
    labels, count = ndimage.label(prob >= LEVEL, structure=np.ones((3, 3), bool))
    return labels, count


def zoom(prob: np.ndarray, clicks: Clicks, shape: tuple[int, ...]) -> tuple[slice, slice] | None:
    """The crop of an image of ``shape`` the models should also see for these clicks (see
    prompts.crop_for), from their answer on the whole frame ``prob`` (any resolution): the
    bounds of the parts that hold an include point and of a MISS_SIDE square around each
    include point that no part holds. None without include points, or when the crop would
    keep most of the frame."""
    if not clicks.include:
        return None
    height, width = shape[:2]
    labels, _ = _parts(prob)
    sy, sx = prob.shape[0] / height, prob.shape[1] / width
    region = np.zeros((height, width), np.uint8)
    half = max(1, int(MISS_SIDE * min(height, width) / 2))
    for (row, col), (x, y) in zip(_scaled(clicks.include, sy, sx, prob.shape), clicks.include):
        label = labels[row, col]
        if label:
            box = prompts.bounds(labels == label)
            assert box is not None
            top, bottom, left, right = box
            region[int(top / sy):int(np.ceil(bottom / sy)), int(left / sx):int(np.ceil(right / sx))] = 128
        else:
            region[max(0, int(y) - half):int(y) + half, max(0, int(x) - half):int(x) + half] = 128
    return prompts.crop_for(region)


def select(rgb: np.ndarray, prob: np.ndarray, clicks: Clicks) -> np.ndarray:
    """The subject's mask (H×W bool, the size of ``rgb``) from the models' probability ``prob``
    (any resolution) and the clicks (pixels of ``rgb``)."""
    height, width = rgb.shape[:2]
    h, w = work_shape(height, width)
    small = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BOX)) if (h, w) != (height, width) else rgb
    soft = np.clip(matting.resize(np.asarray(prob, np.float32), h, w), 0.0, 1.0)
    include = _scaled(clicks.include, h / height, w / width, (h, w))
    exclude = _scaled(clicks.exclude, h / height, w / width, (h, w))
    radius = max(1, int(round(SEED_RADIUS * max(h, w) / 2)))
    include_discs = _discs(include, radius, (h, w))
    exclude_discs = _discs(exclude, radius, (h, w)) & ~include_discs

    labels, _ = _parts(soft)
    subject = labels > 0 if not include else np.zeros((h, w), bool)
    for point in include:
        subject |= _part_at(soft, labels, point)
    for point in exclude:
        label = labels[point]
        if label and not any(labels[p] == label for p in include):
            subject &= labels != label  # a part that only exclude points touch is not the subject
    subject |= include_discs
    subject &= ~exclude_discs
    subject = _split(small, subject, labels, include, exclude, include_discs, exclude_discs)
    if subject.shape != (height, width):
        subject = np.asarray(Image.fromarray(subject).resize((width, height), Image.Resampling.NEAREST))
    return subject


def _discs(points: list[tuple[int, int]], radius: int, shape: tuple[int, int]) -> np.ndarray:
    """The pixels within ``radius`` of any of ``points`` (rows, columns)."""
    yy, xx = np.ogrid[:shape[0], :shape[1]]
    out = np.zeros(shape, bool)
    for row, col in points:
        out |= (yy - row) ** 2 + (xx - col) ** 2 <= radius * radius
    return out


def _part_at(soft: np.ndarray, labels: np.ndarray, point: tuple[int, int]) -> np.ndarray:
    """The part of the models' answer that holds ``point``; where the models were less sure
    there (below LEVEL), the part above half their probability at the point."""
    if labels[point]:
        return labels == labels[point]
    level = soft[point] / 2
    if level <= 0.01:
        return np.zeros(soft.shape, bool)
    weak, _ = ndimage.label(soft >= level, structure=np.ones((3, 3), bool))
    return weak == weak[point]


def _split(small: np.ndarray, subject: np.ndarray, labels: np.ndarray, include, exclude,
           include_discs: np.ndarray, exclude_discs: np.ndarray) -> np.ndarray:
    """Where an exclude point lies in a part that also holds an include point, a graph cut
    inside that part (everything outside it certain background) decides which of its pixels
    go with the include points: it starts from each pixel going with its nearest point, and
    moves the border onto the image's edges between the colours on each side."""
    mixed = {labels[p] for p in exclude} & {labels[p] for p in include} - {0}
    if not mixed:
        return subject
    region = np.isin(labels, sorted(mixed))
    seeds = np.where(include_discs, 1, np.where(exclude_discs, 2, 0)).astype(np.uint8)
    _, (rows, cols) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    nearest = seeds[rows, cols]
    mask = np.full(subject.shape, cv2.GC_BGD, np.uint8)
    mask[region & (nearest == 1)] = cv2.GC_PR_FGD
    mask[region & (nearest == 2)] = cv2.GC_PR_BGD
    mask[include_discs] = cv2.GC_FGD
    mask[exclude_discs] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setNumThreads(1)
    cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), mask, None, bgd, fgd, GRABCUT_ROUNDS, cv2.GC_INIT_WITH_MASK)
    kept = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return np.where(region, kept, subject)
