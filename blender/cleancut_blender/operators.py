# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Remove Background" operator: frame by frame, modal in the UI (Esc cancels), at once in scripts.

Nothing is changed in the .blend or on disk until every matte exists: a still's matte is
computed before any datablock is touched; a video's mattes go to a staging folder that
replaces the previous one only when the last frame is done. A failure or a cancel removes
the staging folder and leaves the scene as it was.

In the UI the engine works on a thread and the status bar says what it does: on a model's
first run, what will be downloaded (model, size, licence), then the download moving
("Downloading u2net: 34 of 176 MB"); Esc cancels, the download too.
"""

import os
import shutil
import tempfile
import threading
import time
import traceback
from typing import Any

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty

from . import cleancut_client, clicks, compat, engine, nodes, pixels, sources
from .cleancut_client import CleancutError

# Per-frame seconds of the last run (read by benchmarks), its outcome, and what its status bar
# says: "progress" is [bar fraction of the run, status text], "notice" what a first run downloads.
last_run: dict[str, Any] = {"frames": [], "seconds": [], "model": None, "status": None, "report": None,
                            "progress": None, "notice": None}

_FAILURES = (CleancutError, sources.SourceError, pixels.PixelError, clicks.ClickError, OSError)


def _safe(datablock):
    """A file name for a datablock's mattes, unique like its name (a.png and a.jpg stay apart)."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in datablock.name) or "image"
    return "clip_" + name if isinstance(datablock, bpy.types.MovieClip) else name


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def _matte_file(number: int | None) -> str:
    """The file name of a still's matte (``number`` None) or of image frame ``number``'s."""
    return "matte.png" if number is None else "matte_%06d.png" % number


class Failure(Exception):
    """A message for self.report({'ERROR'}, …), already worded for the user."""


class Target(object):
    """What a run cuts out and where its result goes: the scene compositor, or a strip's
    Compositor modifier (Video Sequencer, Blender 5.0+)."""

    def __init__(self, datablock, scene, strip=None, frames=None, loaded=False):
        self.datablock = datablock  # the Image or MovieClip whose frames are read
        self.scene = scene
        self.strip = strip
        self.frames = frames  # a strip's frame mapping (scene frame -> image frame)
        self.loaded = loaded  # the Image was loaded for this run (removed again on failure)


def resolve_source(context, image_name, clip_name, strip_name=""):
    """The image, movie clip or strip to cut out: named, or from the editor the operator runs in."""
    space = context.space_data
    if strip_name or (not image_name and not clip_name and space is not None and space.type == "SEQUENCE_EDITOR"):
        return _resolve_strip(context, strip_name)
    if image_name:
        found = bpy.data.images.get(image_name)
        if found is None:
            raise Failure("There is no image called %r." % image_name)
        return Target(found, context.scene)
    if clip_name:
        found = bpy.data.movieclips.get(clip_name)
        if found is None:
            raise Failure("There is no movie clip called %r." % clip_name)
        return Target(found, context.scene)
    if space is not None and space.type == "IMAGE_EDITOR" and space.image is not None:
        return Target(space.image, context.scene)
    tree = compat.compositor(context.scene)
    if space is not None and space.type == "NODE_EDITOR" and tree is not None:
        node = tree.nodes.active
        if isinstance(node, bpy.types.CompositorNodeImage) and node.image is not None:
            return Target(node.image, context.scene)
        if isinstance(node, bpy.types.CompositorNodeMovieClip) and node.clip is not None:
            return Target(node.clip, context.scene)
        if isinstance(node, bpy.types.CompositorNodeGroup) and node.node_tree is not None:
            source = node.node_tree.get(nodes.SOURCE_KEY)
            if source is not None:
                return Target(source, context.scene)
    raise Failure("Open an image in the Image Editor, or select an Image or Movie Clip node in the "
                  "Compositor, then run Remove Background.")


def _resolve_strip(context, name):
    """The image or movie strip (named, or the Sequencer's active strip) and its media as an Image."""
    if not compat.has_strip_compositor():
        raise Failure(compat.STRIP_COMPOSITOR_MISSING)
    scene = compat.sequencer_scene(context)
    if name:
        strip = next((s for s in compat.strips(scene) if s.name == name), None)
        if strip is None:
            raise Failure("There is no strip called %r in the Video Sequencer of %r." % (name, scene.name))
    else:
        strip = compat.active_strip(scene)
        if strip is None:
            raise Failure("Select an image or movie strip in the Video Sequencer, then run Remove Background.")
    if strip.type not in ("IMAGE", "MOVIE"):
        raise Failure("Remove Background works on image and movie strips; %r is a %s strip."
                      % (strip.name, strip.type.lower()))
    if not compat.can_add_strip_modifier(context, scene):
        raise Failure("Show the scene %r in the Video Sequencer, then run Remove Background on its strip."
                      % scene.name)
    image, frames, loaded = sources.strip_media(strip)
    return Target(image, scene, strip, frames, loaded)


