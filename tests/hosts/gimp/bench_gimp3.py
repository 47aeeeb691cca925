# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure cleancut's GIMP 3 plug-in in a real GIMP 3 (3.0.4 in the Debian 13 chroot, 3.2.6 in the
Debian sid chroot; run as root).

    .venv/bin/python tests/hosts/gimp/bench_gimp3.py [--gimp 3.0|3.2] [--repeat 5]

For a 1 MP (1000×1000) and a 12 MP (4000×3000) RGB layer (the astronaut photo, resized) it
reports, as medians:
* plug-in call: calling plug-in-cleancut-remove-background non-interactively until it returns
  with the mask written — the menu action minus the dialog: plug-in process start, reading the
  layer, the shared worker's round trip, writing the mask in one undo group;
* client round trip: the same request from an already running process (no plug-in start,
  no GIMP buffer I/O);
* engine only: cleancut.pipeline.remove on the same pixels in this process;
and the first (cold) call that starts the worker, and the shared worker's resident memory while
idle after the 1 MP and after the 12 MP calls.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the GIMP harness and the host kit
from gimp3_harness import CHROOTS, REPO, Gimp3
from hostkit import build_engine_site

SIZES = {"1mp": (1000, 1000), "12mp": (4000, 3000)}


def engine_env(scratch: Path) -> tuple[Path, Path]:
    """cleancut installed for the chroot's Python (a pure-Python wheel beside the chroot's binary wheels),
    and a cache with u2netp (as the test fixtures do)."""
    cache = scratch / "cache"
    engine = build_engine_site(scratch)
    subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", "u2netp", "-q"], check=True,
                   env=dict(os.environ, CLEANCUT_CACHE_DIR=str(cache)), stdout=subprocess.DEVNULL)
    return engine, cache


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gimp", choices=sorted(CHROOTS), default="3.0", help="the GIMP 3 version (its chroot)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="cleancut-gimp3-bench-"))
    try:
        return measure(scratch, args.gimp, args.repeat)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # chroot.sh has unmounted it by now


def measure(scratch: Path, version: str, repeat: int) -> int:
    engine, cache = engine_env(scratch)
    photo = Image.open(REPO / "examples" / "astronaut.png").convert("RGB")
    arrays, scenarios = {}, []
    for name, (width, height) in SIZES.items():
        arrays[name] = np.asarray(photo.resize((width, height), Image.LANCZOS))
        path = scratch / f"{name}.raw"
        arrays[name].tofile(path)
        layer = {"name": name, "width": width, "height": height, "type": "RGB_IMAGE",
                 "format": "R'G'B' u8", "raw": str(path)}
        image = {"width": width, "height": height, "layers": [layer]}
        if name == "1mp":
            scenarios.append({"name": "cold", "image": image})
        scenarios.append({"name": name, "image": image, "repeat": repeat, "direct_repeat": repeat})
    base = scratch / "gimp3"
    base.mkdir()
    gimp = Gimp3(base, engine, cache, chroot=CHROOTS[version])
    results, _ = gimp.run(scenarios, timeout=590)
    named = {r["name"]: r for r in results}
    for result in results:
        if "exception" in result or result["status"] != "success":
            print(result, file=sys.stderr)
            return 1

    os.environ.update(CLEANCUT_CACHE_DIR=str(cache), CLEANCUT_OFFLINE="1")
    from cleancut import pipeline

    print(f"GIMP {gimp.version} ({gimp.chroot.name} chroot), u2netp, {os.cpu_count()} cores, medians of {repeat}")
    print(f"cold first call (starts the worker, 1 MP): {named['cold']['seconds'][0]:.2f} s")
    for name in SIZES:
        engine_s = []
        for _ in range(repeat):
            start = time.perf_counter()
            pipeline.remove(arrays[name])
            engine_s.append(time.perf_counter() - start)
        result = named[name]
        print(f"{name}: plug-in call {statistics.median(result['seconds']):.2f} s "
              f"(all: {', '.join(f'{s:.2f}' for s in result['seconds'])}); "
              f"client round trip {statistics.median(result['direct_seconds']):.2f} s; "
              f"engine only {statistics.median(engine_s):.2f} s; "
              f"idle worker RSS afterwards {result['worker_rss_kib'][0] / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
