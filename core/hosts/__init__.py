"""The editors cleancut installs into: one module per editor, behind this one registry.

Each module (gimp.py, krita.py, blender.py) holds everything cleancut knows about its editor:
its user folders per platform and version, its bundle(s), how the plug-in is switched on and
off, and what to tell the user afterwards. `cleancut install|uninstall|doctor`, the CLI's
choices and packaging/build.py loop over EDITORS, so supporting a new editor version is a
change in that editor's module only.
"""

from __future__ import annotations

from ..errors import CleancutError
from . import blender, gimp, krita
from .base import Bundle, Editor, Place, Target, Where

EDITORS: dict[str, Editor] = {e.name: e for e in (gimp.EDITOR, krita.EDITOR, blender.EDITOR)}
BUNDLES: dict[str, Bundle] = {b.name: b for e in EDITORS.values() for b in e.bundles}

__all__ = ["EDITORS", "BUNDLES", "Bundle", "Editor", "Place", "Target", "Where", "names", "get", "editor_of"]


def names() -> tuple[str, ...]:
    """The editors' names, as the CLI takes them."""
    return tuple(EDITORS)


def get(name: str) -> Editor:
    try:
        return EDITORS[name]
    except KeyError:
        raise CleancutError(f"unknown editor {name!r}: choose one of {', '.join(EDITORS)}") from None


def editor_of(bundle: Bundle) -> Editor:
    """The editor a bundle belongs to."""
    return next(e for e in EDITORS.values() if bundle in e.bundles)
