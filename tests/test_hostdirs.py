"""Where each editor version keeps user plug-ins, per platform: the exact folders `cleancut install
HOST --host-version V` picks (pure functions of platform, home and environment: every OS here).

Linux folders were checked in the real editors (GIMP 3.0.4 and 3.2.6 — which reads ~/.config/GIMP/3.2 —, Krita 5.1.5/5.2.9/5.3.4,
Blender 3.4.1, 4.3.2, 4.5.15, 5.0.1, 5.2.2); Windows and macOS follow each editor's sources.
"""

from __future__ import annotations

from pathlib import PurePosixPath as PP
from pathlib import PureWindowsPath as PW

import pytest

from cleancut.errors import CleancutError
from cleancut.hosts import Where, blender, gimp, krita

LINUX = Where("linux", "/home/ann", {"PATH": ""})
WINDOWS = Where("win32", "C:\\Users\\ann", {"APPDATA": "C:\\Users\\ann\\AppData\\Roaming",
                                             "LOCALAPPDATA": "C:\\Users\\ann\\AppData\\Local", "PATH": ""})
MACOS = Where("darwin", "/Users/ann", {"PATH": ""})


def plugin_folders(targets) -> list[tuple[str, object]]:
    return [(t.place.flavour, t.place.plugins) for t in targets]


# --- GIMP: a folder per minor release (3.2.6 reads 3.2/, not 3.0/) ---

@pytest.mark.parametrize("release", ["3.0", "3.2"])
def test_gimp_3_on_linux_is_its_own_release_folder(release):
    (target,) = gimp.find(LINUX, release)
    assert target.place.plugins == PP(f"/home/ann/.config/GIMP/{release}/plug-ins")
    assert target.bundle is gimp.GIMP3


def test_gimp_2_10_on_linux_gets_the_gimpfu_bundle():
    (target,) = gimp.find(LINUX, "2.10")
    assert (target.place.plugins, target.bundle) == (PP("/home/ann/.config/GIMP/2.10/plug-ins"), gimp.GIMP2)


@pytest.mark.parametrize("release,folder", [("3.2", "3.2"), ("3.0", "3.0"), ("2.10", "2.10")])
def test_gimp_on_windows(release, folder):
    (target,) = gimp.find(WINDOWS, release)
    assert target.place.plugins == PW(f"C:/Users/ann/AppData/Roaming/GIMP/{folder}/plug-ins")


@pytest.mark.parametrize("release,folder", [("3.2", "3.2"), ("3.0", "3.0"), ("2.10", "2.10")])
def test_gimp_on_macos(release, folder):
    (target,) = gimp.find(MACOS, release)
    assert target.place.plugins == PP(f"/Users/ann/Library/Application Support/GIMP/{folder}/plug-ins")


def test_gimp_on_linux_native_flatpak_and_snap():
    assert [(p.flavour, p.plugins) for p in gimp.places(LINUX, ("3.0",))] == [
        ("native", PP("/home/ann/.config/GIMP/3.0/plug-ins")),
        ("flatpak", PP("/home/ann/.var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins")),
        ("snap", PP("/home/ann/snap/gimp/current/.config/GIMP/3.0/plug-ins")),
    ]


def test_gimp_honours_xdg_config_home():
    (native, *_) = gimp.places(Where("linux", "/home/ann", {"XDG_CONFIG_HOME": "/cfg"}), ("2.10",))
    assert native.plugins == PP("/cfg/GIMP/2.10/plug-ins")


def test_gimp_refuses_a_release_it_does_not_know_and_names_those_it_does():
    with pytest.raises(CleancutError, match=r"GIMP 2\.8 is not supported: --host-version takes 3\.2, 3\.0, 2\.10"):
        gimp.find(LINUX, "2.8")


# --- Krita: one resource folder for 5.1 to 6.x ---

@pytest.mark.parametrize("version", ["5.1", "5.2", "5.3", "6.0"])
def test_krita_on_linux_resource_folder_and_kritarc(version):
    (target,) = krita.find(LINUX, version)
    assert target.place.plugins == PP("/home/ann/.local/share/krita")
    assert target.switch == {"kritarc": "/home/ann/.config/kritarc"}


@pytest.mark.parametrize("version", ["5.1", "5.2", "5.3", "6.0"])
def test_krita_on_windows_resource_folder_and_kritarc(version):
    (target,) = krita.find(WINDOWS, version)
    assert target.place.plugins == PW("C:/Users/ann/AppData/Roaming/krita")
    assert PW(target.switch["kritarc"]) == PW("C:/Users/ann/AppData/Local/kritarc")


@pytest.mark.parametrize("version", ["5.1", "5.2", "5.3", "6.0"])
def test_krita_on_macos_resource_folder_and_kritarc(version):
    (target,) = krita.find(MACOS, version)
    assert target.place.plugins == PP("/Users/ann/Library/Application Support/krita")
    assert target.switch == {"kritarc": "/Users/ann/Library/Preferences/kritarc"}


def test_krita_flatpak_has_its_own_resource_folder_and_kritarc():
    native, flatpak = krita.places(LINUX)
    assert flatpak.plugins == PP("/home/ann/.var/app/org.kde.krita/data/krita")
    assert krita.kritarc_path(flatpak, LINUX) == PP("/home/ann/.var/app/org.kde.krita/config/kritarc")


def test_krita_honours_xdg_data_and_config_homes():
    where = Where("linux", "/home/ann", {"XDG_DATA_HOME": "/data", "XDG_CONFIG_HOME": "/cfg"})
    native, _ = krita.places(where)
    assert (native.plugins, krita.kritarc_path(native, where)) == (PP("/data/krita"), PP("/cfg/kritarc"))


