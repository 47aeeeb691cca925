"""cleancut's Krita plug-in inside the real Krita 5.1.5 (Debian 12), 5.2.9 (Debian 13 chroot),
5.3.4 (Debian sid chroot) and 6.0.4 (Qt 6, PyQt6: Debian experimental, a sid chroot of its own);
hostkit.KRITAS is the list.

Each Krita version runs once per module under Xvfb with the plug-in installed as a user would
have it (pykrita/ + actions/ + kritarc), plus a test driver plug-in
(tests/hosts/krita/cleancut_driver) that works the plug-in's actions and dialogs from Krita's
main loop (tests/hosts/krita/scenarios.py) and dumps what came out. The driver's fail-fast
excepthook and watchdog, and an outer timeout, make a hung or crashing Krita fail the run.

Every expectation is computed here, by the engine itself (`cleancut.pipeline.remove`, decoding
the bytes as the worker does) on the pixels the test wrote into the document or, where Krita
converts colours (float documents, groups), on the bytes the plug-in's own reader produced
inside Krita (dumped by the driver with the very same function). So masks are compared
exactly: same u2netp, same bytes, same u8 alpha.
"""

from __future__ import annotations

import configparser
import json
import os
from pathlib import Path

import numpy as np
import pytest
from hostkit import REPO, x_server_left
from hostkit.scenes import BOX, DOWNLOAD_MODEL, TWO_PHOTOS_SIZE, check_box_prompt, first_run_server, two_photos
from PIL import Image
from scipy import ndimage

from cleancut import frames, pipeline, prompts
from cleancut.catalog import load_catalog
from cleancut.errors import CleancutError
from cleancut.options import REFINE_MODES, Options
from krita_harness import FLAVOURS, KritaHost, KritaRunError
from krita_matrix import ASTRONAUT, CHELSEA, CLICKS, HINT_RECT, REFINE_CHOICE, SCENARIOS, rgb, with_alpha

MASK_NAME = "Background removed (cleancut)"
NO_ENGINE = "/nonexistent/cleancut/python3"


@pytest.fixture(scope="module")
def inputs(krita_inputs) -> dict:
    return krita_inputs


@pytest.fixture(scope="module")
def sessions(krita_sessions) -> dict:
    """The Krita sessions (started by conftest.py's krita_sessions with the first host test)."""
    return krita_sessions


@pytest.fixture(scope="module", params=FLAVOURS, ids=[f"krita{flavour}" for flavour in FLAVOURS])
def krita(request, sessions):
    """One Krita version's scenario results; (results, host, flavour)."""
    future, host = sessions[request.param]
    results, _ = future.result()  # a failed or hung Krita fails this version's tests here
    return results, host, request.param


@pytest.fixture
def engine_here(monkeypatch, model_cache):
    """The engine in this process, on the same cached u2netp as Krita's worker."""
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("CLEANCUT_OFFLINE", "1")


def raw(path: str, dtype, shape) -> np.ndarray:
    return np.fromfile(path, dtype=np.dtype(dtype)).reshape(shape)


def engine_alpha(pixels: bytes | np.ndarray, width: int, height: int, channels: str, fmt: str, hint=None,
                 points: dict | None = None) -> np.ndarray:
    """What the worker answers for these bytes: decoded as it does, removed, encoded as u8.
    ``points``: the include and exclude points the plug-in sent ({"include": [[x, y]], ...})."""
    rgb8, _ = frames.decode(bytes(np.ascontiguousarray(pixels)), width, height, channels, fmt)
    clicks = None
    if points:
        clicks = prompts.Clicks(include=tuple((float(x), float(y)) for x, y in points["include"]),
                                exclude=tuple((float(x), float(y)) for x, y in points["exclude"]))
        clicks = clicks.checked(width, height) if clicks else None
    alpha = pipeline.remove(rgb8, Options(foreground=False), hint=hint, clicks=clicks).alpha  # as the plug-in asks
    return np.frombuffer(frames.encode_alpha(alpha, "u8"), np.uint8).reshape(height, width)


def astronaut_alpha() -> np.ndarray:
    return engine_alpha(with_alpha(rgb(ASTRONAUT), 255).astype(np.uint8), 512, 512, "RGBA", "u8")


