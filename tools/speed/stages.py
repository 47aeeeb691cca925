"""Where one file's time goes: CPU seconds of each stage of `cleancut remove`, in-process.

The photos are `cleancut bench --speed`'s (``--photos eval``, the default: the evaluation sets'
varied photos; ``--photos astronaut``: crops of examples/astronaut.png): each photo of its
1280×720 batch once, and the 12 MP photo --runs times. Each stage runs on one thread
(onnxruntime too), so its CPU time is what it costs a core whatever else the machine is
doing; the means over the batch (a batch's time is their sum) and medians of the large runs.

    .venv/bin/python tools/speed/stages.py [--count 30] [--runs 3] [--refine fast]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cleancut import compose, foreground, imageread, imagewrite, parallel, pipeline, refine, segment
from cleancut.benchmarks import speed
from cleancut.benchmarks.samples import default_data_dir
from cleancut.options import Options



def stages(path: Path, mode: str, plan: pipeline.Plan) -> dict[str, float]:
    """CPU seconds of each stage for one photo (every stage on one thread)."""
    entry, weights = plan.entries[0], plan.paths[0]
    cpu: dict[str, float] = {}

    def clock(name, work):
        start = time.process_time()
        value = work()
        cpu[name] = time.process_time() - start
        return value

    picture = clock("decode", lambda: imageread.read_image(path))
    rgb = imageread.to_rgb8(picture)
    prob = clock("segment", lambda: segment.predict(rgb, entry, weights, None, 1))
    alpha = clock(f"refine {mode}", lambda: refine.refine_alpha(rgb, prob, mode))
    colours = clock("decontaminate", lambda: foreground.estimate_foreground(rgb, alpha))
    pixels = compose.cutout(colours, compose.combine_alpha(alpha, picture.alpha), picture.bit_depth)
    clock("encode png", lambda: _encode(pixels))
    cpu["band share"] = float(((alpha > 0) & (alpha < 1)).mean())
    return cpu


def _encode(pixels: np.ndarray) -> None:
    with tempfile.TemporaryDirectory() as folder:
        imagewrite.write_image(Path(folder) / "out.png", pixels)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=30)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--refine", default="fast")
    p.add_argument("--photos", choices=("eval", "astronaut"), default="eval",
                   help="the photos of `cleancut bench --speed --photos` (default eval)")
    p.add_argument("--data", type=Path, default=default_data_dir(), help="evaluation data for --photos eval")
    args = p.parse_args()
    plan = pipeline.prepare(Options(threads=1))
    parallel.share(os.cpu_count() or 1)  # each picture's parts on one thread too
    with tempfile.TemporaryDirectory() as folder:
        batch, large = speed.make_photo_set(args.photos, Path(folder), args.count, args.data)
        for name, paths, average in ((f"1280×720, mean of {args.count} photos", sorted(batch.iterdir()), statistics.mean),
                                     (f"12 MP, median of {args.runs}", [large] * args.runs, statistics.median)):
            stages(paths[0], args.refine, plan)  # imports, session and first-call set-up, not counted
            runs = [stages(path, args.refine, plan) for path in paths]
            values = {key: average(run[key] for run in runs) for key in runs[0]}
            share = values.pop("band share")
            total = sum(values.values())
            parts = ", ".join(f"{key} {value:.2f}" for key, value in values.items())
            print(f"{name}: {parts}; total {total:.2f} CPU s; unsure band {share:.0%} of the frame")


if __name__ == "__main__":
    main()
