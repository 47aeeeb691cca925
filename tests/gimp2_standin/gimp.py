# -*- coding: utf-8 -*-
"""Stand-in for GIMP 2.10's ``gimp`` module (pygimp), holding images in memory and recording calls.

Debian 12's GIMP 2.10 has no Python, so the cleancut plug-in is driven through this module.
It runs under Python 2.7 (what GIMP 2.10 embeds) and Python 3. Its API is taken from GIMP's
own source, branch gimp-2-10, plug-ins/pygimp/:

* gimpmodule.c -- the module functions (main, message, progress_init/update, displays_flush,
  install_procedure, menu_register, domain_register), ``pdb``, ``error``, the exported types;
* pygimp-pdb.c -- ``pdb.NAME(*args)``: the exact argument count ("wrong number of parameters"),
  the per-type conversion (PyNumber_Int for INT32, PyObject_Str for STRING, None as -1 for
  items, "wrong parameter type"), a leading run-mode argument filled in (or ``run_mode=``),
  return values (none: None; one: the value; more: a tuple; id -1: None), a failed procedure
  raising RuntimeError with its message;
* pygimp-drawable.c, pygimp-image.c, pygimp-vectors.c -- the attributes and methods used here
  (width, height, offsets, bpp, has_alpha, is_rgb, is_gray, is_indexed, mask, name, image,
  selection, vectors, a path's strokes and a stroke's points,
  get_pixel_rgn(x, y, width, height, dirty=1, shadow=0), flush, update, merge_shadow,
  copy, add_alpha, create_mask, add_mask, remove_mask);
* pygimp-tile.c -- ``PixelRgn``: ``rgn[x1:x2, y1:y2]`` (rows top-down, tightly packed) and
  ``rgn[x, y]``, ``rgn[x1:x2, y]``, ``rgn[x, y1:y2]``, with PySlice_GetIndices' bounds, the
  ``x1 == 0 -> pr->x`` quirk, "must assign string to subscript" and "string is wrong length".

The PDB procedures (the subset below) have the signatures of GIMP 2.10's PDB:
tests/test_gimp2.py compares every one with ``gimp-procedural-db-dump`` of the real GIMP 2.10.
What libgimp does between the plug-in and the core is modelled where it decides results:
pixel-region writes stay in the plug-in's tile cache until ``flush()`` (and are lost when the
region was not opened dirty), shadow writes reach the drawable only through
``merge_shadow()``, which, like GIMP's, only changes the selected part of the image when a
selection exists (app/core/gimpdrawable-shadow.c); pixels travel as GIMP 2.10 hands them to a
plug-in that did not call gimp_plugin_enable_precision: 8 bits per channel, colour gamma-encoded,
alpha as is, and masks and channels gamma-encoded on the way out and gamma-decoded on the way in
although GIMP stores them linear (so a byte written into a mask does not arrive as that value:
LINEAR_FROM_PLUGIN). tests/test_gimp2.py checks these conversions in the real GIMP 2.10 with a
libgimp plug-in (tile_probe.py). Only 8-bit images are modelled.

Not modelled: GTK dialogs, displays, layer groups, indexed pixels, undo replay (undo is
recorded as steps and groups, not undone), high-bit-depth precision.
"""

from __future__ import absolute_import, division, print_function

import sys

import gimpenums as _e

PY2 = sys.version_info[0] == 2
if PY2:
    _string_types = (str, unicode)  # noqa: F821
    _int_types = (int, long)  # noqa: F821
else:
    _string_types = (str,)
    _int_types = (int,)


class error(RuntimeError):  # noqa: N801 -- gimp.error, as pygimp names it
    pass


version = (2, 10, 34)
locale_directory = "/usr/share/locale"

# --- what the tests read back --------------------------------------------------------------
calls = []        # (procedure name, converted arguments) for every PDB call
messages = []     # gimp-message / gimp.message texts, in order
progress = []     # ("init", text) / ("update", fraction) / ("text", text)
installed = {}    # procedure name -> dict(blurb, help, ..., params, results)
menus = {}        # procedure name -> [menu paths]
events = []       # ("flush", drawable ID) / ("update", ID, x, y, w, h) / ("merge_shadow", ID, undo)
_callbacks = {}   # what gimp.main received
_items = {}
_images = {}
_next_id = [1]


def reset():
    """Forget every image, item, call and registration (a fresh GIMP)."""
    for record in (calls, messages, progress, events):
        del record[:]
    for table in (installed, menus, _callbacks, _items, _images):
        table.clear()


def _new_id():
    _next_id[0] += 1
    return _next_id[0]


class _PDBFailure(Exception):
    """A procedure that returned GIMP_PDB_EXECUTION_ERROR / CALLING_ERROR."""


# --- images and items ----------------------------------------------------------------------

class Image(object):
    def __init__(self, width, height, base_type):
        self.ID = _new_id()
        self.width, self.height, self.base_type = width, height, base_type
        self.layers = []          # top first, as GIMP lists them
        self.channels = []
        self.selection = Channel(self, "Selection Mask", width, height, 0)
        self.selection._attached = True
        self.undo_steps = []      # each a list of what one undo step undoes
        self._group_depth = 0
        self._group = None
        self._vectors = []        # paths, top first
        _images[self.ID] = self

    @property
    def vectors(self):
        """pygimp-image.c's img_get_vectors: the paths, through gimp-image-get-vectors."""
        _, ids = pdb.gimp_image_get_vectors(self)
        return [_items[vectors_id] for vectors_id in ids]

    def __eq__(self, other):
        return isinstance(other, Image) and other.ID == self.ID

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return self.ID

    def _push_undo(self, what):
        if self._group_depth:
            self._group.append(what)
        else:
            self.undo_steps.append([what])


