"""Include and exclude clicks → the subject's mask, with the catalog's salient models.

No promptable model (SAM and its kin) can be obtained here, so a click steers the salient
models instead of feeding one. The pipeline calls, in order:

1. ``zoom``: when every include point lies on a part of the models' answer, the models also
   look at a crop around those parts, as for a box (one more model run for all the points).
2. ``squares``: an include point the models missed gets a second look, a square of MISS_SIDE
   around it (one more model run per missed point).
3. ``select``: the parts of the answer that hold an include point are the subject (with no
   include point: every part but those only exclude points are on), with the part of a second
   look under a missed point, or where the models were unsure at a point, the part above half
   their probability there. A graph cut (OpenCV's GrabCut: colour models of subject and
   background, a smoothness term along the photo's edges) then settles only the clicks the
   answer still disagrees with, in a window around each sized by the click's distance from the
   subject's edge; everything else stays the models' answer and teaches the cut its colours.
   Parts of the answer that touch the subject join it (a subject seen in pieces).
4. ``trimap`` and ``held``: the subject becomes refine.py's hint (unknown along its edge, the
   points' discs certain) and the models' probability is held on its side of 0.5, so the
   edges are matted as usual and a click is never matted away.

The selection runs at WORK_SIDE pixels on the long side. Measurements behind the design and
its constants: docs/benchmarks/2026-12-07-clicks.md.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from . import matting, morphology, prompts, trimaps
from .prompts import Clicks

WORK_SIDE = 512  # the long side, in pixels, at which points select parts and the graph cut runs
MISS_SIDE = 0.4  # the square the models look at around a point they missed, of the short side
SEED_RADIUS = 0.01  # a point is a disc this fraction of the long side across (at least 1 pixel)
GRABCUT_ROUNDS = 3
WEAK = 0.05  # an include point on an answer below 2 × WEAK has no weak part to take
WINDOW = 3.0  # a graph cut's square reaches this many times a click's distance from the subject's edge
WINDOW_MIN = 0.02  # ... and at least this fraction of the long side
ATTACH = 0.02  # parts of the answer this close to the subject (of the long side) belong to it
LEVEL = 0.5  # probability at or above which a pixel belongs to a part of the models' answer


def work_shape(height: int, width: int) -> tuple[int, int]:
    """The working size of an image: the long side WORK_SIDE at most, the aspect kept."""
    factor = min(1.0, WORK_SIDE / max(height, width))
    return max(1, round(height * factor)), max(1, round(width * factor))


def _scaled(points: tuple[prompts.Point, ...], sy: float, sx: float, shape: tuple[int, int]) -> list[tuple[int, int]]:
    """Points as (row, column) pixels of an image ``shape`` that is ``sy``, ``sx`` times the original."""
    return [(min(shape[0] - 1, int(y * sy)), min(shape[1] - 1, int(x * sx))) for x, y in points]


def _parts(prob: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, int]:
    """The connected parts (8-neighbours) of the models' answer at or above ``level``, labelled 1..n."""
    return morphology.parts(prob >= level)


