"""`cleancut remove --ray` (core/cluster.py) on a real two-node Ray cluster on this machine.

The cluster: a head node and a second node with one CPU each, started by `ray start` for this
module and stopped by it, even when a test fails (tests/raynodes.py: each node's processes, and
only those, are killed). Ray rewrites 127.0.0.1 to the machine's outward address, so the nodes
use the loopback addresses 127.0.0.2 and 127.0.0.3 (same `lo` interface: nothing leaves the
machine).
Ray's settings (HOME for its token file, a private --temp-dir) are private to the module; usage
statistics are off; node loss is detected within about two seconds (health checks every 0.5 s).

Each node has its own cleancut settings file (CLEANCUT_CONFIG_DIR set for its processes), so a
test can let one node accept a licence and not the other; all share the session's real u2netp
cache. The inputs are real photos: crops and mirror images of examples/astronaut.png and
examples/chelsea.png at 320×240 (a 12-file shoot with a subfolder); every `--ray` output is
compared with the local command's, pixel for pixel.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cleancut import cli, fetch
from cleancut.catalog import load_catalog

from raynodes import Node, command_line, free_port
from support import REPO, catalog_entry, red_channel_model
from videos import audio_packets, make_clip, read_clip

SHOOT_SIZE = 12


# --- the cluster -----------------------------------------------------------------------------

class Cluster:
    """A head node (127.0.0.2) and a second node (127.0.0.3), one CPU each."""

    def __init__(self, root: Path, cache: Path) -> None:
        self.root = root
        self.temp_dir = tempfile.mkdtemp(prefix="ccray-", dir="/tmp")  # Unix socket paths must stay short
        self.home = root / "home"
        self.home.mkdir()
        self.config = {"head": root / "config-head", "second": root / "config-second"}
        self.port = free_port()
        self.address = f"127.0.0.2:{self.port}"
        self.base_env = dict(os.environ, HOME=str(self.home), RAY_USAGE_STATS_ENABLED="0",
                             CLEANCUT_CACHE_DIR=str(cache))
        for name in ("RAY_ADDRESS", "CLEANCUT_OFFLINE", "CLEANCUT_COMMERCIAL", "CLEANCUT_CATALOG"):
            self.base_env.pop(name, None)
        health = dict(RAY_health_check_period_ms="500", RAY_health_check_timeout_ms="1000",
                      RAY_health_check_failure_threshold="3", RAY_health_check_initial_delay_ms="500")
        self.head = Node("127.0.0.2", ["--head", f"--port={self.port}", "--num-cpus=1", "--include-dashboard=false",
                                       f"--ray-client-server-port={free_port()}"],
                         dict(self.base_env, CLEANCUT_CONFIG_DIR=str(self.config["head"]), **health), self.temp_dir)
        self.second = None
        self.ensure_second()

    def ensure_second(self) -> Node:
        """The second node, started again if a test killed it."""
        if self.second is None or not self.second.alive():
            self.second = Node("127.0.0.3", [f"--address={self.address}", "--num-cpus=1"],
                               dict(self.base_env, CLEANCUT_CONFIG_DIR=str(self.config["second"])), self.temp_dir)
            time.sleep(1)  # let the head see the new node's resources before a job asks for them
        return self.second

    def settings(self, node: str, data: dict) -> None:
        """Write one node's cleancut settings file."""
        self.config[node].mkdir(exist_ok=True)
        (self.config[node] / "config.json").write_text(json.dumps(data), encoding="utf-8")

    def reset_settings(self) -> None:
        for folder in self.config.values():
            shutil.rmtree(folder, ignore_errors=True)

    def stop(self) -> None:
        for node in (self.second, self.head):
            if node is not None:
                node.stop()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def u2netp_cache(real_model_cache):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLEANCUT_CACHE_DIR", str(real_model_cache))
        fetch.ensure(load_catalog().get("u2netp"), progress=False)
    return real_model_cache


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory, u2netp_cache):
    cluster = Cluster(tmp_path_factory.mktemp("ray-cluster"), u2netp_cache)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(ray_cluster, real_cache):
    """Both nodes up, their settings files empty again after the test."""
    ray_cluster.ensure_second()
    yield ray_cluster
    ray_cluster.reset_settings()


# --- inputs and the local command's answers ----------------------------------------------------

