# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenarios run inside the real Krita by the cleancut_driver plug-in (see krita_harness.py).

``main(spec, out)`` is a generator (the driver steps it from Krita's main loop): it builds
documents from the raw pixel files the test wrote, works cleancut's actions and dialogs the way
a user does (triggering the actions, clicking the progress dialog's Cancel, filling the options
dialog), and dumps what came out (masks, selections, the pixels the plug-in read, the undo
history, message boxes) to files and results.json for the test to check.

spec: {"only": [scenario names] (default: every one in SCENARIOS), "inputs": {name: raw file},
       "hint_rect": [x, y, w, h], "box": {"size": [w, h], "rect": [x, y, w, h]},
       "clicks": {"include": [[x, y]], "exclude": [[x, y]], "hidden": [[x, y]], "resolution": ppi,
                  "offset": [x, y], "offset_resolution": ppi, "layer_move": [dx, dy]}, "bench": {...}}
"""

import hashlib
import json
import os
import sys
import time

import cleancut_krita.extension as ccx
import cleancut_krita.layers as ccl
import cleancut_krita.options as cco
from cleancut_krita.qt import (  # the plug-in's Qt door: PyQt5 in Krita 5, PyQt6 in Krita 6
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QTimer,
)

from krita import Krita, Selection

APP = Krita.instance()
STATE = {"out": None, "spec": None, "serial": 0}


# --- plumbing -------------------------------------------------------------------------------
def ext():
    return ccx.INSTANCE


def dump(name, data):
    path = os.path.join(STATE["out"], name)
    with open(path, "wb") as handle:
        handle.write(bytes(data))
    return path


def sha(data):
    return hashlib.sha1(bytes(data)).hexdigest()


def raw_input(name):
    with open(STATE["spec"]["inputs"][name], "rb") as handle:
        return handle.read()


def new_document(width, height, model="RGBA", depth="U8", profile="", resolution=72.0):
    """A document shown in the window, its Background layer active (5.2 needs the main loop)."""
    STATE["serial"] += 1
    doc = APP.createDocument(width, height, "cleancut test %d" % STATE["serial"], model, depth, profile, resolution)
    APP.activeWindow().addView(doc)
    yield lambda: doc.activeNode() is not None
    return doc


def activate(doc, node):
    """Make the node the active one. Krita activates a layer added by a script a while later, on
    its own: the node is set again until it is the active one."""
    def active():
        current = doc.activeNode()
        if current is not None and current.uniqueId() == node.uniqueId():
            return True
        doc.setActiveNode(node)
        return False

    doc.setActiveNode(node)
    yield active


def paint_layer(doc, name, pixels, x, y, width, height, parent=None):
    node = doc.createNode(name, "paintlayer")
    (parent or doc.rootNode()).addChildNode(node, None)
    node.setPixelData(pixels, x, y, width, height)
    doc.waitForDone()
    return node


def close(doc):
    """Done with a document: it stays open (closing documents from a script crashed Krita 5.1
    now and then), unmodified so that quitting asks nothing."""
    doc.setModified(False)
    yield 50


def rect(node):
    r = node.bounds()
    return [r.x(), r.y(), r.width(), r.height()]


def history():
    """The undo history as Krita's History docker lists it, and the current position in it."""
    for dock in APP.activeWindow().qwindow().findChildren(QDockWidget):
        if dock.objectName() == "History":
            for view in dock.findChildren(QAbstractItemView):
                model = view.model()
                entries = [model.data(model.index(row, 0)) for row in range(model.rowCount())]
                return {"entries": entries, "current": view.currentIndex().row()}
    return None


def snapshot(doc):
    """Everything an action could change: the node tree with every node's pixels, the selection."""
    nodes = []

    def walk(node, depth):
        r = node.bounds()
        entry = {"name": node.name(), "type": node.type(), "depth": depth, "bounds": rect(node),
                 "id": node.uniqueId().toString()}
        if r.width() > 0 and r.height() > 0:
            entry["pixels"] = sha(node.pixelData(r.x(), r.y(), r.width(), r.height()))
        nodes.append(entry)
        for child in node.childNodes():
            walk(child, depth + 1)

    for node in doc.topLevelNodes():
        if node.type() != "selectionmask":  # the global selection: compared below, as a selection
            walk(node, 0)
    selection = doc.selection()
    chosen = None
    if selection is not None:
        chosen = [selection.x(), selection.y(), selection.width(), selection.height(),
                  sha(selection.pixelData(0, 0, doc.width(), doc.height()))]
    return {"nodes": nodes, "selection": chosen}


def error_boxes():
    """The texts of cleancut's visible message boxes; they are closed (as the user would)."""
    texts = []
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.objectName() == "cleancut-error" and widget.isVisible():
            texts.append(widget.text())
            widget.close()
    return texts


def trigger(action_id, on_started=None):
    """Trigger a cleancut action as a menu click would, and wait for its outcome."""
    extension = ext()
    count = len(extension.outcomes)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.time()))
    timer.start(10)
    started = time.time()
    APP.action(action_id).trigger()
    if on_started is not None:
        yield from on_started()
    yield lambda: len(extension.outcomes) > count
    timer.stop()
    outcome = dict(extension.outcomes[-1])
    outcome["trigger_to_outcome_s"] = time.time() - started
    times = outcome["timings"]
    if "read" in times and "engine" in times:
        # Main-loop turns while the engine worked: the GUI thread was free.
        outcome["ticks_while_engine_ran"] = len([t for t in ticks if times["read"] < t < times["engine"] - 0.03])
        outcome["engine_s"] = times["engine"] - times["read"]
    yield 30  # let Krita settle (message boxes open, projections update)
    outcome["boxes"] = error_boxes()
    return outcome


