# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences: the engine, the default model and options, licence acceptance."""

from typing import Any

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty

from . import cleancut_client, engine
from .cleancut_client import CleancutError

_refine_items_keep: list[tuple[str, str, str, int]] = []  # Blender needs dynamic enum items kept alive on the Python side

# Blender stores an enum preference as its item's number and reads it back through the items of
# the moment, so each mode keeps one number whatever the engine has said: these (the numbers
# stored since the list was first offered), then the next free ones for modes an engine adds.
# Before the engine's hello these modes are all offered: a stored "best" must read "best" in a
# new session before the engine has started, not fall back to the engine's default.
_REFINE_NUMBERS = {cleancut_client.ENGINE_DEFAULT_ENUM: 0, "off": 1, "fast": 2, "best": 3}


def _refine_items(self, context):
    hello = engine.cached_hello()
    known = [mode for mode in _REFINE_NUMBERS if mode != cleancut_client.ENGINE_DEFAULT_ENUM]
    modes = cleancut_client.refine_choices(hello) if hello else known
    newer = [mode for mode in modes if mode not in _REFINE_NUMBERS]
    numbers = dict(_REFINE_NUMBERS, **{mode: len(_REFINE_NUMBERS) + at for at, mode in enumerate(newer)})
    del _refine_items_keep[:]
    _refine_items_keep.append((cleancut_client.ENGINE_DEFAULT_ENUM, "Engine Default",
                               "The engine's default edge refinement", 0))
    _refine_items_keep.extend((mode, mode.capitalize(), "Edge refinement: %s" % mode, numbers[mode])
                              for mode in modes)
    return _refine_items_keep


class CLEANCUT_OT_test_connection(bpy.types.Operator):
    """Start the cleancut engine with the configured interpreter and list its models"""

    bl_idname = "cleancut.test_connection"
    bl_label = "Test Connection"

    def execute(self, context):
        try:
            engine.close()
            hello, models = engine.refresh(context)
        except CleancutError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"INFO"}, "cleancut engine %s (Python %s) is ready with %d models."
                    % (hello.get("engine"), hello.get("python"), len(models)))
        return {"FINISHED"}


class CLEANCUT_OT_accept_licence(bpy.types.Operator):
    """Record your acceptance of this model's licence (copyleft or non-commercial weights)"""

    bl_idname = "cleancut.accept_licence"
    bl_label = "Accept Licence"

    model: StringProperty(name="Model")

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self, width=480)

    def draw(self, context):
        entry: dict[str, Any] = next((m for m in engine.cached_models() if m["id"] == self.model), {})
        layout = self.layout
        if layout is None:  # the stubs allow None: an operator has a layout while Blender draws it
            return
        layout.label(text="%s is licensed under %s (%s)." % (entry.get("name", self.model),
                                                           entry.get("licence", "?"), entry.get("class", "?")))
        if entry.get("training_data_terms"):
            _wrapped(layout, "Training data: " + entry["training_data_terms"])
        layout.label(text="Click OK to accept these terms for this model.")

    def execute(self, context):
        try:
            engine.client(context).accept(self.model)
            engine.refresh(context)
        except CleancutError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        self.report({"INFO"}, "Licence of %s accepted." % self.model)
        return {"FINISHED"}


class CLEANCUT_OT_use_model(bpy.types.Operator):
    """Make this model the default of Remove Background"""

    bl_idname = "cleancut.use_model"
    bl_label = "Use as Default"

    model: StringProperty(name="Model")

    def execute(self, context):
        engine.preferences(context).default_model = self.model
        return {"FINISHED"}


def _wrapped(layout, text, width=90):
    line = ""
    for word in text.split():
        if len(line) + len(word) + 1 > width:
            layout.label(text=line)
            line = word
        else:
            line = (line + " " + word).strip()
    if line:
        layout.label(text=line)


class CleancutPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    engine_python: StringProperty(
        name="Engine Python", subtype="FILE_PATH",
        description="The Python interpreter that has cleancut installed (empty: CLEANCUT_ENGINE_PYTHON "
                    "or the path `cleancut install blender` recorded)")
    default_model: StringProperty(name="Default Model", default=cleancut_client.ENGINE_DEFAULT,
                                  description="Model id used by Remove Background (empty: the engine's default)")
    refine: EnumProperty(name="Edge Refinement", items=_refine_items,
                         description="How the engine refines the matte's edges")
    threads: IntProperty(name="Threads", min=0, max=256, default=0,
                         description="CPU threads for the engine (0: all cores)")
    temporal_smoothing: FloatProperty(
        name="Video Smoothing", min=0.0, max=0.9, default=0.0,
        description="Default temporal smoothing for sequences and movies with models other than rvm")
    matte_folder: StringProperty(name="Matte Folder", subtype="DIR_PATH", default="//cleancut_mattes",
                                 description="Where mattes saved as files go (// = beside the .blend)")

    def draw(self, context):
        layout = self.layout
        row = layout.row()
        row.prop(self, "engine_python")
        row.operator(CLEANCUT_OT_test_connection.bl_idname, icon="PLUGIN")
        layout.prop(self, "default_model")
        layout.prop(self, "refine")
        layout.prop(self, "threads")
        layout.prop(self, "temporal_smoothing")
        layout.prop(self, "matte_folder")
        models = engine.cached_models()
        if not models:
            layout.label(text="Test the connection to list the engine's models and their licences.", icon="INFO")
            return
        box = layout.box()
        for entry in models:
            row = box.row()
            chosen = entry["id"] == (self.default_model or next((m["id"] for m in models if m.get("default")), ""))
            row.label(text="%s  (%s)" % (entry["name"], entry["id"]), icon="CHECKMARK" if chosen else "BLANK1")
            missing = entry.get("download_size", 0 if entry.get("cached") else entry.get("size", 0))
            state = ", not downloaded: the first run downloads %s" % cleancut_client.megabytes(missing) \
                if missing else ""
            row.label(text="%s, %s%s" % (entry["licence"], entry["class"], state))
            if entry.get("needs_acceptance"):
                op = row.operator(CLEANCUT_OT_accept_licence.bl_idname, text="Accept %s" % entry["licence"])
            else:
                op = row.operator(CLEANCUT_OT_use_model.bl_idname)
            if op is not None:  # 5.3's API: a layout may give no properties to fill in
                op.model = entry["id"]


classes = (CLEANCUT_OT_test_connection, CLEANCUT_OT_accept_licence, CLEANCUT_OT_use_model, CleancutPreferences)