def make_shoot(folder: Path, count: int = SHOOT_SIZE) -> list[Path]:
    """``count`` different real photos, 320×240 (crops and mirror images of the two examples),
    JPEG and PNG, a third of them in a subfolder."""
    photos = [Image.open(REPO / "examples" / name).convert("RGB") for name in ("astronaut.png", "chelsea.png")]
    made = []
    for index in range(count):
        photo = photos[index % 2]
        width, height = photo.size
        left, top = (index * 7) % (width // 4), (index * 5) % (height // 4)
        picture = photo.crop((left, top, left + width * 3 // 4, top + height * 3 // 4)).resize((320, 240))
        if index % 3 == 1:
            picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        suffix = ".jpg" if index % 2 else ".png"
        path = folder / ("day2" if index % 3 == 2 else "") / f"shot{index:02d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path, quality=92) if suffix == ".jpg" else picture.save(path)
        made.append(path)
    return made


def cleancut(*args: str, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cleancut", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def driver_env(cluster: Cluster) -> dict[str, str]:
    """The test's own (isolated) cleancut settings, the shared model cache, the cluster's HOME."""
    return dict(os.environ, HOME=str(cluster.home), RAY_USAGE_STATS_ENABLED="0")


@pytest.fixture(scope="module")
def shoot(tmp_path_factory, u2netp_cache):
    """The 12-photo shoot and the local command's outputs for it (u2netp, the defaults)."""
    root = tmp_path_factory.mktemp("shoot")
    make_shoot(root / "in")
    env = dict(os.environ, CLEANCUT_CACHE_DIR=str(u2netp_cache), CLEANCUT_CONFIG_DIR=str(root / "config"))
    done = cleancut("remove", str(root / "in"), "-o", str(root / "local"), "-q", env=env)
    assert done.returncode == 0, done.stderr
    return root / "in", root / "local"


def visible_files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
                  and not p.name.startswith("."))


def assert_same_outputs(out: Path, local: Path) -> None:
    """The same files as the local command's, each with the same alpha and colours, and no
    temporary file left behind."""
    assert visible_files(out) == visible_files(local)
    for name in visible_files(local):
        np.testing.assert_array_equal(np.asarray(Image.open(out / name)), np.asarray(Image.open(local / name)),
                                      err_msg=name)
    assert not [p for p in out.rglob(".*") if p.is_file()]


def files_per_node(stderr: str) -> dict[str, int]:
    """From the line 'ray: N actor(s); files per node: 127.0.0.2 (abcd1234): 7, ...'."""
    line = next(text for text in stderr.splitlines() if "files per node:" in text)
    listed = line.split("files per node: ", 1)[1].split(";", 1)[0]
    return {part.split(" (")[0]: int(part.rsplit(": ", 1)[1]) for part in listed.split(", ")}


def wait_for_outputs(out: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(visible_files(out) if out.exists() else []) < count:
        assert process.poll() is None, "the command ended before the fault could be injected"
        assert time.monotonic() < deadline, "no output appeared in time"
        time.sleep(0.05)


# --- without a cluster -----------------------------------------------------------------------

def test_without_ray_installed_the_message_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    for name in ("RAY_USAGE_STATS_ENABLED", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"):
        monkeypatch.setenv(name, "0")
    photo = shutil.copy(REPO / "examples" / "chelsea.png", tmp_path / "chelsea.png")
    assert cli.main(["remove", str(photo), "--ray"]) == 2
    assert capsys.readouterr().err.strip() == (
        "cleancut: --ray needs Ray, which is not installed here: pip install 'cleancut[ray]'")
    assert sorted(os.listdir(tmp_path)) == ["chelsea.png"]


def test_an_input_put_where_the_address_goes_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["remove", "a.png", "--ray", "b.png"])
    assert stop.value.code == 2
    assert "--ray takes auto, HOST:PORT or ray://HOST:PORT, not 'b.png'" in capsys.readouterr().err


def test_ray_actors_without_ray_is_a_usage_error(tmp_path, capsys):
    photo = shutil.copy(REPO / "examples" / "chelsea.png", tmp_path / "chelsea.png")
    assert cli.main(["remove", str(photo), "--ray-actors", "2"]) == 2
    assert capsys.readouterr().err.strip() == "cleancut: --ray-actors needs --ray"


def test_workers_with_ray_is_a_usage_error(tmp_path, capsys):
    photo = shutil.copy(REPO / "examples" / "chelsea.png", tmp_path / "chelsea.png")
    assert cli.main(["remove", str(photo), "--ray", "--workers", "2"]) == 2
    assert capsys.readouterr().err.strip() == (
        "cleancut: --workers sets the local command's processes; with --ray, use --ray-actors")


def test_an_unreachable_cluster_is_one_line_and_exit_code_1(tmp_path, u2netp_cache):
    photo = shutil.copy(REPO / "examples" / "chelsea.png", tmp_path / "chelsea.png")
    port = free_port()
    env = dict(os.environ, CLEANCUT_CACHE_DIR=str(u2netp_cache), HOME=str(tmp_path), RAY_USAGE_STATS_ENABLED="0")
    done = cleancut("remove", str(photo), "--ray", f"127.0.0.2:{port}", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"cleancut: cannot reach a Ray cluster at 127.0.0.2:{port} (Connection refused); "
                                   "start one with `ray start --head` or check the address")
    assert sorted(os.listdir(tmp_path)) == ["chelsea.png"]


# --- on the cluster --------------------------------------------------------------------------

def test_a_folder_across_both_nodes_gives_the_local_commands_outputs(cluster, shoot, tmp_path):
    photos, local = shoot
    done = cleancut("remove", str(photos), "-o", str(tmp_path / "out"), "--ray", cluster.address, env=driver_env(cluster))
    assert done.returncode == 0, done.stderr
    assert_same_outputs(tmp_path / "out", local)
    per_node = files_per_node(done.stderr)
    assert set(per_node) == {"127.0.0.2", "127.0.0.3"} and sum(per_node.values()) == SHOOT_SIZE
    assert f"{SHOOT_SIZE} written, 0 skipped, 0 failed" in done.stderr


def test_clicks_reach_the_actors_and_give_the_local_commands_outputs(cluster, tmp_path, u2netp_cache):
    make_shoot(tmp_path / "in", 4)
    clicks = ["--include", "160,120", "--exclude", "10,10"]
    env = dict(os.environ, CLEANCUT_CACHE_DIR=str(u2netp_cache), CLEANCUT_CONFIG_DIR=str(tmp_path / "config"))
    local = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "local"), "--mask", "-q", *clicks, env=env)
    assert local.returncode == 0, local.stderr
    done = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--mask", *clicks,
                    "--ray", cluster.address, env=driver_env(cluster))
    assert done.returncode == 0, done.stderr
    assert_same_outputs(tmp_path / "out", tmp_path / "local")
    unclicked = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "plain"), "--mask", "-q", env=env)
    assert unclicked.returncode == 0 and visible_files(tmp_path / "plain") == visible_files(tmp_path / "local")
    assert any(not np.array_equal(np.asarray(Image.open(tmp_path / "plain" / name)),
                                  np.asarray(Image.open(tmp_path / "local" / name)))
               for name in visible_files(tmp_path / "local"))  # the clicks changed something