def test_krita_4_is_refused():
    with pytest.raises(CleancutError, match=r"Krita 4\.4 is not supported: --host-version takes 5\.1 to 6\.x"):
        krita.find(LINUX, "4.4")


# --- Blender: scripts/addons up to 4.1, extensions/user_default from 4.2 ---

LEGACY = ["3.4", "3.6", "4.1"]
EXTENSION = ["4.2", "4.3", "4.5", "5.0", "5.1", "5.2"]


@pytest.mark.parametrize("version", LEGACY)
def test_blender_legacy_add_on_folder_on_linux_windows_and_macos(version):
    assert blender.find(LINUX, version, None)[0].place.plugins == PP(f"/home/ann/.config/blender/{version}/scripts/addons")
    assert blender.find(WINDOWS, version, None)[0].place.plugins == PW(
        f"C:/Users/ann/AppData/Roaming/Blender Foundation/Blender/{version}/scripts/addons")
    assert blender.find(MACOS, version, None)[0].place.plugins == PP(
        f"/Users/ann/Library/Application Support/Blender/{version}/scripts/addons")


@pytest.mark.parametrize("version", EXTENSION)
def test_blender_extension_folder_on_linux_windows_and_macos(version):
    assert blender.find(LINUX, version, None)[0].place.plugins == PP(
        f"/home/ann/.config/blender/{version}/extensions/user_default")
    assert blender.find(WINDOWS, version, None)[0].place.plugins == PW(
        f"C:/Users/ann/AppData/Roaming/Blender Foundation/Blender/{version}/extensions/user_default")
    assert blender.find(MACOS, version, None)[0].place.plugins == PP(
        f"/Users/ann/Library/Application Support/Blender/{version}/extensions/user_default")


@pytest.mark.parametrize("version,module", [("4.1", "cleancut_blender"),
                                            ("4.2", "bl_ext.user_default.cleancut_blender"),
                                            ("5.2", "bl_ext.user_default.cleancut_blender")])
def test_blender_module_name_is_the_extension_s_from_4_2_on(version, module):
    assert blender.module_name(version) == module


def test_blender_honours_xdg_config_home():
    (target,) = blender.find(Where("linux", "/home/ann", {"XDG_CONFIG_HOME": "/cfg", "PATH": ""}), "5.2", None)
    assert target.place.plugins == PP("/cfg/blender/5.2/extensions/user_default")


def test_blender_snap_and_flatpak_roots():
    assert [(f, r) for f, r in blender.config_roots(LINUX)] == [
        ("native", PP("/home/ann/.config/blender")),
        ("snap", PP("/home/ann/snap/blender/common/.config/blender")),
        ("flatpak", PP("/home/ann/.var/app/org.blender.Blender/config/blender")),
    ]


@pytest.mark.parametrize("version", ["2.93", "6.0", "5"])
def test_blender_versions_it_cannot_run_in_are_refused(version):
    with pytest.raises(CleancutError, match=f"Blender {version} is not supported"):
        blender.find(LINUX, version, None)


def test_blender_versions_found_on_disk_newest_first(tmp_path):
    for name in ("2.93", "3.4", "4.3", "4.10", "5.2", "notes", "4.2.1"):
        (tmp_path / name).mkdir()
    assert blender.versions_on_disk(str(tmp_path)) == ["5.2", "4.10", "4.3", "3.4"]


# --- versions written as the editors write them (issue 21, item 22) ---
# int() reads "0004" and Arabic-Indic "٤" as 4, but an editor reads only the folder it names itself
# ("4.5"): anything else is refused, naming the forms taken; what is not plain ASCII is shown escaped.

PLAIN_DIGITS = "written in plain digits without leading zeros"


@pytest.mark.parametrize("version,shown", [
    ("0004.0005", "0004.0005"), ("04.5", "04.5"), ("4.05", "4.05"), ("\u0664.\u0665", "'\\u0664.\\u0665'"),
    ("4.5.0", "4.5.0"), ("4.5\n", "'4.5\\n'"), (" 4.5", "' 4.5'"), ("4,5", "4,5"), ("", "''")])
def test_blender_takes_its_version_only_as_blender_names_its_folders(version, shown):
    with pytest.raises(CleancutError) as err:
        blender.find(LINUX, version, None)
    assert str(err.value) == (f"Blender {shown} is not supported: --host-version takes its major.minor version, "
                              f"3.4 to 5.x (like 4.5 or 5.2), {PLAIN_DIGITS}")


@pytest.mark.parametrize("version,shown", [
    ("05.1", "05.1"), ("5.01", "5.01"), ("\u0665.\u0661", "'\\u0665.\\u0661'"), ("5.1.0", "5.1.0")])
def test_krita_takes_its_version_only_in_plain_digits(version, shown):
    with pytest.raises(CleancutError) as err:
        krita.find(LINUX, version)
    assert str(err.value) == (f"Krita {shown} is not supported: --host-version takes 5.1 to 6.x as major.minor "
                              f"(like 5.2 or 6.0), {PLAIN_DIGITS}")


@pytest.mark.parametrize("version,shown", [
    ("03.0", "03.0"), ("3.00", "3.00"), ("\u0663.\u0660", "'\\u0663.\\u0660'"), ("3.0 ", "'3.0 '")])
def test_gimp_takes_only_its_release_names_exactly(version, shown):
    with pytest.raises(CleancutError) as err:
        gimp.find(LINUX, version)
    assert str(err.value) == f"GIMP {shown} is not supported: --host-version takes 3.2, 3.0, 2.10"


def test_blender_folders_not_named_as_blender_names_them_are_not_versions(tmp_path):
    for name in ("4.3", "04.5", "4.05", "\u0664.\u0665", "5.2\n"):
        (tmp_path / name).mkdir()
    assert blender.versions_on_disk(str(tmp_path)) == ["4.3"]
