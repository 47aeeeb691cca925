"""Helpers shared by drive.py and drive_gui.py (inside Blender): scene set-up and snapshots."""

import os

import bpy


def snapshot():
    """What the .blend holds that a run may add: images, groups, compositor nodes and links."""
    scene = bpy.context.scene
    tree = scene.node_tree if scene.use_nodes else None
    groups = {}
    for group in bpy.data.node_groups:
        inside = sorted(n.bl_idname for n in group.nodes)
        if hasattr(group, "interface"):
            sockets = [(s.in_out, s.name, s.socket_type) for s in group.interface.items_tree if s.item_type == "SOCKET"]
        else:
            sockets = ([("INPUT", s.name, s.bl_socket_idname) for s in group.inputs]
                       + [("OUTPUT", s.name, s.bl_socket_idname) for s in group.outputs])
        matte = group.nodes.get("Matte")
        groups[group.name] = {"nodes": inside, "sockets": sockets,
                              "matte": matte.image.name if matte is not None and matte.image else None}
    images = {}
    for image in bpy.data.images:
        if image.type != "IMAGE":
            continue
        images[image.name] = {"source": image.source, "colorspace": image.colorspace_settings.name,
                              "packed": image.packed_file is not None, "filepath": image.filepath,
                              "abspath": bpy.path.abspath(image.filepath)}
    nodes, links = [], []
    if tree is not None:
        nodes = sorted("%s:%s" % (n.bl_idname, n.name) for n in tree.nodes)
        links = sorted("%s.%s>%s.%s" % (link.from_node.name, link.from_socket.name, link.to_node.name,
                                          link.to_socket.name) for link in tree.links)
    return {"use_nodes": scene.use_nodes, "images": images, "groups": groups, "nodes": nodes, "links": links,
            "textures": [t.name for t in bpy.data.textures]}


def files_under(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, name), folder) for name in files]
        found += [os.path.relpath(os.path.join(root, name), folder) + "/" for name in dirs]
    return sorted(found)


def setup_scene(width, height, start=1, end=1):
    scene = bpy.context.scene
    scene.use_nodes = True
    for node in list(scene.node_tree.nodes):
        if node.bl_idname == "CompositorNodeRLayers":  # nothing 3D is rendered
            scene.node_tree.nodes.remove(node)
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.render.film_transparent = True
    scene.render.dither_intensity = 0.0
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.render.image_settings.color_depth = "8"
    scene.frame_start, scene.frame_end = start, end
    return scene
