"""Turn a model's low-resolution probability into a full-resolution alpha matte: the short
orchestration (working size → trimap → prior → method → outline → full size). The trimap
convention lives in trimaps.py, the numerics (guided filter, closed-form matting, the solver,
resizing) in matting.py, the ensemble's rules in ensemble.py.

Modes:
- ``off``: bilinear resize of the probability to the image size (the baseline).
- ``best``: a trimap from the probability (confident foreground and background, and an
  unknown band BAND model pixels wide on each side of the uncertain zone), then closed-form
  matting (Levin, Lischinski & Weiss 2008) solved for the unknown band's pixels only, with
  the model's probability as a weak prior so the solve stays anchored where the image has no
  edge to follow (conjugate gradients, Jacobi preconditioner, started from the probability);
  without a hint the result is then kept on the guided filter's side of 0.5 (keep_outline).
- ``fast``: the same trimap, then a colour guided filter (He, Sun & Tang 2013) of the
  probability inside the unknown band: edges move onto the image's edges, at a fraction of
  the cost, and the object's outline stays the model's (grabcut IoU unchanged).
Photos above WORK_PIXELS are solved on a reduced copy and brought back to full resolution by
guided upsampling (the guided filter's local linear model fitted small, applied large).

Band-only work (``fast``, and the guided upsample of both modes): only the tiles (TILE pixels a
side, merged along rows, see matting.band_boxes) that hold an unknown or unsure pixel are computed, each
with the margin its filter reads (2r for a guided filter); everywhere else the trimap's 0 or 1
is copied. ``fast`` filters only the band (guided_filter_band), and the upsample fits and
applies its linear model only on the band's crops (Pillow's bilinear resize with a box weighs
the same source pixels as a full-frame resize, up to float rounding). Same alpha as the
full-frame passes within 1.2e-6 (bench scores unchanged to every printed digit);
measured in-process on the astronaut photo enlarged (tools/speed/band_speed.py, CPU medians
of 7 on the shared 2-core machine, old/new alternated): 1280×720 0.58 s → 0.43 s (its band's
tiles with their margins would cover the whole reduced frame, so the filter runs on the frame
and only the upsample gains), 4000×3000 1.26 s → 0.54 s, peak RSS at 12 MP 262 → 90 MiB
above the inputs. The gain is the band's share of the frame. A large photo is still reduced
as a whole: reducing crops with Pillow's box argument gives other pixels (the box filter's
in-or-out decisions fall on exact ties that the crop's arithmetic rounds differently).

Why (u2netp, alphamatting training set, mean / median SAD; grabcut median IoU): closed-form
gives 38.0 / 7.25 against 39.3 / 10.7 for the guided filter and 39.6 / 12.1 unrefined, while
the guided filter keeps the grabcut IoU (0.956 vs 0.955) that closed-form alone loses on
objects the model is unsure of (0.915). Closed-form kept on the guided filter's outline gets
both: 38.1 / 7.87 and 0.956. A stronger or confidence-weighted prior, or clamping the solve to
within 0.3 of the prior, trades one for the other (prior 1e-2: 10.2 / 0.951); a stretch of the solved alpha, flip test-time
augmentation and letting the model decide inside a user's trimap were measured and made
things worse, and so did a KNN-matting term (colour and position neighbours, SAD 38.4-41.6),
a trimap cut at a fixed distance from the 0.5 contour (SAD median 8.2-12.9), more iterations
or a weaker prior. Learning-based and sampling methods were not tried: their fast versions
need compiled code (pymatting's numba took over a minute to compile on first import here).

Ensembles (catalog presets, see ensemble.py): supporting models are averaged with the first
into the outline's probability, edge models give the prior inside the unknown band, and the
alpha is held on the guided-filtered average's side of 0.5 in every mode. Multi-scale
inference (u2netp at 480 or 640, its input made dynamic) made everything worse (SAD 99 / 173
alone, 67 / 103 averaged with 320).

A ``hint`` (H×W uint8) is either a trimap (0 background, 128 unknown, 255 foreground) that
replaces the model's trimap, or a rough mask (anything else, e.g. 0/255 from a selection)
whose edge becomes an unknown band trimaps.HINT_BAND of the long side wide. Degenerate probabilities
(no confident foreground or background) leave everything unknown: the prior then keeps the
model's own answer.

Cost and memory grow with the number of pixels of the band's tiles (``fast``) or of the photo
and the width of the band (``best``'s solve and outline).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import closedform, ensemble, matting, trimaps

# Per mode: the method without a hint, and conjugate-gradient iterations of the closed-form
# solve (with a hint both modes use closed-form: a user's trimap is what matting is for).
# "keep_outline": without a hint, the closed-form alpha is kept on the guided filter's side of
# 0.5 (see keep_outline); an ensemble's alpha always is, in every mode (see ensemble.py).
# "off" has no entry: it is a plain resize (_unrefined). options.REFINE_MODES names the modes.
MODE_SETTINGS: dict[str, dict] = {"fast": {"method": "guided", "hint_maxiter": 100},
                 "best": {"method": "closed-form", "maxiter": 150, "hint_maxiter": 400, "keep_outline": True}}

# Large images: solve at most this many pixels, then guided upsampling (radius).
WORK_PIXELS = 700_000
UPSAMPLE_RADIUS = 2
GUIDED_RADIUS = 3.0  # model pixels
OUTLINE_PIXELS = 200_000  # keep_outline's guided filter works on at most this many pixels


def _check(rgb: np.ndarray, prob: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"refine wants an H×W×3 uint8 image, got {rgb.shape} {rgb.dtype}")
    if prob.ndim != 2 or prob.size == 0:
        raise ValueError(f"refine wants a 2-D probability map, got shape {prob.shape}")


def keep_outline(alpha: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """``alpha`` projected onto ``outline``'s segmentation: where the two disagree about the
    side of 0.5, alpha becomes the nearest value on ``outline``'s side (0.5, or just under).

    Closed-form matting follows colour, so where object and background share colours it can
    carve into a hard-edged object the model had right (GrabCut median IoU 0.915 against 0.956
    for the guided filter); kept on the guided filter's side it keeps that outline exactly and
    its soft edges elsewhere (SAD 38.1 / 7.87 against 38.0 / 7.25 unconstrained).
    """
    inside = outline >= 0.5
    out = alpha.copy()
    out[inside & (alpha < 0.5)] = np.float32(0.5)
    out[~inside & (alpha >= 0.5)] = np.nextafter(np.float32(0.5), np.float32(0.0))
    return out


def _outline(rgb: np.ndarray, soft: np.ndarray, model_shape: tuple[int, int]) -> np.ndarray:
    """The guided filter's alpha for keep_outline, filtered on at most OUTLINE_PIXELS (only its
    side of 0.5 is used: at 0.2 MP the bench's scores match the full-size filter's within 0.02
    SAD, and a 12 MP photo saves 0.3 s), resized to ``rgb``'s size."""
    height, width = rgb.shape[:2]
    factor = min(1.0, (OUTLINE_PIXELS / float(height * width)) ** 0.5)
    h, w = max(1, round(height * factor)), max(1, round(width * factor))
    if (h, w) != (height, width):
        rgb = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.BOX))
        soft = matting.resize(soft, h, w)
    radius = max(1, int(round(GUIDED_RADIUS * max(h / model_shape[0], w / model_shape[1]))))
    guide = rgb.astype(np.float32) / np.float32(255.0)
    outline = np.clip(matting.guided_filter(guide, soft, radius, matting.GF_EPS), 0.0, 1.0)
    return matting.resize(outline, height, width)


