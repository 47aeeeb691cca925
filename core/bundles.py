"""The editors' plug-in bundles: which files each one holds and where they go.

One description serves both `cleancut install HOST` (files copied into the editor's user
folder) and packaging/build.py (the same files as a zip a user can install by hand), so the two
can never disagree. Every bundle carries the client, copied from its single source
(cleancut_client.py in this package); the client and the worker check each other's protocol
version on every start.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import CleancutError

PACKAGE = Path(__file__).resolve().parent
CLIENT = PACKAGE / "cleancut_client.py"


@dataclass(frozen=True)
class Bundle:
    """A plug-in: the folder its files come from and the relative paths they are installed at."""

    name: str  # gimp3, gimp2, krita, blender
    title: str
    packaged: str  # folder under cleancut/hosts/ in an installed wheel
    checkout: str  # the same folder in a source checkout (editable installs)
    # (path inside the source folder, path inside the editor's plug-in root); a source ending in
    # "/" is a folder copied whole (without caches)
    files: tuple[tuple[str, str], ...]
    client: str  # where the client goes, inside the plug-in root
    executable: tuple[str, ...] = ()  # plug-in root paths that must be executable (GIMP on Unix)


BUNDLES: dict[str, Bundle] = {
    "gimp3": Bundle(
        "gimp3", "GIMP", "hosts/gimp3", "gimp/cleancut",
        (("cleancut.py", "cleancut/cleancut.py"), ("cleancut_dialog.py", "cleancut/cleancut_dialog.py")),
        client="cleancut/cleancut_client.py", executable=("cleancut/cleancut.py",)),
    "gimp2": Bundle(
        "gimp2", "GIMP", "hosts/gimp2", "gimp/gimp2",
        (("cleancut_gimp2.py", "cleancut_gimp2/cleancut_gimp2.py"),),
        client="cleancut_gimp2/cleancut_client.py", executable=("cleancut_gimp2/cleancut_gimp2.py",)),
    # Krita's resource folder: pykrita/ holds the plug-in, actions/ its menu actions. The zip uses
    # the same layout, which Krita's "Import Python Plugin from File…" also accepts.
    "krita": Bundle(
        "krita", "Krita", "hosts/krita", "krita",
        (("cleancut_krita.desktop", "pykrita/cleancut_krita.desktop"),
         ("cleancut_krita/", "pykrita/cleancut_krita/"),
         ("cleancut_krita.action", "actions/cleancut_krita.action")),
        client="pykrita/cleancut_krita/cleancut_client.py"),
    # One folder for Blender 3.x add-ons (scripts/addons) and 4.2+ extensions (blender_manifest.toml).
    "blender": Bundle(
        "blender", "Blender", "hosts/blender", "blender/cleancut_blender",
        (("", "cleancut_blender/"),),
        client="cleancut_blender/cleancut_client.py"),
}

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
