# SPDX-License-Identifier: GPL-3.0-or-later
"""Batch code for gimp-console-3.0 that drives cleancut's GIMP 3 plug-in like a script would.

Run by the host tests and the benchmark (tests/hosts/gimp/gimp3_harness.py) as
    gimp-console-3.0 ... --batch-interpreter=python-fu-eval -b "SPEC='…'; exec(open('…').read())"
SPEC names a JSON file: {"out": folder, "scenarios": [...]}. Each scenario builds an image
(loaded from a file, or made of layers whose raw pixels the caller wrote, or of text, vector
and link layers, the last two GIMP 3.2's; optionally with paths, whose anchors are include and
exclude points when named so), selects layers and
optionally a rectangle, calls a cleancut procedure non-interactively (optionally several times,
optionally killing the engine's worker once it is busy; or, "in_process", calls the plug-in's
run function in this process with its undo groups and image changes logged), and records what
came out: the PDB
status and error message, the image's state before and after (hashes of every layer, mask and
the selection; the paths' points), and raw dumps of the pixels the caller asks for. Results go to out/results.json;
an exception inside one scenario is recorded there and the next scenario still runs.
Imported instead (by gimp3_dialog_driver.py), it runs nothing and lends build() and state().
"""

import hashlib
import json
import os
import signal
import sys
import threading
import time
import traceback

from gi.repository import Gegl, Gimp, Gio

PROCEDURES = {"remove": "plug-in-cleancut-remove-background", "select": "plug-in-cleancut-select-subject"}
PDB = Gimp.get_pdb()


def read(drawable, babl, rect=None):
    if rect is None:
        rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    return bytes(drawable.get_buffer().get(rect, 1.0, babl, Gegl.AbyssPolicy.NONE))


def write(drawable, babl, data):
    rect = Gegl.Rectangle.new(0, 0, drawable.get_width(), drawable.get_height())
    buffer = drawable.get_buffer()
    buffer.set(rect, babl, data)
    buffer.flush()
    drawable.update(0, 0, drawable.get_width(), drawable.get_height())


def sha(data):
    return hashlib.sha1(data).hexdigest()


def component(image):
    return "u8" if image.get_precision().value_nick.startswith("u8") else "float"


def new_layer(image, spec):
    """A layer of the kind ``spec`` names: raster (the default), text, vector (GIMP 3.2: a filled
    ellipse path) or link (GIMP 3.2: a layer showing an image file)."""
    kind = spec.get("kind", "raster")
    if kind == "text":
        return Gimp.TextLayer.new(image, spec["text"], Gimp.context_get_font(), spec["size"], Gimp.Unit.pixel())
    if kind == "vector":
        path = Gimp.Path.new(image, spec["name"])
        image.insert_path(path, None, 0)
        path.bezier_stroke_new_ellipse(*spec["ellipse"], 0.0)  # centre x, y, radius x, y
        return Gimp.VectorLayer.new(image, path)
    if kind == "link":
        return Gimp.LinkLayer.new(image, Gio.File.new_for_path(spec["file"]))
    return Gimp.Layer.new(image, spec["name"], spec["width"], spec["height"],
                          getattr(Gimp.ImageType, spec["type"]), 100.0, Gimp.LayerMode.NORMAL)


def build(desc):
    if "load" in desc:
        image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(desc["load"]))
        return image, list(image.get_layers())
    image = Gimp.Image.new_with_precision(desc["width"], desc["height"],
                                          getattr(Gimp.ImageBaseType, desc.get("base", "RGB")),
                                          getattr(Gimp.Precision, desc.get("precision", "U8_NON_LINEAR")))
    layers = []
    for index, spec in enumerate(desc["layers"]):
        layer = new_layer(image, spec)
        image.insert_layer(layer, None, index)
        layer.set_name(spec["name"])
        layer.set_offsets(*spec.get("offset", (0, 0)))
        if "raw" in spec:
            with open(spec["raw"], "rb") as handle:
                write(layer, spec["format"], handle.read())
        elif spec.get("kind", "raster") == "raster":
            layer.fill(Gimp.FillType.WHITE)
        if spec.get("mask"):
            mask = layer.create_mask(getattr(Gimp.AddMaskType, spec["mask"]))
            layer.add_mask(mask)
        layers.append(layer)
    for spec in desc.get("paths", []):
        add_path(image, spec["name"], spec["strokes"])
    return image, layers


def add_path(image, name, strokes):
    """A path as the Paths tool makes it: each stroke a list of anchors [x, y] in image
    coordinates (a click with the tool is an anchor; its handles lie on it)."""
    path = Gimp.Path.new(image, name)
    image.insert_path(path, None, 0)
    for stroke in strokes:
        coords = [c for x, y in stroke for c in (x, y, x, y, x, y)]  # control, anchor, control
        path.stroke_new_from_points(Gimp.PathStrokeType.BEZIER, coords, False)


