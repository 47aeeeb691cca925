#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""8-bit PNG encoders on real cut-outs: the numbers behind imagewrite's row filter and level.

The cut-outs are what `cleancut remove` writes for `cleancut bench --speed`'s photos (the
evaluation sets' varied photos at 1280×720, and the 12 MP photo): refine fast, decontaminated
colours, RGBA. Each candidate encodes each cut-out in memory, the candidates alternated (the
order rotated every round); the table gives the medians of CPU and wall seconds per cut-out,
the mean size, and whether Pillow decodes the file to exactly the same pixels.

    .venv/bin/python tools/speed/encoders8.py [--count 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from cleancut import compose, foreground, imageread, imagewrite, pipeline, refine, segment
from cleancut.benchmarks import speed
from cleancut.benchmarks.samples import default_data_dir
from cleancut.options import Options


def cutouts(count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The RGBA cut-outs of ``count`` batch photos and of the 12 MP photo."""
    plan = pipeline.prepare(Options(threads=1))
    entry, weights = plan.entries[0], plan.paths[0]

    def cut(path: Path) -> np.ndarray:
        picture = imageread.read_image(path)
        rgb = imageread.to_rgb8(picture)
        alpha = refine.refine_alpha(rgb, segment.predict(rgb, entry, weights, None, 1), "fast")
        return compose.cutout(foreground.estimate_foreground(rgb, alpha), alpha, 8)

    with tempfile.TemporaryDirectory() as folder:
        batch, large = speed.make_photo_set("eval", Path(folder), count, default_data_dir())
        return [cut(path) for path in sorted(batch.iterdir())], cut(large)


def pillow(level: int) -> Callable[[np.ndarray], bytes]:
    def encode(pixels: np.ndarray) -> bytes:
        stream = io.BytesIO()
        Image.fromarray(pixels).save(stream, format="PNG", compress_level=level)
        return stream.getvalue()
    return encode


CANDIDATES: dict[str, Callable[[np.ndarray], bytes]] = {
    "Pillow, level 2 (adaptive filters)": pillow(2),
    "Pillow, level 6 (its default)": pillow(6),
    "ours (Up filter, zlib-ng level 2)": lambda pixels: imagewrite.encode_image("cutout.png", pixels),
}


def measure(pictures: list[np.ndarray], rounds: int) -> dict[str, tuple[float, float, float, bool]]:
    """Per candidate: median CPU s and wall s per picture, mean bytes, exact pixels."""
    names = list(CANDIDATES)
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    sizes: dict[str, list[int]] = {name: [] for name in names}
    exact = dict.fromkeys(names, True)
    for turn in range(rounds):
        for name in names[turn % len(names):] + names[:turn % len(names)]:
            for pixels in pictures:
                start_cpu, start_wall = time.process_time(), time.perf_counter()
                data = CANDIDATES[name](pixels)
                cpu[name].append(time.process_time() - start_cpu)
                wall[name].append(time.perf_counter() - start_wall)
                if turn == 0:
                    sizes[name].append(len(data))
                    exact[name] &= bool(np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels))
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name]),
                   statistics.mean(sizes[name]), exact[name]) for name in names}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    batch, large = cutouts(args.count)
    for title, pictures in ((f"{args.count} cut-outs at 1280×720", batch), ("the 12 MP cut-out", [large])):
        print(f"\n{title}, medians of {args.rounds} alternated rounds\n")
        print("| encoder | CPU s | wall s | size MB | exact |\n|---|---|---|---|---|")
        for name, (cpu, wall, size, exact) in measure(pictures, args.rounds).items():
            print(f"| {name} | {cpu:.3f} | {wall:.3f} | {size / 1e6:.2f} | {'yes' if exact else 'NO'} |")


if __name__ == "__main__":
    main()
