"""How a preset's models share one photo: the salient models vote on the outline together, a
soft-edge model only fills in the edge band.

A preset (models/catalog.toml) lists its models. Two roles:
- *outline* models (the first, and every other model not named in ``edges``): their
  probabilities are averaged, and the ensemble's outline is the guided filter of that average
  (refine.keep_outline holds the alpha on its side of 0.5 in every refine mode). The first
  model's trimap is the base; the others' unsure bands widen it where they lie near it.
- *edges* models (``edges = [...]`` in the preset: soft-edge matting like MODNet, which looks
  for people and must never decide an outline on other subjects): their unsure bands widen the
  trimap near its own band too, and inside the unknown band their mean is the prior the matting
  starts from. They never move the outline: it is taken before they contribute.

Why averaging rather than letting the first model decide alone (cleancut bench on all three
shared sets, docs/benchmarks/2026-12-01-quality-presets-prompts.md): IS-Net and u2netp averaged beat each of them on GrabCut and
ECSSD IoU (0.897 and 0.905 against IS-Net's 0.886 and 0.886), and the old `quality` preset's
loss on ECSSD (0.873) came from closed-form matting carving past that averaged outline in a
band widened around u2netp's other object, which holding the outline now prevents. Taking a
supporter only where it agreed with the first model's side of 0.5 was measured and lost SAD
(41.6 against 38.1, IS-Net + u2netp, best) for the same IoU as IS-Net alone.

Plain functions over working-size float planes; refine.refine_alpha calls them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from . import morphology, trimaps
from .catalog import ModelEntry, Preset

# Another model's unsure band counts within this fraction of the long side of the first
# model's own unknown band.
NEAR = 0.0125


def roles(entries: Sequence[ModelEntry], preset: Preset | None) -> tuple[str, ...]:
    """Each model's role in this run: "outline" (the first), then "edges" or "support"."""
    edge_ids = set(preset.edges) if preset is not None else set()
    return ("outline",) + tuple("edges" if e.id in edge_ids else "support" for e in entries[1:])


def split(probs: Sequence[np.ndarray], role_names: Sequence[str]) -> dict[str, tuple[np.ndarray, ...]]:
    """The keyword arguments refine.refine_alpha takes for the models after the first one."""
    return {"support": tuple(p for p, r in zip(probs, role_names) if r == "support"),
            "edges": tuple(p for p, r in zip(probs, role_names) if r == "edges")}


def trimap(soft: np.ndarray, scale: float, others: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """The first model's trimap (trimaps.from_probability), made unknown where any other model
    (probability, working pixels per model pixel) is unsure within NEAR of its own band: hair and
    fur that one model is unsure of while another draws a sharp line."""
    base = trimaps.from_probability(soft, scale)
    own = trimaps.unknown(base)
    if not own.any() or not others:
        return base
    close = morphology.dilate(own, max(1, int(round(NEAR * max(soft.shape)))))
    widened = base.copy()
    for other, other_scale in others:
        widened[trimaps.unknown(trimaps.from_probability(other, other_scale)) & close] = trimaps.UNKNOWN
    return widened


def outline_prior(soft: np.ndarray, support: list[np.ndarray]) -> np.ndarray:
    """The outline models' mean probability: what the ensemble's outline is drawn from."""
    if not support:
        return soft
    return (soft + sum(support)) / np.float32(1 + len(support))


def prior(outline: np.ndarray, edges: list[np.ndarray], band: np.ndarray) -> np.ndarray:
    """The probability the matting starts from: the outline models' mean, and inside the
    unknown ``band`` the edge models' mean."""
    if not edges:
        return outline
    out = outline.copy()
    out[band] = (sum(edges) / np.float32(len(edges)))[band]
    return out
