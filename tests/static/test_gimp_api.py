"""The GIMP 3 plug-in (gimp/cleancut/*.py) type-checks against GIMP 3.2's own API.

What GIMP 3.2 offers a Python plug-in is its GObject introspection data. mypy checks the plug-in
against stubs made from it: tests/static/gimp/stubs/ (Gimp, GimpUi, Gegl, Babl, generated from
the typelibs of the real GIMP 3.2.6 by tests/static/gimp/generate_stubs.py) and the
pygobject-stubs package from PyPI for GLib, GObject, Gio, Gtk 3 and the rest. This reaches what
the host tests cannot run: every code path, Windows and macOS builds of the same API.

pygobject-stubs is installed on first use with `pip install --no-deps --target` into a folder of
its own (VENV/stubs/pygobject-stubs, as tests/static/test_blender_api.py does for its stubs; PyPI
is needed once): the package depends on a PyGObject that cannot be built in the venv, and GIMP 3
needs its Gtk 3 stubs where the package installs Gtk 4's by default.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "gimp"
PYGOBJECT_STUBS = "pygobject-stubs==2.20.0"
CACHE = Path(os.environ.get("CLEANCUT_STUBS_DIR", Path(sys.prefix) / "stubs")) / "pygobject-stubs"
PLUG_IN = [REPO / "gimp" / "cleancut" / "cleancut.py", REPO / "gimp" / "cleancut" / "cleancut_dialog.py"]


@pytest.fixture(scope="session")
def gi_stubs(tmp_path_factory) -> Path:
    """A MYPYPATH folder holding `gi` as GIMP 3.2's plug-ins see it (Gtk and Gdk 3)."""
    ready = CACHE / (".ready-" + PYGOBJECT_STUBS.split("==")[1])
    if not ready.exists():
        shutil.rmtree(CACHE, ignore_errors=True)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-cache-dir",
                               "--disable-pip-version-check", "--target", str(CACHE), PYGOBJECT_STUBS],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"could not install {PYGOBJECT_STUBS} (it comes from PyPI once):\n{done.stderr[-2000:]}")
        ready.touch()
    root = tmp_path_factory.mktemp("mypypath")
    gi = root / "gi"
    shutil.copytree(CACHE / "gi-stubs", gi)
    repository = gi / "repository"
    for name in ("Gtk", "Gdk"):
        # The module itself, not a star import of it, so the stubs' private aliases
        # (Gtk._OrientationValueType, …) that GimpUi's stubs name resolve too.
        shutil.copy(repository / f"_{name}3.pyi", repository / f"{name}.pyi")
    for stub in (HERE / "stubs").glob("*.pyi"):
        shutil.copy(stub, repository / stub.name)
    return root


def mypy(stubs: Path, *files: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MYPYPATH=os.pathsep.join([str(stubs), str(REPO / "core")]))
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(HERE / "mypy.ini"),
                           "--cache-dir", str(CACHE / ".mypy_cache"), "--no-error-summary", "--hide-error-context",
                           "--show-error-codes", *map(str, files)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=REPO)


def test_the_committed_stubs_are_gimp_3_2s():
    for name in ("Gimp", "GimpUi", "Gegl", "Babl"):
        assert (HERE / "stubs" / f"{name}.pyi").read_text().startswith(f"# {name}-")
    gimp = (HERE / "stubs" / "Gimp.pyi").read_text()
    assert "as in GIMP 3.2." in gimp.splitlines()[0]
    assert re.search(r"^class VectorLayer\(Layer, Rasterizable\):", gimp, re.M)  # new in 3.2


def test_the_gimp_3_plug_in_type_checks_against_gimp_3_2(gi_stubs):
    done = mypy(gi_stubs, *PLUG_IN)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


MISUSE = '''\
from gi.repository import Gegl, Gimp


def misuse(image: Gimp.Image, layer: Gimp.Layer) -> None:
    image.get_active_layer()
    layer.set_offsets("10", 0)
    layer.get_buffer().get(Gegl.Rectangle.new(0, 0, 1, 1), 1.0, "Y u8")
    Gimp.VectorLayer.new(image, Gimp.Path.new(image, "outline"))
'''


def test_mypy_reports_calls_gimp_3_2_does_not_have(gi_stubs, tmp_path):
    snippet = tmp_path / "misuse.py"
    snippet.write_text(MISUSE)
    done = mypy(gi_stubs, snippet)
    errors = [re.sub(r"^.*misuse\.py:", "", line) for line in done.stdout.splitlines()]
    assert errors == [
        # GIMP 2.10's, gone in 3.x (3.x has get_selected_layers)
        '5: error: "Image" has no attribute "get_active_layer"  [attr-defined]',
        '6: error: Argument 1 to "set_offsets" of "Layer" has incompatible type "str"; expected "int"  [arg-type]',
        '7: error: Missing positional argument "repeat_mode" in call to "get" of "Buffer"  [call-arg]',
    ], done.stdout  # and GIMP 3.2's vector layers (line 8) are known
