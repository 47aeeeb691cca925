"""Runs inside the real Blender GUI (under Xvfb, --enable-event-simulate): the modal operator.

    DISPLAY=:N blender --factory-startup --enable-event-simulate --python drive_gui.py -- PARAMS.json RESULT.json

0. A still is cut out from the Compositor, its Image node active (the Add-menu route): modal
   too, like every run in the UI.
1. Remove Background is invoked on image sequence B from the Image Editor; once its first matte
   is written, Esc is pressed (a simulated key event, through Blender's event loop); the run
   must stop and leave nothing behind, not even the Matte Folder it created.
2. It is invoked on sequence A and runs to the end.
3. (Blender 5.0+) It is invoked from the Video Sequencer on an image strip of A's files: the
   modal run computes its mattes and adds the strip's Compositor modifier.
4. It is invoked from the Image Editor showing the still of 0 with the annotation of the drawn
   dots: the modal run uses them as include and exclude points; its matte's levels are written
   to OUT/points-matte.u8 (rows top-down).
Before 0, include and exclude dots are drawn with the Annotate tool's operator (the mouse at
the region positions of PARAMS["points"], the image at zoom 1) into the layers include and
exclude of an Image Editor showing a PARAMS["width"]×PARAMS["height"] image, and the add-on's
reading of them (clicks.in_pixels) is recorded; the annotation is then taken off the editor.
Facts go to RESULT.json; Blender quits at the end (or after a deadline, with an error noted).

PARAMS "flow": "first-run" plays a model's first run instead: Remove Background on a still
with PARAMS["model"] (not downloaded yet); the add-on's status line is sampled every tick and,
once the download has shown PARAMS["cancel_after"] distinct texts, Esc is pressed; the scene,
the files and the model's cache folder are recorded before and after.
"""

import json
import os
import shutil
import sys
import time
import traceback

import addon_utils
import bpy

argv = sys.argv[sys.argv.index("--") + 1:]
PARAMS, RESULT = json.load(open(argv[0])), argv[1]
MODULE = os.environ["CLEANCUT_TEST_MODULE"]
OUT = PARAMS["out"]
DEADLINE = time.time() + PARAMS.get("deadline", 100)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drive_common as common  # noqa: E402

result = {"blender": list(bpy.app.version), "steps": []}
state = {"step": "start"}


def last_run():
    return sys.modules[MODULE].operators.last_run


def window_context(editor="IMAGE_EDITOR"):
    """The biggest area of the window, turned into ``editor`` (IMAGE_EDITOR, or the Compositor)."""
    window = bpy.context.window_manager.windows[0]
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    if editor == "COMPOSITOR":
        area.type = "NODE_EDITOR"
        area.ui_type = "CompositorNodeTree"
    else:
        area.type = editor
    region = next(r for r in area.regions if r.type == "WINDOW")
    return window, {"window": window, "screen": window.screen, "area": area, "region": region}


def invoke(image, **options):
    """Like Image > Remove Background in an Image Editor showing ``image``."""
    window, override = window_context()
    override["area"].spaces.active.image = image
    with bpy.context.temp_override(**override):
        return sorted(bpy.ops.cleancut.remove_background("INVOKE_DEFAULT", **options))


def invoke_in_compositor(node):
    """Like Add > Remove Background in the Compositor with ``node`` active."""
    common.addon_compat().compositor(bpy.context.scene).nodes.active = node
    window, override = window_context("COMPOSITOR")
    with bpy.context.temp_override(**override):
        return sorted(bpy.ops.cleancut.remove_background("INVOKE_DEFAULT"))


def invoke_in_sequencer(folder):
    """Like Strip > Remove Background in the Video Sequencer (Blender 5.0+), on an image strip of
    the files in ``folder``, shown from scene frame 1."""
    scene = bpy.context.scene
    bpy.context.workspace.sequencer_scene = scene  # what the Video Editing workspace shows
    names = sorted(os.listdir(folder))
    strip = scene.sequence_editor_create().strips.new_image("stripA", os.path.join(folder, names[0]), 1, 1)
    for name in names[1:]:
        strip.elements.append(name)
    scene.sequence_editor.active_strip = strip
    window, override = window_context("SEQUENCE_EDITOR")
    with bpy.context.temp_override(**override):
        return sorted(bpy.ops.cleancut.remove_background("INVOKE_DEFAULT"))


