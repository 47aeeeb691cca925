"""`cleancut bench` on a set laid out like ../shared/eval/ecssd: image/ and alpha/, no manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from cleancut import bench


def ecssd_like(root: Path, masks: dict[str, np.ndarray]) -> Path:
    """A set whose photos' red channel is the ground-truth mask (the red model's alpha is R/255),
    plus an image without ground truth that must be left out."""
    (root / "ecssd" / "image").mkdir(parents=True)
    (root / "ecssd" / "alpha").mkdir()
    for name, mask in masks.items():
        rgb = np.dstack([mask, np.full_like(mask, 90), np.full_like(mask, 160)])
        Image.fromarray(rgb).save(root / "ecssd" / "image" / f"{name}.jpg", quality=100)
        Image.fromarray(mask).save(root / "ecssd" / "alpha" / f"{name}.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "ecssd" / "image" / "no-truth.jpg")
    return root


def square(offset: int) -> np.ndarray:
    mask = np.zeros((16, 16), np.uint8)
    mask[offset:offset + 8, offset:offset + 8] = 255
    return mask


def test_a_set_without_a_manifest_pairs_its_images_and_alphas_by_name(tmp_path):
    ecssd_like(tmp_path, {"0002": square(2), "0001": square(4)})
    samples = bench.load_samples(tmp_path, ("ecssd",))
    assert [(s.dataset, s.name, s.image.name, s.alpha.name, s.hint) for s in samples] == [
        ("ecssd", "0001", "0001.jpg", "0001.png", None), ("ecssd", "0002", "0002.jpg", "0002.png", None)]


def test_bench_scores_the_set_by_iou_against_its_binary_ground_truth(tmp_path, engine_models):
    red, _ = engine_models
    ecssd_like(tmp_path / "data", {"0001": square(2), "0002": square(5)})
    done = subprocess.run([sys.executable, "-m", "cleancut", "bench", "--data", str(tmp_path / "data"),
                           "--datasets", "ecssd", "--models", red, "--refine", "off", "--out", str(tmp_path / "out"),
                           "--composites", "0", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "results.json").read_text())["runs"][0]["summary"]
    assert summary["ecssd"]["count"] == 2
    assert summary["ecssd"]["iou"] == {"mean": 1.0, "median": 1.0}
    assert "## ecssd" in (tmp_path / "out" / "results.md").read_text()
