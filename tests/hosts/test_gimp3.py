"""cleancut's GIMP 3 plug-in inside the real GIMP 3.0.4 (Debian 13 chroot) and GIMP 3.2.6 (Debian
sid chroot), driven by batch code. Every behaviour runs on both: the test ids say gimp-3.0 or
gimp-3.2; vector and link layers exist in 3.2 only.

The chroot's gimp-console runs tests/hosts/gimp/gimp3_driver.py, which builds images, calls the
plug-in's procedures non-interactively (as scripts and batch mode do) and dumps what came out.
Every expectation is computed here, in the test process, by the engine itself
(`cleancut.pipeline.remove`) on the very pixels the plug-in reads (dumped by the driver with the
same babl format), so the comparisons are exact: the worker in the chroot and this process run
the same u2netp on the same bytes.

The sessions see a user catalog with one preset, "portable-best" (u2netp alone, its own refine
"best"), as a user's catalog would add it: the built-in quality preset needs IS-Net, which is not
in the offline test cache, and the point under test is the same — a preset's own refine mode
applies unless the caller chooses one.

Three GIMP sessions per version: every successful case (with fonts, for the text layer); the
failure paths; and the dialog, shown for real under Xvfb and worked by a timer in the batch
process (gimp3_dialog_driver.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from hostkit import REPO
from hostkit.scenes import BOX, DOWNLOAD_MODEL, TWO_PHOTOS_SIZE, check_box_prompt, first_run_server, two_photos
from PIL import Image

from cleancut import fetch, frames, licences, pipeline, prompts
from cleancut.catalog import load_catalog
from cleancut.errors import CleancutError
from cleancut.options import REFINE_MODES, Options
from gimp3_harness import CHROOTS, Gimp3

ASTRONAUT = REPO / "examples" / "astronaut.png"
CHELSEA = REPO / "examples" / "chelsea.png"
DTYPES = {"u8": "u1", "u16": "<u2", "f32": "<f4"}
HINT_RECT = (96, 32, 320, 400)  # x, y, width, height of the selection used as a hint
OFFSET = (-60, 40)  # a 512×512 layer on a 400×300 canvas: larger than it, partly outside
VERSIONS = ("3.0", "3.2")
PRESET = "portable-best"
USER_CATALOG = f"""
[presets.{PRESET}]
name = "U²-Net portable, closed-form edges"
models = ["u2netp"]
refine = "best"
"""
TEXT = {"kind": "text", "name": "title", "text": "Cut", "size": 200}  # GIMP sizes the layer to it
VECTOR = {"kind": "vector", "name": "blob", "ellipse": [200, 150, 120, 90]}  # centre x, y; radii
LINK = {"kind": "link", "name": "linked", "file": str(ASTRONAUT)}
# Include and exclude points (issue 24) on two_photos(): the cat's photo is at BOX, the astronaut
# at the left. Anchors of paths in image coordinates; fractional, as the Paths tool places them.
ON_CAT, ON_CAT_TOO, ON_ASTRONAUT = (737.5, 256.25), (800.0, 180.0), (250.0, 200.0)
CLICKS_OFFSET = (40, -30)  # the two photos' layer moved right and up: points map to other pixels
OFF_LAYER = (60.5, 100.0)  # on the canvas, left of a layer at x 150


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def inputs(host_scratch) -> dict[str, str]:
    """Raw pixel files for the layers the driver builds (rows top-down, tightly packed)."""
    folder = host_scratch / "gimp3-inputs"
    folder.mkdir(exist_ok=True)
    astronaut = rgb(ASTRONAUT)
    rng = np.random.default_rng(4)
    deep = np.clip(astronaut.astype(np.int32) * 257 + rng.integers(-128, 129, astronaut.shape), 0, 65535)
    arrays = {
        "rgb8": astronaut,
        "rgba8": np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)]),
        "rgb16": deep.astype("<u2"),  # true 16-bit values, not 8-bit ones widened
        "rgbf": (astronaut / 255.0).astype("<f4"),
        "grey8": np.asarray(Image.open(ASTRONAUT).convert("L")),
        "cat8": rgb(CHELSEA)[50:200, 100:300],  # 200×150
        "two8": two_photos(),  # 963×512: the astronaut, and the cat the box selects
    }
    paths = {}
    for name, array in arrays.items():
        paths[name] = str(folder / f"{name}.raw")
        np.ascontiguousarray(array).tofile(paths[name])
    return paths


def rgb_layers(width: int, height: int, raw: str, **extra) -> dict:
    return dict({"name": "photo", "width": width, "height": height, "type": "RGB_IMAGE",
                 "format": "R'G'B' u8", "raw": raw}, **extra)


def canvas(width: int, height: int, *layers: dict, **extra) -> dict:
    return dict({"width": width, "height": height, "base": "RGB", "precision": "U8_NON_LINEAR",
                 "layers": list(layers)}, **extra)


def happy_scenarios(raw: dict[str, str], version: str) -> list[dict]:
    u8 = {"input_format": "R'G'B' u8", "mask_format": "Y u8"}
    rgba8 = {"input_format": "R'G'B'A u8", "mask_format": "Y u8"}
    photo = canvas(512, 512, rgb_layers(512, 512, raw["rgb8"]))
    cutout = {"args": {"output": "layer"}, "layer_format": "R'G'B'A u8"}
    kinds = [dict(rgba8, name="text", image=canvas(512, 512, TEXT)),
             dict(rgba8, **cutout, name="text-cutout", image=canvas(512, 512, TEXT))]
    if version != "3.0":  # vector and link layers are new in GIMP 3.2
        link = canvas(512, 512, LINK)
        kinds += [dict(rgba8, name="vector", image=canvas(400, 300, VECTOR)),
                  dict(rgba8, name="link", image=link), dict(rgba8, **cutout, name="link-cutout", image=link)]
    return kinds + [
        dict(u8, name="preset", args={"model": PRESET}, image=photo),
        dict(u8, name="preset-refine-chosen", args={"model": PRESET, "refine": "off"}, image=photo),
        dict(u8, name="photo", image={"load": str(ASTRONAUT)}),
        dict(name="offset", input_format="R'G'B'A u8", mask_format="Y u8",
             image=canvas(400, 300, dict(rgb_layers(512, 512, raw["rgba8"], offset=list(OFFSET)),
                                         type="RGBA_IMAGE", format="R'G'B'A u8"))),
        dict(u8, name="multi", targets=[0, 1],
             image=canvas(512, 512, rgb_layers(200, 150, raw["cat8"], name="cat", offset=[100, 300]),
                          rgb_layers(512, 512, raw["rgb8"]),
                          {"name": "untouched", "width": 64, "height": 64, "type": "RGB_IMAGE"})),
        dict(name="u16", input_format="R'G'B' u16", mask_format="Y u16",
             image=canvas(512, 512, rgb_layers(512, 512, raw["rgb16"], format="R'G'B' u16"),
                          precision="U16_NON_LINEAR")),
        dict(name="f32", input_format="R'G'B' float", mask_format="Y float",
             image=canvas(512, 512, rgb_layers(512, 512, raw["rgbf"], format="R'G'B' float"),
                          precision="FLOAT_LINEAR")),
        dict(name="grey", input_format="Y' u8", mask_format="Y u8",
             image=dict(canvas(512, 512, rgb_layers(512, 512, raw["grey8"], type="GRAY_IMAGE", format="Y' u8")),
                        base="GRAY")),
        dict(u8, name="hint", selection=list(HINT_RECT), args={"selection-hint": True},
             image=canvas(512, 512, rgb_layers(512, 512, raw["rgb8"]))),
        dict(u8, name="box", selection=list(BOX), args={"selection-hint": True},
             image=canvas(*TWO_PHOTOS_SIZE, rgb_layers(*TWO_PHOTOS_SIZE, raw["two8"]))),
        dict(u8, name="replace", image=canvas(512, 512, rgb_layers(512, 512, raw["rgb8"], mask="BLACK"))),
        dict(name="select", procedure="select", input_format="R'G'B' u8", selection_format="Y u8",
             selection=[0, 0, 10, 10],
             image=canvas(400, 300, rgb_layers(512, 512, raw["rgb8"], offset=list(OFFSET)))),
        dict(u8, name="cutout", args={"output": "layer"}, layer_format="R'G'B'A u8",
             image=canvas(512, 512, rgb_layers(512, 512, raw["rgb8"]))),
        dict(u8, name="clicks", image=two_photos_with_points(raw, (0, 0), [
            {"name": "include", "strokes": [[list(ON_CAT)]]},
            {"name": "Exclude", "strokes": [[list(ON_ASTRONAUT)]]},
            {"name": "outline", "strokes": [[[10, 10], [900, 500]]]}])),  # not a path of points
        dict(u8, name="clicks-off", args={"points": False}, image=two_photos_with_points(raw, (0, 0), [
            {"name": "include", "strokes": [[list(ON_CAT)]]}])),
        dict(u8, name="clicks-offset", image=two_photos_with_points(raw, CLICKS_OFFSET, [
            {"name": "+ cat", "strokes": [[moved(ON_CAT, CLICKS_OFFSET), moved(ON_CAT_TOO, CLICKS_OFFSET)]]},
            {"name": "- astronaut", "strokes": [[moved(ON_ASTRONAUT, CLICKS_OFFSET)]]}])),
        dict(name="clicks-undo", in_process=True, procedure="select", input_format="R'G'B' u8",
             selection_format="Y u8", image=two_photos_with_points(raw, CLICKS_OFFSET, [
                 {"name": "include", "strokes": [[moved(ON_CAT, CLICKS_OFFSET), moved(ON_CAT_TOO, CLICKS_OFFSET)]]},
                 {"name": "exclude", "strokes": [[moved(ON_ASTRONAUT, CLICKS_OFFSET)]]}])),
    ]


def moved(point: tuple[float, float], offset: tuple[int, int]) -> list[float]:
    """A point of the layer's own pixels in image coordinates, for a layer at ``offset``."""
    return [point[0] + offset[0], point[1] + offset[1]]


