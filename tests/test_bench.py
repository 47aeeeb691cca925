"""`cleancut bench`: a set laid out like ../shared/eval/ecssd (image/ and alpha/, no manifest),
every cleancut run through the engine's own pipeline.remove, and box prompt runs."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cleancut import fetch, pipeline, prompts
from cleancut.benchmarks import clicking, command, runner, samples, worker
from cleancut.catalog import Preset, load_catalog
from cleancut.errors import LicenceError
from cleancut.options import Options

from support import catalog_entry, red_channel_model


def ecssd_like(root: Path, masks: dict[str, np.ndarray]) -> Path:
    """A set whose photos' red channel is the ground-truth mask (the red model's alpha is R/255),
    plus an image without ground truth that must be left out."""
    (root / "ecssd" / "image").mkdir(parents=True)
    (root / "ecssd" / "alpha").mkdir()
    for name, mask in masks.items():
        rgb = np.dstack([mask, np.full_like(mask, 90), np.full_like(mask, 160)])
        Image.fromarray(rgb).save(root / "ecssd" / "image" / f"{name}.jpg", quality=100)
        Image.fromarray(mask).save(root / "ecssd" / "alpha" / f"{name}.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "ecssd" / "image" / "no-truth.jpg")
    return root


def square(offset: int) -> np.ndarray:
    mask = np.zeros((16, 16), np.uint8)
    mask[offset:offset + 8, offset:offset + 8] = 255
    return mask


def test_a_set_without_a_manifest_pairs_its_images_and_alphas_by_name(tmp_path):
    ecssd_like(tmp_path, {"0002": square(2), "0001": square(4)})
    found = samples.load_samples(tmp_path, ("ecssd",))
    assert [(s.dataset, s.name, s.image.name, s.alpha.name, s.hint) for s in found] == [
        ("ecssd", "0001", "0001.jpg", "0001.png", None), ("ecssd", "0002", "0002.jpg", "0002.png", None)]


def test_bench_scores_the_set_by_iou_against_its_binary_ground_truth(tmp_path, engine_models):
    red, _ = engine_models
    ecssd_like(tmp_path / "data", {"0001": square(2), "0002": square(5)})
    done = subprocess.run([sys.executable, "-m", "cleancut", "bench", "--data", str(tmp_path / "data"),
                           "--datasets", "ecssd", "--models", red, "--refine", "off", "--out", str(tmp_path / "out"),
                           "--composites", "0", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "results.json").read_text())["runs"][0]["summary"]
    assert summary["ecssd"]["count"] == 2
    assert summary["ecssd"]["iou"] == {"mean": 1.0, "median": 1.0}
    assert "## ecssd" in (tmp_path / "out" / "results.md").read_text()


# --------------------------------------------------------------------------- one engine

def ramp_model() -> bytes:
    """The red-channel graph times a left-to-right ramp (x / 15 on its 16×16 input): unlike the
    red model it is not the same mirrored, so a mirrored run shows in its alpha (R/255 / 2)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(red_channel_model())
    ramp = np.broadcast_to(np.arange(16, dtype=np.float32) / 15, (1, 1, 16, 16)).copy()
    model.graph.initializer.append(numpy_helper.from_array(ramp, "ramp"))
    model.graph.node[0].output[0] = "red"
    model.graph.node.append(helper.make_node("Mul", ["red", "ramp"], ["prob"]))
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 1, 16, 16]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture
def ramp(engine_models, server):
    """A cached catalog model 'ramp' running ramp_model()."""
    data = ramp_model()
    path = Path(os.environ["CLEANCUT_CATALOG"])
    path.write_text(path.read_text(encoding="utf-8") + catalog_entry(
        "ramp", data, f'{{ kind = "url", url = "{server.add("/ramp.onnx", "ok", data)}" }}'), encoding="utf-8")
    fetch.ensure(load_catalog().get("ramp"), progress=False)
    return "ramp"


def run_bench(data: Path, out: Path, *args: str) -> list[dict]:
    """`cleancut bench --refine off` in its own process; the runs of its results.json."""
    done = subprocess.run([sys.executable, "-m", "cleancut", "bench", "--data", str(data), "--out", str(out),
                           "--refine", "off", "--composites", "0", "--threads", "1", *args],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "results.json").read_text())["runs"]


def bench_alpha(out: Path, spec: runner.RunSpec, dataset: str, name: str) -> np.ndarray:
    return samples.load_alpha(out / "alphas" / spec.slug / dataset / f"{name}.png")


