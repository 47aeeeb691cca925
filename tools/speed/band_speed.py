"""In-process speed and memory of refine fast and colour decontamination, old against new (issue 14).

The photos are made here from examples/astronaut.png or ``--photo`` (centre-cropped to the
aspect ratio, then enlarged with Pillow's bicubic filter): 1280×720 and 4000×3000 by default; u2netp's
probability is computed once per photo. The old modules are core/refine.py and
core/foreground.py at ``--old`` (extracted into a temporary folder and imported from there),
the new ones the working tree's. Runs alternate old and new (the order swapped every round,
the machine being shared) and the medians of wall time and of CPU time (process_time, steadier
on a shared machine; these stages run on one thread) are printed, with the ratio old / new.

Memory: each (version, photo, stage) also runs once in a child process that reports the
stage's peak of numpy allocations (tracemalloc) and its peak RSS above the RSS before it
(inputs already loaded; Linux VmHWM, reset just before the stage).

    .venv/bin/python tools/speed/band_speed.py [--runs 7] [--sizes 1280x720,4000x3000] [--old 00c815f]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PHOTO = ROOT / "examples" / "astronaut.png"


def load_old(commit: str, folder: Path) -> dict:
    """refine and foreground at ``commit``, imported from files written into ``folder``."""
    modules = {}
    for name in ("refine", "foreground"):
        path = folder / f"old_{name}.py"
        if not path.exists():
            path.write_text(subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:core/{name}.py"],
                                           check=True, capture_output=True, text=True).stdout)
        spec = importlib.util.spec_from_file_location(f"old_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


def new_modules() -> dict:
    from cleancut import foreground, refine

    return {"refine": refine, "foreground": foreground}


def make_photo(width: int, height: int, photo: Path = PHOTO) -> np.ndarray:
    """The example photo centre-cropped to width:height and enlarged to width×height."""
    with Image.open(photo) as im:
        im = im.convert("RGB")
        w, h = im.size
        if w / h > width / height:
            crop = round(h * width / height)
            im = im.crop(((w - crop) // 2, 0, (w - crop) // 2 + crop, h))
        else:
            crop = round(w * height / width)
            im = im.crop((0, (h - crop) // 2, w, (h - crop) // 2 + crop))
        return np.asarray(im.resize((width, height), Image.Resampling.BICUBIC))


def inputs(width: int, height: int, folder: Path, photo: Path = PHOTO) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo, u2netp probability, new refine fast alpha), cached as .npy in ``folder``."""
    files = [folder / f"{width}x{height}_{k}.npy" for k in ("rgb", "prob", "alpha")]
    if not all(f.exists() for f in files):
        from cleancut import fetch, refine, segment
        from cleancut.catalog import load_catalog

        entry = load_catalog().get("u2netp")
        rgb = make_photo(width, height, photo)
        prob = segment.predict(rgb, entry, fetch.ensure(entry), threads=2)
        for f, a in zip(files, (rgb, prob, refine.refine_alpha(rgb, prob, "fast"))):
            np.save(f, a)
    return tuple(np.load(f) for f in files)


def run_stage(modules: dict, stage: str, rgb: np.ndarray, prob: np.ndarray, alpha: np.ndarray):
    if stage == "refine":
        return modules["refine"].refine_alpha(rgb, prob, "fast")
    return modules["foreground"].estimate_foreground(rgb, alpha)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(args) -> int:
    """One stage once, in this fresh process: its tracemalloc peak and peak-RSS growth."""
    import tracemalloc

    folder = Path(args.folder)
    modules = load_old(args.old, folder) if args.version == "old" else new_modules()
    rgb, prob, alpha = inputs(*args.size, folder)
    run_stage(modules, args.stage, rgb[:64, :64], prob, alpha[:64, :64])  # imports and warm-up
    # ru_maxrss would carry the parent's peak across fork and exec: reset this process's
    # high-water mark (Linux: "5" into clear_refs) and read VmHWM instead.
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    tracemalloc.start()
    run_stage(modules, args.stage, rgb, prob, alpha)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"traced_mib": peak / 2 ** 20, "rss_growth_mib": (_status_kib("VmHWM") - before) / 1024}))
    return 0


def size_arg(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--sizes", default="1280x720,4000x3000")
    p.add_argument("--old", default="00c815f")
    p.add_argument("--photo", type=Path, default=PHOTO, help="the photo to enlarge (default examples/astronaut.png)")
    p.add_argument("--child", nargs=4, metavar=("FOLDER", "VERSION", "SIZE", "STAGE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        folder, version, size, stage = args.child
        return child(argparse.Namespace(folder=folder, version=version, size=size_arg(size),
                                        stage=stage, old=args.old))
    sizes = [size_arg(s) for s in args.sizes.split(",")]
    print("| photo | stage | old: wall / CPU (s) | new: wall / CPU (s) | old / new: wall / CPU "
          "| old peak: traced / RSS growth (MiB) | new peak: traced / RSS growth (MiB) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        versions = {"old": load_old(args.old, folder), "new": new_modules()}
        for width, height in sizes:
            rgb, prob, alpha = inputs(width, height, folder, args.photo)
            times = {(v, s): [] for v in versions for s in ("refine", "foreground")}
            for stage in ("refine", "foreground"):
                for version in versions:  # warm-up: imports, caches
                    run_stage(versions[version], stage, rgb, prob, alpha)
            for i in range(args.runs):
                order = ("old", "new") if i % 2 == 0 else ("new", "old")
                for stage in ("refine", "foreground"):
                    for version in order:
                        start, cpu = time.perf_counter(), time.process_time()
                        run_stage(versions[version], stage, rgb, prob, alpha)
                        times[version, stage].append((time.perf_counter() - start, time.process_time() - cpu))
            for stage in ("refine", "foreground"):
                memory = {}
                for version in versions:
                    out = subprocess.run([sys.executable, __file__, "--old", args.old, "--child", str(folder),
                                          version, f"{width}x{height}", stage],
                                         check=True, capture_output=True, text=True).stdout
                    memory[version] = json.loads(out.strip().splitlines()[-1])
                wall = [statistics.median(t[0] for t in times[v, stage]) for v in ("old", "new")]
                cpu = [statistics.median(t[1] for t in times[v, stage]) for v in ("old", "new")]
                name = "refine fast" if stage == "refine" else "decontamination"
                cells = [f"{memory[v]['traced_mib']:.0f} / {memory[v]['rss_growth_mib']:.0f}" for v in ("old", "new")]
                print(f"| {width}×{height} | {name} | {wall[0]:.3f} / {cpu[0]:.3f} | {wall[1]:.3f} / {cpu[1]:.3f} "
                      f"| {wall[0] / wall[1]:.1f}× / {cpu[0] / cpu[1]:.1f}× | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
