# SPDX-License-Identifier: GPL-3.0-or-later
"""The "Remove Background" node group and its place in the scene's compositor.

One group per source (image or movie clip), found again by a pointer stored on it, so a
second run updates the same group, matte image and links instead of adding new ones.
What differs between Blender versions (sockets, Set Alpha, where the compositor lives and
where its result leaves) is asked of compat.
"""

from __future__ import annotations

from typing import Any, Iterable, TypeVar, Union

import bpy

from . import compat

Source = Union[bpy.types.Image, bpy.types.MovieClip]  # what is cut out
_Block = TypeVar("_Block", bound=bpy.types.ID)
_Node = TypeVar("_Node", bound=bpy.types.Node)


def _new(nodes: bpy.types.Nodes, kind: type[_Node]) -> _Node:
    """A new node of the built-in type ``kind`` (its bl_idname is the class name)."""
    node = nodes.new(kind.__name__)
    if not isinstance(node, kind):
        raise TypeError("Blender made a %s for a %s" % (type(node).__name__, kind.__name__))
    return node

GROUP_NAME = "Remove Background"
SOURCE_KEY = "cleancut_source"
MATTE_KEY = "cleancut_matte_of"
MATTE_NODE = "Matte"
FRAME_FIELDS = ("frame_start", "frame_duration", "frame_offset", "use_cyclic")


def _owned(datablocks: Iterable[_Block], key: str, source: Source) -> _Block | None:
    for block in datablocks:
        if block.get(key) == source:
            return block
    return None


def find_group(source: Source) -> bpy.types.CompositorNodeTree | None:
    """The Remove Background group made for ``source`` by an earlier run, if any."""
    groups = [g for g in bpy.data.node_groups if isinstance(g, bpy.types.CompositorNodeTree)]
    return _owned(groups, SOURCE_KEY, source)


def find_matte(source: Source) -> bpy.types.Image | None:
    """The matte image made for ``source`` by an earlier run, if any."""
    return _owned(bpy.data.images, MATTE_KEY, source)


def build_group(source: Source, matte: bpy.types.Image) -> bpy.types.CompositorNodeTree:
    """A new group: Image in; cut-out Image (alpha replaced by the matte) and Matte out."""
    group = bpy.data.node_groups.new(GROUP_NAME, "CompositorNodeTree")
    if not isinstance(group, bpy.types.CompositorNodeTree):
        raise TypeError("Blender made a %s for a compositor node group" % type(group).__name__)
    group[SOURCE_KEY] = source
    compat.new_socket(group, "Image", "INPUT", "NodeSocketColor")
    compat.new_socket(group, "Image", "OUTPUT", "NodeSocketColor")
    compat.new_socket(group, "Matte", "OUTPUT", "NodeSocketFloat")
    inside = group.nodes
    group_in = inside.new("NodeGroupInput")
    group_in.location = (-400, 0)
    group_out = inside.new("NodeGroupOutput")
    group_out.location = (300, 0)
    matte_node = inside.new("CompositorNodeImage")
    matte_node.name = matte_node.label = MATTE_NODE
    matte_node.location = (-400, -200)
    set_alpha = inside.new("CompositorNodeSetAlpha")
    set_alpha.location = (0, 0)
    compat.set_alpha_apply(set_alpha)
    links = group.links
    links.new(group_in.outputs[0], set_alpha.inputs["Image"])
    links.new(matte_node.outputs["Image"], set_alpha.inputs["Alpha"])
    links.new(set_alpha.outputs["Image"], group_out.inputs[0])
    links.new(matte_node.outputs["Image"], group_out.inputs[1])
    update_group(group, matte, None)
    return group


def update_group(group: bpy.types.NodeTree, matte: bpy.types.Image, frames: dict[str, Any] | None) -> None:
    """Point the group's matte node at ``matte``; ``frames`` maps scene frames to image frames."""
    node = group.nodes[MATTE_NODE]
    if not isinstance(node, bpy.types.CompositorNodeImage):
        raise TypeError("the group %r's %r node is a %s, not an Image node" % (group.name, MATTE_NODE, node.bl_idname))
    node.image = matte
    if frames is not None:
        for field in FRAME_FIELDS:
            setattr(node, field, frames[field])


def source_node(tree: bpy.types.NodeTree, source: Source) -> bpy.types.Node | None:
    """The compositor node that shows ``source`` (an Image or a MovieClip), or None."""
    kind = "CompositorNodeMovieClip" if isinstance(source, bpy.types.MovieClip) else "CompositorNodeImage"
    active = tree.nodes.active
    candidates = ([active] if active is not None else []) + list(tree.nodes)
    for node in candidates:
        if node.bl_idname == kind and getattr(node, "clip" if kind.endswith("Clip") else "image") == source:
            return node
    return None


def new_source_node(tree: bpy.types.NodeTree, source: Source, frames: dict[str, Any] | None) -> bpy.types.Node:
    """A new Image or Movie Clip node showing ``source`` with the frame mapping ``frames``."""
    node: bpy.types.Node
    if isinstance(source, bpy.types.MovieClip):
        clip_node = _new(tree.nodes, bpy.types.CompositorNodeMovieClip)
        clip_node.clip = source
        node = clip_node
    else:
        image_node = _new(tree.nodes, bpy.types.CompositorNodeImage)
        image_node.image = source
        if frames is not None:
            for field in FRAME_FIELDS:
                setattr(image_node, field, frames[field])
        node = image_node
    result = compat.result_node(tree)
    x, y = (result.location.x, result.location.y) if result is not None else (0.0, 0.0)
    node.location = (x - 500, y)
    return node


def _first(tree: bpy.types.NodeTree, idname: str) -> bpy.types.Node | None:
    for node in tree.nodes:
        if node.bl_idname == idname:
            return node
    return None


def wire(tree: bpy.types.NodeTree, source_node_: bpy.types.Node,
         group: bpy.types.CompositorNodeTree) -> bpy.types.Node:
    """Put the group after the source node: its old links now leave from the group's cut-out,
    or, when nothing took the source's image, the cut-out becomes the compositor's result."""
    group_node = None
    for node in tree.nodes:
        if isinstance(node, bpy.types.CompositorNodeGroup) and node.node_tree == group:
            group_node = node
            break
    if group_node is None:
        group_node = _new(tree.nodes, bpy.types.CompositorNodeGroup)
        group_node.node_tree = group
        group_node.label = GROUP_NAME
        group_node.location = (source_node_.location[0] + 250, source_node_.location[1])
    out = source_node_.outputs["Image"]
    cut_out = group_node.outputs["Image"]
    if not any(link.to_node == group_node for link in out.links or ()):
        for link in list(out.links or ()):
            target = link.to_socket
            tree.links.remove(link)
            if target is not None:
                tree.links.new(cut_out, target)
        tree.links.new(out, group_node.inputs["Image"])
    if not cut_out.links:
        result = compat.result_node(tree)
        if result is None:
            result = compat.new_result_node(tree)
            result.location = (group_node.location[0] + 300, group_node.location[1])
        tree.links.new(cut_out, compat.result_input(result))
        viewer = _first(tree, "CompositorNodeViewer")
        if viewer is not None:
            tree.links.new(cut_out, viewer.inputs["Image"])
    tree.nodes.active = group_node
    return group_node
