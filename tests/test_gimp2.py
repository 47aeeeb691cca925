"""The GIMP 2.10 plug-in (gimp/gimp2/cleancut_gimp2.py), end to end with the real worker.

Debian 12's GIMP 2.10 has no Python, so the plug-in runs against a stand-in for GIMP 2.10's
``gimp``/``gimpfu`` modules (tests/gimp2_standin, API from GIMP's gimp-2-10 source, see its
docstrings) that holds images in memory. What is real: the plug-in file, the client copied
beside it as the installer does, the shared worker it starts, the engine, the models (the
catalog's tiny "red" model, whose alpha is the red channel, and the real u2netp), and
Python 2.7 for the runs marked so. What ties the stand-in to GIMP 2.10 itself: its PDB
signatures, its enum values and the way pixels cross between GIMP and a plug-in (including
GIMP 2.10's gamma conversion of a plug-in's mask bytes, which the plug-in avoids by writing
its alpha through a helper layer's alpha channel) are compared with the real GIMP 2.10
installed on this machine (tests/hosts/setup.sh installs it), the last through a libgimp
plug-in making the same library calls as pygimp's PixelRgn (gimp2_standin/tile_probe.py).

Every plug-in call goes through the PDB (``pdb.plug_in_cleancut_remove_background(...)``),
the way GIMP delivers it: gimpfu's _run with a run mode. The expected alpha is the engine's
own, computed in this process by cleancut.pipeline.remove on the same pixels; 8-bit masks
are compared exactly because the worker rounds exactly as compose.quantise does.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from PIL import Image

from cleancut import compose, fetch, pipeline, prompts
from cleancut.catalog import load_catalog
from cleancut.options import Options

from hostkit import shutdown_workers
from hostkit.scenes import TWO_PHOTOS_SIZE, two_photos
from support import REPO

STANDIN = REPO / "tests" / "gimp2_standin"
PLUGIN = REPO / "gimp" / "gimp2" / "cleancut_gimp2.py"
CLIENT = REPO / "core" / "cleancut_client.py"
PHOTO = REPO / "examples" / "astronaut.png"
REMOVE = "plug-in-cleancut-remove-background"
SELECT = "plug-in-cleancut-select-subject"

sys.path.insert(0, str(STANDIN))
import gimp  # noqa: E402 -- the stand-in
import gimpenums as E  # noqa: E402
import scene  # noqa: E402

pdb = gimp.pdb


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def plugin_dir(tmp_path):
    """The plug-in folder as an install lays it out: the plug-in and the client beside it."""
    folder = tmp_path / "plug-ins" / "cleancut_gimp2"
    folder.mkdir(parents=True)
    shutil.copy(PLUGIN, folder / PLUGIN.name)
    shutil.copy(CLIENT, folder / CLIENT.name)
    return folder


@pytest.fixture
def engine(monkeypatch):
    """The engine interpreter the client starts, and a private folder for the shared worker."""
    runtime = tempfile.mkdtemp(prefix="cc2-")  # short: Unix socket paths are limited to ~100 bytes
    monkeypatch.setenv("CLEANCUT_ENGINE_PYTHON", sys.executable)
    monkeypatch.setenv("CLEANCUT_RUNTIME_DIR", runtime)
    yield runtime
    shutdown_workers(runtime)
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def plugin(plugin_dir, engine, engine_models):
    module = scene.load_plugin(str(plugin_dir))
    yield module
    sys.path.remove(str(plugin_dir))


def gradient(width=40, height=30) -> np.ndarray:
    """RGB whose red channel runs across and down, so the red model's alpha varies everywhere."""
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    red = ((x * 5 + y * 3) % 256).astype(np.uint8)
    return np.dstack([red, np.full_like(red, 90), (255 - red)])


def engine_mask(rgb: np.ndarray, model="red", hint=None, include=(), exclude=()) -> np.ndarray:
    """The engine's 8-bit alpha for these pixels (and include / exclude points), computed here."""
    clicks = prompts.Clicks(include=tuple(include), exclude=tuple(exclude)) if include or exclude else None
    alpha = pipeline.remove(rgb, Options(model=model), hint=hint, clicks=clicks).alpha
    return compose.quantise(alpha)


