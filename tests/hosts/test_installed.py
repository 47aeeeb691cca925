"""`cleancut install` into the real editors, then "Remove Background" from what it installed.

Each editor gets a fresh HOME; `cleancut install HOST` (run by the Python that holds the engine:
this venv for Debian 12's editors, the chroot's python3 with the engine wheel on PYTHONPATH for
Debian 13's and sid's) puts the plug-in where the editor looks and writes the engine's path into
HOME's cleancut settings. Oldest and newest of each editor: GIMP 3.0.4 and 3.2.6, Krita 5.1.5
(and 5.3.4, 6.0.4), Blender 3.4.1, 4.3.2 and 5.2.2 (and the bpy wheels 4.5, 5.0, 5.1 and 5.3, whose
extension folder and enabling are checked). The editor then starts as a user's would (no test plug-in folders, no
CLEANCUT_ENGINE_PYTHON, no --factory-startup for Blender) and its mask is compared with the
engine's alpha. Krita's own "Import Python Plugin from File…" code (plugin_importer.py, shipped
with Krita and free of Krita's GUI) imports the packaged zip, and must lay it out exactly as
`cleancut install krita` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hostkit import BLENDER_CHROOTS, BPY313_WHEELS, BPY_WHEELS, CHROOTS, KRITAS, REPO, bpy_wheel, in_chroot, run_group, which
from PIL import Image

from cleancut import bundles, frames, pipeline
from cleancut.hosts import blender
from cleancut.options import Options

from gimp3_harness import Gimp3
from krita_harness import KritaHost

ASTRONAUT = REPO / "examples" / "astronaut.png"
IMPORTER = "/usr/share/krita/pykrita/plugin_importer/plugin_importer.py"


def astronaut_alpha(model_cache: Path, channels: str = "RGB") -> np.ndarray:
    """The engine's u8 alpha for the photo's 8-bit pixels, as the worker computes it."""
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    pixels = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)]) if channels == "RGBA" else rgb
    decoded, _ = frames.decode(pixels.tobytes(), 512, 512, channels, "u8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLEANCUT_CACHE_DIR", str(model_cache))
        patch.setenv("CLEANCUT_OFFLINE", "1")
        alpha = pipeline.remove(decoded, Options(foreground=False)).alpha
    return np.frombuffer(frames.encode_alpha(alpha, "u8"), np.uint8).reshape(512, 512)


def native_install(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CLEANCUT_CONFIG_DIR", "CLEANCUT_ENGINE_PYTHON")}
    done = subprocess.run([sys.executable, "-m", "cleancut", *args], env=dict(env, HOME=str(home)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def chroot_install(chroot: str, scratch: Path, engine: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    """`python3 -m cleancut ARGS` by the chroot's own Python, the engine wheel beside its binary wheels."""
    done = in_chroot(CHROOTS[chroot], scratch, ["python3", "-m", "cleancut", *args],
                     {"HOME": str(home), "PYTHONPATH": CHROOTS[chroot].pythonpath(engine)})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- GIMP 3.0.4 (trixie) and 3.2.6 (sid) ---

GIMPS = {"3.0": "trixie", "3.2": "sid"}


@pytest.mark.parametrize("version", list(GIMPS), ids=[f"gimp-{v}" for v in GIMPS])
def test_gimp3_runs_remove_background_from_the_installed_plug_in(version, host_scratch, model_cache, chroot_engine):
    chroot = GIMPS[version]
    engine = chroot_engine(chroot)
    base = host_scratch / f"gimp{version}-installed"
    chroot_install(chroot, host_scratch, engine, base / "home", "install", "gimp", "--host-version", version)
    gimp = Gimp3(base, engine, model_cache, installed=True, chroot=CHROOTS[chroot])
    assert gimp.version == version
    scenario = dict(name="photo", input_format="R'G'B' u8", mask_format="Y u8", image={"load": str(ASTRONAUT)})
    (result,), _ = gimp.run([scenario])
    assert "exception" not in result, result["exception"]
    assert (result["status"], result["error"]) == ("success", None)
    (layer,) = result["layers"]
    mask = np.fromfile(layer["mask"], np.uint8).reshape(512, 512)
    expected = astronaut_alpha(model_cache)
    assert 0 < expected.mean() < 255
    assert np.array_equal(mask, expected)


