"""`cleancut bench`: cleancut and rembg side by side on the evaluation sets.

A command, not a timed test. For every tool and setting it runs one worker process (so wall
time and peak RSS are honest and each tool gets the same interpreter state), which writes one
alpha PNG per image plus its timings; then this process scores the alphas against the ground
truth and writes ``results.json`` and ``results.md`` (plus flat green and white composites for a
visual check of colour decontamination).

Datasets (folders under --data as in shared/eval: manifest.csv, or only image/ and alpha/
folders whose files pair by name):
- alphamatting: soft ground truth. SAD/1000 (sum of |alpha - gt| over the region, / 1000),
  MSE x1e3, gradient error (sum of squared differences of the Gaussian-gradient magnitude,
  sigma 1.4, / 1000) and connectivity error (Rhemann et al. 2009, step 0.1, theta 0.15, / 1000),
  over the whole image and inside the unknown band of the fine trimap; mean and median.
- grabcut: binary ground truth. IoU of alpha >= 0.5 and MAE, leaving out ground-truth pixels
  equal to 128 (GrabCut's own rule); rows tagged "ambiguous:" are also reported apart.
- ecssd: binary ground truth (120 varied scenes: animals, vehicles, people, clutter), scored
  like grabcut; it has no user hints, so hinted runs leave it out.

Hinted runs (``--hints``) pass the dataset's own trimaps (alphamatting trimap2, grabcut lasso)
as the hint. Box runs (``--prompt box``) pass a box prompt as the hint, a region (0 outside,
128 inside, see prompts.py) over the bounds of the grabcut lasso's non-background pixels, of the
ecssd mask (gt >= 128) or of the alphamatting alpha's non-zero pixels; they score every set.

Every cleancut run goes through the engine itself (``pipeline.remove``, with a ``pipeline.Plan``
built here for ``--weights`` and ``--tta flip``), so the bench measures what users run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import licences, prompts
from .options import Options

ENV_DATA = "CLEANCUT_EVAL"
ENV_WEIGHTS = "CLEANCUT_BENCH_WEIGHTS"
DATASETS = ("alphamatting", "grabcut", "ecssd")
REFINE_CHOICES = ("off", "fast", "best")
TTA_CHOICES = ("flip",)
PROMPT_CHOICES = ("box",)


# --------------------------------------------------------------------------- data

@dataclass(frozen=True)
class Sample:
    dataset: str
    name: str
    image: Path
    alpha: Path
    hint: Path | None  # the dataset's own user trimap (alphamatting trimap2, grabcut lasso)
    band: Path | None  # trimap whose 128 pixels are the "unknown band" region for scoring
    ambiguous: bool


def default_data_dir() -> Path:
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "eval"


def _paired_files(root: Path, dataset: str, limit: int | None) -> list[Sample]:
    """A set without a manifest (ecssd): image/NAME.* with its ground truth alpha/NAME.*."""
    truths = {path.stem: path for path in (root / "alpha").iterdir() if path.is_file()}
    pairs = sorted((path.stem, path, truths[path.stem]) for path in (root / "image").iterdir()
                   if path.is_file() and path.stem in truths)
    return [Sample(dataset, name, image, alpha, None, None, False) for name, image, alpha in pairs[:limit]]


def load_samples(data: Path, datasets=DATASETS, limit: int | None = None) -> list[Sample]:
    samples: list[Sample] = []
    for ds in datasets:
        manifest = data / ds / "manifest.csv"
        if not manifest.exists():
            if (data / ds / "image").is_dir() and (data / ds / "alpha").is_dir():
                samples += _paired_files(data / ds, ds, limit)
            continue
        with open(manifest, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if limit:
            rows = rows[:limit]
        for row in rows:
            root = data / ds
            if ds == "alphamatting":
                hint, band = root / row["trimap2"], root / row["trimap"]
            else:
                hint, band = root / row["lasso"], None
            samples.append(Sample(ds, row["name"], root / row["image"], root / row["alpha"],
                                  hint, band, "ambiguous:" in row.get("tags", "")))
    return samples


def screen_samples(samples: list[Sample]) -> tuple[list[Sample], list[tuple[Sample, str]]]:
    """The samples a bench can score, and the others with why: an image whose ground truth,
    hint or band is missing, unreadable or of another size fails alone, before any run, rather
    than stopping the whole bench half-way."""
    usable: list[Sample] = []
    refused: list[tuple[Sample, str]] = []
    for sample in samples:
        why = _sample_problem(sample)
        if why is None:
            usable.append(sample)
        else:
            refused.append((sample, why))
    return usable, refused


def _sample_problem(sample: Sample) -> str | None:
    sizes = {}
    for role, path in (("image", sample.image), ("ground truth", sample.alpha),
                       ("hint", sample.hint), ("band", sample.band)):
        if path is None:
            continue
        try:
            with Image.open(path) as im:
                sizes[role] = im.size
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            return f"its {role} {path} cannot be read ({err})"
    width, height = sizes.pop("image")
    for role, (w, h) in sizes.items():
        if (w, h) != (width, height):
            return f"its {role} is {w}x{h} but the image is {width}x{height}"
    return None


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def read_grey(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        if im.mode in ("RGB", "RGBA", "P"):
            return np.asarray(im.convert("RGB"))[..., 0].copy()
        return np.asarray(im.convert("L"))


def read_hint(sample: Sample) -> np.ndarray | None:
    if sample.hint is None:
        return None
    hint = read_grey(sample.hint)
    if sample.dataset == "grabcut":  # lasso: 0 and 64 background, 128 unknown, 255 foreground
        hint = np.where(hint == 64, 0, hint).astype(np.uint8)
    return hint


# --------------------------------------------------------------------------- metrics

def _gauss_gradient(alpha: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_gradient_magnitude(alpha.astype(np.float64), sigma)


def _connectivity_map(alpha: np.ndarray, gt: np.ndarray, step: float = 0.1) -> np.ndarray:
    from scipy import ndimage

    level = np.full(alpha.shape, -1.0)
    for t in np.arange(step, 1.0 + 1e-9, step):
        both = (alpha >= t) & (gt >= t)
        labels, count = ndimage.label(both)  # 4-connectivity
        if count == 0:
            omega = np.zeros_like(both)
        else:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            omega = labels == int(np.argmax(sizes))
        flag = (level == -1) & ~omega
        level[flag] = t - step
    level[level == -1] = 1.0
    return level


def matting_errors(alpha: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None) -> dict:
    """SAD/1000, MSE x1e3, gradient /1000 and connectivity /1000 of alpha against soft gt."""
    alpha = alpha.astype(np.float64)
    gt = gt.astype(np.float64)
    region = np.ones(alpha.shape, bool) if region is None else region
    n = max(int(region.sum()), 1)
    diff = alpha - gt
    grad = (_gauss_gradient(alpha) - _gauss_gradient(gt)) ** 2
    level = _connectivity_map(alpha, gt)
    d_a, d_g = alpha - level, gt - level
    phi_a = 1 - d_a * (d_a >= 0.15)
    phi_g = 1 - d_g * (d_g >= 0.15)
    return {
        "sad": float(np.abs(diff)[region].sum() / 1000),
        "mse": float((diff ** 2)[region].sum() / n * 1000),
        "grad": float(grad[region].sum() / 1000),
        "conn": float(np.abs(phi_a - phi_g)[region].sum() / 1000),
    }


def segmentation_errors(alpha: np.ndarray, gt: np.ndarray) -> dict:
    """IoU of alpha >= 0.5 and MAE against a binary gt, leaving out gt pixels equal to 128."""
    valid = gt != 128
    truth = gt[valid] >= 128
    pred = alpha[valid] >= 0.5
    union = int((truth | pred).sum())
    iou = 1.0 if union == 0 else float((truth & pred).sum() / union)
    mae = float(np.abs(alpha[valid].astype(np.float64) - truth).mean()) if truth.size else 0.0
    return {"iou": iou, "mae": mae}


# --------------------------------------------------------------------------- runs

@dataclass(frozen=True)
class RunSpec:
    """One tool and setting: a worker process runs it over every sample."""

    tool: str  # "cleancut" or "rembg"
    model: str
    refine: str = "off"  # cleancut: off/fast/best; rembg: "off" or "alpha_matting"
    hinted: bool = False
    tta: str = ""  # cleancut only: test-time settings joined by "+" ("flip": also the mirrored image)
    prompt: str = ""  # cleancut only: "box" passes a box prompt as the hint (never with hinted)

    @property
    def label(self) -> str:
        if self.tool == "rembg":
            return f"rembg {self.model}" + (" -a" if self.refine == "alpha_matting" else "")
        label = f"cleancut {self.model} --refine {self.refine}"
        if self.tta:
            label += f" [{self.tta}]"
        return label + (" +hint" if self.hinted else "") + (f" +{self.prompt}" if self.prompt else "")

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.label).strip("_")


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _save_alpha(path: Path, alpha: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if alpha.dtype == np.uint8:
        Image.fromarray(alpha).save(path)
    else:
        Image.fromarray((np.clip(alpha, 0, 1) * 65535 + 0.5).astype(np.uint16)).save(path)


def load_alpha(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        arr = np.asarray(im)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr.astype(np.float32) / (65535.0 if arr.dtype == np.uint16 or arr.max() > 255 else 255.0)


def composites(rgb_or_fg: np.ndarray, alpha: np.ndarray) -> dict[str, np.ndarray]:
    """The cut-out over flat green and flat white (uint8 H×W×3 each)."""
    a = alpha.astype(np.float32)[..., None]
    fg = rgb_or_fg.astype(np.float32)
    out = {}
    for name, colour in (("green", (0, 177, 64)), ("white", (255, 255, 255))):
        out[name] = np.clip(fg * a + np.asarray(colour, np.float32) * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return out


# The rembg worker runs under whichever Python has rembg installed; it is self-contained.
REMBG_WORKER = r'''
import json, os, resource, sys, time
job = json.load(open(sys.argv[1]))
os.environ["U2NET_HOME"] = job["u2net_home"]
import numpy as np
from PIL import Image
from rembg import new_session, remove
t0 = time.perf_counter()
session = new_session(job["model"])
load = time.perf_counter() - t0
times, cpu = {}, {}
for i, s in enumerate(job["samples"]):
    img = Image.open(s["image"]).convert("RGB")
    start, cpu_start = time.perf_counter(), time.process_time()
    cut = remove(img, session=session, alpha_matting=job["refine"] == "alpha_matting")
    times[s["key"]] = time.perf_counter() - start
    cpu[s["key"]] = time.process_time() - cpu_start
    os.makedirs(os.path.dirname(s["alpha_out"]), exist_ok=True)
    cut.getchannel("A").save(s["alpha_out"])
    if i < job["composites"]:
        np.save(s["fg_out"], np.asarray(cut.convert("RGB")))
json.dump({"times": times, "cpu": cpu, "load_s": load,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0},
          open(job["result"], "w"))
'''


def _weights_file(model: str, weights: Path | None) -> Path:
    if weights is not None:
        return weights / f"{model}.onnx"
    from . import fetch
    from .catalog import load_catalog

    return Path(fetch.ensure(load_catalog().get(model)))


def bench_plan(model: str, refine: str, tta: str = "", weights: Path | None = None):
    """The engine's Plan for one run: the licence gate on every model the id stands for (a
    preset's too), their files (verified from the cache, or WEIGHTS/MODEL.onnx with --weights),
    and with --tta flip every one of them also run on the mirrored image."""
    from dataclasses import replace

    from . import pipeline
    from .catalog import Preset, load_catalog

    options = Options(model=model, refine=refine, foreground=True)
    if weights is None:
        plan = pipeline.prepare(options, bar=False)
    else:
        entries, preset = load_catalog().resolve(model)
        for entry in entries:
            licences.check(entry)  # main checked already; a job file must not be a way around it
        plan = pipeline.Plan(entries=tuple(entries), preset=preset,
                             paths=tuple(weights / f"{entry.id}.onnx" for entry in entries),
                             refine=pipeline.refine_mode(options, preset))
    if "flip" in tta.split("+"):
        ids = tuple(entry.id for entry in plan.entries)
        mirrored = (replace(plan.preset, flip=ids) if plan.preset is not None
                    else Preset(id=model, name=plan.entries[0].name, models=ids, flip=ids, refine=None))
        plan = replace(plan, preset=mirrored)
    return plan


def _cleancut_worker(job: dict) -> None:
    """Runs inside the worker process: cleancut over the job's samples, through pipeline.remove."""
    from . import segment
    from .pipeline import remove

    threads = job["threads"]
    spec = RunSpec(**job["spec"])
    options = Options(model=spec.model, refine=spec.refine, threads=threads, foreground=True)
    t0 = time.perf_counter()
    plan = bench_plan(spec.model, spec.refine, spec.tta, _path_or_none(job["weights"]))
    for entry, path in zip(plan.entries, plan.paths):
        segment.get_session(entry, path, options.provider, threads)  # model load, not the first image
    load = time.perf_counter() - t0
    times, cpu, stages = {}, {}, {}
    for i, s in enumerate(job["samples"]):
        rgb = read_rgb(Path(s["image"]))
        hint = _read_hint_file(s) if spec.hinted else box_hint_for(s) if spec.prompt == "box" else None
        start = time.perf_counter()
        cpu_start = time.process_time()
        result = remove(rgb, options, hint=hint, plan=plan)
        times[s["key"]] = time.perf_counter() - start
        cpu[s["key"]] = time.process_time() - cpu_start
        stages[s["key"]] = dict(result.timings)
        _save_alpha(Path(s["alpha_out"]), result.alpha)
        if i < job["composites"]:
            np.save(s["fg_out"], result.foreground if result.foreground is not None else rgb)
    with open(job["result"], "w") as fh:
        json.dump({"times": times, "cpu": cpu, "stages": stages, "load_s": load, "peak_rss_mib": _peak_rss_mib(),
                   "path": "pipeline"}, fh)


