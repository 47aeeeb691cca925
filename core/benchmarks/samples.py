"""The evaluation sets on disk: which images a bench scores, with their ground truth and hints.

Datasets are folders under --data as in shared/eval: a manifest.csv, or only image/ and alpha/
folders whose files pair by name. An image whose ground truth, hint or band is missing,
unreadable or of another size is left out before any run (:func:`screen_samples`), rather than
stopping the whole bench half-way.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ENV_DATA = "CLEANCUT_EVAL"
DATASETS = ("alphamatting", "grabcut", "ecssd")


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
    """$CLEANCUT_EVAL, else shared/eval beside the repository (../shared/eval)."""
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "eval"


def _paired_files(root: Path, dataset: str, limit: int | None) -> list[Sample]:
    """A set without a manifest (ecssd): image/NAME.* with its ground truth alpha/NAME.*."""
    truths = {path.stem: path for path in (root / "alpha").iterdir() if path.is_file()}
    pairs = sorted((path.stem, path, truths[path.stem]) for path in (root / "image").iterdir()
                   if path.is_file() and path.stem in truths)
    return [Sample(dataset, name, image, alpha, None, None, False) for name, image, alpha in pairs[:limit]]


def load_samples(data: Path, datasets=DATASETS, limit: int | None = None) -> list[Sample]:
    """The samples of ``datasets`` under ``data``, the first ``limit`` of each set."""
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
    """A photo as H×W×3 uint8, as both tools are given it."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def read_grey(path: Path) -> np.ndarray:
    """A ground truth, trimap or lasso as H×W uint8 (a colour file's red channel)."""
    with Image.open(path) as im:
        if im.mode in ("RGB", "RGBA", "P"):
            return np.asarray(im.convert("RGB"))[..., 0].copy()
        return np.asarray(im.convert("L"))


def load_alpha(path: Path) -> np.ndarray:
    """An alpha a run wrote (8- or 16-bit PNG) as float32 0..1."""
    with Image.open(path) as im:
        arr = np.asarray(im)
    if arr.ndim == 3:
        arr = arr[..., 0]
    return arr.astype(np.float32) / (65535.0 if arr.dtype == np.uint16 or arr.max() > 255 else 255.0)
