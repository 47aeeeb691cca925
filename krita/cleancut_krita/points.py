# SPDX-License-Identifier: GPL-3.0-or-later
"""Include and exclude points: the user points at the subject with Krita's own vector tools.

A Python plug-in cannot add a canvas tool (libkis has no tool API; Krita Vision Tools' "Select
Segment from Point" is a C++ tool built against Krita's internals), so points are shapes:

* a vector layer whose name begins with "include" holds points on the subject (the result
  contains them), one whose name begins with "exclude" points that are not the subject (the
  result leaves them out); any case, anywhere in the layer tree, as many layers as you like;
* each shape on such a layer (a small circle drawn with the Ellipse tool, say) is one point, at
  the centre of its bounding box;
* hidden layers and hidden shapes do not count: the eye in the Layers docker switches points off.

Krita draws, moves, deletes, undoes and saves these shapes with the document, and they never
touch the photo's pixels. libkis gives a shape's bounding box in points (1/72 inch) in the
document's coordinates, the layer's own offset included, so a pixel is points × resolution / 72
(checked in the real Krita 5.1 to 6.0, at 72 and 150 ppi, against where Krita paints the shape).
The engine wants the points in the pixels of the frame it is sent (layers.read_frame): the
frame's origin is subtracted, and a point off the layer is the user's to fix, before any work.
"""

import math

from .layers import LAYER_TYPES, UserError

KINDS = ("include", "exclude")
# The engine's limit (cleancut.prompts.MAX_CLICKS): include and exclude points together.
MAX_POINTS = 64


def kind_of(node):
    """The kind of points a layer's name (any case) says it holds: "include", "exclude" or None."""
    name = node.name().strip().lower()
    for kind in KINDS:
        if name.startswith(kind):
            return kind
    return None


def _walk(nodes, ancestors=()):
    """Every node under ``nodes`` with the ids of the nodes above it."""
    for node in nodes:
        yield node, ancestors
        yield from _walk(node.childNodes(), ancestors + (node.uniqueId(),))


def points_layers(document):
    """(kind, layer) for every visible include / exclude layer (a hidden group hides its layers)."""
    found = []
    hidden_ids = set()
    for node, ancestors in _walk(document.topLevelNodes()):
        if not node.visible() or any(a in hidden_ids for a in ancestors):
            hidden_ids.add(node.uniqueId())
            continue
        kind = kind_of(node) if node.type() in LAYER_TYPES else None  # masks are never points layers
        if kind is not None:
            found.append((kind, node, ancestors))
    return found


def read_points(document, target, frame):
    """(include, exclude): lists of (x, y) in the frame's pixels, from the visible points layers.

    UserError, before anything is sent, when a points layer is not a vector layer, when the
    target is a points layer or a group holding one (its dots would be cut out too), when a
    point lies off the target layer, or when there are more than MAX_POINTS.
    """
    points = {"include": [], "exclude": []}
    target_id = target.uniqueId()
    scale = document.resolution() / 72.0 if document.resolution() > 0 else 1.0
    for kind, layer, ancestors in points_layers(document):
        name = layer.name()
        if layer.uniqueId() == target_id:
            raise UserError("The active layer \u201c%s\u201d holds %s points for cleancut: select the layer "
                            "to cut out in the Layers docker, then run it again." % (name, kind))
        if layer.type() != "vectorlayer":
            raise UserError("The layer \u201c%s\u201d is named like %s points but is not a vector layer: "
                            "cleancut reads points from the shapes of a vector layer (Layer > New > Add "
                            "Vector Layer, then draw small circles with the Ellipse tool). Rename the layer "
                            "or hide it." % (name, kind))
        if target_id in ancestors:
            raise UserError("The %s points layer \u201c%s\u201d is inside the group \u201c%s\u201d that is being "
                            "cut out, so its shapes would be cut out with it: move it out of the group."
                            % (kind, name, target.name()))
        for shape in layer.shapes():
            if not shape.visible():
                continue
            centre = shape.boundingBox().center()
            x, y = centre.x() * scale, centre.y() * scale  # document pixels
            if not (frame.x <= x < frame.x + frame.width and frame.y <= y < frame.y + frame.height):
                raise UserError(
                    "The %s point at %d, %d (a shape on the layer \u201c%s\u201d) lies outside the layer "
                    "\u201c%s\u201d, which covers x %d to %d and y %d to %d: move the point onto the layer, "
                    "or delete or hide it. Nothing was changed."
                    % (kind, math.floor(x), math.floor(y), name, target.name(), frame.x,
                       frame.x + frame.width - 1, frame.y, frame.y + frame.height - 1))
            points[kind].append((x - frame.x, y - frame.y))
    total = len(points["include"]) + len(points["exclude"])
    if total > MAX_POINTS:
        raise UserError("cleancut takes at most %d include and exclude points together; the visible "
                        "points layers hold %d: hide or delete some." % (MAX_POINTS, total))
    return points["include"], points["exclude"]
