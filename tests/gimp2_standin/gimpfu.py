# -*- coding: utf-8 -*-
"""Stand-in for GIMP 2.10's ``gimpfu`` (plug-ins/pygimp/gimpfu.py, branch gimp-2-10).

Behaviour kept from the original, because a plug-in depends on it:

* ``from gimpfu import *`` gives ``gimp``, ``pdb``, ``register``, ``main``, ``fail``, the PF_*
  parameter types and every gimpenums constant;
* ``register(proc_name, blurb, help, author, copyright, date, label, imagetypes, params,
  results, function, menu=None, domain=None, on_query=None, on_run=None)`` with the same
  checks (name characters, at least 4 items per parameter, integer types, 3 per result) and
  the same renaming (no python-/plug-in-/extension-/file- prefix: "python-fu-" is added);
* ``_query()`` installs each procedure with a leading run-mode INT32 parameter, parameter
  descriptions without "_", PF_* types mapped to PDB types, then registers ``menu``;
* ``_run(proc_name, params)``: RUN_NONINTERACTIVE calls the function with params[1:];
  RUN_WITH_LAST_VALS fills the missing arguments from the last values (else the defaults);
  RUN_INTERACTIVE would show the GTK dialog: here the dialog is "accepted with its values
  unchanged" (last values, else defaults); displays are flushed after non-batch runs.
* ``main()`` hands ``_query`` and ``_run`` to ``gimp.main``.
"""

from __future__ import absolute_import, division, print_function

import string as _string

import gimp
import gimpcolor
from gimpenums import *  # noqa: F401,F403 -- exactly what the real gimpfu re-exports
from gimpenums import (PDB_CHANNEL, PDB_COLOR, PDB_DISPLAY, PDB_DRAWABLE, PDB_FLOAT, PDB_IMAGE, PDB_INT8,
                       PDB_INT16, PDB_INT32, PDB_ITEM, PDB_LAYER, PDB_STRING, PDB_VECTORS, PLUGIN,
                       RUN_NONINTERACTIVE, RUN_WITH_LAST_VALS)

pdb = gimp.pdb


class error(RuntimeError):  # noqa: N801
    pass


class CancelError(RuntimeError):
    pass


PF_INT8, PF_INT16, PF_INT32 = PDB_INT8, PDB_INT16, PDB_INT32
PF_INT = PF_INT32
PF_FLOAT = PDB_FLOAT
PF_STRING = PDB_STRING
PF_VALUE = PF_STRING
PF_COLOR = PF_COLOUR = PDB_COLOR
PF_REGION = PDB_ITEM
PF_DISPLAY = PDB_DISPLAY
PF_IMAGE = PDB_IMAGE
PF_LAYER = PDB_LAYER
PF_CHANNEL = PDB_CHANNEL
PF_DRAWABLE = PDB_DRAWABLE
PF_VECTORS = PDB_VECTORS
PF_TOGGLE = PF_BOOL = 1000
PF_SLIDER = 1001
PF_SPINNER = PF_ADJUSTMENT = 1002
PF_FONT, PF_FILE, PF_BRUSH, PF_PATTERN, PF_GRADIENT = 1003, 1004, 1005, 1006, 1007
PF_RADIO, PF_TEXT, PF_PALETTE, PF_FILENAME, PF_DIRNAME, PF_OPTION = 1008, 1009, 1010, 1011, 1012, 1013

_type_mapping = {
    PF_INT8: PDB_INT8, PF_INT16: PDB_INT16, PF_INT32: PDB_INT32, PF_FLOAT: PDB_FLOAT, PF_STRING: PDB_STRING,
    PF_COLOR: PDB_COLOR, PF_DISPLAY: PDB_DISPLAY, PF_IMAGE: PDB_IMAGE, PF_LAYER: PDB_LAYER,
    PF_CHANNEL: PDB_CHANNEL, PF_DRAWABLE: PDB_DRAWABLE, PF_VECTORS: PDB_VECTORS,
    PF_TOGGLE: PDB_INT32, PF_SLIDER: PDB_FLOAT, PF_SPINNER: PDB_INT32,
    PF_FONT: PDB_STRING, PF_FILE: PDB_STRING, PF_BRUSH: PDB_STRING, PF_PATTERN: PDB_STRING,
    PF_GRADIENT: PDB_STRING, PF_RADIO: PDB_STRING, PF_TEXT: PDB_STRING, PF_PALETTE: PDB_STRING,
    PF_FILENAME: PDB_STRING, PF_DIRNAME: PDB_STRING, PF_OPTION: PDB_INT32,
}
_obj_mapping = {
    PF_IMAGE: gimp.Image, PF_LAYER: gimp.Layer, PF_CHANNEL: gimp.Channel, PF_DRAWABLE: gimp.Drawable,
    PF_COLOR: gimpcolor.RGB,
}