def _path_or_none(value) -> Path | None:
    return None if value is None else Path(value)


def _read_hint_file(s: dict) -> np.ndarray | None:
    if not s.get("hint"):
        return None
    hint = read_grey(Path(s["hint"]))
    if s["dataset"] == "grabcut":
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


# --------------------------------------------------------------------------- the command

def _job_samples(samples: list[Sample], out: Path, spec: RunSpec) -> list[dict]:
    rows = []
    for s in samples:
        key = f"{s.dataset}/{s.name}"
        rows.append({"key": key, "dataset": s.dataset, "image": str(s.image),
                     "hint": str(s.hint) if s.hint else None, "truth": str(s.alpha),
                     "alpha_out": str(out / "alphas" / spec.slug / s.dataset / f"{s.name}.png"),
                     "fg_out": str(out / "tmp" / spec.slug / f"{s.dataset}_{s.name}.npy")})
    return rows


def run_spec(spec: RunSpec, samples: list[Sample], out: Path, args) -> dict:
    """Run one tool and setting in its own process; returns its timings and peak RSS."""
    job_samples = _job_samples(samples, out, spec)
    (out / "tmp" / spec.slug).mkdir(parents=True, exist_ok=True)
    result = out / "tmp" / f"{spec.slug}.json"
    job = {"spec": spec.__dict__, "samples": job_samples, "threads": args.threads,
           "weights": str(args.weights) if args.weights else None, "result": str(result),
           "composites": args.composites, "model": spec.model, "refine": spec.refine}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as home:
        if spec.tool == "rembg":
            os.symlink(_weights_file(spec.model, args.weights), Path(home) / f"{spec.model}.onnx")
            job["u2net_home"] = home
            command = [args.rembg_python or sys.executable, "-c", REMBG_WORKER]
        else:
            command = [sys.executable, "-m", "cleancut.bench", "--worker"]
        job_file = out / "tmp" / f"{spec.slug}.job.json"
        job_file.write_text(json.dumps(job))
        start = time.perf_counter()
        proc = subprocess.run(command + [str(job_file)], env=env, capture_output=True, text=True)
        total = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.label} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(result.read_text())
    data["total_s"] = total
    data["samples"] = job_samples
    return data