def layer_image(rgb, layer_type=E.RGB_IMAGE, **kwargs):
    """A one-layer image; RGBA layers get a varying alpha, grey layers the red channel as grey."""
    height, width = rgb.shape[:2]
    if layer_type == E.RGBA_IMAGE:
        pixels = np.dstack([rgb, (np.arange(width * height) % 251).reshape(height, width).astype(np.uint8)])
    elif layer_type == E.GRAY_IMAGE:
        pixels = rgb[..., 0]
    elif layer_type == E.GRAYA_IMAGE:
        pixels = np.dstack([rgb[..., 0], np.full((height, width), 200, np.uint8)])
    else:
        pixels = rgb
    return scene.new_image(width, height, layer_type, pixels.tobytes(), **kwargs)


def as_array(data, width, height, channels=1):
    return np.frombuffer(bytes(data), np.uint8).reshape((height, width) if channels == 1 else (height, width, channels))


def mask_of(layer):
    return as_array(layer.mask._data, layer.width, layer.height)


def plugin_steps(image):
    """The undo steps the run added (the scene starts with none)."""
    return image.undo_steps


# --- registration ----------------------------------------------------------------------------

def test_both_procedures_are_registered_under_layer_mask_and_select(plugin):
    assert gimp.menus == {REMOVE: ["<Image>/Layer/Mask"], SELECT: ["<Image>/Select"]}
    remove, select = gimp.installed[REMOVE], gimp.installed[SELECT]
    assert (remove["label"], remove["imagetypes"], remove["type"]) == ("Remove _Background…", "RGB*, GRAY*", E.PLUGIN)
    assert [(t, n) for t, n, _ in remove["params"]] == [
        (E.PDB_INT32, "run-mode"), (E.PDB_IMAGE, "image"), (E.PDB_DRAWABLE, "drawable"),
        (E.PDB_STRING, "model"), (E.PDB_INT32, "output"), (E.PDB_INT32, "selection-hint")]
    assert select["label"] == "_Subject…"
    assert [n for _, n, _ in select["params"]] == ["run-mode", "image", "drawable", "model", "selection-hint"]
    assert remove["results"] == select["results"] == []


# --- the layer mask ----------------------------------------------------------------------------

def test_the_mask_holds_the_engines_alpha_in_one_undo_step_and_the_pixels_stay(plugin):
    rgb = gradient()
    image, layer = layer_image(rgb)
    before = bytes(layer._data)
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 0, False)
    np.testing.assert_array_equal(mask_of(layer), engine_mask(rgb))
    assert bytes(layer._data) == before
    assert plugin_steps(image) == [[("add-mask", layer.ID)]]
    assert image._group_depth == 0 and gimp.messages == []


@pytest.mark.parametrize("layer_type", [E.RGBA_IMAGE, E.GRAY_IMAGE, E.GRAYA_IMAGE], ids=["RGBA", "Y", "YA"])
def test_rgba_and_grey_layers_are_read_in_their_own_layout(plugin, layer_type):
    rgb = gradient()
    image, layer = layer_image(rgb, layer_type)
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 0, False)
    # the worker sees Y as grey repeated into RGB, and ignores a layer's own alpha
    seen = rgb if layer_type == E.RGBA_IMAGE else np.repeat(rgb[..., :1], 3, axis=2)
    np.testing.assert_array_equal(mask_of(layer), engine_mask(seen))


def test_an_existing_mask_is_replaced_not_merged(plugin):
    rgb = gradient()
    image, layer = layer_image(rgb)
    old = pdb.gimp_layer_create_mask(layer, E.ADD_MASK_BLACK)
    pdb.gimp_layer_add_mask(layer, old)
    del image.undo_steps[:]
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 0, False)
    assert layer.mask != old
    np.testing.assert_array_equal(mask_of(layer), engine_mask(rgb))
    assert plugin_steps(image) == [[("remove-mask", layer.ID, E.MASK_DISCARD), ("add-mask", layer.ID)]]


def test_run_on_a_layer_mask_works_on_its_layer(plugin):
    rgb = gradient()
    image, layer = layer_image(rgb)
    mask = pdb.gimp_layer_create_mask(layer, E.ADD_MASK_WHITE)
    pdb.gimp_layer_add_mask(layer, mask)
    pdb.plug_in_cleancut_remove_background(image, mask, "red", 0, False)
    np.testing.assert_array_equal(mask_of(layer), engine_mask(rgb))


