"""The pyblish plugins (plugins/), run by pyblish.util.publish() on real images.

Every publish discovers the plugins from the plugins/ folder the way a studio registers them
(pyblish.api.discover over that path). The photos are examples/astronaut.png (public domain)
and examples/chelsea.png (CC0), copied into a temporary shoot folder because the integrator
writes next to the source. The model is the real u2netp, fetched once into a module cache;
policy cases use tiny user-catalog models (tests/support.py) that are never run.
"""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

import pyblish.api as pyblish_api
import pyblish.util

from cleancut import compose, fetch, imageread, licences, pipeline
from cleancut.catalog import load_catalog
from cleancut.options import Options

from support import REPO, catalog_entry
from videos import decoded_input, engine_alphas, make_clip, read_clip

PLUGINS = REPO / "plugins"
PHOTOS = ("astronaut.png", "chelsea.png")


@pytest.fixture
def u2netp(real_cache):
    entry = load_catalog().get("u2netp")
    fetch.ensure(entry, progress=False)
    return entry


@pytest.fixture
def shoot(tmp_path):
    """A folder with the two photos and a note that is not an image."""
    folder = tmp_path / "shoot"
    (folder / "cats").mkdir(parents=True)
    shutil.copy(REPO / "examples" / "astronaut.png", folder / "astronaut.png")
    shutil.copy(REPO / "examples" / "chelsea.png", folder / "cats" / "chelsea.png")
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    return folder


def _context(paths, **data):
    context = pyblish_api.Context()
    context.data["cleancutPaths"] = [str(p) for p in paths]
    context.data.update(data)
    return context


def publish(paths, **data):
    return pyblish.util.publish(_context(paths, **data), plugins=pyblish_api.discover(paths=[str(PLUGINS)]))


def errors(context):
    return [(r["plugin"].__name__, str(r["error"])) for r in context.data["results"] if r["error"]]


def engine_answer(path) -> tuple[np.ndarray, np.ndarray]:
    """(mask, cut-out colours): the engine's own answer for a file, computed here as the CLI does."""
    picture = imageread.read_image(path)
    result = pipeline.remove(imageread.to_rgb8(picture), Options(model="u2netp"))
    mask = compose.quantise(compose.combine_alpha(result.alpha, picture.alpha), picture.bit_depth)
    return mask, result.foreground if result.foreground is not None else picture.rgb


def written_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- discovery ---

def test_the_four_plugins_are_discovered_from_the_plugins_folder_in_pyblish_order():
    found = pyblish_api.discover(paths=[str(PLUGINS)])
    assert [(p.__name__, p.order) for p in found] == [
        ("CollectCleancutImages", pyblish_api.CollectorOrder),
        ("ValidateCleancutModel", pyblish_api.ValidatorOrder),
        ("ExtractCleancutCutout", pyblish_api.ExtractorOrder),
        ("IntegrateCleancutOutputs", pyblish_api.IntegratorOrder),
    ]


def test_registering_the_plugins_folder_lets_a_plain_publish_find_them(shoot, red_model, user_catalog, server):
    user_catalog(catalog_entry("red", red_model, f'{{ kind = "url", url = "{server.add("/red.onnx", "ok", red_model)}" }}'))
    pyblish_api.register_plugin_path(str(PLUGINS))
    try:
        context = pyblish_api.Context()
        context.data.update(cleancutPaths=[str(shoot / "astronaut.png")], cleancutOptions={"model": "red"})
        context = pyblish.util.publish(context)
    finally:
        pyblish_api.deregister_plugin_path(str(PLUGINS))
    assert errors(context) == []
    assert (shoot / "astronaut-cutout.png").is_file()


# --- collection ---

def test_collector_makes_one_instance_per_image_in_files_and_folders(shoot, u2netp):
    context = pyblish.util.collect(_context([shoot]), plugins=pyblish_api.discover(paths=[str(PLUGINS)]))
    assert sorted((i.data["source"], i.data["family"], i.data["model"]) for i in context) == [
        (str((shoot / "astronaut.png").resolve()), "cleancut", "u2netp"),
        (str((shoot / "cats" / "chelsea.png").resolve()), "cleancut", "u2netp"),
    ]


def test_a_path_that_matches_nothing_fails_validation_and_nothing_is_written(shoot, u2netp):
    missing = shoot / "gone.png"
    context = publish([shoot / "astronaut.png", missing])
    assert errors(context) == [("ValidateCleancutModel", f"{missing}: no such file or folder")]
    assert written_files(shoot) == ["astronaut.png", "cats/chelsea.png", "notes.txt"]


# --- the whole publish on real photos ---

def test_publish_writes_the_engines_mask_and_cutout_next_to_each_source(shoot, u2netp):
    context = publish([shoot])
    assert errors(context) == []
    assert written_files(shoot) == [
        "astronaut-cleancut.json", "astronaut-cutout.png", "astronaut-mask.png", "astronaut.png",
        "cats/chelsea-cleancut.json", "cats/chelsea-cutout.png", "cats/chelsea-mask.png", "cats/chelsea.png",
        "notes.txt",
    ]
    for source in (shoot / "astronaut.png", shoot / "cats" / "chelsea.png"):
        expected, colours = engine_answer(source)  # same process, model and options: bit-identical
        mask = imageread.read_image(source.with_name(source.stem + "-mask.png"))
        np.testing.assert_array_equal(mask.rgb[..., 0], expected)
        cutout = imageread.read_image(source.with_name(source.stem + "-cutout.png"))
        np.testing.assert_array_equal(cutout.rgb, colours)
        np.testing.assert_array_equal(cutout.alpha, expected)