def read_hint(name, source):
    """The mask image ``name`` as the engine's hint for a still ``source``: its first channel,
    width×height levels with rows top-down like the pixels sent (0 background, 128 unsure,
    255 subject; what they mean is the engine's business)."""
    mask = bpy.data.images.get(name)
    if mask is None:
        raise Failure("There is no mask image called %r." % name)
    if source.video:
        raise Failure("A mask image guides still images only; %r has frames (a sequence, movie or movie clip). "
                      "Clear Mask Image to cut it out." % source.name)
    width, height = pixels.size(source.image)
    mask_width, mask_height = pixels.size(mask)
    if (mask_width, mask_height) != (width, height):
        raise Failure("The mask image %r is %d×%d pixels; it must be the size of %r, %d×%d."
                      % (mask.name, mask_width, mask_height, source.name, width, height))
    return pixels.read_gray8(mask)[0]


def read_clicks(context, name, source, frame):
    """(include, exclude) points in pixels of a still ``source`` (from its top-left corner, rows
    down, like the pixels sent), from the annotation data ``name`` or, without a name, from the
    annotations of the Image Editor the operator runs in when it shows ``source``. Its layers
    "include" and "exclude" hold the points (clicks.py); ([], []) without any."""
    annotation = None
    if name:
        annotation = compat.annotation_named(name)
        if annotation is None:
            raise Failure("There is no annotation called %r." % name)
    else:
        space = context.space_data
        if space is not None and space.type == "IMAGE_EDITOR" and space.image == source.datablock:
            annotation = compat.space_annotation(space)
    if annotation is None:
        return [], []
    if source.video:
        if clicks.has_points(annotation, frame):
            raise Failure("Include and exclude points guide still images only; %r has frames (a sequence, movie or "
                          "movie clip). Hide or erase the annotation layers include and exclude to cut it out."
                          % source.name)
        return [], []
    width, height = pixels.size(source.image)
    return clicks.in_pixels(annotation, frame, source.name, width, height)