def paths(image):
    """Every path's name and its strokes' control points, as GIMP holds them."""
    return [{"name": path.get_name(),
             "strokes": [list(path.stroke_get_points(stroke)[1]) for stroke in path.get_strokes()]}
            for path in image.get_paths()]


def kind_of(layer):
    """The layer's class: GimpLayer, GimpTextLayer, GimpVectorLayer, GimpLinkLayer, GimpGroupLayer."""
    return type(layer).__gtype__.name


def live(layer):
    """Whether GIMP draws the layer from a source (text, path, linked file) rather than keeping pixels."""
    if hasattr(layer, "is_rasterized"):  # GIMP 3.2: text, vector and link layers
        return not layer.is_rasterized()
    return bool(layer.is_text_layer())  # GIMP 3.0: a text layer whose text still draws it


def state(image):
    """Hashes of everything a run could change: layers (pixels, offsets, masks) and the selection."""
    kind = component(image)
    layers = []
    for layer in image.get_layers():
        mask = layer.get_mask()
        layers.append({"name": layer.get_name(), "kind": kind_of(layer), "live": live(layer),
                       "offsets": list(layer.get_offsets()[1:]),
                       "size": [layer.get_width(), layer.get_height()],
                       "pixels": sha(read(layer, f"R'G'B'A {kind}")),
                       "mask": sha(read(mask, f"Y {kind}")) if mask is not None else None})
    return {"layers": layers, "selection_empty": bool(Gimp.Selection.is_empty(image)),
            "selection": sha(read(image.get_selection(), f"Y {kind}")),
            "precision": image.get_precision().value_nick, "paths": paths(image)}


def worker_pids():
    """The shared workers serving this test's runtime folder (their command line names it)."""
    needle = os.environ["CLEANCUT_RUNTIME_DIR"].encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except OSError:
                continue
            if b"--listen" in argv and any(needle in arg for arg in argv):
                pids.append(int(entry))
    return pids


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


class Killer(threading.Thread):
    """SIGKILLs the (single, idle) worker once it has used ``threshold`` CPU seconds more."""

    def __init__(self, threshold):
        threading.Thread.__init__(self)
        self.daemon = True
        pids = worker_pids()
        if len(pids) != 1:
            raise RuntimeError(f"expected one warm worker to kill, found {pids!r}")
        self.pid = pids[0]
        self.base = cpu_seconds(self.pid)
        self.threshold = threshold
        self.stop = threading.Event()
        self.killed_after_cpu = None

    def run(self):
        while not self.stop.is_set():
            try:
                used = cpu_seconds(self.pid) - self.base
            except OSError:
                return
            if used >= self.threshold:
                os.kill(self.pid, signal.SIGKILL)
                self.killed_after_cpu = used
                return
            time.sleep(0.005)


def call(name, image, drawables, args):
    procedure = PDB.lookup_procedure(PROCEDURES[name])
    config = procedure.create_config()
    config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    config.set_property("image", image)
    config.set_core_object_array("drawables", drawables)
    for key, value in args.items():
        config.set_property(key, value)
    start = time.perf_counter()
    values = procedure.run(config)
    seconds = time.perf_counter() - start
    status = values.index(0).value_nick
    return status, (None if status == "success" else PDB.get_last_error()), seconds


# What a run may change in an image, by the libgimp calls that change it: an in-process run logs
# each with the undo-group depth it happened at.
WRITES = [(Gimp.Image, "insert_layer"), (Gimp.Image, "remove_layer"), (Gimp.Image, "select_item"),
          (Gimp.Image, "set_selected_layers"), (Gimp.Layer, "add_mask"), (Gimp.Layer, "remove_mask"),
          (Gimp.Layer, "add_alpha"), (Gimp.Layer, "set_offsets"), (Gimp.Item, "set_name"),
          (Gimp.Drawable, "update")]


