"""The one options object shared by the CLI, the worker and the pyblish plugins."""

from __future__ import annotations

from dataclasses import dataclass

# Edge refinement, from none to the most careful (refine.py says what each does).
REFINE_MODES = ("off", "fast", "best")

DEFAULT_REFINE = "fast"

# onnxruntime starts every intra-op thread when a session is created, deaf to Ctrl-C while it
# does: a million threads would never finish. The largest machines have a few hundred cores.
MAX_THREADS = 1024


@dataclass(frozen=True)
class Options:
    """How to remove a background. Every entry point builds one of these and nothing else.

    ``model`` None means the catalog's default; it may also name a preset (an ensemble, see
    models/catalog.toml). ``refine``: "off" (plain resize of the model's probability), "fast"
    (guided filter in the edge band), "best" (closed-form matting in the edge band); None means
    the preset's choice, else DEFAULT_REFINE. ``foreground`` also estimates decontaminated colours for cut-outs. ``provider`` None picks the fastest
    onnxruntime provider installed (CUDA, DirectML, CoreML, else CPU). ``threads`` None lets
    onnxruntime use every core. ``offline`` None follows CLEANCUT_OFFLINE / the settings file.
    ``temporal_smoothing`` (0..0.95) damps flicker between video frames of one stream, for
    models without their own temporal state (RVM carries its recurrent state instead).
    """

    model: str | None = None
    refine: str | None = None
    foreground: bool = True
    provider: str | None = None
    threads: int | None = None
    offline: bool | None = None
    temporal_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if self.refine is not None and self.refine not in REFINE_MODES:
            raise ValueError(f"refine must be one of {', '.join(REFINE_MODES)}, not {self.refine!r}")
        if not 0.0 <= self.temporal_smoothing <= 0.95:
            raise ValueError(f"temporal_smoothing must be between 0 and 0.95, not {self.temporal_smoothing}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise ValueError(f"threads must be between 1 and {MAX_THREADS}, not {self.threads}")