# --- Krita 5.1.5 (Debian 12), 5.2.9 (trixie), 5.3.4 (sid) and 6.0.4 (sid + experimental): hostkit.KRITAS ---


@pytest.mark.parametrize("flavour", list(KRITAS), ids=[f"krita-{v}" for v in KRITAS])
def test_krita_s_own_importer_lays_the_zip_out_as_cleancut_install_does(host_scratch, flavour):
    base = host_scratch / f"krita{flavour}-import"
    package = bundles.write_zip(bundles.BUNDLES["krita"], base / "cleancut-krita.zip")
    imported, installed = base / "imported", base / "home"
    imported.mkdir()
    # Krita 5.3's importer takes i18n from the builtins Krita sets up; outside Krita, plain text.
    run_importer = ("import builtins, runpy, sys; builtins.i18n = str; sys.argv = sys.argv[1:]; "
                    "runpy.run_path(sys.argv[0], run_name='__main__')")
    argv = ["python3", "-c", run_importer, IMPORTER, str(package), str(imported)]
    chroot = KRITAS[flavour]
    done = (subprocess.run(argv, capture_output=True, text=True, timeout=120) if chroot is None
            else in_chroot(chroot, host_scratch, argv, {}, timeout=120))
    assert done.returncode == 0 and "Imported plugin: cleancut" in done.stdout, done.stdout + done.stderr
    native_install(installed, "install", "krita")
    assert files_under(imported) == files_under(installed / ".local" / "share" / "krita")


INSTALLED_KRITAS = ["5.1", "5.3", "6.0"]


@pytest.fixture(scope="module", params=INSTALLED_KRITAS, ids=[f"krita-{v}" for v in INSTALLED_KRITAS])
def krita_installed(request, host_scratch, model_cache):
    flavour = request.param
    base = host_scratch / f"krita{flavour}-installed"
    chroot, engine = KRITAS[flavour], None
    if chroot is None:
        native_install(base / "home", "install", "krita", "--host-version", flavour)
    else:
        engine = request.getfixturevalue("chroot_engine")(chroot.name)
        chroot_install(chroot.name, host_scratch, engine, base / "home", "install", "krita", "--host-version", flavour)
    rgba = np.dstack([np.asarray(Image.open(ASTRONAUT).convert("RGB"))[..., ::-1],
                      np.full((512, 512), 255, np.uint8)])
    raw = base / "astronaut_bgra8.raw"
    rgba.tofile(raw)
    host = KritaHost(flavour, base, model_cache, engine=engine, installed=True)
    results, _ = host.run(REPO / "tests" / "hosts" / "krita" / "scenarios.py",
                          {"only": ["menus", "photo8"], "inputs": {"astronaut_bgra8": str(raw)},
                           "hint_rect": [0, 0, 1, 1], "refine_choice": "off"}, deadline=120)
    # `cleancut doctor` after Krita ran (and rewrote kritarc on quitting), by the engine's Python
    doctor = ["python3", "-m", "cleancut", "doctor"]
    home = {"HOME": str(base / "home")}
    done = (subprocess.run([sys.executable, *doctor[1:]], capture_output=True, text=True, timeout=120,
                           env=dict({k: v for k, v in os.environ.items() if not k.startswith("CLEANCUT_")}, **home))
            if chroot is None else
            in_chroot(chroot, host_scratch, doctor, dict(home, PYTHONPATH=chroot.pythonpath(engine)), timeout=120))
    results["doctor"] = done.stdout + done.stderr
    return results


def test_krita_shows_the_installed_actions_in_its_menus(krita_installed):
    menus = krita_installed["menus"]["menus"]
    assert "cleancut_remove_background" in menus["Layer"]
    assert "cleancut_select_subject" in menus["Select"]


