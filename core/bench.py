"""`cleancut bench`: cleancut and rembg side by side on the evaluation sets.

A command, not a timed test. For every tool and setting it runs one worker process (so wall
time and peak RSS are honest and each tool gets the same interpreter state), which writes one
alpha PNG per image plus its timings; then this process scores the alphas against the ground
truth and writes ``results.json`` and ``results.md`` (plus flat green and white composites for a
visual check of colour decontamination).

Datasets (folders under --data, each with manifest.csv as in shared/eval):
- alphamatting: soft ground truth. SAD/1000 (sum of |alpha - gt| over the region, / 1000),
  MSE x1e3, gradient error (sum of squared differences of the Gaussian-gradient magnitude,
  sigma 1.4, / 1000) and connectivity error (Rhemann et al. 2009, step 0.1, theta 0.15, / 1000),
  over the whole image and inside the unknown band of the fine trimap; mean and median.
- grabcut: binary ground truth. IoU of alpha >= 0.5 and MAE, leaving out ground-truth pixels
  equal to 128 (GrabCut's own rule); rows tagged "ambiguous:" are also reported apart.

Hinted runs (``--hints``) pass the dataset's own trimaps (alphamatting trimap2, grabcut lasso)
as the hint.
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

ENV_DATA = "CLEANCUT_EVAL"
ENV_WEIGHTS = "CLEANCUT_BENCH_WEIGHTS"
DATASETS = ("alphamatting", "grabcut")
REFINE_CHOICES = ("off", "fast", "best")
U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"


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


def load_samples(data: Path, datasets=DATASETS, limit: int | None = None) -> list[Sample]:
    samples: list[Sample] = []
    for ds in datasets:
        manifest = data / ds / "manifest.csv"
        if not manifest.exists():
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
