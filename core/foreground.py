"""Colour decontamination: the foreground's own colours where the alpha is soft.

A pixel at the edge of an object mixes the object's colour F with the background's B:
I = a F + (1 - a) B. Cut-outs that keep I show a halo of the old background on a new one.
``estimate_foreground`` recovers F with the multi-level foreground estimation of Germer et al.
(2020, "Fast Multi-Level Foreground Estimation", the method behind pymatting's
``estimate_foreground_ml``), written with numpy only: coarse-to-fine over an image pyramid,
at each level a few Jacobi sweeps of the per-pixel 2×2 least-squares problem

    minimise  (a F + (1-a) B - I)^2 + sum_neighbours (eps + w |a_i - a_j|) (|F_i - F_j|^2 + |B_i - B_j|^2)

Jacobi rather than pymatting's in-place Gauss-Seidel sweeps, so that numpy can vectorise them:
on the alphamatting images the colours differ from pymatting's by 3.6/255 on average inside
the soft band, with no numba to compile. Levels above 256² pixels, and the full resolution,
only touch the soft band and a two-pixel rim, in compact arrays; photos above WORK_PIXELS stop
the pyramid there and interpolate the colours of the full-resolution soft band from it, so
memory stays a few bytes per pixel.

Band-only levels: a level above 256² keeps only its solved nodes (_Level); any other pixel's
colour is looked up in the coarser level on demand, which is what the full-size arrays held
there before, so nothing float of a level's size is made. Above WORK_PIXELS the soft pixels'
colours are interpolated tile by tile around the band (Pillow's bilinear resize of each crop
with its own box, the weights of the old full-frame resize of three 12 MP float planes). The
sweeps run in reused buffers. Colours are bit-identical to the full-level version up to
WORK_PIXELS and within one 8-bit step (on 3 pixels in 10⁷) above it; CPU medians on the
astronaut photo with refine fast's alpha (tools/speed/band_speed.py, medians of 7, shared
2-core machine): 1280×720 0.48 s → 0.38 s (the full-resolution band's own sweeps dominate and
were already band-only), 4000×3000 1.11 s → 0.74 s, peak RSS at 12 MP 354 → 171 MiB above
the inputs.

Where alpha rounds to 255 (or 0) in 8 bits the image's own colour is returned: it is the
answer (or invisible anyway).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from . import matting, morphology, parallel

REGULARIZATION = 1e-5
GRADIENT_WEIGHT = 1.0
SMALL_SIZE = 32 * 32  # levels up to this many pixels get SMALL_ITERATIONS sweeps
SMALL_ITERATIONS = 10
BIG_ITERATIONS = 2
VISIBLE = 0.5 / 255  # alpha within this of 0 or 1 keeps the image's colour (8-bit invisible)
WORK_PIXELS = 2_000_000  # larger photos: solve up to this size, then interpolate
EVERYWHERE_SIZE = 256 * 256  # larger levels only solve the soft band and its rim


def _resize_nearest(x: np.ndarray, height: int, width: int) -> np.ndarray:
    ys = np.minimum((np.arange(height) + 0.5) * x.shape[0] / height, x.shape[0] - 1).astype(np.intp)
    xs = np.minimum((np.arange(width) + 0.5) * x.shape[1] / width, x.shape[1] - 1).astype(np.intp)
    return x[ys[:, None], xs[None, :]]


def _solve_level(image: np.ndarray, alpha: np.ndarray, f: np.ndarray, b: np.ndarray,
                 iterations: int) -> None:
    """Jacobi sweeps over every pixel of a small level, in place on f and b (H×W×3)."""
    height, width = alpha.shape
    act = np.arange(alpha.size)
    flat_a = alpha.ravel()
    flat_f = f.reshape(-1, 3)
    flat_b = b.reshape(-1, 3)
    y, x = np.divmod(act, width)
    neighbours, weights = [], []
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ok = (y + dy >= 0) & (y + dy < height) & (x + dx >= 0) & (x + dx < width)
        nb = np.where(ok, act + dy * width + dx, act)
        w = np.where(ok, REGULARIZATION + GRADIENT_WEIGHT * np.abs(flat_a - flat_a[nb]), 0.0).astype(np.float32)
        neighbours.append(nb)
        weights.append(w[:, None])
    _sweep(flat_a, image.reshape(-1, 3), weights, neighbours, flat_f, flat_b, act, iterations)


def _sweep(a: np.ndarray, image: np.ndarray, weights: list, neighbours: list,
           all_f: np.ndarray, all_b: np.ndarray, at, iterations: int) -> None:
    """Jacobi sweeps of the per-pixel 2×2 least-squares problem for the unknowns stored at
    rows ``at`` of ``all_f`` / ``all_b`` (M×3, updated in place). ``neighbours[k]`` are the rows
    holding each unknown's k-th neighbour and ``weights[k]`` (N×1) that neighbour's weight;
    ``a`` and ``image`` are the unknowns' alpha and colour."""
    wsum = sum(w[:, 0] for w in weights)
    a0 = a * a + wsum
    a1 = a * (1.0 - a)
    a2 = (1.0 - a) ** 2 + wsum
    det = a0 * a2 - a1 * a1
    inv = (1.0 / np.where(np.abs(det) < 1e-12, 1e-12, det)).astype(np.float32)
    c0, c1, c2 = (a0 * inv)[:, None], (a1 * inv)[:, None], (a2 * inv)[:, None]
    data_f = a[:, None] * image
    data_b = (1.0 - a)[:, None] * image
    # The same arithmetic in reused buffers (np.take into one, products in place): a third
    # less time than fresh temporaries, bit for bit the same colours.
    gathered = np.empty_like(data_f)
    rf, rb = np.empty_like(data_f), np.empty_like(data_b)
    new, part = np.empty_like(data_f), np.empty_like(data_f)
    for _ in range(iterations):
        rf[:] = data_f
        rb[:] = data_b
        for nb, w in zip(neighbours, weights):
            np.take(all_f, nb, axis=0, out=gathered)
            gathered *= w
            rf += gathered
            np.take(all_b, nb, axis=0, out=gathered)
            gathered *= w
            rb += gathered
        np.multiply(c2, rf, out=new)
        np.multiply(c1, rb, out=part)
        new -= part
        all_f[at] = np.clip(new, 0.0, 1.0, out=new)
        np.multiply(c0, rb, out=new)
        np.multiply(c1, rf, out=part)
        new -= part
        all_b[at] = np.clip(new, 0.0, 1.0, out=new)