def test_the_record_names_outputs_model_id_sha256_and_licence(shoot, u2netp):
    publish([shoot / "astronaut.png"])
    record = json.loads((shoot / "astronaut-cleancut.json").read_text(encoding="utf-8"))
    assert record["source"] == "astronaut.png"
    assert record["model"] == {"id": "u2netp", "sha256": u2netp.sha256, "licence": "Apache-2.0",
                               "licence_class": "permissive"}
    for kind in ("mask", "cutout"):
        name = f"astronaut-{kind}.png"
        assert record["outputs"][kind] == {"file": name, "sha256": hashlib.sha256((shoot / name).read_bytes()).hexdigest()}
    assert record["engine"]["name"] == "cleancut"


def test_staging_folders_are_removed_after_integration(shoot, u2netp, tmp_path):
    staging = tmp_path / "staging"
    staging.mkdir()
    context = publish([shoot / "astronaut.png"], cleancutStagingDir=str(staging))
    assert errors(context) == []
    assert list(staging.iterdir()) == []


def test_a_video_is_published_as_a_grey_mask_video_and_an_alpha_cutout_video(tmp_path, u2netp):
    folder = tmp_path / "reel"
    folder.mkdir()
    clip = make_clip(folder / "pan.mp4", count=4)
    context = publish([folder])
    assert errors(context) == []
    assert written_files(folder) == ["pan-cleancut.json", "pan-cutout.webm", "pan-mask.mp4", "pan.mp4"]
    expected = engine_alphas(decoded_input(clip), Options(model="u2netp", foreground=False))
    mask, cut = read_clip(folder / "pan-mask.mp4"), read_clip(folder / "pan-cutout.webm")
    assert len(mask.pixels) == len(cut.pixels) == 4
    for grey, rgba, want in zip(mask.pixels, cut.pixels, expected):
        assert np.abs(grey[..., 0].astype(int) - want).mean() < 2.0
        assert np.abs(rgba[..., 3].astype(int) - want).mean() < 2.0
    record = json.loads((folder / "pan-cleancut.json").read_text(encoding="utf-8"))
    assert sorted(out["file"] for out in record["outputs"].values()) == ["pan-cutout.webm", "pan-mask.mp4"]


# --- validation: the studio's policy and the model file ---

def _user_model(user_catalog, server, red_model, model_id, **kwargs):
    url = server.add(f"/{model_id}.onnx", "ok", red_model)
    user_catalog(catalog_entry(model_id, red_model, f'{{ kind = "url", url = "{url}" }}', **kwargs))
    return load_catalog().get(model_id)


def test_commercial_policy_refuses_a_non_commercial_model_before_fetching_it(
        shoot, user_catalog, server, red_model, monkeypatch):
    entry = _user_model(user_catalog, server, red_model, "nc", licence="CC-BY-NC-4.0")
    monkeypatch.setenv("CLEANCUT_COMMERCIAL", "1")
    context = publish([shoot / "astronaut.png"], cleancutOptions={"model": "nc"})
    ((plugin, message),) = errors(context)
    assert plugin == "ValidateCleancutModel"
    assert message.startswith("model 'nc' is refused by the studio's commercial-use policy: "
                              "its licence CC-BY-NC-4.0 is non-commercial")
    assert server.hits == [] and not fetch.is_cached(entry)
    assert written_files(shoot) == ["astronaut.png", "cats/chelsea.png", "notes.txt"]


def test_context_data_turns_the_commercial_policy_on_for_an_unknown_licence(shoot, user_catalog, server, red_model):
    _user_model(user_catalog, server, red_model, "studio", licence="LicenseRef-Studio-EULA")
    context = publish([shoot / "astronaut.png"], cleancutOptions={"model": "studio"}, cleancutCommercialUse=True)
    ((plugin, message),) = errors(context)
    assert (plugin, message.split(":")[0]) == (
        "ValidateCleancutModel", "model 'studio' is refused by the studio's commercial-use policy")
    assert "its licence LicenseRef-Studio-EULA is unknown" in message


def test_a_copyleft_model_needs_the_recorded_acceptance(shoot, user_catalog, server, red_model):
    entry = _user_model(user_catalog, server, red_model, "gpl", licence="GPL-3.0-only")
    refused = publish([shoot / "astronaut.png"], cleancutOptions={"model": "gpl"})
    assert [p for p, _ in errors(refused)] == ["ValidateCleancutModel"]
    assert "needs your acceptance first" in errors(refused)[0][1]

    licences.accept(entry)
    accepted = publish([shoot / "astronaut.png"], cleancutOptions={"model": "gpl"})
    assert errors(accepted) == []
    assert (shoot / "astronaut-cutout.png").is_file()


def test_a_tampered_model_file_fails_validation_and_is_deleted(shoot, user_catalog, server, red_model, monkeypatch):
    entry = _user_model(user_catalog, server, red_model, "red")
    path = fetch.ensure(entry, progress=False)
    path.write_bytes(path.read_bytes() + b"tampered")
    fetch.forget_verified()  # a new process would re-hash it too
    monkeypatch.setenv("CLEANCUT_OFFLINE", "1")
    context = publish([shoot / "astronaut.png"], cleancutOptions={"model": "red"})
    ((plugin, message),) = errors(context)
    assert plugin == "ValidateCleancutModel"
    assert message.startswith("model 'red': the cached file") and "failed its check" in message
    assert not path.exists()
    assert written_files(shoot) == ["astronaut.png", "cats/chelsea.png", "notes.txt"]


def test_a_missing_model_is_fetched_and_verified_by_validation(shoot, user_catalog, server, red_model):
    entry = _user_model(user_catalog, server, red_model, "red")
    context = publish([shoot / "astronaut.png"], cleancutOptions={"model": "red"})
    assert errors(context) == []
    assert server.hits == ["/red.onnx"]
    assert fetch.sha256_of(fetch.cached_path(entry)) == entry.sha256
