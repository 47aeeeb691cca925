# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine's client module and the options the user chose for every run.

The client, cleancut_client.py, is copied into this package by `cleancut install krita` (or
lies beside it); ``client_module`` is None when it is missing, and the extension then says how
to install the plug-in again. The options dialog writes the choices and every run reads them:
kritarc, group [cleancut].
"""

from krita import Krita

try:
    from . import cleancut_client as client_module
except ImportError:  # installed beside the package instead of inside it
    try:
        import cleancut_client as client_module  # type: ignore[import-not-found, no-redef]
    except ImportError:
        client_module = None  # type: ignore[assignment]  # the extension says what to do

SETTINGS_GROUP = "cleancut"


def read_settings():
    """The remembered options: model and refine (the client's ENGINE_DEFAULT: left to the
    engine), selection_hint (bool). Needs the client."""
    app = Krita.instance()
    default = client_module.ENGINE_DEFAULT
    return {"model": app.readSetting(SETTINGS_GROUP, "model", default),
            "refine": app.readSetting(SETTINGS_GROUP, "refine", default),
            "selection_hint": app.readSetting(SETTINGS_GROUP, "selection_hint", "false") == "true"}


def write_settings(model, refine, selection_hint):
    """Remember the options; a model or refine left to the engine is stored as ENGINE_DEFAULT."""
    app = Krita.instance()
    for key, choice in (("model", model), ("refine", refine)):
        app.writeSetting(SETTINGS_GROUP, key,
                         client_module.ENGINE_DEFAULT if client_module.is_engine_default(choice) else choice)
    app.writeSetting(SETTINGS_GROUP, "selection_hint", "true" if selection_hint else "false")