def annotation_space():
    """An Image Editor showing a new image of the run's size, with new annotation data whose
    layers are include and exclude; (override, space, data)."""
    window, override = window_context()
    space = override["area"].spaces.active
    space.image = bpy.data.images.new("points", PARAMS["width"], PARAMS["height"])
    data = (bpy.data.annotations if hasattr(bpy.data, "annotations") else bpy.data.grease_pencils).new("Points")
    for name in ("include", "exclude"):
        data.layers.new(name)
    setattr(space, "annotation" if hasattr(space, "annotation") else "grease_pencil", data)
    with bpy.context.temp_override(**override):
        bpy.ops.image.view_zoom_ratio(ratio=1.0)
    return override, space, data


def draw_points(override, space, data):
    """A dot with the Annotate operator at each of PARAMS["points"] (kind, x, y: pixels from the
    top-left corner) into the layer of that kind; what the add-on reads from them."""
    region, (width, height) = override["region"], space.image.size
    result["drawn"] = []
    for kind, x, y in PARAMS["points"]:
        if hasattr(data.layers, "active_index"):  # 5.x annotation layers have no `active`
            data.layers.active_index = [layer.info for layer in data.layers].index(kind)
        else:
            data.layers.active = data.layers[kind]
        mouse = region.view2d.view_to_region(x / width, 1.0 - y / height, clip=False)
        result["drawn"].append([kind, list(mouse)])
        point = {"name": "", "mouse": mouse, "mouse_event": mouse, "pressure": 1.0, "size": 0.0, "pen_flip": False,
                 "time": 0.0, "is_start": True, "location": (0.0, 0.0, 0.0), "x_tilt": 0.0, "y_tilt": 0.0}
        if "pen_flip" not in bpy.types.OperatorStrokeElement.bl_rna.properties:
            del point["pen_flip"]  # 5.x strokes have no pen flip
        with bpy.context.temp_override(**override):
            result["drawn"][-1].append(sorted(bpy.ops.gpencil.annotate(mode="DRAW", stroke=[point],
                                                                       wait_for_input=False)))
    clicks = sys.modules[MODULE].clicks
    result["read_points"] = clicks.in_pixels(data, bpy.context.scene.frame_current, "points", width, height)
    setattr(space, "annotation" if hasattr(space, "annotation") else "grease_pencil", None)


def invoke_with_points():
    """Like Image > Remove Background in the Image Editor showing the still, with the annotation
    of the drawn dots."""
    window, override = window_context()
    space = override["area"].spaces.active
    space.image = state["still"]
    setattr(space, "annotation" if hasattr(space, "annotation") else "grease_pencil", state["annotation"][2])
    with bpy.context.temp_override(**override):
        return sorted(bpy.ops.cleancut.remove_background("INVOKE_DEFAULT"))


def load_sequence(folder, files):
    os.makedirs(folder)
    for index, path in enumerate(files):
        shutil.copy(path, os.path.join(folder, "frame_%04d.png" % (index + 1)))
    image = bpy.data.images.load(os.path.join(folder, "frame_0001.png"))
    image.source = "SEQUENCE"
    image.name = os.path.basename(folder)
    return image


def finish():
    with open(RESULT, "w") as handle:
        json.dump(result, handle, indent=1, default=repr)
    window, override = window_context()
    with bpy.context.temp_override(**override):
        bpy.ops.wm.quit_blender()


def first_run_step():
    """The "first-run" flow (see the module's docstring), one step per timer tick."""
    name = state["step"]
    if name == "start":
        addon_utils.enable(MODULE, default_set=True, handle_error=None)
        image = bpy.data.images.load(PARAMS["still"])
        result["state_before"] = common.snapshot()
        result["files_before"] = common.files_under(OUT)
        result["samples"] = []
        result["invoke"] = invoke(image, model=PARAMS["model"])
        state["step"] = "downloading"
    elif name == "downloading":
        run = last_run()
        if run["status"] != "running":
            result["error"] = "the run ended before it could be cancelled: %r" % (run,)
            finish()
            return None
        result["samples"].append([time.time(), run["progress"], run["notice"]])
        texts = {s[1][1] for s in result["samples"] if s[1] and "Downloading " in s[1][1]}
        if len(texts) >= PARAMS["cancel_after"]:
            state["esc_at"] = time.time()
            bpy.context.window_manager.windows[0].event_simulate(type="ESC", value="PRESS")
            state["step"] = "cancelling"
    elif name == "cancelling":
        if last_run()["status"] == "running":
            return 0.01
        result["esc_to_end_s"] = time.time() - state["esc_at"]
        result["run"] = dict(last_run())
        result["state_after"] = common.snapshot()
        result["files_after"] = common.files_under(OUT)
        folder = os.path.join(os.environ["CLEANCUT_CACHE_DIR"], "models", PARAMS["model"])
        result["cache"] = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        finish()
        return None
    return 0.05


