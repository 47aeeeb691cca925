# SPDX-License-Identifier: GPL-3.0-or-later
"""One cleancut client per Blender session, configured from the add-on preferences."""

from __future__ import annotations

from typing import Any

import bpy

from . import cleancut_client
from .cleancut_client import CleancutError  # noqa: F401  (re-exported for the operators)

_state: dict[str, Any] = {"client": None, "python": None, "models": None, "hello": None}


def preferences(context=None):
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


def client(context=None):
    """The session's client; a changed engine path in the preferences starts a new worker."""
    prefs = preferences(context)
    python = (bpy.path.abspath(prefs.engine_python) if prefs and prefs.engine_python else None) or None
    if _state["client"] is not None and _state["python"] != python:
        close()
    if _state["client"] is None:
        _state["client"] = cleancut_client.Client(python=python)
        _state["python"] = python
    return _state["client"]


def close():
    """Stop the session's engine and forget what it said: the next one may be another engine."""
    current, _state["client"] = _state["client"], None
    _state["hello"] = _state["models"] = None
    if current is not None:
        current.close()


def refresh(context=None):
    """Ask the engine who it is and which models it has; cached for the preferences' UI."""
    engine = client(context)
    _state["hello"] = engine.hello()
    _state["models"] = engine.models()
    return _state["hello"], _state["models"]


def cached_models():
    return _state["models"] or []


def cached_hello():
    """The engine's hello (version, refine modes…): from Test Connection or any run so far."""
    current = _state["client"]
    return _state["hello"] or (current.engine if current is not None else None) or {}


def options(context, model=None, smoothing=None):
    """The engine options for a run, from the operator's choices and the preferences: the
    operator's model, else the preferences' default model; the preferences' edge refinement."""
    prefs = preferences(context)
    opts: dict[str, Any] = {"foreground": False}  # the node group keeps the image's own colours
    if prefs is not None and prefs.threads > 0:
        opts["threads"] = prefs.threads
    if getattr(bpy.app, "online_access", True) is False:
        opts["offline"] = True  # Blender 4.2+: the user turned Online Access off
    if smoothing:
        opts["temporal_smoothing"] = float(smoothing)
    chosen = model or (prefs.default_model if prefs is not None else None)
    return cleancut_client.run_options(chosen, prefs.refine if prefs is not None else None, **opts)