def score_run(spec: RunSpec, samples: list[Sample], data: dict) -> dict:
    per_image = {}
    for s, js in zip(samples, data["samples"]):
        alpha = load_alpha(Path(js["alpha_out"]))
        gt = read_grey(s.alpha)
        if s.dataset == "alphamatting":
            errors = matting_errors(alpha, gt / 255.0)
            band = read_grey(s.band) == 128
            errors.update({f"{k}_band": v for k, v in matting_errors(alpha, gt / 255.0, band).items()})
        else:
            errors = segmentation_errors(alpha, gt)
        errors["ambiguous"] = s.ambiguous
        errors["time_s"] = data["times"][js["key"]]
        per_image[js["key"]] = errors
    return per_image


def summarise(per_image: dict, data: dict) -> dict:
    summary: dict = {}
    for ds in DATASETS:
        rows = {k: v for k, v in per_image.items() if k.startswith(ds + "/")}
        if not rows:
            continue
        keys = [k for k in next(iter(rows.values())) if k not in ("ambiguous",)]
        block = {}
        for k in keys:
            vals = [r[k] for r in rows.values()]
            block[k] = {"mean": statistics.fmean(vals), "median": statistics.median(vals)}
        if ds == "grabcut":
            clear = [r for r in rows.values() if not r["ambiguous"]]
            if clear:
                block["iou_unambiguous"] = {"mean": statistics.fmean(r["iou"] for r in clear),
                                            "median": statistics.median(r["iou"] for r in clear)}
        block["count"] = len(rows)
        summary[ds] = block
    stages = data.get("stages") or {}
    if stages:
        names = sorted({k for v in stages.values() for k in v})
        summary["stages_median"] = {k: statistics.median(v.get(k, 0.0) for v in stages.values()) for k in names}
    times = list(data["times"].values())
    summary["median_wall_s"] = statistics.median(times) if times else None
    cpu = list((data.get("cpu") or {}).values())
    summary["median_cpu_s"] = statistics.median(cpu) if cpu else None
    summary["peak_rss_mib"] = data["peak_rss_mib"]
    summary["load_s"] = data["load_s"]
    return summary


