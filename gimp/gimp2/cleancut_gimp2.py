#!/usr/bin/env python2
# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut for GIMP 2.10 (Python-Fu / gimpfu): local AI background removal as a layer mask,
a selection or a cut-out layer.

Two procedures, the same as the GIMP 3 plug-in's, on the active layer:

* ``plug-in-cleancut-remove-background`` -- Layer > Mask > Remove Background…
  arguments: model (id, "" = the engine's default), output (0 layer mask, 1 selection,
  2 new layer with the cut-out), selection-hint (use the current selection as a hint).
* ``plug-in-cleancut-select-subject`` -- Select > Subject…: the same, output fixed to the
  selection.

Points: the anchors of the image's paths named "include…" or "+…" are include points (the
subject is there), those of paths named "exclude…" or "-…" exclude points (not the subject), as
in the GIMP 3 plug-in; the user clicks them with the Paths tool. They are sent in the layer's own
pixels (image coordinates less its offsets); a point off the layer stops the run with a message,
the image untouched. There is no switch for them: a new argument would break every script's
call (gimpfu's PDB takes all arguments), so renaming a path leaves its points out.

Scripts call them as ``pdb.plug_in_cleancut_remove_background(image, drawable, "", 0, False)``.
The plug-in only reads pixels, asks cleancut_client (copied beside this file) for the alpha and
writes it back; the engine runs in its own process (a shared worker that outlives this
plug-in process, so the model stays loaded between calls). Nothing changes until the alpha has
arrived; then everything is written inside one undo group. Failures are shown with
gimp-message, the image untouched.

Pixels: GIMP 2.10 hands a gimpfu plug-in 8-bit, gamma-encoded pixels whatever the image's
precision (pygimp never enables high precision), and the engine's model sees 8-bit RGB anyway.
The 8-bit alpha reaches the image through the alpha channel of a helper layer (a mask made
from it, or the selection taken from it), the one 8-bit route GIMP 2.10 does not gamma-convert;
GIMP stores it in the image's precision.

Python 2.7 syntax (GIMP 2.10's Python); runs unchanged on Python 3.
"""

from __future__ import absolute_import, division, print_function

import os
import sys

from gimpfu import (ADD_MASK_ALPHA, CHANNEL_OP_REPLACE, GRAYA_IMAGE, LAYER_MODE_NORMAL, MASK_APPLY, MASK_DISCARD,
                    PF_DRAWABLE, PF_IMAGE, PF_OPTION, PF_STRING, PF_TOGGLE, RGBA_IMAGE, gimp, main, pdb, register)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cleancut_client  # noqa: E402
from cleancut_client import CleancutError  # noqa: E402

REMOVE = "plug-in-cleancut-remove-background"
SELECT = "plug-in-cleancut-select-subject"
OUTPUT_MASK, OUTPUT_SELECTION, OUTPUT_LAYER = 0, 1, 2
OUTPUTS = ["Layer mask", "Selection", "New layer with the cut-out"]
LAYOUTS = {(False, False): "RGB", (False, True): "RGBA", (True, False): "Y", (True, True): "YA"}
CHANNEL_COUNT = {"Y": 1, "YA": 2, "RGB": 3, "RGBA": 4}

# A selection as a region hint: outside it is background (0), inside the model decides (128).
_REGION = bytes(bytearray([0] + [128] * 255))


def _text(err):
    """An exception's message as a str GIMP's PDB accepts (UTF-8 bytes on Python 2)."""
    message = err.args[0] if err.args else ""
    if not isinstance(message, str):  # Python 2: unicode, from the worker's JSON
        message = message.encode("utf-8")
    return message


def _target_layer(drawable):
    """The layer to work on: the drawable itself, or the layer of a selected layer mask."""
    if pdb.gimp_item_is_layer_mask(drawable):
        return pdb.gimp_layer_from_mask(drawable)
    if pdb.gimp_item_is_layer(drawable):
        return drawable
    return None


def _canvas_overlap(image, layer):
    """(x0, y0, x1, y1): the part of the layer on the canvas, in image coordinates; may be empty."""
    ox, oy = layer.offsets
    return (max(ox, 0), max(oy, 0), min(ox + layer.width, image.width), min(oy + layer.height, image.height))


def _read_pixels(layer):
    region = layer.get_pixel_rgn(0, 0, layer.width, layer.height, False, False)
    return region[0:layer.width, 0:layer.height]


def _write_pixels(drawable, x, y, width, height, data):
    """Write straight into a new drawable's tiles (not the shadow: merging a shadow only changes
    the selected part of an image), then send them to GIMP."""
    region = drawable.get_pixel_rgn(x, y, width, height, True, False)
    region[x:x + width, y:y + height] = data
    drawable.flush()
    drawable.update(x, y, width, height)


def read_hint(image, layer):
    """The selection over the layer as a region hint, or None when nothing is selected.
    Parts of the layer outside the canvas cannot be selected, so they are background."""
    if pdb.gimp_selection_is_empty(image):
        return None
    x0, y0, x1, y1 = _canvas_overlap(image, layer)
    ox, oy = layer.offsets
    hint = bytearray(layer.width * layer.height)
    if x0 < x1 and y0 < y1:
        span = x1 - x0
        selected = image.selection.get_pixel_rgn(x0, y0, span, y1 - y0, False, False)[x0:x1, y0:y1]
        for row in range(y1 - y0):
            start = (y0 - oy + row) * layer.width + (x0 - ox)
            hint[start:start + span] = selected[row * span:(row + 1) * span]
    return bytes(hint).translate(_REGION)


# Paths whose names start with these (case and leading spaces aside) hold include / exclude points.
POINT_PATHS = (("include", ("include", "+")), ("exclude", ("exclude", "-")))


def path_kind(name):
    """"include", "exclude" or None (not a path of points) for a path's name."""
    text = name.strip().lower()
    for kind, prefixes in POINT_PATHS:
        if text.startswith(prefixes):
            return kind
    return None


def read_points(image):
    """[(kind, x, y, path name)]: every anchor of the include and exclude paths, image coordinates."""
    points = []
    for vectors in image.vectors:
        kind = path_kind(vectors.name)
        if kind is None:
            continue
        for stroke in vectors.strokes:
            coords = stroke.points[0]
            # A Bézier stroke's points come in triplets (control, anchor, control), each an x, y pair.
            points += [(kind, coords[i + 2], coords[i + 3], vectors.name) for i in range(0, len(coords) - 5, 6)]
    return points


def layer_points(points, layer):
    """{"include": [(x, y)], "exclude": [...]} in the layer's own pixels; a CleancutError naming
    the first point that lies off the layer."""
    left, top = layer.offsets
    found = {"include": [], "exclude": []}
    for kind, x, y, path in points:
        local = (x - left, y - top)
        if not (0 <= local[0] < layer.width and 0 <= local[1] < layer.height):
            raise CleancutError('The %s point at %g, %g (path "%s") lies outside the layer "%s" (%d×%d at %d, %d). '
                                "Move the point onto the layer or delete it, or rename the path to leave its "
                                "points out. The image was not changed."
                                % (kind, x, y, path, layer.name, layer.width, layer.height, left, top), "setup")
        found[kind].append(local)
    return found


def compute_alpha(layer, model, hint, points=None):
    """The engine's alpha for the whole layer (its own size, not the canvas), 8-bit, rows top-down;
    ``points`` as layer_points gives them."""
    points = points or {}
    layout = LAYOUTS[(bool(layer.is_gray), bool(layer.has_alpha))]
    if layer.bpp != CHANNEL_COUNT[layout]:
        raise CleancutError("This layer has %d bytes per pixel where %s needs %d; convert the image to "
                            "8-bit RGB or grayscale first." % (layer.bpp, layout, CHANNEL_COUNT[layout]), "setup")
    gimp.progress_init("Removing background…")
    client = cleancut_client.Client(shared=True)
    try:
        return client.remove(_read_pixels(layer), layer.width, layer.height, channels=layout, pixel_format="u8",
                             options=cleancut_client.run_options(model), hint=hint, alpha_format="u8",
                             progress=_status_bar("Removing background"),
                             include=points.get("include") or None, exclude=points.get("exclude") or None)
    finally:
        client.close()


def _status_bar(title):
    """A progress callback for GIMP's progress (the status bar): the engine's stage in words,
    "Downloading u2net: 34 of 176 MB" on a model's first run. GIMP's Cancel there ends this
    plug-in, and the engine then cancels the run (a download too)."""
    shown = [None]

    def progress(fraction, stage, download=None):
        text = "%s: %s" % (title, cleancut_client.progress_text(stage, download))
        if text != shown[0]:
            pdb.gimp_progress_set_text(text)
            shown[0] = text
        gimp.progress_update(cleancut_client.progress_fraction(fraction, download))

    return progress


def _alpha_layer(image, layer, alpha):
    """A new layer the size of ``layer`` whose alpha channel holds ``alpha``, not in the image.

    The alpha goes into an alpha channel because GIMP 2.10 takes a gimpfu plug-in's 8-bit mask
    and channel pixels as gamma-encoded and converts them (128 would be stored as 55), while
    alpha values arrive as they are, at any image precision."""
    kind, bpp = (GRAYA_IMAGE, 2) if layer.is_gray else (RGBA_IMAGE, 4)
    holder = pdb.gimp_layer_new(image, layer.width, layer.height, kind, "cleancut alpha", 100.0, LAYER_MODE_NORMAL)
    pixels = bytearray(layer.width * layer.height * bpp)
    pixels[bpp - 1::bpp] = alpha
    _write_pixels(holder, 0, 0, layer.width, layer.height, bytes(pixels))
    return holder


def write_mask(layer, alpha):
    """Give the layer a mask holding the alpha; an existing mask is replaced, never merged."""
    if pdb.gimp_layer_get_mask(layer) is not None:
        pdb.gimp_layer_remove_mask(layer, MASK_DISCARD)
    holder = _alpha_layer(layer.image, layer, alpha)
    pdb.gimp_layer_add_mask(layer, pdb.gimp_layer_create_mask(holder, ADD_MASK_ALPHA))
    pdb.gimp_item_delete(holder)


def write_selection(image, layer, alpha):
    """Replace the selection with the alpha, placed at the layer's offsets (GIMP clips it to the canvas)."""
    holder = _alpha_layer(image, layer, alpha)
    pdb.gimp_image_insert_layer(image, holder, None, 0)
    ox, oy = layer.offsets
    pdb.gimp_layer_set_offsets(holder, ox, oy)
    pdb.gimp_image_select_item(image, CHANNEL_OP_REPLACE, holder)
    pdb.gimp_image_remove_layer(image, holder)


def write_cutout_layer(image, layer, alpha):
    """A copy of the layer above it, whose alpha is the layer's alpha times the engine's."""
    cutout = pdb.gimp_layer_copy(layer, True)
    pdb.gimp_image_insert_layer(image, cutout, pdb.gimp_item_get_parent(layer),
                                pdb.gimp_image_get_item_position(image, layer))
    pdb.gimp_item_set_name(cutout, "%s (cut-out)" % layer.name)
    if pdb.gimp_layer_get_mask(cutout) is not None:
        pdb.gimp_layer_remove_mask(cutout, MASK_APPLY)
    write_mask(cutout, alpha)
    pdb.gimp_layer_remove_mask(cutout, MASK_APPLY)


def run(image, drawable, model, output, selection_hint):
    layer = _target_layer(drawable)
    if layer is None:
        pdb.gimp_message("cleancut: Remove Background works on layers: select a layer first.")
        return
    if layer.is_indexed:
        pdb.gimp_message("cleancut: Remove Background needs an RGB or grayscale image: "
                         "use Image > Mode > RGB first.")
        return
    if output not in (OUTPUT_MASK, OUTPUT_SELECTION, OUTPUT_LAYER):
        pdb.gimp_message("cleancut: output must be 0 (layer mask), 1 (selection) or 2 (new layer), not %r" % (output,))
        return
    try:
        points = layer_points(read_points(image), layer)
        alpha = compute_alpha(layer, model, read_hint(image, layer) if selection_hint else None, points)
    except CleancutError as err:
        pdb.gimp_message("cleancut: %s" % _text(err))
        return
    pdb.gimp_image_undo_group_start(image)
    try:
        if output == OUTPUT_SELECTION:
            write_selection(image, layer, alpha)
        elif output == OUTPUT_LAYER:
            write_cutout_layer(image, layer, alpha)
        else:
            write_mask(layer, alpha)
    finally:
        pdb.gimp_image_undo_group_end(image)
    gimp.displays_flush()


def remove_background(image, drawable, model, output, selection_hint):
    run(image, drawable, model, output, selection_hint)


def select_subject(image, drawable, model, selection_hint):
    run(image, drawable, model, OUTPUT_SELECTION, selection_hint)


_MODEL = (PF_STRING, "model", "_Model (empty: the engine's default)", cleancut_client.ENGINE_DEFAULT)
_HINT = (PF_TOGGLE, "selection-hint", "Use the current _selection as a hint", False)
_ATTRIBUTION = ("cleancut contributors", "GPL-3.0-or-later", "2026")
_POINTS_HELP = ("To point at the subject, click points with the Paths tool into a path named \"include\" (the "
                "subject is there) or \"exclude\" (not the subject); every point must lie on the layer.")

register(
    REMOVE,
    "Remove the background of the active layer with a local AI model",
    "Computes the subject's alpha for the active layer on this computer (nothing is uploaded) and "
    "writes it as a layer mask (replacing an existing mask), as the selection, or as a new cut-out "
    "layer above the layer, in one undo step. " + _POINTS_HELP,
    _ATTRIBUTION[0], _ATTRIBUTION[1], _ATTRIBUTION[2],
    "Remove _Background…",
    "RGB*, GRAY*",
    [(PF_IMAGE, "image", "Input image", None),
     (PF_DRAWABLE, "drawable", "Input drawable", None),
     _MODEL,
     (PF_OPTION, "output", "_Output", OUTPUT_MASK, OUTPUTS),
     _HINT],
    [],
    remove_background,
    menu="<Image>/Layer/Mask")

register(
    SELECT,
    "Select the subject of the active layer with a local AI model",
    "Replaces the selection with the subject found by a local AI model in the active layer, in one "
    "undo step. " + _POINTS_HELP,
    _ATTRIBUTION[0], _ATTRIBUTION[1], _ATTRIBUTION[2],
    "_Subject…",
    "RGB*, GRAY*",
    [(PF_IMAGE, "image", "Input image", None),
     (PF_DRAWABLE, "drawable", "Input drawable", None),
     _MODEL,
     _HINT],
    [],
    select_subject,
    menu="<Image>/Select")

main()
