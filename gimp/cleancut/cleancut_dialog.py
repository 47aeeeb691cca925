# SPDX-License-Identifier: GPL-3.0-or-later
"""The dialog of cleancut's GIMP 3 procedures (imported only for interactive runs).

Model and edge-refinement choices come from the engine (its model list, its refine modes);
a model whose licence still needs the user's acceptance shows the licence and training-data
terms, and OK records the acceptance through the engine only once the box is ticked. A model
not downloaded yet says so, with its size and licence, before OK.

After OK the dialog stays open while the engine works: its choices go insensitive, a progress
bar names the stage ("Downloading u2net: 34 of 176 MB" on a first run), and Cancel (or closing
the window) cancels the engine's run, a download included.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import cleancut_client
import gi

gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import GimpUi, GLib, Gtk

if TYPE_CHECKING:
    from gi.repository import Gimp

T = TypeVar("T")
# work(report, cancelled): the engine's part of a run, on a thread; report(fraction, text).
Work = Callable[[Callable[[float, str], None], Callable[[], bool]], T]

# The label of the refine entry that leaves the mode to the engine (cleancut_client.ENGINE_DEFAULT):
# it then uses a preset's own (the quality preset's "best"), else its default.
ENGINE_DEFAULT_LABEL = "Engine default (a preset's own)"


def describe(model: dict[str, Any]) -> str:
    """Pango markup: what the model is, its licence and training data, and what acceptance means."""
    esc = GLib.markup_escape_text
    notice = cleancut_client.first_run_notice(model)
    first = f"<b>{esc(notice)}</b>" if notice else f"<b>{esc(model['name'])}</b> ({esc(model['id'])}): downloaded"
    lines = [first,
             f"Weights licence: <b>{esc(model['licence'])}</b> ({esc(model['class'])})",
             f"Training data: {esc(model.get('training_data', ''))}",
             f"Terms: {esc(model.get('training_data_terms', ''))}"]
    if model.get("needs_acceptance"):
        lines.append("<b>This licence needs your acceptance before the model runs.</b> It is recorded in "
                     f"cleancut's settings (<tt>cleancut models revoke {esc(model['id'])}</tt> withdraws it).")
    return "\n".join(lines)


def _combo(config: Gimp.ProcedureConfig, prop: str, rows: list[tuple[str, str]]) -> Gtk.Widget:
    store = Gtk.ListStore(str, str)
    for value, label in rows:
        store.append([value, label])
    return GimpUi.prop_string_combo_box_new(config, prop, store, 0, 1)


def run(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, client: cleancut_client.Client,
        select_only: bool, prepare: Callable[[], Work[T]], points: str = "") -> T | None:
    """Show the dialog; ``points`` says which include and exclude points the image holds (shown
    above the "points" switch). Once the user pressed OK (and accepted the licence if one was due),
    ``prepare()`` (GIMP's thread) gives the work, which runs while the dialog shows its progress.
    Its result; None when the dialog was closed before OK. The work's errors are raised: a
    CleancutError of kind "cancelled" after Cancel."""
    GimpUi.init("cleancut")
    hello = client.hello()
    models = client.models()
    by_id = {m["id"]: m for m in models}
    if config.get_property("model") not in by_id:
        default = [m["id"] for m in models if m.get("default")] or [models[0]["id"]]
        config.set_property("model", default[0])
    modes = [(cleancut_client.ENGINE_DEFAULT, ENGINE_DEFAULT_LABEL)]
    modes += [(mode, mode) for mode in cleancut_client.refine_choices(hello)]
    if config.get_property("refine") not in [value for value, _ in modes]:
        config.set_property("refine", cleancut_client.ENGINE_DEFAULT)

    dialog = GimpUi.ProcedureDialog(procedure=procedure, config=config)
    grid = Gtk.Grid(row_spacing=6, column_spacing=12)
    rows = [("_Model", _combo(config, "model", [(m["id"], f"{m['name']} ({m['id']}, {m['licence']})")
                                                 for m in models])),
            ("_Edge refinement", _combo(config, "refine", modes))]
    for row, (text, widget) in enumerate(rows):
        label = Gtk.Label.new_with_mnemonic(text)
        label.set_mnemonic_widget(widget)
        label.set_xalign(0.0)
        grid.attach(label, 0, row, 1, 1)
        grid.attach(widget, 1, row, 1, 1)
    licence = Gtk.Label(xalign=0.0, wrap=True, selectable=True, max_width_chars=60)
    accept = Gtk.CheckButton.new_with_mnemonic("I have read this licence and these terms, and I _accept them")
    grid.attach(licence, 0, 2, 2, 1)
    grid.attach(accept, 0, 3, 2, 1)
    content = dialog.get_content_area()
    content.pack_start(grid, False, False, 0)
    grid.show_all()
    others = content.get_children()
    dialog.fill(["selection-hint", "points"] if select_only else ["output", "selection-hint", "points"])
    choices = [grid] + [child for child in content.get_children() if child not in others]
    if points:  # what the points switch would send, and how to place points
        said = Gtk.Label(label=points, xalign=0.0, wrap=True, max_width_chars=60)
        content.pack_start(said, False, False, 0)
        said.show()
    bar = Gtk.ProgressBar(show_text=True)  # shown once the engine works
    content.pack_start(bar, False, False, 6)

    def update(*_: object) -> None:
        model = by_id[config.get_property("model")]
        licence.set_markup(describe(model))
        accept.set_active(False)
        accept.set_visible(bool(model.get("needs_acceptance")))

    config.connect("notify::model", update)
    update()
    try:
        while dialog.run():
            model = by_id[config.get_property("model")]
            if model.get("needs_acceptance") and not accept.get_active():
                licence.set_markup(describe(model) + "\n<b>Tick the box to accept this licence, or choose "
                                                     "another model.</b>")
                continue
            if model.get("needs_acceptance"):
                client.accept(model["id"])
            for widget in choices:  # frozen while the engine works on what they say
                widget.set_sensitive(False)
            return work_in(dialog, bar, prepare())
        return None
    finally:
        dialog.destroy()


def work_in(dialog: GimpUi.ProcedureDialog, bar: Gtk.ProgressBar, work: Work[T]) -> T:
    """Run ``work`` on a thread while the dialog shows its progress in ``bar``; any response
    (Cancel, closing the window) cancels it. Its result, or its error raised here."""
    state: dict[str, Any] = {"fraction": 0.0, "text": "Starting the engine…", "result": None, "error": None}
    cancel, finished = threading.Event(), threading.Event()
    loop = GLib.MainLoop()

    def report(fraction: float, text: str) -> None:  # the work's thread: plain values only
        state.update(fraction=fraction, text=text)

    def target() -> None:
        try:
            state["result"] = work(report, cancel.is_set)
        except BaseException as err:  # handed to GIMP's thread
            state["error"] = err
        finally:
            finished.set()

    def respond(_dialog: Gtk.Dialog, _response: int) -> None:
        cancel.set()
        bar.set_text("Cancelling…")

    def poll() -> bool:
        if not cancel.is_set():
            bar.set_fraction(state["fraction"])
            bar.set_text(state["text"])
        if finished.is_set():
            loop.quit()
            return False
        return True

    dialog.set_response_sensitive(Gtk.ResponseType.OK, False)
    bar.set_text(state["text"])
    bar.show()
    handler = dialog.connect("response", respond)
    GLib.timeout_add(50, poll)
    threading.Thread(target=target, name="cleancut-engine", daemon=True).start()
    try:
        loop.run()
    finally:
        dialog.disconnect(handler)
    if state["error"] is not None:
        raise state["error"]
    return state["result"]
