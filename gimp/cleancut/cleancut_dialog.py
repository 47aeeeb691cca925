# SPDX-License-Identifier: GPL-3.0-or-later
"""The dialog of cleancut's GIMP 3 procedures (imported only for interactive runs).

Model and edge-refinement choices come from the engine (its model list, its refine modes);
a model whose licence still needs the user's acceptance shows the licence and training-data
terms, and OK records the acceptance through the engine only once the box is ticked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gi

gi.require_version("GimpUi", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import GimpUi, GLib, Gtk

if TYPE_CHECKING:
    import cleancut_client
    from gi.repository import Gimp

# The refine entry that sends no mode: the engine then uses a preset's own (the quality preset's
# "best"), else its default.
ENGINE_DEFAULT = "Engine default (a preset's own)"


def describe(model: dict[str, Any]) -> str:
    """Pango markup: what the model is, its licence and training data, and what acceptance means."""
    esc = GLib.markup_escape_text
    size = model.get("size", 0) / 1048576.0
    where = "downloaded" if model.get("cached") else f"downloaded on first use ({size:.1f} MiB)"
    lines = [f"<b>{esc(model['name'])}</b> ({esc(model['id'])}): {esc(where)}",
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
        select_only: bool) -> bool:
    """Show the dialog; True when the user pressed OK (and accepted the licence if one was due)."""
    GimpUi.init("cleancut")
    hello = client.hello()
    models = client.models()
    by_id = {m["id"]: m for m in models}
    if config.get_property("model") not in by_id:
        default = [m["id"] for m in models if m.get("default")] or [models[0]["id"]]
        config.set_property("model", default[0])
    modes = [("", ENGINE_DEFAULT)] + [(mode, mode) for mode in hello.get("refine_modes") or ()]
    if config.get_property("refine") not in [value for value, _ in modes]:
        config.set_property("refine", "")

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
    dialog.get_content_area().pack_start(grid, False, False, 0)
    grid.show_all()
    dialog.fill(["selection-hint"] if select_only else ["output", "selection-hint"])

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
            if not model.get("needs_acceptance"):
                return True
            if accept.get_active():
                client.accept(model["id"])
                return True
            licence.set_markup(describe(model) + "\n<b>Tick the box to accept this licence, or choose "
                                                 "another model.</b>")
        return False
    finally:
        dialog.destroy()
