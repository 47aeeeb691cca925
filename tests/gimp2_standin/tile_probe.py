#!/usr/bin/env python3
# -*- coding: utf-8 -*-
"""A GIMP 2.10 plug-in, in Python 3 through ctypes on libgimp-2.0, that moves pixels the way
pygimp's PixelRgn does (plug-ins/pygimp/pygimp-tile.c calls gimp_pixel_rgn_get_rect /
gimp_pixel_rgn_set_rect on a region from gimp_pixel_rgn_init, then gimp_drawable_flush).

Debian 12's GIMP 2.10 cannot run Python-Fu, but it runs any executable plug-in; this one lets
tests/test_gimp2.py check in the real GIMP 2.10 what the stand-in assumes about pixels crossing
between GIMP and a plug-in that did not enable precision, and the routes the cleancut plug-in
takes to write its alpha.

Procedure ``plug-in-cleancut-tile-probe`` (run-mode, image, drawable, route, alpha-file,
pixels-file, selection-file): writes the layer's pixels (rows top-down) to pixels-file, then
puts the bytes of alpha-file into the image by one route:

* "mask": straight into a new white layer mask of the layer;
* "alpha": into the alpha channel of a new RGBA (or GRAYA) layer that is never added to the
  image, whose alpha becomes the layer's mask (ADD-MASK-ALPHA), the cleancut plug-in's route;
* "selection": into the alpha channel of a new layer added at the layer's offsets, which
  replaces the selection (gimp-image-select-item); the selection is then read back through a
  pixel region into selection-file.

The copy of this file that GIMP runs is made executable by the test, with this interpreter in
its first line.
"""

import ctypes
import sys
from ctypes import POINTER, Structure, c_char_p, c_double, c_int, c_int32, c_void_p

gimp = ctypes.CDLL("libgimp-2.0.so.0")
gimp.gimp_drawable_get.restype = c_void_p
gimp.gimp_drawable_get.argtypes = [c_int32]
for name in ("gimp_drawable_flush", "gimp_drawable_detach"):
    getattr(gimp, name).argtypes = [c_void_p]
gimp.gimp_pixel_rgn_init.argtypes = [c_void_p, c_void_p, c_int, c_int, c_int, c_int, c_int, c_int]
gimp.gimp_pixel_rgn_get_rect.argtypes = [c_void_p, c_void_p, c_int, c_int, c_int, c_int]
gimp.gimp_pixel_rgn_set_rect.argtypes = [c_void_p, c_char_p, c_int, c_int, c_int, c_int]

PDB_INT32, PDB_STRING, PDB_IMAGE, PDB_DRAWABLE, PDB_STATUS = 0, 4, 13, 16, 21
PLUGIN, SUCCESS, ADD_MASK_WHITE = 1, 3, 0
ADD_MASK_ALPHA, CHANNEL_OP_REPLACE, RGBA_IMAGE, GRAYA_IMAGE, LAYER_MODE_NORMAL = 2, 2, 1, 3, 28
NAME = b"plug-in-cleancut-tile-probe"


class ParamDef(Structure):
    _fields_ = [("type", c_int), ("name", c_char_p), ("description", c_char_p)]


class Param(Structure):  # GimpParam: an enum, then a union whose largest member is a GimpRGB
    _fields_ = [("type", c_int), ("data", c_double * 4)]


Callback = ctypes.CFUNCTYPE(None)
RunCallback = ctypes.CFUNCTYPE(None, c_char_p, c_int, POINTER(Param), POINTER(c_int), POINTER(POINTER(Param)))


class PlugInInfo(Structure):
    _fields_ = [("init_proc", Callback), ("quit_proc", Callback), ("query_proc", Callback),
                ("run_proc", RunCallback)]


def _int(param):
    return ctypes.cast(ctypes.addressof(param.data), POINTER(c_int32)).contents.value


def _string(param):
    return ctypes.cast(ctypes.addressof(param.data), POINTER(c_char_p)).contents.value.decode("utf-8")


def query():
    defs = (ParamDef * 7)(ParamDef(PDB_INT32, b"run-mode", b"run mode"), ParamDef(PDB_IMAGE, b"image", b"image"),
                          ParamDef(PDB_DRAWABLE, b"drawable", b"layer"),
                          ParamDef(PDB_STRING, b"route", b"mask, alpha or selection"),
                          ParamDef(PDB_STRING, b"alpha-file", b"the bytes to write"),
                          ParamDef(PDB_STRING, b"pixels-file", b"where the layer's pixels go"),
                          ParamDef(PDB_STRING, b"selection-file", b"where the selection goes"))
    gimp.gimp_install_procedure(NAME, b"probe", b"probe", b"cleancut", b"cleancut", b"2026", None, b"*",
                                PLUGIN, 7, 0, defs, None)