# --------------------------------------------------------------------------- the stages

def working_size(height: int, width: int) -> tuple[int, int]:
    """The size refinement works at: the photo's own up to WORK_PIXELS, else a reduced copy's
    (the answer is brought back by guided upsampling)."""
    factor = min(1.0, (WORK_PIXELS / float(height * width)) ** 0.5)
    return max(1, round(height * factor)), max(1, round(width * factor))


def _reduce(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    if rgb.shape[:2] == (height, width):
        return rgb
    # The whole frame: reducing crops with Pillow's box argument is not the same reduction
    # (the box filter's pixel-in-or-out decisions fall on exact ties the crop's arithmetic
    # rounds differently: up to 11/255 apart on alphamatting GT04 enlarged 3×).
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BOX))


def _at(prob: np.ndarray, height: int, width: int) -> tuple[np.ndarray, float]:
    """A model's probability at the working size, and the working pixels per model pixel."""
    return (np.clip(matting.resize(prob, height, width), 0.0, 1.0),
            max(height / prob.shape[0], width / prob.shape[1]))


def _guided(small_rgb: np.ndarray, trimap: np.ndarray, prior: np.ndarray, radius: int, maxiter: int | None) -> np.ndarray:
    """``fast``: the guided filter of the prior inside the unknown band only."""
    alpha = (trimap == trimaps.FOREGROUND).astype(np.float32)
    matting.guided_filter_band(small_rgb, prior, radius, matting.GF_EPS, trimaps.unknown(trimap), alpha)
    return np.clip(alpha, 0.0, 1.0, out=alpha)