class Job(object):
    """One run: read frames, ask the engine, write mattes, and only then change the .blend."""

    def __init__(self, context, op):
        self.client = engine.client(context)
        self.subject = resolve_source(context, op.image, op.clip, op.strip)
        self.scene = self.subject.scene
        try:
            self.source = sources.Source(self.subject.datablock)
        except BaseException:
            self._forget_loaded()
            raise
        try:
            self._plan(context, op)
        except BaseException:
            self.source.release()
            self._forget_loaded()
            raise

    def _forget_loaded(self):
        """Remove the Image this run loaded for a strip (the .blend stays as it was)."""
        if self.subject.loaded:
            bpy.data.images.remove(self.subject.datablock)
            self.subject.loaded = False

    def _plan(self, context, op):
        video = self.source.video
        self.options = engine.options(context, op.model, op.temporal_smoothing if video else 0.0)
        self.hint = read_hint(op.mask_image, self.source) if op.mask_image else None
        self.include, self.exclude = read_clicks(context, op.annotation, self.source, self.scene.frame_current)
        self.store = op.store
        self.folder = op.matte_folder or "//cleancut_mattes"
        strip = self.subject.strip
        tree = compat.compositor(self.scene) if strip is None else None
        self.node = nodes.source_node(tree, self.source.datablock) if tree is not None else None
        self.frames = None
        self.plan: list[int | None] = [None]  # image frame numbers to do; None = the still
        if self.source.video:
            if strip is not None:
                self.frames = self.subject.frames
                first, last = strip.frame_final_start, strip.frame_final_end - 1  # what the strip shows
            else:
                if self.node is not None and self.node.bl_idname == "CompositorNodeImage":
                    self.frames = dict((f, getattr(self.node, f)) for f in nodes.FRAME_FIELDS)
                else:
                    self.frames = self.source.default_frames(self.scene)
                first, last = self.scene.frame_start, self.scene.frame_end
            self.plan, seen = [], set()
            for scene_frame in range(first, last + 1):
                number, in_range = sources.image_frame(self.frames, scene_frame)
                if in_range and number >= 0 and number not in seen:
                    seen.add(number)
                    self.plan.append(number)
            if not self.plan:
                raise Failure("No frame of %r falls inside the scene's frame range %d–%d."
                              % (self.source.name, first, last))
        self.stream = "blender:%s:%d" % (self.source.name, id(self))
        self.staging: str | None = None
        self.created: str | None = None  # the Matte Folder, when this run had to create it
        self.target: str | None = None  # where the mattes go (a video's folder, a still's file)
        if self.source.video or self.store == "FILE":
            base = bpy.path.abspath(self.folder)
            if self.folder.startswith("//") and not bpy.data.filepath:
                raise Failure("Save the .blend first: mattes are written beside it (in %s), or set an "
                              "absolute Matte Folder." % self.folder)
            name = _safe(self.source.datablock)
            self.target = os.path.join(base, name if self.source.video else name + "_matte.png")
        self.done = 0
        self.seconds: list[float] = []
        last_run.update(frames=[], seconds=self.seconds, model=self.options.get("model"), status="running",
                        report=None, total=len(self.plan), progress=None, notice=None)

    @property
    def total(self):
        return len(self.plan)

    @property
    def finished(self):
        return self.done >= len(self.plan)

    # --- one frame: read on the main thread, compute (any thread), write (any thread) ---
    def read(self):
        self.started = time.time()
        number = self.plan[self.done]
        return self.source.read(number)

    def compute(self, frame, cancelled=None, progress=None):
        data, width, height = frame
        video = self.source.video
        alpha = self.client.remove(data, width, height, channels="RGBA", pixel_format="f32",
                                   options=self.options, hint=self.hint, progress=progress, cancelled=cancelled,
                                   stream=self.stream if video else None, stream_reset=video and self.done == 0,
                                   include=self.include, exclude=self.exclude)
        png = pixels.png_gray8(alpha, width, height)
        if self.staging is None:
            self.staging = tempfile.mkdtemp(prefix=".cleancut-", dir=self._staging_parent())
        number = self.plan[self.done]
        name = _matte_file(number)
        pixels.write_file(os.path.join(self.staging, name), png)
        self.seconds.append(time.time() - self.started)
        last_run["frames"].append(number)
        self.done += 1

    def _staging_parent(self):
        if self.target is None:
            return None  # a packed still: the system's temporary folder
        parent = os.path.dirname(self.target)
        if not os.path.isdir(parent):
            os.makedirs(parent)
            self.created = parent
        return parent

    # --- the end: commit everything, or nothing ---
    def commit(self):
        """Move the mattes into place, then create or update the matte image, group and links."""
        source = self.source.datablock
        staging, target = self.staging, self.target
        if staging is None:
            raise Failure("Remove Background has no mattes to keep (nothing was computed).")
        if self.source.video and target is not None:
            old = target + ".old-%d" % os.getpid()
            if os.path.isdir(target):
                os.rename(target, old)
            try:
                os.rename(staging, target)
            except OSError:
                if os.path.isdir(old):
                    os.rename(old, target)  # put the previous mattes back
                raise
            self.staging = None
            shutil.rmtree(old, ignore_errors=True)
            first = os.path.join(target, _matte_file(self.plan[0]))
            matte = self._load(first)
            matte.source = "SEQUENCE"
        elif self.store == "FILE" and target is not None:
            pixels.write_file(target, open(os.path.join(staging, "matte.png"), "rb").read())
            matte = self._load(target)
        else:
            matte = self._load(os.path.join(staging, "matte.png"))
            matte.pack()
            matte.filepath_raw = "//%s_matte.png" % _safe(source)
        self.discard()
        previous = nodes.find_matte(source)
        if previous is not None:
            previous.user_remap(matte)
            bpy.data.images.remove(previous)
        matte.name = "%s matte" % source.name
        matte[nodes.MATTE_KEY] = source
        group = nodes.find_group(source)
        if group is None:
            group = nodes.build_group(source, matte)
        nodes.update_group(group, matte, self.frames)
        if self.subject.strip is not None:
            compat.strip_compositor(self.subject.strip, group, create=True)
        else:
            tree = compat.ensure_compositor(self.scene)
            node = self.node or nodes.new_source_node(tree, source, self.frames)
            nodes.wire(tree, node, group)
        self.subject.loaded = False  # the group now points at it: it stays
        self.source.release()
        last_run["status"] = "finished"
        return matte, group

    def _load(self, path):
        image = bpy.data.images.load(path, check_existing=False)
        image.colorspace_settings.name = "Non-Color"  # type: ignore[union-attr]  # stubs: never None
        if self.target is not None:
            try:
                image.filepath = bpy.path.relpath(path) if bpy.data.filepath else path
            except ValueError:  # another drive (Windows): keep it absolute
                pass
        return image

    def discard(self):
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def abort(self, status):
        self.discard()
        if self.created is not None:
            try:
                os.rmdir(self.created)  # only if this run made it and it is still empty
            except OSError:
                pass
        self.source.release()
        self._forget_loaded()
        last_run["status"] = status

    def summary(self):
        if not self.source.video:
            points = ""
            if self.include or self.exclude:
                points = ", %d include and %d exclude points" % (len(self.include), len(self.exclude))
            return "Remove Background: matte of %r ready (%.1f s%s)" % (self.source.name, sum(self.seconds), points)
        return ("Remove Background: %d mattes of %r ready (%.2f s per frame)"
                % (len(self.seconds), self.source.name, _median(self.seconds)))


