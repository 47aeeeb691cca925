"""Run a model: onnxruntime sessions, each family's pre- and post-processing from the catalog.

Sessions are cached per (model file, providers, threads) so a warm worker answers quickly.
``predict`` returns the foreground probability at the model's own resolution; turning it
into a full-resolution alpha is the job of refine.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from .catalog import ModelEntry
from .errors import ModelError

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
}
_AUTO_ORDER = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider",
               "CPUExecutionProvider")
_RESAMPLE = {"lanczos": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC}

_sessions: dict[tuple, object] = {}
_lock = threading.Lock()
# One run at a time per session. A batch's threads share one session (batch.py); run one at a
# time, its arena holds one run's tensors (u2netp, two threads: peak 609 MiB instead of 892),
# and while one thread runs the model the others refine, estimate colours and encode.
_run_locks: dict[int, threading.Lock] = {}
# Whether onnxruntime's idle threads spin waiting for work (sessions made from now on). Spinning
# makes one run a little faster (u2netp, 2 threads: 0.35 s against 0.40) but burns the cores
# other threads of a batch want: a batch's worker process turns it off (see batch.py).
_spinning = {"on": True}


def set_spinning(on: bool) -> None:
    """Let onnxruntime's threads spin while they wait (the default) or sleep, for sessions made from now on."""
    with _lock:
        _spinning["on"] = on


# onnxruntime is imported where a session, a provider list or run options are first needed, not
# at the top: it takes 0.2–0.4 s, which `cleancut models list`, install, doctor and --help need
# not pay. This module is the only one that imports it (doctor checks that it imports at all).

def available_providers() -> list[str]:
    import onnxruntime as ort  # noqa: PLC0415 - see above

    return list(ort.get_available_providers())


def run_options() -> object:
    """Fresh onnxruntime RunOptions: setting ``terminate`` on them stops a run in progress."""
    import onnxruntime as ort  # noqa: PLC0415 - see above

    return ort.RunOptions()


def choose_providers(requested: str | None) -> list[str]:
    """Provider list for onnxruntime: the requested one (+ CPU fallback) or the best installed."""
    available = available_providers()
    if requested is None or requested == "auto":
        return [p for p in _AUTO_ORDER if p in available] or ["CPUExecutionProvider"]
    name = PROVIDERS.get(requested.lower(), requested)
    if name not in available:
        names = ", ".join(k for k, v in PROVIDERS.items() if v in available)
        hint = " (install onnxruntime-gpu for CUDA)" if name == "CUDAExecutionProvider" else ""
        raise ModelError(f"onnxruntime provider '{requested}' is not available here{hint}; available: {names}")
    return [name] if name == "CPUExecutionProvider" else [name, "CPUExecutionProvider"]


def get_session(entry: ModelEntry, path: Path, provider: str | None = None, threads: int | None = None):
    """A cached onnxruntime session for this model file, provider choice and thread count."""
    import onnxruntime as ort  # noqa: PLC0415 - see available_providers

    providers = choose_providers(provider)
    key = (str(path), entry.sha256, tuple(providers), threads, _spinning["on"])
    with _lock:
        session = _sessions.get(key)
        if session is None:
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            opts.inter_op_num_threads = 1
            # No memory pattern: onnxruntime then keeps one arena instead of an arena and a
            # planned block for every tensor; u2netp at 320² peaks at 350 MiB instead of 544 and
            # runs a little faster (0.83 s against 0.89, one thread), same outputs bit for bit.
            opts.enable_mem_pattern = False
            if not _spinning["on"]:
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                # Work split into small blocks handed out as threads come free: a thread the
                # batch's other files delay no longer holds up each operator (whole batch of 30
                # varied photos, 2 cores: 29.1–31.6 s against 30.4–32.7 s, alternated).
                opts.add_session_config_entry("session.dynamic_block_base", "4")
            if threads:
                opts.intra_op_num_threads = threads
            try:
                session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
            except Exception as err:  # onnxruntime raises its own untyped errors
                raise ModelError(f"model '{entry.id}' could not be loaded by onnxruntime: {err}") from None
            _sessions[key] = session
    return session


def _run(session, feed: dict, run_options) -> list:
    """``session.run``, one at a time per session (see _run_locks)."""
    with _run_locks.setdefault(id(session), threading.Lock()):  # made by the session's first run
        return session.run(None, feed, run_options)


def clear_sessions() -> None:
    """Drop every cached session (frees their memory)."""
    with _lock:
        _sessions.clear()
        _run_locks.clear()


