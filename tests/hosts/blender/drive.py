"""Runs inside the real Blender (3.4 … 5.2): enable the add-on, play one scenario, write facts.

    blender -b --factory-startup --python-exit-code 1 --python drive.py -- SCENARIO PARAMS.json RESULT.json

(The bpy wheels, Blender as a Python module, run it through wheel_run.py, which sets sys.argv.)

The add-on's module name comes from CLEANCUT_TEST_MODULE (cleancut_blender for the legacy
add-on, bl_ext.user_default.cleancut_blender for the 4.2+ extension). Numbers are compared by
the pytest side (numpy is not available in Blender 3.4's Python); this script only acts and
records what Blender shows: datablocks, nodes, links, reports, rendered files.
"""

import json
import os
import shutil
import sys
import traceback

import addon_utils
import bpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drive_common import addon_compat, files_under, setup_scene, snapshot  # noqa: E402

argv = sys.argv[sys.argv.index("--") + 1:]
SCENARIO, PARAMS, RESULT = argv[0], json.load(open(argv[1])), argv[2]
MODULE = os.environ["CLEANCUT_TEST_MODULE"]
OUT = PARAMS["out"]
result = {"blender": list(bpy.app.version)}


def addon():
    return sys.modules[MODULE]


def prefs():
    return bpy.context.preferences.addons[MODULE].preferences


def run_op(**kwargs):
    """Run Remove Background like a script does; (status, error report text or None)."""
    return call(bpy.ops.cleancut.remove_background, **kwargs)


def render_still(name):
    scene = bpy.context.scene
    scene.render.filepath = os.path.join(OUT, name)
    bpy.ops.render.render(write_still=True)
    return scene.render.filepath


def render_frames(prefix):
    scene = bpy.context.scene
    scene.render.filepath = os.path.join(OUT, prefix + "_####")
    bpy.ops.render.render(animation=True)
    return [os.path.join(OUT, "%s_%04d.png" % (prefix, f)) for f in range(scene.frame_start, scene.frame_end + 1)]


def save_blend():
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(OUT, "scene.blend"))


def load_sequence(first_file):
    image = bpy.data.images.load(first_file)
    image.source = "SEQUENCE"
    return image


# --- scenarios ---

def scenario_still():
    """Run, render; swap the image's pixels (same datablock), run again, render; then a second
    image with its matte saved beside the .blend."""
    image = bpy.data.images.load(PARAMS["photo"])
    setup_scene(*image.size)
    save_blend()
    result["first"] = run_op(image=image.name)
    result["state1"] = snapshot()
    result["render1"] = render_still("first.png")
    image.filepath = PARAMS["photo2"]
    image.reload()
    result["second"] = run_op(image=image.name)
    result["state2"] = snapshot()
    result["render2"] = render_still("second.png")
    other = bpy.data.images.load(PARAMS["photo3"])
    result["file_run"] = run_op(image=other.name, store="FILE")
    result["state3"] = snapshot()


def scenario_mask():
    """A still cut out with a mask image (a region: black outside, grey inside) as its hint, and
    render; then mask images that cannot guide it (another size, none of that name, a sequence
    to cut out), each refused with nothing changed."""
    image = bpy.data.images.load(PARAMS["photo"])
    mask = bpy.data.images.load(PARAMS["mask"])
    setup_scene(*image.size)
    save_blend()
    result["run"] = run_op(image=image.name, mask_image=mask.name)
    result["render"] = render_still("masked.png")
    # the same region drawn in Blender: a float image, rows bottom-up, grey 0.5 inside
    width, height = image.size
    top, bottom, left, right = PARAMS["region"]
    drawn = bpy.data.images.new("drawn mask", width, height, float_buffer=True)
    row = [0.0] * (4 * left) + [0.5, 0.5, 0.5, 1.0] * (right - left) + [0.0] * (4 * (width - right))
    empty = [0.0] * (4 * width)
    drawn.pixels.foreach_set([v for y in range(height - 1, -1, -1) for v in (row if top <= y < bottom else empty)])
    with open(os.path.join(OUT, "drawn-hint.u8"), "wb") as handle:
        handle.write(addon().operators.read_hint(drawn.name, addon().sources.Source(image)))
    small = bpy.data.images.load(PARAMS["small_mask"])
    sequence = load_sequence(PARAMS["first_file"])
    result["before"] = snapshot()
    result["files_before"] = files_under(OUT)
    result["wrong_size"] = run_op(image=image.name, mask_image=small.name)
    result["no_such_mask"] = run_op(image=image.name, mask_image="no such mask")
    result["video"] = run_op(image=sequence.name, mask_image=mask.name)
    result["after"] = snapshot()
    result["files_after"] = files_under(OUT)


