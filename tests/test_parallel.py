"""parallel.ordered_map: a picture's parts on threads, their results in order, so every answer
is the same bytes on one thread or many."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from cleancut import foreground, parallel, refine


def test_results_come_in_the_items_order_whichever_finishes_first():
    def slow_first(item: int) -> int:
        time.sleep(0.05 if item == 0 else 0.0)
        return item * 10

    assert list(parallel.ordered_map(slow_first, range(6), 3)) == [0, 10, 20, 30, 40, 50]


def test_parts_run_at_once_on_several_threads():
    running, most = set(), [0]
    lock = threading.Lock()

    def part(item: int) -> int:
        with lock:
            running.add(item)
            most[0] = max(most[0], len(running))
        time.sleep(0.05)
        with lock:
            running.discard(item)
        return item

    list(parallel.ordered_map(part, range(8), 3))

    assert most[0] == 3


def test_one_worker_runs_the_parts_on_the_calling_thread_one_by_one():
    seen = []

    list(parallel.ordered_map(lambda item: seen.append(threading.get_ident()), range(4), 1))

    assert set(seen) == {threading.get_ident()}


def test_no_more_results_wait_than_one_more_than_the_threads():
    started = []

    def part(item: int) -> int:
        started.append(item)
        return item

    results = parallel.ordered_map(part, range(100), 2)
    next(results)
    time.sleep(0.1)

    assert len(started) <= 4
    results.close()


def test_an_error_in_a_part_is_raised_in_order_and_later_parts_never_start():
    started = []

    def part(item: int) -> int:
        started.append(item)
        if item == 2:
            raise ValueError("part 2 failed")
        time.sleep(0.02)
        return item

    results = parallel.ordered_map(part, range(50), 2)
    assert [next(results), next(results)] == [0, 1]
    with pytest.raises(ValueError, match="part 2 failed"):
        next(results)

    assert max(started) < 6


def test_no_items_give_no_results():
    assert list(parallel.ordered_map(lambda item: item, [], 4)) == []


def test_threads_are_the_cores_this_process_may_use_at_most_max_threads():
    assert 1 <= parallel.threads() <= parallel.MAX_THREADS


@pytest.fixture
def large_scene():
    """A 2400×1800 photo (above both working sizes): a red disc with a soft rim on noise."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:1800, 0:2400]
    distance = np.hypot(yy - 900.0, xx - 1200.0)
    prob = np.clip((700.0 - distance) / 60.0, 0.0, 1.0).astype(np.float32)
    rgb = (prob[..., None] * [200, 40, 30] + (1 - prob[..., None]) * [30, 90, 200] + rng.normal(0, 8, (1800, 2400, 3)))
    small_prob = np.asarray(prob[::6, ::6])
    return np.clip(rgb, 0, 255).astype(np.uint8), small_prob


@pytest.mark.parametrize("mode", ["fast", "best"])
def test_a_large_photos_alpha_and_colours_are_the_same_bytes_on_one_thread_or_four(monkeypatch, large_scene, mode):
    rgb, prob = large_scene
    answers = []
    for count in (1, 4):
        monkeypatch.setattr(parallel, "threads", lambda count=count: count)
        alpha = refine.refine_alpha(rgb, prob, mode)
        answers.append((alpha.tobytes(), foreground.estimate_foreground(rgb, alpha).tobytes()))

    assert answers[0] == answers[1]


def test_pictures_at_once_share_the_cores(monkeypatch):
    monkeypatch.setattr(parallel, "_pictures", {"at_once": 1})
    cores = len(os.sched_getaffinity(0))

    parallel.share(2)

    assert parallel.threads() == max(1, min(cores // 2, parallel.MAX_THREADS))


@pytest.mark.parametrize("delay", [1.5, 3.0, 4.5])
def test_ctrl_c_while_a_large_photos_parts_run_on_threads_leaves_nothing(tmp_path, engine_models, delay):
    red, _ = engine_models
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:4000, 0:6000]
    red_channel = np.clip((1500.0 - np.hypot(yy - 2000.0, xx - 3000.0)) * 2.0, 0, 255)
    pixels = np.dstack([red_channel, rng.integers(0, 256, (4000, 6000)), np.full((4000, 6000), 90)]).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "large.jpg", quality=90)
    child = subprocess.Popen([sys.executable, "-m", "cleancut", "remove", str(tmp_path / "large.jpg"), "-o",
                              str(tmp_path / "out"), "--model", red, "-q"], stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(delay)  # imports, the 24 MP decode, refining, colours, encoding: seconds in all
    child.send_signal(signal.SIGINT)
    _, errors = child.communicate(timeout=30)

    if child.returncode == 0:  # finished before the signal: a whole file, nothing else
        assert [path.name for path in (tmp_path / "out").iterdir()] == ["large-cutout.png"]
        return
    assert (child.returncode, errors) == (130, "cleancut: interrupted\n")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