def write_composites(spec: RunSpec, samples: list[Sample], data: dict, out: Path, count: int) -> None:
    for s, js in list(zip(samples, data["samples"]))[:count]:
        fg_file = Path(js["fg_out"])
        if not fg_file.exists():
            continue
        colours = np.load(fg_file)
        alpha = load_alpha(Path(js["alpha_out"]))
        folder = out / "composites" / spec.slug
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in composites(colours, alpha).items():
            Image.fromarray(image).save(folder / f"{s.dataset}_{s.name}_{name}.jpg", quality=92)
        fg_file.unlink()


def _fmt(block: dict | None, key: str, digits: int = 2) -> str:
    if not block or key not in block:
        return "–"
    v = block[key]
    return f"{v['mean']:.{digits}f} / {v['median']:.{digits}f}"


SCORE_TABLES = (
    ("alphamatting", "alphamatting (soft ground truth): whole image | inside the trimap's unknown band",
     (("SAD", "sad", 2), ("MSE×1e3", "mse", 2), ("grad", "grad", 3), ("conn", "conn", 2),
      ("SAD band", "sad_band", 2), ("MSE band", "mse_band", 2), ("grad band", "grad_band", 3),
      ("conn band", "conn_band", 2))),
    ("grabcut", "grabcut (binary ground truth, 128 band left out)",
     (("IoU@0.5", "iou", 4), ("IoU, unambiguous rows", "iou_unambiguous", 4), ("MAE", "mae", 4))),
    ("ecssd", "ecssd (binary ground truth, varied scenes)", (("IoU@0.5", "iou", 4), ("MAE", "mae", 4))),
)


