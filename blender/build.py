#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Assemble the Blender add-on: the source tree plus the cleancut client, as a folder and zips.

    python3 blender/build.py OUT                  # OUT/cleancut_blender/ and OUT/cleancut_blender-VERSION.zip
    python3 blender/build.py OUT --blender B      # also the 4.2+ extension zip, built by Blender B

The legacy zip installs in Blender 3.x–4.1 (Preferences > Add-ons > Install); the extension
zip in Blender 4.2+ (Preferences > Get Extensions > Install from Disk).
"""

import argparse
import os
import shutil
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "cleancut_blender"
CLIENT = os.path.join(HERE, os.pardir, "core", "cleancut_client.py")


def version():
    with open(os.path.join(HERE, NAME, "blender_manifest.toml")) as handle:
        for line in handle:
            if line.startswith("version"):
                return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit("no version in blender_manifest.toml")


def stage(out):
    """OUT/cleancut_blender: the add-on's files and the client, without caches."""
    target = os.path.join(out, NAME)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(HERE, NAME), target,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    shutil.copy2(CLIENT, os.path.join(target, "cleancut_client.py"))
    return target


def legacy_zip(out, folder):
    path = os.path.join(out, "%s-%s.zip" % (NAME, version()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _dirs, files in os.walk(folder):
            for name in sorted(files):
                full = os.path.join(root, name)
                archive.write(full, os.path.relpath(full, out))
    return path


def extension_zip(out, folder, blender):
    subprocess.run([blender, "--factory-startup", "--command", "extension", "build",
                    "--source-dir", folder, "--output-dir", out], check=True)
    return os.path.join(out, "%s-%s.zip" % (NAME, version()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--blender", help="a Blender 4.2+ to build the extension zip with")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    folder = stage(args.out)
    print(legacy_zip(args.out, folder))
    if args.blender:
        ext_dir = os.path.join(args.out, "extension")
        os.makedirs(ext_dir, exist_ok=True)
        print(extension_zip(ext_dir, folder, args.blender))
    return 0


if __name__ == "__main__":
    sys.exit(main())