def undo(doc):
    APP.action("edit_undo").trigger()
    doc.waitForDone()
    yield 100


def redo(doc):
    APP.action("edit_redo").trigger()
    doc.waitForDone()
    yield 100


def masks_of(node):
    return [child for child in node.childNodes() if child.type() == "transparencymask"]


def mask_record(name, layer):
    """The layer's children and its cleancut mask's pixels over the layer's rectangle."""
    x, y, w, h = rect(layer)
    masks = masks_of(layer)
    record = {"children": [[c.name(), c.type()] for c in layer.childNodes()]}
    if masks:
        mask = masks[-1]
        record["mask"] = dump(name + "-mask.raw", mask.pixelData(x, y, w, h))
        record["mask_depth"] = [mask.colorModel(), mask.colorDepth()]
        # the layer as shown: its projection's alpha is the mask (the layer itself is opaque)
        record["projection"] = dump(name + "-projection.raw", layer.projectionPixelData(x, y, w, h))
    return record


def frame_record(name, node):
    """What the plug-in's own reader sends the engine for this node (same function, same bytes)."""
    frame = ccl.read_frame(node)
    return {"frame": dump(name + "-frame.raw", frame.pixels), "frame_rect": [frame.x, frame.y, frame.width, frame.height],
            "channels": frame.channels, "pixel_format": frame.pixel_format, "converted": frame.converted}


def set_options(model="", refine="", selection_hint=False):
    cco.write_settings(model, refine, selection_hint)


# --- scenarios ------------------------------------------------------------------------------
def scenario_menus():
    """Where the actions are, and that Krita's action registry read the .action file."""
    window = APP.activeWindow().qwindow()
    menus = {}
    for top in window.menuBar().actions():
        if top.menu() is not None:
            menus[top.objectName()] = [a.objectName() for a in top.menu().actions()]
    actions = {}
    for name in ("cleancut_remove_background", "cleancut_select_subject", "cleancut_options"):
        action = APP.action(name)
        actions[name] = None if action is None else {
            "text": action.text(), "toolTip": action.toolTip(), "statusTip": action.statusTip(),
            "whatsThis": action.whatsThis()}
    plugins = [e.__class__.__module__ for e in APP.extensions()]
    return {"menus": menus, "actions": actions, "extension_modules": plugins,
            "version": APP.version(), "python": sys.version.split()[0]}
    yield  # a generator like the others


def scenario_photo8():
    """8-bit RGBA photo: mask = engine alpha; one undo step; undo/redo; the UI stays live."""
    set_options()
    doc = yield from new_document(512, 512)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    doc.waitForDone()
    before, history_before = snapshot(doc), history()
    outcome = yield from trigger("cleancut_remove_background")
    result = {"outcome": outcome, "history_before": history_before, "history_after": history(),
              "before": before, "after": snapshot(doc)}
    result.update(mask_record("photo8", layer))
    result["mask_name"] = [c.name() for c in masks_of(layer)]
    yield from undo(doc)
    result["after_undo"] = snapshot(doc)
    result["history_after_undo"] = history()
    yield from redo(doc)
    result["after_redo"] = snapshot(doc)
    yield from close(doc)
    return result


