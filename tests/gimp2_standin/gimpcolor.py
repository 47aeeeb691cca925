# -*- coding: utf-8 -*-
"""Stand-in for GIMP 2.10's ``gimpcolor`` (plug-ins/pygimp/gimpcolormodule.c): only ``RGB``.

gimpfu needs the type for its parameter table; PDB colour parameters also accept a plain
(r, g, b[, a]) tuple, as pygimp_rgb_from_pyobject does (plug-ins/pygimp/pygimp-colors.c).
"""


class RGB(object):
    def __init__(self, r=0.0, g=0.0, b=0.0, a=1.0):
        self.r, self.g, self.b, self.a = r, g, b, a

    def __iter__(self):
        return iter((self.r, self.g, self.b, self.a))