class Item(object):
    def __init__(self, image, name):
        self.ID = _new_id()
        self.image = image
        self._name = name
        self._parent = None
        self._attached = False
        _items[self.ID] = self

    def __eq__(self, other):
        return isinstance(other, Item) and other.ID == self.ID

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return self.ID

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        pdb.gimp_item_set_name(self, value)


def _srgb_to_linear(value):
    c = value / 255.0
    return int((c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4) * 255.0 + 0.5)


def _linear_to_srgb(value):
    c = value / 255.0
    return int((c * 12.92 if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055) * 255.0 + 0.5)


_IDENTITY = bytes(bytearray(range(256)))
#: What GIMP 2.10 does to 8-bit tiles of masks and channels for a plug-in without precision: it
#: sends them as gamma-encoded grey (Y' u8) and takes them back as such, while masks and channels
#: are stored linear (Y u8), so babl converts both ways (sRGB curve, rounded). Checked against the
#: real GIMP 2.10 by tests/test_gimp2.py.
LINEAR_FROM_PLUGIN = bytes(bytearray(_srgb_to_linear(v) for v in range(256)))
PLUGIN_FROM_LINEAR = bytes(bytearray(_linear_to_srgb(v) for v in range(256)))


class Drawable(Item):
    _to_plugin = _from_plugin = _IDENTITY  # layers: R'G'B'(A) / Y'(A) u8 both ways, alpha as is
    _bpp_of_type = {_e.RGB_IMAGE: 3, _e.RGBA_IMAGE: 4, _e.GRAY_IMAGE: 1, _e.GRAYA_IMAGE: 2,
                    _e.INDEXED_IMAGE: 1, _e.INDEXEDA_IMAGE: 2}

    def __init__(self, image, name, width, height, image_type, fill=0):
        Item.__init__(self, image, name)
        self.width, self.height, self.type = width, height, image_type
        self._offsets = (0, 0)
        self._data = bytearray([fill]) * (width * height * self.bpp)  # what the core holds
        self._pending = []         # plug-in tiles written, not yet flushed
        self._shadow = bytearray(width * height * self.bpp)  # the core's shadow buffer
        self._shadow_pending = []

    @property
    def bpp(self):
        return self._bpp_of_type[self.type]

    @property
    def has_alpha(self):
        return self.type in (_e.RGBA_IMAGE, _e.GRAYA_IMAGE, _e.INDEXEDA_IMAGE)

    @property
    def is_rgb(self):
        return self.type in (_e.RGB_IMAGE, _e.RGBA_IMAGE)

    @property
    def is_gray(self):
        return self.type in (_e.GRAY_IMAGE, _e.GRAYA_IMAGE)

    is_grey = is_gray

    @property
    def is_indexed(self):
        return self.type in (_e.INDEXED_IMAGE, _e.INDEXEDA_IMAGE)

    @property
    def offsets(self):
        return self._offsets

    def get_pixel_rgn(self, x, y, width, height, dirty=True, shadow=False):
        for value in (x, y, width, height, dirty, shadow):
            if not isinstance(value, _int_types):
                raise TypeError("an integer is required")
        return PixelRgn(_REGION_TOKEN, self, x, y, width, height, bool(dirty), bool(shadow))

    def flush(self):
        """gimp_drawable_flush: the plug-in's dirty tiles reach the core."""
        for (x, y, w, h, data) in self._pending:
            self._store(self._data, x, y, w, h, data)
        for (x, y, w, h, data) in self._shadow_pending:
            self._store(self._shadow, x, y, w, h, data)
        del self._pending[:]
        del self._shadow_pending[:]
        events.append(("flush", self.ID))

    def update(self, x, y, w, h):
        for value in (x, y, w, h):
            if not isinstance(value, _int_types):
                raise TypeError("an integer is required")
        events.append(("update", self.ID, x, y, w, h))

    def merge_shadow(self, undo=False):
        """gimp_drawable_merge_shadow: the shadow replaces the pixels, through the selection."""
        image = self.image
        selection = image.selection if image is not None else None
        use_selection = selection is not None and selection is not self and any(selection._data)
        ox, oy = self._offsets
        bpp = self.bpp
        merged = bytearray(self._data)
        for row in range(self.height):
            for column in range(self.width):
                weight = 255
                if use_selection:
                    cx, cy = column + ox, row + oy
                    inside = 0 <= cx < image.width and 0 <= cy < image.height
                    weight = selection._data[cy * image.width + cx] if inside else 0
                at = (row * self.width + column) * bpp
                for channel in range(bpp):
                    old, new = self._data[at + channel], self._shadow[at + channel]
                    merged[at + channel] = (new * weight + old * (255 - weight) + 127) // 255
        self._data[:] = merged
        if undo and image is not None:
            image._push_undo(("pixels", self.ID))
        events.append(("merge_shadow", self.ID, bool(undo)))

    # what the plug-in sees: the core's pixels under its own unflushed tiles
    def _read(self, x, y, w, h, shadow):
        source = bytearray(self._shadow if shadow else self._data)
        for (px, py, pw, ph, data) in (self._shadow_pending if shadow else self._pending):
            self._store(source, px, py, pw, ph, data)
        return self._load(source, x, y, w, h)

    def _write(self, x, y, w, h, data, shadow):
        (self._shadow_pending if shadow else self._pending).append((x, y, w, h, bytes(data)))

    def _load(self, source, x, y, w, h):
        bpp, out = self.bpp, bytearray()
        for row in range(y, y + h):
            start = (row * self.width + x) * bpp
            out += source[start:start + w * bpp]
        return bytes(out)

    def _store(self, target, x, y, w, h, data):
        bpp = self.bpp
        for index, row in enumerate(range(y, y + h)):
            start = (row * self.width + x) * bpp
            target[start:start + w * bpp] = data[index * w * bpp:(index + 1) * w * bpp]