def depth_case(name, model, depth, source, profile=""):
    """A document of another colour depth: the plug-in's read and the mask that comes back."""
    set_options()
    doc = yield from new_document(512, 512, model, depth, profile)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input(source), 0, 0, 512, 512)
    doc.waitForDone()
    result = {"document": [doc.colorModel(), doc.colorDepth(), doc.colorProfile()]}
    result.update(frame_record(name, layer))
    before = snapshot(doc)
    result["outcome"] = yield from trigger("cleancut_remove_background")
    result.update(mask_record(name, layer))
    result["before"], result["after"] = before, snapshot(doc)
    yield from close(doc)
    return result


def scenario_u16():
    return (yield from depth_case("u16", "RGBA", "U16", "astronaut_bgra16"))


def scenario_f32():
    return (yield from depth_case("f32", "RGBA", "F32", "astronaut_linear_f32"))


def scenario_f16():
    return (yield from depth_case("f16", "RGBA", "F16", "astronaut_linear_f16"))


def scenario_grey():
    return (yield from depth_case("grey", "GRAYA", "U8", "astronaut_ya8"))


def scenario_offset():
    """A 512×512 layer moved to (-60, 40) on a 400×300 canvas: partly outside the canvas."""
    set_options()
    doc = yield from new_document(400, 300)
    layer = paint_layer(doc, "photo", raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    layer.move(-60, 40)
    doc.waitForDone()
    yield from activate(doc, layer)
    result = {"layer_rect": rect(layer), "position": [layer.position().x(), layer.position().y()]}
    result.update(frame_record("offset", layer))
    result["outcome"] = yield from trigger("cleancut_remove_background")
    result.update(mask_record("offset", layer))
    result["mask_rect"] = rect(masks_of(layer)[-1]) if masks_of(layer) else None
    yield from close(doc)
    return result


def scenario_small():
    """A 200×150 layer inside a 512×512 canvas: the mask covers the layer, not the canvas."""
    set_options()
    doc = yield from new_document(512, 512)
    layer = paint_layer(doc, "cat", raw_input("cat_bgra8"), 100, 300, 200, 150)
    yield from activate(doc, layer)
    result = {"layer_rect": rect(layer)}
    result.update(frame_record("small", layer))
    result["outcome"] = yield from trigger("cleancut_remove_background")
    result.update(mask_record("small", layer))
    yield from close(doc)
    return result


def scenario_group():
    """A group of two layers: the group's projection is cut out and the mask goes on the group."""
    set_options()
    doc = yield from new_document(712, 512)
    group = doc.createNode("group", "grouplayer")
    doc.rootNode().addChildNode(group, None)
    paint_layer(doc, "astronaut", raw_input("astronaut_bgra8"), 0, 0, 512, 512, parent=group)
    paint_layer(doc, "cat", raw_input("cat_bgra8"), 512, 0, 200, 150, parent=group)
    doc.refreshProjection()
    doc.waitForDone()
    yield 200
    yield from activate(doc, group)
    result = {"group_rect": rect(group)}
    result.update(frame_record("group", group))
    result["outcome"] = yield from trigger("cleancut_remove_background")
    result["group_children"] = [[c.name(), c.type()] for c in group.childNodes()]
    result.update(mask_record("group", group))
    yield from close(doc)
    return result


def rect_selection(doc, x, y, w, h):
    selection = Selection()
    selection.select(x, y, w, h, 255)
    doc.setSelection(selection)
    doc.waitForDone()


def scenario_select():
    """Select Subject replaces the selection with the subject; no layer or mask changes."""
    set_options()
    doc = yield from new_document(512, 512)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    rect_selection(doc, 0, 0, 10, 10)  # replaced, not used: the hint option is off
    before = snapshot(doc)
    outcome = yield from trigger("cleancut_select_subject")
    selection = doc.selection()
    result = {"outcome": outcome, "before": before, "after": snapshot(doc),
              "selection": dump("select-selection.raw", selection.pixelData(0, 0, 512, 512)) if selection else None}
    yield from close(doc)
    return result


def hint_case(name, source, size, selected):
    """With "use the current selection as a hint" on, a rectangle selection guides the engine."""
    set_options(selection_hint=True)
    width, height = size
    doc = yield from new_document(width, height)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input(source), 0, 0, width, height)
    rect_selection(doc, *selected)
    hint = dump(name + "-selection.raw", doc.selection().pixelData(0, 0, width, height))
    before = snapshot(doc)
    outcome = yield from trigger("cleancut_remove_background")
    result = {"outcome": outcome, "hint": hint, "before": before, "after": snapshot(doc)}
    result.update(mask_record(name, layer))
    set_options()
    yield from close(doc)
    return result


