"""`cleancut install|uninstall|doctor` and the bundles, on a private HOME laid out like a user's.

The real editors load what these commands install in tests/hosts/test_installed.py; here the
file layouts, the settings they touch and their undoing are specified exactly.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import zipfile
from pathlib import Path

import pytest

from cleancut import bundles, cli, config, doctor, hosts, install, install_record, uninstall
from cleancut.hosts import krita
from cleancut.errors import CleancutError

REPO = Path(__file__).resolve().parent.parent
CLIENT = (REPO / "core" / "cleancut_client.py").read_bytes()


def where(home: Path, platform: str = "linux", **env) -> hosts.Where:
    return hosts.Where(platform=platform, home=str(home), env=dict({"PATH": ""}, **env))


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under root."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def quiet(*_args) -> None:
    pass


def test_gimp3_gets_its_plug_in_folder_with_the_client_and_an_executable_entry_point(home):
    (home / ".config" / "GIMP" / "3.0").mkdir(parents=True)
    install.install("gimp", where=where(home), say=quiet)
    folder = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "cleancut"
    assert sorted(p.name for p in folder.iterdir()) == ["cleancut.py", "cleancut_client.py", "cleancut_dialog.py"]
    assert (folder / "cleancut_client.py").read_bytes() == CLIENT
    assert (folder / "cleancut.py").read_bytes() == (REPO / "gimp" / "cleancut" / "cleancut.py").read_bytes()
    assert os.stat(folder / "cleancut.py").st_mode & stat.S_IXUSR


def test_gimp210_gets_the_gimpfu_plug_in(home):
    (home / ".config" / "GIMP" / "2.10").mkdir(parents=True)
    install.install("gimp", where=where(home), say=quiet)
    folder = home / ".config" / "GIMP" / "2.10" / "plug-ins" / "cleancut_gimp2"
    assert sorted(p.name for p in folder.iterdir()) == ["cleancut_client.py", "cleancut_gimp2.py"]


def test_flatpak_gimp_is_found_beside_the_native_one(home):
    for root in (home / ".config" / "GIMP" / "3.0", home / ".var" / "app" / "org.gimp.GIMP" / "config" / "GIMP" / "3.0"):
        root.mkdir(parents=True)
    targets = install.install("gimp", where=where(home), say=quiet)
    assert [t.place.flavour for t in targets] == ["native", "flatpak"]
    for target in targets:
        assert (target.root / "cleancut" / "cleancut.py").is_file()


def test_macos_gimp_lives_in_application_support(home):
    (home / "Library" / "Application Support" / "GIMP" / "3.0").mkdir(parents=True)
    (target,) = install.find_targets("gimp", where=where(home, "darwin"))
    assert target.root == home / "Library" / "Application Support" / "GIMP" / "3.0" / "plug-ins"


def test_without_gimp_settings_the_error_names_the_folders_and_the_way_out(home):
    with pytest.raises(CleancutError) as err:
        install.install("gimp", where=where(home), say=quiet)
    assert str(home / ".config" / "GIMP" / "3.0") in str(err.value)
    assert "--host-version 3.2" in str(err.value)


def test_host_version_creates_the_folder_for_an_editor_not_started_yet(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    assert (home / ".config" / "GIMP" / "3.0" / "plug-ins" / "cleancut" / "cleancut.py").is_file()


def test_dry_run_prints_every_file_and_changes_nothing(home):
    (home / ".config" / "GIMP" / "3.0").mkdir(parents=True)
    before = tree(home)
    said = []
    install.install("gimp", dry_run=True, where=where(home), say=said.append)
    assert tree(home) == before
    assert f"  {home / '.config/GIMP/3.0/plug-ins/cleancut/cleancut.py'}" in said
    assert any(line.startswith("would set the engine Python to " + sys.executable) for line in said)


def test_install_points_the_editors_at_this_engine(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    assert config.load_config()["engine_python"] == sys.executable


def test_krita_gets_pykrita_actions_and_is_switched_on_in_kritarc_leaving_other_lines(home):
    kritarc = home / ".config" / "kritarc"
    kritarc.parent.mkdir(parents=True)
    kritarc.write_text("[General]\nshowStatusBar=true\n\n[python]\nenable_ten_brushes=true\n\n[theme]\nTheme=Krita dark\n")
    install.install("krita", where=where(home), say=quiet)
    resources = home / ".local" / "share" / "krita"
    assert (resources / "pykrita" / "cleancut_krita.desktop").is_file()
    assert (resources / "pykrita" / "cleancut_krita" / "cleancut_client.py").read_bytes() == CLIENT
    assert (resources / "actions" / "cleancut_krita.action").is_file()
    assert kritarc.read_text() == ("[General]\nshowStatusBar=true\n\n[python]\nenable_cleancut_krita=true\n"
                                   "enable_ten_brushes=true\n\n[theme]\nTheme=Krita dark\n")


def test_uninstall_removes_exactly_what_install_added_and_restores_kritarc(home):
    kritarc = home / ".config" / "kritarc"
    kritarc.parent.mkdir(parents=True)
    kritarc.write_text("[python]\nenable_cleancut_krita=false\nenable_scripter=true\n")
    own = home / ".local" / "share" / "krita" / "pykrita" / "my_plugin.desktop"
    own.parent.mkdir(parents=True)
    own.write_text("mine")
    (home / ".config" / "cleancut").mkdir()
    config.save_config({"engine_python": "/opt/other/python3", "default_model": "u2net"})
    before = tree(home)
    install.install("krita", where=where(home), say=quiet)
    assert tree(home) != before
    assert uninstall.uninstall("krita", say=quiet) == 1
    assert tree(home) == before


def test_uninstall_of_a_fresh_home_leaves_it_empty(home):
    install.install("krita", where=where(home), say=quiet)
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    uninstall.uninstall("krita", say=quiet)
    uninstall.uninstall("gimp", say=quiet)
    assert [p for p in home.rglob("*") if p.is_file()] == []


def test_reinstalling_drops_files_an_older_version_had(home):
    (home / ".config" / "GIMP" / "3.0").mkdir(parents=True)
    install.install("gimp", where=where(home), say=quiet)
    record = install_record.load_record()
    old = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "cleancut" / "cleancut_old.py"
    old.write_text("# from 0.0.9")
    record["installs"][0]["files"]["cleancut/cleancut_old.py"] = "0" * 64
    install_record.save_record(record)
    install.install("gimp", where=where(home), say=quiet)
    assert not old.exists()
    assert len(install_record.load_record()["installs"]) == 1


def test_blender_versions_get_legacy_addons_or_4_2_extensions(home):
    for version in ("3.6", "4.3"):
        (home / ".config" / "blender" / version).mkdir(parents=True)
    said = []
    targets = install.install("blender", where=where(home), say=said.append)
    roots = {t.place.version: t.root for t in targets}
    assert roots == {"4.3": home / ".config/blender/4.3/extensions/user_default",
                     "3.6": home / ".config/blender/3.6/scripts/addons"}
    for root in roots.values():
        assert (root / "cleancut_blender" / "blender_manifest.toml").is_file()
        assert (root / "cleancut_blender" / "cleancut_client.py").read_bytes() == CLIENT
    assert any("Edit > Preferences > Add-ons" in line for line in said)  # no Blender to enable it with


def test_a_blender_of_another_version_is_refused_by_name(home, tmp_path):
    fake = tmp_path / "blender"
    fake.write_text("#!/bin/sh\necho 'Blender 4.1.0'\n")
    fake.chmod(0o755)
    (home / ".config" / "blender" / "3.6").mkdir(parents=True)
    with pytest.raises(CleancutError, match="is Blender 4.1, not 3.6"):
        install.install("blender", blender=str(fake), where=where(home), say=quiet)


def test_uninstall_without_an_install_says_so(home):
    said = []
    assert uninstall.uninstall("gimp", say=said.append) == 0
    assert said[0].startswith("cleancut is not installed in gimp")


def test_the_krita_zip_holds_folder_entries_and_the_installed_layout():
    path = bundles.write_zip(bundles.BUNDLES["krita"], Path(os.environ.get("TMPDIR", "/tmp")) / f"k{os.getpid()}.zip")
    try:
        names = zipfile.ZipFile(path).namelist()
    finally:
        path.unlink()
    assert "pykrita/cleancut_krita/" in names  # Krita's importer finds the package by this entry
    assert {"pykrita/cleancut_krita.desktop", "pykrita/cleancut_krita/__init__.py",
            "actions/cleancut_krita.action", "pykrita/cleancut_krita/cleancut_client.py"} <= set(names)


def test_every_bundle_carries_the_client_byte_for_byte():
    for bundle in bundles.BUNDLES.values():
        assert bundles.contents(bundle)[bundle.client] == CLIENT, bundle.name


def findings(found: list[doctor.Finding]) -> dict[str, tuple[str, str]]:
    return {f.subject: (f.level, f.text) for f in found}


def test_doctor_finds_a_current_install_ok(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    level, text = findings(doctor.check_hosts(where(home)))["GIMP 3.0"]
    assert level == doctor.OK and "current" in text


def test_doctor_names_a_plug_in_from_another_version_and_the_command_to_fix_it(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    client = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "cleancut" / "cleancut_client.py"
    client.write_bytes(client.read_bytes().replace(b'CLIENT_VERSION = "', b'CLIENT_VERSION = "0.0.9-'))
    level, text = findings(doctor.check_hosts(where(home)))["GIMP 3.0"]
    assert level == doctor.FIX
    assert "cleancut_client.py differs" in text and "`cleancut install gimp`" in text


def test_doctor_names_missing_plug_in_files(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    (home / ".config" / "GIMP" / "3.0" / "plug-ins" / "cleancut" / "cleancut_dialog.py").unlink()
    level, text = findings(doctor.check_hosts(where(home)))["GIMP 3.0"]
    assert level == doctor.FIX and "missing" in text


def test_doctor_notices_krita_switched_off(home):
    install.install("krita", where=where(home), say=quiet)
    krita.kritarc_set(home / ".config" / "kritarc", "enable_cleancut_krita", "false")
    level, text = findings(doctor.check_hosts(where(home)))["Krita"]
    assert level == doctor.FIX and "Python Plugin Manager" in text


def test_doctor_checks_that_the_editors_engine_runs_this_cleancut(home, monkeypatch):
    monkeypatch.delenv("CLEANCUT_ENGINE_PYTHON", raising=False)
    assert findings(doctor.check_engine())["editors' engine"][0] == doctor.FIX  # nothing configured yet
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    assert findings(doctor.check_engine())["editors' engine"] == (
        doctor.OK, f"{sys.executable} (cleancut {install.bundles.__version__})")


def test_doctor_reports_a_tampered_model_and_the_fetch_command(home, monkeypatch):
    from cleancut import fetch
    from cleancut.catalog import load_catalog

    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(home / "cache"))
    path = fetch.cached_path(load_catalog().get("u2netp"))
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the model")
    level, text = findings(doctor.check_models())["u2netp"]
    assert level == doctor.FIX and "cleancut models fetch u2netp" in text


def test_doctor_exit_status_is_1_when_something_needs_fixing(home, monkeypatch):
    monkeypatch.setenv("CLEANCUT_CACHE_DIR", str(home / "empty-cache"))
    said = []
    assert doctor.run(say=said.append) == 1  # the default model is not fetched
    assert any("FIX" in line and "cleancut models fetch u2netp" in line for line in said)


# --- nothing of the user's is lost (issue 12) ---

GIMP3_FOLDER = Path(".config/GIMP/3.0/plug-ins/cleancut")


def test_a_file_of_the_users_where_the_plug_in_goes_is_moved_aside_and_said_so(home):
    own = home / GIMP3_FOLDER / "cleancut.py"
    own.parent.mkdir(parents=True)
    own.write_text("# my own cleancut.py")
    said = []
    install.install("gimp", where=where(home), say=said.append)
    backup = install_record.backups_dir() / next(p.name for p in install_record.backups_dir().iterdir()) / "cleancut" / "cleancut.py"
    assert backup.read_text() == "# my own cleancut.py"
    assert own.read_bytes() == (REPO / "gimp" / "cleancut" / "cleancut.py").read_bytes()
    assert f"  moving your {own} aside to {backup} (uninstall puts it back)" in said


def test_uninstall_puts_the_users_file_back_exactly(home):
    own = home / GIMP3_FOLDER / "cleancut.py"
    own.parent.mkdir(parents=True)
    own.write_text("# my own cleancut.py")
    own.chmod(0o700)
    (home / ".config" / "cleancut").mkdir()
    before = tree(home)
    install.install("gimp", where=where(home), say=quiet)
    uninstall.uninstall("gimp", say=quiet)
    assert tree(home) == before
    assert stat.S_IMODE(os.stat(own).st_mode) == 0o700


def test_a_link_of_the_users_stays_a_link_and_its_target_is_untouched(home, tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text("# the file my link points at")
    link = home / GIMP3_FOLDER / "cleancut_client.py"
    link.parent.mkdir(parents=True)
    link.symlink_to(mine)
    install.install("gimp", where=where(home), say=quiet)
    assert not link.is_symlink() and link.read_bytes() == CLIENT
    assert mine.read_text() == "# the file my link points at"
    uninstall.uninstall("gimp", say=quiet)
    assert link.is_symlink() and os.readlink(link) == str(mine)


def test_a_linked_plug_in_folder_is_moved_aside_as_a_link_never_written_through(home, tmp_path):
    checkout = tmp_path / "src" / "cleancut"
    checkout.mkdir(parents=True)
    (checkout / "cleancut.py").write_text("# a developer's checkout")
    folder = home / GIMP3_FOLDER
    folder.parent.mkdir(parents=True)
    folder.symlink_to(checkout)
    install.install("gimp", where=where(home), say=quiet)
    assert tree(checkout) == {"cleancut.py": b"# a developer's checkout"}
    assert not folder.is_symlink() and (folder / "cleancut_client.py").read_bytes() == CLIENT
    uninstall.uninstall("gimp", say=quiet)
    assert folder.is_symlink() and os.readlink(folder) == str(checkout)


def test_krita_s_linked_pykrita_folder_is_the_editors_and_is_followed(home, tmp_path):
    dotfiles = tmp_path / "dotfiles" / "pykrita"
    dotfiles.mkdir(parents=True)
    (dotfiles / "ten_brushes.desktop").write_text("theirs")
    resources = home / ".local" / "share" / "krita"
    resources.mkdir(parents=True)
    (resources / "pykrita").symlink_to(dotfiles)
    install.install("krita", where=where(home), say=quiet)
    assert (resources / "pykrita").is_symlink()
    assert (dotfiles / "cleancut_krita" / "cleancut_client.py").read_bytes() == CLIENT
    uninstall.uninstall("krita", say=quiet)
    assert tree(dotfiles) == {"ten_brushes.desktop": b"theirs"}


def test_a_dry_run_names_what_would_be_moved_aside_and_moves_nothing(home):
    own = home / GIMP3_FOLDER / "cleancut_dialog.py"
    own.parent.mkdir(parents=True)
    own.write_text("mine")
    before = tree(home)
    said = []
    install.install("gimp", dry_run=True, where=where(home), say=said.append)
    assert tree(home) == before
    assert any(line.startswith(f"  would move your {own} aside to ") for line in said)


def test_reinstalling_overwrites_only_what_the_first_install_put_there(home):
    (home / ".config" / "GIMP" / "3.0").mkdir(parents=True)
    install.install("gimp", where=where(home), say=quiet)
    install.install("gimp", where=where(home), say=quiet)
    assert not install_record.backups_dir().exists()


# --- damaged records and settings ---

WRONG_RECORDS = {
    "a list": "[]",
    "installs not a list": '{"installs": "x"}',
    "an install not an object": '{"installs": [5]}',
    "an install without its fields": '{"installs": [{"host": "gimp"}]}',
    "files of the wrong type": '{"installs": [{"host": "gimp", "bundle": "gimp3", "version": "3.0", "flavour": "native", '
                               '"root": "/x", "files": ["a"], "created_dirs": []}]}',
    "an unknown editor": '{"installs": [{"host": "paint", "bundle": "gimp3", "version": "3.0", "flavour": "native", '
                         '"root": "/x", "files": {}, "created_dirs": []}]}',
    "a switch of the wrong shape": '{"installs": [{"host": "krita", "bundle": "krita", "version": "", "flavour": '
                                   '"native", "root": "/x", "files": {}, "created_dirs": [], "switch": {"path": 5}}]}',
    "engine_python_previous a number": '{"installs": [], "engine_python_previous": 5}',
}


def write_record(text: str) -> Path:
    path = install_record.record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("shape", list(WRONG_RECORDS))
def test_install_refuses_a_record_of_the_wrong_shape_naming_the_file(home, shape):
    path = write_record(WRONG_RECORDS[shape])
    with pytest.raises(CleancutError, match=f"{path} is not a record cleancut wrote"):
        install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    assert not (home / ".config" / "GIMP").exists()


@pytest.mark.parametrize("shape", list(WRONG_RECORDS))
def test_uninstall_refuses_a_record_of_the_wrong_shape_naming_the_file(home, shape):
    path = write_record(WRONG_RECORDS[shape])
    with pytest.raises(CleancutError, match=f"{path} is not a record cleancut wrote"):
        uninstall.uninstall("gimp", say=quiet)


@pytest.mark.parametrize("shape", list(WRONG_RECORDS))
def test_doctor_reports_a_record_of_the_wrong_shape_as_a_fix(home, shape):
    path = write_record(WRONG_RECORDS[shape])
    level, text = findings(doctor.check_hosts(where(home)))["installs"]
    assert level == doctor.FIX and f"{path} is not a record cleancut wrote" in text


def test_the_command_line_says_what_is_wrong_with_the_record_without_a_traceback(home, capsys):
    path = write_record('{"installs": "x"}')
    assert cli.main(["uninstall", "gimp"]) != 0
    err = capsys.readouterr().err
    assert f"{path} is not a record cleancut wrote" in err and "Traceback" not in err


def test_a_damaged_settings_file_stops_install_before_anything_is_copied_or_recorded(home):
    settings = config.config_path()
    settings.parent.mkdir(parents=True)
    settings.write_text("{ not json")
    (home / ".config" / "GIMP" / "3.0").mkdir(parents=True)
    with pytest.raises(CleancutError, match="settings file"):
        install.install("gimp", where=where(home), say=quiet)
    assert list((home / ".config" / "GIMP" / "3.0").iterdir()) == []
    assert not install_record.record_path().exists()


# --- a new editor version copies the plug-in over ---

def test_doctor_names_a_plug_in_copy_that_gimp_3_2_migrated_from_3_0(home):
    install.install("gimp", host_version="3.0", where=where(home), say=quiet)
    old = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "cleancut"
    new = home / ".config" / "GIMP" / "3.2" / "plug-ins" / "cleancut"
    new.parent.mkdir(parents=True)
    shutil.copytree(old, new)  # what GIMP 3.2.6 does on its first start
    (new / "cleancut.py").write_text("# from an older cleancut")
    level, text = findings(doctor.check_hosts(where(home)))["GIMP 3.2"]
    assert level == doctor.FIX and "`cleancut install gimp`" in text


def test_install_gimp_reaches_3_2_and_3_0_when_both_are_there(home):
    for version in ("3.0", "3.2"):
        (home / ".config" / "GIMP" / version).mkdir(parents=True)
    targets = install.install("gimp", where=where(home), say=quiet)
    assert [t.place.version for t in targets] == ["3.2", "3.0"]


def test_a_damaged_settings_file_stops_uninstall_before_anything_is_removed(home):
    install.install("gimp", host_version="3.2", where=where(home), say=quiet)
    before = tree(home / ".config" / "GIMP")
    config.config_path().write_text("[1, 2")
    with pytest.raises(CleancutError, match="settings file"):
        uninstall.uninstall("gimp", say=quiet)
    assert tree(home / ".config" / "GIMP") == before
    assert len(install_record.load_record()["installs"]) == 1


def test_doctor_names_the_versions_it_supports_for_an_editor_not_found(home):
    assert findings(doctor.check_hosts(where(home)))["blender"] == (
        doctor.NOTE, "not found on this computer (cleancut supports Blender 3.4 to 5.x)")