def two_photos_with_points(raw: dict[str, str], offset: tuple[int, int], paths: list[dict]) -> dict:
    """two_photos() as one layer at ``offset`` on a canvas its size, with ``paths``."""
    layer = rgb_layers(*TWO_PHOTOS_SIZE, raw["two8"], offset=list(offset))
    return canvas(*TWO_PHOTOS_SIZE, layer, paths=paths)


def failure_scenarios(raw: dict[str, str]) -> list[dict]:
    photo = canvas(512, 512, rgb_layers(512, 512, raw["rgb8"]))
    return [
        dict(name="missing-model", args={"model": "u2net"}, image=photo),
        dict(name="warm-up", image=photo),
        # 12 MP: long enough that the worker is killed while it works on the request.
        dict(name="killed", kill_after_cpu=0.2,
             image=canvas(4000, 3000, {"name": "big", "width": 4000, "height": 3000, "type": "RGB_IMAGE"})),
        dict(name="after-crash", input_format="R'G'B' u8", mask_format="Y u8", image=photo),
        dict(name="point-off-layer", image=canvas(700, 512, rgb_layers(512, 512, raw["rgb8"], offset=[150, 0]), paths=[
            {"name": "include", "strokes": [[[300, 200]]]}, {"name": "exclude", "strokes": [[list(OFF_LAYER)]]}])),
    ]


