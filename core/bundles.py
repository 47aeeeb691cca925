"""The editors' plug-in bundles assembled: their files, as a folder or as a zip.

One description (a Bundle in the editor's module, core/hosts/) serves both `cleancut install HOST` (files copied into the editor's user
folder) and packaging/build.py (the same files as a zip a user can install by hand), so the two
can never disagree. Every bundle carries the client, copied from its single source
(cleancut_client.py in this package); the client and the worker check each other's protocol
version on every start.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from . import __version__, hosts
from .errors import CleancutError
from .hosts import Bundle

PACKAGE = Path(__file__).resolve().parent
CLIENT = PACKAGE / "cleancut_client.py"


# Every editor's bundles, from the editors' registry (core/hosts/): install, doctor and
# packaging/build.py read the same records.
BUNDLES: dict[str, Bundle] = hosts.BUNDLES


_SKIP = {"__pycache__", ".DS_Store"}


def source_folder(bundle: Bundle) -> Path:
    """Where the bundle's files are: inside the installed package, or in the source checkout."""
    for folder in (PACKAGE / bundle.packaged, PACKAGE.parent / bundle.checkout):
        if folder.is_dir():
            return folder
    raise CleancutError(
        f"the {bundle.title} plug-in files are missing from this cleancut installation "
        f"(looked in {PACKAGE / bundle.packaged}); reinstall cleancut with pip")


def contents(bundle: Bundle) -> dict[str, bytes]:
    """Every file of the bundle, keyed by its path inside the plug-in root (posix), sorted."""
    root = source_folder(bundle)
    out: dict[str, bytes] = {}
    for src, dst in bundle.files:
        if src.endswith("/") or src == "":
            folder = root / src
            for path in sorted(folder.rglob("*")):
                parts = path.relative_to(folder).parts
                if path.is_file() and not any(p in _SKIP or p.endswith(".pyc") for p in parts):
                    out[dst + "/".join(parts)] = path.read_bytes()
        else:
            out[dst] = (root / src).read_bytes()
    out[bundle.client] = CLIENT.read_bytes()
    return dict(sorted(out.items()))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_folder(bundle: Bundle, root: Path) -> Path:
    """The bundle laid out under root, as it is installed (for tests and hand installs)."""
    for rel, data in contents(bundle).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o755 if rel in bundle.executable else 0o644)
    return root


def write_zips(bundle: Bundle, out: Path) -> list[Path]:
    """Every zip the bundle is offered as (Blender: the add-on zip and the 4.2+ extension zip)."""
    return [write_zip(bundle, out / zip_name(bundle, kind), strip=strip) for kind, strip in bundle.zips]


def write_zip(bundle: Bundle, path: Path, strip: str = "") -> Path:
    """The bundle as a zip whose top level is the plug-in root, with folder entries (Krita's
    importer finds the plug-in's package by its folder entry) and Unix modes kept.

    ``strip``: a leading folder to leave out (Blender 4.2+ extensions keep their manifest at
    the top of the zip, where the legacy add-on zip has the cleancut_blender/ folder)."""
    files = {name[len(strip):]: data for name, data in contents(bundle).items() if name.startswith(strip)}
    executable = {name[len(strip):] for name in bundle.executable}
    folders = sorted({"/".join(name.split("/")[:i]) + "/" for name in files
                      for i in range(1, name.count("/") + 1)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in folders:
            info = zipfile.ZipInfo(folder, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, b"")
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            archive.writestr(info, data)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def zip_name(bundle: Bundle, kind: str = "") -> str:
    return f"cleancut-{bundle.name}{'-' + kind if kind else ''}-{__version__}.zip"
