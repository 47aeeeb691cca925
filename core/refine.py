"""Turn a model's low-resolution probability into a full-resolution alpha matte.

Modes:
- ``off``: bilinear resize of the probability to the image size (the baseline).
- ``fast``: trimap from the probability, then a guided filter (He et al. 2013) of the upsampled
  probability inside the unknown band, with the image as guide.
- ``best``: trimap from the probability, then closed-form matting (Levin et al. 2008) inside the
  unknown band only, at full resolution, with the model's probability as a weak prior so the
  solve stays anchored where the image has no edge to follow.

A ``hint`` (H×W uint8: 0 background, 128 unknown, 255 foreground, anything else treated as a
rough mask thresholded at 128) replaces or constrains the trimap.

Everything works on float32 images and on the unknown band's pixels only, so cost and memory
grow with the number of pixels and the band, not with anything quadratic.
"""

from __future__ import annotations

import numpy as np

MODES = ("off", "fast", "best")

# Trimap from probability.
FG_LEVEL = 0.9  # probability at or above: candidate foreground
BG_LEVEL = 0.1  # probability at or below: candidate background
BAND = 1.0  # half-width of the unknown band, in model pixels (scaled to image pixels)
BAND_MIN = 2  # ... and never narrower than this many image pixels

# Closed-form matting.
CF_EPS = 1e-5
CF_PRIOR = 1e-3  # weight of the probability prior inside the unknown band
CF_TOL = 1e-4
CF_MAXITER = 300

# Guided filter.
GF_EPS = 1e-3


# --------------------------------------------------------------------------- helpers

