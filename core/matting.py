"""Matting numerics on float planes: resizing and the guided filter (closed-form matting is
closedform.py's). Nothing here knows about models, modes or presets; refine.py decides what to
run where, these functions compute it.

- ``resize`` / ``resize_part``: bilinear resizes as Pillow does them (pixel centres aligned); a
  part's resize weighs the same source pixels as the whole frame's, so crops can be upsampled
  separately.
- the colour guided filter (He, Sun & Tang 2013), its band-only form over tiles that hold an
  unsure pixel (``band_boxes``, ``guided_filter_band``), and guided upsampling (He & Sun 2015):
  the filter's local linear model fitted at low resolution and applied at full resolution.

Band-only work computes each filter on a rectangle of tiles grown by the margin the filter reads
(2r for a guided filter) and keeps its inner part: equal to the full-frame filter there up to
float rounding (1.2e-6), while the tiles without an unsure pixel, most of a photo, are never
touched (measurements: refine.py's docstring).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from . import morphology, parallel, trimaps

# The guided filter's regulariser (colours in 0..1).
GF_EPS = 1e-4
TILE = 32  # band-only work: tiles of this many pixels a side that hold an unsure pixel



# --------------------------------------------------------------------------- resizing

def resize(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float plane (pixel centres aligned, as PIL does)."""
    plane = np.ascontiguousarray(plane, dtype=np.float32)
    if plane.shape == (height, width):
        return plane.copy()
    image = Image.fromarray(plane, mode="F")
    return np.array(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def resize_part(plane: np.ndarray, width: int, height: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Bilinear resize of the part ``box`` (x0, y0, x1, y1, in ``plane``'s pixels) of a float
    plane to width×height: Pillow weighs the same source pixels as a full-frame resize would
    for those output pixels, so a crop's upsample is the full upsample's crop."""
    image = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), mode="F")
    return np.array(image.resize((width, height), Image.Resampling.BILINEAR, box=box), dtype=np.float32)


# --------------------------------------------------------------------------- guided filter

def box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)² window, the edge pixels repeated beyond the frame (float32 in,
    float32 out; up to 4 channels). OpenCV's box filter: scipy's ``uniform_filter`` with mode
    "nearest" within float rounding (6e-8), five times faster, and the guided filter is mostly
    box filters."""
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REPLICATE)


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s colour guided filter: ``src`` filtered along the edges of ``guide`` (H×W×3)."""
    coef, offset = guided_coefficients(guide, src, r, eps)
    return np.einsum("...c,...c->...", coef, guide) + offset


def guided_coefficients(guide: np.ndarray, src: np.ndarray, r: int, eps: float):
    """The guided filter's box-averaged local linear model: src ~ coef . guide + offset."""
    mean_i = box(guide, r)
    mean_p = box(src, r)
    mean_ip = box(guide * src[..., None], r)
    cov_ip = mean_ip - mean_i * mean_p[..., None]
    var = {}
    for a in range(3):
        for b in range(a, 3):
            v = box(guide[..., a] * guide[..., b], r) - mean_i[..., a] * mean_i[..., b]
            var[a, b] = v.astype(np.float64) + (eps if a == b else 0.0)
    coef = _solve_symmetric3(var, cov_ip)
    del var
    offset = mean_p - np.einsum("...c,...c->...", coef, mean_i)
    return box(coef, r), box(offset, r)


def _solve_symmetric3(m: dict, rhs: np.ndarray) -> np.ndarray:
    """Per-pixel solution of a symmetric 3×3 system (upper triangle in ``m[a, b]``), by the
    adjugate: several times faster than np.linalg.solve on millions of tiny systems."""
    a, b, c, d, e, f = m[0, 0], m[0, 1], m[0, 2], m[1, 1], m[1, 2], m[2, 2]
    i00, i01, i02 = d * f - e * e, c * e - b * f, b * e - c * d
    i11, i12, i22 = a * f - c * c, b * c - a * e, a * d - b * b
    inv_det = 1.0 / (a * i00 + b * i01 + c * i02)
    x, y, z = rhs[..., 0], rhs[..., 1], rhs[..., 2]
    out = np.empty(rhs.shape, np.float32)
    out[..., 0] = (i00 * x + i01 * y + i02 * z) * inv_det
    out[..., 1] = (i01 * x + i11 * y + i12 * z) * inv_det
    out[..., 2] = (i02 * x + i12 * y + i22 * z) * inv_det
    return out


def band_boxes(mask: np.ndarray, tile: int = TILE, margin: int = 0) -> list[tuple[tuple[int, int, int, int],
                                                                                 tuple[int, int, int, int]]]:
    """Rectangles that cover every True pixel of ``mask``, as (inner, outer) pairs of
    (y0, y1, x0, x1): the tile×tile tiles holding a True pixel, merged along each row of tiles
    into runs (inner), each grown by ``margin`` pixels, clipped to the frame (outer).

    Band-only work computes a filter on each outer rectangle and keeps its inner part: with a
    margin as wide as the filter reads, that equals the full-frame filter there, and the tiles
    without a True pixel (most of a photo) are never touched.
    """
    height, width = mask.shape
    whole = height // tile * tile
    # OR over each band of rows as one vectorised pass (reduceat along axis 0 is 40× slower).
    rows = [mask[:whole].reshape(height // tile, tile, width).any(axis=1)]
    if whole < height:
        rows.append(mask[whole:].any(axis=0, keepdims=True))
    tiles = np.logical_or.reduceat(np.concatenate(rows), np.arange(0, width, tile), axis=1)
    boxes = []
    for i in np.flatnonzero(tiles.any(axis=1)):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], tiles[i].astype(np.int8), [0]))))
        y0, y1 = int(i) * tile, min((int(i) + 1) * tile, height)
        for a, b in zip(edges[::2], edges[1::2]):
            x0, x1 = int(a) * tile, min(int(b) * tile, width)
            boxes.append(((y0, y1, x0, x1), (max(0, y0 - margin), min(height, y1 + margin),
                                             max(0, x0 - margin), min(width, x1 + margin))))
    return boxes