class Layer(Drawable):
    def __init__(self, image, name, width, height, image_type, opacity=100.0, mode=_e.LAYER_MODE_NORMAL):
        Drawable.__init__(self, image, name, width, height, image_type)
        self.opacity, self.mode = opacity, mode
        self._mask = None

    @property
    def mask(self):
        return self._mask

    def copy(self, add_alpha=False):
        return pdb.gimp_layer_copy(self, add_alpha)

    def add_alpha(self):
        pdb.gimp_layer_add_alpha(self)

    def create_mask(self, mask_type):
        return pdb.gimp_layer_create_mask(self, mask_type)

    def add_mask(self, mask):
        pdb.gimp_layer_add_mask(self, mask)

    def remove_mask(self, mode):
        pdb.gimp_layer_remove_mask(self, mode)

    def set_offsets(self, offset_x, offset_y):
        pdb.gimp_layer_set_offsets(self, offset_x, offset_y)


class Channel(Drawable):
    _to_plugin, _from_plugin = PLUGIN_FROM_LINEAR, LINEAR_FROM_PLUGIN

    def __init__(self, image, name, width, height, fill, opacity=100.0, color=(0.0, 0.0, 0.0)):
        Drawable.__init__(self, image, name, width, height, _e.GRAY_IMAGE, fill)
        self.opacity, self.color = opacity, color
        self._layer = None  # the layer whose mask this is

    @property
    def is_layer_mask(self):
        return self._layer is not None


class GroupLayer(Layer):
    pass


class Display(object):
    pass


class Vectors(Item):
    """A path (pygimp-vectors.c): ``name``, ``strokes`` (gimp-vectors-get-strokes), each stroke's
    ``points``, (control points, closed) from gimp-vectors-stroke-get-points."""

    def __init__(self, image, name):
        Item.__init__(self, image, name)
        self._strokes = []  # [stroke id, control points (floats), closed], in order

    @property
    def strokes(self):
        _, ids = pdb.gimp_vectors_get_strokes(self)
        return [VectorsBezierStroke(self, stroke) for stroke in ids]


class VectorsBezierStroke(object):
    def __init__(self, vectors, stroke):
        self.vectors_ID, self.ID = vectors.ID, stroke

    @property
    def points(self):
        _, _, controlpoints, closed = pdb.gimp_vectors_stroke_get_points(_items[self.vectors_ID], self.ID)
        return list(controlpoints), bool(closed)


# --- pixel regions (pygimp-tile.c) -----------------------------------------------------------

_REGION_TOKEN = object()


def _slice_indices(item, length):
    """PySlice_GetIndices (Python 2.7): no clamping; -1 (here None) when out of bounds."""
    step = 1 if item.step is None else item.step
    start = (length - 1 if step < 0 else 0) if item.start is None else item.start
    if item.start is not None and start < 0:
        start += length
    stop = (-1 if step < 0 else length) if item.stop is None else item.stop
    if item.stop is not None and stop < 0:
        stop += length
    if stop > length or start >= length or step == 0:
        return None
    return start, stop, step


