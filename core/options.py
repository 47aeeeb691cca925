"""How to remove a background: every option's rules and defaults, in one place.

Every entry point builds an :class:`Options` and nothing else: the CLI from its flags, the
worker from a request's JSON, the pyblish plugins from instance data, the bench from its flags.
``RULES`` holds what each field takes and ``problem`` is its one validator, so a rule cannot
differ between the command line, the protocol and the plugins: the worker takes its field names
and types from here, argparse its refine choices, the catalog its presets' refine modes.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any, Callable

from .errors import brief

# Edge refinement, from none to the most careful (refine.py says what each does).
REFINE_MODES = ("off", "fast", "best")
DEFAULT_REFINE = "fast"  # when neither the caller nor the preset chooses

# onnxruntime starts every intra-op thread when a session is created, deaf to Ctrl-C while it
# does: a million threads would never finish. The largest machines have a few hundred cores.
MAX_THREADS = 1024
MAX_SMOOTHING = 0.95  # temporal smoothing: beyond this a stream would barely follow its frames


@dataclass(frozen=True)
class Rule:
    """What one option takes: its kind of value (None always means "the default"), what it must
    be in words, and the check of a value of that kind."""

    kind: str  # "text", "flag", "count" or "number"
    nullable: bool
    expects: str
    allowed: Callable[[Any], bool] = lambda value: True


RULES: dict[str, Rule] = {
    "model": Rule("text", True, "a model or preset id"),
    "refine": Rule("text", True, f"one of {', '.join(REFINE_MODES)}", lambda value: value in REFINE_MODES),
    "foreground": Rule("flag", False, "true or false"),
    "provider": Rule("text", True, "a provider name"),
    "threads": Rule("count", True, f"a whole number from 1 to {MAX_THREADS}", lambda value: 1 <= value <= MAX_THREADS),
    "offline": Rule("flag", True, "true or false"),
    "temporal_smoothing": Rule("number", False, f"a number from 0 to {MAX_SMOOTHING}",
                               lambda value: math.isfinite(value) and 0 <= value <= MAX_SMOOTHING),
}


def _of_kind(value: Any, kind: str) -> bool:
    """Whether ``value`` is of ``kind``: a flag is only True or False, and a flag is never a
    number (JSON's true must not become one thread)."""
    if kind == "text":
        return isinstance(value, str)
    if kind == "flag":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, numbers.Integral if kind == "count" else numbers.Real)


def problem(name: str, value: Any) -> str | None:
    """Why ``value`` cannot be option ``name`` ("must be …, not …"; the caller names the option
    its own way), or None if it can."""
    rule = RULES[name]
    if value is None and rule.nullable:
        return None
    if _of_kind(value, rule.kind) and rule.allowed(value):
        return None
    return f"must be {rule.expects}, not {brief(value)}"


@dataclass(frozen=True)
class Options:
    """How to remove a background; invalid values are refused here (ValueError), whoever built it.

    ``model`` None means the catalog's default; it may also name a preset (an ensemble, see
    models/catalog.toml). ``refine``: "off" (plain resize of the model's probability), "fast"
    (guided filter in the edge band), "best" (closed-form matting in the edge band); None means
    the preset's choice, else DEFAULT_REFINE. ``foreground`` also estimates decontaminated
    colours for cut-outs. ``provider`` None picks the fastest onnxruntime provider installed
    (CUDA, DirectML, CoreML, else CPU). ``threads`` None lets onnxruntime use every core.
    ``offline`` None follows CLEANCUT_OFFLINE / the settings file. ``temporal_smoothing``
    (0..0.95) damps flicker between video frames of one stream, for models without their own
    temporal state (RVM carries its recurrent state instead).
    """

    model: str | None = None
    refine: str | None = None
    foreground: bool = True
    provider: str | None = None
    threads: int | None = None
    offline: bool | None = None
    temporal_smoothing: float = 0.0

    def __post_init__(self) -> None:
        for field in fields(self):
            reason = problem(field.name, getattr(self, field.name))
            if reason:
                raise ValueError(f"{field.name} {reason}")

    def refine_for(self, preset_refine: str | None = None) -> str:
        """The refine mode a run uses: the caller's, else the preset's, else DEFAULT_REFINE."""
        return self.refine or preset_refine or DEFAULT_REFINE