def test_the_selection_hint_makes_everything_outside_it_background(plugin):
    rgb = gradient()
    image, layer = layer_image(rgb, offsets=(6, 4), canvas=(50, 40))
    pdb.gimp_image_select_rectangle(image, E.CHANNEL_OP_REPLACE, 10, 8, 20, 15)  # image coordinates
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 0, True)
    region = np.zeros((30, 40), np.uint8)
    region[4:19, 4:24] = 128  # the rectangle in layer coordinates: inside, the model decides
    expected = engine_mask(rgb, hint=region)
    mask = mask_of(layer)
    np.testing.assert_array_equal(mask, expected)
    assert mask[region == 0].max() == 0 and mask[region == 128].max() > 0


# --- include and exclude points: the anchors of paths named so ----------------------------------

def test_a_point_off_the_layer_is_refused_with_a_message_and_nothing_changes(plugin):
    image, layer = layer_image(gradient(), offsets=(6, 4), canvas=(50, 40))
    scene.add_path(image, "include", [[[20, 20]]])
    scene.add_path(image, "exclude", [[[30, 30], [2.5, 3]]])  # the second anchor lies left of the layer
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 0, False)
    assert gimp.messages == ['cleancut: The exclude point at 2.5, 3 (path "exclude") lies outside the layer "photo" '
                             "(40×30 at 6, 4). Move the point onto the layer or delete it, or rename the path to "
                             "leave its points out. The image was not changed."]
    assert layer.mask is None and image.undo_steps == [] and image._group_depth == 0
    assert gimp.progress == []  # the engine was not asked: its progress never started


def test_python_2_7_run_sends_the_points_in_the_layers_own_pixels(plugin_dir, engine, engine_models, tmp_path):
    """Python 2.7 reads the paths (names as byte strings, as pygimp gives them) and maps them."""
    rgb = gradient()
    paths = [["+ subject", [[[20.5, 12], [30, 25]]]], ["Exclude", [[[8, 5]], [[14, 30]]]], ["outline", [[[0, 0]]]]]
    result, out = run_under_python27(plugin_dir, tmp_path, rgb, ["red", 0, False], offsets=[4, 3], canvas=[50, 40],
                                     paths=paths)
    assert result["messages"] == [] and len(result["undo_steps"]) == 1
    assert [name for name, _ in result["paths"]] == ["outline", "Exclude", "+ subject"]
    (layer,) = result["layers"]
    mask = as_array((out / layer["mask"]).read_bytes(), 40, 30)
    expected = engine_mask(rgb, include=[(16.5, 9), (26, 22)], exclude=[(4, 2), (10, 27)])
    np.testing.assert_array_equal(mask, expected)
    assert not np.array_equal(expected, engine_mask(rgb))  # the points change this answer


# --- the selection and the cut-out layer --------------------------------------------------------

def test_selection_output_places_the_alpha_at_the_layer_offsets_clipped_to_the_canvas(plugin):
    rgb = gradient()
    image, layer = layer_image(rgb, offsets=(-5, 7), canvas=(45, 30))
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 1, False)
    expected = np.zeros((30, 45), np.uint8)
    expected[7:30, 0:35] = engine_mask(rgb)[0:23, 5:40]
    np.testing.assert_array_equal(as_array(image.selection._data, 45, 30), expected)
    assert layer.mask is None and image.layers == [layer] and image.channels == []
    (step,) = plugin_steps(image)
    assert [what[0] for what in step] == ["insert-layer", "offsets", "selection", "remove-layer"]


def test_select_subject_replaces_the_selection(plugin):
    rgb = gradient()
    image, layer = layer_image(rgb)
    pdb.gimp_image_select_rectangle(image, E.CHANNEL_OP_REPLACE, 0, 0, 5, 5)
    pdb.plug_in_cleancut_select_subject(image, layer, "red", False)
    np.testing.assert_array_equal(as_array(image.selection._data, 40, 30), engine_mask(rgb))


def test_new_layer_output_adds_a_cutout_above_with_the_alpha(plugin):
    rgb = gradient()
    image, layer = layer_image(rgb, offsets=(3, 2), canvas=(50, 40))
    before = bytes(layer._data)
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 2, False)
    cutout, original = image.layers
    assert original == layer and bytes(layer._data) == before and layer.mask is None
    assert (cutout.name, cutout.type, cutout.offsets, cutout.mask) == ("photo (cut-out)", E.RGBA_IMAGE, (3, 2), None)
    pixels = as_array(cutout._data, 40, 30, 4)
    np.testing.assert_array_equal(pixels[..., :3], rgb)
    np.testing.assert_array_equal(pixels[..., 3], engine_mask(rgb))
    assert len(plugin_steps(image)) == 1


