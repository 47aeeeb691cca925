# -*- coding: utf-8 -*-
"""Test scenes for the GIMP 2.10 stand-in, built with the stand-in's own GIMP API, and a driver
that runs the plug-in under another interpreter (Python 2.7, as GIMP 2.10 embeds).

Python 2.7 and 3. As a script: ``python scene.py JOB.json`` reads a job written by
tests/test_gimp2.py, builds its image, calls one plug-in procedure through the PDB and writes
what the image holds afterwards into the job's output folder.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import gimp  # noqa: E402
import gimpfu  # noqa: E402
from gimpenums import GRAY, LAYER_MODE_NORMAL, RGB, RGB_IMAGE, RGBA_IMAGE, VECTORS_STROKE_TYPE_BEZIER  # noqa: E402

pdb = gimp.pdb


def load_plugin(plugin_dir, module="cleancut_gimp2"):
    """Start a fresh GIMP, import the plug-in from its installed folder, run its registration."""
    gimp.reset()
    gimpfu._registered_plugins_.clear()
    gimpfu._last_values.clear()
    for name in (module, "cleancut_client"):
        sys.modules.pop(name, None)
    if plugin_dir in sys.path:
        sys.path.remove(plugin_dir)
    sys.path.insert(0, plugin_dir)
    plugin = __import__(module)
    gimp._callbacks["query"]()
    return plugin


def new_image(width, height, layer_type, pixels, offsets=(0, 0), canvas=None, name="photo"):
    """An image with one layer holding ``pixels`` (bytes, rows top-down), nothing to undo yet."""
    base = RGB if layer_type in (RGB_IMAGE, RGBA_IMAGE) else GRAY
    canvas_width, canvas_height = canvas or (width, height)
    image = pdb.gimp_image_new(canvas_width, canvas_height, base)
    layer = pdb.gimp_layer_new(image, width, height, layer_type, name, 100.0, LAYER_MODE_NORMAL)
    pdb.gimp_image_insert_layer(image, layer, None, 0)
    pdb.gimp_layer_set_offsets(layer, offsets[0], offsets[1])
    region = layer.get_pixel_rgn(0, 0, width, height, True, False)
    region[0:width, 0:height] = pixels
    layer.flush()
    del image.undo_steps[:]
    return image, layer


def add_path(image, name, strokes):
    """A path as the Paths tool makes it, on top of the others: each stroke a list of anchors
    [x, y] in image coordinates (a click with the tool is an anchor; its handles lie on it)."""
    vectors = pdb.gimp_vectors_new(image, name)
    pdb.gimp_image_insert_vectors(image, vectors, None, 0)
    for stroke in strokes:
        coords = [float(c) for x, y in stroke for c in (x, y, x, y, x, y)]  # control, anchor, control
        pdb.gimp_vectors_stroke_new_from_points(vectors, VECTORS_STROKE_TYPE_BEZIER, len(coords), coords, False)
    del image.undo_steps[:]
    return vectors


def paths(image):
    """Every path's name and its strokes' control points."""
    return [[vectors.name, [stroke.points[0] for stroke in vectors.strokes]] for vectors in image.vectors]


def snapshot(image):
    """What the image holds: layers (top first), selection, channels, undo steps, messages."""
    layers = []
    for layer in image.layers:
        layers.append({"name": layer.name, "type": layer.type, "offsets": list(layer.offsets),
                       "pixels": bytes(layer._data), "mask": None if layer.mask is None else bytes(layer.mask._data)})
    return {"layers": layers, "selection": bytes(image.selection._data), "channels": len(image.channels),
            "paths": paths(image),
            "undo_steps": [[list(step) for step in group] for group in image.undo_steps],
            "open_groups": image._group_depth, "messages": list(gimp.messages)}


def _write(folder, result):
    """Bytes go to files, the rest to result.json."""
    def store(name, data):
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(data)
        return name
    for index, layer in enumerate(result["layers"]):
        layer["pixels"] = store("layer%d.raw" % index, layer["pixels"])
        if layer["mask"] is not None:
            layer["mask"] = store("mask%d.raw" % index, layer["mask"])
    result["selection"] = store("selection.raw", result["selection"])
    with open(os.path.join(folder, "result.json"), "w") as handle:
        json.dump(result, handle)


def run_job(job):
    load_plugin(job["plugin_dir"])
    with open(job["pixels"], "rb") as handle:
        pixels = handle.read()
    image, layer = new_image(job["width"], job["height"], job["type"], pixels,
                             tuple(job.get("offsets", (0, 0))), job.get("canvas"))
    if job.get("select"):
        x, y, w, h = job["select"]
        pdb.gimp_image_select_rectangle(image, gimpfu.CHANNEL_OP_REPLACE, x, y, w, h)
        del image.undo_steps[:]
    for name, strokes in job.get("paths", []):
        add_path(image, name, strokes)
    procedure = pdb[job["procedure"]]
    procedure(image, layer, *job["args"])
    _write(job["out"], snapshot(image))


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        run_job(json.load(handle))
