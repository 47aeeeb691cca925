"""Measure the Blender add-on: seconds per 1080p frame and flicker, through the real Blender 3.4.

    .venv/bin/python tests/hosts/blender/measure.py [--frames 9] [--out DIR]

The clip: no real video ships with the repository, so a static shot is made from a real photo
(examples/astronaut.png resized to 1920×1080) with what a locked-off camera adds frame to frame:
sensor noise (Gaussian, σ = 3 levels) and exposure jitter (±1.5 %). Nothing in it moves, so every
change of alpha between consecutive frames is flicker. Flicker = mean |α(t) − α(t−1)| in 8-bit
levels, over the whole frame, over the subject's edge band (mean alpha in 0.05–0.95), and over
that band once the first WARM_UP frames are past (RVM's recurrent state needs a few frames).
Each setting runs Remove Background on the sequence in `blender -b` (execute path, the same code
the modal operator calls frame by frame); seconds per frame are the add-on's own per-frame times
(read pixels + engine + PNG matte), median over the frames.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
CONFIGS = [
    {"name": "u2netp", "model": "u2netp", "smoothing": 0.0},
    {"name": "u2netp-smooth0.5", "model": "u2netp", "smoothing": 0.5},
    {"name": "u2netp-smooth0.9", "model": "u2netp", "smoothing": 0.9},
    {"name": "rvm", "model": "rvm", "smoothing": 0.0},
]


def make_clip(folder: Path, frames: int) -> list[Path]:
    base = np.asarray(Image.open(REPO / "examples" / "astronaut.png").convert("RGB")
                      .resize((1920, 1080), Image.BICUBIC)).astype(np.float32)
    rng = np.random.default_rng(6)
    paths = []
    for index in range(frames):
        frame = base * (1.0 + rng.uniform(-0.015, 0.015)) + rng.normal(0.0, 3.0, base.shape)
        path = folder / f"shot_{index + 1:04d}.png"
        Image.fromarray(np.clip(np.rint(frame), 0, 255).astype(np.uint8)).save(path, compress_level=1)
        paths.append(path)
    return paths


WARM_UP = 3  # frames before RVM's recurrent state has settled


def flicker(mattes: list[np.ndarray]) -> tuple[float, float, float]:
    """(whole frame, edge band, edge band after the warm-up frames), in 8-bit levels."""
    stack = np.stack([m.astype(np.float32) for m in mattes])
    steps = np.abs(np.diff(stack, axis=0))
    mean = stack.mean(axis=0) / 255.0
    band = (mean > 0.05) & (mean < 0.95)
    return float(steps.mean()), float(steps[:, band].mean()), float(steps[WARM_UP:, band].mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="cleancut-blender-measure-"))
    (out / "clip").mkdir(parents=True, exist_ok=True)
    clip = make_clip(out / "clip", args.frames)
    cache = Path(os.environ.get("CLEANCUT_CACHE_DIR", out / "cache"))
    config = out / "config"
    env = dict(os.environ, CLEANCUT_CACHE_DIR=str(cache), CLEANCUT_CONFIG_DIR=str(config))
    for model in ("u2netp", "rvm"):
        subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", model, "-q"], env=env, check=True)
    subprocess.run([sys.executable, "-m", "cleancut", "models", "accept", "rvm"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    build = out / "build"
    from cleancut import bundles

    shutil.rmtree(build, ignore_errors=True)
    bundles.write_folder(bundles.BUNDLES["blender"], build)
    scripts = out / "scripts" / "addons"
    shutil.rmtree(scripts, ignore_errors=True)
    scripts.mkdir(parents=True)
    shutil.copytree(build / "cleancut_blender", scripts / "cleancut_blender")
    run_dir = out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir()
    params = {"out": str(run_dir), "first_file": str(clip[0]), "frames": len(clip), "width": 1920, "height": 1080,
              "configs": CONFIGS}
    (out / "params.json").write_text(json.dumps(params))
    env.update(CLEANCUT_ENGINE_PYTHON=sys.executable, CLEANCUT_OFFLINE="1", CLEANCUT_TEST_MODULE="cleancut_blender",
               BLENDER_USER_SCRIPTS=str(out / "scripts"), BLENDER_USER_CONFIG=str(out / "blender-config"))
    subprocess.run(["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(HERE / "drive.py"),
                    "--", "measure", str(out / "params.json"), str(out / "result.json")],
                   env=env, check=True, stdout=subprocess.DEVNULL, timeout=3600)
    result = json.loads((out / "result.json").read_text())
    load = os.getloadavg()
    print(f"Blender {'.'.join(map(str, result['blender']))}, {len(clip)} frames of 1920×1080, "
          f"{os.cpu_count()} cores, load average {load[0]:.1f}")
    print(f"{'setting':18} {'s/frame (median)':>17} {'flicker: frame':>15} {'edges':>7} "
          f"{'edges after frame ' + str(WARM_UP + 1):>22}")
    for item in CONFIGS:
        run = result["runs"][item["name"]]
        assert run["status"] == [["FINISHED"], None], run
        folder = run_dir / item["name"] / "shot_0001_png"
        mattes = [np.asarray(Image.open(folder / f"matte_{n:06d}.png")) for n in range(1, len(clip) + 1)]
        whole, edges, settled = flicker(mattes)
        print(f"{item['name']:18} {float(np.median(run['seconds'])):17.2f} {whole:15.3f} {edges:7.2f} {settled:22.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
