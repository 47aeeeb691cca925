"""One tool and setting over the samples, in a process of its own.

Every run gets a fresh worker process, so wall time and peak RSS are honest and each tool
starts from the same interpreter state: cleancut's is ``python -m cleancut.benchmarks.worker``
(see worker.py), rembg's is :data:`REMBG_WORKER` under whichever Python has rembg. A job file
says what to run; the worker writes one alpha PNG per image and a JSON of its timings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .. import fetch
from ..catalog import load_catalog
from .samples import Sample


@dataclass(frozen=True)
class RunSpec:
    """One tool and setting: a worker process runs it over every sample."""

    tool: str  # "cleancut" or "rembg"
    model: str
    refine: str = "off"  # cleancut: off/fast/best; rembg: "off" or "alpha_matting"
    hinted: bool = False
    tta: str = ""  # cleancut only: test-time settings joined by "+" ("flip": also the mirrored image)
    prompt: str = ""  # cleancut only: "box" passes a box prompt as the hint (never with hinted)

    @property
    def label(self) -> str:
        if self.tool == "rembg":
            return f"rembg {self.model}" + (" -a" if self.refine == "alpha_matting" else "")
        label = f"cleancut {self.model} --refine {self.refine}"
        if self.tta:
            label += f" [{self.tta}]"
        return label + (" +hint" if self.hinted else "") + (f" +{self.prompt}" if self.prompt else "")

    @property
    def slug(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.label).strip("_")


# The rembg worker runs under whichever Python has rembg installed; it is self-contained.
REMBG_WORKER = r'''
import json, os, resource, sys, time
job = json.load(open(sys.argv[1]))
os.environ["U2NET_HOME"] = job["u2net_home"]
import numpy as np
from PIL import Image
from rembg import new_session, remove
t0 = time.perf_counter()
session = new_session(job["model"])
load = time.perf_counter() - t0
times, cpu = {}, {}
for i, s in enumerate(job["samples"]):
    img = Image.open(s["image"]).convert("RGB")
    start, cpu_start = time.perf_counter(), time.process_time()
    cut = remove(img, session=session, alpha_matting=job["refine"] == "alpha_matting")
    times[s["key"]] = time.perf_counter() - start
    cpu[s["key"]] = time.process_time() - cpu_start
    os.makedirs(os.path.dirname(s["alpha_out"]), exist_ok=True)
    cut.getchannel("A").save(s["alpha_out"])
    if i < job["composites"]:
        np.save(s["fg_out"], np.asarray(cut.convert("RGB")))
json.dump({"times": times, "cpu": cpu, "load_s": load,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0},
          open(job["result"], "w"))
'''


def _weights_file(model: str, weights: Path | None) -> Path:
    if weights is not None:
        return weights / f"{model}.onnx"
    return Path(fetch.ensure(load_catalog().get(model)))


def _job_samples(samples: list[Sample], out: Path, spec: RunSpec) -> list[dict]:
    rows = []
    for s in samples:
        key = f"{s.dataset}/{s.name}"
        rows.append({"key": key, "dataset": s.dataset, "image": str(s.image),
                     "hint": str(s.hint) if s.hint else None, "truth": str(s.alpha),
                     "alpha_out": str(out / "alphas" / spec.slug / s.dataset / f"{s.name}.png"),
                     "fg_out": str(out / "tmp" / spec.slug / f"{s.dataset}_{s.name}.npy")})
    return rows


def run_spec(spec: RunSpec, samples: list[Sample], out: Path, args) -> dict:
    """Run one tool and setting in its own process; returns its timings and peak RSS."""
    job_samples = _job_samples(samples, out, spec)
    (out / "tmp" / spec.slug).mkdir(parents=True, exist_ok=True)
    result = out / "tmp" / f"{spec.slug}.json"
    job = {"spec": spec.__dict__, "samples": job_samples, "threads": args.threads,
           "weights": str(args.weights) if args.weights else None, "result": str(result),
           "composites": args.composites, "model": spec.model, "refine": spec.refine}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", NUMBA_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as home:
        if spec.tool == "rembg":
            os.symlink(_weights_file(spec.model, args.weights), Path(home) / f"{spec.model}.onnx")
            job["u2net_home"] = home
            command = [args.rembg_python or sys.executable, "-c", REMBG_WORKER]
        else:
            command = [sys.executable, "-m", "cleancut.benchmarks.worker"]
        job_file = out / "tmp" / f"{spec.slug}.job.json"
        job_file.write_text(json.dumps(job))
        start = time.perf_counter()
        proc = subprocess.run(command + [str(job_file)], env=env, capture_output=True, text=True)
        total = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.label} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(result.read_text())
    data["total_s"] = total
    data["samples"] = job_samples
    return data
