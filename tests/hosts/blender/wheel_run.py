"""Blender as a Python module (the PyPI `bpy` wheels, 4.5 LTS and 5.0): what `blender` does for
the other versions, for a bpy that cannot take `--python` or `--command` arguments.

    python wheel_run.py install ADDON_FOLDER OUT_FOLDER    # build the extension zip and install it
    python wheel_run.py drive SCENARIO PARAMS.json RESULT.json   # drive.py's scenario, as with --python

BPY_SITE names the wheel's folder; it is put on sys.path here, not in PYTHONPATH, so the cleancut
worker that the add-on starts (with this venv's Python) never imports the wheel's numpy.
Extensions go where this Blender keeps them for HOME (the test gives each version its own).
The build and install are Blender's own `blender --command extension build` / `install-file`
(bl_pkg's command line, and the operator it calls).
"""

import glob
import os
import runpy
import sys

sys.path.insert(0, os.environ["BPY_SITE"])

import bpy  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def install(addon, out):
    import bl_pkg.bl_extension_cli as cli

    if cli.cli_extension_handler(["build", "--source-dir", addon, "--output-dir", out]) != 0:
        raise SystemExit("extension build failed")
    (archive,) = glob.glob(os.path.join(out, "*.zip"))
    status = bpy.ops.extensions.package_install_files(filepath=archive, repo="user_default",
                                                      enable_on_install=False)
    if status != {"FINISHED"}:
        raise SystemExit("extension install failed: %r" % status)
    print("installed", archive, "into", bpy.utils.user_resource("EXTENSIONS", path="user_default"))


def main():
    mode = sys.argv[1]
    if mode == "install":
        install(*sys.argv[2:4])
    elif mode == "drive":
        drive = os.path.join(HERE, "drive.py")
        sys.argv = [drive, "--"] + sys.argv[2:]
        runpy.run_path(drive, run_name="__main__")
    else:
        raise SystemExit("unknown mode %r" % mode)


main()
