# SPDX-License-Identifier: GPL-3.0-or-later
"""Time from Layer > Remove Background to the mask, in the real Krita, with a warm worker.

    .venv/bin/python tests/hosts/krita/bench.py [--sizes 1000x1000 4000x3000] [--repeats 3]
                                                [--flavours 5.1 5.2]

For each Krita (5.1.5 native, 5.2.9 in the Debian 13 chroot) one session: a first run on a small
photo starts the worker and loads u2netp; then each size is removed ``repeats`` times (undone
in between) and the median of "action triggered → mask in the document" is printed, with its
parts: reading the layer (GUI thread), the engine (worker, off the GUI thread), writing the mask.
Needs tests/hosts/setup.sh to have run. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the Krita harness and the host kit
from hostkit import build_engine_site
from krita_harness import REPO, KritaHost


def prepare(scratch: Path) -> tuple[Path, Path, dict]:
    cache = scratch / "cache"
    env = dict(os.environ, CLEANCUT_CACHE_DIR=str(cache))
    subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", "u2netp", "-q"], env=env, check=True)
    engine = build_engine_site(scratch)
    photo = np.asarray(Image.open(REPO / "examples" / "astronaut.png").convert("RGB"))
    bgra = np.dstack([photo[..., ::-1], np.full(photo.shape[:2], 255, np.uint8)])
    path = scratch / "astronaut_bgra8.raw"
    np.ascontiguousarray(bgra).tofile(path)
    return cache, engine, {"astronaut_bgra8": str(path)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1000x1000", "4000x3000"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flavours", nargs="+", default=["5.1", "5.2"])
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (Krita's logs)")
    args = parser.parse_args()
    sizes = [[int(n) for n in size.split("x")] for size in args.sizes]
    scratch = Path(tempfile.mkdtemp(prefix="cleancut-krita-bench-"))
    try:
        return run(args, sizes, scratch)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def run(args, sizes: list[list[int]], scratch: Path) -> int:
    cache, engine, inputs = prepare(scratch)
    report = {}
    for flavour in args.flavours:
        host = KritaHost(flavour, scratch / f"krita{flavour}", cache, engine)
        spec = {"only": ["bench"], "inputs": inputs, "bench": {"sizes": sizes, "repeats": args.repeats}}
        results, _ = host.run(HERE / "scenarios.py", spec, deadline=540)
        report[flavour] = results["bench"]
        for size, runs in results["bench"].items():
            if size == "scenario_s":
                continue
            medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(f"Krita {flavour} {size}: action → mask {medians['total_s']:.2f} s "
                  f"(read {medians['read_s']:.2f} s, engine {medians['engine_s']:.2f} s, "
                  f"write {medians['write_s']:.2f} s; median of {len(runs)})", flush=True)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
