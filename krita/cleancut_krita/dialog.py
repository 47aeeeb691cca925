# SPDX-License-Identifier: GPL-3.0-or-later
"""Layer > Background Removal Options...: model, edge refinement, selection hint; remembered.
It also says how to place include and exclude points (layers.read_points).

The dialog opens at once with the remembered values; the engine's model list (and its edge
refinement levels) arrives from the worker off the GUI thread. A model whose licence needs
the user's acceptance (copyleft, non-commercial) shows its licence and can only be chosen
after ticking the acceptance box, which records it through the engine.
"""

import traceback

from .gui import Background, unexpected
from .options import client_module, read_settings, write_settings
from .qt import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, Qt, QVBoxLayout


POINTS_HELP = ("Point at the subject: on a vector layer named \u201cinclude\u201d, draw small circles (Ellipse "
               "tool) on the subject; on one named \u201cexclude\u201d, on what is not the subject. Remove "
               "Background and Select Subject keep every include point and leave out every exclude point; "
               "hide a layer to switch its points off.")


def safe(method):
    """A slot whose exceptions end up in the dialog's status line, never in Krita's crash dialog."""
    def slot(self, *args):
        try:
            return method(self, *args)
        except Exception:
            self.status.setText(unexpected(traceback.format_exc()))
    slot.__name__ = method.__name__
    return slot


class OptionsDialog(QDialog):
    def __init__(self, extension, parent=None):
        """``extension`` runs the engine calls (call_engine); the dialog starts from the
        remembered options and remembers the ones chosen on OK."""
        QDialog.__init__(self, parent)
        self.extension = extension
        self.models = {}
        self.settings = read_settings()
        self.setObjectName("cleancut-options")
        self.setWindowTitle("Background Removal Options (cleancut)")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        self.model = QComboBox(self)
        self.model.setObjectName("model")
        self.model.addItem("Default model", client_module.ENGINE_DEFAULT)
        if not client_module.is_engine_default(self.settings["model"]):
            self.model.addItem(self.settings["model"], self.settings["model"])
            self.model.setCurrentIndex(1)
        self.model.currentIndexChanged.connect(self._model_changed)
        self.refine = QComboBox(self)
        self.refine.setObjectName("refine")
        self.refine.addItem("Default", client_module.ENGINE_DEFAULT)
        if not client_module.is_engine_default(self.settings["refine"]):
            self.refine.addItem(self.settings["refine"], self.settings["refine"])
            self.refine.setCurrentIndex(1)
        self.hint = QCheckBox("Use the current selection as a hint", self)
        self.hint.setObjectName("selection_hint")
        self.hint.setToolTip("Pixels outside the selection become background; a selection that leaves "
                             "much of the layer out is a box prompt: the model looks at a crop around it.")
        self.hint.setChecked(self.settings["selection_hint"])
        self.points_help = QLabel(POINTS_HELP, self)
        self.points_help.setObjectName("points_help")
        self.points_help.setWordWrap(True)
        self.licence = QLabel(self)
        self.licence.setObjectName("licence")
        self.licence.setWordWrap(True)
        self.accept_licence = QCheckBox(self)
        self.accept_licence.setObjectName("accept_licence")
        self.accept_licence.setVisible(False)
        self.accept_licence.toggled.connect(self._update_ok)
        self.status = QLabel("Asking the cleancut engine for its models\u2026", self)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(self)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Ok)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._ok)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Model:", self.model)
        form.addRow("Edge refinement:", self.refine)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.points_help)
        layout.addWidget(self.licence)
        layout.addWidget(self.accept_licence)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self.loading = Background(self._fetch, self._loaded, parent=self)
        self.loading.start()

    # thread
    def _fetch(self):
        return self.extension.call_engine(lambda client: (client.hello(), client.models()))

    # GUI thread
    @safe
    def _loaded(self, result, error_text, error):
        if error is not None:
            self.status.setText("The model list is not available: %s" % (
                error if hasattr(error, "kind") else unexpected(error_text)))
            return
        hello, models = result
        self.status.setText("")
        self.models = {entry["id"]: entry for entry in models}
        chosen = self.model.currentData()
        self.model.blockSignals(True)
        self.model.clear()
        default = [entry for entry in models if entry.get("default")]
        self.model.addItem("Default model (%s)" % default[0]["name"] if default else "Default model",
                           client_module.ENGINE_DEFAULT)
        for entry in models:
            self.model.addItem(self._describe(entry), entry["id"])
        index = self.model.findData(chosen)
        self.model.setCurrentIndex(max(index, 0))
        self.model.blockSignals(False)
        # The worker lists its refinement levels (the client has the fallback for one that does not).
        current = self.refine.currentData()
        self.refine.clear()
        self.refine.addItem("Default", client_module.ENGINE_DEFAULT)
        for mode in client_module.refine_choices(hello):
            self.refine.addItem(mode, mode)
        self.refine.setCurrentIndex(max(self.refine.findData(current), 0))
        self._model_changed()

    @staticmethod
    def _describe(entry):
        size = entry.get("size")
        text = "%s \u2014 %s" % (entry.get("name") or entry["id"], entry.get("licence", "?"))
        if size:
            text += ", " + client_module.megabytes(size)
        if not entry.get("cached"):
            text += " (downloaded on first use)"
        return text

    @safe
    def _model_changed(self, *_):
        entry = self.models.get(self.model.currentData())
        if entry is None:
            self.licence.setText("")
            self.accept_licence.setVisible(False)
        else:
            text = "Licence of the weights: %s (%s). Training data: %s" % (
                entry.get("licence"), entry.get("class"), entry.get("training_data") or "not stated")
            if entry.get("training_data_terms"):
                text += " \u2014 %s" % entry["training_data_terms"]
            notice = client_module.first_run_notice(entry)
            self.licence.setText(text if notice is None else notice + "\n" + text)
            needs = bool(entry.get("needs_acceptance"))
            self.accept_licence.setText("I accept the %s licence of %s" % (entry.get("licence"), entry["id"]))
            self.accept_licence.setChecked(False)
            self.accept_licence.setVisible(needs)
        self._update_ok()

    def _needs_acceptance(self):
        entry = self.models.get(self.model.currentData())
        return bool(entry and entry.get("needs_acceptance"))

    @safe
    def _update_ok(self, *_):
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setEnabled(not self._needs_acceptance() or self.accept_licence.isChecked())

    @safe
    def _ok(self):
        model = self.model.currentData()
        if self._needs_acceptance():
            self.buttons.setEnabled(False)
            self.status.setText("Recording your acceptance of the licence\u2026")
            self.accepting = Background(
                lambda: self.extension.call_engine(lambda client: client.accept(model)),
                self._accepted, parent=self)
            self.accepting.start()
            return
        self._save()

    @safe
    def _accepted(self, result, error_text, error):
        self.buttons.setEnabled(True)
        if error is not None:
            self.status.setText(str(error) if hasattr(error, "kind") else unexpected(error_text))
            return
        self._save()

    def _save(self):
        write_settings(self.model.currentData(), self.refine.currentData(), self.hint.isChecked())
        self.accept()
