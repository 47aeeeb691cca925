"""The worker and the client, as real processes: the editors' boundary to the engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from cleancut import cleancut_client
from cleancut.cleancut_client import CleancutError, Client
from cleancut.options import MAX_THREADS

from hostkit import running
from support import RawWorker, gradient_image


@pytest.fixture
def client(engine_models):
    c = Client(python=sys.executable, start_timeout=60)
    yield c
    c.close()


def rgba_bytes(rgb: np.ndarray) -> bytes:
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]).tobytes()


# --- the client's happy paths ---

def test_hello_reports_protocol_and_engine_version(client):
    hello = client.hello()
    assert hello["protocol"] == cleancut_client.PROTOCOL == 1
    assert hello["engine"] == "0.1.0"


def test_remove_returns_the_alpha_of_an_rgba_u8_frame(client):
    rgb = gradient_image()
    alpha = client.remove(rgba_bytes(rgb), 16, 16, "RGBA", "u8", options={"model": "red", "refine": "off"})
    np.testing.assert_array_equal(np.frombuffer(alpha, np.uint8).reshape(16, 16), rgb[..., 0])


def test_remove_takes_16_bit_pixels_and_answers_in_16_bit(client):
    rgb = gradient_image()
    pixels = (rgb.astype("<u2") * 257).tobytes()
    alpha = client.remove(pixels, 16, 16, "RGB", "u16", options={"model": "red", "refine": "off"}, alpha_format="u16")
    np.testing.assert_array_equal(np.frombuffer(alpha, "<u2").reshape(16, 16), rgb[..., 0].astype(np.uint16) * 257)


def test_remove_takes_float_pixels_and_answers_in_float(client):
    rgb = gradient_image()
    pixels = (rgb.astype("<f4") / 255.0).tobytes()
    alpha = np.frombuffer(client.remove(pixels, 16, 16, "RGB", "f32", options={"model": "red", "refine": "off"},
                                        alpha_format="f32"), "<f4").reshape(16, 16)
    np.testing.assert_allclose(alpha, rgb[..., 0] / 255.0, atol=1e-6)


def test_remove_honours_a_padded_stride(client):
    rgb = gradient_image()
    rows = np.zeros((16, 16 * 3 + 5), np.uint8)
    rows[:, :48] = rgb.reshape(16, 48)
    alpha = client.remove(rows.tobytes()[:-5], 16, 16, "RGB", "u8", stride=53, options={"model": "red", "refine": "off"})
    np.testing.assert_array_equal(np.frombuffer(alpha, np.uint8).reshape(16, 16), rgb[..., 0])


def test_remove_takes_grey_frames(client):
    grey = gradient_image()[..., 0]
    alpha = client.remove(grey.tobytes(), 16, 16, "Y", "u8", options={"model": "red", "refine": "off"})
    np.testing.assert_array_equal(np.frombuffer(alpha, np.uint8).reshape(16, 16), grey)


def test_a_hint_overrides_the_model_where_it_is_certain(client):
    rgb = gradient_image()
    hint = np.full((16, 16), 128, np.uint8)
    hint[:, :4] = 255  # the model says ~0 there
    hint[:, 12:] = 0  # the model says ~1 there
    alpha = np.frombuffer(client.remove(rgba_bytes(rgb), 16, 16, options={"model": "red", "refine": "off"},
                                        hint=hint.tobytes()), np.uint8).reshape(16, 16)
    assert (alpha[:, :4] == 255).all() and (alpha[:, 12:] == 0).all()
    np.testing.assert_array_equal(alpha[:, 4:12], rgb[:, 4:12, 0])


def test_progress_is_forwarded(client):
    seen = []
    client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"},
                  progress=lambda fraction, stage: seen.append((fraction, stage)))
    assert seen[-1] == (1.0, "done") and len(seen) >= 2


def test_the_worker_keeps_the_model_loaded_between_calls(client):
    client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})
    pid = client.engine["pid"]
    client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})
    assert client.engine["pid"] == pid


def test_models_lists_licence_state(client):
    models = {m["id"]: m for m in client.models()}
    assert models["red"]["class"] == "permissive" and not models["red"]["needs_acceptance"]
    assert models["gpl"]["needs_acceptance"] and models["gpl"]["cached"]


def test_a_model_needing_acceptance_fails_with_the_accept_command_then_works_once_accepted(client):
    with pytest.raises(CleancutError) as err:
        client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "gpl"})
    assert err.value.kind == "licence" and "cleancut models accept gpl" in str(err.value)
    client.accept("gpl")
    assert len(client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "gpl"})) == 256


def test_an_unknown_option_is_an_error_not_a_crash(client):
    with pytest.raises(CleancutError, match="unknown option"):
        client.remove(rgba_bytes(gradient_image()), 16, 16, options={"modle": "red"})
    assert client.hello()["protocol"] == 1


def test_a_bad_option_value_is_refused_with_the_options_own_message(client):
    with pytest.raises(CleancutError) as err:
        client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "threads": True})
    assert str(err.value).endswith(f"bad options: 'threads' must be a whole number from 1 to {MAX_THREADS}, not true")
    assert client.hello()["protocol"] == 1


# --- failures the client turns into one clear error ---

def test_no_engine_configured_says_how_to_configure_one(monkeypatch, tmp_path):
    monkeypatch.delenv("CLEANCUT_ENGINE_PYTHON", raising=False)
    with pytest.raises(CleancutError) as err:
        Client().hello()
    assert err.value.kind == "setup" and "cleancut install" in str(err.value)


def test_the_configured_engine_comes_from_the_settings_file(engine_models):
    from cleancut import config

    config.save_config({"engine_python": sys.executable})
    c = Client()
    try:
        assert c.hello()["protocol"] == 1
    finally:
        c.close()


@pytest.mark.parametrize("shared", [False, True], ids=["private", "shared"])
def test_a_python_without_cleancut_is_named_in_the_error(tmp_path, shared, monkeypatch):
    import tempfile

    monkeypatch.setenv("CLEANCUT_RUNTIME_DIR", tempfile.mkdtemp(prefix="cc-"))
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    with pytest.raises(CleancutError) as err:
        Client(python=str(bare / "bin" / "python"), shared=shared).hello()
    assert err.value.kind == "setup" and "has no cleancut engine" in str(err.value)


def test_a_missing_interpreter_is_a_setup_error(tmp_path):
    with pytest.raises(CleancutError) as err:
        Client(python=str(tmp_path / "nothing" / "python")).hello()
    assert err.value.kind == "setup"


def test_a_worker_killed_between_calls_is_restarted(client):
    client.hello()
    first = client.engine["pid"]
    os.kill(first, 9)
    time.sleep(0.2)
    alpha = client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})
    assert len(alpha) == 256 and client.engine["pid"] != first


def test_a_worker_killed_mid_run_is_one_clear_error_and_the_next_call_works(client):
    client.hello()
    pid = client.engine["pid"]
    threading.Timer(0.8, os.kill, (pid, 9)).start()
    big = rgba_bytes(np.zeros((1024, 1024, 3), np.uint8))
    with pytest.raises(CleancutError) as err:
        client.remove(big, 1024, 1024, options={"model": "slow"})
    assert err.value.kind == "crashed" and "restarted on the next try" in str(err.value)
    assert len(client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})) == 256


def test_cancel_stops_a_running_remove_and_the_worker_keeps_serving(client):
    started = []
    big = rgba_bytes(np.zeros((1024, 1024, 3), np.uint8))
    began = time.monotonic()
    with pytest.raises(CleancutError) as err:
        client.remove(big, 1024, 1024, options={"model": "slow"},
                      progress=lambda f, stage: started.append(stage),
                      cancelled=lambda: "segment" in started)
    assert err.value.kind == "cancelled"
    assert time.monotonic() - began < 30
    pid = client.engine["pid"]
    assert len(client.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})) == 256
    assert client.engine["pid"] == pid


def test_a_reply_timeout_stops_the_worker_and_the_next_call_restarts_it(engine_models):
    c = Client(python=sys.executable, reply_timeout=0.3)
    try:
        c.hello()
        with pytest.raises(CleancutError) as err:
            c.remove(rgba_bytes(np.zeros((1024, 1024, 3), np.uint8)), 1024, 1024, options={"model": "slow"})
        assert err.value.kind == "timeout"
        c.reply_timeout = 60
        assert len(c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})) == 256
    finally:
        c.close()


# --- the raw protocol: malformed requests get an error and the worker keeps serving ---

@pytest.fixture
def raw(engine_models):
    worker = RawWorker("--stall-timeout", "0.5")
    yield worker
    worker.close()


def test_bad_json_gets_an_error_and_the_worker_keeps_serving(raw):
    raw.send(b"this is not json\n")
    reply = raw.reply()
    assert (reply["ok"], reply["kind"]) == (False, "protocol") and "not JSON" in reply["message"]
    assert raw.hello_works()


def test_an_unknown_op_gets_an_error(raw):
    raw.send(b'{"op": "paint", "id": 1}\n')
    reply = raw.reply()
    assert reply["id"] == 1 and "unknown op 'paint'" in reply["message"]
    assert raw.hello_works()


def test_a_wrong_byte_count_gets_an_error(raw):
    header = {"op": "remove", "id": 2, "width": 16, "height": 16, "channels": "RGBA", "format": "u8",
              "options": {"model": "red"}, "nbytes": 100}
    raw.send(json.dumps(header).encode() + b"\n" + b"\0" * 100)
    reply = raw.reply()
    assert reply["id"] == 2 and reply["kind"] == "protocol" and "needs 1024" in reply["message"]
    assert raw.hello_works()


def test_an_announced_100_mp_frame_with_no_data_gets_an_error(raw):
    header = {"op": "remove", "id": 3, "width": 10000, "height": 10000, "channels": "RGBA",
              "format": "u8", "options": {"model": "red"}, "nbytes": 400_000_000}
    raw.send(json.dumps(header).encode() + b"\n")
    reply = raw.reply()
    assert reply["id"] == 3 and "payload incomplete" in reply["message"]
    assert raw.hello_works()


def test_a_payload_over_every_limit_is_refused_unread(raw):
    raw.send(json.dumps({"op": "remove", "id": 4, "nbytes": 10**13}).encode() + b"\n")
    assert "over the limit" in raw.reply()["message"]
    assert raw.hello_works()


def test_a_header_line_over_the_limit_is_refused(raw):
    raw.send(b"x" * (1 << 20) + b"yyy\n")
    assert "longer than" in raw.reply()["message"]
    assert raw.hello_works()


def test_a_client_dying_mid_transfer_ends_the_worker(engine_models):
    worker = RawWorker()
    header = {"op": "remove", "id": 5, "width": 16, "height": 16, "channels": "RGBA", "format": "u8",
              "nbytes": 1024}
    worker.send(json.dumps(header).encode() + b"\n" + b"\0" * 10)
    worker.proc.stdin.close()
    assert worker.proc.wait(timeout=20) == 0


def test_the_worker_exits_after_its_idle_timeout(engine_models):
    worker = RawWorker("--idle-timeout", "0.5")
    assert worker.hello_works()
    assert worker.proc.wait(timeout=20) == 0


def test_shutdown_ends_the_worker(raw):
    raw.send(b'{"op": "shutdown", "id": 7}\n')
    assert raw.reply()["ok"] is True
    assert raw.proc.wait(timeout=20) == 0


def test_frames_of_one_stream_share_state_and_a_reset_starts_afresh(client):
    first = gradient_image()
    second = first.copy()
    second[..., 0] = np.clip(second[..., 0].astype(int) + 10, 0, 255).astype(np.uint8)
    options = {"model": "red", "refine": "off", "temporal_smoothing": 0.5}

    def alpha(rgb, **stream):
        return np.frombuffer(client.remove(rgba_bytes(rgb), 16, 16, options=options, **stream), np.uint8)

    alpha(first, stream="clip", stream_reset=True)
    smoothed = alpha(second, stream="clip")
    restarted = alpha(second, stream="clip", stream_reset=True)
    np.testing.assert_array_equal(restarted, second[..., 0].ravel())
    assert np.abs(smoothed.astype(int) - first[..., 0].ravel()).mean() < np.abs(restarted.astype(int) - first[..., 0].ravel()).mean()


# --- the shared worker: one warm worker across short-lived plug-in processes (GIMP 3) ---

@pytest.fixture
def runtime(monkeypatch):
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="cc-")  # short: Unix socket paths are limited to ~100 bytes
    monkeypatch.setenv("CLEANCUT_RUNTIME_DIR", folder)
    yield folder
    for name in os.listdir(folder):
        for sock in os.listdir(os.path.join(folder, name)):
            if sock.endswith(".sock"):
                c = Client(python=sys.executable, shared=True)
                try:
                    c.shutdown()
                finally:
                    c.close()
    shutil.rmtree(folder, ignore_errors=True)


def wait_until_gone(pid: int, seconds: float = 20) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not running(pid):
            return True
        time.sleep(0.05)
    return False


def shared_client(**kwargs) -> Client:
    return Client(python=sys.executable, shared=True, **kwargs)


def test_shared_clients_reuse_one_warm_worker(engine_models, runtime):
    first, second = shared_client(), shared_client()
    try:
        first.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})
        pid = first.engine["pid"]
        first.close()
        alpha = second.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})
        assert len(alpha) == 256 and second.engine["pid"] == pid
    finally:
        second.close()


def test_shared_clients_may_be_connected_at_the_same_time(engine_models, runtime):
    first, second = shared_client(), shared_client()
    try:
        assert first.hello()["pid"] == second.hello()["pid"]
        assert len(second.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})) == 256
        assert len(first.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})) == 256
    finally:
        first.close()
        second.close()


def test_a_shared_worker_stays_after_close_and_stops_on_shutdown(engine_models, runtime):
    c = shared_client()
    pid = c.hello()["pid"]
    c.close()
    assert running(pid)
    shared_client().shutdown()
    assert wait_until_gone(pid), "the shared worker did not stop"
    assert not [n for n in os.listdir(os.path.join(runtime, os.listdir(runtime)[0])) if n.endswith(".sock")]


def test_a_shared_socket_that_breaks_before_hello_is_replaced_by_a_fresh_worker(engine_models, runtime):
    # What a worker killed a moment ago looks like: its socket still accepts, then drops the line.
    import socket

    path = cleancut_client.shared_socket_path(sys.executable)
    dying = socket.socket(socket.AF_UNIX)
    dying.bind(path)
    dying.listen(1)

    def accept_once_then_vanish():
        conn, _ = dying.accept()
        conn.close()
        dying.close()
        os.unlink(path)

    thread = threading.Thread(target=accept_once_then_vanish)
    thread.start()
    c = shared_client()
    try:
        assert c.hello()["pid"] != os.getpid()
        thread.join(5)
        assert len(c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})) == 256
    finally:
        c.shutdown()


def test_a_killed_shared_worker_is_one_clear_error_then_replaced(engine_models, runtime):
    c = shared_client()
    try:
        pid = c.hello()["pid"]
        os.kill(pid, 9)
        with pytest.raises(CleancutError) as err:
            c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})
        assert err.value.kind == "crashed"
        assert len(c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "red", "refine": "off"})) == 256
        assert c.engine["pid"] != pid
    finally:
        c.close()


def test_a_shared_worker_exits_after_its_idle_timeout(engine_models, runtime):
    c = shared_client(worker_args=["--idle-timeout", "0.5"])
    pid = c.hello()["pid"]
    c.close()
    assert wait_until_gone(pid), "the idle shared worker did not exit"


def test_other_cleancut_settings_get_their_own_shared_worker(engine_models, runtime, monkeypatch, tmp_path):
    config_a = os.environ["CLEANCUT_CONFIG_DIR"]
    a = shared_client()
    try:
        pid_a = a.hello()["pid"]
        monkeypatch.setenv("CLEANCUT_CONFIG_DIR", str(tmp_path / "other-config"))
        b = shared_client()
        try:
            assert b.hello()["pid"] != pid_a
        finally:
            b.shutdown()
    finally:
        # back to a's settings only (undo() would also drop the runtime folder, and the
        # fixture would then miss a's worker and leave it running)
        monkeypatch.setenv("CLEANCUT_CONFIG_DIR", config_a)
        a.close()


def test_a_runtime_folder_others_can_enter_is_refused(runtime):
    folder = os.path.join(runtime, "cleancut-%d" % os.getuid())
    os.makedirs(folder, exist_ok=True)
    os.chmod(folder, 0o755)
    with pytest.raises(CleancutError) as err:
        shared_client().hello()
    assert err.value.kind == "setup" and "mode 0700" in str(err.value)
    os.chmod(folder, 0o700)


def test_models_lists_presets_like_models_with_their_members_licences(engine_preset):
    c = Client(python=sys.executable, start_timeout=60)
    try:
        pair = {m["id"]: m for m in c.models()}["pair"]
        assert pair["preset"] and pair["models"] == ["red", "gpl"]
        assert pair["licence"] == "MIT + GPL-3.0-only" and pair["class"] == "copyleft"
        assert pair["needs_acceptance"] and pair["cached"]
        c.accept("pair")
        alpha = c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "pair"})
        assert len(alpha) == 256
    finally:
        c.close()


# --- a first run downloads its model: progress with bytes, cancel, the next run ---

DOWNLOAD_SIZE = 1_500_000


@pytest.fixture
def download_model(user_catalog, server):
    """A model 'dl' (the red-channel graph, about 1.5 MB) not yet in the cache, served at 1 MiB/s."""
    from support import catalog_entry, padded_red_model

    data = padded_red_model(DOWNLOAD_SIZE)
    server.throttle(1 << 20)
    user_catalog(catalog_entry("dl", data, f'{{ kind = "url", url = "{server.add("/dl.onnx", "throttled", data)}" }}'))
    return data


def cache_files(model_id: str) -> list[str]:
    """Everything in a model's cache folder, hidden staging files included."""
    folder = os.path.join(os.environ["CLEANCUT_CACHE_DIR"], "models", model_id)
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_a_first_run_reports_its_download_with_growing_bytes_then_the_stages(download_model):
    seen = []
    c = Client(python=sys.executable)
    try:
        alpha = c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "dl", "refine": "off"},
                         progress=lambda fraction, stage, download: seen.append((fraction, stage, download)))
    finally:
        c.close()
    assert np.array_equal(np.frombuffer(alpha, np.uint8).reshape(16, 16), gradient_image()[..., 0])
    downloads = [d for _, stage, d in seen if stage == "download"]
    size = len(download_model)
    assert {(d["model"], d["size"], d["total"]) for d in downloads} == {("dl", size, size)}
    dones = [d["done"] for d in downloads]
    assert len(dones) >= 5 and all(b > a for a, b in zip(dones, dones[1:])) and dones[-1] == size
    assert all(0.0 <= f <= 0.1 for f, stage, _ in seen if stage == "download")
    assert [stage for _, stage, _ in seen if stage != "download"] == ["model", "segment", "refine", "done"]
    assert all(d is None for _, stage, d in seen if stage != "download")