def scenario_hint():
    return (yield from hint_case("hint", "astronaut_bgra8", (512, 512), STATE["spec"]["hint_rect"]))


def scenario_box():
    """A rectangle around one of two photos side by side: a box prompt."""
    box = STATE["spec"]["box"]
    return (yield from hint_case("box", "two_bgra8", box["size"], box["rect"]))


def scenario_refine():
    """The remembered edge refinement level reaches the engine."""
    set_options(refine=STATE["spec"]["refine_choice"])
    doc = yield from new_document(512, 512)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    result = {"outcome": (yield from trigger("cleancut_remove_background"))}
    result.update(mask_record("refine", layer))
    set_options()
    yield from close(doc)
    return result


def scenario_keeps_selection():
    """A selection the user has (hint off) neither shapes the mask nor is lost, nor comes back wrong on undo."""
    set_options()
    doc = yield from new_document(512, 512)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    rect_selection(doc, 20, 30, 100, 80)
    before = snapshot(doc)
    outcome = yield from trigger("cleancut_remove_background")
    result = {"outcome": outcome, "before": before, "after": snapshot(doc)}
    result.update(mask_record("keeps", layer))
    yield from undo(doc)
    result["after_undo"] = snapshot(doc)
    yield from close(doc)
    return result


# --- include and exclude points: circles on vector layers named "include" / "exclude" -------------
def points_layer(doc, name, centres, move=None, visible=True):
    """A vector layer of small circles (radius 6 px) centred on ``centres`` (pixels of the
    document), then moved by ``move``; SVG user units are the document's pixels here."""
    layer = doc.createVectorLayer(name)
    doc.rootNode().addChildNode(layer, None)
    width, height = doc.width(), doc.height()
    circles = "".join('<circle cx="%s" cy="%s" r="6" fill="#ff0000"/>' % (x, y) for x, y in centres)
    layer.addShapesFromSvg('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">%s</svg>'
                           % (width, height, width, height, circles))
    if move is not None:
        layer.move(*move)
    layer.setVisible(visible)
    doc.waitForDone()
    return layer


def painted(*layers, deadline_ms=10000):
    """Wait until Krita has painted these vector layers' shapes: a layer's bounds stay empty for
    a while after its shapes are added (longer on a loaded machine), and a snapshot taken before
    then differs from one taken later by that alone."""
    waited = 0
    while any(rect(layer)[2:] == [0, 0] for layer in layers) and waited < deadline_ms:
        yield 100
        waited += 100


def drawn(name, doc, layer):
    """Where Krita paints the layer's circles: its projection over the whole document (alpha)."""
    return dump(name + "-dots.raw", layer.projectionPixelData(0, 0, doc.width(), doc.height()))


def scenario_clicks():
    """Two photos side by side on one layer, at 150 ppi; an include point on the cat, an
    exclude point on the astronaut, and a hidden include layer that must not count. Remove
    Background (one undo step), then Select Subject with the same points."""
    clicks = STATE["spec"]["clicks"]
    width, height = STATE["spec"]["box"]["size"]
    set_options()
    doc = yield from new_document(width, height, resolution=clicks["resolution"])
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input("two_bgra8"), 0, 0, width, height)
    include = points_layer(doc, "include", clicks["include"])
    exclude = points_layer(doc, "Exclude points", clicks["exclude"])
    points_layer(doc, "include (switched off)", clicks["hidden"], visible=False)
    yield 300  # Krita activates the last layer added, a while later
    yield from activate(doc, layer)
    result = {"resolution": doc.resolution(), "layer_rect": rect(layer),
              "dots": {"include": drawn("clicks-include", doc, include), "exclude": drawn("clicks-exclude", doc, exclude)}}
    before, history_before = snapshot(doc), history()
    result["outcome"] = yield from trigger("cleancut_remove_background")
    result.update({"before": before, "after": snapshot(doc), "history_before": history_before,
                   "history_after": history()})
    result.update(mask_record("clicks", layer))
    yield from undo(doc)
    result["after_undo"] = snapshot(doc)
    result["select"] = yield from trigger("cleancut_select_subject")
    selection = doc.selection()
    result["selection"] = dump("clicks-selection.raw", selection.pixelData(0, 0, width, height)) if selection else None
    yield from close(doc)
    return result


