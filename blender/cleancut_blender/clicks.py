# SPDX-License-Identifier: GPL-3.0-or-later
"""Include and exclude points for a still, placed with Blender's Annotate tool in the Image Editor.

An annotation layer named "include" holds points on the subject, one named "exclude" points
that are not the subject (names without regard to case; other layers and hidden layers are
ignored). Each stroke is one point: where the pen first touched (a click with the Annotate
tool makes a one-point stroke). The strokes read are those shown at the scene's current
frame (annotation frames work like keyframes).

Strokes drawn in the Image Editor with the Annotate tool's Placement "Image" (its default) are
kept in the image's UV space: (0, 0) the bottom-left corner, (1, 1) the top-right one (checked in
the real Blender 3.4 GUI: a stroke drawn at the region position of UV (0.25, 0.75) is stored as
(0.249, 0.75), and UV 0..1 spans the image's 512 pixels at zoom 1). The engine takes points in
pixels from the top-left corner, rows down, like the pixels sent (pixels.py flips Blender's
bottom-up rows): x = u × width, y = (1 − v) × height.
"""

from __future__ import annotations

from typing import Any

from . import compat

INCLUDE, EXCLUDE = "include", "exclude"
MAX_POINTS = 64  # include and exclude points together: the engine's limit (cleancut.prompts.MAX_CLICKS)


class ClickError(Exception):
    """Points that cannot guide this run, worded for the user."""


def _shown_frame(layer: Any, frame_current: int) -> Any:
    """The layer's frame shown at ``frame_current``: the last one that starts at or before it
    (the first one before the first start), None without frames."""
    frames = sorted(layer.frames, key=lambda f: f.frame_number)
    shown = [f for f in frames if f.frame_number <= frame_current]
    return shown[-1] if shown else (frames[0] if frames else None)


def layer_points(annotation: Any, frame_current: int) -> dict[str, list[tuple[str, float, float]]]:
    """{"include": [(layer name, u, v)], "exclude": [...]}: each stroke's first point in the
    visible layers named include / exclude, at the frame shown at ``frame_current``."""
    found: dict[str, list[tuple[str, float, float]]] = {INCLUDE: [], EXCLUDE: []}
    for layer in annotation.layers:
        kind = layer.info.strip().lower()
        if kind not in found or layer.annotation_hide:
            continue
        frame = _shown_frame(layer, frame_current)
        if frame is None:
            continue
        for stroke in frame.strokes:
            if not len(stroke.points):
                continue
            if not compat.stroke_on_image(stroke):
                raise ClickError("A stroke of the annotation layer %r is placed in the View, not on the image: "
                                 "draw points with the Annotate tool's Placement set to Image." % layer.info)
            u, v = stroke.points[0].co[0], stroke.points[0].co[1]
            found[kind].append((layer.info, u, v))
    return found


def has_points(annotation: Any, frame_current: int) -> bool:
    points = layer_points(annotation, frame_current)
    return bool(points[INCLUDE] or points[EXCLUDE])


def _number(value: float) -> str:
    return "%d" % value if float(value).is_integer() else "%.1f" % value


def in_pixels(annotation: Any, frame_current: int, name: str, width: int,
              height: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(include, exclude) points in pixels of the image ``name`` (width × height) from its
    top-left corner, rows down; ClickError for a point outside the image or too many points."""
    points = layer_points(annotation, frame_current)
    count = len(points[INCLUDE]) + len(points[EXCLUDE])
    if count > MAX_POINTS:
        raise ClickError("The annotation layers include and exclude hold %d points; at most %d can guide a cut-out."
                         % (count, MAX_POINTS))
    out: dict[str, list[tuple[float, float]]] = {INCLUDE: [], EXCLUDE: []}
    for kind in (INCLUDE, EXCLUDE):
        for layer, u, v in points[kind]:
            x, y = u * width, (1.0 - v) * height
            if not (0.0 <= x < width and 0.0 <= y < height):
                raise ClickError("The %s point at %s, %s (pixels from the top-left corner) of the annotation layer %r "
                                 "lies outside the image %r (%d×%d): move or erase it, then run Remove Background "
                                 "again." % (kind, _number(x), _number(y), layer, name, width, height))
            out[kind].append((x, y))
    return out[INCLUDE], out[EXCLUDE]
