"""The Krita plug-in type-checks against Krita's API with PyQt5 (Krita 5) and PyQt6 (Krita 6).

mypy reads the plug-in laid out as `cleancut install krita` lays it out (the client copied in),
Krita's `krita` module from tests/static/krita/krita.pyi (generated from the real Krita 5.3.4
module by make_stubs.py, see there) and Qt from the PyQt5 or PyQt6 wheel's own .pyi files. The
compat module's ``QT6`` picks the binding: ``--always-false QT6`` checks the Krita 5 build,
``--always-true QT6`` the Krita 6 one, which no machine here can run. Bodies of functions
without annotations are checked too (``--check-untyped-defs``): that is most of the plug-in.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
STUBS = REPO / "tests" / "static" / "krita"
BINDINGS = {"PyQt5": "--always-false", "PyQt6": "--always-true"}


def mypy(paths: list[Path], binding: str, cache: Path, cwd: Path) -> subprocess.CompletedProcess:
    """mypy on these files, Krita's stubs on its path, the binding chosen through QT6."""
    argv = [sys.executable, "-m", "mypy", BINDINGS[binding], "QT6", "--python-version", "3.10",
            "--check-untyped-defs", "--follow-imports", "silent", "--no-error-summary", "--show-error-codes", "--no-color-output",
            "--cache-dir", str(cache), *map(str, paths)]
    env = {"MYPYPATH": str(STUBS), "PATH": "/usr/bin:/bin"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def errors(done: subprocess.CompletedProcess) -> list[str]:
    """mypy's error lines as "FILE:LINE: error: TEXT  [code]", notes left out."""
    return [line for line in done.stdout.splitlines() if ": error: " in line]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The plug-in package as installed: cleancut_krita/ with cleancut_client.py inside."""
    root = tmp_path_factory.mktemp("krita-plugin")
    shutil.copytree(REPO / "krita" / "cleancut_krita", root / "cleancut_krita",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "core" / "cleancut_client.py", root / "cleancut_krita" / "cleancut_client.py")
    return root


@pytest.mark.parametrize("binding", list(BINDINGS))
def test_the_plug_in_type_checks_against_kritas_api(installed, tmp_path, binding):
    # The plug-in's own modules; the client (the engine's, shared by every editor) is read for
    # its types but not judged here.
    modules = sorted(path for path in (installed / "cleancut_krita").glob("*.py") if path.name != "cleancut_client.py")
    assert [path.name for path in modules] == ["__init__.py", "dialog.py", "extension.py", "gui.py", "layers.py", "options.py",
                                              "qt.py"]
    done = mypy(modules, binding, tmp_path / "cache", installed)
    assert (done.returncode, errors(done)) == (0, []), done.stdout + done.stderr


def test_the_stubs_are_what_the_generator_makes_of_the_committed_dumps(tmp_path):
    dumps = [STUBS / f"api-{version}.json" for version in ("5.3.4", "5.2.9", "5.1.5")]
    subprocess.run([sys.executable, str(STUBS / "make_stubs.py"), str(tmp_path / "krita.pyi"), *map(str, dumps)],
                   check=True, timeout=120)
    assert (tmp_path / "krita.pyi").read_text() == (STUBS / "krita.pyi").read_text()
    assert json.loads(dumps[0].read_text())["krita_version"] == "5.3.4.1"


MISUSE = '''\
from krita import Krita

document = Krita.instance().activeDocument()
layer = document.activeNode()  # line 4: there may be no active document
if layer is not None:
    layer.setPixelData(b"", 0, 0, 1)  # line 6: x, y, w, h
    Krita.instance().action("file_quit").trigger()  # line 7: an unknown action is None
'''
MISUSE_ERRORS = [
    'misuse.py:4: error: Item "None" of "Document | None" has no attribute "activeNode"  [union-attr]',
    'misuse.py:6: error: Missing positional argument "h" in call to "setPixelData" of "Node"  [call-arg]',
    'misuse.py:7: error: Item "None" of "QAction | None" has no attribute "trigger"  [union-attr]',
]


@pytest.mark.parametrize("binding", list(BINDINGS))
def test_mypy_finds_misuses_of_kritas_api(tmp_path, binding):
    snippet = tmp_path / "misuse.py"
    snippet.write_text(MISUSE)
    assert errors(mypy([snippet], binding, tmp_path / "cache", tmp_path)) == MISUSE_ERRORS


QT5_ONLY = '''\
from cleancut_krita_qt import QMessageBox
from krita import Krita

window = Krita.instance().activeWindow()
if window is not None:
    QMessageBox(window.qwindow()).exec_()  # line 6: exec_() is gone in PyQt6
'''


def test_the_krita_6_check_finds_qt5_only_code(tmp_path):
    snippet = tmp_path / "qt5only.py"
    snippet.write_text(QT5_ONLY)
    (tmp_path / "cleancut_krita_qt.py").write_text((REPO / "krita" / "cleancut_krita" / "qt.py").read_text())
    assert errors(mypy([snippet], "PyQt5", tmp_path / "cache5", tmp_path)) == []
    assert errors(mypy([snippet], "PyQt6", tmp_path / "cache6", tmp_path)) == [
        'qt5only.py:6: error: "QMessageBox" has no attribute "exec_"  [attr-defined]']