# --- presets --------------------------------------------------------------------------------

def test_a_presets_own_refine_mode_applies(plugin, engine_preset):
    """The GIMP 2.10 plug-in has no refine argument and sends none, so the engine runs a preset
    with the preset's own mode ("best" for the test pair, as for the built-in quality preset)."""
    from cleancut import licences

    licences.accept(load_catalog().get("gpl"))
    rgb = gradient()
    image, layer = layer_image(rgb)
    pdb.plug_in_cleancut_remove_background(image, layer, engine_preset, 0, False)
    expected = engine_mask(rgb, model=engine_preset)
    fast = compose.quantise(pipeline.remove(rgb, Options(model=engine_preset, refine="fast")).alpha)
    assert not np.array_equal(expected, fast)
    np.testing.assert_array_equal(mask_of(layer), expected)


# --- failures --------------------------------------------------------------------------------

def test_a_refused_model_is_reported_with_gimp_message_and_nothing_changes(plugin):
    image, layer = layer_image(gradient())
    pdb.plug_in_cleancut_remove_background(image, layer, "gpl", 0, False)
    (message,) = gimp.messages
    assert message.startswith("cleancut: model 'gpl' needs your acceptance first: its licence GPL-3.0-only")
    assert layer.mask is None and image.undo_steps == [] and image._group_depth == 0


def test_a_channel_is_refused_with_a_message(plugin):
    image, layer = layer_image(gradient())
    channel = pdb.gimp_channel_new(image, 40, 30, "alpha", 100.0, (0, 0, 0))
    pdb.gimp_image_insert_channel(image, channel, None, 0)
    del image.undo_steps[:]
    pdb.plug_in_cleancut_remove_background(image, channel, "red", 0, False)
    assert gimp.messages == ["cleancut: Remove Background works on layers: select a layer first."]
    assert image.undo_steps == []


def test_a_missing_engine_is_reported_with_the_clients_setup_message(plugin, monkeypatch, tmp_path):
    monkeypatch.setenv("CLEANCUT_ENGINE_PYTHON", str(tmp_path / "no-such-python"))
    image, layer = layer_image(gradient())
    pdb.plug_in_cleancut_remove_background(image, layer, "red", 0, False)
    (message,) = gimp.messages
    assert message.startswith("cleancut: The cleancut engine could not be started with %s" % (tmp_path / "no-such-python"))
    assert layer.mask is None and image.undo_steps == []


# --- a first run: the download in GIMP's progress ----------------------------------------------

def test_a_first_run_shows_the_download_moving_in_gimps_progress(plugin_dir, engine, user_catalog, server):
    from support import catalog_entry, padded_red_model

    data = padded_red_model(1_000_000)
    server.throttle(1 << 20)
    user_catalog(catalog_entry("dl", data, f'{{ kind = "url", url = "{server.add("/dl.onnx", "throttled", data)}" }}'))
    scene.load_plugin(str(plugin_dir))
    try:
        image, layer = layer_image(gradient())
        pdb.plug_in_cleancut_remove_background(image, layer, "dl", 0, False)
    finally:
        sys.path.remove(str(plugin_dir))
    texts = [value for kind, value in gimp.progress if kind == "text"]
    downloads = [t for t in texts if t.startswith("Removing background: Downloading dl: ")]
    assert len(downloads) >= 3 and downloads[-1] == "Removing background: Downloading dl: %.1f of %.1f MB" % (
        len(data) / 1e6, len(data) / 1e6)
    assert texts[0] == "Removing background: Loading the model" and texts[-1] == "Removing background: Done"
    rising = [value for kind, value in gimp.progress if kind == "update"]
    assert rising[-1] == 1.0 and len(set(rising)) >= 4
    np.testing.assert_array_equal(mask_of(layer), engine_mask(gradient(), model="dl"))


# --- the real model on a real photo ---------------------------------------------------------

@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("gimp2-model-cache")


