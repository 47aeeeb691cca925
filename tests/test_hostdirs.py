"""Where the editors keep user plug-ins, per platform (pure functions: every OS tested here)."""

from __future__ import annotations

from pathlib import PurePosixPath as PP
from pathlib import PureWindowsPath as PW

from cleancut import hostdirs


def test_gimp_on_linux_native_flatpak_and_snap():
    places = hostdirs.gimp_places("linux", "/home/ann", {}, versions=("3.0",))
    assert [(p.flavour, p.plugins) for p in places] == [
        ("native", PP("/home/ann/.config/GIMP/3.0/plug-ins")),
        ("flatpak", PP("/home/ann/.var/app/org.gimp.GIMP/config/GIMP/3.0/plug-ins")),
        ("snap", PP("/home/ann/snap/gimp/current/.config/GIMP/3.0/plug-ins")),
    ]


def test_gimp_honours_xdg_config_home():
    (native, *_) = hostdirs.gimp_places("linux", "/home/ann", {"XDG_CONFIG_HOME": "/cfg"}, versions=("2.10",))
    assert native.plugins == PP("/cfg/GIMP/2.10/plug-ins")


def test_gimp_on_windows_and_macos():
    (win,) = hostdirs.gimp_places("win32", "C:\\Users\\ann", {"APPDATA": "C:\\Users\\ann\\AppData\\Roaming"}, ("3.0",))
    assert win.plugins == PW("C:/Users/ann/AppData/Roaming/GIMP/3.0/plug-ins")
    (mac,) = hostdirs.gimp_places("darwin", "/Users/ann", {}, ("3.0",))
    assert mac.plugins == PP("/Users/ann/Library/Application Support/GIMP/3.0/plug-ins")


def test_krita_resource_folder_and_kritarc_per_platform():
    native, flatpak = hostdirs.krita_places("linux", "/home/ann", {})
    assert native.plugins == PP("/home/ann/.local/share/krita")
    assert hostdirs.kritarc_path(native, "linux", "/home/ann", {}) == PP("/home/ann/.config/kritarc")
    assert hostdirs.kritarc_path(flatpak, "linux", "/home/ann", {}) == PP("/home/ann/.var/app/org.kde.krita/config/kritarc")
    (win,) = hostdirs.krita_places("win32", "C:\\Users\\ann", {"APPDATA": "C:\\Users\\ann\\AppData\\Roaming"})
    assert win.plugins == PW("C:/Users/ann/AppData/Roaming/krita")
    assert hostdirs.kritarc_path(win, "win32", "C:\\Users\\ann", {"LOCALAPPDATA": "C:\\L"}) == PW("C:/L/kritarc")
    (mac,) = hostdirs.krita_places("darwin", "/Users/ann", {})
    assert hostdirs.kritarc_path(mac, "darwin", "/Users/ann", {}) == PP("/Users/ann/Library/Preferences/kritarc")


def test_blender_legacy_addons_before_4_2_and_extensions_after():
    places = hostdirs.blender_places("linux", "/home/ann", {}, ["3.4", "4.3"])
    native = [p for p in places if p.flavour == "native"]
    assert [p.plugins for p in native] == [
        PP("/home/ann/.config/blender/3.4/scripts/addons"),
        PP("/home/ann/.config/blender/4.3/extensions/user_default"),
    ]


def test_blender_on_windows_and_macos():
    (win,) = hostdirs.blender_places("win32", "C:\\Users\\ann", {"APPDATA": "C:\\R"}, ["4.1"])
    assert win.plugins == PW("C:/R/Blender Foundation/Blender/4.1/scripts/addons")
    (mac,) = hostdirs.blender_places("darwin", "/Users/ann", {}, ["4.2"])
    assert mac.plugins == PP("/Users/ann/Library/Application Support/Blender/4.2/extensions/user_default")


def test_blender_versions_found_on_disk_newest_first(tmp_path):
    for name in ("3.4", "4.3", "4.10", "notes", "4.2.1"):
        (tmp_path / name).mkdir()
    assert hostdirs.blender_versions_on_disk(str(tmp_path)) == ["4.10", "4.3", "3.4"]
