# SPDX-License-Identifier: GPL-3.0-or-later
"""What differs between the Blender versions the add-on runs in (3.4 … 5.x), in one place.

Every answer is read from the running Blender's own API (its RNA), never from a version
number, so a Blender that gains or drops a feature is handled by what it has:

- The scene compositor: 3.x–4.x keep it in ``scene.node_tree`` (switched on by
  ``scene.use_nodes``) and its result leaves through a Composite node; 5.0+ keep it in a
  node group, ``scene.compositing_node_group`` (None until one is assigned), whose result
  leaves through the group's Group Output ("Image" socket). 5.0 has no Composite node.
- Node group sockets: ``group.interface`` (4.0+) or ``group.inputs``/``outputs`` (3.x).
- Set Alpha's mode: a ``mode`` property (≤ 4.x) or a "Type" menu input (5.0+).
- The Video Sequencer: ``editor.strips`` (4.4+) or ``editor.sequences``; the compositor strip
  modifier (type 'COMPOSITOR', 5.0+), which runs a compositor node group on a strip; 5.0 keeps
  the Sequencer's scene on the workspace (``workspace.sequencer_scene``).
"""

import bpy

COMPOSITOR_TREE = "CompositorNodeTree"
OUTPUT_SOCKET = "Image"  # the compositor group's output that becomes the render (5.0+)


def has_compositing_group():
    """True where the scene compositor is a node group (Blender 5.0+)."""
    return "compositing_node_group" in bpy.types.Scene.bl_rna.properties


def compositor(scene):
    """The scene's compositor node tree, or None when the scene has none (nothing is created)."""
    if has_compositing_group():
        return scene.compositing_node_group
    return scene.node_tree if scene.use_nodes else None


def ensure_compositor(scene):
    """The scene's compositor node tree, created and switched on if it has none yet."""
    if has_compositing_group():
        tree = scene.compositing_node_group
        if tree is None:
            tree = bpy.data.node_groups.new("Compositor", COMPOSITOR_TREE)
            scene.compositing_node_group = tree
        if not any(_is_output_socket(item) for item in tree.interface.items_tree):
            tree.interface.new_socket(OUTPUT_SOCKET, in_out="OUTPUT", socket_type="NodeSocketColor")
        return tree
    if not scene.use_nodes:
        scene.use_nodes = True
    return scene.node_tree


def _is_output_socket(item):
    return item.item_type == "SOCKET" and item.in_out == "OUTPUT"


def result_node(tree, create):
    """The node through which the compositor's result leaves (its render): the Group Output
    (5.0+) or the Composite node; None when there is none and ``create`` is false."""
    idname = "NodeGroupOutput" if has_compositing_group() else "CompositorNodeComposite"
    for node in tree.nodes:
        if node.bl_idname == idname and (idname != "NodeGroupOutput" or node.is_active_output):
            return node
    if not create:
        return None
    return tree.nodes.new(idname)


def result_input(node):
    """The socket of ``result_node`` that takes the final image."""
    if node.bl_idname == "NodeGroupOutput":
        return node.inputs[OUTPUT_SOCKET] if OUTPUT_SOCKET in node.inputs else node.inputs[0]
    return node.inputs["Image"]


def new_socket(group, name, in_out, kind):
    """Add a socket to a node group's interface (``in_out``: 'INPUT' or 'OUTPUT')."""
    if hasattr(group, "interface"):  # Blender 4.0+
        group.interface.new_socket(name, in_out=in_out, socket_type=kind)
    elif in_out == "INPUT":
        group.inputs.new(kind, name)
    else:
        group.outputs.new(kind, name)


def group_sockets(group):
    """[(in_out, name, socket type)] of a node group's interface, inputs first as Blender lists them."""
    if hasattr(group, "interface"):
        return [(s.in_out, s.name, s.socket_type) for s in group.interface.items_tree if s.item_type == "SOCKET"]
    return ([("INPUT", s.name, s.bl_socket_idname) for s in group.inputs]
            + [("OUTPUT", s.name, s.bl_socket_idname) for s in group.outputs])


def set_alpha_apply(node):
    """Make a Set Alpha node multiply the colour by the alpha (mode 'Apply Mask').

    The compositor works premultiplied: applying keeps a soft edge's colour the photo's own
    (replacing the alpha would brighten it once divided by alpha on output). Blender 3.x had
    only this mode and no property for it.
    """
    if hasattr(node, "mode"):  # 3.x–4.x
        node.mode = "APPLY"
    elif "Type" in node.inputs:  # 5.0+: a menu input
        node.inputs["Type"].default_value = "Apply Mask"


# --- the Video Sequencer ---

def strip_modifier_types():
    """The strip modifier types the running Blender offers (empty where strips have none)."""
    kind = getattr(bpy.types, "StripModifier", None) or getattr(bpy.types, "SequenceModifier", None)
    if kind is None:
        return set()
    return {item.identifier for item in kind.bl_rna.properties["type"].enum_items}


def has_strip_compositor():
    """True where a compositor node group can run on a strip as a modifier (Blender 5.0+)."""
    return "COMPOSITOR" in strip_modifier_types()


STRIP_COMPOSITOR_MISSING = ("Remove Background in the Video Sequencer needs Blender 5.0 or later (its "
                            "Compositor strip modifier); in this Blender, use the Compositor or the Image Editor.")


def sequencer_scene(context):
    """The scene the Video Sequencer edits: the workspace's sequencer scene (5.0+) or the scene."""
    return getattr(context, "sequencer_scene", None) or context.scene


def strips(scene):
    """All strips of a scene's sequencer, meta strips' contents included ([] without an editor)."""
    editor = scene.sequence_editor
    if editor is None:
        return []
    return list(editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all)


def active_strip(scene):
    editor = scene.sequence_editor
    return editor.active_strip if editor is not None else None


def can_add_strip_modifier(context, scene):
    """Whether a strip modifier may be added now. Blender 5.0 adds one only while the workspace
    has a sequencer scene (``modifiers.new`` crashes without it); the Sequencer sets it."""
    workspace = context.workspace
    if workspace is None or "sequencer_scene" not in workspace.bl_rna.properties:
        return True
    return workspace.sequencer_scene == scene


def strip_compositor(strip, group, create):
    """The compositor modifier of ``strip`` that runs ``group``; a new one when ``create``."""
    for modifier in strip.modifiers:
        if modifier.type == "COMPOSITOR" and modifier.node_group == group:
            return modifier
    if not create:
        return None
    modifier = strip.modifiers.new(group.name, type="COMPOSITOR")
    modifier.node_group = group
    return modifier