def test_real_u2netp_mask_of_the_astronaut_photo(plugin_dir, engine, real_cache, monkeypatch):
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(real_cache))
    fetch.ensure(load_catalog().get("u2netp"), progress=False)
    scene.load_plugin(str(plugin_dir))
    try:
        rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
        image, layer = layer_image(rgb)
        pdb.plug_in_cleancut_remove_background(image, layer, "", 0, False)  # "": the default model
    finally:
        sys.path.remove(str(plugin_dir))
    mask = mask_of(layer)
    # Same pixels, model and options in two processes: onnxruntime on the CPU gives the same floats.
    np.testing.assert_array_equal(mask, engine_mask(rgb, model="u2netp"))
    assert mask[100, 256] == 255 and mask[20, 490] == 0  # her face; the dark backdrop


ON_CAT, ON_CAT_TOO, ON_ASTRONAUT = (737.5, 256.25), (800.0, 180.0), (250.0, 200.0)  # in two_photos()


def test_real_u2netp_takes_the_subject_pointed_at_on_a_layer_with_an_offset_in_one_undo_step(
        plugin_dir, engine, real_cache, monkeypatch):
    """Points on the cat and on the astronaut of two photos side by side, the layer moved: the
    mask holds the include points and not the exclude one, and is the engine's answer for the
    points in the layer's own pixels (not in the image's)."""
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(real_cache))
    fetch.ensure(load_catalog().get("u2netp"), progress=False)
    scene.load_plugin(str(plugin_dir))
    offset = (30, -20)
    try:
        rgb = two_photos()
        image, layer = layer_image(rgb, offsets=offset, canvas=TWO_PHOTOS_SIZE)
        moved = [(x + offset[0], y + offset[1]) for x, y in (ON_CAT, ON_CAT_TOO, ON_ASTRONAUT)]
        scene.add_path(image, "include", [[list(moved[0]), list(moved[1])]])
        scene.add_path(image, "exclude", [[list(moved[2])]])
        paths = scene.paths(image)
        pdb.plug_in_cleancut_remove_background(image, layer, "", 0, False)
    finally:
        sys.path.remove(str(plugin_dir))
    mask = mask_of(layer)
    assert gimp.messages == [] and plugin_steps(image) == [[("add-mask", layer.ID)]]
    assert scene.paths(image) == paths
    for x, y in (ON_CAT, ON_CAT_TOO):
        assert mask[int(y), int(x)] >= 128, (x, y)
    assert mask[int(ON_ASTRONAUT[1]), int(ON_ASTRONAUT[0])] < 128
    expected = engine_mask(rgb, model="u2netp", include=[ON_CAT, ON_CAT_TOO], exclude=[ON_ASTRONAUT])
    np.testing.assert_array_equal(mask, expected)
    unmoved = engine_mask(rgb, model="u2netp", include=moved[:2], exclude=moved[2:])
    assert not np.array_equal(mask, unmoved)


# --- Python 2.7: what GIMP 2.10 embeds ----------------------------------------------------------