def engine_alpha(image: Path, plan: pipeline.Plan, hint: np.ndarray | None = None) -> np.ndarray:
    """The engine's own alpha for this photo, in this process."""
    return pipeline.remove(samples.read_rgb(image), Options(refine="off", threads=1), hint=hint, plan=plan).alpha


def test_a_run_on_a_weights_folder_goes_through_the_engine_with_that_folders_file(engine_models, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "red.onnx").write_bytes(ramp_model())  # not red's file: its alpha shows which file ran
    ecssd_like(tmp_path / "data", {"0001": square(2)})
    runs = run_bench(tmp_path / "data", tmp_path / "out", "--models", "red", "--weights", str(weights))
    red = load_catalog().get("red")
    own = engine_alpha(tmp_path / "data" / "ecssd" / "image" / "0001.jpg",
                       pipeline.Plan(entries=(red,), preset=None, paths=(weights / "red.onnx",), refine="off"))
    assert [(r["label"], r["engine_path"]) for r in runs] == [("cleancut red --refine off", "pipeline")]
    ran = bench_alpha(tmp_path / "out", runner.RunSpec("cleancut", "red"), "ecssd", "0001")
    assert np.abs(ran - own).max() <= 1 / 65535
    assert np.abs(own - engine_alpha(tmp_path / "data" / "ecssd" / "image" / "0001.jpg",
                                     pipeline.prepare(Options(model="red", refine="off")))).max() > 0.1


def test_a_mirrored_run_goes_through_the_engine_with_the_model_mirrored(ramp, tmp_path):
    ecssd_like(tmp_path / "data", {"0001": square(2)})
    runs = run_bench(tmp_path / "data", tmp_path / "out", "--models", ramp, "--tta", "flip")
    plan = pipeline.prepare(Options(model=ramp, refine="off"))
    mirrored = pipeline.Plan(entries=plan.entries, preset=Preset(id=ramp, name="ramp", models=(ramp,), flip=(ramp,)),
                             paths=plan.paths, refine="off")
    own = engine_alpha(tmp_path / "data" / "ecssd" / "image" / "0001.jpg", mirrored)
    assert [(r["label"], r["engine_path"]) for r in runs] == [("cleancut ramp --refine off [flip]", "pipeline")]
    assert np.abs(bench_alpha(tmp_path / "out", runner.RunSpec("cleancut", ramp, tta="flip"), "ecssd", "0001")
                  - own).max() <= 1 / 65535
    assert np.abs(own - engine_alpha(tmp_path / "data" / "ecssd" / "image" / "0001.jpg", plan)).max() > 0.1


def test_an_engine_run_reports_the_engines_own_stage_timings(engine_models, tmp_path):
    ecssd_like(tmp_path / "data", {"0001": square(2)})
    runs = run_bench(tmp_path / "data", tmp_path / "out", "--models", "red", "--tta", "flip")
    assert sorted(runs[0]["stages"]["ecssd/0001"]) == ["foreground", "model", "refine", "segment"]


def test_a_plan_on_a_weights_folder_still_needs_every_preset_models_licence_accepted(engine_preset, tmp_path):
    with pytest.raises(LicenceError, match="cleancut models accept gpl"):
        worker.bench_plan(engine_preset, "off", weights=tmp_path)


# --------------------------------------------------------------------------- box prompts

def grabcut_like(root: Path, name: str, mask: np.ndarray, lasso: np.ndarray) -> Path:
    """A grabcut set of one photo (its red channel the mask), its ground truth and its lasso."""
    folder = root / "grabcut"
    for sub in ("image", "alpha", "lasso"):
        (folder / sub).mkdir(parents=True)
    rgb = np.dstack([mask, np.full_like(mask, 90), np.full_like(mask, 160)])
    Image.fromarray(rgb).save(folder / "image" / f"{name}.png")
    Image.fromarray(mask).save(folder / "alpha" / f"{name}.png")
    Image.fromarray(lasso).save(folder / "lasso" / f"{name}.png")
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "image", "alpha", "lasso", "tags"])
        writer.writerow([name, f"image/{name}.png", f"alpha/{name}.png", f"lasso/{name}.png", "animal"])
    return root