@pytest.fixture(scope="session")
def user_catalog(host_scratch) -> Path:
    path = host_scratch / "gimp3-catalog.toml"
    path.write_text(USER_CATALOG, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=VERSIONS, ids=[f"gimp-{v}" for v in VERSIONS])
def gimp3(request, host_scratch, model_cache, chroot_engine, user_catalog):
    """The real GIMP 3.N of its chroot, the plug-in installed in its plug-in folder."""
    chroot = CHROOTS[request.param]
    base = host_scratch / f"gimp-{request.param}"
    base.mkdir(exist_ok=True)
    gimp = Gimp3(base, chroot_engine(chroot.name), model_cache, chroot=chroot,
                 env={"CLEANCUT_CATALOG": str(user_catalog)})  # each GIMP session shuts its worker down
    assert gimp.version == request.param, f"the {chroot.name} chroot holds GIMP {gimp.version}"
    return gimp


ONLY_3_2 = pytest.mark.parametrize("gimp3", ["3.2"], indirect=True, ids=["gimp-3.2"])


def by_name(results: list[dict]) -> dict[str, dict]:
    named = {}
    for result in results:
        assert "exception" not in result, f"driver failed in {result['name']}:\n{result['exception']}"
        named[result["name"]] = result
    return named


@pytest.fixture(scope="module")
def happy(gimp3, inputs):
    results, _ = gimp3.run(happy_scenarios(inputs, gimp3.version), fonts=True)
    return by_name(results)


@pytest.fixture(scope="module")
def failures(gimp3, inputs):
    results, done = gimp3.run(failure_scenarios(inputs))
    return by_name(results), done.stdout + done.stderr


@pytest.fixture
def engine_here(monkeypatch, model_cache, user_catalog):
    """The engine in this process, on the same cached u2netp and user catalog as the worker in the chroot."""
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("CLEANCUT_OFFLINE", "1")
    monkeypatch.setenv("CLEANCUT_CATALOG", str(user_catalog))