def done(outcome: dict) -> None:
    assert (outcome["status"], outcome["message"], outcome["boxes"]) == ("done", None, [])


def mask_is(result: dict, expected: np.ndarray) -> None:
    """The cleancut mask holds exactly the expected alpha, and the layer shows it."""
    height, width = expected.shape
    assert result["mask_depth"] == ["A", "U8"]  # Krita's masks are 8-bit alpha at every image depth
    mask = raw(result["mask"], np.uint8, (height, width))
    assert 0 < expected.mean() < 255  # a real subject: neither an empty nor a full mask
    assert np.array_equal(mask, expected)


def shown_alpha(result: dict, shape, pixel=4, dtype=np.uint8) -> np.ndarray:
    """The alpha channel of the layer's projection (what the canvas shows)."""
    projection = raw(result["projection"], dtype, shape + (pixel,))
    return projection[..., -1]


# --- where the actions are ------------------------------------------------------------------
def test_actions_sit_in_the_layer_and_select_menus_and_come_from_the_action_file(krita):
    results, _, flavour = krita
    menus = results["menus"]
    assert menus["version"].startswith(flavour)
    assert "cleancut_remove_background" in menus["menus"]["Layer"]
    assert "cleancut_options" in menus["menus"]["Layer"]
    assert "cleancut_select_subject" in menus["menus"]["Select"]
    action_file = (REPO / "krita" / "cleancut_krita.action").read_text()
    for name, action in menus["actions"].items():
        assert action is not None, name
        # Texts only the .action file holds: Krita's action registry knows these actions, so
        # they are listed (and their shortcuts assignable) in Settings > Keyboard Shortcuts.
        assert f"<toolTip>{action['toolTip']}</toolTip>" in action_file
        assert action["statusTip"] == action["toolTip"]
    assert menus["actions"]["cleancut_remove_background"]["text"] == "Remove Background"
    assert menus["actions"]["cleancut_select_subject"]["text"] == "Select Subject"
    assert "cleancut_krita.extension" in menus["extension_modules"]


# --- Remove Background on a real photo --------------------------------------------------------
def test_the_mask_equals_the_engines_alpha_on_a_photo(krita, engine_here):
    results, _, _ = krita
    result = results["photo8"]
    done(result["outcome"])
    assert result["mask_name"] == [MASK_NAME]
    expected = astronaut_alpha()
    mask_is(result, expected)
    assert np.array_equal(shown_alpha(result, (512, 512)), expected)  # the canvas shows the cut-out
    before, after = result["before"]["nodes"], result["after"]["nodes"]
    assert after[0] == before[0]  # the photo's own pixels are untouched: the mask is non-destructive
    assert [(n["name"], n["type"], n["depth"]) for n in after] == [
        ("Background", "paintlayer", 0), (MASK_NAME, "transparencymask", 1)]


def test_remove_background_is_one_undo_step(krita):
    results, _, _ = krita
    result = results["photo8"]
    before, after = result["history_before"], result["history_after"]
    assert len(after["entries"]) == len(before["entries"]) + 1
    assert after["current"] == before["current"] + 1
    assert result["after_undo"] == result["before"]  # one Undo: no mask, same selection, same pixels
    assert result["history_after_undo"]["current"] == before["current"]
    assert result["after_redo"] == result["after"]  # Redo: the same mask, same pixels


def test_the_engine_runs_while_kritas_main_loop_keeps_turning(krita):
    results, _, _ = krita
    outcome = results["photo8"]["outcome"]
    # The first run starts the worker and loads the model (a second or more); Krita's main loop
    # kept handling a 10 ms timer during all of it, so the GUI never froze on the engine.
    assert outcome["engine_s"] > 0.2
    assert outcome["ticks_while_engine_ran"] >= outcome["engine_s"] * 10  # a tick per 100 ms or better