class PixelRgn(object):
    """gimp.PixelRgn: made by Drawable.get_pixel_rgn only, as in pygimp."""

    def __init__(self, token, drawable, x, y, width, height, dirty, shadow):
        if token is not _REGION_TOKEN:
            raise TypeError("cannot create 'gimp.PixelRgn' instances")
        # pygimp_pixel_rgn_new clamps the rectangle to the drawable
        x, y = max(x, 0), max(y, 0)
        if width < 0:
            width = drawable.width - x
        if height < 0:
            height = drawable.height - y
        x, y = min(x, drawable.width - 1), min(y, drawable.height - 1)
        width, height = min(width, drawable.width - x), min(height, drawable.height - y)
        self.drawable, self.x, self.y, self.w, self.h = drawable, x, y, width, height
        self.bpp = drawable.bpp
        self.rowstride = drawable.bpp * drawable.width
        self.dirty, self.shadow = dirty, shadow

    def __len__(self):
        raise error("Can't get size of pixel region")

    def _span(self, key, axis):
        """(start, stop) of one subscript, with pygimp's checks; axis is "x" or "y"."""
        low, size = (self.x, self.w) if axis == "x" else (self.y, self.h)
        if isinstance(key, _int_types):
            if key < low or key >= low + size:
                raise IndexError("%s subscript out of range" % axis)
            return key, key + 1
        if isinstance(key, slice):
            found = _slice_indices(key, low + size)
            if found is None or found[0] >= found[1] or found[2] != 1:
                raise IndexError("invalid %s slice" % axis)
            start, stop = found[0], found[1]
            if start == 0:
                start = low  # pr_subscript: "if (x1 == 0) x1 = pr->x"
            if start < low or stop < low:
                raise IndexError("%s subscript out of range" % axis)
            return start, stop
        raise TypeError("invalid %s subscript" % axis)

    def _rect(self, key):
        if not isinstance(key, tuple) or len(key) != 2:
            raise TypeError("subscript must be a 2-tuple")
        x1, x2 = self._span(key[0], "x")
        y1, y2 = self._span(key[1], "y")
        return x1, y1, x2 - x1, y2 - y1

    def __getitem__(self, key):
        x, y, w, h = self._rect(key)
        return self.drawable._read(x, y, w, h, self.shadow).translate(self.drawable._to_plugin)

    def __setitem__(self, key, value):
        if not isinstance(value, bytes):  # PyString_Check: str on Python 2, bytes here
            raise TypeError("must assign string to subscript")
        x, y, w, h = self._rect(key)
        if len(value) != self.bpp * w * h:
            raise TypeError("string is wrong length")
        if self.dirty:  # tiles of a region opened with dirty=False are never sent back
            self.drawable._write(x, y, w, h, value.translate(self.drawable._from_plugin), self.shadow)


# --- the PDB (pygimp-pdb.c) ------------------------------------------------------------------

_OBJECT_TYPES = {
    "GIMP_PDB_IMAGE": Image, "GIMP_PDB_ITEM": Item, "GIMP_PDB_LAYER": Layer, "GIMP_PDB_CHANNEL": Channel,
    "GIMP_PDB_DRAWABLE": Drawable, "GIMP_PDB_SELECTION": Channel, "GIMP_PDB_DISPLAY": Display,
    "GIMP_PDB_VECTORS": Vectors,
}


def _convert(value, kind):
    try:
        if kind in ("GIMP_PDB_INT32", "GIMP_PDB_INT16", "GIMP_PDB_INT8"):
            return int(value)
        if kind == "GIMP_PDB_FLOAT":
            return float(value)
        if kind == "GIMP_PDB_FLOATARRAY":
            return tuple(float(v) for v in value)
        if kind == "GIMP_PDB_STRING":
            return None if value is None else str(value)
        if kind == "GIMP_PDB_COLOR":
            parts = tuple(value)
            if len(parts) not in (3, 4):
                raise TypeError()
            return tuple(float(p) for p in parts)
    except (TypeError, ValueError, UnicodeError):
        raise TypeError("wrong parameter type")
    if kind in _OBJECT_TYPES:
        if value is None:
            return None
        if not isinstance(value, _OBJECT_TYPES[kind]):
            raise TypeError("wrong parameter type")
        return value
    raise TypeError("wrong parameter type")


class PDBFunction(object):
    def __init__(self, name, params, results, implementation):
        self.proc_name, self.params, self.return_vals = name, params, results
        self.nparams, self.nreturn_vals = len(params), len(results)
        self._implementation = implementation

    def __call__(self, *args, **kwargs):
        params = self.params
        run_mode = _e.RUN_NONINTERACTIVE
        if kwargs:
            if list(kwargs) != ["run_mode"]:
                raise TypeError("only 'run_mode' keyword argument accepted")
            run_mode = kwargs["run_mode"]
        leading = []
        if params and params[0][0] == "run-mode":
            params, leading = params[1:], [run_mode]
        if len(args) != len(params):
            raise TypeError("wrong number of parameters")
        converted = leading + [_convert(value, kind) for value, (_, kind) in zip(args, params)]
        calls.append((self.proc_name, tuple(converted)))
        try:
            result = self._implementation(*converted)
        except _PDBFailure as failure:
            raise RuntimeError(str(failure))
        if not self.return_vals and result is None:
            result = ()
        elif len(self.return_vals) == 1:
            result = (result,)
        if len(result) != len(self.return_vals):
            raise error("could not make return value")
        if not result:
            return None
        return result[0] if len(result) == 1 else result


class PDB(object):
    def __getattr__(self, attribute):
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        return self[attribute.replace("_", "-")]

    def __getitem__(self, name):
        if name in PROCEDURES:
            params, results, implementation = PROCEDURES[name]
            return PDBFunction(name, params, results, implementation)
        if name in installed:
            info = installed[name]
            return PDBFunction(name, [(p[1], _PDB_TYPE_NAMES[p[0]]) for p in info["params"]],
                               [(r[1], _PDB_TYPE_NAMES[r[0]]) for r in info["results"]],
                               _plugin_runner(name))
        raise error("procedure not found")


pdb = PDB()