def scenario_clicks_offset():
    """The photos' layer moved to an offset (partly off the canvas) at 299.6 ppi, and the include
    layer itself moved: the points reach the engine in the layer's own pixels."""
    clicks = STATE["spec"]["clicks"]
    width, height = STATE["spec"]["box"]["size"]
    ox, oy = clicks["offset"]
    dx, dy = clicks["layer_move"]
    set_options()
    doc = yield from new_document(900, 600, resolution=clicks["offset_resolution"])
    layer = paint_layer(doc, "photos", raw_input("two_bgra8"), 0, 0, width, height)
    layer.move(ox, oy)
    doc.waitForDone()
    include = points_layer(doc, "Include", [[x + ox - dx, y + oy] for x, y in clicks["include"]], move=(dx, 0))
    exclude = points_layer(doc, "exclude", [[x + ox, y + oy - dy] for x, y in clicks["exclude"]], move=(0, dy))
    yield 300  # Krita activates the last layer added, a while later
    yield from activate(doc, layer)
    result = {"resolution": doc.resolution(), "layer_rect": rect(layer),
              "dots": {"include": drawn("offset-include", doc, include), "exclude": drawn("offset-exclude", doc, exclude)}}
    result.update(frame_record("clicks-offset", layer))
    result["outcome"] = yield from trigger("cleancut_remove_background")
    result.update(mask_record("clicks-offset", layer))
    yield from close(doc)
    return result


def scenario_clicks_refused():
    """Points the plug-in refuses before any work, the document left as it was: the points
    layer itself active, then an exclude point off the (smaller) layer."""
    set_options()
    doc = yield from new_document(512, 512)
    layer = paint_layer(doc, "cat", raw_input("cat_bgra8"), 100, 300, 200, 150)
    include = points_layer(doc, "include", [[200, 375]])
    exclude = points_layer(doc, "exclude", [[50, 50]])  # on the canvas, off the cat's layer
    yield 300  # Krita activates the last layer added, a while later
    yield from painted(include, exclude)
    yield from activate(doc, include)
    before, history_before = snapshot(doc), history()
    result = {"active_points": (yield from trigger("cleancut_remove_background"))}
    yield from activate(doc, layer)
    result["off_layer"] = yield from trigger("cleancut_remove_background")
    result.update({"before": before, "after": snapshot(doc), "history_before": history_before,
                   "history_after": history()})
    yield from close(doc)
    return result


def click_cancel():
    """Once the engine is at work on the request, press the progress dialog's Cancel button."""
    found = {}

    def engine_at_work():
        job = ext().job
        if job is None:
            found["dialog"] = None  # finished before it could be cancelled: the test says so
            return True
        if job.progress[1] == "model":
            return False  # the worker has not started on this request yet
        for widget in QApplication.topLevelWidgets() + APP.activeWindow().qwindow().findChildren(QProgressDialog):
            if isinstance(widget, QProgressDialog) and widget.objectName() == "cleancut-progress" and widget.isVisible():
                found["dialog"] = widget
                found["stage"] = job.progress[1]
                return True
        return False

    yield engine_at_work
    if found["dialog"] is None:
        STATE["cancel"] = {"stage_at_cancel": None, "label_after": None}
        return
    buttons = [b for b in found["dialog"].findChildren(QPushButton) if b.text().replace("&", "") == "Cancel"]
    buttons[0].click()
    STATE["cancel"] = {"stage_at_cancel": found["stage"], "label_after": found["dialog"].labelText()}


def scenario_cancel():
    """Cancel from the progress dialog while the engine works: the document stays as it was,
    the engine's run is cancelled (not just ignored), and the next run works."""
    set_options()
    width, height = 2000, 1500
    doc = yield from new_document(width, height)
    layer = doc.topLevelNodes()[0]
    tile = raw_input("astronaut_bgra8")
    rows = []
    for row in range(height):  # the photo tiled over 2000×1500
        line = tile[(row % 512) * 2048:(row % 512) * 2048 + 2048]
        rows.append((line * 4)[:width * 4])
    layer.setPixelData(b"".join(rows), 0, 0, width, height)
    doc.waitForDone()
    before, history_before = snapshot(doc), history()
    outcome = yield from trigger("cleancut_remove_background", on_started=click_cancel)
    result = {"outcome": outcome, "cancel": STATE.pop("cancel", None), "before": before,
              "after": snapshot(doc), "history_before": history_before, "history_after": history()}
    yield from close(doc)
    again = yield from new_document(512, 512)
    again.topLevelNodes()[0].setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    result["next_run"] = yield from trigger("cleancut_remove_background")
    result.update(mask_record("after-cancel", again.topLevelNodes()[0]))
    yield from close(again)
    return result


