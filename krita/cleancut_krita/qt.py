# SPDX-License-Identifier: GPL-3.0-or-later
"""The plug-in's only door to Qt: PyQt6 inside Krita 6, PyQt5 inside Krita 5.

Krita 5.x embeds PyQt5 and Krita 6 embeds PyQt6 (``import PyQt5`` fails there), and one
process must never load both: Qt 5 and Qt 6 in one process crash. So the binding is chosen
in this order:

1. ``CLEANCUT_KRITA_QT=PyQt5|PyQt6`` (for tests: the Qt-side unit tests run each binding in
   a process of its own);
2. the binding already imported: Krita's own ``krita`` module imports its binding before any
   plug-in runs, so inside Krita this is always the right one, even where the other binding
   is also installed (a Debian with python3-pyqt6 running Krita 5.3);
3. PyQt6 if it imports, else PyQt5.

Every plug-in module imports Qt names from here, never from PyQt5/PyQt6 directly. Code
written against these names runs on both bindings as long as it keeps to what both share:

* scoped enums (``Qt.WindowModality.WindowModal``, ``QDialogButtonBox.StandardButton.Ok``):
  PyQt6 knows only these, PyQt5 has had them since 5.11;
* ``exec()`` (PyQt6 has no ``exec_()``; PyQt5 5.15 has both); the plug-in itself only uses
  the non-blocking ``open()``/``show()``;
* ``QAction`` lives in QtGui in Qt 6 and in QtWidgets in Qt 5: import it from here.

``QT6`` is also the name the static check gives mypy (``--always-true QT6`` or
``--always-false QT6``), so each run type-checks exactly one branch against that binding's
own stubs (see tests/static/test_krita_api.py).
"""

import os
import sys

ENV = "CLEANCUT_KRITA_QT"
BINDINGS = ("PyQt6", "PyQt5")


def choose_binding() -> str:
    """The binding this process uses (see the module's docstring for the order)."""
    forced = os.environ.get(ENV, "")
    if forced:
        if forced not in BINDINGS:
            raise ImportError("%s=%s: expected one of %s" % (ENV, forced, ", ".join(BINDINGS)))
        return forced
    for name in BINDINGS:
        if name in sys.modules:
            return name
    try:
        import PyQt6.QtCore  # noqa: F401
    except ImportError:
        return "PyQt5"
    return "PyQt6"


BINDING = choose_binding()
QT6 = BINDING == "PyQt6"

if QT6:
    from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
    from PyQt6.QtCore import QT_VERSION_STR, PYQT_VERSION_STR
    from PyQt6.QtGui import QAction
    from PyQt6.QtWidgets import (
        QAbstractItemView,
        QApplication,
        QCheckBox,
        QComboBox,
        QDialog,
        QDialogButtonBox,
        QDockWidget,
        QFormLayout,
        QLabel,
        QMessageBox,
        QProgressDialog,
        QPushButton,
        QVBoxLayout,
    )
else:
    from PyQt5.QtCore import QObject, Qt, QTimer, pyqtSignal
    from PyQt5.QtCore import QT_VERSION_STR, PYQT_VERSION_STR
    from PyQt5.QtWidgets import (
        QAbstractItemView,
        QAction,
        QApplication,
        QCheckBox,
        QComboBox,
        QDialog,
        QDialogButtonBox,
        QDockWidget,
        QFormLayout,
        QLabel,
        QMessageBox,
        QProgressDialog,
        QPushButton,
        QVBoxLayout,
    )

__all__ = [
    "BINDING", "QT6", "QT_VERSION_STR", "PYQT_VERSION_STR",
    "QAbstractItemView", "QAction", "QApplication", "QCheckBox", "QComboBox", "QDialog",
    "QDialogButtonBox", "QDockWidget", "QFormLayout", "QLabel", "QMessageBox", "QObject",
    "QProgressDialog", "QPushButton", "QTimer", "QVBoxLayout", "Qt", "pyqtSignal",
]
