"""Throughput of `cleancut remove` on one machine against `--ray` (issue 15).

The batch: the speed benchmark's (`cleancut bench --speed`, core/benchmarks/speed.py's make_photos): 30
JPEGs of 1280×720 made from examples/astronaut.png. Each configuration runs the same command
on it as a new process (u2netp cached, default options, outputs to a fresh folder):

* ``local``: ``cleancut remove DIR -o OUT`` (its default pool: one worker process per core);
* ``ray-start``: ``--ray`` (starts Ray on this machine, stops it at the end: start-up included);
* ``ray-1node``: ``--ray ADDRESS``, one `ray start` node with 2 CPUs (2 actors);
* ``ray-2nodes``: ``--ray ADDRESS``, two `ray start` nodes with 1 CPU each (2 actors).

The two clusters are started once, before the runs (their start-up times are reported), and
stay up during every run, local ones included; the runs alternate configurations, the order
rotating each round, because the machine is shared. Reported per configuration: median wall
time and files/s, the median of what the command itself says (Ray connection time, first actor
ready, peak RSS per actor), the local command's peak memory (its process tree, as `bench
--speed` measures it), the load average (1 min) at each start, and the bytes that pass through
the driver (inputs in, cut-outs out).

    .venv/bin/python tools/speed/ray_speed.py [--runs 3] [--files 30] [--out out/ray_speed]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "hosts")]  # raynodes and the host kit it uses

from raynodes import Node, free_port  # noqa: E402  (the tests' own node launcher)

from cleancut.benchmarks import speed  # noqa: E402


def start_cluster(cpus: list[int], env: dict[str, str]) -> tuple[str, list[Node], float, str]:
    """One node per entry of ``cpus`` (loopback 127.0.0.2, .3, ...); address, nodes, seconds."""
    temp_dir = tempfile.mkdtemp(prefix="ccbench-", dir="/tmp")
    port = free_port()
    started = time.perf_counter()
    nodes = [Node("127.0.0.2", ["--head", f"--port={port}", f"--num-cpus={cpus[0]}", "--include-dashboard=false",
                                f"--ray-client-server-port={free_port()}"], env, temp_dir)]
    for index, count in enumerate(cpus[1:], start=3):
        nodes.append(Node(f"127.0.0.{index}", [f"--address=127.0.0.2:{port}", f"--num-cpus={count}"], env, temp_dir))
    return f"127.0.0.2:{port}", nodes, time.perf_counter() - started, temp_dir


def run_once(batch: Path, out: Path, extra: list[str], env: dict[str, str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    load = os.getloadavg()[0]
    if not extra:  # the local command: bench --speed's own timing, with its process tree's memory
        run = speed.timed([sys.executable, "-m", "cleancut", "remove", str(batch), "-o", str(out), "-q"], env)
        return {"wall_s": run.wall_s, "load": load, "peak_rss_mib": run.peak_rss_mib}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cleancut", "remove", str(batch), "-o", str(out), *extra],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(extra) or 'local'} failed:\n{done.stderr}")
    record = {"wall_s": wall, "load": load}
    ray_line = next((line for line in done.stderr.splitlines() if "files per node" in line), "")
    for key, pattern in (("connect_s", r"connected in ([\d.]+) s"), ("first_ready_s", r"first actor ready after ([\d.]+) s")):
        found = re.search(pattern, ray_line)
        if found:
            record[key] = float(found.group(1))
    found = re.search(r"peak memory per actor (\d+)(?:–(\d+))? MiB", ray_line)
    if found:
        record["actor_rss_mib"] = [int(found.group(1)), int(found.group(2) or found.group(1))]
    return record


def summarise(records: list[dict], files: int) -> dict:
    walls = [r["wall_s"] for r in records]
    summary = {"runs": len(records), "median_wall_s": statistics.median(walls), "walls_s": walls,
               "files_per_s": files / statistics.median(walls), "median_load": statistics.median(r["load"] for r in records)}
    for key in ("connect_s", "first_ready_s"):
        values = [r[key] for r in records if key in r]
        if values:
            summary[f"median_{key}"] = statistics.median(values)
    rss = [value for r in records for value in r.get("actor_rss_mib", [])]
    if rss:
        summary["actor_rss_mib"] = [min(rss), max(rss)]
    if any("peak_rss_mib" in r for r in records):
        summary["median_peak_rss_mib"] = statistics.median(r["peak_rss_mib"] for r in records if "peak_rss_mib" in r)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "ray_speed")
    args = parser.parse_args()

    import platformdirs

    work = Path(tempfile.mkdtemp(prefix="ray-speed-"))
    home = work / "home"  # Ray's token file and the like stay out of the user's home
    home.mkdir()
    env = dict(os.environ, CLEANCUT_CACHE_DIR=os.environ.get("CLEANCUT_CACHE_DIR") or platformdirs.user_cache_dir("cleancut"),
               CLEANCUT_CONFIG_DIR=os.environ.get("CLEANCUT_CONFIG_DIR") or platformdirs.user_config_dir("cleancut"),
               HOME=str(home), RAY_USAGE_STATS_ENABLED="0", RAY_TMPDIR=tempfile.mkdtemp(prefix="ccb-", dir="/tmp"))
    env.pop("RAY_ADDRESS", None)
    batch, _ = speed.make_photos(ROOT / "examples" / "astronaut.png", work / "photos", args.files)
    subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", "u2netp", "-q"], env=env, check=True)

    one_address, one_nodes, one_start, one_tmp = start_cluster([2], env)
    two_address, two_nodes, two_start, two_tmp = start_cluster([1, 1], env)
    configs = {"local": [], "ray-start": ["--ray"], "ray-1node": ["--ray", one_address],
               "ray-2nodes": ["--ray", two_address]}
    results: dict[str, list[dict]] = {name: [] for name in configs}
    try:
        names = list(configs)
        for round_index in range(args.runs):
            order = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in order:
                record = run_once(batch, work / f"out-{name}", configs[name], env)
                results[name].append(record)
                print(f"round {round_index + 1} {name}: {record}", file=sys.stderr)
    finally:
        for node in two_nodes[::-1] + one_nodes[::-1]:
            node.stop()
        for folder in (one_tmp, two_tmp, env["RAY_TMPDIR"]):
            shutil.rmtree(folder, ignore_errors=True)

    report = {"files": args.files, "size": "1280x720 JPEG", "cpus": os.cpu_count(),
              "bytes_in": sum(p.stat().st_size for p in batch.iterdir()), "load_after": os.getloadavg()[0],
              "bytes_out": sum(p.stat().st_size for p in (work / "out-local").iterdir()),
              "cluster_start_s": {"1 node (2 CPUs)": one_start, "2 nodes (1 CPU each)": two_start},
              "configs": {name: summarise(records, args.files) for name, records in results.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