def python27():
    """A real CPython 2.7: CLEANCUT_PYTHON27, python2.7 on PATH, or pyenv's."""
    candidates = [os.environ.get("CLEANCUT_PYTHON27"), shutil.which("python2.7")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python2.7")))
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "(2, 7)":
            return candidate
    pytest.fail("no Python 2.7 interpreter found (GIMP 2.10's Python): set CLEANCUT_PYTHON27 to one")


@pytest.mark.parametrize("source", [PLUGIN, CLIENT], ids=["plugin", "client"])
def test_compiles_as_python_2_7(source):
    check = "import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')"
    result = subprocess.run([python27(), "-c", check, str(source)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_python_2_7_client_spells_the_engine_default_and_the_refine_fallback_the_same():
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import cleancut_client as c\n"
            "print(json.dumps([c.ENGINE_DEFAULT, c.is_engine_default(u''), c.is_engine_default('DEFAULT'),\n"
            "                  c.refine_choices({}), c.refine_choices({'refine_modes': [u'fast']}),\n"
            "                  c.run_options(u'', 'DEFAULT', foreground=False), c.run_options('red', u'best')]))")
    done = subprocess.run([python27(), "-c", code, str(CLIENT.parent)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["", True, True, ["off"], ["fast"], {"foreground": False},
                                       {"model": "red", "refine": "best"}]


def run_under_python27(plugin_dir, tmp_path, rgb, args, procedure=REMOVE, **job):
    """Run one plug-in call in a Python 2.7 process (stand-in, plug-in, client) against the worker."""
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "pixels.raw").write_bytes(rgb.tobytes())
    height, width = rgb.shape[:2]
    job = dict(job, plugin_dir=str(plugin_dir), pixels=str(tmp_path / "pixels.raw"), width=width, height=height,
               type=E.RGB_IMAGE, procedure=procedure, args=args, out=str(out))
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = subprocess.run([python27(), str(STANDIN / "scene.py"), str(tmp_path / "job.json")],
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))  # no .pyc beside the stand-in
    assert result.returncode == 0, result.stderr
    return json.loads((out / "result.json").read_text(encoding="utf-8")), out


def test_python_2_7_run_with_a_selection_hint_writes_the_engines_mask(plugin_dir, engine, engine_models, tmp_path):
    rgb = gradient()
    result, out = run_under_python27(plugin_dir, tmp_path, rgb, ["red", 0, True], select=[5, 5, 20, 12])
    region = np.zeros((30, 40), np.uint8)
    region[5:17, 5:25] = 128
    (layer,) = result["layers"]
    np.testing.assert_array_equal(as_array((out / layer["mask"]).read_bytes(), 40, 30), engine_mask(rgb, hint=region))
    assert (out / layer["pixels"]).read_bytes() == rgb.tobytes()
    assert result["messages"] == [] and result["open_groups"] == 0 and len(result["undo_steps"]) == 1


def test_python_2_7_shows_a_non_ascii_engine_message(plugin_dir, engine, engine_models, tmp_path):
    result, _ = run_under_python27(plugin_dir, tmp_path, gradient(), ["gpl", 0, False])
    (message,) = result["messages"]
    assert message.startswith("cleancut: model 'gpl' needs your acceptance first")
    assert "— not applicable" in message  # the em dash crossed Python 2's str/unicode line intact
    assert result["undo_steps"] == [] and result["layers"][0]["mask"] is None


# --- the stand-in against the real GIMP 2.10 -----------------------------------------------------

GIMP210 = "gimp-console-2.10"
PROBE = STANDIN / "tile_probe.py"


def parse_pdb_dump(text):
    """{name: (params, return values)} from gimp-procedural-db-dump's S-expressions."""
    import re

    tokens = re.findall(r'\(|\)|"(?:[^"\\]|\\.)*"', text, re.S)
    position = 0

    def read():
        nonlocal position
        token = tokens[position]
        position += 1
        if token != "(":
            return re.sub(r"\\(.)", r"\1", token[1:-1])
        items = []
        while tokens[position] != ")":
            items.append(read())
        position += 1
        return items

    procedures = {}
    while position < len(tokens):
        form = read()
        procedures[form[0]] = ([(p[0], p[1]) for p in form[-2]], [(r[0], r[1]) for r in form[-1]])
    return procedures


PROBE_SCRIPT = """(begin
  (gimp-procedural-db-dump "{f}/pdb.dump")
  (let ((p (open-output-file "{f}/values.txt"))) (write (list {constants}) p) (close-output-port p))
  (define (probe input route name)
    (let* ((image (car (gimp-file-load RUN-NONINTERACTIVE input input)))
           (layer (car (gimp-image-get-active-layer image))))
      (plug-in-cleancut-tile-probe RUN-NONINTERACTIVE image layer route "{f}/ramp.raw"
                                   (string-append "{f}/" name ".raw") (string-append "{f}/" name "-selection.raw"))
      (if (equal? route "selection")
          (gimp-layer-add-mask layer (car (gimp-layer-create-mask layer ADD-MASK-SELECTION))))
      (gimp-layer-remove-mask layer MASK-APPLY)
      (gimp-file-save RUN-NONINTERACTIVE image layer (string-append "{f}/" name ".png") name)))
  (probe "{f}/rgb.png" "mask" "mask")
  (probe "{f}/rgb.png" "alpha" "alpha")
  (probe "{f}/rgb.png" "selection" "selection")
  (probe "{f}/grey.png" "alpha" "grey-alpha"))"""


@pytest.fixture(scope="module")
def real_gimp210(tmp_path_factory):
    """One run of the real GIMP 2.10: its PDB, its enum values, and the pixel routes of a libgimp
    plug-in (tile_probe.py) on 16×16 crops of the photo, with every 8-bit value 0..255 as alpha."""
    if os.environ.get("CLEANCUT_SKIP_HOSTS") == "1":
        pytest.skip("CLEANCUT_SKIP_HOSTS=1")
    if shutil.which(GIMP210) is None:
        pytest.fail("GIMP 2.10 is not installed: run tests/hosts/setup.sh (the README's test command does)")
    folder = tmp_path_factory.mktemp("gimp210")
    plug_ins = folder / ".config" / "GIMP" / "2.10" / "plug-ins"
    plug_ins.mkdir(parents=True)
    probe = plug_ins / PROBE.name
    probe.write_text("#!%s\n" % sys.executable + PROBE.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    probe.chmod(0o755)
    crop = np.asarray(Image.open(PHOTO).convert("RGB"))[100:116, 200:216]
    Image.fromarray(crop).save(folder / "rgb.png")
    Image.fromarray(crop[..., 0]).save(folder / "grey.png")
    (folder / "ramp.raw").write_bytes(bytes(range(256)))
    names = sorted(n for n in vars(E) if n.isupper() and n != "PDB_REGION")
    script = PROBE_SCRIPT.format(f=folder, constants=" ".join(n.replace("_", "-") for n in names))
    subprocess.run([GIMP210, "-i", "-d", "-f", "-b", script, "-b", "(gimp-quit 0)"], timeout=180,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, HOME=str(folder)))
    for name in ("values.txt", "pdb.dump", "mask.png", "alpha.png", "selection.png", "grey-alpha.png"):
        assert (folder / name).is_file(), "GIMP 2.10's Script-Fu run did not write %s" % name
    values = [int(v) for v in (folder / "values.txt").read_text().strip("()\n").split()]
    return {"pdb": parse_pdb_dump((folder / "pdb.dump").read_text(encoding="utf-8")),
            "values": dict(zip(names, values)), "folder": folder, "crop": crop}


def test_standin_pdb_procedures_have_gimp_2_10_signatures(real_gimp210):
    real = real_gimp210["pdb"]
    for name, (params, results, _) in gimp.PROCEDURES.items():
        assert name in real, name
        assert (params, results) == real[name], name


def test_standin_constants_have_gimp_2_10_values(real_gimp210):
    values = real_gimp210["values"]
    assert values == {n: getattr(E, n) for n in values}


def applied_alpha(real_gimp210, name):
    """The alpha the layer got once GIMP applied the mask the probe made, read from GIMP's PNG."""
    return np.asarray(Image.open(real_gimp210["folder"] / (name + ".png")).convert("RGBA"))[..., 3].ravel()


RAMP = np.arange(256, dtype=np.uint8)


def test_gimp_2_10_hands_a_plugin_the_layers_8_bit_pixels(real_gimp210):
    crop = real_gimp210["crop"]
    assert (real_gimp210["folder"] / "alpha.raw").read_bytes() == crop.tobytes()
    assert (real_gimp210["folder"] / "grey-alpha.raw").read_bytes() == crop[..., 0].tobytes()


@pytest.mark.parametrize("name", ["alpha", "grey-alpha"], ids=["RGB", "grey"])
def test_gimp_2_10_makes_a_mask_from_a_helper_layers_alpha_exactly(real_gimp210, name):
    """The plug-in's mask route: every 8-bit value arrives unchanged."""
    np.testing.assert_array_equal(applied_alpha(real_gimp210, name), RAMP)


def test_gimp_2_10_takes_the_selection_from_a_helper_layers_alpha_exactly(real_gimp210):
    """The plug-in's selection route."""
    np.testing.assert_array_equal(applied_alpha(real_gimp210, "selection"), RAMP)


def test_gimp_2_10_gamma_converts_mask_and_channel_bytes_as_the_standin_does(real_gimp210):
    """Why the plug-in never writes masks directly: GIMP converts a plug-in's 8-bit mask bytes,
    both ways; the stand-in's tables are these conversions, value for value."""
    written = np.frombuffer(gimp.LINEAR_FROM_PLUGIN, np.uint8)
    read = np.frombuffer(gimp.PLUGIN_FROM_LINEAR, np.uint8)
    np.testing.assert_array_equal(applied_alpha(real_gimp210, "mask"), written)
    assert written[128] == 55  # not an identity
    selection = np.frombuffer((real_gimp210["folder"] / "selection-selection.raw").read_bytes(), np.uint8)
    np.testing.assert_array_equal(selection, read)
