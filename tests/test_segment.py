"""Segmentation: real onnxruntime sessions on tiny graphs the tests build, catalog-driven pre/post-processing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from cleancut import fetch, segment
from cleancut.catalog import load_catalog
from cleancut.errors import ModelError

from support import catalog_entry, gradient_image


@pytest.fixture
def red(user_catalog, red_model, server):
    """The red-channel graph as a cached custom model (fetched from loopback like any other)."""
    url = server.add("/red.onnx", "ok", red_model)
    user_catalog(catalog_entry("red", red_model, f'{{ kind = "url", url = "{url}" }}'))
    entry = load_catalog().get("red")
    return entry, fetch.ensure(entry, progress=False)


def test_predict_applies_the_catalog_normalisation_exactly(red):
    entry, path = red
    rgb = gradient_image()
    prob = segment.predict(rgb, entry, path)
    assert prob.dtype == np.float32 and prob.shape == (16, 16)
    np.testing.assert_allclose(prob, rgb[..., 0] / 255.0, atol=1e-6)


def test_predict_resizes_to_the_model_input_size(red):
    entry, path = red
    prob = segment.predict(gradient_image(64, 32), entry, path)
    assert prob.shape == (16, 16)
    assert prob[:, 0].max() < 0.05 and prob[:, -1].min() > 0.95


def test_scale_max_divides_by_the_image_maximum(user_catalog, red_model, server):
    url = server.add("/red.onnx", "ok", red_model)
    text = catalog_entry("red", red_model, f'{{ kind = "url", url = "{url}" }}')
    user_catalog(text.replace(f"scale = {1 / 255!r}", 'scale = "max"').replace("std = [1.0, 1.0, 1.0]", "std = [0.5, 0.5, 0.5]"))
    entry = load_catalog().get("red")
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 50
    rgb[0, 0, 2] = 200  # the maximum over all channels
    prob = segment.predict(rgb, entry, fetch.ensure(entry, progress=False))
    np.testing.assert_allclose(prob, np.full((16, 16), 0.5), atol=1e-6)  # (50/200) / 0.5


def test_minmax_normalisation_stretches_to_the_full_range(user_catalog, red_model, server):
    url = server.add("/red.onnx", "ok", red_model)
    user_catalog(catalog_entry("red", red_model, f'{{ kind = "url", url = "{url}" }}')
                 .replace('normalise = "none"', 'normalise = "minmax"'))
    entry = load_catalog().get("red")
    rgb = gradient_image()
    rgb[..., 0] = np.clip(rgb[..., 0], 51, 102)
    prob = segment.predict(rgb, entry, fetch.ensure(entry, progress=False))
    assert prob.min() == 0.0 and prob.max() == 1.0


def test_sessions_are_cached_per_model_provider_and_threads(red):
    entry, path = red
    first = segment.get_session(entry, path, "cpu", 1)
    assert segment.get_session(entry, path, "cpu", 1) is first
    assert segment.get_session(entry, path, "cpu", 2) is not first


def test_thread_count_reaches_onnxruntime(red):
    entry, path = red
    session = segment.get_session(entry, path, "cpu", 1)
    assert session.get_session_options().intra_op_num_threads == 1


def test_sessions_keep_no_memory_pattern(red):
    entry, path = red
    assert segment.get_session(entry, path, "cpu", 1).get_session_options().enable_mem_pattern is False


def test_sessions_made_while_spinning_is_off_are_other_sessions(red):
    entry, path = red
    spinning = segment.get_session(entry, path, "cpu", 1)
    segment.set_spinning(False)
    try:
        assert segment.get_session(entry, path, "cpu", 1) is not spinning
    finally:
        segment.set_spinning(True)
    assert segment.get_session(entry, path, "cpu", 1) is spinning


def test_threads_sharing_a_session_run_it_one_call_at_a_time(red):
    entry, path = red
    session = segment.get_session(entry, path, "cpu", 1)
    running, overlaps, lock = [0], [], threading.Lock()
    real_run = session.run

    def run(*args):
        with lock:
            running[0] += 1
            overlaps.append(running[0])
        time.sleep(0.05)
        try:
            return real_run(*args)
        finally:
            with lock:
                running[0] -= 1

    session.run = run
    try:
        threads = [threading.Thread(target=segment.predict, args=(gradient_image(32, 24), entry, path, "cpu", 1))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        del session.run
    assert overlaps == [1, 1, 1, 1]


def test_auto_provider_falls_back_to_cpu_here():
    providers = segment.choose_providers(None)
    assert providers[-1] == "CPUExecutionProvider"
    assert set(providers) <= set(segment.available_providers())


def test_unavailable_provider_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(segment, "available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ModelError, match="provider 'cuda' is not available here .*onnxruntime-gpu.*available: cpu"):
        segment.choose_providers("cuda")


def test_a_requested_gpu_provider_keeps_cpu_as_fallback(monkeypatch):
    monkeypatch.setattr(segment, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert segment.choose_providers("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert segment.choose_providers(None) == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_a_file_onnxruntime_cannot_load_is_a_model_error(user_catalog, server, tmp_path):
    junk = b"this is not an onnx model"
    url = server.add("/junk.onnx", "ok", junk)
    user_catalog(catalog_entry("junk", junk, f'{{ kind = "url", url = "{url}" }}'))
    entry = load_catalog().get("junk")
    with pytest.raises(ModelError, match="model 'junk' could not be loaded by onnxruntime"):
        segment.predict(gradient_image(), entry, fetch.ensure(entry, progress=False))
