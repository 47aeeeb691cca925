# SPDX-License-Identifier: GPL-3.0-or-later
"""Dump the API of a real Krita's `krita` module as JSON, for make_stubs.py.

Runs in the Python that a Krita build embeds (Debian's /usr/bin/python3 beside its krita
package), outside Krita: the compiled module PyKrita/krita.so imports without a running Krita
and SIP gives every method a docstring with its Python signature, e.g.
``createDocument(self, int, int, str, str, str, str, float) -> Document``.

    python3 dump_krita_api.py OUT.json [KRITA_PYTHON_LIBS]

KRITA_PYTHON_LIBS defaults to /usr/lib/x86_64-linux-gnu/krita-python-libs. Standard library
only (the distribution's Python has nothing else).
"""

import inspect
import json
import subprocess
import sys


def krita_version():
    """The version of the installed krita package ("5.3.4.1"), as dpkg knows it (Debian: the
    dump runs beside the distribution's Krita; `krita --version` would need an X server)."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "krita"], capture_output=True,
                             text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    upstream = out.split(":")[-1].split("+")[0].split("-")[0]
    return upstream or None


def describe_class(cls, module_name):
    """Bases, own methods (SIP signatures, one per overload), signals and enum values."""
    entry = {"bases": [], "doc": (cls.__doc__ or "").strip(), "methods": {}, "signals": {},
             "constants": {}}
    for base in cls.__bases__:
        entry["bases"].append("%s.%s" % (base.__module__, base.__name__))
    for name, raw in sorted(vars(cls).items()):
        if name.startswith("__") and name != "__init__":
            continue
        kind = type(raw).__name__
        if kind == "pyqtSignal":
            entry["signals"][name] = str(raw)  # "<unbound PYQT_SIGNAL name(QString)>"
        elif kind in ("builtin_function_or_method", "method_descriptor", "methoddescriptor"):
            doc = getattr(cls, name).__doc__ or ""
            entry["methods"][name] = [line for line in doc.splitlines() if line.startswith(name + "(")]
        elif isinstance(raw, int):
            entry["constants"][name] = [type(raw).__name__, int(raw)]
        elif inspect.isclass(raw):
            entry["constants"][name] = ["class", raw.__name__]
    return entry


def main():
    out = sys.argv[1]
    libs = sys.argv[2] if len(sys.argv) > 2 else "/usr/lib/x86_64-linux-gnu/krita-python-libs"
    sys.path.insert(0, libs)
    from PyKrita import krita  # noqa: E402  (the compiled module; `krita` the package needs Krita)

    binding = next(name for name in ("PyQt6", "PyQt5") if name in sys.modules)
    api = {"krita_version": krita_version(), "python": sys.version.split()[0], "binding": binding,
           "classes": {}}
    for name, value in sorted(vars(krita).items()):
        if inspect.isclass(value) and value.__module__ == krita.__name__:
            api["classes"][name] = describe_class(value, krita.__name__)
    with open(out, "w") as handle:
        json.dump(api, handle, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
