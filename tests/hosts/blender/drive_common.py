"""Helpers shared by drive.py and drive_gui.py (inside Blender): scene set-up and snapshots.

What differs between Blender versions (where the compositor lives, group sockets, strips) is
asked of the add-on's own compat module, so the tests set scenes up the way the add-on reads
them; it is imported once the add-on is enabled (CLEANCUT_TEST_MODULE names it).
"""

import importlib
import os

import bpy


def addon_compat():
    """The enabled add-on's compat module."""
    return importlib.import_module(os.environ["CLEANCUT_TEST_MODULE"] + ".compat")


def snapshot():
    """What the .blend holds that a run may add: images, groups, compositor nodes and links, strips."""
    scene = bpy.context.scene
    tree = addon_compat().compositor(scene)
    groups = {}
    for group in bpy.data.node_groups:
        if group == tree:
            continue  # the 5.x scene compositor: its nodes and links are listed below
        inside = sorted(n.bl_idname for n in group.nodes)
        sockets = [list(s) for s in addon_compat().group_sockets(group)]
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
    strips = {}
    for strip in addon_compat().strips(scene):
        strips[strip.name] = {"type": strip.type, "modifiers": [
            [m.type, m.name, getattr(m, "node_group", None) and m.node_group.name] for m in strip.modifiers]}
    return {"compositor": tree is not None, "images": images, "groups": groups, "nodes": nodes, "links": links,
            "textures": [t.name for t in bpy.data.textures], "strips": strips}


def files_under(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(root, name), folder) for name in files]
        found += [os.path.relpath(os.path.join(root, name), folder) + "/" for name in dirs]
    return sorted(found)


def setup_scene(width, height, start=1, end=1, compositor=True):
    """Render settings for exact alphas; a compositor (as Blender's default one, less its Render
    Layers node: nothing 3D is rendered) unless ``compositor`` is false."""
    scene = bpy.context.scene
    if compositor:
        tree = addon_compat().ensure_compositor(scene)
        for node in list(tree.nodes):
            if node.bl_idname == "CompositorNodeRLayers":
                tree.nodes.remove(node)
        if addon_compat().result_node(tree) is None:
            addon_compat().new_result_node(tree)
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
