"""The Blender add-on type-checked (mypy) against each Blender version's Python API, as published
in the fake-bpy-module stub packages on PyPI: 4.5 LTS, 5.0, 5.1, 5.2 and 5.3 (no
fake-bpy-module-5-3 yet: fake-bpy-module-latest, pinned, carries 5.3's API).

The host tests cannot run Windows or macOS Blenders, nor the GUI of a bpy wheel; this check reads
the whole add-on against those APIs instead: an attribute,
operator argument or enum value that a version does not have is an error. The add-on decides by
feature (blender/cleancut_blender/compat.py: COMPOSITING_GROUP, STRIP_COMPOSITOR, …); mypy is
told what each version has (tests/static/blender/features.json, which the host tests check
against the real Blenders), so each branch is checked against the versions that take it.

Each stub package provides the same `bpy` package, so each is installed (pip --target) into a
folder of its own under the venv (VENV/stubs/fake-bpy-module-X-Y, reused once there) and put on
mypy's search path alone. Settings (and the few suppressions, with their reasons) are in
tests/static/blender/mypy.ini.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "blender"
CONFIG = HERE / "mypy.ini"
FEATURES = {v: f for v, f in json.loads((HERE / "features.json").read_text()).items() if v != "_"}
CACHE = Path(os.environ.get("CLEANCUT_STUBS_DIR", Path(sys.prefix) / "stubs"))
# version -> (stub package pinned, the Python that Blender version embeds)
STUBS = {
    "4.5": ("fake-bpy-module-4-5==20260730", "3.11"),
    "5.0": ("fake-bpy-module-5-0==20260730", "3.11"),
    "5.1": ("fake-bpy-module-5-1==20260730", "3.13"),
    "5.2": ("fake-bpy-module-5-2==20260730", "3.13"),
    "5.3": ("fake-bpy-module-latest==20261026", "3.13"),  # "latest" is 5.3 in this release
}
MYPY_TIMEOUT = 240
# fake-bpy-module-5-1==20260730 declares its 137 collection classes as
# `class Nodes(bpy_prop, bpy_prop_collection[Node], bpy_struct)`: bpy_prop before its own subclass
# is no valid MRO, so mypy drops the collection base and reports every iteration, index and `in`
# on them (5.0's and 5.2's stubs say `class Nodes(bpy_prop_collection[Node], bpy_struct)`). The
# installed copy is repaired to 5.2's form; the count pins the repair to that release.
STUB_REPAIRS = {"5.1": ("class {}(bpy_prop, bpy_prop_collection[", "class {}(bpy_prop_collection[", 137)}


def stubs(version: str) -> Path:
    """The stub package of ``version`` installed in its own folder (once; reused afterwards)."""
    requirement = STUBS[version][0]
    folder = CACHE / requirement.split("==")[0]
    ready = folder / (".ready-" + requirement.split("==")[1])
    if not ready.exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "--target", str(folder), requirement], check=True, timeout=600)
        if version in STUB_REPAIRS:
            repair(folder / "bpy-stubs" / "types" / "__init__.pyi", *STUB_REPAIRS[version])
        ready.touch()
    return folder


def repair(path: Path, wrong: str, right: str, count: int) -> None:
    """Rewrite the class headers ``wrong`` (``{}``: any class name) as ``right``, exactly ``count``."""
    pattern = re.compile(re.escape(wrong).replace(r"\{\}", r"(\w+)"))
    text, done = pattern.subn(lambda m: right.format(m.group(1)), path.read_text())
    assert done == count, f"{path}: {done} class headers to repair, {count} expected (a new stub release?)"
    path.write_text(text)


@pytest.fixture(scope="module")
def addon(tmp_path_factory) -> Path:
    """The add-on as it ships (core/bundles.py: the source tree with the engine's client copied in)."""
    from cleancut import bundles

    out = tmp_path_factory.mktemp("blender-addon")
    bundles.write_folder(bundles.BUNDLES["blender"], out)
    return out


def feature_flags(features: dict[str, bool]) -> list[str]:
    """mypy's --always-true/--always-false for compat's feature names."""
    return [f"--always-{'true' if has else 'false'}={name}" for name, has in sorted(features.items())]


def mypy(version: str, cwd: Path, targets: list[str], features: dict[str, bool]) -> subprocess.CompletedProcess:
    """mypy on ``targets`` (run in ``cwd``) against Blender ``version``'s API alone."""
    folder = stubs(version)
    env = dict(os.environ, PYTHONPATH=str(folder))  # mypy finds the bpy-stubs package there (PEP 561)
    argv = [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), "--no-error-summary",
            "--cache-dir", str(folder / ".mypy_cache"), "--python-version", STUBS[version][1],
            *feature_flags(features), *targets]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=MYPY_TIMEOUT)


def errors(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stdout.splitlines() if ": error:" in line]


@pytest.mark.parametrize("version", list(STUBS))
def test_addon_uses_only_what_this_blender_api_has(addon, version):
    proc = mypy(version, addon, ["-p", "cleancut_blender"], FEATURES[version])
    assert proc.returncode == 0 and not errors(proc), (
        f"Blender {version} API misuse:\n{proc.stdout}{proc.stderr}")


SNIPPET = '''
import bpy


def compositor(scene: bpy.types.Scene) -> object:
    return scene.node_tree
'''


@pytest.mark.parametrize("version, reported", [("4.5", False), ("5.0", True), ("5.2", True)])
def test_scene_node_tree_is_reported_where_blender_removed_it(tmp_path, version, reported):
    """The check can fail: `scene.node_tree`, what broke the add-on in 5.0, is an error against
    5.x's API and fine against 4.5's."""
    (tmp_path / "snippet.py").write_text(SNIPPET)
    found = errors(mypy(version, tmp_path, ["snippet.py"], {}))
    expected = ['snippet.py:6: error: "Scene" has no attribute "node_tree"  [attr-defined]'] if reported else []
    assert found == expected


def test_each_branch_is_checked_against_the_versions_that_take_it(addon):
    """Told (wrongly) that 5.0 has no compositor node group, the check reads the legacy branch
    against 5.0's API and reports its `scene.node_tree`: the branches are not skipped blindly."""
    wrong = dict(FEATURES["5.0"], COMPOSITING_GROUP=False)
    found = errors(mypy("5.0", addon, ["-p", "cleancut_blender"], wrong))
    assert any('compat.py' in line and '"Scene" has no attribute "node_tree"' in line for line in found), found