_PDB_TYPE_NAMES = {_e.PDB_INT32: "GIMP_PDB_INT32", _e.PDB_INT16: "GIMP_PDB_INT16", _e.PDB_INT8: "GIMP_PDB_INT8",
                   _e.PDB_FLOAT: "GIMP_PDB_FLOAT", _e.PDB_STRING: "GIMP_PDB_STRING",
                   _e.PDB_COLOR: "GIMP_PDB_COLOR", _e.PDB_ITEM: "GIMP_PDB_ITEM",
                   _e.PDB_DISPLAY: "GIMP_PDB_DISPLAY", _e.PDB_IMAGE: "GIMP_PDB_IMAGE",
                   _e.PDB_LAYER: "GIMP_PDB_LAYER", _e.PDB_CHANNEL: "GIMP_PDB_CHANNEL",
                   _e.PDB_DRAWABLE: "GIMP_PDB_DRAWABLE", _e.PDB_SELECTION: "GIMP_PDB_SELECTION",
                   _e.PDB_VECTORS: "GIMP_PDB_VECTORS"}


def _plugin_runner(name):
    """A plug-in procedure: GIMP hands its arguments to the run callback given to gimp.main."""
    def run(*params):
        run_callback = _callbacks.get("run")
        if run_callback is None:
            raise _PDBFailure("Procedure '%s' has no running plug-in" % name)
        try:
            values = run_callback(name, tuple(params))
        except Exception as failure:  # a plug-in that raised returns EXECUTION_ERROR
            raise _PDBFailure("Procedure '%s' returned no return values: %s: %s"
                              % (name, type(failure).__name__, failure))
        return None if not installed[name]["results"] else values
    return run


# --- procedure implementations (what GIMP 2.10's core does, for 8-bit images) ---------------

def _check_attached(item, image=None):
    if not item._attached or (image is not None and item.image != image):
        raise _PDBFailure("Item '%s' (%d) cannot be used because it has not been added to an image"
                          % (item.name, item.ID))


def _fail_unless(condition, message):
    if not condition:
        raise _PDBFailure(message)


def _image_new(width, height, base_type):
    _fail_unless(base_type in (_e.RGB, _e.GRAY), "only RGB and GRAY images are modelled")
    return Image(width, height, base_type)


def _layer_new(image, width, height, image_type, name, opacity, mode):
    return Layer(image, name, width, height, image_type, opacity, mode)


def _base_type_of(image_type):
    return {_e.RGB_IMAGE: _e.RGB, _e.RGBA_IMAGE: _e.RGB, _e.GRAY_IMAGE: _e.GRAY,
            _e.GRAYA_IMAGE: _e.GRAY}.get(image_type, _e.INDEXED)


def _insert_layer(image, layer, parent, position):
    _fail_unless(not layer._attached and layer.image == image,
                 "Item '%s' (%d) has already been added to an image" % (layer.name, layer.ID))
    _fail_unless(parent is None, "layer groups are not modelled")
    _fail_unless(_base_type_of(layer.type) == image.base_type,
                 "Layer '%s' (%d) has the wrong type for image" % (layer.name, layer.ID))
    position = 0 if position < 0 else min(position, len(image.layers))
    image.layers.insert(position, layer)
    layer._attached = True
    image._push_undo(("insert-layer", layer.ID))


def _layer_set_offsets(layer, offx, offy):
    layer._offsets = (offx, offy)
    if layer._attached:
        layer.image._push_undo(("offsets", layer.ID))


def _undo_group_start(image):
    image._group_depth += 1
    if image._group_depth == 1:
        image._group = []


def _undo_group_end(image):
    _fail_unless(image._group_depth > 0, "Procedure 'gimp-image-undo-group-end' has been called "
                                         "without a matching gimp-image-undo-group-start")
    image._group_depth -= 1
    if image._group_depth == 0:
        if image._group:
            image.undo_steps.append(image._group)
        image._group = None


def _message(text):
    messages.append(text)


def _select(image, operation, values):
    selection = image.selection._data
    for index, value in enumerate(values):
        old = selection[index]
        if operation == _e.CHANNEL_OP_REPLACE:
            selection[index] = value
        elif operation == _e.CHANNEL_OP_ADD:
            selection[index] = max(old, value)
        elif operation == _e.CHANNEL_OP_SUBTRACT:
            selection[index] = max(old - value, 0)
        elif operation == _e.CHANNEL_OP_INTERSECT:
            selection[index] = min(old, value)
        else:
            raise _PDBFailure("invalid operation %d" % operation)
    image._push_undo(("selection", image.selection.ID))


def _select_rectangle(image, operation, x, y, width, height):
    values = bytearray(image.width * image.height)
    for row in range(max(int(y), 0), min(int(y + height), image.height)):
        for column in range(max(int(x), 0), min(int(x + width), image.width)):
            values[row * image.width + column] = 255
    _select(image, operation, values)


def _select_item(image, operation, item):
    """A channel's values, or a layer's alpha at its offsets (clipped to the canvas), as the selection."""
    _check_attached(item, image)
    if isinstance(item, Channel):
        _fail_unless((item.width, item.height) == (image.width, image.height), "channel size differs from the image")
        _select(image, operation, item._data)
        return
    values = bytearray(image.width * image.height)
    ox, oy = item.offsets
    alpha = item._data[item.bpp - 1::item.bpp] if item.has_alpha else bytearray([255]) * (item.width * item.height)
    for row in range(max(oy, 0), min(oy + item.height, image.height)):
        x0, x1 = max(ox, 0), min(ox + item.width, image.width)
        if x0 < x1:
            start = (row - oy) * item.width + (x0 - ox)
            values[row * image.width + x0:row * image.width + x1] = alpha[start:start + x1 - x0]
    _select(image, operation, values)


def _selection_is_empty(image):
    return int(not any(image.selection._data))


