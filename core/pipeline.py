"""remove(image, options) -> Result: the whole engine, top to bottom, in one function."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import fetch, licences, segment
from .catalog import ModelEntry, load_catalog
from .options import Options


@dataclass
class Result:
    """What the engine gives back: a full-resolution alpha, and where to find what made it."""

    alpha: np.ndarray  # H×W float32, 0..1
    foreground: np.ndarray | None  # H×W×3 uint8 decontaminated colours, when computed
    model: ModelEntry
    timings: dict[str, float] = field(default_factory=dict)


def resolve_model(options: Options) -> ModelEntry:
    """The catalog entry these options ask for, after the licence gate let it through."""
    catalog = load_catalog()
    entry = catalog.get(options.model or catalog.default)
    licences.check(entry)
    return entry


def remove(rgb: np.ndarray, options: Options = Options()) -> Result:
    """Alpha for an H×W×3 uint8 RGB image: licence gate, verified model, segment, refine."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    entry = resolve_model(options)
    path = fetch.ensure(entry, offline=options.offline)
    timings["model"] = time.perf_counter() - start

    start = time.perf_counter()
    prob = segment.predict(rgb, entry, path, options.provider, options.threads)
    timings["segment"] = time.perf_counter() - start

    start = time.perf_counter()
    height, width = rgb.shape[:2]
    alpha = segment.upsample(prob, width, height)
    timings["refine"] = time.perf_counter() - start
    return Result(alpha=alpha, foreground=None, model=entry, timings=timings)