def test_a_video_is_one_task_and_gives_the_local_commands_output(cluster, tmp_path, u2netp_cache):
    (tmp_path / "in").mkdir()
    make_clip(tmp_path / "in" / "pan.mp4", count=4)
    env = dict(os.environ, CLEANCUT_CACHE_DIR=str(u2netp_cache), CLEANCUT_CONFIG_DIR=str(tmp_path / "config"))
    local = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "local"), "--format", "mov", "-q", env=env)
    assert local.returncode == 0, local.stderr
    done = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--format", "mov",
                    "--ray", cluster.address, env=driver_env(cluster))
    assert done.returncode == 0, done.stderr
    ours, theirs = read_clip(tmp_path / "out" / "pan-cutout.mov"), read_clip(tmp_path / "local" / "pan-cutout.mov")
    assert len(ours.pixels) == 4 and all(np.array_equal(a, b) for a, b in zip(ours.pixels, theirs.pixels))
    assert audio_packets(tmp_path / "out" / "pan-cutout.mov") == audio_packets(tmp_path / "in" / "pan.mp4")


def test_an_image_sequence_on_ray_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    make_clip(tmp_path / "in" / "pan.mp4", count=2)
    assert cli.main(["remove", str(tmp_path / "in"), "--format", "png", "--ray", "local"]) == 2
    assert "image sequences are not made on Ray clusters" in capsys.readouterr().err


def test_a_bad_file_fails_alone_with_the_local_commands_message(cluster, tmp_path, u2netp_cache):
    make_shoot(tmp_path / "in", 3)
    (tmp_path / "in" / "broken.jpg").write_bytes(b"not a photo at all")
    env = driver_env(cluster)
    local = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "local"), "-q", env=env)
    done = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q", "--ray", cluster.address, env=env)
    assert (local.returncode, done.returncode) == (1, 1)
    failed = [line for line in done.stderr.splitlines() if line.startswith("cleancut: failed:")]
    assert failed == [line for line in local.stderr.splitlines() if line.startswith("cleancut: failed:")]
    assert len(failed) == 1 and "broken.jpg: cannot read" in failed[0]
    assert_same_outputs(tmp_path / "out", tmp_path / "local")


