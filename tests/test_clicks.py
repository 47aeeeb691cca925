"""Include and exclude clicks (issue 24): parsing and limits, the selection (pointing.py) on
synthetic answers, the pipeline with a model, the CLI, the worker and client, the real u2netp
telling two subjects apart, and a click run stopped by a signal."""

from __future__ import annotations

import ast
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cleancut import cleancut_client, pipeline, pointing, prompts
from cleancut.cleancut_client import CleancutError as ClientError
from cleancut.cleancut_client import Client
from cleancut.cli import main as run
from cleancut.errors import CleancutError
from cleancut.options import Options

from support import RawWorker
from test_reliability2 import alive, batch_of, leftovers, pool_workers, start_cli, wait_for

Clicks = prompts.Clicks


# --- points: what a point is, and where it may be ---

@pytest.mark.parametrize("text, point", [("10,20", (10.0, 20.0)), (" 3.5 , 0 ", (3.5, 0.0))])
def test_a_point_is_two_numbers_of_pixels(text, point):
    assert prompts.parse_point(text) == point


@pytest.mark.parametrize("text", ["1", "1,2,3", "a,b", "-1,2", "2,-0.5", "nan,1", "1,inf", ""])
def test_a_malformed_point_says_what_a_point_is(text):
    with pytest.raises(ValueError, match="point"):
        prompts.parse_point(text)


def test_a_point_outside_the_image_is_named():
    with pytest.raises(ValueError, match="the exclude point 8,2 lies outside the 8×6 image"):
        Clicks(include=((7.5, 5.5),), exclude=((8, 2),)).checked(8, 6)


def test_more_points_than_the_limit_are_refused():
    points = tuple((1.0, 1.0) for _ in range(prompts.MAX_CLICKS))
    assert Clicks(include=points).checked(4, 4)
    with pytest.raises(ValueError, match=f"at most {prompts.MAX_CLICKS}"):
        Clicks(include=points, exclude=((2.0, 2.0),)).checked(4, 4)


def test_clicks_for_checks_them_against_each_photo():
    prompt = prompts.Prompt(clicks=Clicks(include=((30, 10),)))
    assert prompts.clicks_for(prompt, (20, 40, 3)) == Clicks(include=((30, 10),))
    with pytest.raises(CleancutError, match="lies outside the 20×20 image"):
        prompts.clicks_for(prompt, (20, 20, 3))
    assert prompts.clicks_for(prompts.Prompt(box=(0, 0, 4, 4)), (20, 20, 3)) is None


# --- the selection, on a synthetic answer ---

def _two_squares() -> tuple[np.ndarray, np.ndarray]:
    """A grey photo with a red square on the left and a blue one on the right, and an answer
    that finds both (probability 1 on each, 0 elsewhere)."""
    rgb = np.full((60, 100, 3), 128, np.uint8)
    prob = np.zeros((60, 100), np.float32)
    rgb[15:45, 10:40] = (220, 30, 30)
    rgb[15:45, 60:90] = (30, 30, 220)
    prob[15:45, 10:40] = prob[15:45, 60:90] = 1.0
    return rgb, prob


def test_an_include_point_takes_the_part_it_is_on_and_no_other():
    rgb, prob = _two_squares()
    subject = pointing.select(rgb, prob, Clicks(include=((25, 30),)))
    np.testing.assert_array_equal(subject, (prob > 0) & (np.arange(100) < 50)[None, :])


def test_an_exclude_point_alone_drops_the_part_it_is_on():
    rgb, prob = _two_squares()
    subject = pointing.select(rgb, prob, Clicks(exclude=((75, 30),)))
    np.testing.assert_array_equal(subject, (prob > 0) & (np.arange(100) < 50)[None, :])


def test_include_points_on_both_parts_take_both():
    rgb, prob = _two_squares()
    subject = pointing.select(rgb, prob, Clicks(include=((25, 30), (75, 30))))
    np.testing.assert_array_equal(subject, prob > 0)


def test_an_exclude_point_on_the_part_of_an_include_point_cuts_away_what_matches_it():
    rgb = np.full((120, 200, 3), 128, np.uint8)
    rgb[45:75, 20:130] = (220, 30, 30)  # a red bar, on its end a blue square: one part
    rgb[45:75, 130:160] = (30, 30, 220)
    prob = np.zeros((120, 200), np.float32)
    prob[45:75, 20:160] = 1.0
    subject = pointing.select(rgb, prob, Clicks(include=((35, 60),), exclude=((145, 60),)))
    red = np.zeros_like(subject)
    red[45:75, 20:130] = True
    np.testing.assert_array_equal(subject, red)


