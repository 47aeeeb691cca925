# SPDX-License-Identifier: GPL-3.0-or-later
"""Batch code that opens cleancut's real GIMP 3 dialog (GimpUi, GTK, under Xvfb) and works it.

SPEC names a JSON file: {"out": folder, "plugin_dir": the installed plug-in folder,
"model": a model whose licence needs acceptance, "permissive": one that does not}.
With the procedure's own config, the dialog module runs against the real worker; a GLib timer
plays the user: it records what the dialog shows (and works the Output choice: every value it
offers is picked in turn), switches models, presses OK without ticking the acceptance box (the
dialog must stay), ticks it and presses OK. Results: out/dialog.json.

With "mode": "download-cancel" it plays a first run instead: it builds an image from a raw
RGB file (spec "image", as gimp3_driver.py builds them), runs the plug-in's own run function
interactively on it with model spec["model"] (not downloaded yet), records the dialog's notice,
presses OK, samples the progress bar (fraction, text) every 50 ms and, once the download has
shown spec["cancel_after"] distinct byte counts, clicks the dialog's Cancel button (as a
person would: it must still be clickable while the engine works); it records what the run
returned, how long after the Cancel, the image's state before and after (gimp3_driver.state)
and the model's cache folder. Results: out/dialog.json.

GimpProcedureDialog draws a GimpChoice argument as it sees fit: GIMP 3.0 as a combo box, 3.2
as radio buttons for a short list. The Output choice is therefore found through the dialog
(``get_widget("output", …)`` returns the widget it drew) and worked by whatever buttons or rows
that widget holds.
"""

import json
import os
import sys
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gimp, GimpUi, GLib, GObject, Gtk


def widgets(widget):
    yield widget
    if isinstance(widget, Gtk.Container):
        for child in widget.get_children():
            yield from widgets(child)


def shown_dialog():
    dialogs = [w for w in Gtk.Window.list_toplevels() if isinstance(w, GimpUi.ProcedureDialog) and w.get_visible()]
    return dialogs[0] if dialogs else None


def download_cancel(spec):
    """A first run of a model that is not downloaded yet, cancelled during its download."""
    sys.path.insert(0, spec["drivers_dir"])
    import cleancut as plugin
    import gimp3_driver

    record = {"samples": []}
    image, layers = gimp3_driver.build(spec["image"])
    image.set_selected_layers(layers)
    procedure = Gimp.get_pdb().lookup_procedure(plugin.REMOVE)
    config = procedure.create_config()
    config.set_property("model", spec["model"])
    record["before"] = gimp3_driver.state(image)
    state = {"ok": False, "cancelled_at": None}

    def play():
        try:
            dialog = shown_dialog()
            if dialog is None:
                return state["cancelled_at"] is None  # not shown yet, or gone after the cancel
            if not state["ok"]:
                record["labels"] = [w.get_text() for w in widgets(dialog) if isinstance(w, Gtk.Label) and w.is_visible()]
                state["ok"] = True
                dialog.response(Gtk.ResponseType.OK)
                return True
            bar = next(w for w in widgets(dialog) if isinstance(w, Gtk.ProgressBar))
            record["samples"].append([time.monotonic(), bar.get_fraction(), bar.get_text(), bar.is_visible()])
            downloads = {(f, t) for _, f, t, _ in record["samples"] if t.startswith("Downloading") and f > 0}
            if state["cancelled_at"] is None and len(downloads) >= spec["cancel_after"]:
                record["sensitive_while_working"] = {
                    type(w).__gtype__.name: w.is_sensitive() for w in widgets(dialog)
                    if isinstance(w, (Gtk.ComboBox, Gtk.CheckButton, Gtk.ProgressBar)) and w.is_visible()}
                buttons = {w.get_label(): w for w in widgets(dialog) if isinstance(w, Gtk.Button) and w.is_visible()}
                record["buttons_while_working"] = {label: w.is_sensitive() for label, w in buttons.items()}
                state["cancelled_at"] = time.monotonic()
                buttons["_Cancel"].clicked()
            return True
        except Exception:
            record["timer_exception"] = traceback.format_exc()
            return False

    GLib.timeout_add(50, play)
    try:
        values = plugin.run(procedure, Gimp.RunMode.INTERACTIVE, image, layers, config, None)
        record["status"] = values.index(0).value_nick
    except Exception:
        record["exception"] = traceback.format_exc()
    returned = time.monotonic()
    record["returned_after_cancel_s"] = returned - state["cancelled_at"] if state["cancelled_at"] else None
    record["after"] = gimp3_driver.state(image)
    folder = os.path.join(os.environ["CLEANCUT_CACHE_DIR"], "models", spec["model"])
    record["cache"] = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    with open(os.path.join(spec["out"], "dialog.json"), "w") as handle:
        json.dump(record, handle, indent=1)


