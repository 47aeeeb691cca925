"""How far a run's alphas are from the ground truth, per image and summarised over a set.

- alphamatting: soft ground truth. SAD/1000 (sum of |alpha - gt| over the region, / 1000),
  MSE x1e3, gradient error (sum of squared differences of the Gaussian-gradient magnitude,
  sigma 1.4, / 1000) and connectivity error (Rhemann et al. 2009, step 0.1, theta 0.15, / 1000),
  over the whole image and inside the unknown band of the fine trimap; mean and median.
- grabcut: binary ground truth. IoU of alpha >= 0.5 and MAE, leaving out ground-truth pixels
  equal to 128 (GrabCut's own rule); rows tagged "ambiguous:" are also reported apart.
- ecssd: binary ground truth (120 varied scenes: animals, vehicles, people, clutter), scored
  like grabcut.
- every set: IoU of alpha >= 0.5 against gt >= 128 (alphamatting's too, for the prompt tables),
  and for click runs the protocol's measures (clicking.py).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
from scipy import ndimage

from . import clicking
from .runner import RunSpec
from .samples import DATASETS, Sample, load_alpha, read_grey


def _gauss_gradient(alpha: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    return ndimage.gaussian_gradient_magnitude(alpha.astype(np.float64), sigma)


def _connectivity_map(alpha: np.ndarray, gt: np.ndarray, step: float = 0.1) -> np.ndarray:
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


def score_run(spec: RunSpec, samples: list[Sample], data: dict) -> dict:
    """Every image's errors (and wall time) for one run, keyed "dataset/name"."""
    per_image = {}
    for s, js in zip(samples, data["samples"]):
        alpha = load_alpha(Path(js["alpha_out"]))
        gt = read_grey(s.alpha)
        if s.dataset == "alphamatting":
            errors = matting_errors(alpha, gt / 255.0)
            band = read_grey(s.band) == 128
            errors.update({f"{k}_band": v for k, v in matting_errors(alpha, gt / 255.0, band).items()})
            errors["iou"] = segmentation_errors(alpha, gt)["iou"]  # beside the click protocol's
        else:
            errors = segmentation_errors(alpha, gt)
        errors["ambiguous"] = s.ambiguous
        errors["time_s"] = data["times"][js["key"]]
        per_image[js["key"]] = errors
    return per_image


def summarise(per_image: dict, data: dict) -> dict:
    """Mean and median of every measure per set, with the run's stage, time and memory medians."""
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
        clicked = [v for k, v in (data.get("clicks") or {}).items() if k.startswith(ds + "/")]
        if clicked:
            block["clicks"] = clicking.summary(clicked)
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
