"""Issue 12, "nothing lost, nothing hangs": each hostile case found, as a specification.

Every test here failed on 00c815f. Real processes where the case is about a process (the
worker, the CLI reading a FIFO, a closed pipe), a real loopback HTTP server for downloads,
and, for the read-only cache, a real process without the power to override file permissions.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cleancut import cli, config, fetch, frames, inputs
from cleancut.catalog import load_catalog
from cleancut.cleancut_client import CleancutError as ClientError
from cleancut.cleancut_client import Client
from cleancut.errors import CleancutError, FetchError

from support import RawWorker, catalog_entry, gradient_image, without_permission_override

CLI = [sys.executable, "-m", "cleancut"]


def run_cli(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, **kwargs)


def small_png(path: Path, seed: int = 0) -> Path:
    rgb = np.roll(gradient_image(), seed, axis=1)
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture
def raw(engine_models):
    worker = RawWorker("--stall-timeout", "0.5")
    yield worker
    assert "Traceback" not in worker.close()


# --- data loss ---

def test_remove_never_writes_its_output_over_its_input(engine_models, tmp_path):
    photo = small_png(tmp_path / "x.png")
    before = photo.read_bytes()
    assert cli.main(["remove", str(photo), "-o", str(photo), "--model", "red", "-q"]) == 1
    assert photo.read_bytes() == before


def test_worker_listen_leaves_a_regular_file_at_its_path_alone(tmp_path):
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    done = run_cli("worker", "--listen", str(keep), "--idle-timeout", "1")
    assert done.returncode == 1 and "left alone" in done.stderr
    assert keep.read_text() == "mine"


# --- security and licence policy ---

def test_decoding_a_one_row_frame_with_a_huge_stride_allocates_only_the_row():
    tracemalloc.start()
    try:
        rgb, _ = frames.decode(b"abc", 1, 1, "RGB", "u8", stride=200_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rgb.tolist() == [[[97, 98, 99]]] and peak < 1 << 20


def test_a_frame_whose_stride_spans_more_than_the_frame_limit_is_refused():
    with pytest.raises(frames.FrameError, match="over the limit of 1000"):
        frames.frame_size(1, 1, "RGB", "u8", stride=4_000_000_000, max_bytes=1000)


def test_the_worker_refuses_a_one_row_frame_with_a_4_gb_stride(raw):
    header = {"op": "remove", "id": 1, "width": 1, "height": 1, "channels": "RGB", "format": "u8",
              "stride": 4_000_000_000, "options": {"model": "red", "refine": "off"}, "nbytes": 3}
    raw.send(json.dumps(header).encode() + b"\n" + b"abc")
    reply = raw.reply()
    assert (reply["id"], reply["kind"]) == (1, "protocol") and "over the limit" in reply["message"]
    assert raw.hello_works()


@pytest.fixture
def gated_models(engine_models, user_catalog, red_model, server):
    """Besides red/slow/gpl: 'nc', a non-commercial model, cached."""
    path = Path(os.environ["CLEANCUT_CATALOG"])
    text = path.read_text() + catalog_entry("nc", red_model, f'{{ kind = "url", url = "{server.base}/red.onnx" }}',
                                            licence="CC-BY-NC-4.0", commercial=False)
    user_catalog(text)
    fetch.ensure(load_catalog().get("nc"), progress=False)
    return path


def test_bench_with_its_own_weights_still_needs_the_licence_accepted(gated_models, tmp_path):
    weights = tmp_path / "weights"
    weights.mkdir()
    shutil.copy(fetch.cached_path(load_catalog().get("gpl")), weights / "gpl.onnx")
    done = run_cli("bench", "--weights", str(weights), "--models", "gpl", "--data", str(tmp_path),
                   "--out", str(tmp_path / "out"))
    assert done.returncode == 1 and "cleancut models accept gpl" in done.stderr
    assert not (tmp_path / "out").exists()


def test_bench_mirrored_obeys_the_commercial_policy(gated_models, tmp_path, monkeypatch):
    from cleancut import licences

    licences.accept(load_catalog().get("nc"))
    monkeypatch.setenv("CLEANCUT_COMMERCIAL", "1")
    done = run_cli("bench", "--tta", "flip", "--models", "nc", "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert done.returncode == 1 and "refused by the commercial-use policy" in done.stderr


@pytest.mark.parametrize("how", ["env", "flag"])
def test_models_fetch_in_offline_mode_downloads_nothing(server, user_catalog, red_model, monkeypatch, how):
    user_catalog(catalog_entry("tiny", red_model, f'{{ kind = "url", url = "{server.add("/t.onnx", "ok", red_model)}" }}'))
    if how == "env":
        monkeypatch.setenv("CLEANCUT_OFFLINE", "1")
    assert cli.main(["models", "fetch", "tiny", "-q"] + (["--offline"] if how == "flag" else [])) == 1
    assert server.hits == [] and not fetch.is_cached(load_catalog().get("tiny"))


def _cache_leftovers(entry) -> list[str]:
    folder = fetch.cached_path(entry).parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("kind", ["endless", "overlong", "announced-huge"])
def test_a_download_is_cut_off_at_the_declared_size(server, user_catalog, red_model, kind):
    user_catalog(catalog_entry("tiny", red_model, f'{{ kind = "url", url = "{server.add("/m.onnx", kind, red_model)}" }}'))
    entry = load_catalog().get("tiny")
    began = time.monotonic()
    with pytest.raises(FetchError, match="declared size"):
        fetch.ensure(entry, progress=False)
    assert time.monotonic() - began < 20
    assert _cache_leftovers(entry) == []
    # what the server managed to send: the cap plus what socket buffers took in flight
    assert server.httpd.sent.get("/m.onnx", 0) < fetch.download_limit(entry) + (16 << 20)


def test_a_runtime_folder_owned_by_someone_else_means_a_private_worker(engine_models, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("making a folder another user's needs root")
    base = tempfile.mkdtemp(prefix="cc-")
    monkeypatch.setenv("CLEANCUT_RUNTIME_DIR", base)
    squatted = os.path.join(base, "cleancut-%d" % os.getuid())
    os.mkdir(squatted, 0o777)
    os.chown(squatted, 65534, 65534)
    c = Client(python=sys.executable, shared=True)
    try:
        assert c.hello()["pid"] != os.getpid() and c.process is not None
        assert "belongs to another user" in c.note and "private worker" in c.note
        assert len(c.remove(gradient_image().tobytes(), 16, 16, "RGB", options={"model": "red", "refine": "off"})) == 256
    finally:
        c.close()
        shutil.rmtree(base)
    assert os.listdir(base if os.path.exists(base) else tempfile.gettempdir()) is not None


def test_a_runtime_folder_that_is_a_link_is_not_followed(engine_models, monkeypatch, tmp_path):
    base = tempfile.mkdtemp(prefix="cc-")
    monkeypatch.setenv("CLEANCUT_RUNTIME_DIR", base)
    elsewhere = tempfile.mkdtemp(prefix="cc-there-")  # 0700 and ours: only the link is wrong
    os.symlink(elsewhere, os.path.join(base, "cleancut-%d" % os.getuid()))
    c = Client(python=sys.executable, shared=True)
    try:
        assert c.hello()["ok"] and c.process is not None
        assert "is a link" in c.note
        assert os.listdir(elsewhere) == []
    finally:
        c.close()
        shutil.rmtree(base)
        shutil.rmtree(elsewhere)


# --- tracebacks ---

@pytest.mark.parametrize("op", [["remove"], {"op": "hello"}, 5, None, True])
def test_an_op_that_is_not_a_string_is_a_protocol_error(raw, op):
    raw.send(json.dumps({"op": op, "id": 1}).encode() + b"\n")
    reply = raw.reply()
    assert (reply["id"], reply["kind"]) == (1, "protocol") and "'op' must be a string" in reply["message"]
    assert raw.hello_works()


def test_an_op_that_is_a_list_leaves_a_shared_connection_serving(engine_models):
    folder = tempfile.mkdtemp(prefix="cc-")
    path = os.path.join(folder, "w.sock")
    worker = subprocess.Popen(CLI + ["worker", "--listen", path, "--idle-timeout", "30"], stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 30
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(path)
            conn.settimeout(10)
            stream = conn.makefile("rwb")
            for line in (b'{"op": ["x"], "id": 1}\n', b'{"op": "hello", "id": 2}\n'):
                stream.write(line)
                stream.flush()
                reply = json.loads(stream.readline())
            assert reply["id"] == 2 and reply["ok"] is True
            stream.write(b'{"op": "shutdown"}\n')
            stream.flush()
        assert worker.wait(timeout=20) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        assert b"Traceback" not in worker.stderr.read()
        shutil.rmtree(folder)


@pytest.fixture
def read_only_tampered_cache(engine_models):
    """The 'red' model tampered with in a cache folder the user may not write."""
    entry = load_catalog().get("red")
    path = fetch.cached_path(entry)
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    path.parent.chmod(0o555)
    yield path
    path.parent.chmod(0o755)


@pytest.mark.parametrize("command", [["models", "verify", "red"], ["remove", "IMAGE", "--model", "red", "-q"],
                                     ["doctor"]], ids=["verify", "remove", "doctor"])
def test_a_tampered_model_in_a_read_only_cache_is_named_with_its_checksum(read_only_tampered_cache, tmp_path, command):
    image = small_png(tmp_path / "p.png")
    argv = [str(image) if a == "IMAGE" else a for a in command]
    done = subprocess.run(without_permission_override() + CLI + argv, capture_output=True, text=True, timeout=120)
    said = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in said
    assert "failed its check" in said and "could not be deleted" in said
    assert read_only_tampered_cache.exists()


def test_the_worker_answers_kind_model_for_a_tampered_model_in_a_read_only_cache(read_only_tampered_cache):
    proc = subprocess.Popen(without_permission_override() + CLI + ["worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        header = {"op": "remove", "id": 1, "width": 16, "height": 16, "channels": "RGB", "format": "u8",
                  "options": {"model": "red"}, "nbytes": 768}
        out, err = proc.communicate(json.dumps(header).encode() + b"\n" + gradient_image().tobytes(), timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    reply = [json.loads(line) for line in out.splitlines() if line.startswith(b"{")][-1]
    assert reply["kind"] == "model" and "failed its check" in reply["message"]


@pytest.mark.parametrize("setting", ["missing", "a-file"])
def test_no_usable_runtime_folder_means_a_private_worker(engine_models, monkeypatch, tmp_path, setting):
    monkeypatch.delenv("CLEANCUT_RUNTIME_DIR", raising=False)
    base = tmp_path / "runtime"
    if setting == "a-file":
        base.write_text("")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    c = Client(python=sys.executable, shared=True)
    try:
        assert c.hello()["ok"] and c.process is not None
        assert "private worker" in c.note
    finally:
        c.close()


BAD_SETTINGS = [
    ('{"catalog": 5}', "catalog"),
    ('{"catalog": ["ok.toml", 5]}', "catalog"),
    ('{"engine_python": 5}', "engine_python"),
    ('{"offline": "maybe"}', "offline"),
    ('{"commercial_use": 2}', "commercial_use"),
    ('{"accepted_licences": ["u2net"]}', "accepted_licences"),
    ('{"accepted_licences": {"gpl": "yes"}}', "accepted_licences"),
]


@pytest.mark.parametrize("text,key", BAD_SETTINGS)
def test_settings_of_the_wrong_type_are_one_error_naming_file_and_key(text, key):
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(CleancutError) as err:
        config.load_config()
    assert str(path) in str(err.value) and f'"{key}"' in str(err.value)


@pytest.mark.parametrize("raw", [b"\x80", b"[" * 100_000], ids=["not-utf8", "deep"])
def test_a_settings_file_python_cannot_decode_is_one_error_naming_it(raw):
    # found by tests/test_fuzz_settings.py: UnicodeDecodeError escaped load_config
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    with pytest.raises(CleancutError, match=str(path)):
        config.load_config()


@pytest.mark.parametrize("text,key", BAD_SETTINGS[:5])
@pytest.mark.parametrize("command", [["models", "list"], ["remove", "IMAGE", "-q"]], ids=["models", "remove"])
def test_the_cli_reports_wrongly_typed_settings_in_one_line(text, key, command, tmp_path):
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    image = small_png(tmp_path / "p.png")
    done = run_cli(*[str(image) if a == "IMAGE" else a for a in command])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f'"{key}"' in done.stderr and str(path) in done.stderr


@pytest.mark.parametrize("text", ["{not json", "[]", '{"engine_python": 5}', '{"engine_python": ""}'])
def test_the_editor_client_calls_a_corrupt_settings_file_corrupt(text, monkeypatch):
    monkeypatch.delenv("CLEANCUT_ENGINE_PYTHON", raising=False)
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(ClientError) as err:
        Client().hello()
    assert err.value.kind == "setup" and "corrupt" in str(err.value) and str(path) in str(err.value)
    assert "No cleancut engine is configured" not in str(err.value)


def test_models_info_into_a_closed_pipe_is_quiet():
    proc = subprocess.Popen(CLI + ["models", "info", "u2netp"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # closed before the card is written: like `| head -1` after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err and "BrokenPipe" not in err


# --- hangs ---

def test_a_glob_through_a_symlink_loop_finds_each_image_once(tmp_path):
    root = tmp_path / "shoot"
    (root / "a").mkdir(parents=True)
    small_png(root / "a" / "p.png")
    small_png(root / "q.png")
    (root / "a" / "loop").symlink_to(root)  # a/loop/a/loop/... forever
    (root / "again").symlink_to(root / "a")  # the same real folder by a second route
    began = time.monotonic()
    found, missing = inputs.expand_inputs([str(root / "**" / "*.png")])
    assert time.monotonic() - began < 5
    assert missing == [] and sorted(f.resolve().name for f, _ in found) == ["p.png", "q.png"]


def test_a_folder_with_a_symlink_loop_is_walked_once(tmp_path):
    root = tmp_path / "shoot"
    (root / "a").mkdir(parents=True)
    small_png(root / "a" / "p.png")
    (root / "a" / "loop").symlink_to(root)
    found, _ = inputs.expand_inputs([str(root)])
    assert [relative.as_posix() for _, relative in found] == ["a/p.png"]


@pytest.mark.parametrize("line", [
    b"[" * 100_000 + b"\n",
    b'{"op": "hello", "id": ' + b"[" * 50_000 + b"\n",
    b'{"op": "hello", "id": ' + b"[" * 40 + b"]" * 40 + b"}\n",
    b'{"op": "hello", "id": 1, "x": ' + b"9" * 5000 + b"}\n",
    b'{"op": "hello", "id": NaN}\n',
    b'{"op": "hello", "id": 1e999}\n',
    b'{"op": "hello", "id": -Infinity}\n',
    b'{"op": "hello", "id": 1, "width": 1e400}\n',
    b"\xff\xfe{}\n",
], ids=["deep-array", "deep-id", "nested-id", "5000-digits", "nan", "huge-float", "infinity", "inf-field", "not-utf8"])
def test_headers_python_cannot_take_get_a_reply_and_the_worker_keeps_serving(raw, line):
    raw.send(line)
    reply = raw.reply(timeout=5)
    assert reply["ok"] is False and reply["kind"] == "protocol"
    assert raw.hello_works()


@pytest.mark.parametrize("make", ["fifo", "dev-zero"])
def test_remove_refuses_files_that_are_not_regular_instead_of_blocking(tmp_path, make):
    if make == "fifo":
        target = tmp_path / "pipe.png"
        os.mkfifo(target)
    else:
        target = tmp_path / "zero.png"
        target.symlink_to("/dev/zero")
    done = run_cli("remove", str(target), "-q", timeout=30)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert ("named pipe" if make == "fifo" else "device") in done.stderr


def test_read_image_refuses_a_fifo_without_opening_it(tmp_path):
    from cleancut import imageread
    from cleancut.errors import ImageError

    fifo = tmp_path / "p.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="named pipe"):
        imageread.read_image(fifo)


# --- unclear ---

def test_o_with_a_file_name_and_several_inputs_is_a_usage_error(engine_models, tmp_path):
    a, b = small_png(tmp_path / "a.png"), small_png(tmp_path / "b.png", 3)
    assert cli.main(["remove", str(a), str(b), "-o", str(tmp_path / "out.png"), "--model", "red", "-q"]) == 2
    assert not (tmp_path / "out.png").exists()


def test_o_with_a_jpeg_name_is_a_usage_error_not_a_folder(engine_models, tmp_path):
    a = small_png(tmp_path / "a.png")
    assert cli.main(["remove", str(a), "-o", str(tmp_path / "out.jpg"), "--model", "red", "-q"]) == 2
    assert not (tmp_path / "out.jpg").exists()


@pytest.mark.parametrize("field,value", [
    ("width", "16"), ("height", 16.0), ("channels", ["RGB"]), ("format", {"u8": 1}), ("stride", "48"),
    ("alpha_format", ["u8"]), ("hint_nbytes", "0"), ("foreground", "yes"), ("options", [1]),
    ("stream", 5), ("stream_reset", "yes"),
])
def test_a_wrongly_typed_remove_field_is_a_protocol_error_naming_it(raw, field, value):
    header = {"op": "remove", "id": 1, "width": 16, "height": 16, "channels": "RGB", "format": "u8",
              "options": {"model": "red", "refine": "off"}, "stream": "s", field: value, "nbytes": 768}
    raw.send(json.dumps(header).encode() + b"\n" + gradient_image().tobytes())
    reply = raw.reply()
    assert (reply["id"], reply["kind"]) == (1, "protocol") and f"'{field}'" in reply["message"]
    assert raw.hello_works()


@pytest.mark.parametrize("option,value", [("threads", "2"), ("threads", 2.5), ("provider", 5), ("model", 5),
                                          ("offline", "no"), ("temporal_smoothing", "0.5"), ("refine", ["off"])])
def test_a_wrongly_typed_option_is_a_protocol_error_naming_it(raw, option, value):
    header = {"op": "remove", "id": 1, "width": 16, "height": 16, "channels": "RGB", "format": "u8",
              "options": {"model": "red", option: value}, "nbytes": 768}
    raw.send(json.dumps(header).encode() + b"\n" + gradient_image().tobytes())
    reply = raw.reply()
    assert (reply["id"], reply["kind"]) == (1, "protocol") and f"'{option}'" in reply["message"]


def test_accept_with_a_model_that_is_not_a_string_is_a_protocol_error(raw):
    raw.send(b'{"op": "accept", "id": 1, "model": ["gpl"]}\n')
    reply = raw.reply()
    assert (reply["id"], reply["kind"]) == (1, "protocol") and "'model'" in reply["message"]


def test_an_idle_shared_connection_is_reopened_without_an_error(engine_models, monkeypatch):
    folder = tempfile.mkdtemp(prefix="cc-")
    monkeypatch.setenv("CLEANCUT_RUNTIME_DIR", folder)
    c = Client(python=sys.executable, shared=True, worker_args=["--idle-timeout", "0.5"])
    try:
        c.hello()
        time.sleep(2.0)  # the connection idles out (and, with no other client, the worker too)
        alpha = c.remove(gradient_image().tobytes(), 16, 16, "RGB", options={"model": "red", "refine": "off"})
        assert len(alpha) == 256
    finally:
        c.shutdown()
        shutil.rmtree(folder, ignore_errors=True)


def test_an_idle_private_worker_is_restarted_without_an_error(engine_models):
    c = Client(python=sys.executable, worker_args=["--idle-timeout", "0.5"])
    try:
        first = c.hello()["pid"]
        time.sleep(2.0)
        assert len(c.remove(gradient_image().tobytes(), 16, 16, "RGB", options={"model": "red", "refine": "off"})) == 256
        assert c.engine["pid"] != first
    finally:
        c.close()


def test_the_idle_notice_is_said_before_the_connection_closes(engine_models):
    worker = RawWorker("--idle-timeout", "0.5")
    try:
        reply = worker.reply(timeout=10)
        assert (reply["op"], reply["reason"], reply["id"]) == ("closing", "idle", None)
        assert worker.proc.wait(timeout=10) == 0
    finally:
        worker.close()


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "lots"])
def test_max_megapixels_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["remove", "x.png", "--max-megapixels", value])
    assert done.value.code == 2 and "--max-megapixels" in capsys.readouterr().err


@pytest.mark.parametrize("text,expected", [('{"offline": "no"}', False), ('{"offline": "0"}', False),
                                           ('{"offline": false}', False), ('{"offline": "yes"}', True),
                                           ('{"offline": true}', True), ('{"offline": null}', False)])
def test_settings_flags_are_read_like_the_environment_variables(text, expected):
    path = config.config_path()
    path.parent.mkdir(parents=True)
    path.write_text(text)
    assert config.offline() is expected


def test_outputs_of_an_earlier_run_are_not_inputs_again_through_a_glob(engine_models, tmp_path):
    shoot = tmp_path / "shoot"
    shoot.mkdir()
    small_png(shoot / "a.png")
    pattern = str(shoot / "*")
    assert cli.main(["remove", pattern, "--model", "red", "-q"]) == 0
    assert cli.main(["remove", pattern, "--model", "red", "-q"]) == 0
    assert sorted(p.name for p in shoot.iterdir()) == ["a-cutout.png", "a.png"]


def test_outputs_named_in_capitals_are_not_inputs_again(tmp_path):
    small_png(tmp_path / "a.png")
    small_png(tmp_path / "A-CUTOUT.PNG")
    small_png(tmp_path / "b-Mask.webp")
    found, _ = inputs.expand_inputs([str(tmp_path)])
    assert [f.name for f, _ in found] == ["a.png"]


def test_an_output_named_explicitly_is_refused_with_the_reason(tmp_path):
    cut = small_png(tmp_path / "a-cutout.png")
    found, missing = inputs.expand_inputs([str(cut)])
    assert found == [] and "named like a cleancut result" in missing[0][1]


def test_a_read_only_runtime_folder_means_a_private_worker(engine_models, tmp_path):
    base = tmp_path / "runtime"
    base.mkdir(mode=0o555)
    script = ("import sys; from cleancut.cleancut_client import Client\n"
              "c = Client(python=sys.executable, shared=True)\n"
              "print(c.hello()['ok'], c.process is not None, c.note)\n"
              "c.close()\n")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(base))
    env.pop("CLEANCUT_RUNTIME_DIR", None)
    done = subprocess.run(without_permission_override() + [sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("True True ") and "cannot be created" in done.stdout
    assert os.listdir(base) == []
