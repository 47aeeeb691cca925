"""Old against new band-only refine and decontamination on the evaluation sets (issue 14).

For every image of alphamatting, grabcut and ecssd (read from the eval folder, never copied):
u2netp's probability is computed once, then refine fast and best and the foreground colours are
computed by the old modules (core/refine.py and core/foreground.py at a given commit, extracted
into a temporary folder) and by the working tree's, and both are scored the way
`cleancut bench` scores (SAD and gradient error against alphamatting's soft truth, IoU@0.5
against grabcut's and ecssd's binary masks), on the float alpha (the bench reads back an
8-bit PNG). With ``--large N`` the first N alphamatting images are also enlarged 3× (about
3.5 MP: above refine's 0.7 MP and foreground's 2 MP working sizes, so the guided upsample and
the colour interpolation paths run) and scored against the enlarged truth.

    .venv/bin/python tools/speed/band_quality.py [--old 00c815f] [--large 27] [--out out/band_quality.json]

Prints a table of mean / median scores per set and setting, the largest old/new alpha
difference, and the colour differences (max and mean of |old - new| in 8-bit steps) inside
the soft band (the pixels decontamination changes) and outside it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SETS = ("alphamatting", "grabcut", "ecssd")
VISIBLE = 0.5 / 255


def load_old(commit: str, folder: Path):
    """The refine and foreground modules as they were at ``commit`` (imported from files in
    ``folder``; both import only numpy, scipy and Pillow)."""
    modules = []
    for name in ("refine", "foreground"):
        path = folder / f"old_{name}.py"
        path.write_text(subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:core/{name}.py"],
                                       check=True, capture_output=True, text=True).stdout)
        spec = importlib.util.spec_from_file_location(f"old_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def samples(data: Path, dataset: str) -> list[tuple[str, Path, Path]]:
    """(name, image, truth) of every image of a set, by file stem."""
    truths = {p.stem: p for p in (data / dataset / "alpha").iterdir()}
    return [(p.stem, p, truths[p.stem]) for p in sorted((data / dataset / "image").iterdir()) if p.stem in truths]


def enlarge(rgb: np.ndarray, truth: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    size = (rgb.shape[1] * factor, rgb.shape[0] * factor)
    big = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))
    return big, np.asarray(Image.fromarray(truth).resize(size, Image.Resampling.BILINEAR))


def colour_difference(old: np.ndarray, new: np.ndarray, alpha: np.ndarray) -> dict:
    band = (alpha > VISIBLE) & (alpha < 1 - VISIBLE)
    diff = np.abs(old.astype(np.int16) - new.astype(np.int16)).max(axis=2)
    inside, outside = diff[band], diff[~band]
    return {"band_max": int(inside.max()) if inside.size else 0,
            "band_mean": float(inside.mean()) if inside.size else 0.0,
            "band_pixels": int(inside.size),
            "outside_max": int(outside.max()) if outside.size else 0}


def main(argv: list[str] | None = None) -> int:
    from cleancut import fetch, foreground, refine, segment
    from cleancut.benchmarks.samples import default_data_dir, read_grey, read_rgb
    from cleancut.benchmarks.scoring import matting_errors, segmentation_errors
    from cleancut.catalog import load_catalog

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=default_data_dir())
    p.add_argument("--old", default="00c815f", help="commit holding the old refine.py and foreground.py")
    p.add_argument("--large", type=int, default=0, help="also the first N alphamatting images enlarged 3×")
    p.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    p.add_argument("--out", type=Path, default=None, help="write every image's scores here (JSON)")
    args = p.parse_args(argv)

    entry = load_catalog().get("u2netp")
    weights = fetch.ensure(entry)
    rows: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        old_refine, old_foreground = load_old(args.old, Path(tmp))
        jobs = [(ds, name, img, gt, 1) for ds in SETS for name, img, gt in samples(args.data, ds)[:args.limit]]
        jobs += [("alphamatting×3", name, img, gt, 3)
                 for name, img, gt in samples(args.data, "alphamatting")[:args.large]]
        for ds, name, image, truth_path, factor in jobs:
            rgb, truth = read_rgb(image), read_grey(truth_path)
            if factor > 1:
                rgb, truth = enlarge(rgb, truth, factor)
            prob = segment.predict(rgb, entry, weights, threads=2)
            row: dict = {}
            for mode in ("fast", "best"):
                for version, module in (("old", old_refine), ("new", refine)):
                    alpha = module.refine_alpha(rgb, prob, mode)
                    row[f"{mode}_{version}_alpha"] = alpha
                    if ds.startswith("alphamatting"):
                        scores = matting_errors(alpha, truth / 255.0)
                        row[f"{mode} {version}"] = {"sad": scores["sad"], "grad": scores["grad"]}
                    else:
                        row[f"{mode} {version}"] = {"iou": segmentation_errors(alpha, truth)["iou"]}
                row[f"{mode} alpha max diff"] = float(np.abs(row.pop(f"{mode}_old_alpha")
                                                             - row.pop(f"{mode}_new_alpha")).max())
            alpha = refine.refine_alpha(rgb, prob, "fast")
            row["colours"] = colour_difference(old_foreground.estimate_foreground(rgb, alpha),
                                               foreground.estimate_foreground(rgb, alpha), alpha)
            rows.setdefault(ds, {})[name] = row
            print(ds, name, rgb.shape[:2], {k: v for k, v in row.items() if "diff" in k or k == "colours"},
                  file=sys.stderr, flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))
    print("| set | setting | old | new | max alpha diff |")
    print("|---|---|---|---|---|")
    for ds, images in rows.items():
        for mode in ("fast", "best"):
            for metric in next(iter(images.values()))[f"{mode} old"]:
                cells = []
                for version in ("old", "new"):
                    values = [r[f"{mode} {version}"][metric] for r in images.values()]
                    cells.append(f"{statistics.fmean(values):.4f} / {statistics.median(values):.4f}")
                diff = max(r[f"{mode} alpha max diff"] for r in images.values())
                print(f"| {ds} ({len(images)}) | {mode} {metric} | {cells[0]} | {cells[1]} | {diff:.2e} |")
    print()
    print("| set | colour diff in band: max / mean (8-bit) | band pixels | outside band: max |")
    print("|---|---|---|---|")
    for ds, images in rows.items():
        c = [r["colours"] for r in images.values()]
        pixels = sum(x["band_pixels"] for x in c)
        mean = sum(x["band_mean"] * x["band_pixels"] for x in c) / max(pixels, 1)
        print(f"| {ds} | {max(x['band_max'] for x in c)} / {mean:.2e} | {pixels} | {max(x['outside_max'] for x in c)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
