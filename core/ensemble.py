"""How a preset's models share one photo: one draws the outline, the others may only help it.

A preset (models/catalog.toml) lists its models; the first is the *outline* model: it alone
decides where the subject is. The others have one of two roles:
- *support* (a salient-object model): its unsure band widens the outline model's unknown band
  where the two agree nearby, and its probability joins the prior only where it agrees with
  the outline about which side of 0.5 a pixel is on. A support model that picked another
  object therefore changes nothing: this is what keeps a preset from losing to its own best
  member (the old average let u2netp's wrong object pull IS-Net's prior and widen the band
  around it: ECSSD frames where IS-Net alone scores 0.81 fell to 0.41).
- *edges* (a soft-edge matting model, ``edges = [...]`` in the preset, e.g. MODNet): it gives
  the prior inside the outline's unknown band only, widened where it is unsure near that band
  (hair, fur); it never moves the outline.

Plain functions over working-size float planes; refine.refine_alpha calls them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .catalog import ModelEntry, Preset

# A supporting or edge model's unsure band counts within this fraction of the long side of the
# outline model's own unknown band.
NEAR = 0.0125
# Whether refine's keep_outline holds an ensemble's alpha to the outline model's side of 0.5
# whatever the refine mode (one model: as the mode says; see refine.keep_outline).
KEEP_OUTLINE = True
# Weight of the edge models' mean in the prior inside the unknown band (the rest: the outline's
# and its agreeing supporters' mean).
EDGE_WEIGHT = 1.0


def roles(entries: Sequence[ModelEntry], preset: Preset | None) -> tuple[str, ...]:
    """Each model's role in this run: "outline" (the first), then "edges" or "support"."""
    edge_ids = set(preset.edges) if preset is not None else set()
    return ("outline",) + tuple("edges" if e.id in edge_ids else "support" for e in entries[1:])


def split(probs: Sequence[np.ndarray], role_names: Sequence[str]) -> dict[str, tuple[np.ndarray, ...]]:
    """The keyword arguments refine.refine_alpha takes for the models after the outline one."""
    return {"support": tuple(p for p, r in zip(probs, role_names) if r == "support"),
            "edges": tuple(p for p, r in zip(probs, role_names) if r == "edges")}


def _widen(trimap: np.ndarray, bands: list[np.ndarray], near: int) -> np.ndarray:
    """``trimap`` made unknown where any of ``bands`` is, within ``near`` pixels of its own band."""
    from scipy import ndimage

    from .refine import UNKNOWN, unknown

    own = unknown(trimap)
    if not own.any() or not bands:
        return trimap
    close = ndimage.binary_dilation(own, iterations=max(1, near))
    widened = trimap.copy()
    for band in bands:
        widened[band & close] = UNKNOWN
    return widened


def trimap(soft: np.ndarray, scale: float, support: list[tuple[np.ndarray, float]],
           edges: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """The outline model's trimap (refine.trimap_from_prob), widened by the other models' unsure
    bands near its own: a supporter's only where it agrees with the outline model's side of 0.5
    there, an edge model's anywhere near."""
    from .refine import trimap_from_prob, unknown

    outline = trimap_from_prob(soft, scale)
    inside = soft >= 0.5
    bands = []
    for other, other_scale in support:
        bands.append(unknown(trimap_from_prob(other, other_scale)) & ((other >= 0.5) == inside))
    for other, other_scale in edges:
        bands.append(unknown(trimap_from_prob(other, other_scale)))
    near = int(round(NEAR * max(soft.shape)))
    return _widen(outline, bands, near)


def prior(soft: np.ndarray, support: list[np.ndarray], edges: list[np.ndarray], trimap: np.ndarray) -> np.ndarray:
    """The probability the matting starts from: the outline model's, averaged with each
    supporter where it agrees with the outline about the side of 0.5; inside the unknown band,
    the edge models' mean (EDGE_WEIGHT of it)."""
    from .refine import unknown

    if not support and not edges:
        return soft
    total = soft.copy()
    inside = soft >= 0.5
    for other in support:
        total += np.where((other >= 0.5) == inside, other, soft)
    total /= np.float32(1 + len(support))
    if edges:
        band = unknown(trimap)
        edge = sum(edges) / np.float32(len(edges))
        total[band] = EDGE_WEIGHT * edge[band] + (1.0 - EDGE_WEIGHT) * total[band]
    return total


def keeps_outline(mode_keeps: bool, support: Sequence[np.ndarray], edges: Sequence[np.ndarray]) -> bool:
    """Whether refine holds the alpha to the outline model's side of 0.5: as the refine mode
    says for one model; always (KEEP_OUTLINE) for an ensemble, whose other models must not
    move the outline."""
    return (KEEP_OUTLINE and bool(support or edges)) or mode_keeps