def scenario_clicks():
    """A still cut out from the Image Editor with its annotations: layers include and exclude hold
    the points (made by Blender 3.4's Python API, appended from a .blend, as newer Blenders
    cannot make annotation strokes from Python); render. Then points that cannot guide it (one
    outside the image, points with a sequence, an annotation of no such name, and where strokes
    say where they are placed (≤ 4.2) one placed in the View), each refused with nothing changed."""
    image = bpy.data.images.load(PARAMS["photo"])
    setup_scene(*image.size)
    save_blend()
    kind = addon_compat().annotations_collection()  # grease_pencils (≤ 4.x) or annotations (5.0+)
    with bpy.data.libraries.load(PARAMS["annotations"]) as (source, target):
        setattr(target, kind, list(getattr(source, kind)))
    annotations = getattr(bpy.data, kind)
    result["annotations"] = sorted(a.name for a in annotations)
    window = bpy.context.window_manager.windows[0]
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    area.type = "IMAGE_EDITOR"
    space = area.spaces.active
    space.image = image
    setattr(space, "annotation" if hasattr(space, "annotation") else "grease_pencil", annotations["Clicks"])
    in_editor = {"window": window, "screen": window.screen, "area": area,
                 "region": next(r for r in area.regions if r.type == "WINDOW")}
    with bpy.context.temp_override(**in_editor):
        result["run"] = call(bpy.ops.cleancut.remove_background)
    result["report"] = addon().operators.last_run["report"]
    result["state"] = snapshot()
    result["render"] = render_still("clicks.png")
    sequence = load_sequence(PARAMS["first_file"])
    result["before"] = snapshot()
    result["files_before"] = files_under(OUT)
    result["outside"] = run_op(image=image.name, annotation="Outside")
    result["sequence"] = run_op(image=sequence.name, annotation="Clicks")
    result["no_such_annotation"] = run_op(image=image.name, annotation="no such annotation")
    stroke_type = getattr(bpy.types, "GPencilStroke", None)
    if stroke_type is not None and "display_mode" in stroke_type.bl_rna.properties:  # strokes say where (≤ 4.2)
        result["view_placed"] = run_op(image=image.name, annotation="View")
    result["after"] = snapshot()
    result["files_after"] = files_under(OUT)


def scenario_sequence():
    """Run, render every frame, run again; then lose a frame and run once more (it must fail)."""
    seq = os.path.join(OUT, "seq")
    os.makedirs(seq)
    for path in PARAMS["files"]:
        shutil.copy(path, seq)
    scene = setup_scene(PARAMS["width"], PARAMS["height"], 1, len(PARAMS["files"]))
    image = load_sequence(os.path.join(seq, os.path.basename(PARAMS["files"][0])))
    save_blend()
    result["run"] = run_op(image=image.name)
    result["state"] = snapshot()
    result["mattes"] = files_under(os.path.join(OUT, "cleancut_mattes"))
    result["renders"] = render_frames("frame")
    result["rerun"] = run_op(image=image.name)
    result["state2"] = snapshot()
    result["mattes2"] = files_under(os.path.join(OUT, "cleancut_mattes"))
    result["missing"] = os.path.join(seq, os.path.basename(PARAMS["files"][1]))
    os.remove(result["missing"])
    result["before"] = snapshot()
    result["files_before"] = files_under(OUT)
    result["broken_run"] = run_op(image=image.name)
    result["after"] = snapshot()
    result["files_after"] = files_under(OUT)
    scene.frame_set(1)


