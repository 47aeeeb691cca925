"""The one trimap convention, and the trimaps the engine draws from a model or a user.

A trimap is an H×W uint8 plane: BACKGROUND (0), UNKNOWN (128: the model or the matting
decides) and FOREGROUND (255). Refinement, an ensemble's widened band, the pipeline's region
rule, the prompts and the editors' hints all speak it; this module is its only definition, so
the values and the "unknown" predicate cannot drift apart between them.

Hints: a ``hint`` (H×W) is either a trimap, which is used as it is, or a rough mask (anything
else, e.g. 0/255 from a selection) whose edge becomes an unknown band HINT_BAND of the long
side wide; a *region* (a box, an editor's selection: no FOREGROUND anywhere) says only where
the background certainly is. Degenerate probabilities (no confident foreground or background)
leave everything unknown: the matting's prior then keeps the model's own answer.
"""

from __future__ import annotations

import numpy as np

from . import morphology

BACKGROUND, UNKNOWN, FOREGROUND = 0, 128, 255

# Trimap from probability.
FG_LEVEL = 0.98  # probability at or above: candidate foreground
BG_LEVEL = 0.02  # probability at or below: candidate background
BAND = 3.0  # half-width of the unknown band, in model pixels (scaled to image pixels)
BAND_MIN = 2  # ... and never narrower than this many image pixels

# Hints.
HINT_BAND = 0.01  # a rough mask is unsure within this fraction of the image's long side
HINT_BAND_MIN = 4  # ... and at least this many pixels


def from_probability(prob_full: np.ndarray, scale: float) -> np.ndarray:
    """uint8 trimap (0, 128, 255) from a full-resolution probability.

    Confident pixels are those beyond FG_LEVEL / BG_LEVEL, eroded by a band whose half-width
    is BAND model pixels (``scale`` image pixels per model pixel), at least BAND_MIN pixels.
    Without any confident foreground (or background) everything not confidently the other is
    unknown, and the solve falls back on the probability prior.
    """
    radius = max(BAND_MIN, int(round(BAND * scale)))
    fg = morphology.erode(prob_full >= FG_LEVEL, radius)
    bg = morphology.erode(prob_full <= BG_LEVEL, radius)
    trimap = np.full(prob_full.shape, UNKNOWN, np.uint8)
    trimap[fg] = FOREGROUND
    trimap[bg] = BACKGROUND
    return trimap


def unknown(trimap: np.ndarray) -> np.ndarray:
    """The one predicate for "unknown" in a trimap (or a hint): exactly UNKNOWN."""
    return trimap == UNKNOWN


def is_trimap(hint: np.ndarray) -> bool:
    """A trimap has an unknown band and nothing but BACKGROUND, UNKNOWN and FOREGROUND."""
    values = set(np.unique(hint).tolist())
    return UNKNOWN in values and values <= {BACKGROUND, UNKNOWN, FOREGROUND}


def is_region(hint: np.ndarray) -> bool:
    """A region (a box, an editor's selection): no FOREGROUND anywhere, so nothing is certain
    but the background; inside it the model decides."""
    return not (np.asarray(hint) == FOREGROUND).any() and not np.asarray(hint).dtype == bool


def from_hint(hint: np.ndarray) -> np.ndarray:
    """Trimap from a user's hint: a trimap as it is; a rough mask (any other values) becomes
    certain away from its edge and unknown within HINT_BAND of the image's long side of it."""
    if is_trimap(hint):
        return hint.astype(np.uint8)
    radius = max(HINT_BAND_MIN, int(round(HINT_BAND * max(hint.shape))))
    inside = hint >= 128
    fg = morphology.erode(inside, radius)
    bg = morphology.erode(~inside, radius)
    trimap = np.full(hint.shape, UNKNOWN, np.uint8)
    trimap[fg] = FOREGROUND
    trimap[bg] = BACKGROUND
    return trimap


def checked_hint(hint: np.ndarray | None, height: int, width: int) -> np.ndarray | None:
    """The hint as H×W uint8 (a bool mask becomes 0/255), or ValueError saying what is wrong."""
    if hint is None:
        return None
    if np.shape(hint) != (height, width):
        raise ValueError(f"the hint must be {height}×{width} like the image, got {np.shape(hint)}")
    hint = np.asarray(hint)
    if hint.dtype == bool:
        return hint.astype(np.uint8) * np.uint8(FOREGROUND)
    if hint.dtype != np.uint8:
        raise ValueError(f"the hint must be uint8 (0/128/255 trimap or 0..255 mask) or bool, not {hint.dtype}")
    return hint
