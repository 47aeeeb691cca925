# -*- coding: utf-8 -*-
"""Stand-in for GIMP 2.10's ``gimpenums``: the constants the cleancut plug-in and its tests use.

In GIMP 2.10 (plug-ins/pygimp/gimpenums.py, which star-imports the C module built from
plug-ins/pygimp/gimpenumsmodule.c) these are libgimp's enum values with the ``GIMP_`` prefix
removed. tests/test_gimp2.py checks every value below against the real GIMP 2.10 on this
machine (Script-Fu exports the same enums with ``-`` for ``_``).
"""

# GimpPDBArgType
PDB_INT32 = 0
PDB_INT16 = 1
PDB_INT8 = 2
PDB_FLOAT = 3
PDB_STRING = 4
PDB_COLOR = 10
PDB_ITEM = 11
PDB_REGION = PDB_ITEM  # deprecated alias, as in 2.10
PDB_DISPLAY = 12
PDB_IMAGE = 13
PDB_LAYER = 14
PDB_CHANNEL = 15
PDB_DRAWABLE = 16
PDB_SELECTION = 17
PDB_VECTORS = 19

# GimpPDBProcType
PLUGIN = 1

# GimpRunMode
RUN_INTERACTIVE = 0
RUN_NONINTERACTIVE = 1
RUN_WITH_LAST_VALS = 2

# GimpImageBaseType
RGB = 0
GRAY = 1
INDEXED = 2

# GimpImageType
RGB_IMAGE = 0
RGBA_IMAGE = 1
GRAY_IMAGE = 2
GRAYA_IMAGE = 3
INDEXED_IMAGE = 4
INDEXEDA_IMAGE = 5

# GimpLayerMode (2.10's default "Normal")
LAYER_MODE_NORMAL = 28

# GimpChannelOps
CHANNEL_OP_ADD = 0
CHANNEL_OP_SUBTRACT = 1
CHANNEL_OP_REPLACE = 2
CHANNEL_OP_INTERSECT = 3

# GimpAddMaskType
ADD_MASK_WHITE = 0
ADD_MASK_BLACK = 1
ADD_MASK_ALPHA = 2

# GimpMaskApplyMode
MASK_APPLY = 0
MASK_DISCARD = 1

# GimpVectorsStrokeType
VECTORS_STROKE_TYPE_BEZIER = 0
