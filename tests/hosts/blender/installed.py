"""Runs inside a real Blender started WITHOUT --factory-startup, as a user's Blender starts:
is the add-on `cleancut install blender` put in place enabled from the user's preferences, and
does its operator cut out a photo? Writes facts (and the matte's 8-bit values) for the test.

    blender -b --python-exit-code 1 --python installed.py -- MODULE PHOTO RESULT.json MATTE.raw
"""

import json
import sys
import traceback

import bpy

MODULE, PHOTO, RESULT, MATTE = sys.argv[sys.argv.index("--") + 1:][:4]
result = {"blender": list(bpy.app.version), "enabled": MODULE in bpy.context.preferences.addons}
try:
    if result["enabled"]:
        image = bpy.data.images.load(PHOTO)
        result["status"] = sorted(bpy.ops.cleancut.remove_background(image=image.name))
        matte = bpy.data.images[image.name + " matte"]
        width, height = matte.size
        values = matte.pixels[:]
        rows = [bytes(int(round(values[(y * width + x) * 4] * 255)) for x in range(width))
                for y in range(height)]
        with open(MATTE, "wb") as handle:
            handle.write(b"".join(reversed(rows)))  # Blender's rows run bottom-up
        result["size"] = [width, height]
except BaseException:
    result["traceback"] = traceback.format_exc()
    raise
finally:
    with open(RESULT, "w") as handle:
        json.dump(result, handle)