# --- colour depths and models -------------------------------------------------------------------
def test_a_16_bit_document_sends_its_16_bit_pixels(krita, engine_here, inputs):
    results, _, _ = krita
    result = results["u16"]
    done(result["outcome"])
    assert result["document"][:2] == ["RGBA", "U16"]
    assert (result["channels"], result["pixel_format"], result["converted"]) == ("RGBA", "u16", False)
    sent = raw(result["frame"], "<u2", (512, 512, 4))
    assert np.array_equal(sent[..., :3], inputs["deep"])  # the true 16-bit values, R G B in order
    mask_is(result, engine_alpha(sent, 512, 512, "RGBA", "u16"))


@pytest.mark.parametrize("case, depth", [("f32", "F32"), ("f16", "F16")])
def test_a_float_document_is_converted_by_krita_to_the_engines_srgb(krita, engine_here, case, depth):
    results, _, _ = krita
    result = results[case]
    done(result["outcome"])
    assert result["document"][:2] == ["RGBA", depth]
    assert (result["channels"], result["pixel_format"], result["converted"]) == ("RGBA", "u8", True)
    sent = raw(result["frame"], np.uint8, (512, 512, 4))
    # Krita's colour-managed conversion of the linear float pixels back to 8-bit sRGB: the photo,
    # within one step of rounding (half floats and LCMS's curves round differently from 8 bits).
    difference = np.abs(sent[..., :3].astype(int) - rgb(ASTRONAUT))
    assert difference.max() <= 1 and (difference == 0).mean() > 0.9
    assert np.all(sent[..., 3] == 255)
    mask_is(result, engine_alpha(sent, 512, 512, "RGBA", "u8"))


def test_a_grey_document(krita, engine_here, inputs):
    results, _, _ = krita
    result = results["grey"]
    done(result["outcome"])
    assert result["document"][:2] == ["GRAYA", "U8"]
    assert (result["channels"], result["pixel_format"]) == ("YA", "u8")
    sent = raw(result["frame"], np.uint8, (512, 512, 2))
    assert np.array_equal(sent, raw(inputs["astronaut_ya8"], np.uint8, (512, 512, 2)))
    mask_is(result, engine_alpha(sent, 512, 512, "YA", "u8"))


# --- layer geometry -----------------------------------------------------------------------------
def test_a_layer_with_an_offset_gets_its_mask_at_its_place(krita, engine_here):
    results, _, _ = krita
    result = results["offset"]
    done(result["outcome"])
    assert result["layer_rect"] == [-60, 40, 512, 512]  # partly outside the 400×300 canvas
    assert result["frame_rect"] == [-60, 40, 512, 512]  # the whole layer is sent, also off-canvas
    assert np.array_equal(raw(result["frame"], np.uint8, (512, 512, 4))[..., :3], rgb(ASTRONAUT))
    mask_is(result, astronaut_alpha())


def test_a_layer_smaller_than_the_canvas(krita, engine_here, inputs):
    results, _, _ = krita
    result = results["small"]
    done(result["outcome"])
    assert result["layer_rect"] == result["frame_rect"] == [100, 300, 200, 150]
    sent = raw(result["frame"], np.uint8, (150, 200, 4))
    assert np.array_equal(sent, raw(inputs["cat_bgra8"], np.uint8, (150, 200, 4))[..., [2, 1, 0, 3]])
    mask_is(result, engine_alpha(sent, 200, 150, "RGBA", "u8"))


def test_a_group_layer_is_cut_out_from_its_projection(krita, engine_here):
    results, _, _ = krita
    result = results["group"]
    done(result["outcome"])
    assert result["group_rect"] == result["frame_rect"] == [0, 0, 712, 512]
    sent = raw(result["frame"], np.uint8, (512, 712, 4))
    assert np.array_equal(sent[:, :512, :3], rgb(ASTRONAUT))  # both children, composited
    assert np.array_equal(sent[:150, 512:, :3], rgb(CHELSEA)[50:200, 100:300])
    assert np.all(sent[150:, 512:, 3] == 0)  # nothing there
    assert result["group_children"] == [["astronaut", "paintlayer"], ["cat", "paintlayer"],
                                        [MASK_NAME, "transparencymask"]]
    mask_is(result, engine_alpha(sent, 712, 512, "RGBA", "u8"))


