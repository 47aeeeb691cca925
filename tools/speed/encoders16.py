#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""16-bit RGBA encoders timed against maintained alternatives: the numbers behind imagewrite's choice.

The cut-out: examples/astronaut.png enlarged to --size (default 4000x3000), at 16 bits with
sensor-like noise (sigma 40 of 65535), and a round alpha with a soft 40-pixel edge. Every
candidate encodes it in memory, the candidates alternated (the order rotated every round), and
the table gives the medians of CPU and wall seconds, the output size, and whether the file
decodes (cleancut's own reader) to exactly the same pixels. "ours, standard zlib" is
imagewrite's encoder with Python's zlib in place of zlib-ng.

The alternatives are optional: those not importable are left out. Install them apart from the
project's environment, e.g. ``pip install --target /tmp/cands imagecodecs tifffile pypng
numpngw``, then

    .venv/bin/python tools/speed/encoders16.py --candidates /tmp/cands [--rounds 3] [--size 4000x3000]

pypng and numpngw are pure Python and slow: time them with a smaller --size.
"""

from __future__ import annotations

import argparse
import importlib
import io
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from cleancut import imageread, imagewrite

ROOT = Path(__file__).resolve().parents[2]


def cutout(width: int, height: int) -> np.ndarray:
    """The test cut-out, the same on every run."""
    photo = Image.open(ROOT / "examples" / "astronaut.png").convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    noise = np.random.default_rng(1).normal(0, 40, (height, width, 3)).astype(np.float32)
    rgb = np.clip(np.asarray(photo, np.float32) * 257 + noise, 0, 65535).astype(np.uint16)
    yy, xx = np.mgrid[0:height, 0:width]
    alpha = (np.clip((1300 - np.hypot(xx - width / 2, yy - height / 2)) / 40, 0, 1) * 65535 + 0.5).astype(np.uint16)
    return np.ascontiguousarray(np.dstack([rgb, alpha]))


def optional(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def candidates(pixels: np.ndarray) -> dict[str, Callable[[], bytes]]:
    height, width = pixels.shape[:2]

    def ours(kind: str, standard_zlib: bool = False) -> Callable[[], bytes]:
        def encode() -> bytes:
            saved = imagewrite.zlib_ng
            imagewrite.zlib_ng = zlib if standard_zlib else saved
            try:
                return imagewrite.encode_image(f"x.{kind}", pixels)
            finally:
                imagewrite.zlib_ng = saved
        return encode

    found = {"ours PNG (Sub filter, zlib-ng 6, 4 MiB bands)": ours("png"),
             "ours PNG, standard zlib": ours("png", True),
             "ours TIFF (zlib-ng 6, 1 MiB strips)": ours("tiff"),
             "ours TIFF, standard zlib": ours("tiff", True)}
    imagecodecs, tifffile, pypng, numpngw = (optional(n) for n in ("imagecodecs", "tifffile", "png", "numpngw"))
    if imagecodecs is not None:
        found["imagecodecs.png_encode level 6 (libpng)"] = lambda: imagecodecs.png_encode(pixels, level=6)
        found["imagecodecs.png_encode level 6, Sub filter"] = lambda: imagecodecs.png_encode(pixels, level=6, filter=16)
    if tifffile is not None:
        def with_tifffile() -> bytes:
            stream = io.BytesIO()
            tifffile.imwrite(stream, pixels, photometric="rgb", extrasamples=["unassalpha"], compression="adobe_deflate",
                             compressionargs={"level": 6}, rowsperstrip=max(1, (1 << 20) // (width * 8)), metadata=None)
            return stream.getvalue()
        found["tifffile adobe_deflate 6"] = with_tifffile
    if pypng is not None:
        def with_pypng() -> bytes:
            stream = io.BytesIO()
            writer = pypng.Writer(width, height, greyscale=False, alpha=True, bitdepth=16, compression=6)
            writer.write_array(stream, pixels.reshape(-1))
            return stream.getvalue()
        found["pypng compression 6"] = with_pypng
    if numpngw is not None:
        def with_numpngw() -> bytes:
            stream = io.BytesIO()
            numpngw.write_png(stream, pixels)
            return stream.getvalue()
        found["numpngw"] = with_numpngw
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--candidates", type=Path, default=None, help="folder the alternatives were installed into")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT (default 4000x3000)")
    args = p.parse_args(argv)
    if args.candidates is not None:
        sys.path.append(str(args.candidates))
    width, height = (int(n) for n in args.size.split("x"))
    pixels = cutout(width, height)
    runs = candidates(pixels)
    names = list(runs)
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    size: dict[str, int] = {}
    exact: dict[str, bool] = {}
    for index in range(args.rounds):
        for name in names[index % len(names):] + names[:index % len(names)]:
            start, start_cpu = time.perf_counter(), time.process_time()
            data = runs[name]()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
            if name not in size:
                back = imageread.read_image("candidate", data=data)
                size[name] = len(data)
                exact[name] = bool(np.array_equal(back.rgb, pixels[..., :3]) and np.array_equal(back.alpha, pixels[..., 3]))
        print(f"round {index + 1}/{args.rounds}", file=sys.stderr, flush=True)
    print(f"{width}x{height} 16-bit RGBA, medians of {args.rounds} alternated rounds\n")
    print("| encoder | CPU s | wall s | MB | pixels exact |\n|---|---|---|---|---|")
    for name in names:
        print(f"| {name} | {statistics.median(cpu[name]):.2f} | {statistics.median(wall[name]):.2f} | "
              f"{size[name] / 1e6:.1f} | {exact[name]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
