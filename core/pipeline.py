"""remove(image, options) -> Result: the whole engine, top to bottom, in one function."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import fetch, foreground, licences, refine, segment, temporal
from .catalog import ModelEntry, load_catalog
from .errors import CleancutError
from .options import Options

Progress = Callable[[float, str], None]


class Cancelled(CleancutError):
    """The run was cancelled by the user; nothing was produced."""


class CancelToken:
    """Set from another thread to stop a run: between stages, and inside onnxruntime's run."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._run_options = None

    def run_options(self):
        import onnxruntime as ort

        if self._run_options is None:
            self._run_options = ort.RunOptions()
            self._run_options.terminate = self._event.is_set()
        return self._run_options

    def cancel(self) -> None:
        self._event.set()
        if self._run_options is not None:
            self._run_options.terminate = True

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled; nothing was changed")


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


def _quiet(fraction: float, stage: str) -> None:
    pass


def remove(rgb: np.ndarray, options: Options = Options(), *, hint: np.ndarray | None = None,
           progress: Progress = _quiet, cancel: CancelToken | None = None,
           stream: temporal.StreamState | None = None) -> Result:
    """Alpha for an H×W×3 uint8 RGB image: licence gate, verified model, segment, refine, colours.

    ``hint`` is an optional H×W uint8 trimap (0 / 128 / 255) or rough mask; a hint with no 255
    at all is a region (an editor's selection): background outside, the model decides inside.
    ``progress(fraction, stage)`` is called as stages finish; ``cancel`` stops the run.
    ``stream`` is the state of a video stream this frame belongs to (None for a still image).
    """
    cancel = cancel or CancelToken()
    timings: dict[str, float] = {}

    start = time.perf_counter()
    progress(0.0, "model")
    entry = resolve_model(options)
    path = fetch.ensure(entry, offline=options.offline)
    timings["model"] = time.perf_counter() - start
    cancel.check()

    start = time.perf_counter()
    progress(0.1, "segment")
    try:
        prob = segment.predict(rgb, entry, path, options.provider, options.threads,
                               run_options=cancel.run_options(), state=stream)
    except CleancutError:
        cancel.check()
        raise
    timings["segment"] = time.perf_counter() - start
    cancel.check()

    start = time.perf_counter()
    progress(0.6, "refine")
    try:
        if hint is not None and hint.shape == rgb.shape[:2] and not (hint == 255).any():
            # A region (an editor's selection): outside is background, inside the model decides.
            alpha = refine.refine_alpha(rgb, prob, options.refine)
            alpha[hint == 0] = 0.0
        else:
            alpha = refine.refine_alpha(rgb, prob, options.refine, hint=hint)
    except ValueError as err:  # a hint that does not fit the image
        raise CleancutError(str(err)) from None
    if stream is not None:
        if entry.family != "rvm":
            alpha = temporal.smooth(alpha, stream.previous_alpha, options.temporal_smoothing)
        stream.previous_alpha = alpha
        stream.frames += 1
    timings["refine"] = time.perf_counter() - start
    cancel.check()

    colours = None
    if options.foreground:
        start = time.perf_counter()
        progress(0.85, "foreground")
        colours = foreground.estimate_foreground(rgb, alpha)
        timings["foreground"] = time.perf_counter() - start
        cancel.check()
    progress(1.0, "done")
    return Result(alpha=alpha, foreground=colours, model=entry, timings=timings)