def _store_items():
    return [("PACK", "Pack in .blend", "Keep the matte inside the .blend file"),
            ("FILE", "Save beside .blend", "Write the matte as a PNG file in the Matte Folder")]


class CLEANCUT_OT_remove_background(bpy.types.Operator):
    """Cut out an image, sequence, movie or strip with the local cleancut engine: a matte and a Remove Background node group"""  # noqa: E501

    bl_idname = "cleancut.remove_background"
    bl_label = "Remove Background"
    bl_options = {"REGISTER", "UNDO"}

    image: StringProperty(name="Image", description="Image to cut out (empty: the one in the editor)")
    clip: StringProperty(name="Movie Clip", description="Movie clip to cut out instead of an image")
    strip: StringProperty(name="Strip", description="Video Sequencer image or movie strip to cut out "
                          "(Blender 5.0+: its Compositor modifier runs the Remove Background group)")
    mask_image: StringProperty(
        name="Mask Image", description="Image of the same size that guides a still's cut-out: black = background, "
        "white = subject, mid grey = unsure (black and grey only: the subject is inside the grey)")
    annotation: StringProperty(
        name="Points", description="Annotation whose layers 'include' and 'exclude' hold points on the subject and "
        "points that are not the subject, one per stroke (empty: the Image Editor's annotations; stills only)")
    model: StringProperty(name="Model", description="Engine model id (empty: the add-on's default model)")
    temporal_smoothing: FloatProperty(
        name="Temporal Smoothing", min=0.0, max=0.9, default=0.0,
        description="Damp frame-to-frame flicker of models without their own video memory (0 = off)")
    store: EnumProperty(name="Store Matte", items=_store_items(), default="PACK",
                        description="Where a still's matte goes (a video's mattes are always files)")
    matte_folder: StringProperty(name="Matte Folder", subtype="DIR_PATH", default="//cleancut_mattes",
                                 description="Folder for matte files (// = beside the .blend)")

    def _say(self, level, message):
        last_run["report"] = [sorted(level)[0], message]
        self.report(level, message)

    @classmethod
    def poll(cls, context):
        space = context.space_data
        if space is not None and space.type == "IMAGE_EDITOR" and space.image is None:
            return cls._refuse("Open an image first")
        if space is not None and space.type == "SEQUENCE_EDITOR" and not compat.has_strip_compositor():
            return cls._refuse(compat.STRIP_COMPOSITOR_MISSING)
        return True

    @classmethod
    def _refuse(cls, message):
        if hasattr(cls, "poll_message_set"):  # Blender 3.0+
            cls.poll_message_set(message)
        return False

    def _begin(self, context):
        prefs = engine.preferences(context)
        if prefs is not None:  # unset choices follow the preferences
            for name in ("temporal_smoothing", "matte_folder"):
                if not self.properties.is_property_set(name):
                    setattr(self, name, getattr(prefs, name))
        try:
            return Job(context, self)
        except (Failure,) + _FAILURES as err:
            last_run.update(frames=[], seconds=[], status="failed")
            self._say({"ERROR"}, str(err))
        return None

    def _fail(self, job, err):
        if isinstance(err, CleancutError) and err.kind == "cancelled":
            job.abort("cancelled")
            self._say({"WARNING"}, "Remove Background cancelled; nothing was changed.")
        else:
            job.abort("failed")
            self._say({"ERROR"}, str(err))
        return {"CANCELLED"}

    def execute(self, context):
        job = self._begin(context)
        if job is None:
            return {"CANCELLED"}
        return self._run(job)

    def _run(self, job):
        """Every frame, one after the other, then the commit (scripts, stills, background mode)."""
        try:
            while not job.finished:
                job.compute(job.read())
            job.commit()
        except (Failure,) + _FAILURES as err:
            return self._fail(job, err)
        except BaseException:
            job.abort("failed")
            raise
        self._say({"INFO"}, job.summary())
        return {"FINISHED"}

    # --- modal: one frame at a time, the engine call in a thread so the UI stays live ---
    def invoke(self, context, event):
        job = self._begin(context)
        if job is None:
            return {"CANCELLED"}
        if context.window is None:
            return self._run(job)
        self._job = job
        self._thread = None
        self._outcome = None
        self._cancel = False
        self._progress = (0.0, "model", None)  # the engine's last (fraction, stage, download)
        self._notice = None  # what this run downloads first ("" once asked: nothing)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.05, window=context.window)
        wm.progress_begin(0, job.total)
        wm.modal_handler_add(self)
        self._status(context)
        return {"RUNNING_MODAL"}

    def _status(self, context, text=None):
        job = self._job
        fraction, stage, download = self._progress
        share = cleancut_client.progress_fraction(fraction, download) if self._thread is not None else 0.0
        if text is None:
            text = self._status_text(stage, download)
        if context.workspace is not None:
            context.workspace.status_text_set(text)
        context.window_manager.progress_update(job.done + share)
        last_run["progress"] = [(job.done + share) / job.total, text]

    def _status_text(self, stage, download):
        """What the status bar says: the download with what it fetches, else the frame and stage."""
        job = self._job
        if stage == "download":
            return "Remove Background: %s. %s Esc to cancel" % (
                cleancut_client.progress_text(stage, download), self._notice or "")
        words = cleancut_client.progress_text(stage) if self._thread is not None else "Reading"
        return ("Remove Background: frame %d of %d (%d%%) with %s: %s. Esc to cancel"
                % (min(job.done + 1, job.total), job.total, 100 * job.done // job.total,
                   job.options.get("model") or "the default model", words))

    def _end(self, context):
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace is not None:
            context.workspace.status_text_set(None)

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._cancel = True
            self._status(context, "Remove Background: cancelling…")
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if self._thread is not None:
            if self._thread.is_alive():
                if not self._cancel:
                    self._status(context)
                return {"RUNNING_MODAL"}
            self._thread = None
            if self._outcome is not None:
                self._end(context)
                return self._fail(self._job, self._outcome)
        job = self._job
        if self._cancel:
            self._end(context)
            job.abort("cancelled")
            self._say({"WARNING"}, "Remove Background cancelled; nothing was changed.")
            return {"CANCELLED"}
        try:
            if job.finished:
                self._end(context)
                job.commit()
                self._say({"INFO"}, job.summary())
                return {"FINISHED"}
            frame = job.read()
        except (Failure,) + _FAILURES as err:
            self._end(context)
            return self._fail(job, err)
        self._progress = (0.0, "model", None)
        self._status(context)
        self._thread = threading.Thread(target=self._work, args=(frame,))
        self._thread.daemon = True
        self._thread.start()
        return {"RUNNING_MODAL"}

    def _on_progress(self, fraction, stage, download=None):  # the engine's thread: plain values only
        self._progress = (fraction, stage, download)

    def _work(self, frame):
        try:
            if self._notice is None:  # once per run: a first run says what it downloads
                self._notice = self._job.client.first_run_notice(self._job.options.get("model")) or ""
                last_run["notice"] = self._notice or None
            self._job.compute(frame, cancelled=lambda: self._cancel, progress=self._on_progress)
        except _FAILURES as err:  # reported on the main thread
            self._outcome = err
        except BaseException as err:  # a bug: keep its traceback in the console
            traceback.print_exc()
            self._outcome = err

    def draw(self, context):
        layout = self.layout
        if layout is None:  # the stubs allow None: an operator has a layout while Blender draws it
            return
        layout.prop(self, "model")
        layout.prop_search(self, "mask_image", bpy.data, "images")
        layout.prop_search(self, "annotation", bpy.data, compat.annotations_collection())
        layout.prop(self, "temporal_smoothing")
        layout.prop(self, "store")
        layout.prop(self, "matte_folder")
