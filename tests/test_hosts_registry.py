"""The editors' registry (core/hosts/): one entry per editor, and everything that loops over it
(the CLI, packaging/build.py, the wheel) sees every editor and every bundle it lists."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cleancut import __version__, bundles, cli, hosts

REPO = Path(__file__).resolve().parent.parent


def test_every_editor_is_registered_once_under_its_own_name():
    assert list(hosts.EDITORS) == ["gimp", "krita", "blender"]
    assert all(name == editor.name for name, editor in hosts.EDITORS.items())


def test_every_bundle_belongs_to_exactly_one_editor():
    owners = {b.name: [e.name for e in hosts.EDITORS.values() if b in e.bundles] for b in hosts.BUNDLES.values()}
    assert owners == {"gimp3": ["gimp"], "gimp2": ["gimp"], "krita": ["krita"], "blender": ["blender"]}


def _choices(command: str) -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    host = next(a for a in sub.choices[command]._actions if a.dest == "host")
    return list(host.choices)


@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_the_command_line_offers_the_registry_s_editors(command):
    assert _choices(command) == list(hosts.names())


def test_packaging_builds_every_zip_the_registry_lists(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "packaging" / "build.py"), "--no-engine", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = {bundles.zip_name(b, kind) for b in hosts.BUNDLES.values() for kind, _ in b.zips}
    assert {p.name for p in tmp_path.iterdir()} == expected
    assert expected >= {f"cleancut-{n}-{__version__}.zip" for n in ("gimp3", "gimp2", "krita", "blender")}


def test_each_zip_holds_its_bundle_exactly(tmp_path):
    for bundle in hosts.BUNDLES.values():
        for kind, strip in bundle.zips:
            path = bundles.write_zip(bundle, tmp_path / bundles.zip_name(bundle, kind), strip=strip)
            with zipfile.ZipFile(path) as archive:
                files = {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}
            assert files == {n[len(strip):]: d for n, d in bundles.contents(bundle).items()}, (bundle.name, kind)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The engine wheel as packaging/build.py makes it (from its sdist: no stale build files)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(REPO / "packaging" / "build.py"), "--out", str(out)],
                   check=True, timeout=600, capture_output=True)
    (found,) = out.glob("cleancut-*.whl")
    return found


def test_the_wheel_carries_every_bundle_s_files(wheel, tmp_path, monkeypatch):
    """A plain `pip install cleancut` must be able to install every editor's plug-in: each
    bundle's files in the wheel are the checkout's."""
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    installed = tmp_path / "site" / "cleancut"
    checkout = {name: bundles.contents(b) for name, b in hosts.BUNDLES.items()}
    monkeypatch.setattr(bundles, "PACKAGE", installed)
    monkeypatch.setattr(bundles, "CLIENT", installed / "cleancut_client.py")
    for name, bundle in hosts.BUNDLES.items():
        assert bundles.source_folder(bundle) == installed / "plugins" / name
        assert bundles.contents(bundle) == checkout[name], name


def test_the_wheel_holds_the_engine_s_per_editor_modules(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"cleancut/hosts/{m}.py" for m in ("__init__", "base", "gimp", "krita", "blender")} <= names