def alphamatting_like(root: Path, name: str, alpha: np.ndarray) -> Path:
    """An alphamatting set of one photo (its red channel the alpha) with both trimaps."""
    folder = root / "alphamatting"
    for sub in ("image", "alpha", "trimap", "trimap2"):
        (folder / sub).mkdir(parents=True)
    rgb = np.dstack([alpha, np.full_like(alpha, 90), np.full_like(alpha, 160)])
    Image.fromarray(rgb).save(folder / "image" / f"{name}.png")
    Image.fromarray(alpha).save(folder / "alpha" / f"{name}.png")
    trimap = np.where(alpha > 0, 128, 0).astype(np.uint8)
    Image.fromarray(trimap).save(folder / "trimap" / f"{name}.png")
    Image.fromarray(trimap).save(folder / "trimap2" / f"{name}.png")
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "image", "alpha", "trimap", "trimap2"])
        writer.writerow([name] + [f"{sub}/{name}.png" for sub in ("image", "alpha", "trimap", "trimap2")])
    return root


def lasso() -> np.ndarray:
    """GrabCut's lasso: 64 (background) in a ring at rows/columns 1..14, unknown 128 over rows 3..11
    and columns 4..12, foreground 255 inside it."""
    hint = np.zeros((16, 16), np.uint8)
    hint[1:15, 1:15] = 64
    hint[3:12, 4:13] = 128
    hint[5:9, 6:10] = 255
    return hint


def region(top: int, bottom: int, left: int, right: int) -> np.ndarray:
    expected = np.zeros((16, 16), np.uint8)
    expected[top:bottom, left:right] = 128
    return expected


def test_a_grabcut_box_bounds_the_lasso_without_its_64_background(tmp_path):
    grabcut_like(tmp_path, "0001", square(5), lasso())
    found = samples.load_samples(tmp_path, ("grabcut",))
    row = runner._job_samples(found, tmp_path / "out", runner.RunSpec("cleancut", "red"))[0]
    np.testing.assert_array_equal(worker.box_hint_for(row), region(3, 12, 4, 13))


def test_an_ecssd_box_bounds_the_mask_from_128_up():
    gt = np.zeros((16, 16), np.uint8)
    gt[0:3, :] = 127  # below 128: not the object
    gt[4:10, 2:7] = 128
    gt[6, 11] = 255
    np.testing.assert_array_equal(worker.box_prompt("ecssd", gt), region(4, 10, 2, 12))


def test_an_alphamatting_box_bounds_every_non_zero_alpha_pixel():
    gt = np.zeros((16, 16), np.uint8)
    gt[5:9, 5:9] = 255
    gt[13, 1] = 1  # a single faint hair
    np.testing.assert_array_equal(worker.box_prompt("alphamatting", gt), region(5, 14, 1, 9))


def test_nothing_marked_gives_no_box():
    assert worker.box_prompt("ecssd", np.full((16, 16), 127, np.uint8)) is None


def test_box_runs_come_beside_the_plain_and_the_hinted_runs():
    args = command.parse_args(["--models", "red", "--refine", "off,fast", "--hints", "--prompt", "box"])
    specs = command.build_specs(args)
    assert [(s.label, s.hinted, s.prompt) for s in specs] == [
        ("cleancut red --refine off", False, ""), ("cleancut red --refine off +hint", True, ""),
        ("cleancut red --refine off +box", False, "box"), ("cleancut red --refine fast", False, ""),
        ("cleancut red --refine fast +hint", True, ""), ("cleancut red --refine fast +box", False, "box")]


def test_a_box_run_scores_every_dataset(engine_models, tmp_path):
    data = ecssd_like(tmp_path / "data", {"0001": square(2)})
    grabcut_like(data, "0002", square(5), lasso())
    alphamatting_like(data, "0003", square(4))
    runs = run_bench(data, tmp_path / "out", "--models", "red", "--prompt", "box")
    assert [(r["label"], sorted(d for d in samples.DATASETS if d in r["summary"])) for r in runs] == [
        ("cleancut red --refine off", ["alphamatting", "ecssd", "grabcut"]),
        ("cleancut red --refine off +box", ["alphamatting", "ecssd", "grabcut"])]


