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
- Annotations (the Annotate tool's strokes): 5.0 renamed the legacy Grease Pencil data that
  annotations use to ``Annotation`` (``bpy.data.annotations``, ``space.annotation``); up to 4.x
  it is ``GreasePencil`` (``bpy.data.grease_pencils``, ``space.grease_pencil``). Strokes say
  where they are placed (``display_mode``) up to 4.2 only; 4.3+ keep just their points.
"""

from __future__ import annotations

from typing import Any, Literal

import bpy

OUTPUT_SOCKET = "Image"  # the compositor group's output that becomes the render (5.0+)


def _has(struct: Any, name: str) -> bool:
    return name in struct.bl_rna.properties


def _strip_modifier_types() -> set[str]:
    kind = getattr(bpy.types, "StripModifier", None) or getattr(bpy.types, "SequenceModifier", None)
    if kind is None:
        return set()
    prop: Any = kind.bl_rna.properties["type"]
    return {item.identifier for item in prop.enum_items}


# What the running Blender has. tests/static/test_blender_api.py type-checks this add-on against
# each version's API with these names fixed (mypy --always-true/--always-false), so every
# branch is checked against the versions that take it.
COMPOSITING_GROUP = _has(bpy.types.Scene, "compositing_node_group")  # 5.0+: the compositor is a group
GROUP_INTERFACE = _has(bpy.types.NodeTree, "interface")  # 4.0+: group.interface, not inputs/outputs
SET_ALPHA_MODE = _has(bpy.types.CompositorNodeSetAlpha, "mode")  # ≤ 4.x: a property; 5.0+: a menu input
STRIPS = _has(bpy.types.SequenceEditor, "strips")  # 4.4+: editor.strips, not editor.sequences
STRIP_COMPOSITOR = "COMPOSITOR" in _strip_modifier_types()  # 5.0+: a compositor group on a strip
SEQUENCER_SCENE = _has(bpy.types.WorkSpace, "sequencer_scene")  # 5.0+: the Sequencer's own scene
ANNOTATIONS = _has(bpy.types.SpaceImageEditor, "annotation")  # 5.0+: Annotation data, not GreasePencil


def has_compositing_group() -> bool:
    """True where the scene compositor is a node group (Blender 5.0+)."""
    return COMPOSITING_GROUP


def compositor(scene: bpy.types.Scene) -> bpy.types.NodeTree | None:
    """The scene's compositor node tree, or None when the scene has none (nothing is created)."""
    if COMPOSITING_GROUP:
        return scene.compositing_node_group
    return scene.node_tree if scene.use_nodes else None


def ensure_compositor(scene: bpy.types.Scene) -> bpy.types.NodeTree:
    """The scene's compositor node tree, created and switched on if it has none yet."""
    if COMPOSITING_GROUP:
        tree = scene.compositing_node_group
        if tree is None:
            tree = bpy.data.node_groups.new("Compositor", "CompositorNodeTree")
            # never None in Blender; 5.3's API description (fake-bpy-module-latest) allows it
            assert tree is not None, "Blender made no compositor node group"
            scene.compositing_node_group = tree
        if not any(_is_output_socket(item) for item in _interface(tree).items_tree):
            new_socket(tree, OUTPUT_SOCKET, "OUTPUT", "NodeSocketColor")
        return tree
    if not scene.use_nodes:
        scene.use_nodes = True
    tree = scene.node_tree
    if tree is None:
        raise RuntimeError("use_nodes gave the scene %r no compositor node tree" % scene.name)
    return tree


def _is_output_socket(item: bpy.types.NodeTreeInterfaceItem) -> bool:
    return isinstance(item, bpy.types.NodeTreeInterfaceSocket) and item.in_out == "OUTPUT"


def _result_idname() -> str:
    return "NodeGroupOutput" if COMPOSITING_GROUP else "CompositorNodeComposite"


def result_node(tree: bpy.types.NodeTree) -> bpy.types.Node | None:
    """The node through which the compositor's result leaves (its render): the Group Output
    (5.0+) or the Composite node; None when the compositor has none."""
    for node in tree.nodes:
        if node.bl_idname == _result_idname() and (not isinstance(node, bpy.types.NodeGroupOutput)
                                                   or node.is_active_output):
            return node
    return None


def new_result_node(tree: bpy.types.NodeTree) -> bpy.types.Node:
    """A new Group Output (5.0+) or Composite node."""
    return tree.nodes.new(_result_idname())


def result_input(node: bpy.types.Node) -> bpy.types.NodeSocket:
    """The socket of ``result_node`` that takes the final image."""
    if node.bl_idname == "NodeGroupOutput":
        return node.inputs[OUTPUT_SOCKET] if OUTPUT_SOCKET in node.inputs else node.inputs[0]
    return node.inputs["Image"]


def new_socket(group: bpy.types.NodeTree, name: str, in_out: Literal["INPUT", "OUTPUT"], kind: str) -> None:
    """Add a socket to a node group's interface."""
    if GROUP_INTERFACE:
        # The 5.1+ stubs list only 'DEFAULT' for socket_type: Blender fills that enum with the
        # socket types at run time, and the stub generator saw it empty.
        _interface(group).new_socket(name, in_out=in_out, socket_type=kind)  # type: ignore[arg-type, unused-ignore]
    elif in_out == "INPUT":
        getattr(group, "inputs").new(kind, name)  # 3.x: not in the 4.5+ APIs checked statically
    else:
        getattr(group, "outputs").new(kind, name)


def _interface(group: bpy.types.NodeTree) -> bpy.types.NodeTreeInterface:
    """A node group's interface (4.0+); the stubs allow None, a node tree always has one."""
    interface = group.interface
    if interface is None:
        raise RuntimeError("the node group %r has no interface" % group.name)
    return interface


def group_sockets(group: bpy.types.NodeTree) -> list[tuple[str, str, str]]:
    """[(in_out, name, socket type)] of a node group's interface, inputs first as Blender lists them."""
    if GROUP_INTERFACE:
        return [(s.in_out, s.name, s.socket_type) for s in _interface(group).items_tree
                if isinstance(s, bpy.types.NodeTreeInterfaceSocket)]
    return ([("INPUT", s.name, s.bl_socket_idname) for s in getattr(group, "inputs")]  # 3.x
            + [("OUTPUT", s.name, s.bl_socket_idname) for s in getattr(group, "outputs")])


def set_alpha_apply(node: bpy.types.Node) -> None:
    """Make a Set Alpha node multiply the colour by the alpha (mode 'Apply Mask').

    The compositor works premultiplied: applying keeps a soft edge's colour the photo's own
    (replacing the alpha would brighten it once divided by alpha on output).
    """
    if SET_ALPHA_MODE:  # 3.x–4.x
        if isinstance(node, bpy.types.CompositorNodeSetAlpha):
            node.mode = "APPLY"
    else:  # 5.0+: a menu input
        menu = node.inputs.get("Type")
        if isinstance(menu, bpy.types.NodeSocketMenu):
            menu.default_value = "Apply Mask"


# --- the Video Sequencer ---

def has_strip_compositor() -> bool:
    """True where a compositor node group can run on a strip as a modifier (Blender 5.0+)."""
    return STRIP_COMPOSITOR


STRIP_COMPOSITOR_MISSING = ("Remove Background in the Video Sequencer needs Blender 5.0 or later (its "
                            "Compositor strip modifier); in this Blender, use the Compositor or the Image Editor.")


def sequencer_scene(context: bpy.types.Context) -> bpy.types.Scene:
    """The scene the Video Sequencer edits: the workspace's sequencer scene (5.0+) or the scene."""
    if SEQUENCER_SCENE and context.sequencer_scene is not None:
        return context.sequencer_scene
    return context_scene(context)


def context_scene(context: bpy.types.Context) -> bpy.types.Scene:
    """The context's scene (there is always one where the operators run)."""
    scene = context.scene
    if scene is None:
        raise RuntimeError("no scene in this context")
    return scene


def strips(scene: bpy.types.Scene) -> list[bpy.types.Strip]:
    """All strips of a scene's sequencer, meta strips' contents included ([] without an editor)."""
    editor = scene.sequence_editor
    if editor is None:
        return []
    if STRIPS:
        return list(editor.strips_all)
    return list(getattr(editor, "sequences_all"))  # ≤ 4.3: not in the 4.5+ APIs checked statically


def active_strip(scene: bpy.types.Scene) -> bpy.types.Strip | None:
    editor = scene.sequence_editor
    return editor.active_strip if editor is not None else None


def can_add_strip_modifier(context: bpy.types.Context, scene: bpy.types.Scene) -> bool:
    """Whether a strip modifier may be added now. Blender 5.0 adds one only while the workspace
    has a sequencer scene (``modifiers.new`` crashes without it); the Sequencer sets it."""
    if not SEQUENCER_SCENE:
        return True
    return context.workspace is not None and context.workspace.sequencer_scene == scene


def strip_compositor(strip: bpy.types.Strip, group: bpy.types.NodeTree,
                     create: bool) -> bpy.types.StripModifier | None:
    """The compositor modifier of ``strip`` that runs ``group``; a new one when ``create``."""
    if not STRIP_COMPOSITOR:
        raise RuntimeError(STRIP_COMPOSITOR_MISSING)
    for modifier in strip.modifiers:
        if isinstance(modifier, bpy.types.SequencerCompositorModifierData) and modifier.node_group == group:
            return modifier
    if not create:
        return None
    modifier = strip.modifiers.new(group.name, type="COMPOSITOR")
    if not isinstance(modifier, bpy.types.SequencerCompositorModifierData):
        raise TypeError("a Compositor strip modifier was expected, Blender made a %s" % type(modifier).__name__)
    modifier.node_group = group
    return modifier


# --- annotations: include and exclude points (clicks.py) ---

def annotations_collection() -> str:
    """The name of bpy.data's collection of annotation data (for prop_search and look-ups)."""
    return "annotations" if ANNOTATIONS else "grease_pencils"


def annotation_named(name: str) -> Any:
    """The annotation data called ``name``, or None."""
    if ANNOTATIONS:
        return bpy.data.annotations.get(name)
    return bpy.data.grease_pencils.get(name)  # ≤ 4.x: the legacy Grease Pencil data


def space_annotation(space: bpy.types.SpaceImageEditor) -> Any:
    """The annotation data an Image Editor shows (None without any)."""
    if ANNOTATIONS:
        return space.annotation
    return space.grease_pencil  # ≤ 4.x


def stroke_on_image(stroke: Any) -> bool:
    """Whether an annotation stroke is kept in the image's space (Placement "Image"): up to 4.2
    the stroke says so ('2DSPACE'); 4.3+ strokes no longer tell, and are taken as placed on the image."""
    return getattr(stroke, "display_mode", "2DSPACE") == "2DSPACE"
