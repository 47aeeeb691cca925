"""A batch on a pool of worker processes: the same files, the same messages, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cleancut import batch, cli
from cleancut.options import Options

from support import gradient_image

CLI = [sys.executable, "-m", "cleancut"]


def photos(folder: Path, count: int, size: tuple[int, int] = (64, 48)) -> list[Path]:
    """``count`` different photos whose red channel (the red model's alpha) has soft edges."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        rgb = np.roll(gradient_image(*size), 5 * index, axis=1)
        paths.append(folder / f"photo-{index:02d}.png")
        Image.fromarray(rgb).save(paths[-1])
    return paths


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_pool_writes_byte_identical_files_to_one_at_a_time(tmp_path, engine_models):
    red, _ = engine_models
    photos(tmp_path / "in", 6)
    common = ["remove", str(tmp_path / "in"), "--model", red, "--threads", "1", "-q"]
    assert cli.main(common + ["-o", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert cli.main(common + ["-o", str(tmp_path / "pool"), "--workers", "2"]) == 0
    assert len(outputs(tmp_path / "one")) == 6
    assert outputs(tmp_path / "pool") == outputs(tmp_path / "one")


def test_a_pool_lists_failures_in_input_order_after_the_other_files(tmp_path, engine_models, capsys):
    red, _ = engine_models
    paths = photos(tmp_path / "in", 5)
    paths[1].write_bytes(b"\x89PNG\r\n\x1a\n not really")
    paths[3].write_bytes(b"")
    status = cli.main(["remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", red,
                       "--workers", "2"])
    assert status == 1
    assert sorted(outputs(tmp_path / "out")) == ["photo-00-cutout.png", "photo-02-cutout.png", "photo-04-cutout.png"]
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("cleancut: failed:")]
    assert [line.split(":")[2].strip() for line in failed] == [str(paths[1]), str(paths[3])]


def test_workers_must_be_a_whole_number_of_at_least_one(tmp_path, engine_models):
    red, _ = engine_models
    photos(tmp_path / "in", 2)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["remove", str(tmp_path / "in"), "--model", red, "--workers", "0"])
    assert stopped.value.code == 2


@pytest.mark.parametrize("value", ["\u0663", "1_0", "+2"])  # Arabic-Indic three: int() would take it
def test_workers_takes_ascii_digits_only(tmp_path, engine_models, value, capsys):
    red, _ = engine_models
    photos(tmp_path / "in", 2)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["remove", str(tmp_path / "in"), "--model", red, "--workers", value])
    assert stopped.value.code == 2
    assert f"{value!r} is not a whole number of at least 1" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["photo-00.png", "photo-01.png"]


def test_default_workers_is_one_per_core_but_no_more_than_the_files_nor_the_cap():
    assert batch.default_workers(30, cores=2) == 2
    assert batch.default_workers(1, cores=8) == 1
    assert batch.default_workers(30, cores=64) == batch.MAX_DEFAULT_WORKERS


def test_up_to_four_files_at_once_share_one_worker_process():
    assert batch.slots(1) == [1]
    assert batch.slots(2) == [2]
    assert batch.slots(4) == [4]
    assert batch.slots(5) == [3, 2]
    assert batch.slots(8) == [4, 4]
    assert batch.slots(9) == [3, 3, 3]


def test_each_worker_process_gets_its_share_of_the_cores_for_inference():
    assert batch.worker_options(Options(), 2, cores=4).threads == 4  # one process
    assert batch.worker_options(Options(), 3, cores=2).threads == 2
    assert batch.worker_options(Options(), 8, cores=8).threads == 4  # two processes


def test_a_batch_of_two_at_once_runs_on_one_worker_process(tmp_path, engine_models):
    photos(tmp_path / "in", 4)
    marker = uuid.uuid4().hex
    env = dict(os.environ, CLEANCUT_TEST_MARK=marker)
    proc = subprocess.Popen(CLI + ["remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "slow",
                                   "--workers", "2", "-q"], env=env, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    while proc.poll() is None:
        seen.update(pid for pid in _processes_with(f"CLEANCUT_TEST_MARK={marker}") if _is_pool_worker(pid))
        time.sleep(0.05)
    assert proc.returncode == 0, proc.stderr.read()
    assert len(seen) == 1
    assert len(list((tmp_path / "out").iterdir())) == 4


def test_a_thread_count_the_user_chose_is_kept_in_every_worker():
    assert batch.worker_options(Options(threads=3), 2, cores=4).threads == 3


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if marker.encode() in environ.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _is_pool_worker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in command and b"resource_tracker" not in command


def _ctrl_c_as_on_a_terminal() -> None:
    """In the child: SIGINT's default action, as a program started from a terminal has (a test
    run started in the background of a script inherits SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_every_worker_and_leaves_only_complete_files(tmp_path, engine_models):
    _, slow = engine_models
    photos(tmp_path / "in", 8)
    marker = f"CLEANCUT_TEST_MARK={uuid.uuid4().hex}"
    env = dict(os.environ, CLEANCUT_TEST_MARK=marker.split("=")[1])
    proc = subprocess.Popen(CLI + ["remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", slow,
                                   "--workers", "2", "-q"], env=env, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_ctrl_c_as_on_a_terminal)
    deadline = time.monotonic() + 60
    while len(_processes_with(marker)) < 3 and time.monotonic() < deadline:  # the command and two workers
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, errors = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted" in errors
    deadline = time.monotonic() + 10
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(marker) == []
    written = sorted((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert all(path.name.endswith("-cutout.png") for path in written)
    for path in written:
        assert Image.open(path).size == (64, 48)


def test_a_batch_checks_licences_and_verifies_the_model_once_whatever_its_size(tmp_path, engine_models, monkeypatch):
    from cleancut import fetch, licences

    red, _ = engine_models
    photos(tmp_path / "in", 4)
    calls = {"check": 0, "verify": 0}
    check, verify = licences.check, fetch.verify

    def counted_check(entry):
        calls["check"] += 1
        return check(entry)

    def counted_verify(entry):
        calls["verify"] += 1
        return verify(entry)

    monkeypatch.setattr(licences, "check", counted_check)
    monkeypatch.setattr(fetch, "verify", counted_verify)
    assert cli.main(["remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", red,
                     "--workers", "1", "-q"]) == 0
    assert len(list((tmp_path / "out").iterdir())) == 4
    assert calls == {"check": 1, "verify": 1}