def remove_while(cluster: Cluster, photos: Path, out: Path, disturb) -> str:
    """`remove --ray` on the shoot, calling ``disturb()`` once its first output is written; asserts
    it still succeeds and returns its stderr."""
    job = subprocess.Popen([sys.executable, "-m", "cleancut", "remove", str(photos), "-o", str(out),
                            "--ray", cluster.address], env=driver_env(cluster), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_outputs(out, 1, job)
        disturb()
        _, stderr = job.communicate(timeout=240)
    finally:
        job.kill()
    assert job.returncode == 0, stderr
    return stderr


def test_a_killed_actor_loses_nothing(cluster, shoot, tmp_path):
    photos, local = shoot

    def kill_the_second_nodes_actor() -> None:
        victims = cluster.second.actor_pids()
        assert len(victims) == 1
        os.kill(victims[0], signal.SIGKILL)

    stderr = remove_while(cluster, photos, tmp_path / "out", kill_the_second_nodes_actor)
    assert "a Ray actor on 127.0.0.3" in stderr and "was lost" in stderr
    assert f"{SHOOT_SIZE} written, 0 skipped, 0 failed" in stderr
    assert_same_outputs(tmp_path / "out", local)


def test_a_killed_worker_node_loses_nothing(cluster, shoot, tmp_path):
    photos, local = shoot
    # the raylet, its workers and agents, all at once
    stderr = remove_while(cluster, photos, tmp_path / "out", cluster.second.stop)
    assert "a Ray actor on 127.0.0.3" in stderr and "was lost" in stderr
    assert f"{SHOOT_SIZE} written, 0 skipped, 0 failed" in stderr
    assert_same_outputs(tmp_path / "out", local)


def test_skip_existing_resumes_a_job_whose_driver_was_killed(cluster, shoot, tmp_path):
    photos, local = shoot
    out = tmp_path / "out"
    env = driver_env(cluster)
    first = subprocess.Popen([sys.executable, "-m", "cleancut", "remove", str(photos), "-o", str(out), "-q",
                              "--ray", cluster.address], env=env, stdin=subprocess.DEVNULL)
    try:
        wait_for_outputs(out, 3, first)
    finally:
        first.kill()
        first.wait()
    kept = {name: (out / name).read_bytes() for name in visible_files(out)}
    assert 3 <= len(kept) < SHOOT_SIZE
    done = cleancut("remove", str(photos), "-o", str(out), "--skip-existing", "--ray", cluster.address, env=env)
    assert done.returncode == 0, done.stderr
    assert f"{SHOOT_SIZE - len(kept)} written, {len(kept)} skipped, 0 failed" in done.stderr
    assert {name: (out / name).read_bytes() for name in kept} == kept
    # a temporary file of the killed driver's last write may remain (hidden, never an output)
    assert visible_files(out) == visible_files(local)
    for name in visible_files(local):
        np.testing.assert_array_equal(np.asarray(Image.open(out / name)), np.asarray(Image.open(local / name)))


def test_skip_existing_with_every_output_there_does_not_even_join_the_cluster(shoot, tmp_path, real_cache):
    photos, local = shoot
    shutil.copytree(local, tmp_path / "out")
    env = dict(os.environ, HOME=str(tmp_path), RAY_USAGE_STATS_ENABLED="0")
    unreachable = f"127.0.0.2:{free_port()}"  # nothing listens there
    done = cleancut("remove", str(photos), "-o", str(tmp_path / "out"), "--skip-existing", "--ray", unreachable, env=env)
    assert done.returncode == 0, done.stderr
    assert f"0 written, {SHOOT_SIZE} skipped, 0 failed" in done.stderr
    assert "ray:" not in done.stderr


def test_a_refused_licence_stops_the_job_before_anything_is_fetched_scheduled_or_written(cluster, tmp_path):
    make_shoot(tmp_path / "in", 2)
    done = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "isnet",
                    "--ray", cluster.address, env=driver_env(cluster))
    assert done.returncode == 1
    assert "`cleancut models accept isnet`" in done.stderr
    assert "ray:" not in done.stderr  # the driver never joined the cluster
    assert not (tmp_path / "out").exists()
    assert not fetch.cached_path(load_catalog().get("isnet")).exists()


