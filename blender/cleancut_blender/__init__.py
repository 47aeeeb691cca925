# SPDX-License-Identifier: GPL-3.0-or-later
"""cleancut for Blender: local AI background removal for images, image sequences and movies.

Installs as a legacy add-on (Blender 3.x–4.1, bl_info below) and as an extension (Blender
4.2+, blender_manifest.toml beside this file). The numeric work happens in the cleancut
engine's worker process, reached through cleancut_client.py (copied in when packaging).
"""

bl_info = {
    "name": "cleancut: Remove Background",
    "author": "cleancut contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "Image Editor > Image; Compositor > Add / context menu; Video Sequencer > Strip (5.0+)",
    "description": "Local AI background removal: mattes and a Remove Background node group",
    "category": "Compositing",
    "doc_url": "",
}

if "bpy" in locals():  # Reload Scripts: pick up edited modules
    import importlib

    for _module in (cleancut_client, compat, clicks, engine, pixels, sources, nodes, operators, prefs):  # noqa: F821
        importlib.reload(_module)

import bpy  # noqa: E402

from . import cleancut_client, clicks, compat, engine, nodes, operators, pixels, prefs, sources  # noqa: E402,F401

_OP = operators.CLEANCUT_OT_remove_background


def _image_menu(self, context):
    self.layout.separator()
    self.layout.operator(_OP.bl_idname, icon="IMAGE_RGB_ALPHA")


def _node_menu(self, context):
    space = context.space_data
    if space is not None and getattr(space, "tree_type", "") == "CompositorNodeTree":
        self.layout.separator()
        self.layout.operator(_OP.bl_idname, icon="IMAGE_RGB_ALPHA")


def _strip_menu(self, context):
    """In the Sequencer's Strip and context menus; greyed out (with the reason) before 5.0."""
    self.layout.separator()
    self.layout.operator(_OP.bl_idname, icon="IMAGE_RGB_ALPHA")


_MENUS = (("IMAGE_MT_image", _image_menu), ("NODE_MT_add", _node_menu), ("NODE_MT_context_menu", _node_menu),
          ("SEQUENCER_MT_strip", _strip_menu), ("SEQUENCER_MT_context_menu", _strip_menu))
_CLASSES = (_OP,) + prefs.classes


def register():
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    for menu, draw in _MENUS:
        getattr(bpy.types, menu).append(draw)


def unregister():
    engine.close()
    for menu, draw in _MENUS:
        getattr(bpy.types, menu).remove(draw)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
