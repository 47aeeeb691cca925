"""Issue 21, "nothing lost, nothing hangs", round 2: the batch pool, prompts, the CLI's inputs
and outputs, the bench and the shared worker's socket, each hostile case as a specification.

Every test here failed on 54351ed. Real processes where the case is about a process: the CLI
killed or its workers killed with real signals, a real shared-worker client.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from cleancut import batch, cli, config, cutout, imageread, pipeline
from cleancut.cleancut_client import CleancutError as ClientError
from cleancut.cleancut_client import Client, find_engine_python
from cleancut.options import MAX_THREADS, Options

from support import gradient_image
from test_bench import ecssd_like, square

CLI = [sys.executable, "-m", "cleancut"]


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(CLI + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def noise_png(path: Path, width: int = 600, height: int = 400, seed: int = 0) -> Path:
    """A photo-sized PNG of noise: it takes the engine and the encoder a measurable while."""
    rgb = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path, compress_level=0)
    return path


def children(pid: int) -> list[int]:
    """The direct children of a live process (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def spawned(pid: int) -> list[int]:
    """The batch's worker processes among a CLI's children (not multiprocessing's resource
    tracker)."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            found.append(child)
    return found


def pool_workers(pid: int) -> list[int]:
    """The batch's worker process (``--workers 2`` runs two files at once on one), once it is up."""
    return spawned(pid)


def alive(pid: int) -> bool:
    """Running (a zombie our subreaper has not reaped yet counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout: float = 60.0, every: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"still waiting after {timeout} s")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def batch_of(folder: Path, count: int, **size) -> Path:
    folder.mkdir()
    for i in range(count):
        noise_png(folder / f"p{i}.png", seed=i, **size)
    return folder


# --- 1 and 23: the worker pool ---

@pytest.mark.parametrize("number, said", [
    (signal.SIGKILL, "was killed (SIGKILL, often the out-of-memory killer)"),
    (signal.SIGTERM, "was killed (SIGTERM)"),
], ids=["SIGKILL", "SIGTERM"])
def test_a_worker_killed_mid_batch_fails_the_files_it_held_and_the_batch_ends(engine_models, tmp_path, number, said):
    inputs = batch_of(tmp_path / "in", 6)
    run = start_cli("remove", str(inputs), "-o", str(tmp_path / "out"), "--model", "slow", "--workers", "2", "-q")
    workers = wait_for(lambda: pool_workers(run.pid))
    time.sleep(1.0)
    os.kill(workers[0], number)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1, err
    failed = [line for line in err.splitlines() if line.startswith("cleancut: failed:")]
    assert len(failed) == 2 and all(said in line for line in failed)  # the two files it was cutting out
    assert len(list((tmp_path / "out").glob("*-cutout.png"))) == 4  # a fresh worker did the rest
    assert leftovers(tmp_path / "out") == [] and "Traceback" not in err


def test_a_batch_never_starts_more_workers_than_files(engine_models, tmp_path):
    jobs = [cutout.Job(noise_png(tmp_path / f"{i}.png", 32, 32, seed=i), tmp_path / f"{i}-cutout.png")
            for i in range(2)]
    options = Options(model="red")
    plan = pipeline.prepare(options, bar=False)
    counts = []
    for _, failure in batch.run(jobs, options, cutout.Output(), plan, workers=8):
        assert failure is None
        counts.append(len(multiprocessing.active_children()))
    assert max(counts) <= 2
    assert multiprocessing.active_children() == []


# --- 4 and 13: signals to the batch's parent ---

def test_sigterm_to_a_batch_stops_its_workers_and_leaves_no_temporary_file(engine_models, tmp_path):
    inputs = batch_of(tmp_path / "in", 6)
    run = start_cli("remove", str(inputs), "-o", str(tmp_path / "out"), "--model", "slow", "--workers", "2", "-q")
    workers = wait_for(lambda: pool_workers(run.pid))
    time.sleep(1.5)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143
    assert err.strip().splitlines()[-1] == "cleancut: stopped by SIGTERM; nothing half-written was left"
    assert "Traceback" not in err and "leaked" not in err
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=15)
    assert leftovers(tmp_path / "out") == []


def test_a_batch_whose_parent_is_killed_stops_its_workers_quietly(engine_models, tmp_path):
    inputs = batch_of(tmp_path / "in", 6)
    run = start_cli("remove", str(inputs), "-o", str(tmp_path / "out"), "--model", "slow", "--workers", "2", "-q")
    workers = wait_for(lambda: pool_workers(run.pid))
    time.sleep(1.5)
    run.kill()
    run.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=15)
    err = run.stderr.read()  # the workers share this pipe: whatever they printed is here
    assert "Traceback" not in err and "BrokenPipeError" not in err and "leaked" not in err
    assert leftovers(tmp_path / "out") == []


def test_sigterm_while_the_output_is_written_removes_its_temporary_file(engine_models, tmp_path):
    photo = noise_png(tmp_path / "big.png", 3000, 2000)
    out = tmp_path / "out"
    out.mkdir()
    run = start_cli("remove", str(photo), "-o", str(out / "big-cutout.png"), "--model", "red", "-q")
    wait_for(lambda: leftovers(out), timeout=60, every=0.001)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143 and "Traceback" not in err
    assert sorted(os.listdir(out)) == []


# --- 2: resources far out of range ---

def test_a_thread_count_far_out_of_range_is_refused_at_once(engine_models, tmp_path):
    photo = noise_png(tmp_path / "x.png", 32, 32)
    done = run_cli("remove", str(photo), "--threads", "1000000", "--model", "red", timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == f"cleancut: threads must be a whole number from 1 to {MAX_THREADS}, not 1000000"
    assert not (tmp_path / "x-cutout.png").exists()


def test_the_worker_refuses_a_thread_count_far_out_of_range(engine_models):
    client = Client(python=sys.executable, start_timeout=60)
    try:
        with pytest.raises(Exception, match=f"'threads' must be a whole number from 1 to {MAX_THREADS}"):
            client.remove(gradient_image().tobytes(), 16, 16, "RGB", options={"model": "red", "threads": 10 ** 6})
        assert len(client.remove(gradient_image().tobytes(), 16, 16, "RGB", options={"model": "red"})) == 256
    finally:
        client.close()


# --- 9: inputs of every kind are never an output ---

def test_the_output_is_never_written_over_the_hint_file(engine_models, tmp_path):
    photo = noise_png(tmp_path / "x.png", 32, 32)
    hint = tmp_path / "hint.png"
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(hint)
    before = hint.read_bytes()
    done = run_cli("remove", str(photo), "--hint", str(hint), "-o", str(hint), "--model", "red")
    assert done.returncode == 1 and "is an input (an image, a video, the --hint file or the --bg picture)" in done.stderr
    assert hint.read_bytes() == before


def test_a_hint_named_like_the_default_output_is_left_unchanged(engine_models, tmp_path):
    photo = noise_png(tmp_path / "x.png", 32, 32)
    hint = tmp_path / "x-cutout.png"
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(hint)
    before = hint.read_bytes()
    done = run_cli("remove", str(photo), "--hint", str(hint), "--model", "red")
    assert done.returncode == 1 and "is an input" in done.stderr
    assert hint.read_bytes() == before


# --- 14, 15, 20: names and inputs ---

def test_an_output_name_of_255_bytes_is_written(engine_models, tmp_path):
    photo = noise_png(tmp_path / "x.png", 32, 32)
    target = tmp_path / ("n" * 251 + ".png")
    assert cli.main(["remove", str(photo), "-o", str(target), "--model", "red", "-q"]) == 0
    assert Image.open(target).size == (32, 32) and leftovers(tmp_path) == []


def test_an_output_name_of_255_bytes_of_multibyte_characters_is_written(engine_models, tmp_path):
    photo = noise_png(tmp_path / "x.png", 32, 32)
    target = tmp_path / ("é" * 125 + "n.png")  # 256 - 1 bytes
    assert len(os.fsencode(target.name)) == 255
    assert cli.main(["remove", str(photo), "-o", str(target), "--model", "red", "-q"]) == 0
    assert target.exists() and leftovers(tmp_path) == []


def test_a_file_reached_by_two_arguments_is_cut_out_once(engine_models, tmp_path, capsys):
    photo = noise_png(tmp_path / "a.png", 32, 32)
    assert cli.main(["remove", str(photo), str(tmp_path / "*.png"), "--model", "red"]) == 0
    assert "1 written, 0 skipped, 0 failed" in capsys.readouterr().err
    assert (tmp_path / "a-cutout.png").exists()


def test_an_empty_folder_is_a_miss_like_a_pattern_matching_nothing(engine_models, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["remove", str(tmp_path / "empty"), "--model", "red"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"cleancut: {tmp_path / 'empty'}: this folder holds no image or video file (.png, .jpg, .webp, .tif, .bmp, .gif, "
        ".mp4, .mov, .webm, .mkv, .m4v)")


def test_an_empty_folder_beside_real_inputs_is_reported_and_the_rest_is_done(engine_models, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    photo = noise_png(tmp_path / "a.png", 32, 32)
    assert cli.main(["remove", str(tmp_path / "empty"), str(photo), "--model", "red"]) == 1
    assert "holds no image or video file" in capsys.readouterr().err
    assert (tmp_path / "a-cutout.png").exists()


# --- 16: the shared worker's socket path ---

def test_a_socket_path_too_long_for_unix_sockets_means_a_private_worker(engine_models, monkeypatch, tmp_path):
    base = tmp_path / ("r" * 60) / ("u" * 60)
    base.mkdir(parents=True)
    monkeypatch.setenv("CLEANCUT_RUNTIME_DIR", str(base))
    client = Client(python=sys.executable, shared=True, start_timeout=60)
    try:
        assert client.hello()["ok"] and client.process is not None
        assert "longer than Unix sockets allow" in client.note and "private worker" in client.note
        assert len(client.remove(gradient_image().tobytes(), 16, 16, "RGB", options={"model": "red"})) == 256
    finally:
        client.close()


# --- 19: a large colour profile ---

def test_a_png_with_an_8_mib_colour_profile_is_read_and_keeps_its_profile(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    profile = srgb + np.random.default_rng(0).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "profiled.png"
    Image.fromarray(gradient_image()).save(path, icc_profile=profile)
    picture = imageread.read_image(path)
    assert picture.icc_profile == profile and picture.rgb.shape == (16, 16, 3)


def test_a_png_whose_profile_inflates_past_the_limit_is_refused(tmp_path):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "bomb.png"
    Image.fromarray(gradient_image()).save(path, icc_profile=srgb + bytes(imageread.MAX_PROFILE_BYTES))
    assert path.stat().st_size < 1 << 20
    with pytest.raises(imageread.ImageError, match="truncated or damaged"):
        imageread.read_image(path)


# --- 8: the bench ---

@pytest.mark.parametrize("option, value, why", [
    ("--threads", "0", "'0' is not a whole number of at least 1"),
    ("--threads", "100000", f"threads must be a whole number from 1 to {MAX_THREADS}"),
    ("--limit", "-1", "'-1' is not a whole number of at least 1"),
    ("--composites", "-1", "'-1' is not a whole number of at least 0"),
])
def test_bench_refuses_counts_out_of_range(tmp_path, option, value, why):
    done = run_cli("bench", "--data", str(tmp_path), option, value, timeout=60)
    assert done.returncode == 2 and why in done.stderr and "Traceback" not in done.stderr


def test_bench_refuses_an_out_that_is_a_file(tmp_path):
    taken = tmp_path / "results"
    taken.write_text("mine")
    done = run_cli("bench", "--data", str(tmp_path), "--out", str(taken), timeout=60)
    assert done.returncode == 2 and "is a file; give a folder" in done.stderr
    assert taken.read_text() == "mine"


def test_bench_leaves_out_an_image_whose_ground_truth_has_another_size(tmp_path, engine_models):
    red, _ = engine_models
    data = ecssd_like(tmp_path / "data", {"0001": square(2), "0002": square(5)})
    Image.fromarray(np.zeros((9, 7), np.uint8)).save(data / "ecssd" / "alpha" / "0002.png")
    done = run_cli("bench", "--data", str(data), "--datasets", "ecssd", "--models", red, "--refine", "off",
                   "--out", str(tmp_path / "out"), "--composites", "0", "--threads", "1", timeout=300)
    assert done.returncode == 0, done.stderr
    assert "left out ecssd/0002: its ground truth is 7x9 but the image is 16x16" in done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["runs"][0]["summary"]["ecssd"]["count"] == 1
    assert results["meta"]["left_out"] == {"ecssd/0002": "its ground truth is 7x9 but the image is 16x16"}


# --- 3: the editors' client reads the settings file too ---

@pytest.mark.parametrize("make", ["fifo", "dev-zero", "folder"])
def test_the_editors_client_refuses_a_settings_file_that_is_not_a_regular_file(monkeypatch, make):
    monkeypatch.delenv("CLEANCUT_ENGINE_PYTHON", raising=False)
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    {"fifo": os.mkfifo, "dev-zero": lambda p: os.symlink("/dev/zero", p), "folder": os.mkdir}[make](path)
    began = time.monotonic()
    with pytest.raises(ClientError, match="is not a regular file") as err:
        find_engine_python()
    assert err.value.kind == "setup" and time.monotonic() - began < 5


def test_the_editors_client_refuses_a_settings_file_over_1_mib(monkeypatch):
    monkeypatch.delenv("CLEANCUT_ENGINE_PYTHON", raising=False)
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"engine_python": "/usr/bin/python3", "pad": "' + "x" * (1 << 20) + '"}')
    with pytest.raises(ClientError, match="larger than 1 MiB"):
        find_engine_python()
