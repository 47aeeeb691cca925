"""`cleancut bench --speed`: whole commands timed beside rembg, as a user would run them.

Speed is what a user sees: a new process per command, imports, model load, decoding,
encoding and all. So every measurement here is one `cleancut remove` or `rembg` command in a
fresh process, on photos this module makes itself (deterministically, so the run can be
repeated anywhere): a batch of 1280×720 JPEGs in one folder, and one 12 MP JPEG. By default
they are the evaluation sets' varied photos (``--photos eval``: ECSSD, GrabCut and
alphamatting in turn, each centre-cropped to 16:9 or 9:16 and resized; the 12 MP photo is
alphamatting's doll with long hair); ``--photos astronaut`` makes them from crops of one
example portrait instead, as the first speed runs did. Both tools use the same u2netp file
(rembg reads it through ``U2NET_HOME``).

Commands are alternated (the order rotated every round) so a busy neighbour slows both tools
alike, and the medians of wall time are compared as ratios against rembg's median of the same
job in the same run. Peak memory is the child's own peak RSS (``wait4``'s ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import onnxruntime
from PIL import Image

from .. import arguments, fetch, licences
from ..catalog import load_catalog
from ..errors import CleancutError
from .samples import DATASETS, default_data_dir, load_samples

BATCH_SIZE = (1280, 720)
LARGE_SIZE = (4000, 3000)
MODEL = "u2netp"
# The 12 MP photo of ``--photos eval``: a subject with long hair (alphamatting's GT08).
LARGE_EVAL_PHOTO = ("alphamatting", "GT08")
# The photo ``--photos astronaut`` crops.
EXAMPLE_PHOTO = Path(__file__).resolve().parents[2] / "examples" / "astronaut.png"

# The cleancut settings compared; rembg always runs plain u2netp (its `-a` took 391 s and
# 9.9 GB for one 12 MP photo, so it is left to `cleancut bench --rembg` on small images).
SETTINGS: dict[str, list[str]] = {
    "default": [],
    "best": ["--refine", "best"],
    "off": ["--refine", "off"],
    "off-plain": ["--refine", "off", "--no-decontaminate"],
}
LABELS = {
    "default": "cleancut (default: refine fast, decontaminated colours)",
    "best": "cleancut --refine best",
    "off": "cleancut --refine off",
    "off-plain": "cleancut --refine off --no-decontaminate",
    "rembg": "rembg -m u2netp",
}


@dataclass
class Run:
    """One command in a fresh process: how long it took and its peak resident memory."""

    wall_s: float
    peak_rss_mib: float


def make_photos(photo: Path, folder: Path, count: int) -> tuple[Path, Path]:
    """``count`` 1280×720 JPEGs (varied crops and mirror images of ``photo``) and one
    4000×3000 JPEG, written under ``folder``; returns (batch folder, large photo)."""
    source = Image.open(photo).convert("RGB")
    batch = folder / "batch"
    batch.mkdir(parents=True, exist_ok=True)
    width, height = source.size
    for index in range(count):
        # Windows of 16:9 between 70 % and 100 % of the photo's width, sliding across it.
        scale = 0.7 + 0.3 * ((index * 7) % count) / max(count - 1, 1)
        crop_w = min(width, int(width * scale))
        crop_h = min(height, crop_w * 9 // 16)
        left = (width - crop_w) * ((index * 5) % count) // max(count - 1, 1)
        top = (height - crop_h) * ((index * 3) % count) // max(count - 1, 1)
        frame = source.crop((left, top, left + crop_w, top + crop_h)).resize(BATCH_SIZE, Image.Resampling.BICUBIC)
        if index % 2:
            frame = frame.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        frame.save(batch / f"photo-{index:02d}.jpg", quality=90)
    crop_h = min(height, width * 3 // 4)
    crop_w = crop_h * 4 // 3
    large = folder / "large-4000x3000.jpg"
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    source.crop((left, top, left + crop_w, top + crop_h)).resize(LARGE_SIZE, Image.Resampling.BICUBIC).save(
        large, quality=90)
    return batch, large


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` centre-cropped to the aspect of ``size`` and resized to it."""
    width, height = image.size
    scale = max(size[0] / width, size[1] / height)
    crop_w, crop_h = min(width, round(size[0] / scale)), min(height, round(size[1] / scale))
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h)).resize(size, Image.Resampling.BICUBIC)