def scenario_video_models():
    """The same sequence with rvm (recurrent state), then with u2netp and temporal smoothing."""
    setup_scene(PARAMS["width"], PARAMS["height"], 1, PARAMS["frames"])
    image = load_sequence(PARAMS["first_file"])
    save_blend()
    result["rvm"] = run_op(image=image.name, model="rvm")
    shutil.copytree(os.path.join(OUT, "cleancut_mattes"), os.path.join(OUT, "rvm_mattes"))
    result["smoothed"] = run_op(image=image.name, model="u2netp", temporal_smoothing=PARAMS["smoothing"])


def scenario_measure():
    """Benchmark runs (tests/hosts/blender/measure.py): one sequence, several model settings."""
    setup_scene(PARAMS["width"], PARAMS["height"], 1, PARAMS["frames"])
    image = load_sequence(PARAMS["first_file"])
    save_blend()
    result["runs"] = {}
    for config in PARAMS["configs"]:
        status = run_op(image=image.name, model=config["model"], temporal_smoothing=config["smoothing"])
        run = dict(addon().operators.last_run)
        shutil.copytree(os.path.join(OUT, "cleancut_mattes"), os.path.join(OUT, config["name"]))
        result["runs"][config["name"]] = {"status": status, "seconds": run["seconds"], "frames": run["frames"]}


def scenario_movie():
    image = bpy.data.images.load(PARAMS["movie"])
    setup_scene(PARAMS["width"], PARAMS["height"], 1, PARAMS["frames"])
    save_blend()
    result["source"] = image.source
    result["run"] = run_op(image=image.name)
    result["state"] = snapshot()
    result["mattes"] = files_under(os.path.join(OUT, "cleancut_mattes"))
    result["renders"] = render_frames("movie")
    clip = bpy.data.movieclips.load(PARAMS["movie"])
    result["clip_run"] = run_op(clip=clip.name)
    result["clip_state"] = snapshot()
    result["clip_mattes"] = files_under(os.path.join(OUT, "cleancut_mattes"))
    result["clip_renders"] = render_frames("clip")


def scenario_preferences():
    """A wrong engine path, then Test Connection, licence acceptance and the default model."""
    image = bpy.data.images.load(PARAMS["photo"])
    setup_scene(*image.size)
    save_blend()
    result["menus"] = {menu: [draw.__module__ for draw in getattr(bpy.types, menu)._dyn_ui_initialize()]
                       for menu in ("IMAGE_MT_image", "NODE_MT_add", "NODE_MT_context_menu", "SEQUENCER_MT_strip",
                                    "SEQUENCER_MT_context_menu")}
    prefs().engine_python = PARAMS["bad_engine"]
    result["bad_connection"] = call(bpy.ops.cleancut.test_connection)
    result["refine_items_without_hello"] = [item[0] for item in addon().prefs._refine_items(prefs(), bpy.context)]
    result["before"] = snapshot()
    result["files_before"] = files_under(OUT)
    result["bad_run"] = run_op(image=image.name)
    result["after"] = snapshot()
    result["files_after"] = files_under(OUT)
    prefs().engine_python = ""
    result["connection"] = call(bpy.ops.cleancut.test_connection)
    engine = addon().engine
    result["models"] = engine.cached_models()
    result["hello"] = engine.cached_hello()
    result["refine_items"] = [item[0] for item in addon().prefs._refine_items(prefs(), bpy.context)]
    prefs().refine = "best"
    engine.close()  # as in a new session: the choice is stored, the engine has not said hello yet
    result["refine_stored_without_hello"] = prefs().refine
    result["refine_sent_without_hello"] = engine.options(bpy.context).get("refine")
    prefs().refine = "DEFAULT"
    prefs().default_model = PARAMS["model"]
    result["refused"] = run_op(image=image.name)
    result["state_refused"] = snapshot()
    result["accept"] = call(bpy.ops.cleancut.accept_licence, "EXEC_DEFAULT", model=PARAMS["model"])
    result["models_after"] = engine.cached_models()
    result["run"] = run_op(image=image.name)
    result["last_run"] = dict(addon().operators.last_run)
    result["render"] = render_still("prefs.png")


