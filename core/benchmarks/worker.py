"""Inside cleancut's bench worker process: the engine itself over one job's images.

``python -m cleancut.benchmarks.worker JOB.json`` (started by runner.run_spec). Every image goes
through ``pipeline.remove`` with a ``pipeline.Plan`` built here for ``--weights`` and
``--tta flip``, so the bench measures what users run. Hinted runs pass the dataset's own trimaps
(alphamatting trimap2, grabcut lasso) as the hint; box runs (``--prompt box``) pass a box
prompt, a region (0 outside, 128 inside, see prompts.py) over the bounds of the grabcut lasso's
non-background pixels, of the ecssd mask (gt >= 128) or of the alphamatting alpha's non-zero
pixels; click runs (``--prompt clicks``) put each image through the click protocol
(clicking.py), keep its scores and write the alpha after the first click.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from .. import licences, pipeline, prompts, segment
from ..catalog import Preset, load_catalog
from ..options import Options
from . import clicking
from .runner import RunSpec
from .samples import read_grey, read_rgb


def bench_plan(model: str, refine: str, tta: str = "", weights: Path | None = None) -> pipeline.Plan:
    """The engine's Plan for one run: the licence gate on every model the id stands for (a
    preset's too), their files (verified from the cache, or WEIGHTS/MODEL.onnx with --weights),
    and with --tta flip every one of them also run on the mirrored image."""
    options = Options(model=model, refine=refine, foreground=True)
    if weights is None:
        plan = pipeline.prepare(options, bar=False)
    else:
        entries, preset = load_catalog().resolve(model)
        for entry in entries:
            licences.check(entry)  # main checked already; a job file must not be a way around it
        plan = pipeline.Plan(entries=tuple(entries), preset=preset,
                             paths=tuple(weights / f"{entry.id}.onnx" for entry in entries),
                             refine=options.refine_for(preset.refine if preset is not None else None))
    if "flip" in tta.split("+"):
        ids = tuple(entry.id for entry in plan.entries)
        mirrored = (replace(plan.preset, flip=ids) if plan.preset is not None
                    else Preset(id=model, name=plan.entries[0].name, models=ids, flip=ids, refine=None))
        plan = replace(plan, preset=mirrored)
    return plan


def run_job(job: dict) -> None:
    """cleancut over the job's samples, through pipeline.remove; writes the alphas and timings."""
    threads = job["threads"]
    spec = RunSpec(**job["spec"])
    options = Options(model=spec.model, refine=spec.refine, threads=threads, foreground=True)
    t0 = time.perf_counter()
    plan = bench_plan(spec.model, spec.refine, spec.tta, _path_or_none(job["weights"]))
    for entry, path in zip(plan.entries, plan.paths):
        segment.get_session(entry, path, options.provider, threads)  # model load, not the first image
    load = time.perf_counter() - t0
    times, cpu, stages, clicks = {}, {}, {}, {}
    for i, s in enumerate(job["samples"]):
        rgb = read_rgb(Path(s["image"]))
        if spec.prompt == "clicks":
            clicks[s["key"]], result, times[s["key"]], cpu[s["key"]] = _clicks(rgb, s, options, plan)
            stages[s["key"]] = dict(result.timings)
            _save_alpha(Path(s["alpha_out"]), result.alpha)
            if i < job["composites"]:
                np.save(s["fg_out"], result.foreground if result.foreground is not None else rgb)
            continue
        hint = _read_hint_file(s) if spec.hinted else box_hint_for(s) if spec.prompt == "box" else None
        start = time.perf_counter()
        cpu_start = time.process_time()
        result = pipeline.remove(rgb, options, hint=hint, plan=plan)
        times[s["key"]] = time.perf_counter() - start
        cpu[s["key"]] = time.process_time() - cpu_start
        stages[s["key"]] = dict(result.timings)
        _save_alpha(Path(s["alpha_out"]), result.alpha)
        if i < job["composites"]:
            np.save(s["fg_out"], result.foreground if result.foreground is not None else rgb)
    with open(job["result"], "w") as fh:
        json.dump({"times": times, "cpu": cpu, "stages": stages, "load_s": load, "peak_rss_mib": _peak_rss_mib(),
                   "path": "pipeline", "clicks": clicks}, fh)


def _clicks(rgb: np.ndarray, s: dict, options: Options, plan: pipeline.Plan):
    """One image through the click protocol (clicking.py): its IoU with no click and after
    each click, the result after the first click, and the mean wall and CPU time of a click."""
    subject, counted = clicking.truth(read_grey(Path(s["truth"])))
    no_click = clicking.iou(pipeline.remove(rgb, options, plan=plan).alpha, subject, counted)
    results, wall, cpu = [], [], []

    def answer(points: prompts.Clicks) -> np.ndarray:
        start, cpu_start = time.perf_counter(), time.process_time()
        results.append(pipeline.remove(rgb, options, plan=plan, clicks=points))
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        if len(results) > 1:
            del results[1:-1]  # the first answer is kept for the alpha file, the last for the next click
        return results[-1].alpha

    scores = clicking.run(answer, subject, counted)
    first = results[0] if results else pipeline.remove(rgb, options, plan=plan)
    return ({"no_click": no_click, "clicks": scores}, first,
            sum(wall) / max(1, len(wall)), sum(cpu) / max(1, len(cpu)))


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _save_alpha(path: Path, alpha: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if alpha.dtype == np.uint8:
        Image.fromarray(alpha).save(path)
    else:
        Image.fromarray((np.clip(alpha, 0, 1) * 65535 + 0.5).astype(np.uint16)).save(path)


def _path_or_none(value) -> Path | None:
    return None if value is None else Path(value)


def _read_hint_file(s: dict) -> np.ndarray | None:
    if not s.get("hint"):
        return None
    hint = read_grey(Path(s["hint"]))
    if s["dataset"] == "grabcut":  # lasso: 0 and 64 background, 128 unknown, 255 foreground
        hint = np.where(hint == 64, 0, hint).astype(np.uint8)
    return hint


def box_prompt(dataset: str, marks: np.ndarray) -> np.ndarray | None:
    """The box prompt of one sample as a region hint (prompts.box_region: 0 outside, 128 inside)
    over the bounds of what ``marks`` marks: a grabcut lasso (64 already 0) its non-background
    pixels, an ecssd mask gt >= 128, an alphamatting alpha its non-zero pixels. None when it
    marks nothing."""
    if dataset == "grabcut":
        marked = marks != 0
    elif dataset == "ecssd":
        marked = marks >= 128
    else:
        marked = marks > 0
    box = prompts.bounds(marked)
    if box is None:
        return None
    top, bottom, left, right = box
    return prompts.box_region(marks.shape, (left, top, right - left, bottom - top))


def box_hint_for(s: dict) -> np.ndarray | None:
    """A job row's box prompt: from the grabcut lasso, else from the ground truth."""
    marks = _read_hint_file(s) if s["dataset"] == "grabcut" else read_grey(Path(s["truth"]))
    return None if marks is None else box_prompt(s["dataset"], marks)


def main(argv: list[str]) -> int:
    """Run the job file ``argv[0]``."""
    run_job(json.loads(Path(argv[0]).read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