def resize(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of a float plane (pixel centres aligned, as PIL does)."""
    from PIL import Image

    plane = np.ascontiguousarray(plane, dtype=np.float32)
    if plane.shape == (height, width):
        return plane.copy()
    image = Image.fromarray(plane, mode="F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def _check(rgb: np.ndarray, prob: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"refine wants an H×W×3 uint8 image, got {rgb.shape} {rgb.dtype}")
    if prob.ndim != 2 or prob.size == 0:
        raise ValueError(f"refine wants a 2-D probability map, got shape {prob.shape}")


def box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)² window, windows shrunk at the borders (float32 in, float32 out)."""
    from scipy import ndimage

    return ndimage.uniform_filter(x, size=(2 * r + 1, 2 * r + 1) + (1,) * (x.ndim - 2), mode="nearest")


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s colour guided filter: ``src`` filtered along the edges of ``guide`` (H×W×3)."""
    mean_i = box(guide, r)
    mean_p = box(src, r)
    mean_ip = box(guide * src[..., None], r)
    cov_ip = mean_ip - mean_i * mean_p[..., None]
    var = np.empty(guide.shape[:2] + (3, 3), np.float32)
    for a in range(3):
        for b in range(a, 3):
            v = box(guide[..., a] * guide[..., b], r) - mean_i[..., a] * mean_i[..., b]
            var[..., a, b] = v
            var[..., b, a] = v
    var += eps * np.eye(3, dtype=np.float32)
    coef = np.linalg.solve(var, cov_ip[..., None])[..., 0]
    del var
    offset = mean_p - np.einsum("...c,...c->...", coef, mean_i)
    return np.einsum("...c,...c->...", box(coef, r), guide) + box(offset, r)


# --------------------------------------------------------------------------- trimap

def trimap_from_prob(prob_full: np.ndarray, scale: float) -> np.ndarray:
    """uint8 trimap (0, 128, 255) from a full-resolution probability.

    Confident pixels are those beyond FG_LEVEL / BG_LEVEL, eroded by a band whose half-width
    is BAND model pixels (``scale`` image pixels per model pixel), at least BAND_MIN pixels.
    Without any confident foreground (or background) everything not confidently the other is
    unknown, and the solve falls back on the probability prior.
    """
    from scipy import ndimage

    radius = max(BAND_MIN, int(round(BAND * scale)))
    structure = ndimage.generate_binary_structure(2, 1)
    fg = ndimage.binary_erosion(prob_full >= FG_LEVEL, structure, iterations=radius, border_value=1)
    bg = ndimage.binary_erosion(prob_full <= BG_LEVEL, structure, iterations=radius, border_value=1)
    trimap = np.full(prob_full.shape, 128, np.uint8)
    trimap[fg] = 255
    trimap[bg] = 0
    return trimap


def trimap_from_hint(hint: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if hint.shape != shape:
        raise ValueError(f"hint must be {shape[0]}×{shape[1]}, got {hint.shape}")
    hint = np.asarray(hint)
    values = np.unique(hint)
    if set(values.tolist()) <= {0, 128, 255}:
        return hint.astype(np.uint8)
    # A rough mask: unsure within a band around its edge.
    return trimap_from_prob(hint.astype(np.float32) / 255.0, 4.0)


# --------------------------------------------------------------------------- closed-form

def _cf_system(image: np.ndarray, unknown: np.ndarray, known_alpha: np.ndarray, eps: float):
    """Rows of the closed-form matting Laplacian for the unknown pixels.

    Returns (L_UU as CSR, rhs = -L_UK alpha_K, index of unknown pixels). Only the 3×3 windows
    that touch an unknown pixel are visited, in chunks, so memory follows the band's size.
    """
    from scipy import ndimage, sparse

    height, width = unknown.shape
    flat_unknown = np.flatnonzero(unknown)
    n = flat_unknown.size
    order = np.full(height * width, -1, np.int64)
    order[flat_unknown] = np.arange(n)
    centres = ndimage.binary_dilation(unknown, np.ones((3, 3), bool))
    centres[0, :] = centres[-1, :] = False
    centres[:, 0] = centres[:, -1] = False
    cy, cx = np.nonzero(centres)
    offsets = (np.arange(-1, 2)[:, None] * width + np.arange(-1, 2)[None, :]).ravel()
    flat_image = image.reshape(-1, 3).astype(np.float64)
    flat_alpha = known_alpha.ravel().astype(np.float64)
    rows, cols, vals = [], [], []
    rhs = np.zeros(n)
    chunk = 50_000
    for start in range(0, cy.size, chunk):
        centre = cy[start:start + chunk] * width + cx[start:start + chunk]
        idx = centre[:, None] + offsets[None, :]  # M×9
        win = flat_image[idx]  # M×9×3
        mu = win.mean(axis=1, keepdims=True)
        d = win - mu
        cov = np.einsum("mki,mkj->mij", d, d) / 9.0 + (eps / 9.0) * np.eye(3)
        inv = np.linalg.inv(cov)
        a = np.einsum("mki,mij,mlj->mkl", d, inv, d)
        val = np.eye(9)[None] - (1.0 + a) / 9.0  # M×9×9
        ri = order[idx]  # M×9 unknown index or -1
        r = np.broadcast_to(ri[:, :, None], val.shape)
        c_pix = np.broadcast_to(idx[:, None, :], val.shape)
        c = np.broadcast_to(ri[:, None, :], val.shape)
        row_u = r >= 0
        both = row_u & (c >= 0)
        rows.append(r[both])
        cols.append(c[both])
        vals.append(val[both])
        kn = row_u & (c < 0)
        np.add.at(rhs, r[kn], -val[kn] * flat_alpha[c_pix[kn]])
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    vals = np.concatenate(vals) if vals else np.zeros(0)
    lap = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
    return lap, rhs, flat_unknown


def closed_form(image: np.ndarray, trimap: np.ndarray, prior: np.ndarray,
                prior_weight: float = CF_PRIOR, eps: float = CF_EPS) -> np.ndarray:
    """Alpha from closed-form matting inside the trimap's unknown band, with a prior.

    Minimises a^T L a + w * sum_U (a - prior)^2 with the known pixels fixed; conjugate
    gradients with a Jacobi preconditioner, started from the prior.
    """
    from scipy.sparse import diags
    from scipy.sparse.linalg import cg

    alpha = np.where(trimap >= 192, 1.0, 0.0).astype(np.float32)
    unknown = (trimap > 64) & (trimap < 192)
    if not unknown.any():
        return alpha
    lap, rhs, flat = _cf_system(image, unknown, alpha, eps)
    p = prior.ravel()[flat].astype(np.float64)
    system = lap + diags(np.full(flat.size, prior_weight))
    rhs = rhs + prior_weight * p
    diag = system.diagonal()
    precond = diags(1.0 / np.maximum(diag, 1e-12))
    x, _ = cg(system, rhs, x0=p, rtol=CF_TOL, maxiter=CF_MAXITER, M=precond)
    alpha.ravel()[flat] = np.clip(x, 0.0, 1.0)
    return alpha


# --------------------------------------------------------------------------- entry point

def refine_alpha(rgb: np.ndarray, prob: np.ndarray, mode: str = "fast",
                 hint: np.ndarray | None = None) -> np.ndarray:
    """Full-resolution alpha (H×W float32, 0..1) for ``rgb`` from the model's ``prob``."""
    if mode not in MODES:
        raise ValueError(f"refine mode must be one of {', '.join(MODES)}, not {mode!r}")
    _check(rgb, prob)
    height, width = rgb.shape[:2]
    soft = np.clip(resize(prob, height, width), 0.0, 1.0)
    if mode == "off" and hint is None:
        return soft
    scale = max(height / prob.shape[0], width / prob.shape[1])
    if hint is not None:
        trimap = trimap_from_hint(hint, (height, width))
    else:
        trimap = trimap_from_prob(soft, scale)
    image = rgb.astype(np.float32) / 255.0
    if mode in ("fast", "off"):
        r = max(1, int(round(scale)))
        alpha = guided_filter(image, soft, r, GF_EPS)
    else:
        alpha = closed_form(image, trimap, soft)
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32)
    alpha[trimap == 255] = 1.0
    alpha[trimap == 0] = 0.0
    return alpha