def watch_download_then_cancel():
    """Sample the progress dialog (its label and value) every poll once it shows; when the
    download has shown STATE["spec"]["cancel_after"] distinct byte counts, click its Cancel."""
    seen = STATE["first_run"] = {"samples": [], "cancelled_at": None}

    def moved_enough():
        job = ext().job
        if job is None:
            return True  # the run ended without being cancelled: the test says so
        dialogs = [w for w in QApplication.topLevelWidgets() + APP.activeWindow().qwindow().findChildren(QProgressDialog)
                   if isinstance(w, QProgressDialog) and w.objectName() == "cleancut-progress" and w.isVisible()]
        if not dialogs:
            return False
        seen["dialog"] = dialogs[0]
        seen["samples"].append([time.time(), dialogs[0].value(), dialogs[0].labelText()])
        counts = {label for _, _, label in seen["samples"] if "Downloading " in label}
        return len(counts) >= STATE["spec"]["cancel_after"]

    yield moved_enough
    if ext().job is None:
        return
    buttons = [b for b in seen.pop("dialog").findChildren(QPushButton) if b.text().replace("&", "") == "Cancel"]
    seen["cancelled_at"] = time.time()
    buttons[0].click()


def scenario_first_run():
    """A model not downloaded yet: the progress dialog says what the run downloads, shows the
    download moving, and its Cancel stops it; the document stays as it was, nothing is cached."""
    set_options(model=STATE["spec"]["download_model"])
    doc = yield from new_document(512, 512)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    doc.waitForDone()
    before, history_before = snapshot(doc), history()
    outcome = yield from trigger("cleancut_remove_background", on_started=watch_download_then_cancel)
    seen = STATE.pop("first_run")
    folder = os.path.join(os.environ["CLEANCUT_CACHE_DIR"], "models", STATE["spec"]["download_model"])
    result = {"outcome": outcome, "samples": seen["samples"], "before": before, "after": snapshot(doc),
              "history_before": history_before, "history_after": history(),
              "cancel_to_outcome_s": outcome["timings"]["done"] - seen["cancelled_at"] if seen["cancelled_at"] else None,
              "cache": sorted(os.listdir(folder)) if os.path.isdir(folder) else []}
    set_options()
    yield from close(doc)
    return result


def failure_case(prepare, restore):
    doc = yield from new_document(512, 512)
    layer = doc.topLevelNodes()[0]
    layer.setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    rect_selection(doc, 5, 5, 50, 50)
    before, history_before = snapshot(doc), history()
    prepare()
    try:
        outcome = yield from trigger("cleancut_remove_background")
    finally:
        restore()
    result = {"outcome": outcome, "before": before, "after": snapshot(doc),
              "history_before": history_before, "history_after": history()}
    yield from close(doc)
    return result


def scenario_missing_model():
    """A model that is not downloaded (offline): the engine's message, the document untouched."""
    return (yield from failure_case(lambda: set_options(model="u2net"), set_options))


def scenario_no_engine():
    """No engine at the configured path: the client's setup message, the document untouched."""
    saved = os.environ.get("CLEANCUT_ENGINE_PYTHON")

    def prepare():
        ext().shutdown()
        os.environ["CLEANCUT_ENGINE_PYTHON"] = "/nonexistent/cleancut/python3"

    def restore():
        ext().shutdown()
        os.environ["CLEANCUT_ENGINE_PYTHON"] = saved

    set_options()
    return (yield from failure_case(prepare, restore))


def scenario_plugin_bug():
    """An exception inside the plug-in becomes a message box, not Krita's crash dialog."""
    original = ccl.read_frame

    def broken(node):
        raise RuntimeError("a deliberate fault in read_frame")

    def prepare():
        ccl.read_frame = broken

    def restore():
        ccl.read_frame = original

    set_options()
    return (yield from failure_case(prepare, restore))


