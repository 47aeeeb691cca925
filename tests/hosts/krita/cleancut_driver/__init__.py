# SPDX-License-Identifier: GPL-3.0-or-later
"""A Krita plug-in for tests only: runs a scenario script inside the real Krita, then quits.

Environment:
  CLEANCUT_DRIVER_SCRIPT  a Python file whose ``main(spec, out)`` is a generator, run once the
                          first window exists: it yields milliseconds to wait, or a predicate
                          to poll every 20 ms, and control goes back to Krita's main loop
                          in between (never a nested event loop); OUT/steps.log traces it
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
POLL_MS = 20
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


WAITING = {"on": "Krita's first window (the scenarios have not started)"}


def _trace(text):
    """One line per scenario step in OUT/steps.log, flushed: if Krita blocks inside a call that
    holds Python's lock (so the watchdog thread cannot run either), the last line says where."""
    WAITING["on"] = text
    if OUT:
        with open(os.path.join(OUT, "steps.log"), "a") as handle:
            handle.write("%8.2f %s\n" % (time.time() - STARTED, text))


def _watchdog(seconds):
    time.sleep(seconds)
    _write("crash.txt", "watchdog: the scenarios did not finish within %s s; still waiting on %s\n"
           % (seconds, WAITING["on"]))
    sys.stderr.write("cleancut driver: watchdog expired after %s s\n" % seconds)
    sys.stderr.flush()
    os._exit(4)


if OUT:
    sys.excepthook = _fail_fast
    threading.excepthook = lambda args: _fail_fast(args.exc_type, args.exc_value, args.exc_traceback)
    deadline = float(os.environ.get("CLEANCUT_DRIVER_DEADLINE", "120"))
    threading.Thread(target=_watchdog, args=(deadline,), name="driver-watchdog", daemon=True).start()


def _where(generator):
    """Where a (``yield from``-nested) scenario generator is suspended: the innermost frames."""
    places = []
    while generator is not None:
        frame = getattr(generator, "gi_frame", None)
        if frame is not None:
            places.append("%s line %d" % (frame.f_code.co_name, frame.f_lineno))
        generator = getattr(generator, "gi_yieldfrom", None)
    return " > ".join(places[-3:]) or "(finished)"


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
        from cleancut_krita.qt import QTimer  # the binding this Krita embeds (PyQt5 or PyQt6)
        QTimer.singleShot(0, self._run)

    def _run(self):
        from cleancut_krita.qt import QTimer  # the binding this Krita embeds (PyQt5 or PyQt6)
        with open(os.environ["CLEANCUT_DRIVER_SPEC"]) as handle:
            spec = json.load(handle)
        script = runpy.run_path(os.environ["CLEANCUT_DRIVER_SCRIPT"], run_name="cleancut_scenarios")
        _write("started.json", json.dumps({"window_after_s": time.time() - STARTED}))
        self.steps = script["main"](spec, OUT)
        self.wanted = None  # what the scenario waits for: a predicate, or the time to go on at
        self.polls = 0
        # One timer for the whole run, owned by the driver (no per-poll one-shot timers).
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._tick)
        self._step()
        self.timer.start()

    def _tick(self):
        """On every timer tick: go on with the scenario once what it waits for has come."""
        wanted = self.wanted
        if wanted is None:
            return
        if callable(wanted):
            if not wanted():
                self.polls += 1
                if self.polls % 500 == 0:  # every ~10 s: the main loop turns, the condition stays false
                    _trace("still false after %d polls: %s" % (self.polls, WAITING["step"]))
                return
        elif time.time() < wanted:
            return
        self._step()

    def _step(self):
        """Advance the scenario generator: it yields milliseconds to wait, or a predicate to poll.

        No nested event loops: Krita 5.2 delivers its node-graph updates (which layer is
        active, new layers' shapes) only from the main loop, so scenarios give control back.
        """
        _trace("scenario code running on from " + _where(self.steps))
        self.wanted = None
        try:
            wanted = next(self.steps)
        except StopIteration:
            self.timer.stop()
            self._finish()
            return
        WAITING["step"] = "%s at %s" % ("a condition" if callable(wanted) else "%s ms" % wanted, _where(self.steps))
        _trace(WAITING["step"])
        self.polls = 0
        self.wanted = wanted if callable(wanted) else time.time() + wanted / 1000.0

    def _finish(self):
        _write("status.json", json.dumps({"finished": True, "seconds": time.time() - STARTED}))
        for document in Krita.instance().documents():
            document.setModified(False)  # no "save changes?" question on quit
        _trace("Krita to quit (the scenarios finished)")
        Krita.instance().action("file_quit").trigger()


# Held here as well as by Krita: Krita 5.3's Krita.extensions() hands its objects back to
# Python (SIP 6), so once that list is dropped an extension nobody else holds is deleted, its
# timers with it, and the scenarios stalled on their next step (the 5.3 "hang").
DRIVER = Driver(Krita.instance())
Krita.instance().addExtension(DRIVER)