_registered_plugins_ = {}
_last_values = {}

_ALLOWED = set(_string.ascii_letters + _string.digits + "_-")
_PREFIXES = ("python-", "python_", "extension-", "extension_", "plug-in-", "plug_in_", "file-", "file_")


def _letters_ok(text):
    return all(ch in _ALLOWED for ch in text)


def register(proc_name, blurb, help, author, copyright, date, label, imagetypes, params, results,  # noqa: A002
             function, menu=None, domain=None, on_query=None, on_run=None):
    """Register a plug-in procedure, as gimpfu.register does."""
    if not _letters_ok(proc_name):
        raise error("procedure name contains illegal characters")
    for ent in params:
        if len(ent) < 4:
            raise error("parameter definition must contain at least 4 elements (%s given: %s)" % (len(ent), ent))
        if type(ent[0]) != int:
            raise error("parameter types must be integers")
        if not _letters_ok(ent[1]):
            raise error("parameter name contains illegal characters")
    for ent in results:
        if len(ent) < 3:
            raise error("result definition must contain at least 3 elements (%s given: %s)" % (len(ent), ent))
        if type(ent[0]) != int:
            raise error("result types must be integers")
        if not _letters_ok(ent[1]):
            raise error("result name contains illegal characters")
    if not proc_name.startswith(_PREFIXES):
        proc_name = "python-fu-" + proc_name
    if menu is None and label:
        raise error("the stand-in models the 2.10 style only: pass menu= and the image/drawable parameters")
    _registered_plugins_[proc_name] = (blurb, help, author, copyright, date, label, imagetypes, PLUGIN,
                                       params, results, function, menu, domain, on_query, on_run)


def _query():
    for proc_name, entry in _registered_plugins_.items():
        (blurb, help, author, copyright, date, label, imagetypes, plugin_type,  # noqa: A001
         params, results, function, menu, domain, on_query, on_run) = entry

        def make_params(defs):
            return [(_type_mapping[d[0]], d[1], d[2].replace("_", "")) for d in defs]

        installed = make_params(params)
        installed.insert(0, (PDB_INT32, "run-mode", "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1) }"))
        if domain:
            gimp.domain_register(domain)
        gimp.install_procedure(proc_name, blurb, help, author, copyright, date, label, imagetypes,
                               plugin_type, installed, make_params(results))
        if menu:
            gimp.menu_register(proc_name, menu)
        if on_query:
            on_query()


def _defaults(proc_name):
    params = _registered_plugins_[proc_name][8]
    return list(_last_values.get(proc_name, [d[3] for d in params]))


def _run(proc_name, params):
    run_mode = params[0]
    function = _registered_plugins_[proc_name][10]
    if run_mode == RUN_NONINTERACTIVE:
        return function(*params[1:])
    script_params = _registered_plugins_[proc_name][8]
    given = 0  # leading arguments of the right object type (image, drawable, ...)
    for value, definition in zip(params[1:], script_params):
        expected = _obj_mapping.get(definition[0])
        if expected is None or not isinstance(value, expected):
            break
        given += 1
    arguments = list(params[1:given + 1]) + _defaults(proc_name)[given:]
    if run_mode != RUN_WITH_LAST_VALS:  # the dialog, accepted unchanged
        on_run = _registered_plugins_[proc_name][14]
        if on_run:
            on_run()
    _last_values[proc_name] = arguments
    result = function(*arguments)
    gimp.displays_flush()
    return result


def main():
    """Call after registering the plug-in's procedures."""
    gimp.main(None, None, _query, _run)


def fail(msg):
    """Show a message and stop the plug-in."""
    gimp.message(msg)
    raise error(msg)


def N_(message):  # noqa: N802
    return message