# --- Select Subject and the selection -------------------------------------------------------------
def test_select_subject_sets_the_selection_to_the_subject(krita, engine_here):
    results, _, _ = krita
    result = results["select"]
    done(result["outcome"])
    selection = raw(result["selection"], np.uint8, (512, 512))
    assert np.array_equal(selection, astronaut_alpha())  # replaced, not combined with the old one
    assert result["after"]["nodes"] == result["before"]["nodes"]  # no mask, no pixel changed


def test_the_selection_as_a_hint(krita, engine_here):
    results, _, _ = krita
    result = results["hint"]
    done(result["outcome"])
    x, y, width, height = HINT_RECT
    selection = raw(result["hint"], np.uint8, (512, 512))
    assert selection[y:y + height, x:x + width].min() == 255 and selection.sum() == 255 * width * height
    region = np.zeros((512, 512), np.uint8)
    region[y:y + height, x:x + width] = 128  # outside: background; inside: the model decides
    pixels = with_alpha(rgb(ASTRONAUT), 255).astype(np.uint8)
    expected = engine_alpha(pixels, 512, 512, "RGBA", "u8", hint=region)
    assert not np.array_equal(expected, astronaut_alpha())  # the hint matters on this photo
    mask_is(result, expected)
    assert result["after"]["selection"] == result["before"]["selection"]


def test_a_rectangle_selection_is_a_box_prompt(krita, engine_here):
    results, _, _ = krita
    result = results["box"]
    done(result["outcome"])
    width, height = TWO_PHOTOS_SIZE
    pixels = with_alpha(two_photos(), 255).astype(np.uint8)
    assert result["mask_depth"] == ["A", "U8"]
    check_box_prompt(raw(result["mask"], np.uint8, (height, width)),
                     lambda hint: engine_alpha(pixels, width, height, "RGBA", "u8", hint=hint))
    assert result["after"]["selection"] == result["before"]["selection"]  # the selection stays


def test_the_chosen_refinement_level_reaches_the_engine(krita, engine_here):
    results, _, _ = krita
    result = results["refine"]
    done(result["outcome"])
    pixels = with_alpha(rgb(ASTRONAUT), 255).astype(np.uint8)
    rgb8, _ = frames.decode(pixels.tobytes(), 512, 512, "RGBA", "u8")
    alpha = pipeline.remove(rgb8, Options(refine=REFINE_CHOICE, foreground=False)).alpha
    expected = np.frombuffer(frames.encode_alpha(alpha, "u8"), np.uint8).reshape(512, 512)
    if REFINE_CHOICE != Options().refine:
        assert not np.array_equal(expected, astronaut_alpha())  # the level shows in this photo's mask
    mask_is(result, expected)


def test_a_users_selection_is_left_as_it_was_by_remove_background_and_its_undo(krita, engine_here):
    results, _, _ = krita
    result = results["keeps_selection"]
    done(result["outcome"])
    mask_is(result, astronaut_alpha())  # the selection did not shape the mask (hint is off)
    assert result["before"]["selection"] is not None
    assert result["after"]["selection"] == result["before"]["selection"]
    assert result["after_undo"] == result["before"]


# --- include and exclude points ---------------------------------------------------------------------
def dot_centres(path: str, shape) -> list[tuple[float, float]]:
    """Where Krita painted a points layer's circles (pixels of the document, continuous: the
    centre of pixel (0, 0) is 0.5, 0.5): the alpha-weighted centre of each painted blob. This is
    independent of libkis' units, so it checks the plug-in's conversion from points to pixels."""
    alpha = raw(path, np.uint8, shape + (4,))[..., 3].astype(float)
    labels, count = ndimage.label(alpha > 0)
    centres = ndimage.center_of_mass(alpha, labels, range(1, count + 1))
    return sorted((x + 0.5, y + 0.5) for y, x in centres)


def points_at(sent: list, drawn: list, origin) -> None:
    """The points the plug-in sent (frame pixels) are where Krita drew the circles, less the
    frame's origin, within a quarter of a pixel."""
    assert len(sent) == len(drawn)
    for (x, y), (dx, dy) in zip(sorted(sent), drawn):
        assert abs(x + origin[0] - dx) < 0.25 and abs(y + origin[1] - dy) < 0.25, (x, y, dx, dy, origin)


