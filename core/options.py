"""The one options object shared by the CLI, the worker and the pyblish plugins."""

from __future__ import annotations

from dataclasses import dataclass

REFINE_MODES = ("off",)


@dataclass(frozen=True)
class Options:
    """How to remove a background. Every entry point builds one of these and nothing else.

    ``model`` None means the catalog's default. ``provider`` None picks the fastest
    onnxruntime provider installed (CUDA, DirectML, CoreML, else CPU). ``threads`` None lets
    onnxruntime use every core. ``offline`` None follows CLEANCUT_OFFLINE / the settings file.
    """

    model: str | None = None
    refine: str = "off"
    foreground: bool = True
    provider: str | None = None
    threads: int | None = None
    offline: bool | None = None

    def __post_init__(self) -> None:
        if self.refine not in REFINE_MODES:
            raise ValueError(f"refine must be one of {', '.join(REFINE_MODES)}, not {self.refine!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, not {self.threads}")