def _selection_none(image):
    if any(image.selection._data):
        _select(image, _e.CHANNEL_OP_REPLACE, bytearray(image.width * image.height))


def _layer_from_mask(mask):
    _fail_unless(mask._layer is not None, "Channel '%s' (%d) is not a layer mask" % (mask.name, mask.ID))
    return mask._layer


def _is_layer(item):
    return int(isinstance(item, Layer))


def _is_layer_mask(item):
    return int(isinstance(item, Channel) and item._layer is not None)


def _is_channel(item):
    return int(isinstance(item, Channel))


def _is_group(item):
    return int(isinstance(item, GroupLayer))


def _create_mask(layer, mask_type):
    _fail_unless(mask_type in (_e.ADD_MASK_WHITE, _e.ADD_MASK_BLACK, _e.ADD_MASK_ALPHA),
                 "only white, black and alpha masks are modelled")
    fill = 0 if mask_type == _e.ADD_MASK_BLACK else 255
    mask = Channel(layer.image, "%s mask" % layer.name, layer.width, layer.height, fill)
    if mask_type == _e.ADD_MASK_ALPHA and layer.has_alpha:
        mask._data[:] = layer._data[layer.bpp - 1::layer.bpp]
    return mask


def _add_mask(layer, mask):
    _check_attached(layer)
    _fail_unless(layer._mask is None, "Unable to add a layer mask since the layer already has one.")
    _fail_unless(not mask._attached and mask.image == layer.image and mask._layer is None,
                 "Item '%s' (%d) has already been added to an image" % (mask.name, mask.ID))
    _fail_unless((mask.width, mask.height) == (layer.width, layer.height),
                 "Cannot add layer mask of different dimensions than specified layer.")
    layer._mask, mask._layer, mask._attached = mask, layer, True
    layer.image._push_undo(("add-mask", layer.ID))


def _add_alpha(layer):
    if layer.has_alpha:
        return
    bpp, data = layer.bpp, layer._data
    count = len(data) // bpp
    grown = bytearray(count * (bpp + 1))
    for channel in range(bpp):
        grown[channel::bpp + 1] = data[channel::bpp]
    grown[bpp::bpp + 1] = bytearray([255]) * count
    layer.type = {_e.RGB_IMAGE: _e.RGBA_IMAGE, _e.GRAY_IMAGE: _e.GRAYA_IMAGE}[layer.type]
    layer._data = grown
    layer._shadow = bytearray(len(grown))
    if layer._attached:
        layer.image._push_undo(("add-alpha", layer.ID))