def _shaped(image: Image.Image, size: tuple[int, int]) -> tuple[int, int]:
    """``size`` turned to the photo's orientation (a portrait photo stays a portrait)."""
    landscape = image.size[0] >= image.size[1]
    return size if landscape else (size[1], size[0])


def make_eval_photos(data: Path, folder: Path, count: int) -> tuple[Path, Path]:
    """``count`` 1280×720 (or 720×1280) JPEGs from the evaluation sets under ``data``, taken in
    turn from each set at evenly spaced places, and one 12 MP JPEG of LARGE_EVAL_PHOTO; returns
    (batch folder, large photo)."""
    by_set = [samples for samples in (load_samples(data, (name,)) for name in DATASETS) if samples]
    if not by_set:
        raise CleancutError(f"no evaluation photos under {data} (use --data DIR)")
    turns = -(-count // len(by_set))
    chosen = []
    for index in range(count):
        samples, turn = by_set[index % len(by_set)], index // len(by_set)
        chosen.append(samples[turn * len(samples) // turns % len(samples)])
    batch = folder / "batch"
    batch.mkdir(parents=True, exist_ok=True)
    for index, sample in enumerate(chosen):
        image = Image.open(sample.image).convert("RGB")
        _cover(image, _shaped(image, BATCH_SIZE)).save(
            batch / f"photo-{index:02d}-{sample.dataset}-{sample.name}.jpg", quality=90)
    everything = [s for samples in by_set for s in samples]
    large_sample = next((s for s in everything if (s.dataset, s.name) == LARGE_EVAL_PHOTO), everything[0])
    image = Image.open(large_sample.image).convert("RGB")
    large = folder / f"large-{large_sample.dataset}-{large_sample.name}.jpg"
    _cover(image, _shaped(image, LARGE_SIZE)).save(large, quality=90)
    return batch, large


def make_photo_set(kind: str, folder: Path, count: int, data: Path, photo: Path = EXAMPLE_PHOTO) -> tuple[Path, Path]:
    """The batch folder and the 12 MP photo of ``--photos kind``: "eval" (from ``data``) or
    "astronaut" (from ``photo``)."""
    if kind == "eval":
        return make_eval_photos(data, folder, count)
    return make_photos(photo, folder, count)


def _tree(pid: int) -> list[int]:
    """A process and all its descendants now (Linux /proc)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return found


def _field_kib(path: str, field: str) -> int:
    try:
        with open(path) as status:
            return next((int(line.split()[1]) for line in status if line.startswith(field)), 0)
    except (OSError, ValueError):
        return 0  # it ended meanwhile


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants now, in MiB. Pages the processes
    share (the libraries every worker maps) count once per process, so a pool is charged a
    little more than it costs. (Proportional memory, /proc/PID/smaps_rollup, would count them
    once, but reading it every 20 ms took a third of a core from the commands measured.)"""
    return sum(_field_kib(f"/proc/{p}/status", "VmRSS:") for p in _tree(pid)) / 1024


def timed(command: list[str], env: dict[str, str]) -> Run:
    """Run ``command`` in a new process; its wall time and the peak memory of its process tree.

    The RSS peak is the larger of the process's own peak RSS (exact, from ``wait4``) and the
    highest sum over the process and its children seen every 20 ms (a batch's worker
    processes hold memory at the same time, which a per-process peak would not show).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    peak_tree = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not stop.wait(0.02):
            peak_tree = max(peak_tree, tree_rss_mib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    errors = proc.stderr.read()
    stop.set()
    sampler.join()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (exit {proc.returncode}):\n"
                           f"{errors.decode(errors='replace')[-2000:]}")
    return Run(wall_s=wall, peak_rss_mib=max(usage.ru_maxrss / 1024, peak_tree))  # ru_maxrss is in KiB


def commands(tool: str, job: str, source: Path, target: Path, rembg: Path) -> list[str]:
    """The command line of ``tool`` ("rembg" or a key of SETTINGS) for one job."""
    if tool == "rembg":
        return [str(rembg), "p" if job == "batch" else "i", "-m", MODEL, str(source), str(target)]
    return [sys.executable, "-m", "cleancut", "remove", str(source), "-o", str(target), "-q",
            "--model", MODEL, *SETTINGS[tool]]


def _outputs(target: Path, job: str) -> int:
    return len(list(target.glob("*.png"))) if job == "batch" else int(target.is_file())


def measure(jobs: dict[str, Path], tools: list[str], rounds: int, rembg: Path, env: dict[str, str],
            scratch: Path, expected: dict[str, int], log=print) -> dict[str, dict[str, list[Run]]]:
    """Every tool on every job, ``rounds`` times, alternated: per job, per tool, its runs."""
    runs: dict[str, dict[str, list[Run]]] = {job: {tool: [] for tool in tools} for job in jobs}
    for round_index in range(rounds):
        order = tools[round_index % len(tools):] + tools[:round_index % len(tools)]
        for job, source in jobs.items():
            for tool in order:
                target = scratch / f"{job}-{tool}" / ("" if job == "batch" else "out.png")
                shutil.rmtree(scratch / f"{job}-{tool}", ignore_errors=True)
                (scratch / f"{job}-{tool}").mkdir(parents=True)
                run = timed(commands(tool, job, source, target, rembg), env)
                made = _outputs(target, job)
                if made != expected[job]:
                    raise RuntimeError(f"{tool} on {job} wrote {made} files, not {expected[job]}")
                runs[job][tool].append(run)
                log(f"  round {round_index + 1}/{rounds} {job:5} {tool:9} {run.wall_s:6.2f} s "
                    f"{run.peak_rss_mib:6.0f} MiB")
    return runs


def summarise(runs: dict[str, dict[str, list[Run]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Medians per job and tool, with the ratio to rembg's median wall time and peak memory."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for job, by_tool in runs.items():
        base_wall = statistics.median(r.wall_s for r in by_tool["rembg"])
        base_rss = statistics.median(r.peak_rss_mib for r in by_tool["rembg"])
        table[job] = {}
        for tool, tool_runs in by_tool.items():
            wall = statistics.median(r.wall_s for r in tool_runs)
            rss = statistics.median(r.peak_rss_mib for r in tool_runs)
            table[job][tool] = {"wall_s": wall, "peak_rss_mib": rss, "wall_ratio": wall / base_wall,
                                "rss_ratio": rss / base_rss, "runs": len(tool_runs),
                                "spread_s": max(r.wall_s for r in tool_runs) - min(r.wall_s for r in tool_runs)}
    return table


def markdown(table: dict, meta: dict) -> str:
    """The README's speed table: wall time and peak memory (RSS summed over the process tree),
    each with its ratio to rembg's."""
    count = meta["batch_count"]
    lines = [f"`cleancut bench --speed --photos {meta['photos_kind']}`, {meta['date']}, {meta['machine']}, medians of "
             f"{meta['rounds']} alternated runs, load average {meta['load_before']:.2f} before / "
             f"{meta['load_after']:.2f} after; rembg {meta['rembg_version']}, onnxruntime {meta['onnxruntime']}, "
             "same u2netp file.",
             "",
             f"| command | {count} photos at 1280×720 → PNG | vs rembg | peak RSS | vs rembg | "
             "one 12 MP photo → PNG | vs rembg | peak RSS | vs rembg |",
             "|---|---|---|---|---|---|---|---|---|"]
    for tool in table["batch"]:
        b, l = table["batch"][tool], table["large"][tool]
        lines.append(f"| {LABELS[tool]} | {b['wall_s']:.2f} s | {b['wall_ratio']:.2f}× | {b['peak_rss_mib']:.0f} MiB | "
                     f"{b['rss_ratio']:.2f}× | "
                     f"{l['wall_s']:.2f} s | {l['wall_ratio']:.2f}× | {l['peak_rss_mib']:.0f} MiB | {l['rss_ratio']:.2f}× |")
    return "\n".join(lines) + "\n"


def _rembg_script(python: str) -> Path | None:
    """The `rembg` command installed beside ``python`` (rembg's CLI entry point)."""
    script = Path(python).parent / "rembg"
    probe = subprocess.run([python, "-c", "import rembg.cli"], capture_output=True)
    return script if probe.returncode == 0 and script.is_file() else None


def _version(python: str, module: str) -> str:
    probe = subprocess.run([python, "-c", f"import importlib.metadata as m; print(m.version({module!r}))"],
                           capture_output=True, text=True)
    return probe.stdout.strip() or "?"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cleancut bench --speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--rembg-python", required=True,
                   help="Python interpreter that has rembg installed (pip install 'rembg[cpu,cli]')")
    p.add_argument("--photos", choices=("eval", "astronaut"), default="eval",
                   help="eval: the evaluation sets' varied photos (default); astronaut: crops of one portrait")
    p.add_argument("--data", type=Path, default=default_data_dir(),
                   help="evaluation data folder for --photos eval (default: ../shared/eval)")
    p.add_argument("--photo", type=Path, default=EXAMPLE_PHOTO,
                   help="the example photo of --photos astronaut (default examples/astronaut.png)")
    p.add_argument("--rounds", type=arguments.count, default=5, help="runs of every command (default 5)")
    p.add_argument("--count", type=arguments.count, default=30, help="photos in the batch (default 30)")
    p.add_argument("--settings", default=",".join(SETTINGS),
                   help=f"cleancut settings to time (default {','.join(SETTINGS)})")
    p.add_argument("--out", type=Path, default=Path("out/bench"), help="where speed.md/.json go (default out/bench)")
    args = p.parse_args(argv)
    args.settings = [s for s in args.settings.split(",") if s]
    for setting in args.settings:
        if setting not in SETTINGS:
            p.error(f"--settings: {setting!r} is not one of {', '.join(SETTINGS)}")
    if args.rounds < 1 or args.count < 1:
        p.error("--rounds and --count must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    rembg = _rembg_script(args.rembg_python)
    if rembg is None:
        print(f"cleancut bench --speed: no rembg command beside {args.rembg_python} "
              "(pip install 'rembg[cpu,cli]' in that environment)", file=sys.stderr)
        return 2
    if args.photos == "astronaut" and not args.photo.is_file():
        print(f"cleancut bench --speed: no photo at {args.photo} (use --photo FILE)", file=sys.stderr)
        return 2
    if args.photos == "eval" and not args.data.is_dir():
        print(f"cleancut bench --speed: no evaluation data at {args.data} (use --data DIR)", file=sys.stderr)
        return 2
    try:
        entry = load_catalog().get(MODEL)
        licences.check(entry)
        weights = fetch.ensure(entry)
    except CleancutError as err:
        print(f"cleancut bench --speed: {err}", file=sys.stderr)
        return 1
    tools = ["rembg", *args.settings]
    with tempfile.TemporaryDirectory(prefix="cleancut-speed-") as tmp:
        scratch = Path(tmp)
        home = scratch / "u2net"
        home.mkdir()
        os.symlink(weights, home / f"{MODEL}.onnx")
        env = dict(os.environ, U2NET_HOME=str(home))
        batch, large = make_photo_set(args.photos, scratch / "photos", args.count, args.data, args.photo)
        jobs = {"batch": batch, "large": large}
        # One untimed pass of each tool so that both start from a warm disk cache.
        measure(jobs, tools, 1, rembg, env, scratch / "runs", {"batch": args.count, "large": 1}, log=lambda _: None)
        load_before = os.getloadavg()[0]
        runs = measure(jobs, tools, args.rounds, rembg, env, scratch / "runs", {"batch": args.count, "large": 1},
                       log=lambda line: print(line, file=sys.stderr, flush=True))
        load_after = os.getloadavg()[0]
    meta = {"date": time.strftime("%Y-%m-%d"), "rounds": args.rounds, "batch_count": args.count,
            "machine": f"{os.cpu_count()} cores {platform.machine()}", "load_before": load_before,
            "load_after": load_after, "rembg_version": _version(args.rembg_python, "rembg"),
            "onnxruntime": onnxruntime.__version__, "photos_kind": args.photos,
            "photos": str(args.data) if args.photos == "eval" else str(args.photo), "large": large.name}
    table = summarise(runs)
    args.out.mkdir(parents=True, exist_ok=True)
    raw = {job: {tool: [r.__dict__ for r in tool_runs] for tool, tool_runs in by_tool.items()}
           for job, by_tool in runs.items()}
    (args.out / "speed.json").write_text(json.dumps({"meta": meta, "summary": table, "runs": raw}, indent=1))
    text = markdown(table, meta)
    (args.out / "speed.md").write_text(text)
    print(text)
    return 0