@pytest.fixture
def gpl_model(cluster, tmp_path, monkeypatch):
    """'gpl-red': a tiny real model under GPL-3.0-only (needs acceptance), cached for every node
    and the driver, in a catalog every node's settings name; the driver has accepted it."""
    data = red_channel_model()
    catalog = tmp_path / "gpl.toml"
    catalog.write_text(catalog_entry("gpl-red", data, '{ kind = "url", url = "http://127.0.0.1:9/never" }',
                                     licence="GPL-3.0-only"), encoding="utf-8")
    monkeypatch.setenv("CLEANCUT_CATALOG", str(catalog))
    entry = load_catalog().get("gpl-red")
    assert hashlib.sha256(data).hexdigest() == entry.sha256
    fetch.cached_path(entry).parent.mkdir(parents=True, exist_ok=True)
    fetch.cached_path(entry).write_bytes(data)
    assert cli.main(["models", "accept", "gpl-red"]) == 0
    for node in ("head", "second"):
        cluster.settings(node, {"catalog": [str(catalog)]})
    return entry


def test_nodes_without_the_acceptance_refuse_and_nothing_is_written(cluster, gpl_model, tmp_path):
    make_shoot(tmp_path / "in", 2)
    done = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "gpl-red",
                    "--ray", cluster.address, env=driver_env(cluster))
    assert done.returncode == 1
    error = done.stderr[done.stderr.index("cleancut: no Ray actor would run this batch"):]
    refusals = sorted(line.split(" (")[0] for line in error.splitlines()[1:])
    assert refusals == ["  - 127.0.0.2", "  - 127.0.0.3"]
    assert error.count("needs your acceptance first") == 2
    assert not (tmp_path / "out").exists()


def test_a_node_without_the_acceptance_is_left_out_and_the_other_does_the_batch(cluster, gpl_model, tmp_path):
    make_shoot(tmp_path / "in", 4)
    with open(cluster.config["head"] / "config.json", encoding="utf-8") as handle:
        head = json.load(handle)
    head["accepted_licences"] = {"gpl-red": {"licence": "GPL-3.0-only"}}
    cluster.settings("head", head)
    done = cleancut("remove", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "gpl-red",
                    "--ray", cluster.address, env=driver_env(cluster))
    assert done.returncode == 0, done.stderr
    assert "cleancut: warning: a Ray actor on 127.0.0.3" in done.stderr
    assert "refuses: model 'gpl-red' needs your acceptance first" in done.stderr
    assert files_per_node(done.stderr) == {"127.0.0.2": 4}
    assert len(visible_files(tmp_path / "out")) == 4


def test_a_bare_ray_starts_ray_on_this_machine_and_stops_it(shoot, tmp_path, real_cache):
    photos, local = shoot
    ray_tmp = tempfile.mkdtemp(prefix="ccray-local-", dir="/tmp")
    env = dict(os.environ, HOME=str(tmp_path), RAY_TMPDIR=ray_tmp, RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS", None)
    try:
        done = cleancut("remove", str(photos), "-o", str(tmp_path / "out"), "--ray", env=env)
        left = [pid for pid in os.listdir("/proc") if pid.isdigit() and ray_tmp in command_line(int(pid))]
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    assert "ray: started Ray on this machine" in done.stderr
    assert set(files_per_node(done.stderr)) == {"127.0.0.1"}  # a local Ray listens on loopback only
    assert_same_outputs(tmp_path / "out", local)
    assert left == []


def test_the_pyblish_extractor_hands_a_publish_to_the_cluster(cluster, tmp_path, monkeypatch):
    import pyblish.api
    import pyblish.util

    from cleancut import compose, imageread, pipeline
    from cleancut.options import Options

    monkeypatch.setenv("HOME", str(cluster.home))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    sources = make_shoot(tmp_path / "shoot", 3)
    context = pyblish.api.Context()
    context.data.update(cleancutPaths=[str(tmp_path / "shoot")], cleancutRay=cluster.address)
    context = pyblish.util.publish(context, plugins=pyblish.api.discover(paths=[str(REPO / "plugins")]))
    assert [str(r["error"]) for r in context.data["results"] if r["error"]] == []
    assert len(context) == 3  # each image extracted by an actor of the cluster
    assert {i.data["rayNode"].split(" (")[0] for i in context} <= {"127.0.0.2", "127.0.0.3"}
    for source in sources:
        picture = imageread.read_image(source)
        result = pipeline.remove(imageread.to_rgb8(picture), Options(model="u2netp"))
        mask = compose.quantise(compose.combine_alpha(result.alpha, picture.alpha), picture.bit_depth)
        stem = source.with_suffix("")
        np.testing.assert_array_equal(np.asarray(Image.open(f"{stem}-mask.png")), mask)
        cutout = np.asarray(Image.open(f"{stem}-cutout.png"))
        np.testing.assert_array_equal(cutout[..., 3], mask)
        record = json.loads(Path(f"{stem}-cleancut.json").read_text(encoding="utf-8"))
        assert record["model"]["id"] == "u2netp"
