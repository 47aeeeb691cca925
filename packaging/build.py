#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build everything a user installs, into one folder (default dist/):

    python packaging/build.py [--out dist]

- cleancut-VERSION-py3-none-any.whl and cleancut-VERSION.tar.gz: the engine (it carries the
  editors' plug-ins too, for `cleancut install HOST`);
- cleancut-gimp3-VERSION.zip: unzip into GIMP 3's plug-ins folder (gives cleancut/);
- cleancut-gimp2-VERSION.zip: unzip into GIMP 2.10's plug-ins folder (gives cleancut_gimp2/);
- cleancut-krita-VERSION.zip: Krita > Tools > Scripts > Import Python Plugin from File…;
- cleancut-blender-VERSION.zip: Blender 3.x–4.1 > Preferences > Add-ons > Install…;
- cleancut-blender-extension-VERSION.zip: Blender 4.2+ > Preferences > Get Extensions > Install from Disk….

Every zip holds the client copied from core/cleancut_client.py; which zips there are and what
they hold come from the editors' registry (core/hosts/: each editor's module lists its bundles),
the same records `cleancut install` uses.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _bundles():
    """core/bundles.py of this checkout, whether or not (or whichever) cleancut is installed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cleancut", REPO / "core" / "__init__.py",
                                                  submodule_search_locations=[str(REPO / "core")])
    package = importlib.util.module_from_spec(spec)
    sys.modules["cleancut"] = package
    spec.loader.exec_module(package)
    from cleancut import bundles

    return bundles


def build(out: Path, engine: bool = True) -> list[Path]:
    bundles = _bundles()
    out.mkdir(parents=True, exist_ok=True)
    made = []
    if engine:
        subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                       check=True, stdout=subprocess.DEVNULL)
        version = bundles.__version__
        made += sorted(out.glob(f"cleancut-{version}*.whl")) + sorted(out.glob(f"cleancut-{version}.tar.gz"))
    for bundle in bundles.BUNDLES.values():
        made += bundles.write_zips(bundle, out)
    return made


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument("--no-engine", action="store_true", help="only the editors' zips (no wheel or sdist)")
    args = parser.parse_args(argv)
    for path in build(args.out, engine=not args.no_engine):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