def _nearest_index(size: int, source: int) -> np.ndarray:
    """For each of ``size`` pixels along an axis, its nearest pixel among ``source`` (the
    formula _resize_nearest uses)."""
    return np.minimum((np.arange(size) + 0.5) * source / size, source - 1).astype(np.intp)


def _nearest_source(flat: np.ndarray, height: int, width: int, h: int, w: int) -> np.ndarray:
    """For flat pixel numbers at height×width, the flat number of the nearest pixel at h×w."""
    y, x = np.divmod(flat, width)
    ys = np.minimum(((y + 0.5) * (h / height)).astype(np.intp), h - 1)
    xs = np.minimum(((x + 0.5) * (w / width)).astype(np.intp), w - 1)
    return ys * w + xs


class _Level:
    """One pyramid level's colours: dense (every pixel, small levels) or a band level (the
    ``nodes`` it solved; any other pixel has the coarser level's colour, nearest upsampled,
    which is what the old full-size arrays held there)."""

    def __init__(self, height: int, width: int, f: np.ndarray, b: np.ndarray,
                 nodes: np.ndarray | None = None, coarser: "_Level | None" = None) -> None:
        self.height, self.width = height, width
        self.f, self.b = f.reshape(-1, 3), b.reshape(-1, 3)
        self.nodes, self.coarser = nodes, coarser
        if coarser is not None:  # each row's and column's nearest in the coarser level
            self.rows = _nearest_index(height, coarser.height)
            self.cols = _nearest_index(width, coarser.width)

    def at(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(f, b) of the given flat pixels (M×3 float32 each)."""
        if self.nodes is None:
            return self.f[flat], self.b[flat]
        f = np.empty((flat.size, 3), np.float32)
        b = np.empty((flat.size, 3), np.float32)
        miss = np.arange(flat.size)
        if self.nodes.size:
            pos = np.minimum(np.searchsorted(self.nodes, flat), self.nodes.size - 1)
            hit = self.nodes[pos] == flat
            f[hit] = self.f[pos[hit]]
            b[hit] = self.b[pos[hit]]
            miss = np.flatnonzero(~hit)
        if miss.size:
            coarser = self.coarser
            assert coarser is not None, "a band level always has a coarser level"
            y, x = np.divmod(flat[miss], self.width)
            src = self.rows[y] * coarser.width + self.cols[x]
            f[miss], b[miss] = coarser.at(src)
        return f, b


def _solve_band(nodes: np.ndarray, flat_alpha: np.ndarray, image: np.ndarray, height: int, width: int,
                outside, iterations: int) -> tuple[np.ndarray, np.ndarray]:
    """Jacobi sweeps on ``nodes`` only (sorted flat pixel numbers of a height×width level) in
    compact arrays: the other pixels keep the values ``outside(flat)`` gives them (the coarser
    level's, upsampled), so nothing of the level's size is allocated in float. ``image`` holds
    the nodes' colours (0..1). Returns the nodes' (f, b)."""
    n = nodes.size
    if n == 0:
        return np.empty((0, 3), np.float32), np.empty((0, 3), np.float32)
    a = np.clip(flat_alpha[nodes], 0.0, 1.0)
    y, x = np.divmod(nodes, width)
    # Neighbours outside the node set are appended after the nodes (fixed values), so one
    # gather per direction reads both: ext[:n] holds the nodes' current values.
    # Where each pixel of the level sits among the nodes (-1: not a node): one int32 map of the
    # level's size (at most WORK_PIXELS), several times faster than searching the nodes.
    position = np.full(height * width, -1, np.int32)
    position[nodes] = np.arange(n, dtype=np.int32)
    gathers, weights, others = [], [], []
    extra = n
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ok = (y + dy >= 0) & (y + dy < height) & (x + dx >= 0) & (x + dx < width)
        nb = np.where(ok, nodes + dy * width + dx, nodes)
        weight = np.where(ok, REGULARIZATION + GRADIENT_WEIGHT * np.abs(a - np.clip(flat_alpha[nb], 0.0, 1.0)), 0.0)
        weights.append(weight.astype(np.float32)[:, None])
        pos = position[nb]
        inside = pos >= 0
        out_nb = nb[~inside]
        pos[~inside] = extra + np.arange(out_nb.size)
        extra += out_nb.size
        others.append(out_nb)
        gathers.append(pos)
    ext_f, ext_b = outside(np.concatenate([nodes] + others))
    ext_f = np.ascontiguousarray(ext_f, np.float32)
    ext_b = np.ascontiguousarray(ext_b, np.float32)
    _sweep(a, image, weights, gathers, ext_f, ext_b, slice(0, n), iterations)
    return ext_f[:n], ext_b[:n]


def _soft(alpha: np.ndarray) -> np.ndarray:
    """The pixels whose colour is solved: alpha visibly between 0 and 1 in 8 bits. The one test
    for every level: the band levels once took any alpha above 0, so behind an unrefined
    probability (tiny but not 0 across the background) they solved nearly the whole frame, for
    colours nobody sees (3× the time and 4× the memory of a refined alpha at 12 MP)."""
    return (alpha > VISIBLE) & (alpha < 1.0 - VISIBLE)


def _band_level(rgb: np.ndarray, alpha: np.ndarray, h: int, w: int, coarser: _Level) -> _Level:
    """A level above EVERYWHERE_SIZE: its soft band (_soft) and a two-pixel rim are
    solved, every other pixel stays the coarser level's (nothing float of the level's size)."""
    height, width = alpha.shape
    ys, xs = _nearest_index(h, height), _nearest_index(w, width)
    a_l = alpha[ys[:, None], xs[None, :]]
    soft = _soft(a_l)
    nodes = np.flatnonzero(morphology.dilate(soft, 2))
    y, x = np.divmod(nodes, w)
    image = rgb[ys[y], xs[x]].astype(np.float32) / np.float32(255.0)
    level = _Level(h, w, np.empty((0, 3), np.float32), np.empty((0, 3), np.float32), nodes[:0], coarser)
    level.f, level.b = _solve_band(nodes, a_l.ravel(), image, h, w, level.at, BIG_ITERATIONS)
    level.nodes = nodes
    return level


def _solve_full_resolution(rgb: np.ndarray, alpha: np.ndarray, soft: np.ndarray,
                           top: _Level) -> tuple[np.ndarray, np.ndarray]:
    """The last level on the soft band and a two-pixel rim only, in compact arrays: the other
    pixels' values are the previous level's, upsampled on demand (nothing full-size in float).
    Returns (flat numbers of the soft pixels, their foreground colours 0..1)."""
    height, width = alpha.shape
    nodes = np.flatnonzero(morphology.dilate(soft, 2))
    image = rgb.reshape(-1, 3)[nodes].astype(np.float32) / np.float32(255.0)
    f, _ = _solve_band(nodes, alpha.ravel(), image, height, width,
                       lambda flat: top.at(_nearest_source(flat, height, width, top.height, top.width)),
                       BIG_ITERATIONS)
    keep = soft.ravel()[nodes]
    return nodes[keep], f[keep]


def _upsample_band(top: _Level, rgb: np.ndarray, soft: np.ndarray, out: np.ndarray) -> None:
    """Colours of the full-resolution soft pixels bilinearly interpolated from ``top`` (a
    reduced level), written into ``out`` as 8 bits: tile by tile around the soft band, each
    crop of ``top`` made dense and resized by Pillow with the crop's own box, which weighs the
    same source pixels as the old full-frame resize (three 12 MP float planes) did."""
    height, width = soft.shape
    h, w = top.height, top.width
    sy, sx = h / height, w / width

    def tile(boxes) -> np.ndarray:
        """One run of tiles' soft pixels' colours (8 bits)."""
        (y0, y1, x0, x1), _ = boxes
        ty0, ty1 = max(0, int(y0 * sy) - 2), min(h, int(np.ceil(y1 * sy)) + 2)
        tx0, tx1 = max(0, int(x0 * sx) - 2), min(w, int(np.ceil(x1 * sx)) + 2)
        flat = (np.arange(ty0, ty1)[:, None] * w + np.arange(tx0, tx1)[None, :]).ravel()
        f, _ = top.at(flat)
        f = f.reshape(ty1 - ty0, tx1 - tx0, 3)
        box = (max(0.0, x0 * sx - tx0), max(0.0, y0 * sy - ty0),
               min(float(tx1 - tx0), x1 * sx - tx0), min(float(ty1 - ty0), y1 * sy - ty0))
        inside = soft[y0:y1, x0:x1]
        colours = np.empty((int(inside.sum()), 3), np.float32)
        for c in range(3):
            channel = Image.fromarray(np.ascontiguousarray(f[..., c]), mode="F")
            plane = np.asarray(channel.resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR, box=box))
            colours[:, c] = plane[inside]
        return np.clip(colours * 255.0 + 0.5, 0, 255).astype(np.uint8)

    boxes = matting.band_boxes(soft, matting.TILE, 0)
    for ((y0, y1, x0, x1), _), colours in zip(boxes, parallel.ordered_map(tile, boxes)):
        out[y0:y1, x0:x1][soft[y0:y1, x0:x1]] = colours


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours (H×W×3 uint8) for an image and its alpha (H×W float32 0..1).

    Pixels whose alpha rounds to 0 or 255 in 8 bits keep the image's own colour.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"estimate_foreground wants an H×W×3 uint8 image, got {rgb.shape} {rgb.dtype}")
    if np.shape(alpha) != rgb.shape[:2]:
        raise ValueError(f"alpha must be {rgb.shape[0]}×{rgb.shape[1]}, got {np.shape(alpha)}")
    height, width = rgb.shape[:2]
    # Not clipped here (a full-frame copy): only the pixels read below are, and the soft test
    # gives the same answer on the raw values.
    alpha = np.asarray(alpha, np.float32)
    soft = _soft(alpha)
    if not soft.any():
        return rgb.copy()
    # Large photos: the pyramid stops at about WORK_PIXELS, and the full-resolution soft
    # pixels take their colours from it by bilinear interpolation.
    factor = min(1.0, (WORK_PIXELS / float(height * width)) ** 0.5)
    top_h, top_w = max(1, round(height * factor)), max(1, round(width * factor))
    levels = int(np.ceil(np.log2(max(top_h, top_w, 2))))
    top = None
    for level in range(levels + 1):
        h = max(1, round(top_h ** (level / levels)))
        w = max(1, round(top_w ** (level / levels)))
        if (h, w) == (height, width):
            break
        if h * w > EVERYWHERE_SIZE and top is not None:
            top = _band_level(rgb, alpha, h, w, top)
            continue
        img_l = _resize_nearest(rgb, h, w).astype(np.float32) / np.float32(255.0)
        a_l = np.clip(_resize_nearest(alpha, h, w), 0.0, 1.0)
        if top is None:
            mean = img_l.reshape(-1, 3).mean(axis=0)
            f = np.broadcast_to(mean, (h, w, 3)).astype(np.float32)
            b = f.copy()
        else:
            ys, xs = _nearest_index(h, top.height), _nearest_index(w, top.width)
            f, b = top.at((ys[:, None] * top.width + xs[None, :]).ravel())
            f, b = f.reshape(h, w, 3), b.reshape(h, w, 3)
        _solve_level(img_l, a_l, f, b, SMALL_ITERATIONS if h * w <= SMALL_SIZE else BIG_ITERATIONS)
        top = _Level(h, w, f, b)
    if top is None:  # a 1×1 image: nothing coarser to start from
        f = rgb.astype(np.float32) / np.float32(255.0)
        top = _Level(height, width, f, f.copy())
    out = rgb.copy()
    if factor < 1.0:
        _upsample_band(top, rgb, soft, out)
    else:
        where, colours = _solve_full_resolution(rgb, alpha, soft, top)
        out.reshape(-1, 3)[where] = np.clip(colours * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out