def test_doctor_finds_the_installed_plug_in_current_after_krita_ran(krita_installed):
    krita_lines = [line.split() for line in krita_installed["doctor"].splitlines() if line.split()[1:2] == ["Krita"]]
    assert krita_lines and krita_lines[0][0] == "ok", krita_installed["doctor"]
    assert "plug-in installed and current" in krita_installed["doctor"]


def test_krita_runs_remove_background_from_the_installed_plug_in(krita_installed, model_cache):
    result = krita_installed["photo8"]
    assert (result["outcome"]["status"], result["outcome"]["message"]) == ("done", None)
    mask = np.fromfile(result["mask"], np.uint8).reshape(512, 512)
    assert np.array_equal(mask, astronaut_alpha(model_cache, "RGBA"))


# --- Blender 3.4.1 (legacy add-on, Debian 12), 4.3.2 (extension, trixie), 5.2.2 (extension, sid) ---

# the Blender executables: Debian 12's own 3.4 (None), then those in a chroot (hostkit.BLENDER_CHROOTS)
BLENDERS = {"3.4": None, **{v: c.name for v, c in BLENDER_CHROOTS.items()}}


def run_installed_blender(version: str, base: Path, scratch: Path, engine: Path | None, model_cache: Path) -> dict:
    """Blender as the user starts it, with HOME=base/home: what installed.py found and did."""
    script = base / "installed.py"
    script.write_bytes((REPO / "tests" / "hosts" / "blender" / "installed.py").read_bytes())
    photo = base / "astronaut.png"
    photo.write_bytes(ASTRONAUT.read_bytes())
    result, matte = base / f"result-{os.urandom(4).hex()}.json", base / "matte.raw"
    argv = ["blender", "-b", "--python-exit-code", "1", "--python", str(script), "--",
            blender.module_name(version), str(photo), str(result), str(matte)]
    env = {"HOME": str(base / "home"), "CLEANCUT_CACHE_DIR": str(model_cache), "CLEANCUT_OFFLINE": "1"}
    chroot = BLENDERS[version]
    if chroot is None:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANCUT_", "BLENDER_USER"))}
        done = subprocess.run(argv, env=dict(full, **env), capture_output=True, text=True, timeout=300)
    else:
        done = in_chroot(CHROOTS[chroot], scratch, argv, dict(env, PYTHONPATH=CHROOTS[chroot].pythonpath(engine)))
    assert done.returncode == 0 and result.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    facts = json.loads(result.read_text())
    assert "traceback" not in facts, facts["traceback"]
    facts["matte"] = matte
    return facts


def blender_cleancut(version: str, base: Path, scratch: Path, engine: Path | None, *args: str) -> None:
    """`cleancut ARGS` by the Python that holds the engine for that Blender."""
    chroot = BLENDERS[version]
    if chroot is None:
        native_install(base / "home", *args)
    else:
        chroot_install(chroot, scratch, engine, base / "home", *args)


@pytest.fixture(scope="module", params=list(BLENDERS), ids=[f"blender-{v}" for v in BLENDERS])
def blender_installed(request, host_scratch, model_cache):
    version = request.param
    base = host_scratch / f"blender{version}-installed"
    base.mkdir()
    chroot = BLENDERS[version]
    engine = request.getfixturevalue("chroot_engine")(chroot) if chroot else None
    exe = which("blender") if chroot is None else "blender"
    blender_cleancut(version, base, host_scratch, engine, "install", "blender", "--host-version", version, "--blender", exe)
    return version, base, engine


def test_blender_starts_with_the_add_on_enabled_and_cuts_out_a_photo(blender_installed, host_scratch, model_cache):
    version, base, engine = blender_installed
    facts = run_installed_blender(version, base, host_scratch, engine, model_cache)
    assert facts["blender"][:2] == [int(v) for v in version.split(".")]
    assert facts["enabled"] and facts["status"] == ["FINISHED"]
    matte = np.fromfile(facts["matte"], np.uint8).reshape(512, 512)
    diff = np.abs(matte.astype(int) - astronaut_alpha(model_cache).astype(int))
    assert diff.max() <= 1  # Blender keeps the 8-bit matte as floats; one level of rounding


