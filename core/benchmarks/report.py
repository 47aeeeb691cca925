"""What a bench leaves to read: results.md's tables, and green and white composites to look at.

The tables give mean / median per set and measure, and the cost of every run (wall and CPU time
per image, the engine's stages, peak memory, model load); the composites (the cut-out over flat
green and flat white) are a visual check of colour decontamination.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from . import clicking
from .runner import RunSpec
from .samples import Sample, load_alpha


def composites(rgb_or_fg: np.ndarray, alpha: np.ndarray) -> dict[str, np.ndarray]:
    """The cut-out over flat green and flat white (uint8 H×W×3 each)."""
    a = alpha.astype(np.float32)[..., None]
    fg = rgb_or_fg.astype(np.float32)
    out = {}
    for name, colour in (("green", (0, 177, 64)), ("white", (255, 255, 255))):
        out[name] = np.clip(fg * a + np.asarray(colour, np.float32) * (1 - a) + 0.5, 0, 255).astype(np.uint8)
    return out


def write_composites(spec: RunSpec, samples: list[Sample], data: dict, out: Path, count: int) -> None:
    """JPEG composites of the first ``count`` images of a run, from the colours its worker saved."""
    for s, js in list(zip(samples, data["samples"]))[:count]:
        fg_file = Path(js["fg_out"])
        if not fg_file.exists():
            continue
        colours = np.load(fg_file)
        alpha = load_alpha(Path(js["alpha_out"]))
        folder = out / "composites" / spec.slug
        folder.mkdir(parents=True, exist_ok=True)
        for name, image in composites(colours, alpha).items():
            Image.fromarray(image).save(folder / f"{s.dataset}_{s.name}_{name}.jpg", quality=92)
        fg_file.unlink()


def fmt(block: dict | None, key: str, digits: int = 2) -> str:
    """One measure of a summary block as "mean / median", or "–" when the run has none."""
    if not block or key not in block:
        return "–"
    v = block[key]
    return f"{v['mean']:.{digits}f} / {v['median']:.{digits}f}"


SCORE_TABLES = (
    ("alphamatting", "alphamatting (soft ground truth): whole image | inside the trimap's unknown band",
     (("SAD", "sad", 2), ("MSE×1e3", "mse", 2), ("grad", "grad", 3), ("conn", "conn", 2),
      ("SAD band", "sad_band", 2), ("MSE band", "mse_band", 2), ("grad band", "grad_band", 3),
      ("conn band", "conn_band", 2))),
    ("grabcut", "grabcut (binary ground truth, 128 band left out)",
     (("IoU@0.5", "iou", 4), ("IoU, unambiguous rows", "iou_unambiguous", 4), ("MAE", "mae", 4))),
    ("ecssd", "ecssd (binary ground truth, varied scenes)", (("IoU@0.5", "iou", 4), ("MAE", "mae", 4))),
)


def _score_table(results: list[dict], dataset: str, title: str, columns) -> list[str]:
    """One dataset's section: a row per run that scored it, a column per (header, key, digits)."""
    lines = [f"## {title}", "", "| tool and setting | " + " | ".join(c[0] for c in columns) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for r in results:
        block = r["summary"].get(dataset)
        if block:
            lines.append(f"| {r['label']} | " + " | ".join(fmt(block, key, digits) for _, key, digits in columns) + " |")
    return lines + [""]


def _clicks_table(results: list[dict]) -> list[str]:
    """Mean IoU with no prompt, a box and 1, 2, 3, 5 clicks, and NoC@85/90, per set and model
    (see clicking.py); the box column comes from the same model and mode's box run."""
    clicked = [r for r in results if r["spec"].get("prompt") == "clicks"]
    if not clicked:
        return []
    boxes = {(r["spec"]["model"], r["spec"]["refine"]): r["summary"] for r in results
             if r["spec"].get("prompt") == "box"}
    lines = ["## clicks (mean IoU; NoC: clicks to reach the IoU, at most 10)", "",
             "| set | tool and setting | no prompt | box | "
             + " | ".join(f"{k} click{'s' if k > 1 else ''}" for k in clicking.REPORTED)
             + " | NoC@85 | NoC@90 | s per click |", "|---" * (7 + len(clicking.REPORTED)) + "|"]
    for dataset, _, _ in SCORE_TABLES:
        for r in clicked:
            block = r["summary"].get(dataset, {}).get("clicks")
            if not block:
                continue
            box = boxes.get((r["spec"]["model"], r["spec"]["refine"]), {}).get(dataset, {}).get("iou")
            label = r["label"].replace(" +clicks", "")
            lines.append(f"| {dataset} ({block['count']}) | {label} | {block['none']:.3f} | "
                         + (f"{box['mean']:.3f}" if box else "–") + " | "
                         + " | ".join(f"{block[str(k)]:.3f}" for k in clicking.REPORTED)
                         + f" | {block['noc85']:.2f} | {block['noc90']:.2f} | {r['summary']['median_wall_s']:.2f} |")
    return lines + [""]


def markdown(results: list[dict], args) -> str:
    """results.md: a table per set, the click protocol's, then the cost of every run."""
    lines = ["# cleancut bench", "",
             f"Data: `{args.data}`; {args.threads} thread(s); values are mean / median over the images.", ""]
    for dataset, title, columns in SCORE_TABLES:
        lines += _score_table(results, dataset, title, columns)
    lines += _clicks_table(results)
    lines += ["## cost", "",
              "Per image, in process, model inference included (cleancut: also colour decontamination). "
              "CPU is the process's CPU time over all its threads (steadier than wall time on a shared "
              "machine); × off compares wall times with the same model's unrefined run.", "",
              "| tool and setting | median wall per image (s) | × off | median CPU per image (s) | "
              "segment / refine / foreground (s) | peak RSS (MiB) | model load (s) |",
              "|---|---|---|---|---|---|---|"]
    def same_run(spec: dict) -> tuple:
        return spec["tool"], spec["model"], spec["hinted"], spec.get("prompt", "")

    base = {same_run(r["spec"]): r["summary"]["median_wall_s"] for r in results if r["spec"]["refine"] == "off"}
    for r in results:
        s = r["summary"]
        off = base.get(same_run(r["spec"]))
        ratio = f"{s['median_wall_s'] / off:.2f}" if off else "–"
        stages = s.get("stages_median") or {}
        split = " / ".join(f"{stages[k]:.3f}" for k in ("segment", "refine", "foreground") if k in stages) or "–"
        cpu = f"{s['median_cpu_s']:.3f}" if s.get("median_cpu_s") is not None else "–"
        lines.append(f"| {r['label']} | {s['median_wall_s']:.3f} | {ratio} | {cpu} | {split} | "
                     f"{s['peak_rss_mib']:.0f} | {s['load_s']:.2f} |")
    return "\n".join(lines) + "\n"