def obeys(alpha: np.ndarray, points: dict) -> None:
    """The subject contains every include point and leaves out every exclude point."""
    for x, y in points["include"]:
        assert alpha[int(y), int(x)] >= 128, ("include", x, y, alpha[int(y), int(x)])
    for x, y in points["exclude"]:
        assert alpha[int(y), int(x)] < 128, ("exclude", x, y, alpha[int(y), int(x)])


def test_include_and_exclude_points_choose_the_subject_in_one_undo_step(krita, engine_here):
    results, _, _ = krita
    result = results["clicks"]
    done(result["outcome"])
    sent = result["outcome"]["points"]
    width, height = TWO_PHOTOS_SIZE
    assert (result["resolution"], result["layer_rect"]) == (CLICKS["resolution"], [0, 0, width, height])
    # One include point (the switched-off include layer does not count), one exclude point, each
    # where Krita drew its circle on this 150 ppi document.
    assert (len(sent["include"]), len(sent["exclude"])) == (1, 1)
    for kind in ("include", "exclude"):
        points_at(sent[kind], dot_centres(result["dots"][kind], (height, width)), (0, 0))
    pixels = with_alpha(two_photos(), 255).astype(np.uint8)
    expected = engine_alpha(pixels, width, height, "RGBA", "u8", points=sent)
    mask_is(result, expected)
    mask = raw(result["mask"], np.uint8, (height, width))
    obeys(mask, sent)
    # Without the points, the engine's subject is another: a plug-in that dropped them would fail.
    unpointed = engine_alpha(pixels, width, height, "RGBA", "u8")
    assert unpointed[int(sent["exclude"][0][1]), int(sent["exclude"][0][0])] >= 128
    # One undo step, which takes the mask away and nothing else (the points layers stay).
    assert len(result["history_after"]["entries"]) == len(result["history_before"]["entries"]) + 1
    assert result["after_undo"] == result["before"]
    before = [(n["name"], n["type"], n["depth"]) for n in result["before"]["nodes"]]
    assert before[0] == ("Background", "paintlayer", 0)
    assert [(n["name"], n["type"], n["depth"]) for n in result["after"]["nodes"]] == [
        before[0], (MASK_NAME, "transparencymask", 1), *before[1:]]
    # Select Subject goes by the same points.
    done(result["select"])
    assert result["select"]["points"] == sent
    assert np.array_equal(raw(result["selection"], np.uint8, (height, width)), expected)


def test_points_reach_the_engine_in_the_pixels_of_a_layer_with_an_offset(krita, engine_here):
    results, _, _ = krita
    result = results["clicks_offset"]
    done(result["outcome"])
    sent = result["outcome"]["points"]
    width, height = TWO_PHOTOS_SIZE
    origin = CLICKS["offset"]
    assert result["resolution"] == round(CLICKS["offset_resolution"])  # libkis' resolution() is whole ppi
    assert result["layer_rect"] == result["frame_rect"] == [*origin, width, height]  # partly off the 900×600 canvas
    for kind in ("include", "exclude"):
        points_at(sent[kind], dot_centres(result["dots"][kind], (600, 900)), origin)
        # ...which are the picture's own pixels the points were put on (through moved layers too)
        assert np.allclose(sorted(sent[kind]), sorted(CLICKS[kind]), atol=0.25)
    sent_pixels = raw(result["frame"], np.uint8, (height, width, 4))
    assert np.array_equal(sent_pixels[..., :3], two_photos())
    expected = engine_alpha(sent_pixels, width, height, "RGBA", "u8", points=sent)
    mask_is(result, expected)
    obeys(raw(result["mask"], np.uint8, (height, width)), sent)


def test_points_off_the_layer_or_on_the_active_layer_are_refused_and_nothing_changes(krita):
    results, _, _ = krita
    result = results["clicks_refused"]
    for case, text in (("active_points", ("The active layer \u201cinclude\u201d holds include points for cleancut: "
                                          "select the layer to cut out in the Layers docker, then run it again.")),
                       ("off_layer", ("The exclude point at 50, 50 (a shape on the layer \u201cexclude\u201d) lies "
                                      "outside the layer \u201ccat\u201d, which covers x 100 to 299 and y 300 to 449: "
                                      "move the point onto the layer, or delete or hide it. Nothing was changed."))):
        outcome = result[case]
        assert (outcome["status"], outcome["message"], outcome["boxes"]) == ("failed", text, [text]), case
        assert outcome["engine"] is None  # refused before any request reached the worker
    unchanged(result)


