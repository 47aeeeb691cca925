# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut's Krita extension: the actions, the background job, progress, cancel and errors.

Flow of an action (Layer > Remove Background, Select > Select Subject):
1. GUI thread: read the active layer's pixels (layers.read_frame), the selection hint and the
   include / exclude points (layers.read_points: shapes on vector layers named so);
2. a Python thread: ``Client.remove`` (the engine's worker process does the work) while a
   window-modal progress dialog with Cancel is shown and Krita keeps painting; on a model's
   first run it says first what will be downloaded (model, size, licence), then shows the
   download moving ("Downloading u2net: 34 of 176 MB"), and Cancel stops the download too;
3. GUI thread again: write the mask or the selection (layers.py), one undo step.
Cancel (or any failure) before step 3 leaves the document exactly as it was. Every slot is
guarded: an exception becomes a message box with the text, never Krita's crash dialog.
"""

import threading
import time
import traceback

from krita import Extension, Krita

from . import layers
from .dialog import OptionsDialog
from .gui import Background, main_window, show_error, unexpected
from .options import client_module, read_settings
from .qt import QObject, QProgressDialog, Qt, pyqtSignal

TITLES = {"remove": "Remove Background", "select": "Select Subject"}
# The extension Krita loaded (for scripts and tests). Holding it here also keeps it alive: Krita
# 5.3's Krita.extensions() hands the objects back to Python, and an extension only Krita held
# would be deleted (menus dead) once a script dropped that list.
INSTANCE = None


def guarded(action):
    """Run a slot so that no exception ever reaches Krita's (modal, blocking) crash dialog."""
    def wrap(method):
        def slot(self, *args):
            try:
                return method(self, *args)
            except layers.UserError as err:
                self.report("failed", str(err), action)
            except Exception:
                self.report("failed", unexpected(traceback.format_exc()), action, "internal")
        slot.__name__ = method.__name__
        slot.__doc__ = method.__doc__
        return slot
    return wrap


class CleancutExtension(Extension):
    """The plug-in: three actions and one engine worker, started on first use."""

    # (action, status, message): status is "done", "cancelled" or "failed"; message is the
    # text shown to the user (None when nothing was shown).
    finished = pyqtSignal(str, str, object)

    def __init__(self, parent):
        Extension.__init__(self, parent)
        self.client = None
        self.client_lock = threading.Lock()
        self.job = None
        self.options_dialog = None
        self.outcomes = []  # every action's outcome: dict(action, status, message, kind, timings)
        global INSTANCE
        INSTANCE = self

    # --- Krita's extension interface ---
    def setup(self):
        Krita.instance().notifier().applicationClosing.connect(self.shutdown)

    def createActions(self, window):
        for name, text, menu, slot in (
                ("cleancut_remove_background", "Remove Background", "Layer", self.remove_background),
                ("cleancut_select_subject", "Select Subject", "Select", self.select_subject),
                ("cleancut_options", "Background Removal Options...", "Layer", self.show_options)):
            action = window.createAction(name, text, menu)
            action.triggered.connect(slot)

    # --- actions ---
    @guarded("remove")
    def remove_background(self, *_):
        """Layer > Remove Background: a transparency mask on the active layer."""
        self.start("remove")

    @guarded("select")
    def select_subject(self, *_):
        """Select > Select Subject: the subject of the active layer becomes the selection."""
        self.start("select")

    @guarded("options")
    def show_options(self, *_):
        self.engine()  # a missing client file is reported before the dialog opens
        if self.options_dialog is not None:
            self.options_dialog.raise_()
            return
        self.options_dialog = OptionsDialog(self, main_window())
        self.options_dialog.finished.connect(self._options_closed)
        self.options_dialog.open()

    def _options_closed(self, *_):
        self.options_dialog = None

    # --- the engine ---
    def engine(self):
        """The client, created on first use (its worker starts on the first request)."""
        if client_module is None:
            raise layers.UserError("The cleancut plug-in is incomplete (cleancut_client.py is missing): "
                                   "install it again with `cleancut install krita`.")
        if self.client is None:
            self.client = client_module.Client()
        return self.client

    def call_engine(self, work):
        """Run work(client) with the client to itself (one request at a time)."""
        client = self.engine()
        with self.client_lock:
            return work(client)

    def shutdown(self):
        client, self.client = self.client, None
        if client is not None:
            client.close()

    # --- one action, start to finish ---
    def start(self, action):
        if self.job is not None:
            raise layers.UserError("cleancut is still working on the last request: wait for it or cancel it.")
        document = Krita.instance().activeDocument()
        if document is None:
            raise layers.UserError("Open an image first.")
        self.engine()  # a missing client file is reported before any work
        self.job = Job(self, action, document)
        self.job.start()

    def report(self, status, message=None, action=None, kind=None, timings=None, engine=None, points=None):
        """Record an outcome, show its message (if any) and tell listeners.

        ``engine`` says how the engine call itself ended: "finished", or the error's kind
        ("cancelled" when the worker stopped on the user's Cancel); ``points``: the include and
        exclude points sent with the request ({"include": [[x, y], ...], "exclude": ...}).
        """
        self.outcomes.append({"action": action, "status": status, "message": message, "kind": kind,
                              "timings": timings or {}, "engine": engine, "points": points})
        if message:
            show_error(message, "cleancut: " + TITLES.get(action, "Background Removal"))
        self.finished.emit(action or "", status, message)


class Job(QObject):
    """One Remove Background / Select Subject run: read, engine (off the GUI thread), write."""

    def __init__(self, extension, action, document):
        QObject.__init__(self, extension)
        self.extension = extension
        self.action = action
        self.document = document
        self.cancel_requested = threading.Event()
        self.progress = (0.0, "model", None)  # (fraction, stage, download): the engine's last event
        self.notice = None  # what a first run downloads, said above the progress
        self.dialog = None
        self.timings = {"started": time.time()}

    def start(self):
        try:
            self._read()
            self._show_progress()
            self.background = Background(self._work, self._done, self._tick, self)
            self.background.start()
        except Exception:
            self._close_progress()
            self.extension.job = None
            raise

    def _read(self):
        layer = layers.target_layer(self.document)
        self.layer_id = layer.uniqueId()
        self.layer_name = layer.name()
        self.frame = layers.read_frame(layer)
        settings = read_settings()
        self.hint = layers.selection_hint(self.document, self.frame) if settings["selection_hint"] else None
        self.include, self.exclude = layers.read_points(self.document, layer, self.frame)
        # A mask needs no decontaminated colours; a choice left to the engine is not sent.
        self.options = client_module.run_options(settings["model"], settings["refine"], foreground=False)
        self.timings["read"] = time.time()

    def _what(self):
        """The action and its layer (Remove Background of “photo”), with the points it goes by."""
        text = "%s of \u201c%s\u201d" % (TITLES[self.action], self.layer_name)
        if self.include or self.exclude:
            text += " (points: %d include, %d exclude)" % (len(self.include), len(self.exclude))
        return text

    def _show_progress(self):
        self.dialog = QProgressDialog("%s\u2026" % self._what(),
                                      "Cancel", 0, 100, main_window())
        self.dialog.setObjectName("cleancut-progress")
        self.dialog.setWindowTitle("cleancut")
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)  # the document stays as read until we are done
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.setMinimumDuration(0)
        self.dialog.canceled.connect(self.cancel)
        self.dialog.setValue(0)
        self.dialog.show()

    def _close_progress(self):
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.canceled.disconnect(self.cancel)  # closing a progress dialog emits canceled
            dialog.close()
            dialog.deleteLater()

    # thread
    def _work(self):
        frame = self.frame

        def progress(fraction, stage, download=None):
            self.progress = (fraction, stage, download)

        def work(client):
            self.notice = client.first_run_notice(self.options.get("model"))
            return client.remove(frame.pixels, frame.width, frame.height, channels=frame.channels,
                                 pixel_format=frame.pixel_format, options=self.options, hint=self.hint,
                                 alpha_format="u8", progress=progress, cancelled=self.cancel_requested.is_set,
                                 include=self.include, exclude=self.exclude)

        return self.extension.call_engine(work)

    # GUI thread
    def cancel(self):
        self.cancel_requested.set()
        if self.dialog is not None:
            self.dialog.setLabelText("Cancelling\u2026")

    def _tick(self):
        fraction, stage, download = self.progress
        if self.dialog is not None and not self.cancel_requested.is_set():
            self.dialog.setValue(round(100 * client_module.progress_fraction(fraction, download)))
            text = "%s: %s\u2026" % (self._what(), client_module.progress_text(stage, download))
            self.dialog.setLabelText(text if self.notice is None else self.notice + "\n\n" + text)

    def _done(self, alpha, error_text, error):
        self.timings["engine"] = time.time()
        extension = self.extension
        extension.job = None
        self._close_progress()
        status, message, kind = "done", None, None
        engine = "finished" if error is None else getattr(error, "kind", "internal")
        try:
            if self.cancel_requested.is_set():
                status, kind = "cancelled", "cancelled"  # whatever the engine answered: nothing changes
            elif error is not None:
                kind = getattr(error, "kind", "internal")
                if client_module is not None and isinstance(error, client_module.CleancutError):
                    status, message = ("cancelled", None) if kind == "cancelled" else ("failed", str(error))
                else:
                    status, message = "failed", unexpected(error_text)
            else:
                self._apply(alpha)
        except layers.UserError as err:
            status, message = "failed", str(err)
        except Exception:
            status, message, kind = "failed", unexpected(traceback.format_exc()), "internal"
        self.timings["done"] = time.time()
        sent = {"include": [list(p) for p in self.include], "exclude": [list(p) for p in self.exclude]}
        extension.report(status, message, self.action, kind, self.timings, engine, sent)
        self.deleteLater()

    def _apply(self, alpha):
        document = self.document
        if document.rootNode() is None:  # the wrapper's document is gone
            raise layers.UserError("The image was closed while cleancut was working; nothing was changed.")
        layer = layers.find_node(document, self.layer_id)
        if layer is None:
            raise layers.UserError("The layer \u201c%s\u201d was removed while cleancut was working; "
                                   "nothing was changed." % self.layer_name)
        if self.action == "remove":
            layers.add_transparency_mask(document, layer, alpha, self.frame)
        else:
            layers.set_selection(document, alpha, self.frame)