def _around(row: int, col: int, half: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The square reaching ``half`` pixels on each side of (row, col), cut at the frame ``shape``."""
    return (slice(max(0, row - half), min(shape[0], row + half + 1)),
            slice(max(0, col - half), min(shape[1], col + half + 1)))


def zoom(prob: np.ndarray, clicks: Clicks, shape: tuple[int, ...]) -> tuple[slice, slice] | None:
    """The crop of an image of ``shape`` the models should also see for these clicks (see
    prompts.crop_for), from their answer on the whole frame ``prob`` (any resolution): the
    bounds of the parts that hold the include points. None without include points, when one
    of them is on no part (the subject may reach past what the models found; ``squares``
    looks around it instead), or when the crop would keep most of the frame."""
    if not clicks.include:
        return None
    height, width = shape[:2]
    labels, _ = _parts(prob)
    sy, sx = prob.shape[0] / height, prob.shape[1] / width
    region = np.zeros((height, width), np.uint8)
    for row, col in _scaled(clicks.include, sy, sx, prob.shape):
        if not labels[row, col]:
            return None
        top, bottom, left, right = prompts.bounds(labels == labels[row, col]) or (0, 0, 0, 0)
        region[int(top / sy):int(np.ceil(bottom / sy)), int(left / sx):int(np.ceil(right / sx))] = 128
    return prompts.crop_for(region)


def squares(prob: np.ndarray, clicks: Clicks, shape: tuple[int, ...]) -> list[tuple[slice, slice]]:
    """The squares (MISS_SIDE of the short side, cut at the frame) of an image of ``shape``
    around each include point that no part of the models' answer ``prob`` holds: the models
    look there again, and the part of their answer under the point joins the subject."""
    height, width = shape[:2]
    labels, _ = _parts(prob)
    sy, sx = prob.shape[0] / height, prob.shape[1] / width
    half = max(1, int(MISS_SIDE * min(height, width) / 2))
    found = []
    for (row, col), (x, y) in zip(_scaled(clicks.include, sy, sx, prob.shape), clicks.include):
        if not labels[row, col]:
            found.append(_around(int(y), int(x), half, (height, width)))
    return found


def select(rgb: np.ndarray, prob: np.ndarray, clicks: Clicks,
           looks: list[tuple[tuple[slice, slice], np.ndarray]] = ()) -> np.ndarray:
    """The subject's mask (H×W bool, the size of ``rgb``) from the models' probability ``prob``
    (any resolution), the clicks (pixels of ``rgb``) and the models' answers ``looks`` on the
    ``squares`` around include points they missed."""
    height, width = rgb.shape[:2]
    h, w = work_shape(height, width)
    sy, sx = h / height, w / width
    small = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BOX)) if (h, w) != (height, width) else rgb
    soft = np.clip(matting.resize(np.asarray(prob, np.float32), h, w), 0.0, 1.0)
    include = _scaled(clicks.include, sy, sx, (h, w))
    exclude = _scaled(clicks.exclude, sy, sx, (h, w))
    radius = max(1, int(round(SEED_RADIUS * max(h, w) / 2)))
    include_discs = _discs(include, radius, (h, w))
    exclude_discs = _discs(exclude, radius, (h, w)) & ~include_discs

    labels, _ = _parts(soft)
    held = {labels[p] for p in include} - {0}
    excluded = {labels[p] for p in exclude} - {0} - held
    if include:
        subject = np.isin(labels, sorted(held))
    else:
        subject = (labels > 0) & ~np.isin(labels, sorted(excluded))
    for square, answer in looks:
        subject |= _part_under(answer, square, include, (sy, sx), (h, w))
    half = max(1, int(MISS_SIDE * min(h, w) / 2))
    for point in include:
        if not subject[point]:
            subject |= _weak_part(soft, point, half)
    # The clicks the models' answer still disagrees with get a graph cut around them.
    missed = [_window(subject, p, half) for p in include if not subject[p]]
    taken = [(_window(subject, p, half), p) for p in exclude if subject[p]]
    subject = (subject | include_discs) & ~exclude_discs
    subject = _local_cut(small, subject, missed, taken, include, include_discs, exclude_discs)
    if include:
        subject |= _attached(labels, subject, excluded | held, max(h, w))
    if subject.shape != (height, width):
        subject = np.asarray(Image.fromarray(subject).resize((width, height), Image.Resampling.NEAREST))
    return subject


def trimap(subject: np.ndarray, clicks: Clicks) -> np.ndarray:
    """The hint refine.py gets for the subject (H×W bool): certain away from its edge, unknown
    within trimaps.HINT_BAND of it, and the points' discs certain whatever the band says, so a
    small subject a click claimed is not matted away."""
    height, width = subject.shape
    hint = trimaps.from_hint(np.where(subject, trimaps.FOREGROUND, trimaps.BACKGROUND).astype(np.uint8))
    radius = max(1, int(round(SEED_RADIUS * max(height, width) / 2)))
    shape = (height, width)
    hint[_discs(_scaled(clicks.include, 1.0, 1.0, shape), radius, shape)] = trimaps.FOREGROUND
    hint[_discs(_scaled(clicks.exclude, 1.0, 1.0, shape), radius, shape)] = trimaps.BACKGROUND
    return hint


def held(prob: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """The models' probability (any resolution) at the subject's size, held on the subject's
    side of 0.5: where the clicks overruled the models, the matting starts from "unsure"
    rather than from the models' other answer; where they agree, the soft edge is the models'."""
    soft = np.clip(matting.resize(np.asarray(prob, np.float32), *subject.shape), 0.0, 1.0)
    return np.where(subject, np.maximum(soft, 0.5), np.minimum(soft, np.nextafter(np.float32(0.5), np.float32(0))))


def _part_under(answer: np.ndarray, square: tuple[slice, slice], include: list[tuple[int, int]],
                scale: tuple[float, float], shape: tuple[int, int]) -> np.ndarray:
    """The parts of the models' ``answer`` on a ``square`` (pixels of the image) that hold an
    include point, as a mask of the working ``shape``."""
    sy, sx = scale
    top, bottom = int(square[0].start * sy), max(int(square[0].start * sy) + 1, int(round(square[0].stop * sy)))
    left, right = int(square[1].start * sx), max(int(square[1].start * sx) + 1, int(round(square[1].stop * sx)))
    bottom, right = min(bottom, shape[0]), min(right, shape[1])
    local = np.clip(matting.resize(np.asarray(answer, np.float32), bottom - top, right - left), 0.0, 1.0)
    labels, _ = _parts(local)
    inside = {labels[r - top, c - left] for r, c in include if top <= r < bottom and left <= c < right} - {0}
    out = np.zeros(shape, bool)
    out[top:bottom, left:right] = np.isin(labels, sorted(inside))
    return out


def _weak_part(soft: np.ndarray, point: tuple[int, int], half: int) -> np.ndarray:
    """Where the models were unsure at an include point (below LEVEL, at least 2 × WEAK): the
    part above half their probability there that holds it, inside the square ``half`` around it."""
    level = soft[point] / 2
    out = np.zeros(soft.shape, bool)
    if level < WEAK:
        return out
    row, col = point
    window = _around(row, col, half, soft.shape)
    labels, _ = _parts(soft[window], level)
    out[window] = labels == labels[row - window[0].start, col - window[1].start]
    return out


def _window(subject: np.ndarray, point: tuple[int, int], half: int) -> tuple[slice, slice]:
    """The square a graph cut may change around a click the subject disagrees with: WINDOW
    times the click's distance from the subject's edge on each side (the size of the error it
    points at), at least WINDOW_MIN of the long side, at most ``half``."""
    inside = subject[point]
    region = subject if inside else ~subject
    if region.all():
        reach = half
    else:
        reach = morphology.distance_outside(region, point, frame_outside=inside)
    size = int(np.clip(WINDOW * reach, max(2, WINDOW_MIN * max(subject.shape)), half))
    return _around(point[0], point[1], size, subject.shape)


def _local_cut(small: np.ndarray, subject: np.ndarray, missed: list[tuple[slice, slice]],
               taken: list[tuple[tuple[slice, slice], tuple[int, int]]], include: list[tuple[int, int]],
               include_discs: np.ndarray, exclude_discs: np.ndarray) -> np.ndarray:
    """A graph cut (GrabCut) that may change only the windows around the clicks the subject
    disagrees with: ``missed`` (around include points off it) start as subject, as inside
    GrabCut's rectangle, so what the background outside does not explain stays; and
    ``taken`` (around exclude points on it) start as background wherever they are nearer to
    their exclude point than to any include point. Everything else stays as it is and teaches
    the cut the subject's and the background's colours; the points' discs are certain."""
    if not missed and not taken:
        return subject
    mask = np.where(subject, cv2.GC_FGD, cv2.GC_BGD).astype(np.uint8)
    for window in missed:
        mask[window] = cv2.GC_PR_FGD  # as GrabCut's rectangle: the colours unlike the rest's go
    rows, cols = np.ogrid[:subject.shape[0], :subject.shape[1]]
    for window, (row, col) in taken:
        away = (rows[window[0]] - row) ** 2 + (cols[:, window[1]] - col) ** 2
        nearer = np.ones(away.shape, bool)
        for r, c in include:
            nearer &= away < (rows[window[0]] - r) ** 2 + (cols[:, window[1]] - c) ** 2
        mask[window] = np.where(subject[window] & ~nearer, cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    mask[include_discs] = cv2.GC_FGD
    mask[exclude_discs] = cv2.GC_BGD
    present = set(np.unique(mask).tolist())
    if not (present & {cv2.GC_FGD, cv2.GC_PR_FGD}) or not (present & {cv2.GC_BGD, cv2.GC_PR_BGD}):
        return subject
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setNumThreads(1)
    cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), mask, None, bgd, fgd, GRABCUT_ROUNDS, cv2.GC_INIT_WITH_MASK)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def _attached(labels: np.ndarray, subject: np.ndarray, excluded: set, side: int) -> np.ndarray:
    """The parts of the models' answer within ATTACH of the subject (a subject the models saw
    in pieces), but not the ``excluded`` ones (those an exclude point is on, and those the
    clicks already decided)."""
    reach = morphology.dilate(subject, max(1, int(round(ATTACH * side))))
    near = set(np.unique(labels[reach]).tolist()) - {0} - excluded
    return np.isin(labels, sorted(near))


def _discs(points: list[tuple[int, int]], radius: int, shape: tuple[int, int]) -> np.ndarray:
    """The pixels within ``radius`` of any of ``points`` (rows, columns)."""
    yy, xx = np.ogrid[:shape[0], :shape[1]]
    out = np.zeros(shape, bool)
    for row, col in points:
        out |= (yy - row) ** 2 + (xx - col) ** 2 <= radius * radius
    return out
