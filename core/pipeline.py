"""remove(image, options) -> Result: the whole engine, top to bottom, in one function."""

from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import ensemble, fetch, foreground, licences, matting, pointing, prompts, refine, segment, temporal, transfer, trimaps
from .catalog import ModelEntry, Preset, load_catalog
from .errors import Cancelled, CleancutError
from .options import Options

# progress(fraction, stage), or progress(fraction, stage, download) for a callable that takes a
# third argument: during a model download (stage "download") it gets the transfer.Download.
Progress = Callable[..., None]


class CancelToken:
    """Set from another thread to stop a run: between stages, and inside onnxruntime's run."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._run_options = None

    def run_options(self):
        if self._run_options is None:
            self._run_options = segment.run_options()
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
    model: ModelEntry  # the model that drew the outline (the only one, unless a preset)
    timings: dict[str, float] = field(default_factory=dict)
    models: tuple[ModelEntry, ...] = ()  # every model that took part
    preset: Preset | None = None


def resolve_models(options: Options) -> tuple[list[ModelEntry], Preset | None]:
    """The catalog entries these options ask for (one model, or a preset's), after the licence
    gate let every one of them through."""
    catalog = load_catalog()
    entries, preset = catalog.resolve(options.model or catalog.default)
    for entry in entries:
        licences.check(entry)
    return entries, preset


@dataclass(frozen=True)
class Plan:
    """What a run settles before it looks at pixels: the models that passed the licence gate,
    their verified files and the refine mode. A batch prepares it once and reuses it for every
    file, so the catalog, the settings file and the models are read once per command."""

    entries: tuple[ModelEntry, ...]
    preset: Preset | None
    paths: tuple[Path, ...]
    refine: str


def _quiet(fraction: float, stage: str) -> None:
    pass


def _downloads(progress: Progress, index: int, count: int) -> transfer.Report:
    """A model's download bytes as progress: stage "download", within the first tenth of the run
    (model ``index`` of ``count``). The Download itself goes along to a callable that takes a
    third argument; a two-argument one (written before downloads were reported) still works."""
    try:
        inspect.signature(progress).bind(0.0, "download", None)
        detailed = True
    except (TypeError, ValueError):
        detailed = False

    def report(download: transfer.Download) -> None:
        fraction = 0.1 * (index + download.fraction) / count
        if detailed:
            progress(fraction, "download", download)
        else:
            progress(fraction, "download")

    return report


def prepare(options: Options, progress: Progress = _quiet, cancel: CancelToken | None = None,
            bar: bool = True) -> Plan:
    """The licence gate, then every model fetched (if allowed) and verified. A download is
    reported as progress stage "download"; ``cancel`` stops it; ``bar`` False keeps the
    download's bar off stderr (it only shows on a terminal anyway)."""
    cancel = cancel or CancelToken()
    entries, preset = resolve_models(options)
    paths = tuple(fetch.ensure(entry, offline=options.offline, progress=bar,
                               report=_downloads(progress, index, len(entries)), cancelled=lambda: cancel.cancelled)
                  for index, entry in enumerate(entries))
    return Plan(entries=tuple(entries), preset=preset, paths=paths, refine=options.refine_for(preset.refine if preset is not None else None))


def remove(rgb: np.ndarray, options: Options = Options(), *, hint: np.ndarray | None = None,
           progress: Progress = _quiet, cancel: CancelToken | None = None,
           stream: temporal.StreamState | None = None, plan: Plan | None = None,
           clicks: prompts.Clicks | None = None) -> Result:
    """Alpha for an H×W×3 uint8 RGB image: licence gate, verified model, segment, refine, colours.

    ``hint`` is an optional H×W uint8 trimap (0 / 128 / 255) or rough mask; a hint with no 255
    at all is a region (a box, an editor's selection): background outside, the model decides
    inside. When a hint leaves much of the frame out as background, the models also run on a
    crop around the rest (prompts.crop_for, prompts.with_context) and the alpha is pasted back.
    ``clicks`` are include / exclude points (pixels of ``rgb``, checked by the caller): the models
    also look at a crop around what the include points touch, and the subject they point at
    becomes the hint (pointing.py); with a box, inside the box.
    ``progress(fraction, stage)`` is called as stages finish, and as a model downloads (see
    Progress); ``cancel`` stops the run, a download too.
    ``stream`` is the state of a video stream this frame belongs to (None for a still image).
    ``plan`` is ``prepare(options)`` done earlier (a batch's files share one); None prepares here.
    """
    cancel = cancel or CancelToken()
    timings: dict[str, float] = {}

    start = time.perf_counter()
    progress(0.0, "model")
    plan = plan or prepare(options, progress, cancel)
    entries, preset = plan.entries, plan.preset
    timings["model"] = time.perf_counter() - start
    cancel.check()

    crop = prompts.crop_for(hint) if hint is not None and hint.shape == rgb.shape[:2] else None
    start = time.perf_counter()
    progress(0.1, "segment")
    probs = _probabilities(rgb, plan, options, cancel, stream)
    if crop is None and clicks:
        crop = pointing.zoom(_outline(probs, plan), clicks, rgb.shape)
    if crop is not None:
        # A box or region that leaves much of the frame out: the models also see the crop.
        probs = [prompts.with_context(on_crop, on_frame, crop, rgb.shape) for on_crop, on_frame
                 in zip(_probabilities(np.ascontiguousarray(rgb[crop]), plan, options, cancel, None), probs)]
    timings["segment"] = time.perf_counter() - start
    start = time.perf_counter()
    progress(0.6, "refine")
    part = (slice(0, rgb.shape[0]), slice(0, rgb.shape[1])) if crop is None else crop
    part_rgb = np.ascontiguousarray(rgb[part])
    part_hint = hint if hint is None or hint.shape != rgb.shape[:2] else np.ascontiguousarray(hint[part])
    box = part_hint if part_hint is not None and trimaps.is_region(part_hint) else None
    if clicks:
        # The subject the clicks point at becomes the hint (a rough mask); a box still bounds it.
        outline, moved = _outline(probs, plan), _moved(clicks, part)
        looks = [(square, _outline(_probabilities(np.ascontiguousarray(part_rgb[square]), plan, options, cancel, None), plan))
                 for square in pointing.squares(outline, moved, part_rgb.shape)]
        subject = pointing.select(part_rgb, outline, moved, looks)
        part_hint = pointing.trimap(subject, moved)
        # Every outline model now gives the subject's probability; edge models keep their own.
        subject_prob = pointing.held(outline, subject)
        probs = [p if role == "edges" else subject_prob
                 for p, role in zip(probs, ensemble.roles(plan.entries, plan.preset))]
    if clicks and not (part_hint == trimaps.UNKNOWN).any():  # a photo a few pixels small: nothing unsure
        part_alpha = (part_hint == trimaps.FOREGROUND).astype(np.float32)
    else:
        part_alpha = _refine(part_rgb, part_hint, probs, plan)
    if box is not None:
        part_alpha[box == trimaps.BACKGROUND] = 0.0
    if crop is None:
        alpha = part_alpha
    else:
        alpha = np.zeros(rgb.shape[:2], np.float32)
        alpha[crop] = part_alpha
    timings["refine"] = time.perf_counter() - start
    if stream is not None:
        if entries[0].family != "rvm":  # kept even while smoothing is off: a stream may turn it on
            now = temporal.grey(rgb)
            if options.temporal_smoothing > 0:
                previous = temporal.follow(stream.previous_alpha, stream.previous_grey, now)
                alpha = temporal.smooth(alpha, previous, options.temporal_smoothing)
            stream.previous_grey = now
        stream.previous_alpha = alpha
        stream.frames += 1
    cancel.check()

    colours = None
    if options.foreground:
        start = time.perf_counter()
        progress(0.85, "foreground")
        if crop is None:
            colours = foreground.estimate_foreground(rgb, alpha)
        else:  # nothing outside the crop is foreground: its colours stay the photo's
            colours = rgb.copy()
            colours[crop] = foreground.estimate_foreground(np.ascontiguousarray(rgb[crop]), alpha[crop])
        timings["foreground"] = time.perf_counter() - start
        cancel.check()
    progress(1.0, "done")
    return Result(alpha=alpha, foreground=colours, model=entries[0], timings=timings,
                  models=entries, preset=preset)


def _probabilities(rgb: np.ndarray, plan: Plan, options: Options, cancel: CancelToken,
                   stream: temporal.StreamState | None) -> list[np.ndarray]:
    """Every model of the plan on ``rgb``: each one's foreground probability at its own size."""
    probs = []
    try:
        for entry, path in zip(plan.entries, plan.paths):
            probs.append(segment.predict(rgb, entry, path, options.provider, options.threads,
                                         run_options=cancel.run_options(), state=stream,
                                         flip=plan.preset is not None and entry.id in plan.preset.flip))
            cancel.check()
    except CleancutError:
        cancel.check()
        raise
    return probs


def _outline(probs: list[np.ndarray], plan: Plan) -> np.ndarray:
    """The outline models' mean probability (see ensemble.py), at the first model's size."""
    support = ensemble.split(probs, ensemble.roles(plan.entries, plan.preset))["support"]
    height, width = probs[0].shape[:2]
    return ensemble.outline_prior(np.asarray(probs[0], np.float32),
                                  [matting.resize(np.asarray(p, np.float32), height, width) for p in support])


def _moved(clicks: prompts.Clicks, part: tuple[slice, slice]) -> prompts.Clicks:
    """Clicks in the pixels of the ``part`` of the image; points outside it are left out."""
    rows, cols = part

    def inside(points: tuple[prompts.Point, ...]) -> tuple[prompts.Point, ...]:
        return tuple((x - cols.start, y - rows.start) for x, y in points
                     if cols.start <= x < cols.stop and rows.start <= y < rows.stop)

    return prompts.Clicks(include=inside(clicks.include), exclude=inside(clicks.exclude))


def _refine(rgb: np.ndarray, hint: np.ndarray | None, probs: list[np.ndarray], plan: Plan) -> np.ndarray:
    """One alpha from the models' answers (by role, see ensemble.py) and the hint."""
    parts = ensemble.split(probs, ensemble.roles(plan.entries, plan.preset))
    try:
        if hint is not None and hint.shape == rgb.shape[:2] and trimaps.is_region(hint):
            # A region (an editor's selection, a box): outside is background, inside the model decides.
            alpha = refine.refine_alpha(rgb, probs[0], plan.refine, **parts)
            alpha[hint == trimaps.BACKGROUND] = 0.0
            return alpha
        return refine.refine_alpha(rgb, probs[0], plan.refine, hint=hint, **parts)
    except ValueError as err:  # a hint that does not fit the image
        raise CleancutError(str(err)) from None
