# SPDX-License-Identifier: GPL-3.0-or-later
"""Krita's side of the pixels: read a layer for the engine, write the mask or the selection.

Everything here runs on Krita's GUI thread (libkis is not thread-safe). One code path per
capability, chosen by what the running Krita offers:

* transparency mask with given pixels: ``Document.createTransparencyMask`` (Krita 5.2+);
  Krita 5.1 has no such call, so the mask is made by Krita's own "Add Transparency Mask"
  action (one undo step) with no selection active (a full mask), then its pixels are written.
* the global selection: ``Document.setSelection`` (every 5.x).

Krita's masks and selections are 8-bit whatever the image's depth, so the alpha is always u8.

Include and exclude points (read_points): the user points at the subject with Krita's own vector
tools. A Python plug-in cannot add a canvas tool (libkis has no tool API; Krita Vision Tools'
"Select Segment from Point" is a C++ tool built against Krita's internals), so points are shapes:

* a vector layer whose name begins with "include" holds points on the subject (the result
  contains them), one whose name begins with "exclude" points that are not the subject (the
  result leaves them out); any case, anywhere in the layer tree, as many layers as you like;
* each shape on such a layer (a small circle drawn with the Ellipse tool, say) is one point, at
  the centre of its bounding box;
* hidden layers and hidden shapes do not count: the eye in the Layers docker switches points off.

Krita draws, moves, deletes, undoes and saves these shapes with the document, and they never
touch the photo's pixels. libkis gives a shape's bounding box in points (1/72 inch) in the
document's coordinates, the layer's own offset included, so a pixel is points × resolution / 72
(checked in the real Krita 5.1 and 6.0 at 72 and 150 ppi against where Krita paints the shape).
The engine wants the points in the pixels of the frame it is sent (read_frame): the frame's
origin is subtracted, and a point off the layer is the user's to fix, before any work.
"""

import math

from krita import Krita, Selection

MASK_NAME = "Background removed (cleancut)"
MASK_TYPES = ("transparencymask", "filtermask", "transformmask", "selectionmask", "colorizemask")
LAYER_TYPES = ("paintlayer", "grouplayer", "filelayer", "filllayer", "clonelayer", "vectorlayer",
               "filterlayer")
# Pixels the engine takes as they come (Krita stores RGBA as BGRA, so B and R are swapped);
# every other colour space is converted to 8-bit sRGB by Krita itself.
DIRECT = {("RGBA", "U8"): ("RGBA", "u8"), ("RGBA", "U16"): ("RGBA", "u16"),
          ("GRAYA", "U8"): ("YA", "u8"), ("GRAYA", "U16"): ("YA", "u16")}
SRGB8 = ("RGBA", "U8", "sRGB-elle-V2-srgbtrc.icc")
# A selection as a region hint (as in the GIMP plug-in): unselected is background (0), selected
# or partly selected is "the model decides" (128).
REGION = bytes([0] + [128] * 255)


class UserError(Exception):
    """Something the user can fix in the document (shown as is)."""


class Frame:
    """The pixels of one layer as the engine takes them, and where they are in the image."""

    def __init__(self, pixels, x, y, width, height, channels, pixel_format, converted):
        self.pixels = pixels
        self.x, self.y, self.width, self.height = x, y, width, height
        self.channels = channels
        self.pixel_format = pixel_format
        self.converted = converted  # True when Krita converted the colour space for the engine


def target_layer(document):
    """The layer an action works on: the active layer (a mask stands for the layer it is on)."""
    node = document.activeNode()
    if node is not None and node.type() in MASK_TYPES:
        node = node.parentNode()
    if node is None or node.type() not in LAYER_TYPES:
        raise UserError("Select a layer in the Layers docker first.")
    return node


