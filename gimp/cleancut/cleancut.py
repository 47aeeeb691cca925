#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut for GIMP 3: local AI background removal as a layer mask, a selection or a cut-out.

Two procedures, both ImageProcedures that work on every selected layer:

* ``plug-in-cleancut-remove-background`` — Layer > Mask > Remove Background…
  arguments: model (id, "" = the engine's default), refine (an engine refine mode, "" = the
  engine's default: a preset's own mode, else the engine's), output ("mask" | "selection" |
  "layer"), selection-hint (bool), points (bool, default on: the anchors of the image's paths
  named "include…" or "+…" are include points, of those named "exclude…" or "-…" exclude points).
* ``plug-in-cleancut-select-subject`` — Select > Subject…: the same, output fixed to the selection.

Points: the user clicks them with GIMP's Paths tool (every click is an anchor) into a path
named "include" (the subject is here) or "exclude" (not this); they are sent in each layer's
own pixels (image coordinates less the layer's offsets), and a point off a layer stops the run
with a message before anything changes.

Non-interactive runs (scripts, batch mode) take the same arguments. The plug-in only reads
pixels, asks cleancut_client (copied beside this file) for the alpha and writes it back:
the engine runs in its own process (a shared worker that outlives this plug-in process, so the
model stays loaded between calls). Nothing in the image changes until every layer's alpha has
arrived; then everything is written inside one undo group.

Progress: interactively, the dialog stays open while the engine works, with a progress bar
that names the stage ("Downloading u2net: 34 of 176 MB" on a model's first run) and a Cancel
that cancels the engine's run, a download included; otherwise GIMP's own progress (the
status bar) shows the same text. GIMP's Cancel there ends this plug-in's process, and the
worker cancels the run of a connection that ends. Either way the image stays unchanged.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, GLib, GObject

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cleancut_client
from cleancut_client import CleancutError

REMOVE = "plug-in-cleancut-remove-background"
SELECT = "plug-in-cleancut-select-subject"
OUTPUTS = (("mask", "Layer mask"), ("selection", "Selection"), ("layer", "New layer with the cut-out"))

# GIMP precision → (the client's pixel/alpha format, babl component type). Masks are stored in
# the image's precision; u32, half and double images travel as f32 and babl converts.
_U8 = ("u8", "u8")
_U16 = ("u16", "u16")
_F32 = ("f32", "float")
_BABL_LAYOUT = {"RGB": "R'G'B'", "RGBA": "R'G'B'A", "Y": "Y'", "YA": "Y'A"}


def precision_format(image: Gimp.Image) -> tuple[str, str]:
    name = image.get_precision().value_nick  # e.g. "u8-non-linear", "float-linear"
    if name.startswith("u8"):
        return _U8
    if name.startswith("u16"):
        return _U16
    return _F32


def layer_layout(layer: Gimp.Layer) -> str:
    """The client's channel layout for a layer: grey layers travel as Y/YA, the rest as RGB(A)."""
    base = "Y" if layer.is_gray() else "RGB"
    return base + ("A" if layer.has_alpha() else "")


def target_layers(drawables: Sequence[Gimp.Drawable]) -> list[Gimp.Layer]:
    """The layers to work on: selected layers, and the layer of a selected layer mask."""
    layers: list[Gimp.Layer] = []
    for drawable in drawables:
        if isinstance(drawable, Gimp.LayerMask):
            drawable = Gimp.Layer.from_mask(drawable)
        if isinstance(drawable, Gimp.Layer) and drawable not in layers:
            layers.append(drawable)
    return layers


# GIMP 3.2's text, vector and link layers: drawn from their text, path or file until rasterized.
_RASTERIZABLE = getattr(Gimp, "Rasterizable", ())

_REGION = bytes([0] + [128] * 255)  # selection value → hint: unselected 0, (partly) selected 128


def read_hint(image: Gimp.Image, layer: Gimp.Layer) -> bytes | None:
    """The current selection over the layer, as a region hint: outside is background (0),
    inside is for the model to decide (128). None when nothing is selected."""
    if Gimp.Selection.is_empty(image):
        return None
    _, x, y = layer.get_offsets()
    rect = Gegl.Rectangle.new(x, y, layer.get_width(), layer.get_height())
    selected = image.get_selection().get_buffer().get(rect, 1.0, "Y u8", Gegl.AbyssPolicy.NONE)
    return bytes(selected).translate(_REGION)


# Paths whose names start with these (case and leading spaces aside) hold include / exclude points.
POINT_PATHS = (("include", ("include", "+")), ("exclude", ("exclude", "-")))


class Point(NamedTuple):
    """An anchor of an include or exclude path, in image coordinates (pixels, may be fractional)."""

    kind: str  # "include" | "exclude"
    x: float
    y: float
    path: str  # the path's name, for messages


class PointOffLayer(Exception):
    """A point that lies outside a layer the run works on; str() is the message for the user."""


def path_kind(name: str) -> str | None:
    """"include", "exclude" or None (not a path of points) for a path's name."""
    text = name.strip().lower()
    for kind, prefixes in POINT_PATHS:
        if text.startswith(prefixes):
            return kind
    return None


def anchors(path: Gimp.Path) -> list[tuple[float, float]]:
    """Every anchor of every stroke of ``path`` (a Paths-tool click makes one), in image coordinates."""
    found = []
    for stroke in path.get_strokes():
        _, coords, _ = path.stroke_get_points(stroke)
        # A Bézier stroke's points come in triplets (control, anchor, control), each an x, y pair.
        found += [(coords[i + 2], coords[i + 3]) for i in range(0, len(coords) - 5, 6)]
    return found


def read_points(image: Gimp.Image) -> list[Point]:
    """The include and exclude points of the image's paths (top of the Paths dock first)."""
    points = []
    for path in image.get_paths():
        kind = path_kind(path.get_name())
        if kind is not None:
            points += [Point(kind, x, y, path.get_name()) for x, y in anchors(path)]
    return points


def points_summary(points: list[Point]) -> str:
    """What the dialog says about the points it will send."""
    if not points:
        return ("No include or exclude points. To point at the subject, click points with the Paths tool "
                "into a path named \"include\" (the subject is here) or \"exclude\" (not this), then run this again.")
    counts = {kind: sum(p.kind == kind for p in points) for kind, _ in POINT_PATHS}
    paths = sorted({p.path for p in points})
    return (f"Points: {counts['include']} include (the subject is there), {counts['exclude']} exclude "
            f"(not the subject), from the paths {', '.join(repr(name) for name in paths)}.")


def _number(value: float) -> str:
    return f"{value:g}"


def layer_points(points: list[Point], layer: Gimp.Layer) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(include, exclude) in the layer's own pixels: image coordinates less the layer's offsets.
    PointOffLayer for a point that does not lie on the layer."""
    _, left, top = layer.get_offsets()
    width, height = layer.get_width(), layer.get_height()
    found: dict[str, list[tuple[float, float]]] = {"include": [], "exclude": []}
    for point in points:
        x, y = point.x - left, point.y - top
        if not (0 <= x < width and 0 <= y < height):
            raise PointOffLayer(
                f"The {point.kind} point at {_number(point.x)}, {_number(point.y)} (path \"{point.path}\") lies "
                f"outside the layer \"{layer.get_name()}\" ({width}×{height} at {left}, {top}). Move the point "
                "onto the layer or delete it, or run without the points. The image was not changed.")
        found[point.kind].append((x, y))
    return found["include"], found["exclude"]


class Frame(NamedTuple):
    """A layer's pixels as the engine gets them, read on GIMP's thread before the engine runs."""

    pixels: bytes
    width: int
    height: int
    layout: str
    hint: bytes | None
    include: list[tuple[float, float]]
    exclude: list[tuple[float, float]]


class Plan(NamedTuple):
    """What one run does: its output, the engine options, the image's format and every frame."""

    output: str
    options: dict[str, Any]
    fmt: tuple[str, str]
    frames: list[Frame]


# report(fraction of the whole run, the words for it) drives a progress display.
Report = Callable[[float, str], None]


def read_frame(image: Gimp.Image, layer: Gimp.Layer, fmt: tuple[str, str], use_hint: bool,
               points: list[Point]) -> Frame:
    """The whole layer (its own size, not the canvas) in ``fmt``, the selection hint and the
    points in the layer's pixels (PointOffLayer before any pixel is read)."""
    include, exclude = layer_points(points, layer)
    width, height = layer.get_width(), layer.get_height()
    layout = layer_layout(layer)
    babl = f"{_BABL_LAYOUT[layout]} {fmt[1]}"
    pixels = layer.get_buffer().get(Gegl.Rectangle.new(0, 0, width, height), 1.0, babl,
                                    Gegl.AbyssPolicy.CLAMP)
    return Frame(bytes(pixels), width, height, layout, read_hint(image, layer) if use_hint else None,
                 include, exclude)


def plan_run(image: Gimp.Image, layers: list[Gimp.Layer], config: Gimp.ProcedureConfig, select_only: bool) -> Plan:
    """The run the (confirmed) arguments ask for, with every layer's pixels read."""
    output = "selection" if select_only else config.get_property("output")
    # The engine's default sends no refine, so the engine applies a preset's own mode (the quality
    # preset's "best").
    options = cleancut_client.run_options(config.get_property("model"), config.get_property("refine"))
    fmt = precision_format(image)
    use_hint = bool(config.get_property("selection-hint"))
    points = read_points(image) if config.get_property("points") else []
    for layer in layers:  # every point checked on every layer before anything is read or sent
        layer_points(points, layer)
    return Plan(output, options, fmt, [read_frame(image, layer, fmt, use_hint, points) for layer in layers])


def compute_alphas(client: cleancut_client.Client, plan: Plan, report: Report,
                   cancelled: Callable[[], bool] | None = None) -> list[bytes]:
    """Every frame's alpha from the engine (any thread: no GIMP call here), reported as it goes."""
    alphas = []
    for index, frame in enumerate(plan.frames):
        def progress(fraction: float, stage: str, download: dict[str, Any] | None = None, index: int = index) -> None:
            share = cleancut_client.progress_fraction(fraction, download)
            report((index + share) / len(plan.frames), cleancut_client.progress_text(stage, download))

        alphas.append(client.remove(frame.pixels, frame.width, frame.height, channels=frame.layout,
                                    pixel_format=plan.fmt[0], options=plan.options, hint=frame.hint,
                                    alpha_format=plan.fmt[0], progress=progress, cancelled=cancelled,
                                    include=frame.include or None, exclude=frame.exclude or None))
    return alphas


def status_bar(title: str) -> Report:
    """GIMP's own progress for this call (the image window's status bar), with the stage's words."""
    Gimp.progress_init(title)
    shown = {"text": ""}

    def report(fraction: float, text: str) -> None:
        if text != shown["text"]:
            Gimp.progress_set_text(f"{title}: {text}")
            shown["text"] = text
        Gimp.progress_update(fraction)

    return report


def write_pixels(drawable: Gimp.Drawable, rect: Gegl.Rectangle, babl: str, data: bytes) -> None:
    buffer = drawable.get_buffer()
    buffer.set(rect, babl, data)
    buffer.flush()
    drawable.update(rect.x, rect.y, rect.width, rect.height)


def write_mask(layer: Gimp.Layer, alpha: bytes, babl: str) -> Gimp.LayerMask:
    """Give ``layer`` a mask holding ``alpha``; an existing mask is replaced, never merged."""
    if layer.get_mask() is not None:
        layer.remove_mask(Gimp.MaskApplyMode.DISCARD)
    mask = layer.create_mask(Gimp.AddMaskType.WHITE)
    layer.add_mask(mask)
    write_pixels(mask, Gegl.Rectangle.new(0, 0, layer.get_width(), layer.get_height()), babl, alpha)
    return mask


def apply_results(image: Gimp.Image, layers: list[Gimp.Layer], alphas: list[bytes], output: str,
                  fmt: tuple[str, str]) -> None:
    """Write every layer's alpha as ``output``, all inside one undo group."""
    babl = f"Y {fmt[1]}"  # linear Y: the stored value is the alpha itself
    image.undo_group_start()
    try:
        if output == "selection":
            # Selections are linear like masks (plain channels of 8-bit perceptual images are not):
            # the alpha goes into a temporary layer's mask at the layer's place, and GIMP makes
            # the selection from that, clipped to the canvas.
            holder_type = {Gimp.ImageBaseType.RGB: Gimp.ImageType.RGBA_IMAGE,
                           Gimp.ImageBaseType.GRAY: Gimp.ImageType.GRAYA_IMAGE,
                           Gimp.ImageBaseType.INDEXED: Gimp.ImageType.INDEXEDA_IMAGE}[image.get_base_type()]
            for index, (layer, alpha) in enumerate(zip(layers, alphas)):
                holder = Gimp.Layer.new(image, "cleancut", layer.get_width(), layer.get_height(), holder_type,
                                        100.0, Gimp.LayerMode.NORMAL)
                image.insert_layer(holder, None, 0)
                holder.set_offsets(*layer.get_offsets()[1:])
                mask = write_mask(holder, alpha, babl)
                image.select_item(Gimp.ChannelOps.REPLACE if index == 0 else Gimp.ChannelOps.ADD, mask)
                image.remove_layer(holder)
            image.set_selected_layers(layers)  # the holders took the layer selection away
        else:
            for layer, alpha in zip(layers, alphas):
                if output == "layer":
                    cutout = layer.copy()
                    parent = cast("Gimp.GroupLayer | None", layer.get_parent())  # a layer's parent is a group
                    image.insert_layer(cutout, parent, image.get_item_position(layer))
                    if isinstance(cutout, _RASTERIZABLE):
                        # The cut-out is pixels: a live copy would be drawn again from its text,
                        # path or linked file (a link layer's when the file changes), losing the cut.
                        cutout.rasterize()
                    cutout.set_name(f"{layer.get_name()} (cut-out)")
                    if cutout.get_mask() is not None:
                        cutout.remove_mask(Gimp.MaskApplyMode.APPLY)
                    if not cutout.has_alpha():
                        cutout.add_alpha()
                    write_mask(cutout, alpha, babl)
                    cutout.remove_mask(Gimp.MaskApplyMode.APPLY)
                else:
                    write_mask(layer, alpha, babl)
    finally:
        image.undo_group_end()
    Gimp.displays_flush()


def failure(procedure: Gimp.Procedure, message: str) -> Gimp.ValueArray:
    """An EXECUTION_ERROR whose message GIMP shows to the user as is."""
    return procedure.new_return_values(Gimp.PDBStatusType.EXECUTION_ERROR, GLib.Error(message))


def run(procedure: Gimp.Procedure, run_mode: Gimp.RunMode | str, image: Gimp.Image,
        drawables: Sequence[Gimp.Drawable], config: Gimp.ProcedureConfig, data: object) -> Gimp.ValueArray:
    """Both procedures' run function (typed as GIMP's introspection data declares the callback)."""
    select_only = procedure.get_name() == SELECT
    layers = target_layers(drawables)
    if not layers:
        return failure(procedure, "Remove Background works on layers: select one or more layers first.")
    client = cleancut_client.Client(shared=True)
    stage = "computing"  # nothing in the image changes before "writing"
    title = "Selecting the subject" if select_only else "Removing the background"
    try:
        if run_mode == Gimp.RunMode.INTERACTIVE:
            import cleancut_dialog  # GTK only when a person is there

            def prepare() -> Callable[[Report, Callable[[], bool]], tuple[Plan, list[bytes]]]:
                plan = plan_run(image, layers, config, select_only)  # GIMP's thread, after OK
                return lambda report, cancelled: (plan, compute_alphas(client, plan, report, cancelled))

            outcome = cleancut_dialog.run(procedure, config, client, select_only, prepare,
                                          points_summary(read_points(image)))
            if outcome is None:
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
            plan, alphas = outcome
        else:
            plan = plan_run(image, layers, config, select_only)
            alphas = compute_alphas(client, plan, status_bar(title))
            Gimp.progress_end()
        stage = "writing"
        apply_results(image, layers, alphas, plan.output, plan.fmt)
    except PointOffLayer as err:
        return failure(procedure, str(err))
    except CleancutError as err:
        if err.kind == "cancelled":  # the user's Cancel: nothing was changed, nothing to say
            return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
        return failure(procedure, f"cleancut: {err}")
    except Exception as err:  # a bug: say what happened, keep the traceback off the user's screen
        traceback.print_exc()
        outcome_text = ("The image was not changed." if stage == "computing" else
                        "Part of the result may have been written: Edit > Undo removes it.")
        return failure(procedure, f"cleancut failed unexpectedly ({type(err).__name__}: {err}). {outcome_text} "
                                  "Please report this with the output of GIMP's error console.")
    finally:
        client.close()
    return procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())


class Cleancut(Gimp.PlugIn):
    def do_set_i18n(self, name: str) -> tuple[bool, str | None, str | None]:
        return False, None, None  # English only for now: no message catalog to look for

    def do_query_procedures(self) -> list[str]:
        return [REMOVE, SELECT]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE
                                       | Gimp.ProcedureSensitivityMask.DRAWABLES)
        procedure.set_attribution("cleancut contributors", "GPL-3.0-or-later", "2026")
        if name == REMOVE:
            procedure.set_menu_label("Remove _Background…")
            procedure.add_menu_path("<Image>/Layer/Mask")
            procedure.set_documentation(
                "Remove the background of the selected layers with a local AI model",
                "Computes the subject's alpha for every selected layer on this computer (nothing is "
                "uploaded) and writes it as a layer mask (replacing an existing mask), as the selection, "
                "or as a new cut-out layer above each layer, in one undo step.", name)
        else:
            procedure.set_menu_label("_Subject…")
            procedure.add_menu_path("<Image>/Select")
            procedure.set_documentation(
                "Select the subject of the selected layers with a local AI model",
                "Replaces the selection with the subject found by a local AI model in every selected "
                "layer (their union), in one undo step.", name)
        procedure.add_string_argument("model", "_Model", "Model id (empty: the engine's default model)",
                                      cleancut_client.ENGINE_DEFAULT, GObject.ParamFlags.READWRITE)
        procedure.add_string_argument("refine", "_Edge refinement",
                                      "Edge refinement mode of the engine (empty: the engine's default, "
                                      "which is a preset's own mode)", cleancut_client.ENGINE_DEFAULT,
                                      GObject.ParamFlags.READWRITE)
        if name == REMOVE:
            choice = Gimp.Choice.new()
            for index, (nick, label) in enumerate(OUTPUTS):
                choice.add(nick, index, label, "")
            procedure.add_choice_argument("output", "Out_put", "Where the result goes", choice, "mask",
                                          GObject.ParamFlags.READWRITE)
        procedure.add_boolean_argument("selection-hint", "_Use the current selection as a hint",
                                       "Only the selected area can be subject: outside it is background; a selection that "
                                       "leaves much of the layer out is a box prompt (the model sees a crop around it)",
                                       False, GObject.ParamFlags.READWRITE)
        procedure.add_boolean_argument("points", "Use the points of the paths named _include and exclude",
                                       "Point at the subject: the anchors of paths named \"include\" (or starting with "
                                       "include or +) say the subject is there, those of paths named \"exclude\" (or "
                                       "starting with exclude or -) say that is not the subject. Click them with the Paths "
                                       "tool; every point must lie on each layer the run works on",
                                       True, GObject.ParamFlags.READWRITE)
        return procedure


if __name__ == "__main__":
    Gimp.main(Cleancut, sys.argv)
