# SPDX-License-Identifier: GPL-3.0-or-later
"""A Krita plug-in for tests only: runs a scenario script inside the real Krita, then quits.

Environment:
  CLEANCUT_DRIVER_SCRIPT  a Python file whose ``main(spec, out)`` is a generator, run once the
                          first window exists: it yields milliseconds to wait, or a predicate
                          to poll every 20 ms, and control goes back to Krita's main loop
                          in between (never a nested event loop)
  CLEANCUT_DRIVER_SPEC    a JSON file handed to main() as ``spec``
  CLEANCUT_DRIVER_OUT     the folder main() writes into; the driver adds status.json
  CLEANCUT_DRIVER_DEADLINE  seconds before the watchdog ends Krita (exit 4)

Fail fast: any uncaught exception (in the driver, in the plug-in under test, in a Qt slot) is
written to OUT/crash.txt and Krita exits at once with code 3, instead of opening Krita's modal
error dialog and waiting forever. A watchdog thread does the same with code 4 when the
scenarios run past their deadline, so a hung Krita always fails the test.
"""

import json
import os
import runpy
import sys
import threading
import time
import traceback

from krita import Extension, Krita

OUT = os.environ.get("CLEANCUT_DRIVER_OUT", "")
STARTED = time.time()


def _write(name, text):
    if OUT:
        with open(os.path.join(OUT, name), "w") as handle:
            handle.write(text)


def _fail_fast(kind, value, tb):
    text = "".join(traceback.format_exception(kind, value, tb))
    _write("crash.txt", text)
    sys.stderr.write("cleancut driver: uncaught exception\n" + text)
    sys.stderr.flush()
    os._exit(3)


def _watchdog(seconds):
    time.sleep(seconds)
    _write("crash.txt", "watchdog: the scenarios did not finish within %s s\n" % seconds)
    sys.stderr.write("cleancut driver: watchdog expired after %s s\n" % seconds)
    sys.stderr.flush()
    os._exit(4)


if OUT:
    sys.excepthook = _fail_fast
    threading.excepthook = lambda args: _fail_fast(args.exc_type, args.exc_value, args.exc_traceback)
    deadline = float(os.environ.get("CLEANCUT_DRIVER_DEADLINE", "120"))
    threading.Thread(target=_watchdog, args=(deadline,), name="driver-watchdog", daemon=True).start()


class Driver(Extension):
    def __init__(self, parent):
        super().__init__(parent)
        self.started = False

    def setup(self):
        if OUT:
            Krita.instance().notifier().windowCreated.connect(self._window_created)

    def createActions(self, window):
        pass

    def _window_created(self):
        if self.started:
            return
        self.started = True
        from PyQt5.QtCore import QTimer
        QTimer.singleShot(0, self._run)

    def _run(self):
        with open(os.environ["CLEANCUT_DRIVER_SPEC"]) as handle:
            spec = json.load(handle)
        script = runpy.run_path(os.environ["CLEANCUT_DRIVER_SCRIPT"], run_name="cleancut_scenarios")
        _write("started.json", json.dumps({"window_after_s": time.time() - STARTED}))
        self.steps = script["main"](spec, OUT)
        self._step()

    def _step(self):
        """Advance the scenario generator: it yields milliseconds to wait, or a predicate to poll.

        No nested event loops: Krita 5.2 delivers its node-graph updates (which layer is
        active, new layers' shapes) only from the main loop, so scenarios give control back.
        """
        from PyQt5.QtCore import QTimer
        try:
            wanted = next(self.steps)
        except StopIteration:
            self._finish()
            return
        if callable(wanted):
            self._poll(wanted)
        else:
            QTimer.singleShot(int(wanted), self._step)

    def _poll(self, predicate):
        from PyQt5.QtCore import QTimer
        if predicate():
            QTimer.singleShot(0, self._step)
        else:
            QTimer.singleShot(20, lambda: self._poll(predicate))

    def _finish(self):
        _write("status.json", json.dumps({"finished": True, "seconds": time.time() - STARTED}))
        for document in Krita.instance().documents():
            document.setModified(False)  # no "save changes?" question on quit
        Krita.instance().action("file_quit").trigger()


Krita.instance().addExtension(Driver(Krita.instance()))