def in_process(name, image, drawables, args):
    """The plug-in's own run function called in this process (as the dialog driver does), with
    the undo group calls and every image-changing call (WRITES) logged: (status, error, seconds,
    log of [call, undo-group depth before it])."""
    import cleancut as plugin  # the installed plug-in (its folder is on sys.path)

    procedure = PDB.lookup_procedure(PROCEDURES[name])
    config = procedure.create_config()
    for key, value in args.items():
        config.set_property(key, value)
    log, depth, originals = [], [0], []

    def wrap(cls, method, change=0):
        original = getattr(cls, method)
        originals.append((cls, method, original))

        def logged(self, *arguments):
            depth[0] += min(change, 0)
            log.append([method, depth[0]])
            depth[0] += max(change, 0)
            return original(self, *arguments)
        setattr(cls, method, logged)

    wrap(Gimp.Image, "undo_group_start", +1)
    wrap(Gimp.Image, "undo_group_end", -1)
    for cls, method in WRITES:
        wrap(cls, method)
    start = time.perf_counter()
    try:
        values = plugin.run(procedure, Gimp.RunMode.NONINTERACTIVE, image, drawables, config, None)
    finally:
        for cls, method, original in originals:
            setattr(cls, method, original)
    seconds = time.perf_counter() - start
    status = values.index(0).value_nick
    return status, None if status == "success" else str(values.index(1)), seconds, log


def direct(layer, repeat):
    """Seconds for the same request sent by a client in this (already running) process: the
    engine round trip without a plug-in process start or GIMP's buffer I/O."""
    import cleancut_client

    pixels = read(layer, "R'G'B' u8")
    client = cleancut_client.Client(shared=True)
    seconds = []
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            client.remove(pixels, layer.get_width(), layer.get_height(), channels="RGB", pixel_format="u8")
            seconds.append(time.perf_counter() - start)
    finally:
        client.close()
    return seconds


def dump(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def run_scenario(scenario, out):
    folder = os.path.join(out, scenario["name"])
    os.makedirs(folder)
    result = {"name": scenario["name"]}
    image, layers = build(scenario["image"])
    targets = [layers[i] for i in scenario.get("targets", [0])]
    image.set_selected_layers(targets)
    if scenario.get("selection"):
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *scenario["selection"])
    result["inputs"] = [dump(os.path.join(folder, f"input-{i}.raw"), read(layer, scenario["input_format"]))
                        for i, layer in enumerate(layers)] if scenario.get("input_format") else []
    result["before"] = state(image)
    killer = Killer(scenario["kill_after_cpu"]) if scenario.get("kill_after_cpu") else None
    if killer is not None:
        killer.start()
    runs = []
    if scenario.get("in_process"):
        status, error, seconds, result["undo_log"] = in_process(scenario.get("procedure", "remove"), image, targets,
                                                                scenario.get("args", {}))
        runs.append((status, error, seconds))
    for _ in range(0 if scenario.get("in_process") else scenario.get("repeat", 1)):
        runs.append(call(scenario.get("procedure", "remove"), image, targets, scenario.get("args", {})))
    if killer is not None:
        killer.stop.set()
        killer.join()
        result["killed_after_cpu"] = killer.killed_after_cpu
    result["status"], result["error"], _ = runs[-1]
    if scenario.get("direct_repeat"):
        result["direct_seconds"] = direct(targets[0], scenario["direct_repeat"])
    result["seconds"] = [r[2] for r in runs]
    result["after"] = state(image)
    layer_format = scenario.get("layer_format")
    mask_format = scenario.get("mask_format")
    result["layers"] = []
    for i, layer in enumerate(image.get_layers()):
        mask = layer.get_mask()
        entry = {"name": layer.get_name(), "kind": kind_of(layer), "live": live(layer),
                 "offsets": list(layer.get_offsets()[1:]),
                 "size": [layer.get_width(), layer.get_height()], "has_mask": mask is not None}
        if mask is not None and mask_format:
            entry["mask"] = dump(os.path.join(folder, f"mask-{i}.raw"), read(mask, mask_format))
            entry["mask_offsets"] = list(mask.get_offsets()[1:])
        if layer_format:
            entry["pixels"] = dump(os.path.join(folder, f"layer-{i}.raw"), read(layer, layer_format))
        result["layers"].append(entry)
    if scenario.get("selection_format"):
        result["selection"] = dump(os.path.join(folder, "selection.raw"),
                                   read(image.get_selection(), scenario["selection_format"]))
    pids = worker_pids()
    result["worker_rss_kib"] = [rss_kib(pid) for pid in pids]
    result["worker_pids"] = pids
    image.delete()
    return result


def main(spec_path):
    with open(spec_path) as handle:
        spec = json.load(handle)
    sys.path.insert(0, spec["plugin_dir"])
    results = []
    for scenario in spec["scenarios"]:
        try:
            results.append(run_scenario(scenario, spec["out"]))
        except Exception:
            results.append({"name": scenario["name"], "exception": traceback.format_exc()})
        with open(os.path.join(spec["out"], "results.json"), "w") as handle:
            json.dump(results, handle, indent=1)


if "SPEC" in globals():  # run as the batch code; imported (gimp3_dialog_driver.py), it only lends its helpers
    main(SPEC)  # noqa: F821 (set by the batch command before exec)