def find_options_dialog():
    for widget in QApplication.topLevelWidgets() + APP.activeWindow().qwindow().findChildren(QDialog):
        if isinstance(widget, QDialog) and widget.objectName() == "cleancut-options" and widget.isVisible():
            return widget
    return None


def options_round(model, refine_choice, hint, accept_licence):
    """Open the options dialog, wait for the engine's lists, choose, press OK."""
    APP.action("cleancut_options").trigger()
    yield lambda: find_options_dialog() is not None
    dialog = find_options_dialog()
    status = dialog.findChild(QLabel, "status")
    yield lambda: status.text() == ""
    combo = dialog.findChild(QComboBox, "model")
    refine = dialog.findChild(QComboBox, "refine")
    seen = {"models": [combo.itemData(i) for i in range(combo.count())],
            "model_texts": [combo.itemText(i) for i in range(combo.count())],
            "refine": [refine.itemData(i) for i in range(refine.count())],
            "initial": {"model": combo.currentData(), "refine": refine.currentData(),
                        "hint": dialog.findChild(QCheckBox, "selection_hint").isChecked()}}
    combo.setCurrentIndex(combo.findData(model))
    refine.setCurrentIndex(refine.findData(refine_choice))
    dialog.findChild(QCheckBox, "selection_hint").setChecked(hint)
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    accept_box = dialog.findChild(QCheckBox, "accept_licence")
    seen["ok_enabled_before_accepting"] = ok.isEnabled()
    seen["accept_visible"] = accept_box.isVisible()
    seen["licence_text"] = dialog.findChild(QLabel, "licence").text()
    seen["points_help"] = dialog.findChild(QLabel, "points_help").text()
    if accept_licence:
        accept_box.setChecked(True)
    seen["ok_enabled"] = ok.isEnabled()
    ok.click()
    yield lambda: find_options_dialog() is None
    seen["settings_after"] = cco.read_settings()
    return seen


def scenario_options():
    """The options dialog: the engine's models and levels; choices remembered; licence acceptance."""
    choice = STATE["spec"]["refine_choice"]
    first = yield from options_round("u2netp", choice, True, False)
    second = yield from options_round("isnet", choice, True, True)
    return {"first": first, "second": second}


SCENARIOS = ["menus", "photo8", "u16", "f32", "f16", "grey", "offset", "small", "group", "select",
             "hint", "box", "refine", "keeps_selection", "clicks", "clicks_offset", "clicks_refused", "cancel", "missing_model", "no_engine", "plugin_bug", "options"]


def scenario_bench():
    """Time from the action to the mask for each size (the worker warm), repeated."""
    bench = STATE["spec"]["bench"]
    set_options()
    timings = {}
    warm = yield from new_document(512, 512)
    warm.topLevelNodes()[0].setPixelData(raw_input("astronaut_bgra8"), 0, 0, 512, 512)
    yield from trigger("cleancut_remove_background")  # starts the worker, loads the model
    yield from close(warm)
    tile = raw_input("astronaut_bgra8")
    for width, height in bench["sizes"]:
        runs = []
        doc = yield from new_document(width, height)
        layer = doc.topLevelNodes()[0]
        rows = []
        repeat = width // 512 + 1
        for row in range(height):
            line = tile[(row % 512) * 2048:(row % 512) * 2048 + 2048]
            rows.append((line * repeat)[:width * 4])
        layer.setPixelData(b"".join(rows), 0, 0, width, height)
        doc.waitForDone()
        for _ in range(bench["repeats"]):
            outcome = yield from trigger("cleancut_remove_background")
            if outcome["status"] != "done":
                raise RuntimeError("bench run failed: %r" % (outcome,))
            t = outcome["timings"]
            runs.append({"total_s": outcome["trigger_to_outcome_s"], "read_s": t["read"] - t["started"],
                         "engine_s": t["engine"] - t["read"], "write_s": t["done"] - t["engine"]})
            yield from undo(doc)
        timings["%dx%d" % (width, height)] = runs
        yield from close(doc)
    return timings


def main(spec, out):
    STATE["out"], STATE["spec"] = out, spec
    results = {}
    for name in spec.get("only") or SCENARIOS:
        started = time.time()
        results[name] = yield from globals()["scenario_" + name]()
        results[name]["scenario_s"] = time.time() - started if isinstance(results[name], dict) else None
        with open(os.path.join(out, "results.json"), "w") as handle:
            json.dump(results, handle, indent=1, default=repr)