def test_an_include_point_the_models_missed_takes_the_part_their_second_look_finds_under_it():
    rgb, prob = _two_squares()
    rgb[15:45, 60:90] = 128
    rgb[25:35, 70:80] = (30, 30, 220)  # a small blue square the models missed on the whole frame
    prob[15:45, 60:90] = 0.0
    square = pointing.squares(prob, Clicks(include=((75, 30),)), rgb.shape)
    assert square == [(slice(18, 43), slice(63, 88))]
    second_look = np.zeros((25, 25), np.float32)
    second_look[7:17, 7:17] = 1.0  # the second look finds it
    subject = pointing.select(rgb, prob, Clicks(include=((75, 30),)), [(square[0], second_look)])
    blue = np.zeros_like(subject)
    blue[25:35, 70:80] = True
    np.testing.assert_array_equal(subject, blue)


def test_the_models_also_look_around_the_part_an_include_point_is_on():
    prob = np.zeros((100, 100), np.float32)
    prob[40:60, 40:50] = 1.0
    assert pointing.zoom(prob, Clicks(include=((90, 100),)), (200, 200, 3)) == (slice(72, 128), slice(72, 108))
    assert pointing.zoom(prob, Clicks(exclude=((90, 100),)), (200, 200, 3)) is None


def test_a_point_the_models_missed_gets_a_square_looked_at_instead_of_a_crop():
    prob = np.zeros((100, 100), np.float32)
    clicks = Clicks(include=((100, 100),))
    assert pointing.zoom(prob, clicks, (200, 200, 3)) is None
    assert pointing.squares(prob, clicks, (200, 200, 3)) == [(slice(60, 141), slice(60, 141))]


# --- the pipeline, with a model whose answer is the red channel ---

def _red_photo() -> np.ndarray:
    rgb = np.zeros((64, 96, 3), np.uint8)
    rgb[16:48, 8:40, 0] = 255
    rgb[16:48, 56:88, 0] = 255
    return rgb


def test_the_pipeline_cuts_out_only_the_clicked_subject(engine_models):
    alpha = pipeline.remove(_red_photo(), Options(model="red", refine="off", foreground=False),
                            clicks=Clicks(include=((20, 30),))).alpha
    assert alpha[30, 20] == 1.0 and alpha[30, 70] == 0.0
    assert (alpha[:, 48:] == 0).all()


def test_with_a_box_nothing_outside_the_box_is_kept(engine_models):
    rgb = _red_photo()
    rgb[16:48, 40:56, 0] = 255  # one red band from edge to edge
    region = prompts.box_region(rgb.shape, (0, 0, 48, 64))
    alpha = pipeline.remove(rgb, Options(model="red", refine="fast", foreground=False), hint=region,
                            clicks=Clicks(include=((20, 30),))).alpha
    assert alpha[30, 20] > 0.5 and (alpha[:, 48:] == 0).all()


@pytest.mark.parametrize("height, width", [(1, 1), (1, 300), (300, 1), (2, 2)])
def test_clicks_on_the_smallest_and_thinnest_photos_keep_the_include_point_and_drop_the_exclude_one(
        engine_models, height, width):
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    exclude = ((width - 0.5, height - 0.5),) if (height, width) != (1, 1) else ()
    alpha = pipeline.remove(rgb, Options(model="red", refine="best", foreground=True),
                            clicks=Clicks(include=((0, 0),), exclude=exclude)).alpha
    assert alpha.shape == (height, width) and alpha[0, 0] == 1.0
    if exclude:
        assert alpha[-1, -1] == 0.0


# --- the command line ---

def _photo(tmp_path):
    path = tmp_path / "two.png"
    Image.fromarray(_red_photo()).save(path)
    return path


def test_include_on_the_command_line_cuts_out_the_clicked_subject(tmp_path, engine_models):
    out = tmp_path / "mask.png"
    assert run(["remove", str(_photo(tmp_path)), "--model", "red", "--mask", "--include", "20,30",
                "--exclude", "70,30", "-o", str(out), "-q"]) == 0
    mask = np.asarray(Image.open(out))
    assert mask[30, 20] == 255 and mask[30, 70] == 0


def test_a_point_outside_the_photo_fails_that_file_and_writes_nothing(tmp_path, engine_models, capsys):
    out = tmp_path / "mask.png"
    assert run(["remove", str(_photo(tmp_path)), "--model", "red", "--mask", "--include", "96,10",
                "-o", str(out), "-q"]) == 1
    assert "the include point 96,10 lies outside the 96×64 image" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("extra, message", [
    (["--include", "1,x"], "a point is X,Y"),
    (["--include", "1,1", "--hint", "h.png"], "not with --hint FILE"),
    (["--include", "1,1"] * (prompts.MAX_CLICKS + 1), f"at most {prompts.MAX_CLICKS}"),
])
def test_clicks_the_command_line_cannot_take_are_refused_before_any_work(tmp_path, engine_models, capsys, extra, message):
    Image.new("L", (96, 64)).save(tmp_path / "h.png")
    out = tmp_path / "mask.png"
    try:
        code = run(["remove", str(_photo(tmp_path)), "--model", "red", "-o", str(out), "-q"]
                   + [a.replace("h.png", str(tmp_path / "h.png")) for a in extra])
    except SystemExit as exit_:  # argparse's own refusal
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


# --- the worker and the client ---