def _score_table(results: list[dict], dataset: str, title: str, columns) -> list[str]:
    """One dataset's section: a row per run that scored it, a column per (header, key, digits)."""
    lines = [f"## {title}", "", "| tool and setting | " + " | ".join(c[0] for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for r in results:
        block = r["summary"].get(dataset)
        if block:
            lines.append(f"| {r['label']} | " + " | ".join(_fmt(block, key, digits) for _, key, digits in columns) + " |")
    return lines + [""]


def markdown(results: list[dict], args) -> str:
    lines = ["# cleancut bench", "",
             f"Data: `{args.data}`; {args.threads} thread(s); values are mean / median over the images.", ""]
    for dataset, title, columns in SCORE_TABLES:
        lines += _score_table(results, dataset, title, columns)
    lines += ["## cost", "",
              "Per image, in process, model inference included (cleancut: also colour decontamination). "
              "CPU is the process's CPU time over all its threads (steadier than wall time on a shared "
              "machine); × off compares wall times with the same model's unrefined run.", "",
              "| tool and setting | median wall per image (s) | × off | median CPU per image (s) | "
              "segment / refine / foreground (s) | peak RSS (MiB) | model load (s) |",
              "|---|---|---|---|---|---|---|"]
    def same_run(spec: dict) -> tuple:
        return spec["tool"], spec["model"], spec["hinted"], spec.get("prompt", "")

    base = {same_run(r["spec"]): r["summary"]["median_wall_s"] for r in results if r["spec"]["refine"] == "off"}
    for r in results:
        s = r["summary"]
        off = base.get(same_run(r["spec"]))
        ratio = f"{s['median_wall_s'] / off:.2f}" if off else "–"
        stages = s.get("stages_median") or {}
        split = " / ".join(f"{stages[k]:.3f}" for k in ("segment", "refine", "foreground") if k in stages) or "–"
        cpu = f"{s['median_cpu_s']:.3f}" if s.get("median_cpu_s") is not None else "–"
        lines.append(f"| {r['label']} | {s['median_wall_s']:.3f} | {ratio} | {cpu} | {split} | "
                     f"{s['peak_rss_mib']:.0f} | {s['load_s']:.2f} |")
    return "\n".join(lines) + "\n"


def build_specs(args) -> list[RunSpec]:
    specs = []
    if args.rembg:
        for model in args.models:
            if model.startswith("u2net"):
                specs += [RunSpec("rembg", model, "off"), RunSpec("rembg", model, "alpha_matting")]
    for model in args.models:
        for mode in args.refine:
            specs.append(RunSpec("cleancut", model, mode, tta=args.tta))
            if args.hints:
                specs.append(RunSpec("cleancut", model, mode, hinted=True, tta=args.tta))
            if args.prompt:
                specs.append(RunSpec("cleancut", model, mode, tta=args.tta, prompt=args.prompt))
    return specs


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cleancut bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data_dir(),
                   help=f"evaluation data folder (default: ../shared/eval, or ${ENV_DATA})")
    p.add_argument("--out", type=Path, default=Path("out/bench"), help="where results go (default out/bench)")
    p.add_argument("--models", default="u2netp", help="comma-separated model ids (default u2netp)")
    p.add_argument("--refine", default="off,fast,best", help="comma-separated refine modes")
    p.add_argument("--rembg", action="store_true", help="also run rembg (plain and -a) on the same model files")
    p.add_argument("--rembg-python", default=None,
                   help="Python interpreter that has rembg installed (default: this one)")
    p.add_argument("--hints", action="store_true",
                   help="also run hinted mode with the datasets' trimaps (alphamatting trimap2, grabcut lasso)")
    p.add_argument("--prompt", choices=PROMPT_CHOICES, default=None,
                   help="also run with a box prompt as the hint (the bounds of the grabcut lasso, "
                        "of the ecssd and alphamatting ground truth), on every set")
    p.add_argument("--tta", default="", help="cleancut test-time settings: 'flip' also runs the mirrored image")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--limit", type=_count, default=None, help="only the first N images of each dataset")
    p.add_argument("--threads", type=_threads, default=2, help="threads per tool (default 2)")
    p.add_argument("--weights", type=Path, default=os.environ.get(ENV_WEIGHTS) or None,
                   help=f"folder holding MODEL.onnx files (default: the model cache, or ${ENV_WEIGHTS})")
    p.add_argument("--composites", type=_count_or_zero, default=5,
                   help="write green and white composites for the first N images of each run")
    args = p.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file; give a folder for the results (it is created if absent)")
    args.models = [m for m in args.models.split(",") if m]
    args.refine = [m for m in args.refine.split(",") if m]
    for mode in args.refine:
        if mode not in REFINE_CHOICES:
            p.error(f"--refine: {mode!r} is not one of {', '.join(REFINE_CHOICES)}")
    for setting in filter(None, args.tta.split("+")):
        if setting not in TTA_CHOICES:
            p.error(f"--tta: {setting!r} is not one of {', '.join(TTA_CHOICES)}")
    args.datasets = [d for d in args.datasets.split(",") if d]
    if args.weights is not None:
        args.weights = Path(args.weights)
    return args


def _count(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _count_or_zero(text: str) -> int:
    """argparse type: a whole number of at least 0."""
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 0")
    return int(text)


def _threads(text: str) -> int:
    """argparse type for --threads: what Options accepts (it owns the limits)."""
    try:
        return Options(threads=_count(text)).threads
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def licence_gate(models: list[str]) -> str | None:
    """Why these models may not run here (the same gate as `cleancut remove`), or None.

    Whatever weights file a run uses (--weights, the cache, mirrored with --tta), the model
    id decides the licence: bench is no way around an acceptance or the commercial policy.
    """
    from .catalog import load_catalog
    from .errors import CleancutError

    try:
        catalog = load_catalog()
        for model in models:
            for entry in catalog.resolve(model)[0]:
                licences.check(entry)
    except CleancutError as err:
        return str(err)
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        _cleancut_worker(json.loads(Path(argv[1]).read_text()))
        return 0
    if "--speed" in argv:  # whole commands beside rembg: its own options, see speed.py
        from . import speed

        return speed.main([a for a in argv if a != "--speed"])
    args = parse_args(argv)
    refused = licence_gate(args.models)
    if refused:
        print(f"cleancut bench: {refused}", file=sys.stderr)
        return 1
    if not args.data.is_dir():
        print(f"cleancut bench: no evaluation data at {args.data} (use --data DIR or ${ENV_DATA})", file=sys.stderr)
        return 2
    samples, refused_samples = screen_samples(load_samples(args.data, args.datasets, args.limit))
    for sample, why in refused_samples:
        print(f"cleancut bench: left out {sample.dataset}/{sample.name}: {why}", file=sys.stderr)
    if not samples:
        print(f"cleancut bench: no evaluation images under {args.data}/{{{','.join(args.datasets)}}} "
              "(manifest.csv, or image/ and alpha/ folders)", file=sys.stderr)
        return 2
    if args.rembg:
        python = args.rembg_python or sys.executable
        probe = subprocess.run([python, "-c", "import rembg"], capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"cleancut bench: --rembg needs rembg in {python} (pip install 'rembg[cpu,cli]' there, "
                  "or point --rembg-python at an interpreter that has it)", file=sys.stderr)
            return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"cleancut bench: cannot create --out {args.out} ({err.strerror})", file=sys.stderr)
        return 2
    results = []
    for spec in build_specs(args):
        # A hinted run scores only the images that have a user hint (ecssd has none); a box run
        # (its box from the lasso or the ground truth) scores them all.
        run_samples = [s for s in samples if s.hint] if spec.hinted else samples
        print(f"running {spec.label} on {len(run_samples)} images …", file=sys.stderr, flush=True)
        try:
            data = run_spec(spec, run_samples, args.out, args)
        except (RuntimeError, OSError) as err:
            print(f"cleancut bench: {err}", file=sys.stderr)
            return 1
        per_image = score_run(spec, run_samples, data)
        write_composites(spec, run_samples, data, args.out, args.composites)
        summary = summarise(per_image, data)
        results.append({"label": spec.label, "spec": spec.__dict__, "summary": summary,
                        "per_image": per_image, "stages": data.get("stages", {}),
                        "engine_path": data.get("path", "rembg")})
        am = summary.get("alphamatting", {})
        gc = summary.get("grabcut", {})
        ec = summary.get("ecssd", {})
        print(f"  SAD {_fmt(am, 'sad')}  grad {_fmt(am, 'grad', 3)}  IoU {_fmt(gc, 'iou', 4)}  "
              f"ECSSD IoU {_fmt(ec, 'iou', 4)}  "
              f"wall {summary['median_wall_s']:.3f}s  RSS {summary['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    meta = {"data": str(args.data), "threads": args.threads, "limit": args.limit, "images": len(samples),
            "left_out": {f"{s.dataset}/{s.name}": why for s, why in refused_samples}}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "runs": results}, indent=1))
    (args.out / "results.md").write_text(markdown(results, args))
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
