# SPDX-License-Identifier: GPL-3.0-or-later
"""What the actions and the options dialog share on Krita's GUI thread: a message box, the
message for a bug in the plug-in, and Background, which runs work on a Python thread."""

import sys
import threading
import traceback

from krita import Krita

from .qt import QMessageBox, QObject, Qt, QTimer


def main_window():
    window = Krita.instance().activeWindow()
    return window.qwindow() if window is not None else None


def show_error(text, title="cleancut"):
    """A warning box with the text as is; non-blocking (open(), not exec()), so nothing waits on it."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, main_window())
    box.setObjectName("cleancut-error")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.open()
    return box


def unexpected(error_text):
    """The message for a bug in the plug-in: what happened and where (the full traceback goes to stderr)."""
    sys.stderr.write("cleancut: unexpected error\n" + error_text)
    lines = error_text.strip().splitlines()
    where = [line.strip() for line in lines if line.strip().startswith("File ")]
    details = lines[-1] + ("\n(" + where[-1] + ")" if where else "")
    return ("cleancut hit an unexpected problem, and nothing was changed. Please report it with "
            "these details:\n\n" + details)


class Background(QObject):
    """Run ``work()`` on a Python thread; call ``done(result, error_text, error)`` on the GUI thread.

    The GUI thread only polls a flag with a QTimer, so Krita keeps painting and no Qt object is
    touched from the thread. ``tick()`` (optional) runs on every poll, for progress.
    """

    def __init__(self, work, done, tick=None, parent=None):
        QObject.__init__(self, parent)
        self.work, self.done, self.tick = work, done, tick
        self.result = None
        self.error = None
        self.error_text = None
        self.finished = threading.Event()
        self.timer = QTimer(self)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self._poll)

    def start(self):
        self.timer.start()
        threading.Thread(target=self._run, name="cleancut-engine", daemon=True).start()

    def _run(self):
        try:
            self.result = self.work()
        except Exception as err:  # handed to the GUI thread, which shows it
            self.error = err
            self.error_text = traceback.format_exc()
        finally:
            self.finished.set()

    def _poll(self):
        try:
            if self.tick is not None:
                self.tick()
            if self.finished.is_set():
                self.timer.stop()
                self.done(self.result, self.error_text, self.error)
        except Exception:
            self.timer.stop()
            show_error(unexpected(traceback.format_exc()))