def input_size(shape: tuple[int, ...], spec: dict) -> tuple[int, int]:
    """(width, height) of the model's input: fixed (``width``/``height``), or for a model with
    dynamic input (``short_side``, ``multiple``) the image scaled so its short side is about
    ``short_side``, keeping its aspect ratio, each side rounded down to a multiple of ``multiple``."""
    if "short_side" not in spec:
        return int(spec["width"]), int(spec["height"])
    height, width = shape[:2]
    multiple = int(spec.get("multiple", 32))
    factor = float(spec["short_side"]) / max(1, min(height, width))
    return (max(multiple, int(width * factor) // multiple * multiple),
            max(multiple, int(height * factor) // multiple * multiple))


def _salient_input(rgb: np.ndarray, spec: dict) -> np.ndarray:
    width, height = input_size(rgb.shape, spec)
    resample = _RESAMPLE[spec.get("resize", "bilinear")]
    small = np.asarray(Image.fromarray(rgb).resize((width, height), resample), dtype=np.float32)
    scale = spec.get("scale", "max")
    if scale == "max":
        small /= max(float(small.max()), 1e-6)
    else:
        small *= float(scale)
    mean = np.asarray(spec.get("mean", [0.0, 0.0, 0.0]), dtype=np.float32)
    std = np.asarray(spec.get("std", [1.0, 1.0, 1.0]), dtype=np.float32)
    tensor = (small - mean) / std
    return np.ascontiguousarray(tensor.transpose(2, 0, 1)[None], dtype=np.float32)


def _pick_output(session, outputs: list[np.ndarray], spec: dict) -> np.ndarray:
    if "name" in spec:
        names = [o.name for o in session.get_outputs()]
        return outputs[names.index(spec["name"])]
    return outputs[int(spec.get("index", 0))]


def _normalise(prob: np.ndarray, how: str) -> np.ndarray:
    prob = prob.astype(np.float32)
    if how == "minmax":
        low, high = float(prob.min()), float(prob.max())
        if high - low > 1e-6:
            return (prob - low) / (high - low)
    return np.clip(prob, 0.0, 1.0)


def _predict_salient(session, rgb: np.ndarray, entry: ModelEntry, run_options) -> np.ndarray:
    spec = entry.input
    feed = {spec.get("name", session.get_inputs()[0].name): _salient_input(rgb, spec)}
    raw = _pick_output(session, _run(session, feed, run_options), entry.output)
    return _normalise(np.squeeze(raw), entry.output.get("normalise", "minmax"))


def _predict_rvm(session, rgb: np.ndarray, entry: ModelEntry, run_options, state=None) -> np.ndarray:
    """Robust Video Matting on one frame; ``state`` (temporal.StreamState) carries r1..r4 across frames."""
    spec = entry.input
    height, width = rgb.shape[:2]
    long_side = max(height, width)
    work = min(1.0, float(spec.get("long_side", 1024)) / long_side)
    if work < 1.0:
        size = (max(1, round(width * work)), max(1, round(height * work)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    ratio = min(1.0, float(spec.get("downsample_long_side", 384)) / max(rgb.shape[:2]))
    src = np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    zero = np.zeros((1, 1, 1, 1), dtype=np.float32)
    recurrent = [zero] * 4
    if state is not None and state.recurrent is not None and state.recurrent_shape == rgb.shape[:2]:
        recurrent = state.recurrent
    feed = {"src": src, "downsample_ratio": np.asarray([ratio], dtype=np.float32)}
    feed.update({f"r{i + 1}i": r for i, r in enumerate(recurrent)})
    names = [o.name for o in session.get_outputs()]
    outputs = _run(session, feed, run_options)
    if state is not None:
        state.recurrent = [outputs[names.index(f"r{i + 1}o")] for i in range(4)]
        state.recurrent_shape = rgb.shape[:2]
    raw = _pick_output(session, outputs, entry.output)
    return _normalise(np.squeeze(raw), entry.output.get("normalise", "none"))


def predict(rgb: np.ndarray, entry: ModelEntry, path: Path, provider: str | None = None,
            threads: int | None = None, run_options=None, state=None, flip: bool = False) -> np.ndarray:
    """Foreground probability (float32, 0..1) at the model's working resolution.

    ``run_options`` (onnxruntime.RunOptions) lets another thread stop the run midway;
    ``state`` (temporal.StreamState) carries a recurrent model's state between video frames.
    ``flip`` also runs a salient model on the mirrored image and averages the two answers
    (test-time augmentation: it steadies IS-Net's outline, see docs/benchmarks/2026-12-01-quality-presets-prompts.md).
    """
    if flip:
        if entry.family == "rvm":
            raise ModelError(f"model '{entry.id}': flipping is for single images, not a recurrent video model")
        plain = predict(rgb, entry, path, provider, threads, run_options)
        mirrored = predict(np.ascontiguousarray(rgb[:, ::-1]), entry, path, provider, threads, run_options)
        return 0.5 * (plain + mirrored[:, ::-1])
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"predict wants H×W×3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    session = get_session(entry, path, provider, threads)
    try:
        if entry.family == "rvm":
            return _predict_rvm(session, rgb, entry, run_options, state)
        return _predict_salient(session, rgb, entry, run_options)
    except (KeyError, ValueError, IndexError) as err:
        raise ModelError(f"model '{entry.id}': its catalog input/output spec does not fit the file ({err})") from None
    except Exception as err:  # onnxruntime's own error types (including a terminated run)
        raise ModelError(f"model '{entry.id}' failed while running: {str(err).strip()[:300]}") from None