def read_frame(node):
    """The layer's pixels over its exact bounds: its own for a paint layer, else its projection."""
    rect = node.bounds()
    x, y, width, height = rect.x(), rect.y(), rect.width(), rect.height()
    if width <= 0 or height <= 0:
        raise UserError("The layer \u201c%s\u201d is empty: there is nothing to cut out." % node.name())
    if node.type() == "paintlayer":
        raw = node.pixelData(x, y, width, height).data()
    else:  # a group (or any other layer): what it shows, its children composited
        raw = node.projectionPixelData(x, y, width, height).data()
    key = (node.colorModel(), node.colorDepth())
    if key in DIRECT:
        channels, pixel_format = DIRECT[key]
        converted = False
    else:
        raw = convert_to_srgb8(raw, width, height, key[0], key[1], node.colorProfile())
        channels, pixel_format, converted = "RGBA", "u8", True
    if channels == "RGBA":
        raw = bgra_to_rgba(raw, pixel_format)
    return Frame(raw, x, y, width, height, channels, pixel_format, converted)


def bgra_to_rgba(raw, pixel_format):
    """Krita's BGRA byte order to RGBA (slice copies, at C speed)."""
    out = bytearray(raw)
    if pixel_format == "u8":
        out[0::4], out[2::4] = raw[2::4], raw[0::4]
    else:
        source, target = memoryview(raw).cast("H"), memoryview(out).cast("H")
        target[0::4], target[2::4] = source[2::4], source[0::4]
    return bytes(out)


def convert_to_srgb8(raw, width, height, model, depth, profile):
    """Pixels of any Krita colour space as 8-bit sRGB BGRA, converted by Krita (colour-managed).

    Used for float, CMYK, Lab, XYZ and YCbCr layers: a hidden document that is never shown,
    so the user's document and its undo history are untouched.
    """
    temporary = Krita.instance().createDocument(width, height, "cleancut conversion", model, depth,
                                                profile, 72.0)
    if temporary is None:
        raise UserError("Krita could not convert the %s %s layer for cleancut." % (model, depth))
    try:
        layer = temporary.topLevelNodes()[0]
        layer.setPixelData(raw, 0, 0, width, height)
        temporary.setColorSpace(*SRGB8)
        temporary.waitForDone()
        return layer.pixelData(0, 0, width, height).data()
    finally:
        temporary.setModified(False)
        temporary.close()


def selection_hint(document, frame):
    """The document's selection over the frame as a region hint, or None without a selection."""
    selection = document.selection()
    if selection is None:
        return None
    return selection.pixelData(frame.x, frame.y, frame.width, frame.height).data().translate(REGION)


def find_node(document, unique_id):
    """The node with this id if it is still in the document (the user may have deleted it)."""
    stack = list(document.topLevelNodes())
    while stack:
        node = stack.pop()
        if node.uniqueId() == unique_id:
            return node
        stack.extend(node.childNodes())
    return None


def add_transparency_mask(document, layer, alpha, frame):
    """Add a transparency mask named MASK_NAME with this alpha to the layer; one undo step."""
    if hasattr(document, "createTransparencyMask"):  # Krita 5.2+
        mask = document.createTransparencyMask(MASK_NAME)
        selection = Selection()
        selection.setPixelData(alpha, frame.x, frame.y, frame.width, frame.height)
        mask.setSelection(selection)
        layer.addChildNode(mask, None)  # one "Add Layer" command
        document.waitForDone()
        return mask
    return _add_mask_by_action(document, layer, alpha, frame)