def test_blender_uninstall_disables_the_add_on_and_removes_its_files(blender_installed, host_scratch, model_cache):
    version, base, engine = blender_installed
    blender_cleancut(version, base, host_scratch, engine, "uninstall", "blender")
    facts = run_installed_blender(version, base, host_scratch, engine, model_cache)
    assert not facts["enabled"]
    assert not list((base / "home" / ".config" / "blender" / version).rglob("cleancut_blender"))


@pytest.mark.parametrize("version", list(BLENDER_CHROOTS), ids=[f"blender-{v}" for v in BLENDER_CHROOTS])
def test_the_packaged_extension_zip_passes_blender_s_own_validation(version, host_scratch):
    package = bundles.write_zip(bundles.BUNDLES["blender"], host_scratch / f"cleancut-blender-extension-{version}.zip",
                                strip="cleancut_blender/")
    done = in_chroot(CHROOTS[BLENDERS[version]], host_scratch,
                     ["blender", "--factory-startup", "--command", "extension", "validate", str(package)], {})
    assert done.returncode == 0, done.stdout + done.stderr


# --- Blender 4.5.15 LTS, 5.0.1, 5.1.2 and 5.3.0 (the PyPI bpy wheels: a real Blender, but no executable;
# 5.1+ are cp313 only, run by the trixie chroot's python3.13 with the engine wheel beside it) ---

WHEELS = {**BPY_WHEELS, **BPY313_WHEELS}


def in_bpy(version: str, home: Path, code: str, scratch: Path, engine: Path | None) -> subprocess.CompletedProcess:
    """Python code in a fresh process that imports the bpy wheel of that version, with HOME=home."""
    wheel = bpy_wheel(version)
    if wheel.chroot is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEANCUT_", "BLENDER_USER"))}
        env.update(HOME=str(home), PYTHONPATH=wheel.site)
        done = run_group([wheel.python, "-c", code], 200, env=env)
    else:
        done = in_chroot(wheel.chroot, scratch, [wheel.python, "-c", code],
                         {"HOME": str(home), "PYTHONPATH": f"{wheel.site}:{wheel.chroot.pythonpath(engine)}"}, timeout=200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.parametrize("version", list(WHEELS), ids=[f"blender-{v}" for v in WHEELS])
def test_blender_loads_the_extension_from_the_folder_install_chose(version, host_scratch, chroot_engine):
    """install --host-version puts the extension where that Blender looks; the enabling script
    `cleancut install --blender` runs in a Blender executable, run here in the bpy wheel, switches it
    on in the saved preferences, and the next start registers its operator."""
    home = host_scratch / f"bpy{version}-installed" / "home"
    chroot = bpy_wheel(version).chroot
    engine = None if chroot is None else chroot_engine(chroot.name)
    if chroot is None:
        native_install(home, "install", "blender", "--host-version", version)
    else:
        chroot_install(chroot.name, host_scratch, engine, home, "install", "blender", "--host-version", version)
    module = blender.module_name(version)
    in_bpy(version, home, "import sys, bpy\nfrom cleancut.hosts import blender\n"
                          f"sys.argv = ['bpy', '--', {module!r}, '1']\nexec(blender.SWITCH_SCRIPT)", host_scratch, engine)
    done = in_bpy(version, home, "import bpy\nbpy.ops.wm.read_userpref()\n"
                                 f"print('enabled', {module!r} in bpy.context.preferences.addons)\n"
                                 "print('operator', hasattr(bpy.types, 'CLEANCUT_OT_remove_background'))\n"
                                 "print('root', bpy.utils.user_resource('EXTENSIONS', path='user_default'))",
                  host_scratch, engine)
    facts = dict(line.split(" ", 1) for line in done.stdout.splitlines() if line.startswith(("enabled ", "operator ", "root ")))
    assert facts == {"enabled": "True", "operator": "True",
                     "root": str(home / ".config" / "blender" / version / "extensions" / "user_default")}