def main(spec_path):
    with open(spec_path) as handle:
        spec = json.load(handle)
    sys.path.insert(0, spec["plugin_dir"])
    if spec.get("mode") == "download-cancel":
        GimpUi.init("cleancut")
        return download_cancel(spec)
    import cleancut_client
    import cleancut_dialog

    record = {"steps": []}
    procedure = Gimp.get_pdb().lookup_procedure("plug-in-cleancut-remove-background")
    config = procedure.create_config()
    config.set_property("model", spec["model"])
    client = cleancut_client.Client(shared=True)

    def snapshot(dialog):
        shown = [w for w in widgets(dialog) if w.is_visible()]
        accept = [w for w in shown if isinstance(w, Gtk.CheckButton) and "accept" in (w.get_label() or "")]
        return {"labels": [w.get_text() for w in shown if isinstance(w, Gtk.Label)],
                "combos": [[row[0] for row in w.get_model()] for w in shown
                           if isinstance(w, Gtk.ComboBox) and w.get_model() is not None],
                "accept_visible": bool(accept), "model": config.get_property("model"),
                "refine": config.get_property("refine"),
                "accepted_so_far": accepted()}

    def choice(dialog, prop):
        """What the dialog drew for a GimpChoice argument and the values a person can pick with
        it: each radio button or combo row is chosen in turn and the config read back."""
        widget = dialog.get_widget(prop, GObject.TYPE_NONE)
        before = config.get_property(prop)
        values, labels = [], []
        inner = list(widgets(widget))
        radios = [w for w in inner if isinstance(w, Gtk.RadioButton)]
        combos = [w for w in inner if isinstance(w, Gtk.ComboBox) and w.get_model() is not None]
        if radios:
            for button in radios:
                button.set_active(True)
                values.append(config.get_property(prop))
                labels.append(button.get_label())
        elif combos:
            model = combos[0].get_model()
            for index, row in enumerate(model):
                Gtk.ComboBox.set_active(combos[0], index)  # GimpStringComboBox.set_active takes an id
                values.append(config.get_property(prop))
                labels.append(str(row[1]) if model.get_n_columns() > 1 else "")
        config.set_property(prop, before)
        return {"widget": type(widget).__gtype__.name, "parts": sorted({type(w).__gtype__.name for w in inner}),
                "values": values, "labels": labels, "restored": config.get_property(prop)}

    def accepted():
        """The acceptances recorded in the engine's settings file right now."""
        try:
            with open(os.path.join(os.environ["CLEANCUT_CONFIG_DIR"], "config.json")) as handle:
                return sorted(json.load(handle).get("accepted_licences", {}))
        except OSError:
            return []

    def accept_box(dialog):
        return next(w for w in widgets(dialog) if isinstance(w, Gtk.CheckButton)
                and "accept" in (w.get_label() or ""))

    state = {"step": 0}

    def play():
        try:
            dialogs = [w for w in Gtk.Window.list_toplevels()
                       if isinstance(w, GimpUi.ProcedureDialog) and w.get_visible()]
            if not dialogs:
                return True  # not shown yet
            dialog = dialogs[0]
            step = state["step"]
            state["step"] += 1
            if step == 0:
                record["steps"].append(dict(snapshot(dialog), step="opened", output=choice(dialog, "output")))
                config.set_property("model", spec["permissive"])
            elif step == 1:
                record["steps"].append(dict(snapshot(dialog), step="permissive chosen"))
                config.set_property("model", spec["model"])
            elif step == 2:
                record["steps"].append(dict(snapshot(dialog), step="licensed model chosen again"))
                dialog.response(Gtk.ResponseType.OK)
            elif step == 3:
                record["steps"].append(dict(snapshot(dialog), step="after OK without ticking"))
                accept_box(dialog).set_active(True)
                dialog.response(Gtk.ResponseType.OK)
            else:
                record["steps"].append(dict(snapshot(dialog), step="still open"))
                dialog.response(Gtk.ResponseType.CANCEL)
                return False
        except Exception:
            record["timer_exception"] = traceback.format_exc()
            for window in Gtk.Window.list_toplevels():
                if isinstance(window, Gtk.Dialog):
                    window.response(Gtk.ResponseType.CANCEL)
            return False
        return True

    GLib.timeout_add(300, play)
    try:
        record["returned"] = cleancut_dialog.run(procedure, config, client, False, lambda: lambda report, cancelled: True)
    except Exception:
        record["exception"] = traceback.format_exc()
    finally:
        client.close()
    record["config_model"] = config.get_property("model")
    with open(os.path.join(spec["out"], "dialog.json"), "w") as handle:
        json.dump(record, handle, indent=1)


main(SPEC)  # noqa: F821 (set by the batch command before exec)