def tick():
    try:
        if PARAMS.get("flow") == "first-run":
            return first_run_step()
        return step()
    except BaseException:
        result["traceback"] = traceback.format_exc()
        finish()
        return None


def step():
    if time.time() > DEADLINE:
        result["error"] = "deadline passed in step %s; last_run=%r" % (state["step"], last_run())
        finish()
        return None
    name = state["step"]
    if name == "start":
        addon_utils.enable(MODULE, default_set=True, handle_error=None)
        state["annotation"] = annotation_space()  # drawn once the editor has shown the image
        state["step"] = "draw_points"
    elif name == "draw_points":
        override, space, _ = state["annotation"]
        view2d = override["region"].view2d
        corner, far = view2d.view_to_region(0.0, 0.0, clip=False), view2d.view_to_region(1.0, 1.0, clip=False)
        if (far[0] - corner[0], far[1] - corner[1]) != tuple(space.image.size):
            return 0.05  # not drawn at zoom 1 yet
        draw_points(*state["annotation"])
        state["step"] = "begin"
    elif name == "begin":
        common.setup_scene(PARAMS["width"], PARAMS["height"], 1, len(PARAMS["files_b"]))
        state["a"] = load_sequence(os.path.join(OUT, "seqA"), PARAMS["files_a"])
        state["b"] = load_sequence(os.path.join(OUT, "seqB"), PARAMS["files_b"])
        bpy.ops.wm.save_as_mainfile(filepath=os.path.join(OUT, "scene.blend"))
        still = state["still"] = bpy.data.images.load(PARAMS["still"])
        node = common.addon_compat().compositor(bpy.context.scene).nodes.new("CompositorNodeImage")
        node.image = still
        node.name = "Still"
        result["invoke_still"] = invoke_in_compositor(node)
        state["step"] = "wait_still"
    elif name == "wait_still":
        if last_run()["status"] == "running":
            return 0.05
        result["run_still"] = dict(last_run())
        result["state_still"] = common.snapshot()
        result["state_before_b"] = common.snapshot()
        result["files_before_b"] = common.files_under(OUT)
        result["invoke_b"] = invoke(state["b"])
        state["step"] = "wait_first_frame"
    elif name == "wait_first_frame":
        if last_run()["status"] == "running" and not last_run()["frames"]:
            return 0.01
        result["frames_before_esc"] = list(last_run()["frames"])
        bpy.context.window_manager.windows[0].event_simulate(type="ESC", value="PRESS")
        state["step"] = "wait_cancel"
    elif name == "wait_cancel":
        if last_run()["status"] == "running":
            return 0.05
        result["run_b"] = dict(last_run())
        result["state_b"] = common.snapshot()
        result["files_b"] = common.files_under(OUT)
        result["invoke_a"] = invoke(state["a"])
        state["step"] = "wait_a"
    elif name == "wait_a":
        if last_run()["status"] == "running":
            return 0.05
        result["run_a"] = dict(last_run())
        result["state_a"] = common.snapshot()
        result["files_a"] = common.files_under(OUT)
        if not common.addon_compat().STRIP_COMPOSITOR:
            result["invoke_points"] = invoke_with_points()
            state["step"] = "wait_points"
            return 0.05
        result["invoke_strip"] = invoke_in_sequencer(os.path.join(OUT, "seqA"))
        state["step"] = "wait_strip"
    elif name == "wait_strip":
        if last_run()["status"] == "running":
            return 0.05
        result["run_strip"] = dict(last_run())
        result["state_strip"] = common.snapshot()
        result["files_strip"] = common.files_under(OUT)
        result["invoke_points"] = invoke_with_points()
        state["step"] = "wait_points"
    elif name == "wait_points":
        if last_run()["status"] == "running":
            return 0.05
        result["run_points"] = dict(last_run())
        matte = bpy.data.images[state["still"].name + " matte"]
        with open(os.path.join(OUT, "points-matte.u8"), "wb") as handle:
            handle.write(sys.modules[MODULE].pixels.read_gray8(matte)[0])
        finish()
        return None
    result["steps"].append(name)
    return 0.05


bpy.app.timers.register(tick, first_interval=0.5)