def scenario_strips():
    """The Video Sequencer: an image-sequence strip cut out by name and a movie strip from the
    Sequencer (its active strip), each getting a Compositor modifier with the Remove Background
    group (Blender 5.0+); or, where strips have no such modifier, the refusal. Then a still in a
    new scene that has no compositor yet."""
    compat = addon_compat()
    result["features"] = {name: getattr(compat, name) for name in PARAMS["features"]}
    scene = setup_scene(PARAMS["width"], PARAMS["height"], 1, PARAMS["end"], compositor=False)
    seq = os.path.join(OUT, "seq")
    os.makedirs(seq)
    for path in PARAMS["files"]:
        shutil.copy(path, seq)
    save_blend()
    result["has_strip_compositor"] = compat.has_strip_compositor()
    window = bpy.context.window_manager.windows[0]
    area = max(window.screen.areas, key=lambda a: a.width * a.height)
    area.type = "SEQUENCE_EDITOR"
    in_sequencer = {"window": window, "screen": window.screen, "area": area,
                    "region": next(r for r in area.regions if r.type == "WINDOW")}
    with bpy.context.temp_override(**in_sequencer):
        result["poll_in_sequencer"] = bpy.ops.cleancut.remove_background.poll()
    if not result["has_strip_compositor"]:
        result["by_name"] = run_op(strip="frames")
        with bpy.context.temp_override(**in_sequencer):
            result["from_sequencer"] = call(bpy.ops.cleancut.remove_background)
        result["state"] = snapshot()
    else:
        if "sequencer_scene" in bpy.types.WorkSpace.bl_rna.properties:
            bpy.context.workspace.sequencer_scene = scene  # what showing it in the Sequencer does
        editor = scene.sequence_editor_create()
        names = [os.path.basename(p) for p in PARAMS["files"]]
        frames = editor.strips.new_image("frames", os.path.join(seq, names[0]), 1, PARAMS["strip_start"])
        for name in names[1:]:
            frames.elements.append(name)
        movie = editor.strips.new_movie("movie", PARAMS["movie"], 2, PARAMS["strip_start"])
        movie.mute = True
        broken_folder = os.path.join(OUT, "broken")
        shutil.copytree(seq, broken_folder)
        broken = editor.strips.new_image("broken", os.path.join(broken_folder, names[0]), 3, PARAMS["strip_start"])
        for name in names[1:]:
            broken.elements.append(name)
        broken.mute = True
        result["broken_missing"] = os.path.join(broken_folder, names[1])
        os.remove(result["broken_missing"])
        result["broken_before"] = snapshot()
        result["broken_files_before"] = files_under(OUT)
        result["broken_run"] = run_op(strip="broken")
        result["broken_after"] = snapshot()
        result["broken_files_after"] = files_under(OUT)
        result["by_name"] = run_op(strip="frames")
        result["state"] = snapshot()
        result["mattes"] = files_under(os.path.join(OUT, "cleancut_mattes"))
        result["renders"] = render_frames("frames")
        result["rerun"] = run_op(strip="frames")
        result["state2"] = snapshot()
        frames.mute, movie.mute = True, False
        editor.active_strip = movie
        with bpy.context.temp_override(**in_sequencer):
            result["from_sequencer"] = call(bpy.ops.cleancut.remove_background)
        result["movie_state"] = snapshot()
        result["movie_mattes"] = files_under(os.path.join(OUT, "cleancut_mattes"))
        result["movie_renders"] = render_frames("movie")
    fresh = bpy.data.scenes.new("Fresh")
    result["fresh_before"] = compat.compositor(fresh) is not None
    image = bpy.data.images.load(PARAMS["photo"])
    with bpy.context.temp_override(scene=fresh):
        result["fresh_run"] = run_op(image=image.name)
        result["fresh_state"] = snapshot()


def call(operator, *args, **kwargs):
    """(sorted status, error report or None) of an operator call."""
    try:
        return sorted(operator(*args, **kwargs)), None
    except RuntimeError as err:
        return ["CANCELLED"], str(err)


def main():
    addon_utils.enable(MODULE, default_set=True, handle_error=None)
    if MODULE not in bpy.context.preferences.addons:
        raise RuntimeError("add-on %s did not enable" % MODULE)
    for key, value in PARAMS.get("prefs", {}).items():
        setattr(prefs(), key, value)
    globals()["scenario_" + SCENARIO]()


try:
    main()
except BaseException:
    result["traceback"] = traceback.format_exc()
    raise
finally:
    with open(RESULT, "w") as handle:
        json.dump(result, handle, indent=1, default=repr)
