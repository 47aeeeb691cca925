"""`cleancut bench`: cleancut and rembg side by side on the evaluation sets.

A command, not a timed test. For every tool and setting it runs one worker process (so wall
time and peak RSS are honest and each tool gets the same interpreter state), which writes one
alpha PNG per image plus its timings; then this process scores the alphas against the ground
truth and writes ``results.json`` and ``results.md`` (plus flat green and white composites for a
visual check of colour decontamination). ``cleancut bench --speed`` times whole commands
instead (speed.py).

The sets and their files are samples.py's, the measures scoring.py's, the worker processes
runner.py's and worker.py's, the tables report.py's. Hinted runs (``--hints``) score only the
images that have a user hint (ecssd has none); box and click runs (``--prompt box,clicks``)
score every set, click runs with the interactive protocol of clicking.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .. import arguments, licences
from ..catalog import load_catalog
from ..errors import CleancutError
from ..options import REFINE_MODES
from . import speed, worker
from .report import fmt, markdown, write_composites
from .runner import RunSpec, run_spec
from .samples import DATASETS, ENV_DATA, default_data_dir, load_samples, screen_samples
from .scoring import score_run, summarise

ENV_WEIGHTS = "CLEANCUT_BENCH_WEIGHTS"
TTA_CHOICES = ("flip",)
PROMPT_CHOICES = ("box", "clicks")


def build_specs(args) -> list[RunSpec]:
    """The runs the options ask for, in the order they run and are reported."""
    specs = []
    if args.rembg:
        for model in args.models:
            if model.startswith("u2net"):
                specs += [RunSpec("rembg", model, "off"), RunSpec("rembg", model, "alpha_matting")]
    for model in args.models:
        for mode in args.refine:
            specs.append(RunSpec("cleancut", model, mode, tta=args.tta))
            if args.hints:
                specs.append(RunSpec("cleancut", model, mode, hinted=True, tta=args.tta))
            for prompt in args.prompt:
                specs.append(RunSpec("cleancut", model, mode, tta=args.tta, prompt=prompt))
    return specs


def parse_args(argv: list[str]) -> argparse.Namespace:
    """``cleancut bench``'s options; refine modes and thread limits are the engine's own."""
    p = argparse.ArgumentParser(prog="cleancut bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=default_data_dir(),
                   help=f"evaluation data folder (default: ../shared/eval, or ${ENV_DATA})")
    p.add_argument("--out", type=Path, default=Path("out/bench"), help="where results go (default out/bench)")
    p.add_argument("--models", default="u2netp", help="comma-separated model ids (default u2netp)")
    p.add_argument("--refine", default=",".join(REFINE_MODES), help="comma-separated refine modes")
    p.add_argument("--rembg", action="store_true", help="also run rembg (plain and -a) on the same model files")
    p.add_argument("--rembg-python", default=None,
                   help="Python interpreter that has rembg installed (default: this one)")
    p.add_argument("--hints", action="store_true",
                   help="also run hinted mode with the datasets' trimaps (alphamatting trimap2, grabcut lasso)")
    p.add_argument("--prompt", default="",
                   help="also run with prompts, comma-separated, on every set: box (the bounds of the "
                        "grabcut lasso, of the ecssd and alphamatting ground truth as the hint), clicks "
                        "(the interactive protocol: simulated include / exclude clicks, see clicking.py)")
    p.add_argument("--tta", default="", help="cleancut test-time settings: 'flip' also runs the mirrored image")
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--limit", type=arguments.count, default=None, help="only the first N images of each dataset")
    p.add_argument("--threads", type=arguments.threads, default=2, help="threads per tool (default 2)")
    p.add_argument("--weights", type=Path, default=os.environ.get(ENV_WEIGHTS) or None,
                   help=f"folder holding MODEL.onnx files (default: the model cache, or ${ENV_WEIGHTS})")
    p.add_argument("--composites", type=arguments.count_or_zero, default=5,
                   help="write green and white composites for the first N images of each run")
    args = p.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        p.error(f"--out {args.out} is a file; give a folder for the results (it is created if absent)")
    args.models = [m for m in args.models.split(",") if m]
    args.refine = [m for m in args.refine.split(",") if m]
    for mode in args.refine:
        if mode not in REFINE_MODES:
            p.error(f"--refine: {mode!r} is not one of {', '.join(REFINE_MODES)}")
    for setting in filter(None, args.tta.split("+")):
        if setting not in TTA_CHOICES:
            p.error(f"--tta: {setting!r} is not one of {', '.join(TTA_CHOICES)}")
    args.prompt = [m for m in args.prompt.split(",") if m]
    for prompt in args.prompt:
        if prompt not in PROMPT_CHOICES:
            p.error(f"--prompt: {prompt!r} is not one of {', '.join(PROMPT_CHOICES)}")
    args.datasets = [d for d in args.datasets.split(",") if d]
    if args.weights is not None:
        args.weights = Path(args.weights)
    return args


def licence_gate(models: list[str]) -> str | None:
    """Why these models may not run here (the same gate as `cleancut remove`), or None.

    Whatever weights file a run uses (--weights, the cache, mirrored with --tta), the model
    id decides the licence: bench is no way around an acceptance or the commercial policy.
    """
    try:
        catalog = load_catalog()
        for model in models:
            for entry in catalog.resolve(model)[0]:
                licences.check(entry)
    except CleancutError as err:
        return str(err)
    return None


def main(argv: list[str] | None = None) -> int:
    """``cleancut bench ARGS``: 0 when the results are written, 1 when a run failed or a licence
    refuses, 2 when there is nothing to run."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:  # the worker's own entry is `python -m cleancut.benchmarks.worker`
        return worker.main(argv[1:])
    if "--speed" in argv:  # whole commands beside rembg: its own options, see speed.py
        return speed.main([a for a in argv if a != "--speed"])
    args = parse_args(argv)
    refused = licence_gate(args.models)
    if refused:
        print(f"cleancut bench: {refused}", file=sys.stderr)
        return 1
    if not args.data.is_dir():
        print(f"cleancut bench: no evaluation data at {args.data} (use --data DIR or ${ENV_DATA})", file=sys.stderr)
        return 2
    samples, refused_samples = screen_samples(load_samples(args.data, args.datasets, args.limit))
    for sample, why in refused_samples:
        print(f"cleancut bench: left out {sample.dataset}/{sample.name}: {why}", file=sys.stderr)
    if not samples:
        print(f"cleancut bench: no evaluation images under {args.data}/{{{','.join(args.datasets)}}} "
              "(manifest.csv, or image/ and alpha/ folders)", file=sys.stderr)
        return 2
    if args.rembg:
        python = args.rembg_python or sys.executable
        probe = subprocess.run([python, "-c", "import rembg"], capture_output=True, text=True)
        if probe.returncode != 0:
            print(f"cleancut bench: --rembg needs rembg in {python} (pip install 'rembg[cpu,cli]' there, "
                  "or point --rembg-python at an interpreter that has it)", file=sys.stderr)
            return 2
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"cleancut bench: cannot create --out {args.out} ({err.strerror})", file=sys.stderr)
        return 2
    results = []
    for spec in build_specs(args):
        # A hinted run scores only the images that have a user hint (ecssd has none); a box run
        # (its box from the lasso or the ground truth) scores them all.
        run_samples = [s for s in samples if s.hint] if spec.hinted else samples
        print(f"running {spec.label} on {len(run_samples)} images …", file=sys.stderr, flush=True)
        try:
            data = run_spec(spec, run_samples, args.out, args)
        except (RuntimeError, OSError) as err:
            print(f"cleancut bench: {err}", file=sys.stderr)
            return 1
        per_image = score_run(spec, run_samples, data)
        write_composites(spec, run_samples, data, args.out, args.composites)
        summary = summarise(per_image, data)
        results.append({"label": spec.label, "spec": spec.__dict__, "summary": summary,
                        "per_image": per_image, "stages": data.get("stages", {}),
                        "engine_path": data.get("path", "rembg")})
        am = summary.get("alphamatting", {})
        gc = summary.get("grabcut", {})
        ec = summary.get("ecssd", {})
        print(f"  SAD {fmt(am, 'sad')}  grad {fmt(am, 'grad', 3)}  IoU {fmt(gc, 'iou', 4)}  "
              f"ECSSD IoU {fmt(ec, 'iou', 4)}  "
              f"wall {summary['median_wall_s']:.3f}s  RSS {summary['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    meta = {"data": str(args.data), "threads": args.threads, "limit": args.limit, "images": len(samples),
            "left_out": {f"{s.dataset}/{s.name}": why for s, why in refused_samples}}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "runs": results}, indent=1))
    (args.out / "results.md").write_text(markdown(results, args))
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