def guided_filter_band(guide: np.ndarray, src: np.ndarray, r: int, eps: float,
                       where: np.ndarray, out: np.ndarray) -> None:
    """``out[where] = guided_filter(guide / 255, src, r, eps)[where]``, computed on the band's
    tiles only (``guide`` H×W×3 uint8, converted a crop at a time).

    The filter reads 2r pixels around each output (a box of a box), so each run of tiles is
    filtered with a 2r margin; the result equals the full-frame filter's up to float rounding
    (the box sums start elsewhere), and a photo whose unsure band covers a tenth of the frame
    costs a fraction of the full-frame filter.
    """
    boxes = band_boxes(where, TILE, 2 * r)
    if sum((oy1 - oy0) * (ox1 - ox0) for _, (oy0, oy1, ox0, ox1) in boxes) >= where.size:
        # A band over most of the frame (a model unsure everywhere): the margins would cost
        # more than the frame itself.
        boxes = [((0, where.shape[0], 0, where.shape[1]),) * 2]

    def run(pair) -> np.ndarray:
        (y0, y1, x0, x1), (oy0, oy1, ox0, ox1) = pair
        crop = guide[oy0:oy1, ox0:ox1].astype(np.float32) / np.float32(255.0)
        return guided_filter(crop, src[oy0:oy1, ox0:ox1], r, eps)[y0 - oy0:y1 - oy0, x0 - ox0:x1 - ox0]

    for ((y0, y1, x0, x1), _), filtered in zip(boxes, parallel.ordered_map(run, boxes)):
        inside = where[y0:y1, x0:x1]
        out[y0:y1, x0:x1][inside] = filtered[inside]


def guided_upsample(small_rgb: np.ndarray, alpha_low: np.ndarray, rgb: np.ndarray,
                    trimap_low: np.ndarray, radius: int) -> np.ndarray:
    """Full-resolution alpha from a low-resolution one: the guided filter's local linear
    model (alpha = a . colour + b) is fitted at low resolution and applied to the full image
    (He & Sun 2015). Pixels the low-resolution trimap is sure of (one pixel away from its
    unknown band) are exactly 0 or 1; the model is fitted and applied only on the tiles around
    the unsure pixels (a 12 MP photo used to upsample four full-frame float planes; now the
    band's crops, a few percent of the frame)."""
    height, width = rgb.shape[:2]
    h, w = alpha_low.shape
    unsure = morphology.dilate(trimaps.unknown(trimap_low))
    sure = np.where(unsure, trimaps.UNKNOWN, trimap_low).astype(np.uint8)
    sure = np.asarray(Image.fromarray(sure).resize((width, height), Image.Resampling.NEAREST))
    out = sure.astype(np.float32)
    out /= np.float32(255.0)  # 0 and 1 exactly; every UNKNOWN is replaced below
    sy, sx = height / h, width / w

    def tile(boxes) -> tuple[int, int, int, int, np.ndarray, np.ndarray] | None:
        """One run of tiles: its full-resolution rectangle, unsure pixels and their alpha."""
        (y0, y1, x0, x1), (oy0, oy1, ox0, ox1) = boxes
        top, bottom = max(0, int(y0 * sy) - 1), min(height, int(np.ceil(y1 * sy)) + 1)
        left, right = max(0, int(x0 * sx) - 1), min(width, int(np.ceil(x1 * sx)) + 1)
        band = trimaps.unknown(sure[top:bottom, left:right])
        if not band.any():
            return None
        guide = small_rgb[oy0:oy1, ox0:ox1].astype(np.float32) / np.float32(255.0)
        coef, offset = guided_coefficients(guide, alpha_low[oy0:oy1, ox0:ox1], radius, GF_EPS)
        part = (max(0.0, left / sx - ox0), max(0.0, top / sy - oy0),
                min(float(ox1 - ox0), right / sx - ox0), min(float(oy1 - oy0), bottom / sy - oy0))
        size = (right - left, bottom - top)
        value = resize_part(offset, *size, part)
        pixels = rgb[top:bottom, left:right]
        for c in range(3):
            plane = resize_part(coef[..., c], *size, part)
            plane *= pixels[..., c]
            plane *= np.float32(1.0 / 255.0)
            value += plane
        np.clip(value, 0.0, 1.0, out=value)
        return top, bottom, left, right, band, value[band]

    # A full-resolution pixel reads the coefficients one low-resolution pixel around its
    # centre; they read 2 * radius pixels around theirs. Neighbouring runs share a row at their
    # edges: written in order, as one thread would.
    for done in parallel.ordered_map(tile, band_boxes(unsure, TILE, 2 * radius + 4)):
        if done is not None:
            top, bottom, left, right, band, values = done
            out[top:bottom, left:right][band] = values
    return out