def test_a_box_run_gives_the_engine_the_box_as_its_hint(engine_models, tmp_path):
    mask = square(5)
    mask[0, :] = 255  # outside the lasso's box: the box run must leave it out
    data = grabcut_like(tmp_path / "data", "0001", mask, lasso())
    run_bench(data, tmp_path / "out", "--models", "red", "--prompt", "box", "--datasets", "grabcut")
    own = engine_alpha(data / "grabcut" / "image" / "0001.png", pipeline.prepare(Options(model="red", refine="off")),
                       hint=region(3, 12, 4, 13))
    boxed = bench_alpha(tmp_path / "out", runner.RunSpec("cleancut", "red", prompt="box"), "grabcut", "0001")
    assert np.abs(boxed - own).max() <= 1 / 65535
    plain = bench_alpha(tmp_path / "out", runner.RunSpec("cleancut", "red"), "grabcut", "0001")
    assert (plain[0].min(), boxed[0].max()) == (1.0, 0.0)


# --- the click protocol (--prompt clicks) ---

def test_the_first_click_is_an_include_point_at_the_subjects_innermost_pixel():
    subject = np.zeros((20, 30), bool)
    subject[4:15, 10:21] = True  # 11 × 11: one centre
    counted = np.ones_like(subject)
    assert clicking.next_click(None, subject, counted) == (True, (15.5, 9.5))


def test_the_next_click_goes_to_the_deepest_error_include_for_a_miss_exclude_for_a_false_find():
    subject = np.zeros((40, 40), bool)
    subject[5:35, 5:20] = True
    alpha = np.zeros((40, 40), np.float32)
    alpha[5:35, 5:17] = 1.0  # missed a 3-pixel strip of the subject
    alpha[12:25, 25:38] = 1.0  # and took a 13×13 patch of background
    assert clicking.next_click(alpha, subject, np.ones_like(subject)) == (False, (31.5, 18.5))
    alpha[12:25, 25:38] = 0.0
    assert clicking.next_click(alpha, subject, np.ones_like(subject)) == (True, (18.5, 6.5))  # first of the ties


def test_grabcuts_unsure_band_is_never_an_error_to_click_on():
    gt = np.zeros((20, 20), np.uint8)
    gt[5:15, 5:15] = 255
    gt[:, 16:] = 128  # the band
    subject, counted = clicking.truth(gt)
    alpha = np.zeros((20, 20), np.float32)
    alpha[5:15, 5:15] = 1.0
    alpha[:, 16:] = 1.0
    assert clicking.next_click(alpha, subject, counted) is None
    assert clicking.iou(alpha, subject, counted) == 1.0


def test_noc_counts_clicks_to_the_target_and_the_cap_when_never_reached():
    assert clicking.clicks_to([0.7, 0.86, 0.95], 0.85) == 2
    assert clicking.clicks_to([0.7, 0.8], 0.85) == clicking.MAX_CLICKS


def test_clicks_runs_come_beside_the_box_runs():
    args = command.parse_args(["--models", "red", "--refine", "off", "--prompt", "box,clicks"])
    assert [(s.label, s.prompt) for s in command.build_specs(args)] == [
        ("cleancut red --refine off", ""), ("cleancut red --refine off +box", "box"),
        ("cleancut red --refine off +clicks", "clicks")]


def test_an_unknown_prompt_is_refused():
    with pytest.raises(SystemExit):
        command.parse_args(["--prompt", "box,lasso"])


def test_a_clicks_run_scores_every_set_with_the_engines_answer_to_each_click(engine_models, tmp_path):
    data = ecssd_like(tmp_path / "data", {"0001": square(2)})
    grabcut_like(data, "0002", square(5), lasso())
    alphamatting_like(data, "0003", square(4))
    runs = run_bench(data, tmp_path / "out", "--models", "red", "--prompt", "clicks")
    clicked = runs[1]
    assert clicked["label"] == "cleancut red --refine off +clicks"
    for dataset in ("alphamatting", "ecssd", "grabcut"):
        block = clicked["summary"][dataset]["clicks"]
        assert block["count"] == 1 and block["noc85"] == block["noc90"] == 1
        assert block["1"] == block["5"] == 1.0
    first = bench_alpha(tmp_path / "out", runner.RunSpec("cleancut", "red", prompt="clicks"), "ecssd", "0001")
    image = data / "ecssd" / "image" / "0001.jpg"
    _, point = clicking.next_click(None, square(2) >= 128, np.ones((16, 16), bool))
    own = pipeline.remove(samples.read_rgb(image), Options(model="red", refine="off", threads=1),
                          clicks=prompts.Clicks(include=(point,))).alpha
    assert np.abs(first - own).max() <= 1 / 65535
    assert "| ecssd (1) | cleancut red --refine off | 1.000 | – | 1.000 |" in (tmp_path / "out" / "results.md").read_text()
