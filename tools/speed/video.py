"""What a video costs: seconds per 1080p frame and peak memory of `cleancut remove CLIP`, per output.

A real clip is made first: H.264 1920×1080 at 25 fps with AAC sound, panning across a photo
(examples/astronaut.png, scaled up). Each command runs as a whole process, alternated over
--rounds rounds; the table gives medians of wall seconds per frame (model loading included,
spread over the clip) and the process's peak RSS. The last rows run the default on a clip
--long times as long: equal peaks mean memory does not grow with the clip's length.

    .venv/bin/python tools/speed/video.py [--frames 30] [--rounds 3] [--long 4]
    .venv/bin/python tools/speed/video.py --ray [--frames 15]   # two clips: local batch vs --ray

With --ray it times instead a folder of two clips cut out by the local batch and by a bare
``--ray`` (Ray started on this machine by the command, one actor per core; each clip one task).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

PHOTO = Path(__file__).resolve().parents[2] / "examples" / "astronaut.png"
WIDTH, HEIGHT, RATE = 1920, 1080, 25

COMMANDS = {
    "cut-out → WebM VP9 + alpha (default)": [],
    "cut-out → MOV ProRes 4444": ["-o", "{dir}/out.mov"],
    "--bg white → MP4 H.264": ["--bg", "white"],
    "--mask → MP4 H.264": ["--mask"],
    "cut-out → PNG sequence": ["--format", "png"],
    "--refine off --no-decontaminate → WebM": ["--refine", "off", "--no-decontaminate"],
    "--smoothing 0.8 → WebM": ["--smoothing", "0.8"],
}


def make_clip(path: Path, frames: int) -> Path:
    """A 1080p H.264 clip with AAC sound, panning 8 px a frame across the photo."""
    photo = Image.open(PHOTO).convert("RGB").resize((2 * WIDTH, 2 * WIDTH), Image.BILINEAR)
    pixels = np.asarray(photo)
    output = av.open(str(path), "w")
    video = output.add_stream("libx264", rate=RATE, options={"crf": "18", "preset": "fast"})
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    sound = output.add_stream("aac", rate=48000, layout="stereo")
    for index in range(frames):
        window = np.ascontiguousarray(pixels[600:600 + HEIGHT, index * 8:index * 8 + WIDTH])
        frame = av.VideoFrame.from_ndarray(window, format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, RATE)
        output.mux(video.encode(frame))
    output.mux(video.encode())
    samples = frames * 48000 // RATE
    tone = (0.1 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000)).astype(np.float32)
    for start in range(0, samples, 1024):
        part = av.AudioFrame.from_ndarray(np.stack([tone[start:start + 1024]] * 2), format="fltp", layout="stereo")
        part.sample_rate, part.pts = 48000, start
        output.mux(sound.encode(part))
    output.mux(sound.encode())
    output.close()
    return path


def measure(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one command run in a process of its own."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss * 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--long", type=int, default=4, help="the memory check's clip is this many times longer")
    p.add_argument("--ray", action="store_true", help="time two clips, local batch against --ray")
    args = p.parse_args()
    cleancut = [sys.executable, "-m", "cleancut", "remove", "-q"]
    if args.ray:
        return on_ray(cleancut, args)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        clip = make_clip(folder / "clip.mp4", args.frames)
        seconds: dict[str, list[float]] = {name: [] for name in COMMANDS}
        peaks: dict[str, list[int]] = {name: [] for name in COMMANDS}
        names = list(COMMANDS)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                extra = [part.format(dir=scratch) for part in COMMANDS[name]]
                elapsed, peak = measure(cleancut + [str(clip)] + extra)
                seconds[name].append(elapsed / args.frames)
                peaks[name].append(peak)
        print(f"{args.frames} frames of {WIDTH}×{HEIGHT} H.264 + AAC, {args.rounds} rounds alternated, "
              f"{os.cpu_count()} cores")
        print("| output | s / frame | frames / s | peak RSS |")
        print("|---|---|---|---|")
        for name in names:
            per_frame = statistics.median(seconds[name])
            print(f"| {name} | {per_frame:.2f} | {1 / per_frame:.2f} | {statistics.median(peaks[name]) / 2**20:.0f} MiB |")
        long_clip = make_clip(folder / "long.mp4", args.frames * args.long)
        _, short_peak = measure(cleancut + [str(clip)])
        _, long_peak = measure(cleancut + [str(long_clip)])
        print(f"\npeak RSS, default: {args.frames} frames {short_peak / 2**20:.0f} MiB, "
              f"{args.frames * args.long} frames {long_peak / 2**20:.0f} MiB")


def on_ray(cleancut: list[str], args: argparse.Namespace) -> None:
    """Two clips in a folder: the local batch against a bare --ray, alternated; medians."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "clips"
        folder.mkdir()
        for name in ("a.mp4", "b.mp4"):
            make_clip(folder / name, args.frames)
        runs: dict[str, list[float]] = {"local batch": [], "--ray (bare: Ray started and stopped)": []}
        for round_ in range(args.rounds):
            for name in sorted(runs, reverse=round_ % 2 == 1):
                extra = ["--ray"] if name.startswith("--ray") else []
                elapsed, _ = measure(cleancut + [str(folder), "-o", f"{scratch}/out-{round_}-{len(extra)}"] + extra)
                runs[name].append(elapsed)
        print(f"2 clips of {args.frames} frames, {WIDTH}×{HEIGHT}, {args.rounds} rounds alternated, {os.cpu_count()} cores")
        for name, times in runs.items():
            print(f"| {name} | {statistics.median(times):.1f} s | {statistics.median(times) / (2 * args.frames):.2f} s / frame |")


if __name__ == "__main__":
    main()