@pytest.fixture
def client(engine_models):
    c = Client(python=sys.executable, start_timeout=60)
    yield c
    c.close()


def test_the_worker_cuts_out_the_clicked_subject(client):
    rgb = _red_photo()
    alpha = np.frombuffer(client.remove(rgb.tobytes(), 96, 64, "RGB", options={"model": "red", "refine": "off"},
                                        include=[(20.5, 30)], exclude=[(70, 30)]), np.uint8).reshape(64, 96)
    expected = pipeline.remove(rgb, Options(model="red", refine="off", foreground=False),
                               clicks=Clicks(include=((20.5, 30),), exclude=((70, 30),))).alpha
    np.testing.assert_array_equal(alpha, np.round(expected * 255).astype(np.uint8))
    assert alpha[30, 20] == 255 and alpha[30, 70] == 0


@pytest.mark.parametrize("field, value, message", [
    ("include", [[1, 2, 3]], "field 'include' must be a list of [x, y] points"),
    ("exclude", [[True, 2]], "field 'exclude' must be a list of [x, y] points"),
    ("include", [["1", 2]], "field 'include' must be a list of [x, y] points"),
    ("include", {"x": 1}, "'include'"),
    ("include", [[96, 0]], "the include point 96,0 lies outside the 96×64 image"),
    ("exclude", [[1, 1]] * (prompts.MAX_CLICKS + 1), f"at most {prompts.MAX_CLICKS}"),
])
def test_the_worker_refuses_points_it_cannot_use_and_keeps_serving(engine_models, field, value, message):
    worker = RawWorker()
    try:
        pixels = _red_photo().tobytes()
        header = {"op": "remove", "id": 7, "width": 96, "height": 64, "channels": "RGB",
                  "options": {"model": "red"}, field: value, "nbytes": len(pixels)}
        worker.send(json.dumps(header).encode() + b"\n" + pixels)
        reply = worker.reply()
        assert (reply["ok"], reply["kind"], reply["id"]) == (False, "protocol", 7)
        assert message in reply["message"]
        assert worker.hello_works()
    finally:
        worker.close()


@pytest.mark.parametrize("points", [[(1, float("nan"))], [(1,)], ["ab"], [(1, float("inf"))]])
def test_the_client_refuses_points_that_are_not_two_finite_numbers(points):
    with pytest.raises(ClientError, match="include point"):
        cleancut_client.clicks_header(include=points)


def test_the_client_refuses_more_points_than_the_engine_takes_before_sending():
    with pytest.raises(ClientError, match=f"at most {prompts.MAX_CLICKS}"):
        cleancut_client.clicks_header(include=[(1, 1)] * prompts.MAX_CLICKS, exclude=[(2, 2)])


@pytest.mark.parametrize("source, name", [("core/cleancut_client.py", "MAX_CLICKS"),
                                          ("blender/cleancut_blender/clicks.py", "MAX_POINTS"),
                                          ("krita/cleancut_krita/layers.py", "MAX_POINTS")])
def test_every_copy_of_the_point_limit_is_the_engines(source, name):
    """The client and the editors cannot import the engine: their copies are held to its limit."""
    tree = ast.parse((Path(__file__).resolve().parents[1] / source).read_text(encoding="utf-8"))
    values = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
              and any(getattr(t, "id", None) == name for t in node.targets)]
    assert values == [prompts.MAX_CLICKS]


def test_the_client_sends_points_as_pairs_of_numbers():
    assert cleancut_client.clicks_header(include=[(1, 2.5)], exclude=[]) == {"include": [[1.0, 2.5]]}


# --- a run stopped while it works on clicks ---

def test_sigterm_to_a_batch_with_clicks_stops_it_and_leaves_no_temporary_file(engine_models, tmp_path):
    inputs = batch_of(tmp_path / "in", 4)
    cli = start_cli("remove", str(inputs), "-o", str(tmp_path / "out"), "--model", "slow", "--workers", "2",
                    "--include", "300,200", "--exclude", "10,10", "-q")
    workers = wait_for(lambda: pool_workers(cli.pid))
    time.sleep(1.5)
    cli.send_signal(signal.SIGTERM)
    _, err = cli.communicate(timeout=60)
    assert cli.returncode == 143 and "Traceback" not in err
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=15)
    assert leftovers(tmp_path / "out") == []


def test_cancel_stops_a_click_run_in_the_worker_and_the_next_one_works(client):
    stages = []
    big = np.zeros((1024, 1024, 3), np.uint8)
    with pytest.raises(ClientError) as err:
        client.remove(big.tobytes(), 1024, 1024, "RGB", options={"model": "slow"}, include=[(500, 500)],
                      progress=lambda fraction, stage: stages.append(stage), cancelled=lambda: "segment" in stages)
    assert err.value.kind == "cancelled"
    alpha = client.remove(_red_photo().tobytes(), 96, 64, "RGB", options={"model": "red", "refine": "off"},
                          include=[(20, 30)])
    assert np.frombuffer(alpha, np.uint8).reshape(64, 96)[30, 20] == 255