# --- cancel and failures leave the document as it was ----------------------------------------------
def unchanged(result: dict) -> None:
    assert result["after"] == result["before"]
    assert result["history_after"] == result["history_before"]


def test_cancel_leaves_the_document_unchanged_and_the_next_run_works(krita, engine_here):
    results, _, _ = krita
    result = results["cancel"]
    outcome = result["outcome"]
    assert (outcome["status"], outcome["message"], outcome["boxes"]) == ("cancelled", None, [])
    assert result["cancel"]["stage_at_cancel"] not in (None, "model")  # clicked while the worker worked
    assert outcome["engine"] == "cancelled"  # the worker stopped, not merely ignored
    assert result["cancel"]["label_after"] == "Cancelling\u2026"
    unchanged(result)
    done(result["next_run"])
    mask_is(result, astronaut_alpha())


def test_a_missing_model_shows_the_engines_message_and_changes_nothing(krita, engine_here):
    results, _, _ = krita
    result = results["missing_model"]
    outcome = result["outcome"]
    with pytest.raises(CleancutError) as engine_says:
        pipeline.remove(np.zeros((8, 8, 3), np.uint8), Options(model="u2net"))
    assert (outcome["status"], outcome["kind"]) == ("failed", "model")
    assert outcome["message"] == str(engine_says.value)
    assert outcome["boxes"] == [outcome["message"]]  # shown to the user as is
    unchanged(result)


def test_no_engine_shows_the_clients_setup_message_and_changes_nothing(krita):
    results, _, _ = krita
    result = results["no_engine"]
    outcome = result["outcome"]
    assert (outcome["status"], outcome["kind"]) == ("failed", "setup")
    assert outcome["message"].startswith(f"The cleancut engine could not be started with {NO_ENGINE}")
    assert "CLEANCUT_ENGINE_PYTHON" in outcome["message"]
    assert outcome["boxes"] == [outcome["message"]]
    unchanged(result)


def test_a_fault_in_the_plug_in_is_a_message_box_not_a_crash(krita):
    results, _, _ = krita
    result = results["plugin_bug"]
    outcome = result["outcome"]
    assert (outcome["status"], outcome["kind"]) == ("failed", "internal")
    assert outcome["message"].startswith("cleancut hit an unexpected problem, and nothing was changed.")
    assert "RuntimeError: a deliberate fault in read_frame" in outcome["message"]
    assert outcome["boxes"] == [outcome["message"]]
    unchanged(result)


# --- options --------------------------------------------------------------------------------
def test_the_options_dialog_offers_the_engines_models_and_refinement_levels(krita):
    results, _, _ = krita
    first = results["options"]["first"]
    assert first["models"] == ["", *load_catalog().models, *load_catalog().presets]  # "": the default; presets like models
    assert first["refine"] == [""] + list(REFINE_MODES)  # "" is the engine's default level
    assert first["initial"] == {"model": "", "refine": "", "hint": False}
    assert (first["accept_visible"], first["ok_enabled"]) == (False, True)  # u2netp: Apache-2.0
    assert first["settings_after"] == {"model": "u2netp", "refine": REFINE_CHOICE, "selection_hint": True}
    # ...and says how to point at the subject, include and exclude apart
    assert "vector layer named \u201cinclude\u201d" in first["points_help"]
    assert "one named \u201cexclude\u201d" in first["points_help"]


def test_a_copyleft_model_is_chosen_only_with_its_licence_accepted(krita):
    results, host, _ = krita
    second = results["options"]["second"]
    assert second["initial"] == {"model": "u2netp", "refine": REFINE_CHOICE, "hint": True}  # remembered
    assert second["accept_visible"] and not second["ok_enabled_before_accepting"]
    assert "AGPL-3.0" in second["licence_text"]
    assert second["settings_after"]["model"] == "isnet"
    settings = json.loads((host.config / "config.json").read_text())
    assert "isnet" in json.dumps(settings)  # the engine recorded the acceptance