def raw(path: str, fmt: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.fromfile(path, dtype=np.dtype(DTYPES[fmt])).reshape(shape)


_computed: dict[tuple, np.ndarray] = {}  # many scenarios (and both GIMPs) read the same pixels


def engine_alpha(path: str, width: int, height: int, channels: str, fmt: str, hint=None,
                 options: Options | None = None, clicks: prompts.Clicks | None = None) -> np.ndarray:
    """What the worker computes for these pixel bytes: decode as the worker does, remove, encode."""
    with open(path, "rb") as handle:
        data = handle.read()
    options = options or Options()
    key = (hashlib.sha1(data).digest(), width, height, channels, fmt,
           None if hint is None else hashlib.sha1(hint.tobytes()).digest(), options, clicks)
    if key not in _computed:
        rgb8, _ = frames.decode(data, width, height, channels, fmt)
        alpha = pipeline.remove(rgb8, options, hint=hint, clicks=clicks).alpha
        _computed[key] = np.frombuffer(frames.encode_alpha(alpha, fmt),
                                       dtype=np.dtype(DTYPES[fmt])).reshape(height, width)
    return _computed[key]


def succeeded(result: dict) -> None:
    assert (result["status"], result["error"]) == ("success", None)


def test_mask_equals_engine_alpha_on_a_photo(happy, engine_here):
    result = happy["photo"]
    succeeded(result)
    pixels = raw(result["inputs"][0], "u8", (512, 512, 3))
    assert np.array_equal(pixels, rgb(ASTRONAUT)), "GIMP read other pixels than the PNG holds"
    (layer,) = result["layers"]
    assert layer["has_mask"] and result["after"]["precision"] == "u8-non-linear"
    mask = raw(layer["mask"], "u8", (512, 512))
    expected = engine_alpha(result["inputs"][0], 512, 512, "RGB", "u8")
    assert 0 < expected.mean() < 255  # a real subject, not an empty or full mask
    assert np.array_equal(mask, expected)


def test_a_layer_with_an_offset_gets_a_mask_of_its_own_size_and_place(happy, engine_here):
    result = happy["offset"]
    succeeded(result)
    (layer,) = result["layers"]
    assert layer["offsets"] == list(OFFSET) and layer["mask_offsets"] == list(OFFSET)
    assert layer["size"] == [512, 512]  # the whole layer, also where it lies outside the canvas
    expected = engine_alpha(result["inputs"][0], 512, 512, "RGBA", "u8")
    assert np.array_equal(raw(layer["mask"], "u8", (512, 512)), expected)


def test_every_selected_layer_gets_its_own_mask_and_no_other(happy, engine_here):
    result = happy["multi"]
    succeeded(result)
    cat, photo, untouched = result["layers"]
    assert [cat["name"], photo["name"], untouched["name"]] == ["cat", "photo", "untouched"]
    assert np.array_equal(raw(cat["mask"], "u8", (150, 200)),
                          engine_alpha(result["inputs"][0], 200, 150, "RGB", "u8"))
    assert np.array_equal(raw(photo["mask"], "u8", (512, 512)),
                          engine_alpha(result["inputs"][1], 512, 512, "RGB", "u8"))
    assert not untouched["has_mask"]
    assert result["after"]["layers"][2] == result["before"]["layers"][2]


def test_a_16_bit_image_gets_a_16_bit_mask(happy, engine_here):
    result = happy["u16"]
    succeeded(result)
    assert result["after"]["precision"] == "u16-non-linear"
    (layer,) = result["layers"]
    expected = engine_alpha(result["inputs"][0], 512, 512, "RGB", "u16")
    mask = raw(layer["mask"], "u16", (512, 512))
    assert np.count_nonzero(mask % 257)  # values between the 8-bit steps: written at 16 bits
    assert np.array_equal(mask, expected)


def test_a_32_bit_float_image_gets_a_float_mask(happy, engine_here):
    result = happy["f32"]
    succeeded(result)
    assert result["after"]["precision"] == "float-linear"
    (layer,) = result["layers"]
    expected = engine_alpha(result["inputs"][0], 512, 512, "RGB", "f32")
    assert np.array_equal(raw(layer["mask"], "f32", (512, 512)), expected)


def test_a_grey_layer(happy, engine_here):
    result = happy["grey"]
    succeeded(result)
    (layer,) = result["layers"]
    expected = engine_alpha(result["inputs"][0], 512, 512, "Y", "u8")
    assert np.array_equal(raw(layer["mask"], "u8", (512, 512)), expected)


def test_the_selection_as_a_hint_keeps_the_subject_inside_it(happy, engine_here):
    result = happy["hint"]
    succeeded(result)
    x, y, width, height = HINT_RECT
    hint = np.zeros((512, 512), np.uint8)
    hint[y:y + height, x:x + width] = 128  # outside: background; inside: the model decides
    expected = engine_alpha(result["inputs"][0], 512, 512, "RGB", "u8", hint=hint)
    without = engine_alpha(result["inputs"][0], 512, 512, "RGB", "u8")
    assert not np.array_equal(expected, without)  # the hint changes this photo's alpha
    assert np.array_equal(raw(result["layers"][0]["mask"], "u8", (512, 512)), expected)


def test_a_rectangle_selection_is_a_box_prompt(happy, engine_here):
    result = happy["box"]
    succeeded(result)
    width, height = TWO_PHOTOS_SIZE
    path = result["inputs"][0]
    assert np.array_equal(raw(path, "u8", (height, width, 3)), two_photos())
    mask = raw(result["layers"][0]["mask"], "u8", (height, width))
    check_box_prompt(mask, lambda hint: engine_alpha(path, width, height, "RGB", "u8", hint=hint))


def test_an_existing_mask_is_replaced_not_merged(happy, engine_here):
    result = happy["replace"]
    succeeded(result)
    assert result["before"]["layers"][0]["mask"] is not None  # it had an all-black mask
    expected = engine_alpha(result["inputs"][0], 512, 512, "RGB", "u8")
    assert np.array_equal(raw(result["layers"][0]["mask"], "u8", (512, 512)), expected)


def test_select_subject_replaces_the_selection_at_the_layer_offset(happy, engine_here):
    result = happy["select"]
    succeeded(result)
    alpha = engine_alpha(result["inputs"][0], 512, 512, "RGB", "u8")
    expected = np.zeros((300, 400), np.uint8)  # the canvas; the layer covers x 0..399, y 40..299
    dx, dy = OFFSET
    expected[dy:, :] = alpha[:300 - dy, -dx:-dx + 400]
    assert np.array_equal(raw(result["selection"], "u8", (300, 400)), expected)
    assert not result["layers"][0]["has_mask"]
    assert result["after"]["layers"] == result["before"]["layers"]


def test_output_new_layer_holds_the_cut_out_above_the_untouched_original(happy, engine_here):
    result = happy["cutout"]
    succeeded(result)
    cutout, original = result["layers"]
    assert (cutout["name"], original["name"]) == ("photo (cut-out)", "photo")
    assert not cutout["has_mask"] and not original["has_mask"]
    assert result["after"]["layers"][1] == result["before"]["layers"][0]
    pixels = raw(cutout["pixels"], "u8", (512, 512, 4))
    assert np.array_equal(pixels[..., :3], rgb(ASTRONAUT))
    assert np.array_equal(pixels[..., 3], engine_alpha(result["inputs"][0], 512, 512, "RGB", "u8"))


def test_a_presets_own_refine_mode_applies_when_none_is_chosen(happy, engine_here):
    result = happy["preset"]
    succeeded(result)
    path = result["inputs"][0]
    expected = engine_alpha(path, 512, 512, "RGB", "u8", options=Options(model=PRESET))
    assert Options().refine_for(load_catalog().presets[PRESET].refine) == "best"
    assert not np.array_equal(expected, engine_alpha(path, 512, 512, "RGB", "u8",
                                                     options=Options(model=PRESET, refine="fast")))
    assert np.array_equal(raw(result["layers"][0]["mask"], "u8", (512, 512)), expected)


def test_a_chosen_refine_mode_wins_over_the_presets(happy, engine_here):
    result = happy["preset-refine-chosen"]
    succeeded(result)
    path = result["inputs"][0]
    expected = engine_alpha(path, 512, 512, "RGB", "u8", options=Options(model=PRESET, refine="off"))
    assert not np.array_equal(expected, engine_alpha(path, 512, 512, "RGB", "u8", options=Options(model=PRESET)))
    assert np.array_equal(raw(result["layers"][0]["mask"], "u8", (512, 512)), expected)


def check_points(result: dict, include: list[tuple[float, float]], exclude: list[tuple[float, float]]) -> np.ndarray:
    """The mask of the two photos' layer, after checking it holds the include points and not the
    exclude points (given in the layer's own pixels), equals the engine's answer for the same
    pixels and points, and that the paths stayed as they were. Returns the mask."""
    succeeded(result)
    assert result["after"]["paths"] == result["before"]["paths"]
    width, height = TWO_PHOTOS_SIZE
    path = result["inputs"][0]
    assert np.array_equal(raw(path, "u8", (height, width, 3)), two_photos())
    mask = raw(result["layers"][0]["mask"], "u8", (height, width))
    for x, y in include:
        assert mask[int(y), int(x)] >= 128, f"the include point {x},{y} is not in the mask"
    for x, y in exclude:
        assert mask[int(y), int(x)] < 128, f"the exclude point {x},{y} is in the mask"
    clicks = prompts.Clicks(include=tuple(include), exclude=tuple(exclude))
    assert np.array_equal(mask, engine_alpha(path, width, height, "RGB", "u8", clicks=clicks))
    return mask


def test_points_of_include_and_exclude_paths_select_the_subject_pointed_at(happy, engine_here):
    result = happy["clicks"]
    assert [p["name"] for p in result["before"]["paths"]] == ["outline", "Exclude", "include"]
    mask = check_points(result, [ON_CAT], [ON_ASTRONAUT])
    width, height = TWO_PHOTOS_SIZE
    # Without the points u2netp takes the astronaut: the points change the answer.
    assert not np.array_equal(mask, engine_alpha(result["inputs"][0], width, height, "RGB", "u8"))


def test_points_unticked_leave_the_paths_out(happy, engine_here):
    result = happy["clicks-off"]
    succeeded(result)
    width, height = TWO_PHOTOS_SIZE
    expected = engine_alpha(result["inputs"][0], width, height, "RGB", "u8")
    assert np.array_equal(raw(result["layers"][0]["mask"], "u8", (height, width)), expected)
    pointed = engine_alpha(result["inputs"][0], width, height, "RGB", "u8", clicks=prompts.Clicks(include=(ON_CAT,)))
    assert not np.array_equal(expected, pointed)  # had the point been sent, the mask would differ


def test_points_on_a_layer_with_an_offset_are_sent_in_the_layers_own_pixels(happy, engine_here):
    result = happy["clicks-offset"]
    (layer,) = result["layers"]
    assert layer["offsets"] == list(CLICKS_OFFSET) and layer["mask_offsets"] == list(CLICKS_OFFSET)
    mask = check_points(result, [ON_CAT, ON_CAT_TOO], [ON_ASTRONAUT])
    # The image coordinates taken as the layer's own would point elsewhere, with another answer.
    width, height = TWO_PHOTOS_SIZE
    unmoved = prompts.Clicks(include=(tuple(moved(ON_CAT, CLICKS_OFFSET)), tuple(moved(ON_CAT_TOO, CLICKS_OFFSET))),
                             exclude=(tuple(moved(ON_ASTRONAUT, CLICKS_OFFSET)),))
    assert not np.array_equal(mask, engine_alpha(result["inputs"][0], width, height, "RGB", "u8", clicks=unmoved))


def test_select_subject_with_points_changes_the_image_inside_one_undo_group(happy, engine_here):
    """The plug-in's run function in GIMP's batch process, every libgimp call that changes the
    image logged with its undo-group depth: one group, nothing changed outside it. (libgimp 3
    cannot read or replay the undo history itself.) The selection is the engine's answer for the
    points in the moved layer's own pixels, clipped to the canvas."""
    result = happy["clicks-undo"]
    succeeded(result)
    log = result["undo_log"]
    assert [entry for entry in log if entry[0].startswith("undo_group")] == [["undo_group_start", 0],
                                                                          ["undo_group_end", 0]], log
    writes = log[1:-1]
    assert log[0][0] == "undo_group_start" and log[-1][0] == "undo_group_end"
    assert {name for name, _ in writes} >= {"insert_layer", "add_mask", "select_item", "remove_layer"}, log
    assert all(depth == 1 for _, depth in writes), log
    width, height = TWO_PHOTOS_SIZE
    clicks = prompts.Clicks(include=(ON_CAT, ON_CAT_TOO), exclude=(ON_ASTRONAUT,))
    alpha = engine_alpha(result["inputs"][0], width, height, "RGB", "u8", clicks=clicks)
    dx, dy = CLICKS_OFFSET  # the layer covers x 40..962 and y 0..481 of the canvas
    expected = np.zeros((height, width), np.uint8)
    expected[:height + dy, dx:] = alpha[-dy:, :width - dx]
    assert np.array_equal(raw(result["selection"], "u8", (height, width)), expected)
    assert result["after"]["layers"] == result["before"]["layers"] and result["after"]["paths"] == result["before"]["paths"]


def test_a_point_off_the_layer_is_refused_with_a_message_and_the_image_unchanged(failures):
    results, log = failures
    result = results["point-off-layer"]
    unchanged(result)
    assert result["before"]["paths"][0]["name"] == "exclude"  # the paths were there, and stay
    assert ('The exclude point at 60.5, 100 (path "exclude") lies outside the layer "photo" (512×512 at 150, 0)'
            in result["error"]), result["error"]
    assert "The image was not changed." in result["error"] and "Traceback" not in log


def kind_keeps_its_mask(result: dict, kind: str) -> np.ndarray:
    """The one layer's mask, after checking the layer is still a live layer of ``kind`` (drawn from
    its text, path or file) with unchanged pixels."""
    succeeded(result)
    (layer,) = result["layers"]
    (before,), (after,) = result["before"]["layers"], result["after"]["layers"]
    assert layer["kind"] == before["kind"] == kind and before["live"] and after["live"]
    assert after["pixels"] == before["pixels"] and layer["has_mask"]
    width, height = layer["size"]
    mask = raw(layer["mask"], "u8", (height, width))
    assert np.array_equal(mask, engine_alpha(result["inputs"][0], width, height, "RGBA", "u8"))
    return mask


def test_a_text_layer_stays_text_and_gets_the_mask_of_its_rendered_pixels(happy, engine_here):
    kind_keeps_its_mask(happy["text"], "GimpTextLayer")
    width, height = happy["text"]["layers"][0]["size"]
    pixels = raw(happy["text"]["inputs"][0], "u8", (height, width, 4))
    assert 0 < np.count_nonzero(pixels[..., 3]) < pixels[..., 3].size  # glyphs on a clear ground


@ONLY_3_2
def test_a_vector_layer_stays_a_vector_layer_and_gets_the_mask_of_its_rendered_pixels(happy, engine_here):
    kind_keeps_its_mask(happy["vector"], "GimpVectorLayer")


@ONLY_3_2
def test_a_link_layer_stays_linked_and_gets_the_mask_of_the_linked_image(happy, engine_here):
    mask = kind_keeps_its_mask(happy["link"], "GimpLinkLayer")
    pixels = raw(happy["link"]["inputs"][0], "u8", (512, 512, 4))
    assert np.array_equal(pixels[..., :3], rgb(ASTRONAUT))  # the linked file's pixels
    assert 0 < mask.mean() < 255


def cutout_of_a_live_layer(result: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the source's pixels, the cut-out's pixels, the engine's alpha), after checking that the
    cut-out above is pixels (no longer drawn from text, path or file) and the source is untouched."""
    succeeded(result)
    cutout, source = result["layers"]
    assert result["after"]["layers"][1] == result["before"]["layers"][0] and source["live"]
    assert cutout["name"] == f"{source['name']} (cut-out)" and not cutout["live"] and not cutout["has_mask"]
    width, height = source["size"]
    return (raw(result["inputs"][0], "u8", (height, width, 4)), raw(cutout["pixels"], "u8", (height, width, 4)),
            engine_alpha(result["inputs"][0], width, height, "RGBA", "u8"))


def test_the_cut_out_of_a_text_layer_is_pixels_and_the_text_stays(happy, engine_here):
    source, cutout, alpha = cutout_of_a_live_layer(happy["text-cutout"])
    # The glyphs' own alpha times the engine's (255·255 is odd: no product lies half-way).
    assert np.array_equal(cutout[..., 3], np.round(source[..., 3] * (alpha / 255.0)).astype(np.uint8))
    drawn = cutout[..., 3] > 0
    assert drawn.any() and np.array_equal(cutout[drawn, :3], source[drawn, :3])


@ONLY_3_2
def test_the_cut_out_of_a_link_layer_is_pixels_and_the_link_stays(happy, engine_here):
    source, cutout, alpha = cutout_of_a_live_layer(happy["link-cutout"])
    assert np.array_equal(cutout[..., :3], source[..., :3])
    assert np.array_equal(cutout[..., 3], alpha)  # the linked photo is opaque: its alpha is the engine's


def unchanged(result: dict) -> None:
    assert result["status"] == "execution-error"
    assert result["after"] == result["before"]


def test_a_missing_model_leaves_the_image_unchanged_with_the_engines_message(failures, engine_here):
    results, log = failures
    result = results["missing-model"]
    unchanged(result)
    with pytest.raises(CleancutError) as engine_says:
        fetch.ensure(load_catalog().get("u2net"), offline=True)
    assert str(engine_says.value) in result["error"]
    assert "Traceback" not in log


def test_a_worker_killed_mid_run_leaves_the_image_unchanged_with_a_clear_message(failures):
    results, log = failures
    assert results["warm-up"]["status"] == "success"
    result = results["killed"]
    assert result["killed_after_cpu"] is not None, "the run finished before the worker could be killed"
    unchanged(result)
    assert "The cleancut engine stopped unexpectedly" in result["error"]
    assert "It will be restarted on the next try." in result["error"]
    assert "Traceback" not in log


def test_the_next_run_after_a_crash_works(failures, engine_here):
    results, _ = failures
    result = results["after-crash"]
    succeeded(result)
    assert result["worker_pids"] != results["warm-up"]["worker_pids"]  # a new worker
    expected = engine_alpha(result["inputs"][0], 512, 512, "RGB", "u8")
    assert np.array_equal(raw(result["layers"][0]["mask"], "u8", (512, 512)), expected)


def licensed_model():
    """A catalog model whose licence needs the user's acceptance (copyleft or stricter)."""
    return next(e for e in load_catalog().models.values() if licences.entry_class(e) != licences.PERMISSIVE)


@pytest.fixture(scope="module")
def dialog(gimp3):
    record, done = gimp3.run_dialog(licensed_model().id, load_catalog().default)
    assert "exception" not in record and "timer_exception" not in record, record
    steps = {step["step"]: step for step in record["steps"]}
    return record, steps, done.stdout + done.stderr


def test_the_dialog_offers_the_engines_models_and_refine_modes_first_the_engines_default(dialog, engine_here):
    _, steps, log = dialog
    combos = steps["opened"]["combos"]
    assert [*load_catalog().models, *load_catalog().presets] in combos  # presets offered like models
    assert PRESET in load_catalog().presets  # the user catalog's, too
    assert ["", *REFINE_MODES] in combos  # "": send none, so a preset keeps its own
    assert steps["opened"]["refine"] == ""
    assert "duplicate mnemonic" not in log


def test_the_dialog_offers_the_three_outputs_however_gimp_draws_the_choice(dialog):
    _, steps, _ = dialog
    output = steps["opened"]["output"]
    assert output["values"] == ["mask", "selection", "layer"], output  # each picked in turn
    assert output["labels"] == ["Layer mask", "Selection", "New layer with the cut-out"], output
    assert output["restored"] == "mask"


def test_the_dialog_shows_the_licence_only_for_a_model_that_needs_acceptance(dialog):
    _, steps, _ = dialog
    entry = licensed_model()
    opened = steps["opened"]
    assert opened["model"] == entry.id and opened["accept_visible"]
    text = "\n".join(opened["labels"])
    assert entry.licence in text and entry.training_data_terms in text
    permissive = steps["permissive chosen"]
    assert permissive["model"] == load_catalog().default and not permissive["accept_visible"]


def test_the_dialog_records_acceptance_through_the_engine_only_once_ticked(dialog, gimp3, monkeypatch):
    record, steps, _ = dialog
    entry = licensed_model()
    refused = steps["after OK without ticking"]  # OK without the tick: the dialog stays open
    assert any("Tick the box" in label for label in refused["labels"])
    assert entry.id not in refused["accepted_so_far"]
    assert record["returned"] is True and "still open" not in steps
    monkeypatch.setenv("CLEANCUT_CONFIG_DIR", str(gimp3.config))
    assert licences.is_accepted(entry)


# --- a first run: the download shows in the dialog and Cancel stops it (GIMP 3.2) -------------


FIRST_RUN_PATHS = [{"name": "include", "strokes": [[[256, 100], [250, 300]]]}, {"name": "- sky", "strokes": [[[20, 20]]]}]


@pytest.fixture(scope="module")
def first_run(host_scratch, model_cache, chroot_engine, inputs):
    """GIMP 3.2 works its real dialog: OK on a model not downloaded yet, whose file a loopback
    server sends at 1 MiB/s (u2netp's 4.6 MB: 4.4 s), then Cancel once the download has moved."""
    catalog = host_scratch / "gimp-first-run-catalog.toml"
    base = host_scratch / "gimp-3.2-first-run"
    base.mkdir(exist_ok=True)
    cache = host_scratch / "gimp-first-run-cache"  # empty: nothing downloaded yet
    gimp = Gimp3(base, chroot_engine(CHROOTS["3.2"].name), cache, chroot=CHROOTS["3.2"],
                 env={"CLEANCUT_CATALOG": str(catalog), "CLEANCUT_OFFLINE": "0"})
    image = canvas(512, 512, rgb_layers(512, 512, inputs["rgb8"]), paths=FIRST_RUN_PATHS)
    with first_run_server(model_cache, catalog) as (server, size):
        record, done = gimp.run_dialog(DOWNLOAD_MODEL, mode="download-cancel", image=image, cancel_after=3)
    assert "exception" not in record and "timer_exception" not in record, record
    return record, size, server.sent.get("/u2netp.onnx", 0)


def test_gimp_says_before_a_first_run_what_it_downloads(first_run):
    record, size, _ = first_run
    notice = (f"Test model {DOWNLOAD_MODEL} ({DOWNLOAD_MODEL}) is not downloaded yet: the first run downloads "
              f"{size / 1e6:.1f} MB (licence Apache-2.0) into the model cache, then runs. Cancel stops the download.")
    assert any(notice in label for label in record["labels"]), record["labels"]


def test_gimp_says_which_points_it_will_send_and_what_they_mean(first_run):
    record, _, _ = first_run
    said = ("Points: 2 include (the subject is there), 1 exclude (not the subject), from the paths '- sky', 'include'.")
    assert said in record["labels"], record["labels"]


def test_gimp_shows_the_download_moving_in_its_dialog(first_run):
    record, size, _ = first_run
    shown = [(fraction, text) for _, fraction, text, visible in record["samples"] if visible and text.startswith("Downloading")]
    fractions = [fraction for fraction, _ in shown]
    assert len(set(fractions)) >= 3 and fractions == sorted(fractions) and 0 < fractions[-1] < 1
    assert shown[-1][1] == f"Downloading {DOWNLOAD_MODEL}: {fractions[-1] * size / 1e6:.1f} of {size / 1e6:.1f} MB"
    assert record["sensitive_while_working"] == {"GtkProgressBar": True, "GimpStringComboBox": False,
                                                 "GtkCheckButton": False, "GtkRadioButton": False}
    assert (record["buttons_while_working"]["_OK"], record["buttons_while_working"]["_Cancel"]) == (False, True)


def test_gimp_cancel_during_the_download_stops_it_and_leaves_the_image_byte_identical(first_run):
    record, size, sent = first_run
    assert record["status"] == "cancel"
    assert record["returned_after_cancel_s"] < 1.0
    assert record["after"] == record["before"]  # every layer's pixels and mask, and the selection
    assert record["cache"] == []  # no partial file, no staging file
    assert sent < size  # the server saw the download stop