def test_a_two_argument_progress_callback_still_gets_the_download_as_a_stage(download_model):
    seen = []
    c = Client(python=sys.executable)
    try:
        c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "dl", "refine": "off"},
                 progress=lambda fraction, stage: seen.append(stage))
    finally:
        c.close()
    assert seen[0] == "model" and seen.count("download") >= 5 and seen[-1] == "done"


def test_the_download_event_on_the_wire_carries_model_bytes_and_size(download_model):
    worker = RawWorker()
    try:
        header = {"op": "remove", "id": 8, "width": 16, "height": 16, "channels": "RGBA", "format": "u8",
                  "options": {"model": "dl", "refine": "off"}, "nbytes": 1024}
        worker.send(json.dumps(header).encode() + b"\n" + rgba_bytes(gradient_image()))
        reply = worker.reply()
        while reply.get("stage") != "download":
            reply = worker.reply()
        assert set(reply) == {"op", "id", "fraction", "stage", "model", "done", "total", "size"}
        assert (reply["op"], reply["id"], reply["model"], reply["size"]) == ("progress", 8, "dl", len(download_model))
    finally:
        worker.close()


def test_cancel_during_a_download_stops_it_keeps_nothing_and_the_next_run_downloads_afresh(download_model):
    seen, asked = [], {}

    def cancelled():
        if not asked and any(d and d["done"] >= 200_000 for d in seen):
            asked["at"] = time.monotonic()
        return bool(asked)

    c = Client(python=sys.executable)
    try:
        with pytest.raises(CleancutError) as err:
            c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "dl", "refine": "off"},
                     progress=lambda f, stage, download: seen.append(download), cancelled=cancelled)
        latency = time.monotonic() - asked["at"]
        assert err.value.kind == "cancelled" and "download of model 'dl' was cancelled" in str(err.value)
        assert latency < 1.0, latency
        assert cache_files("dl") == []
        pid = c.engine["pid"]
        alpha = c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "dl", "refine": "off"})
        assert np.array_equal(np.frombuffer(alpha, np.uint8).reshape(16, 16), gradient_image()[..., 0])
        assert c.engine["pid"] == pid and cache_files("dl") == ["dl.onnx"]
    finally:
        c.close()