def test_options_are_remembered_in_kritarc(krita):
    _, host, _ = krita
    kritarc = configparser.ConfigParser(interpolation=None, strict=False)
    kritarc.read_string("[top]\n" + host.kritarc.read_text())  # KConfig allows keys before any group
    assert dict(kritarc["cleancut"]) == {"model": "isnet", "refine": REFINE_CHOICE, "selection_hint": "true"}


# --- the harness itself -----------------------------------------------------------------------
STALLED = """\
def main(spec, out):
    yield lambda: False  # line 2: never true
"""


def test_a_stalled_run_fails_naming_its_step_and_leaves_no_x_server_or_krita(host_scratch, model_cache):
    """A run that never finishes ends at the watchdog, says where it stood, and stops its X
    server and Krita, so the next run on this machine is not disturbed (Krita 5.1, native)."""
    base = host_scratch / "krita5.1-stalled"
    host = KritaHost("5.1", base, model_cache)
    script = base / "stalled.py"
    script.write_text(STALLED)
    with pytest.raises(KritaRunError) as failed:
        host.run(script, {}, deadline=5)
    assert "watchdog: the scenarios did not finish within 5.0 s; still waiting on a condition at main line 2" in str(failed.value)
    assert not x_server_left(host.display)
    home = f"HOME={host.home}".encode()
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and _environ_has(pid, home)]
    assert left == []  # nothing started with this run's HOME lives on (Krita, its worker)


def _environ_has(pid: str, entry: bytes) -> bool:
    try:
        return entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False


# --- a first run: the download shows and Cancel stops it (Krita 5.1, Debian 12's own) ----------


@pytest.fixture(scope="module")
def first_run(host_scratch, model_cache, inputs):
    """Krita 5.1 runs Remove Background with a model not downloaded yet, whose file a loopback
    server sends at 1 MiB/s (u2netp's 4.6 MB: 4.4 s), and clicks Cancel once the download moved."""
    catalog = host_scratch / "krita-first-run-catalog.toml"
    host = KritaHost("5.1", host_scratch / "krita5.1-first-run", host_scratch / "krita-first-run-cache")
    spec = {"only": ["first_run"], "inputs": {k: v for k, v in inputs.items() if isinstance(v, str)},
            "download_model": DOWNLOAD_MODEL, "cancel_after": 3}
    with first_run_server(model_cache, catalog) as (server, size):
        results, _ = host.run(SCENARIOS, spec, extra_env={"CLEANCUT_CATALOG": str(catalog), "CLEANCUT_OFFLINE": "0"})
    return results["first_run"], size, server.sent.get("/u2netp.onnx", 0)


def test_krita_says_what_a_first_run_downloads_then_shows_the_download_moving(first_run):
    result, size, _ = first_run
    notice = (f"Test model {DOWNLOAD_MODEL} ({DOWNLOAD_MODEL}) is not downloaded yet: the first run downloads "
              f"{size / 1e6:.1f} MB (licence Apache-2.0) into the model cache, then runs. Cancel stops the download.")
    downloading = [(value, label) for _, value, label in result["samples"] if "Downloading " in label]
    assert all(label.startswith(notice + "\n\nRemove Background of \u201cBackground\u201d: Downloading "
                                f"{DOWNLOAD_MODEL}: ") for _, label in downloading)
    values = [value for value, _ in downloading]
    assert len({label for _, label in downloading}) >= 3 and values == sorted(values) and 0 < values[-1] < 100
    assert downloading[-1][1].endswith(f" of {size / 1e6:.1f} MB\u2026")


def test_krita_cancel_during_the_download_stops_it_and_changes_nothing(first_run):
    result, size, sent = first_run
    assert (result["outcome"]["status"], result["outcome"]["engine"], result["outcome"]["boxes"]) == (
        "cancelled", "cancelled", [])  # the engine stopped the download: not merely ignored
    assert result["cancel_to_outcome_s"] < 1.0
    assert result["after"] == result["before"]  # every node's pixels, no mask, the selection
    assert result["history_after"] == result["history_before"]
    assert result["cache"] == [] and sent < size  # no partial file; the server saw it stop