RESULT = (Param * 1)()


def _get(drawable_id, width, height, bpp, path):
    region = ctypes.create_string_buffer(256)  # a GimpPixelRgn (48 bytes in 2.10)
    drawable = gimp.gimp_drawable_get(drawable_id)
    gimp.gimp_pixel_rgn_init(region, drawable, 0, 0, width, height, 0, 0)
    pixels = ctypes.create_string_buffer(width * height * bpp)
    gimp.gimp_pixel_rgn_get_rect(region, pixels, 0, 0, width, height)
    gimp.gimp_drawable_detach(drawable)
    with open(path, "wb") as out:
        out.write(pixels.raw)


def _put(drawable_id, width, height, data):
    region = ctypes.create_string_buffer(256)
    drawable = gimp.gimp_drawable_get(drawable_id)
    gimp.gimp_pixel_rgn_init(region, drawable, 0, 0, width, height, 1, 0)
    gimp.gimp_pixel_rgn_set_rect(region, data, 0, 0, width, height)
    gimp.gimp_drawable_flush(drawable)
    gimp.gimp_drawable_detach(drawable)
    gimp.gimp_drawable_update(drawable_id, 0, 0, width, height)


def _alpha_layer(image, layer, width, height, alpha):
    gray = gimp.gimp_drawable_is_gray(layer)
    bpp = 2 if gray else 4
    temp = gimp.gimp_layer_new(image, b"alpha", width, height, GRAYA_IMAGE if gray else RGBA_IMAGE,
                               c_double(100.0), LAYER_MODE_NORMAL)
    pixels = bytearray(width * height * bpp)
    pixels[bpp - 1::bpp] = alpha
    return temp, bytes(pixels)


def run(name, count, params, nreturn, returns):
    image, layer, route = _int(params[1]), _int(params[2]), _string(params[3])
    width, height = gimp.gimp_drawable_width(layer), gimp.gimp_drawable_height(layer)
    _get(layer, width, height, gimp.gimp_drawable_bpp(layer), _string(params[5]))
    with open(_string(params[4]), "rb") as source:
        alpha = source.read()
    if route == "mask":
        mask = gimp.gimp_layer_create_mask(layer, ADD_MASK_WHITE)
        gimp.gimp_layer_add_mask(layer, mask)
        _put(mask, width, height, alpha)
    elif route == "alpha":
        temp, pixels = _alpha_layer(image, layer, width, height, alpha)
        _put(temp, width, height, pixels)
        gimp.gimp_layer_add_mask(layer, gimp.gimp_layer_create_mask(temp, ADD_MASK_ALPHA))
        gimp.gimp_item_delete(temp)
    else:
        temp, pixels = _alpha_layer(image, layer, width, height, alpha)
        gimp.gimp_image_insert_layer(image, temp, -1, 0)
        x, y = c_int(), c_int()
        gimp.gimp_drawable_offsets(layer, ctypes.byref(x), ctypes.byref(y))
        gimp.gimp_layer_set_offsets(temp, x, y)
        _put(temp, width, height, pixels)
        gimp.gimp_image_select_item(image, CHANNEL_OP_REPLACE, temp)
        gimp.gimp_image_remove_layer(image, temp)
        selection = gimp.gimp_image_get_selection(image)
        _get(selection, gimp.gimp_image_width(image), gimp.gimp_image_height(image), 1, _string(params[6]))

    RESULT[0].type = PDB_STATUS
    ctypes.cast(ctypes.addressof(RESULT[0].data), POINTER(c_int32)).contents.value = SUCCESS
    nreturn[0] = 1
    returns[0] = ctypes.cast(RESULT, POINTER(Param))


INFO = PlugInInfo(Callback(0), Callback(0), Callback(query), RunCallback(run))

if __name__ == "__main__":
    argv = (c_char_p * len(sys.argv))(*[a.encode() for a in sys.argv])
    gimp.gimp_main.argtypes = [POINTER(PlugInInfo), c_int, POINTER(c_char_p)]
    sys.exit(gimp.gimp_main(ctypes.byref(INFO), len(sys.argv), argv))