def _add_mask_by_action(document, layer, alpha, frame):
    """Krita 5.1: Krita's "Add Transparency Mask" action, then the mask's pixels are written.

    The action would copy an active selection into the mask and then deselect inside its undo
    step (so undoing it would bring back a selection that was never the user's), so any
    selection is set aside while it runs and put back after: the one undo step then removes the
    mask and nothing else.
    """
    previous = document.selection()
    previous = previous.duplicate() if previous is not None else None
    before = {node.uniqueId() for node in layer.childNodes()}
    try:
        if previous is not None:
            document.setSelection(None)
        document.setActiveNode(layer)
        add_mask = Krita.instance().action("add_new_transparency_mask")
        if add_mask is None:  # Krita.action() answers None for an action it does not have
            raise UserError("This Krita has no \u201cAdd Transparency Mask\u201d action, which cleancut "
                            "needs here: please report your Krita version.")
        add_mask.trigger()
        document.waitForDone()
    finally:
        if previous is not None:
            document.setSelection(previous)
    added = [node for node in layer.childNodes()
             if node.uniqueId() not in before and node.type() == "transparencymask"]
    if len(added) != 1:
        raise UserError("Krita did not add a transparency mask to \u201c%s\u201d: make it the "
                        "active layer and try again." % layer.name())
    mask = added[0]
    mask.setName(MASK_NAME)
    mask.setPixelData(alpha, frame.x, frame.y, frame.width, frame.height)
    document.refreshProjection()
    return mask


def set_selection(document, alpha, frame):
    """Replace the document's global selection with this alpha over the frame's rectangle."""
    selection = Selection()
    selection.setPixelData(alpha, frame.x, frame.y, frame.width, frame.height)
    document.setSelection(selection)
    document.waitForDone()


# --- include and exclude points ---------------------------------------------------------------
POINT_KINDS = ("include", "exclude")
# The engine's limit (cleancut.prompts.MAX_CLICKS): include and exclude points together.
MAX_POINTS = 64


def kind_of(node):
    """The kind of points a layer's name (any case) says it holds: "include", "exclude" or None."""
    name = node.name().strip().lower()
    for kind in POINT_KINDS:
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


def pixels_per_point(document):
    """(x, y): the document's pixels per point (1/72 inch), exactly. resolution() is whole ppi
    (rounded: a 299.6 ppi scan would put a point 0.8 px off at x = 600), so xRes() and yRes()
    are read; Krita versions disagree on their unit (pixels per point in some, ppi in others),
    and the one whose ppi rounds to resolution() is the unit of this Krita."""
    x, y = document.xRes(), document.yRes()
    if abs(x * 72.0 - document.resolution()) > 0.5:  # they are ppi
        x, y = x / 72.0, y / 72.0
    return (x if x > 0 else 1.0, y if y > 0 else 1.0)


def read_points(document, target, frame):
    """(include, exclude): lists of (x, y) in the frame's pixels, from the visible points layers.

    UserError, before anything is sent, when a points layer is not a vector layer, when the
    target is a points layer or a group holding one (its dots would be cut out too), when a
    point lies off the target layer, or when there are more than MAX_POINTS.
    """
    points = {"include": [], "exclude": []}  # type: dict[str, list[tuple[float, float]]]
    target_id = target.uniqueId()
    scale_x, scale_y = pixels_per_point(document)
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
            x, y = centre.x() * scale_x, centre.y() * scale_y  # document pixels
            if not (frame.x <= x < frame.x + frame.width and frame.y <= y < frame.y + frame.height):
                raise UserError(
                    "The %s point at %d, %d (a shape on the layer \u201c%s\u201d) lies outside the layer "
                    "\u201c%s\u201d, which covers x %d to %d and y %d to %d: move the point onto the layer, "
                    "or delete or hide it. Nothing was changed."
                    % (kind, math.floor(x), math.floor(y), name, target.name(), frame.x,
                       frame.x + frame.width - 1, frame.y, frame.y + frame.height - 1))
            # To a thousandth of a pixel: a circle centred on a pixel's edge (256.0) must not land in
            # the pixel before it through the float arithmetic (255.99999999999994).
            points[kind].append((round(x - frame.x, 3), round(y - frame.y, 3)))
    total = len(points["include"]) + len(points["exclude"])
    if total > MAX_POINTS:
        raise UserError("cleancut takes at most %d include and exclude points together; the visible "
                        "points layers hold %d: hide or delete some." % (MAX_POINTS, total))
    return points["include"], points["exclude"]