def test_a_client_that_goes_away_mid_download_cancels_it(download_model, server):
    worker = RawWorker()
    header = {"op": "remove", "id": 9, "width": 16, "height": 16, "channels": "RGBA", "format": "u8",
              "options": {"model": "dl"}, "nbytes": 1024}
    worker.send(json.dumps(header).encode() + b"\n" + rgba_bytes(gradient_image()))
    while worker.reply().get("stage") != "download":
        pass
    worker.proc.stdin.close()  # what GIMP's own Cancel does to a plug-in: it ends it
    assert worker.proc.wait(timeout=5) == 0
    worker.close()
    time.sleep(0.3)
    assert cache_files("dl") == [] and server.sent["/dl.onnx"] < DOWNLOAD_SIZE


def test_models_says_what_a_first_run_downloads_until_it_is_cached(download_model):
    c = Client(python=sys.executable)
    try:
        before = c.model("dl")
        size = len(download_model)
        assert (before["cached"], before["download_size"], before["size"]) == (False, size, size)
        assert cleancut_client.first_run_notice(before) == (
            "Test model dl (dl) is not downloaded yet: the first run downloads 1.5 MB (licence MIT) into "
            "the model cache, then runs. Cancel stops the download.")
        c.remove(rgba_bytes(gradient_image()), 16, 16, options={"model": "dl"})
        after = c.model("dl")
        assert (after["cached"], after["download_size"]) == (True, 0)
        assert c.first_run_notice("dl") is None
    finally:
        c.close()


def test_the_default_model_is_the_one_a_run_without_a_model_would_download(engine_models):
    c = Client(python=sys.executable)
    try:
        default = c.model(None)
        assert default["default"] and default["id"] == "u2netp"
        assert c.first_run_notice("") == cleancut_client.first_run_notice(default)
        assert c.model("no-such-model") is None
    finally:
        c.close()