def _remove_mask(layer, mode):
    _check_attached(layer)
    _fail_unless(layer._mask is not None, "Layer '%s' (%d) has no mask" % (layer.name, layer.ID))
    mask = layer._mask
    if mode == _e.MASK_APPLY:
        _add_alpha(layer)
        bpp = layer.bpp
        alpha = layer._data[bpp - 1::bpp]
        layer._data[bpp - 1::bpp] = bytearray((a * m + 127) // 255 for a, m in zip(alpha, mask._data))
    layer._mask, mask._layer, mask._attached = None, None, False
    layer.image._push_undo(("remove-mask", layer.ID, mode))


def _get_mask(layer):
    return layer._mask


def _layer_copy(layer, add_alpha):
    copy = Layer(layer.image, "%s copy" % layer.name, layer.width, layer.height, layer.type,
                 layer.opacity, layer.mode)
    copy._data = bytearray(layer._data)
    copy._offsets = layer._offsets
    if layer._mask is not None:
        mask = Channel(layer.image, layer._mask.name, layer.width, layer.height, 0)
        mask._data = bytearray(layer._mask._data)
        copy._mask, mask._layer, mask._attached = mask, copy, False
    if add_alpha:
        _add_alpha(copy)
    return copy


def _get_parent(item):
    return item._parent


def _item_position(image, item):
    _check_attached(item, image)
    siblings = image.layers if isinstance(item, Layer) else image.channels
    return siblings.index(item)


def _set_name(item, name):
    item._name = name
    if item._attached:
        item.image._push_undo(("rename", item.ID))


def _get_name(item):
    return item._name


def _channel_new(image, width, height, name, opacity, color):
    # "The channel's contents are undefined initially": a pattern, so nobody relies on zeros
    return Channel(image, name, width, height, 0x5A, opacity, color)


def _insert_channel(image, channel, parent, position):
    _fail_unless(not channel._attached and channel.image == image,
                 "Item '%s' (%d) has already been added to an image" % (channel.name, channel.ID))
    _fail_unless(parent is None, "channel groups are not modelled")
    position = 0 if position < 0 else min(position, len(image.channels))
    image.channels.insert(position, channel)
    channel._attached = True
    image._push_undo(("insert-channel", channel.ID))


def _remove_channel(image, channel):
    _check_attached(channel, image)
    image.channels.remove(channel)
    channel._attached = False
    image._push_undo(("remove-channel", channel.ID))


def _remove_layer(image, layer):
    _check_attached(layer, image)
    image.layers.remove(layer)
    layer._attached = False
    image._push_undo(("remove-layer", layer.ID))


def _item_delete(item):
    _fail_unless(not item._attached, "Item '%s' (%d) is attached to an image; remove it from the image instead"
                 % (item.name, item.ID))
    _items.pop(item.ID, None)


def _get_selection(image):
    return image.selection


def _vectors_new(image, name):
    return Vectors(image, name)


def _insert_vectors(image, vectors, parent, position):
    _fail_unless(not vectors._attached and vectors.image == image,
                 "Item '%s' (%d) has already been added to an image" % (vectors.name, vectors.ID))
    _fail_unless(parent is None, "path groups are not modelled")
    position = 0 if position < 0 else min(position, len(image._vectors))
    image._vectors.insert(position, vectors)
    vectors._attached = True
    image._push_undo(("insert-vectors", vectors.ID))


def _image_get_vectors(image):
    return len(image._vectors), tuple(vectors.ID for vectors in image._vectors)


def _vectors_get_strokes(vectors):
    _check_attached(vectors)
    return len(vectors._strokes), tuple(stroke[0] for stroke in vectors._strokes)


def _stroke(vectors, stroke_id):
    _check_attached(vectors)
    found = [stroke for stroke in vectors._strokes if stroke[0] == stroke_id]
    _fail_unless(found, "Vectors object %d does not contain stroke with ID %d" % (vectors.ID, stroke_id))
    return found[0]


def _stroke_get_points(vectors, stroke_id):
    _, controlpoints, closed = _stroke(vectors, stroke_id)
    return _e.VECTORS_STROKE_TYPE_BEZIER, len(controlpoints), tuple(controlpoints), int(closed)


def _stroke_new_from_points(vectors, stroke_type, num_points, controlpoints, closed):
    _check_attached(vectors)
    _fail_unless(stroke_type == _e.VECTORS_STROKE_TYPE_BEZIER and num_points == len(controlpoints)
                 and num_points % 6 == 0 and num_points > 0, "only Bézier strokes of whole anchors are modelled")
    stroke_id = _new_id()
    vectors._strokes.append([stroke_id, list(controlpoints), bool(closed)])
    vectors.image._push_undo(("stroke", vectors.ID))
    return stroke_id


def _progress_init(text, display):
    progress.append(("init", text))


def _progress_update(fraction):
    progress.append(("update", fraction))


def _progress_set_text(text):
    progress.append(("text", text))


def _displays_flush():
    pass


def _drawable_bpp(drawable):
    return drawable.bpp


def _drawable_has_alpha(drawable):
    return int(drawable.has_alpha)


def _drawable_is_indexed(drawable):
    return int(drawable.is_indexed)


def _image_base_type(image):
    return image.base_type


_I, _F, _S, _C = "GIMP_PDB_INT32", "GIMP_PDB_FLOAT", "GIMP_PDB_STRING", "GIMP_PDB_COLOR"
_IMG, _ITEM, _LAY, _CHAN, _DRW = "GIMP_PDB_IMAGE", "GIMP_PDB_ITEM", "GIMP_PDB_LAYER", "GIMP_PDB_CHANNEL", "GIMP_PDB_DRAWABLE"
_VEC, _FA = "GIMP_PDB_VECTORS", "GIMP_PDB_FLOATARRAY"

#: name -> (params, return values, implementation); the signatures are GIMP 2.10's.
PROCEDURES = {
    "gimp-image-new": ([("width", _I), ("height", _I), ("type", _I)], [("image", _IMG)], _image_new),
    "gimp-layer-new": ([("image", _IMG), ("width", _I), ("height", _I), ("type", _I), ("name", _S),
                        ("opacity", _F), ("mode", _I)], [("layer", _LAY)], _layer_new),
    "gimp-image-insert-layer": ([("image", _IMG), ("layer", _LAY), ("parent", _LAY), ("position", _I)], [],
                                _insert_layer),
    "gimp-layer-set-offsets": ([("layer", _LAY), ("offx", _I), ("offy", _I)], [], _layer_set_offsets),
    "gimp-image-undo-group-start": ([("image", _IMG)], [], _undo_group_start),
    "gimp-image-undo-group-end": ([("image", _IMG)], [], _undo_group_end),
    "gimp-message": ([("message", _S)], [], _message),
    "gimp-selection-is-empty": ([("image", _IMG)], [("is-empty", _I)], _selection_is_empty),
    "gimp-selection-none": ([("image", _IMG)], [], _selection_none),
    "gimp-image-select-rectangle": ([("image", _IMG), ("operation", _I), ("x", _F), ("y", _F), ("width", _F),
                                     ("height", _F)], [], _select_rectangle),
    "gimp-image-select-item": ([("image", _IMG), ("operation", _I), ("item", _ITEM)], [], _select_item),
    "gimp-image-get-selection": ([("image", _IMG)], [("selection", "GIMP_PDB_SELECTION")], _get_selection),
    "gimp-layer-from-mask": ([("mask", _CHAN)], [("layer", _LAY)], _layer_from_mask),
    "gimp-item-is-layer": ([("item", _ITEM)], [("layer", _I)], _is_layer),
    "gimp-item-is-layer-mask": ([("item", _ITEM)], [("layer-mask", _I)], _is_layer_mask),
    "gimp-item-is-channel": ([("item", _ITEM)], [("channel", _I)], _is_channel),
    "gimp-item-is-group": ([("item", _ITEM)], [("group", _I)], _is_group),
    "gimp-layer-create-mask": ([("layer", _LAY), ("mask-type", _I)], [("mask", _CHAN)], _create_mask),
    "gimp-layer-add-mask": ([("layer", _LAY), ("mask", _CHAN)], [], _add_mask),
    "gimp-layer-remove-mask": ([("layer", _LAY), ("mode", _I)], [], _remove_mask),
    "gimp-layer-get-mask": ([("layer", _LAY)], [("mask", _CHAN)], _get_mask),
    "gimp-layer-copy": ([("layer", _LAY), ("add-alpha", _I)], [("layer-copy", _LAY)], _layer_copy),
    "gimp-layer-add-alpha": ([("layer", _LAY)], [], _add_alpha),
    "gimp-item-get-parent": ([("item", _ITEM)], [("parent", _ITEM)], _get_parent),
    "gimp-image-get-item-position": ([("image", _IMG), ("item", _ITEM)], [("position", _I)], _item_position),
    "gimp-item-set-name": ([("item", _ITEM), ("name", _S)], [], _set_name),
    "gimp-item-get-name": ([("item", _ITEM)], [("name", _S)], _get_name),
    "gimp-channel-new": ([("image", _IMG), ("width", _I), ("height", _I), ("name", _S), ("opacity", _F),
                          ("color", _C)], [("channel", _CHAN)], _channel_new),
    "gimp-image-insert-channel": ([("image", _IMG), ("channel", _CHAN), ("parent", _CHAN), ("position", _I)], [],
                                  _insert_channel),
    "gimp-image-remove-channel": ([("image", _IMG), ("channel", _CHAN)], [], _remove_channel),
    "gimp-image-remove-layer": ([("image", _IMG), ("layer", _LAY)], [], _remove_layer),
    "gimp-item-delete": ([("item", _ITEM)], [], _item_delete),
    "gimp-progress-init": ([("message", _S), ("gdisplay", "GIMP_PDB_DISPLAY")], [], _progress_init),
    "gimp-progress-update": ([("percentage", _F)], [], _progress_update),
    "gimp-progress-set-text": ([("message", _S)], [], _progress_set_text),
    "gimp-displays-flush": ([], [], _displays_flush),
    "gimp-drawable-bpp": ([("drawable", _DRW)], [("bpp", _I)], _drawable_bpp),
    "gimp-drawable-has-alpha": ([("drawable", _DRW)], [("has-alpha", _I)], _drawable_has_alpha),
    "gimp-drawable-is-indexed": ([("drawable", _DRW)], [("is-indexed", _I)], _drawable_is_indexed),
    "gimp-image-base-type": ([("image", _IMG)], [("base-type", _I)], _image_base_type),
    "gimp-vectors-new": ([("image", _IMG), ("name", _S)], [("vectors", _VEC)], _vectors_new),
    "gimp-image-insert-vectors": ([("image", _IMG), ("vectors", _VEC), ("parent", _VEC), ("position", _I)], [],
                                  _insert_vectors),
    "gimp-image-get-vectors": ([("image", _IMG)], [("num-vectors", _I), ("vector-ids", "GIMP_PDB_INT32ARRAY")],
                               _image_get_vectors),
    "gimp-vectors-get-strokes": ([("vectors", _VEC)], [("num-strokes", _I), ("stroke-ids", "GIMP_PDB_INT32ARRAY")],
                                 _vectors_get_strokes),
    "gimp-vectors-stroke-get-points": ([("vectors", _VEC), ("stroke-id", _I)],
                                       [("type", _I), ("num-points", _I), ("controlpoints", _FA), ("closed", _I)],
                                       _stroke_get_points),
    "gimp-vectors-stroke-new-from-points": ([("vectors", _VEC), ("type", _I), ("num-points", _I),
                                             ("controlpoints", _FA), ("closed", _I)], [("stroke-id", _I)],
                                            _stroke_new_from_points),
}


# --- module functions (gimpmodule.c) ---------------------------------------------------------

def main(init_func, quit_func, query_func, run_func):
    """gimp.main: GIMP calls query (at registration) and run (per call); both are kept here."""
    _callbacks.update(init=init_func, quit=quit_func, query=query_func, run=run_func)


def install_procedure(name, blurb, help, author, copyright, date, label, imagetypes, proc_type,
                      params, results):  # noqa: A002 -- pygimp's own argument names
    for value in (name, blurb, help, author, copyright, date, label, imagetypes):
        if not isinstance(value, _string_types):
            raise TypeError("install_procedure: string arguments expected")
    installed[name] = dict(blurb=blurb, help=help, author=author, copyright=copyright, date=date,
                           label=label, imagetypes=imagetypes, type=proc_type,
                           params=list(params), results=list(results))


def menu_register(procedure, menu_path):
    if procedure not in installed:
        raise error("could not register menu path for procedure '%s'" % procedure)
    menus.setdefault(procedure, []).append(menu_path)


def domain_register(domain, path=None):
    pass


def message(text):
    if not isinstance(text, _string_types):
        raise TypeError("message: a string is required")
    messages.append(text)


def progress_init(label=None):
    progress.append(("init", label))


def progress_update(percentage):
    progress.append(("update", float(percentage)))


def displays_flush():
    pass


def image_list():
    return list(_images.values())


_shelf = {}


def set_data(key, data):
    _shelf[key] = data


def get_data(key):
    if key not in _shelf:
        raise error("no data for id")
    return _shelf[key]
