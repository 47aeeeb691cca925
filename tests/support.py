"""Test support: tiny real ONNX models, user-catalog entries, a loopback HTTP server, test images."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest


REPO = Path(__file__).resolve().parent.parent


def red_channel_model() -> bytes:
    """A real ONNX graph: output = channel 0 of the input, any size. With scale 1/255 it gives R/255."""
    import onnx
    from onnx import TensorProto, helper

    starts = helper.make_tensor("starts", TensorProto.INT64, [1], [0])
    ends = helper.make_tensor("ends", TensorProto.INT64, [1], [1])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    node = helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["prob"])
    graph = helper.make_graph(
        [node], "red",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        initializer=[starts, ends, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def padded_red_model(size: int) -> bytes:
    """The red-channel graph grown to about ``size`` bytes by its doc string: a real model that
    takes a while to download from a throttled server, and runs like red_channel_model()."""
    import onnx

    model = onnx.load_from_string(red_channel_model())
    model.doc_string = "padding " * (size // 8)
    return model.SerializeToString()


def catalog_entry(model_id: str, data: bytes, sources: str, *, licence: str = "MIT",
                  commercial: bool = True, size: int = 16, extra: str = "") -> str:
    """TOML for one user-catalog model running the red-channel graph at size×size."""
    return f"""
[models.{model_id}]
name = "Test model {model_id}"
task = "salient-object"
family = "salient"
file = "{model_id}.onnx"
size = {len(data)}
sha256 = "{hashlib.sha256(data).hexdigest()}"
licence = "{licence}"
commercial_use = {str(commercial).lower()}
training_data = "none: a hand-built graph"
training_data_terms = "not applicable"
input = {{ name = "input", width = {size}, height = {size}, resize = "bilinear", scale = {1 / 255!r}, mean = [0.0, 0.0, 0.0], std = [1.0, 1.0, 1.0] }}
output = {{ index = 0, normalise = "none" }}
sources = [{sources}]
{extra}
"""


class Routes(http.server.BaseHTTPRequestHandler):
    """Loopback server behaviours, chosen per path by the test: see LoopbackServer.add."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        kind, payload, content_type = route
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", payload)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind in ("endless", "overlong", "announced-huge"):
            self._oversized(kind, payload, content_type)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if kind == "ok":
            self.wfile.write(payload)
        elif kind == "slow":  # whole body, in small pieces, so concurrent clients overlap
            for start in range(0, len(payload), 4096):
                self.wfile.write(payload[start:start + 4096])
                self.wfile.flush()
                time.sleep(0.002)
        elif kind == "truncated":
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "stall":
            self.wfile.write(payload[:10])
            self.wfile.flush()
            time.sleep(5)
            self.close_connection = True
        elif kind == "throttled":
            self._throttled(payload)

    def _throttled(self, payload: bytes) -> None:
        """The body at server.rate bytes per second, in 16 KiB pieces, as a slow connection
        delivers it; bytes sent so far are counted in server.sent[path]. A client that hangs
        up (a cancelled download) ends it quietly."""
        piece = 16 << 10
        started = time.monotonic()
        try:
            for start in range(0, len(payload), piece):
                wait = started + start / self.server.rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.wfile.write(payload[start:start + piece])
                self.wfile.flush()
                self.server.sent[self.path] = start + len(payload[start:start + piece])
        except OSError:
            self.close_connection = True


    def _oversized(self, kind: str, payload: bytes, content_type: str) -> None:
        """More than the model: "endless" streams forever with no length, "overlong" states no
        length and sends 300 MiB, "announced-huge" states 300 MiB in Content-Length and sends it.
        Bytes actually sent are counted in server.sent[path]."""
        total = None if kind == "endless" else 300 << 20
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if kind == "announced-huge":
            self.send_header("Content-Length", str(total))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        block = (payload * (65536 // max(1, len(payload)) + 1))[:65536]
        sent = 0
        try:
            while total is None or sent < total:
                self.wfile.write(block)
                sent += len(block)
                self.server.sent[self.path] = sent
        except OSError:  # the client hung up: what a cut-off looks like from here
            pass


class LoopbackServer:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Routes)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.httpd.hits = []
        self.httpd.sent = {}
        self.httpd.rate = 1 << 20  # bytes per second of "throttled" routes
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits

    @property
    def sent(self) -> dict[str, int]:
        return self.httpd.sent

    def throttle(self, bytes_per_second: int) -> None:
        """The speed of every "throttled" route from now on."""
        self.httpd.rate = bytes_per_second

    def add(self, path: str, kind: str, payload=b"", content_type: str = "application/octet-stream") -> str:
        self.httpd.routes[path] = (kind, payload, content_type)
        return self.base + path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def gradient_image(width: int = 16, height: int = 16) -> np.ndarray:
    """RGB uint8 whose red channel is a known ramp (so the red-channel model's alpha is known)."""
    red = np.tile(np.linspace(0, 255, width).round().astype(np.uint8), (height, 1))
    return np.dstack([red, np.full_like(red, 40), np.full_like(red, 200)])


def slow_model(channels: int = 48) -> bytes:
    """A real ONNX graph that takes a second or more at 1024² on 2 cores: two wide 7×7 convolutions."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((channels, 3, 7, 7)) * 0.01).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((1, channels, 7, 7)) * 0.01).astype(np.float32), "w2")
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["h"], pads=[3, 3, 3, 3]),
        helper.make_node("Conv", ["h", "w2"], ["c"], pads=[3, 3, 3, 3]),
        helper.make_node("Sigmoid", ["c"], ["prob"]),
    ]
    graph = helper.make_graph(
        nodes, "slow",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        initializer=[w1, w2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


class RawWorker:
    """A real `cleancut worker` on pipes; replies are parsed as strict JSON (no NaN)."""

    def __init__(self, *args: str):
        self.stderr = tempfile.TemporaryFile()  # a file, not a pipe: a chatty worker never blocks on it
        self.proc = subprocess.Popen([sys.executable, "-m", "cleancut", "worker", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)

    def send(self, raw: bytes) -> None:
        self.proc.stdin.write(raw)
        self.proc.stdin.flush()

    def reply(self, timeout: float = 10) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"no reply within {timeout} s"
        line = self.proc.stdout.readline()
        header = json.loads(line, parse_constant=lambda name: pytest.fail(f"reply holds {name}: {line!r}"))
        if header.get("nbytes"):
            self.proc.stdout.read(header["nbytes"])
        return header

    def hello_works(self) -> bool:
        self.send(b'{"op": "hello", "id": 99}\n')
        return self.reply()["ok"] is True

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.seek(0)
        text = self.stderr.read().decode("utf-8", "replace")
        self.stderr.close()
        return text


def without_permission_override() -> list[str]:
    """A command prefix that takes away root's power to ignore file modes (a no-op for others)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed to drop CAP_DAC_OVERRIDE as root")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", "--bounding-set", caps, "--inh-caps", caps]