def _closed_form(small_rgb: np.ndarray, trimap: np.ndarray, prior: np.ndarray, radius: int, maxiter: int | None) -> np.ndarray:
    """``best``, and every hinted run: closed-form matting in the unknown band, with the prior."""
    return closedform.closed_form(small_rgb.astype(np.float32) / np.float32(255.0), trimap, prior, maxiter=maxiter)


# Matting methods by name (MODE_SETTINGS picks one per mode): (working RGB, trimap, prior,
# guided-filter radius, iterations) -> alpha at the working size.
METHODS = {"guided": _guided, "closed-form": _closed_form}


def _unrefined(rgb: np.ndarray, prob: np.ndarray, hint: np.ndarray | None, support: tuple[np.ndarray, ...],
               edges: tuple[np.ndarray, ...]) -> np.ndarray:
    """``off``: the probability resized to the photo (for a preset, see ensemble.py)."""
    height, width = rgb.shape[:2]
    alpha, scale = _at(prob, height, width)
    if support or edges:
        others = [_at(p, height, width) for p in support]
        edge_maps = [_at(p, height, width) for p in edges]
        outline = ensemble.outline_prior(alpha, [o for o, _ in others])
        band = trimaps.unknown(ensemble.trimap(alpha, scale, others + edge_maps))
        alpha = keep_outline(ensemble.prior(outline, [e for e, _ in edge_maps], band), outline)
    if hint is not None:
        trimap = trimaps.from_hint(hint)
        alpha[trimap == trimaps.FOREGROUND] = 1.0
        alpha[trimap == trimaps.BACKGROUND] = 0.0
    return alpha


def refine_alpha(rgb: np.ndarray, prob: np.ndarray, mode: str = "fast", hint: np.ndarray | None = None,
                 support: tuple[np.ndarray, ...] = (), edges: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """Full-resolution alpha (H×W float32, 0..1) for ``rgb`` from the model's ``prob``.

    Top to bottom: working size → trimap → prior → the mode's method → outline → full size.
    ``hint``: optional H×W uint8 trimap (0 / 128 / 255) or rough mask from an editor.
    ``support`` and ``edges``: an ensemble's other models' probabilities (any resolution; see
    ensemble.py): supporting models are averaged with ``prob`` into the outline; edge models
    (soft-edge matting like MODNet) give the prior inside the unknown band only.
    """
    _check(rgb, prob)
    height, width = rgb.shape[:2]
    hint = trimaps.checked_hint(hint, height, width)
    if mode == "off":
        return _unrefined(rgb, prob, hint, support, edges)

    h, w = working_size(height, width)
    small_rgb = _reduce(rgb, h, w)
    soft, scale = _at(prob, h, w)
    others = [_at(p, h, w) for p in support]
    edge_maps = [_at(p, h, w) for p in edges]
    if hint is None:
        trimap = ensemble.trimap(soft, scale, others + edge_maps)
    else:
        small_hint = hint
        if (h, w) != (height, width):
            small_hint = np.asarray(Image.fromarray(hint).resize((w, h), Image.Resampling.NEAREST))
        trimap = trimaps.from_hint(small_hint)
    outline = ensemble.outline_prior(soft, [o for o, _ in others])
    prior = ensemble.prior(outline, [e for e, _ in edge_maps], trimaps.unknown(trimap))

    settings = MODE_SETTINGS[mode]
    method = settings["method"] if hint is None else "closed-form"  # a user's trimap is what matting is for
    maxiter = settings.get("maxiter") if hint is None else settings["hint_maxiter"]
    radius = max(1, int(round(GUIDED_RADIUS * scale)))
    alpha = METHODS[method](small_rgb, trimap, prior, radius, maxiter)
    if hint is None and (settings.get("keep_outline") or support or edges):
        # The outline stays the guided filter's of the outline models' mean (see keep_outline):
        # closed-form matting and the edge models shape the edge, never where the subject is.
        alpha = keep_outline(alpha, _outline(small_rgb, outline, prob.shape))
    alpha[trimap == trimaps.FOREGROUND] = 1.0
    alpha[trimap == trimaps.BACKGROUND] = 0.0
    if (h, w) == (height, width):
        return alpha
    return matting.guided_upsample(small_rgb, alpha, rgb, trimap, max(1, int(round(UPSAMPLE_RADIUS))))
