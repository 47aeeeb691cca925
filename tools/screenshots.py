#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Capture the README's screenshots from the real editors, each on its own Xvfb screen.

    .venv/bin/python tools/screenshots.py [--out docs/images] [--only gimp3,krita,krita6,blender,before-after]

Shots (PNG, 1280×800 screens unless noted), all from the newest editors the test matrix runs,
in the Debian sid chroot (tests/hosts/setup.sh makes it; tests/hosts/hostkit's SID_CHROOT),
and Krita 6 from its own sid chroot with experimental's Krita (hostkit's KRITAS says where each
Krita lives):
  gimp3.png         GIMP 3.2.6: examples/astronaut.png after Layer > Mask > Remove Background…:
                    the layer mask in the Layers dock, the checkerboard canvas
  gimp3-menu.png    the same window with Layer > Mask open on "Remove Background…" (needs xdotool)
  krita.png         Krita 5.3.4: after Layer > Remove Background, the transparency mask
                    "Background removed (cleancut)" in the Layers docker
  krita6.png        Krita 6.0.4 (Qt 6, PyQt6): the same, in Krita 6
  blender.png       Blender 5.2.2: the Compositor after Add > Remove Background: the "Remove
                    Background" node group wired between the Image node and the compositor's
                    Group Output, and a Viewer (through an Alpha Over onto a flat colour) as the
                    backdrop
  before-after.png  made by the engine itself (cleancut.pipeline): the photo, then its cut-out
                    over a checkerboard (about 1000 px wide)

Each editor gets a private profile (HOME) in a scratch folder with the plug-in laid out as
`cleancut install` lays it out (core/bundles.py; Blender's as an extension built and installed
by that Blender), a private Xvfb screen, and the real u2netp model (fetched into a scratch
cache, or --cache). The engine is built as a wheel and put on the chroot Python's PYTHONPATH
beside its binary wheels (/opt/site314), as the host tests do. A small driver inside the editor
opens the photo, runs Remove Background, stages the window and writes "ready"; this script then
grabs the screen (Pillow's X11 grab), checks it is not blank, writes "done", and the editor
quits. Every editor run is bounded by a timeout, and every process this script started
(editors, workers, Xvfb) is ended before it exits.

The X server is the host tests' own (tests/hosts/hostkit's XServer): it runs on this machine
and the editors in the chroot reach it through its abstract socket, which chroots share. The
processes, the chroot, the engine build and the worker shutdown are the host kit's too.

Needs what tests/hosts/setup.sh installs (the Debian sid chroot, and for krita6 the Krita 6
one, with their Python 3.14 wheels, entered as root through tests/hosts/chroot.sh), Xvfb, and
xdotool for the menu shot. Krita 5.3's first start in a fresh HOME takes 80–130 s on a busy
machine: --timeout is per editor run.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The host tests' kit and harnesses, so there is one copy of each: the chroots and their engine
# environments, the X server, bounded process groups, the worker shutdown, GIMP 3's binary and
# plug-in folder per version, and Krita's driver plug-in.
sys.path[:0] = [str(REPO / "tests" / "hosts"), str(REPO / "tests" / "hosts" / "gimp"),
                str(REPO / "tests" / "hosts" / "krita")]
from gimp3_harness import find_gimp_console, plugin_folder  # noqa: E402
from hostkit import (  # noqa: E402
    KRITAS,
    SETUP,
    SID_CHROOT,
    Chroot,
    XServer,
    XServerError,
    become_subreaper,
    build_engine_site,
    chroot_command,
    end_descendants,
    end_group,
    engine_env_chroot,
    run_group,
    shutdown_workers,
    tail,
)
from krita_harness import install_driver  # noqa: E402

from cleancut import bundles  # noqa: E402

EDITORS = SID_CHROOT  # where today's GIMP and Blender live (each Krita: hostkit's KRITAS)
BLENDER_MODULE = "bl_ext.user_default.cleancut_blender"  # the add-on installed as an extension
PHOTO = REPO / "examples" / "astronaut.png"
SCREEN = (1280, 800)
# Krita shot -> the Krita version it is taken from (a key of hostkit's KRITAS, which says its chroot)
KRITA_SHOTS = {"krita": "5.3", "krita6": "6.0"}
SHOTS = ("gimp3", *KRITA_SHOTS, "blender", "before-after")
SIZE_GOAL = 400_000  # bytes per PNG, when a lossless file would be larger
MASK_NAME = "Background removed (cleancut)"


class ShotError(RuntimeError):
    pass


# --- editors ------------------------------------------------------------------------------

def run_editor(argv, env, log: Path, ready: Path, timeout: float, on_ready, chroot: Chroot | None = None,
               scratch: Path | None = None):
    """Start an editor (in ``chroot``, scratch bound in); when its driver writes ``ready``, call
    on_ready(); then wait for it to quit.

    The whole run is bounded by ``timeout`` (the process group is ended after it); returns the
    editor's exit code."""
    if chroot is not None:
        if scratch is None:
            raise ValueError("an editor in a chroot needs the scratch folder to bind in")
        argv, env = chroot_command(chroot, scratch, argv, env)
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while not ready.exists():
            if proc.poll() is not None:
                raise ShotError(f"the editor ended (exit {proc.returncode}) before it was ready; "
                                f"see {log}:\n{log_tail(log)}")
            if time.time() > deadline:
                raise ShotError(f"the editor was not ready within {timeout:.0f} s; see {log}:\n{log_tail(log)}")
            time.sleep(0.2)
        info = json.loads(ready.read_text() or "{}")
        if info.get("error"):
            raise ShotError(f"the driver inside the editor failed:\n{info['error']}")
        on_ready(info)
        try:
            return proc.wait(max(5.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            print("  (the editor did not quit by itself; ended it)", file=sys.stderr)
            return None
    finally:
        end_group(proc)


def log_tail(path: Path) -> str:
    """The end of an editor's log, for a failure message."""
    try:
        return tail(path.read_text(errors="replace"))
    except OSError:
        return ""


# --- images ---------------------------------------------------------------------------------

def check_not_blank(image, what: str) -> None:
    from PIL import ImageStat

    stat = ImageStat.Stat(image.convert("L"))
    if stat.stddev[0] < 8:
        raise ShotError(f"{what} looks blank (grey level {stat.mean[0]:.0f} ± {stat.stddev[0]:.1f})")


def save_png(image, path: Path) -> int:
    """Save as an optimised PNG; a lossless file over SIZE_GOAL becomes a 256-colour one."""
    from PIL import Image

    def encode(picture):
        buffer = io.BytesIO()
        picture.save(buffer, "PNG", optimize=True)
        return buffer.getvalue()

    data = encode(image)
    if len(data) > SIZE_GOAL:
        mode = "RGBA" if image.mode == "RGBA" else "RGB"
        method = Image.Quantize.FASTOCTREE if mode == "RGBA" else Image.Quantize.MEDIANCUT
        smaller = encode(image.convert(mode).quantize(256, method=method, dither=Image.Dither.FLOYDSTEINBERG))
        if len(smaller) < len(data):
            data = smaller
    path.write_bytes(data)
    return len(data)


def debian_version(root: Path, package: str) -> str:
    """The upstream version of an installed Debian package ("3.0.4" for 3.0.4-3+deb13u10)."""
    status = (root / "var" / "lib" / "dpkg" / "status").read_text(errors="replace")
    for stanza in status.split("\n\n"):
        lines = stanza.splitlines()
        if f"Package: {package}" in lines:
            for line in lines:
                if line.startswith("Version: "):
                    version = line.split(" ", 1)[1]
                    return version.split(":", 1)[-1].split("-", 1)[0].split("+")[0]
    return "?"


# --- shared set-up --------------------------------------------------------------------------

class Context:
    def __init__(self, args):
        self.out = Path(args.out).resolve()
        self.timeout = args.timeout
        self.keep = args.keep
        self.scratch = Path(tempfile.mkdtemp(prefix="cleancut-shots-", dir="/tmp"))
        self.cache = Path(args.cache).resolve() if args.cache else self.scratch / "cache"
        self.written: list[tuple[Path, int, str]] = []
        self._engine = None

    def fetch_model(self) -> None:
        env = dict(os.environ, CLEANCUT_CACHE_DIR=str(self.cache))
        subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", "u2netp", "-q"], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)

    def engine_site(self) -> Path:
        """cleancut built for the chroots' Pythons, once (the host tests' build_engine_site)."""
        if self._engine is None:
            self._engine = build_engine_site(self.scratch)
        return self._engine

    def chroot_cache(self) -> Path:
        """The model cache where the chroot sees it (the scratch folder is bound in)."""
        if self.scratch in self.cache.parents:
            return self.cache
        copy = self.scratch / "cache"
        if not copy.exists():
            shutil.copytree(self.cache, copy)
        return copy

    def engine_env(self, chroot: Chroot, config: Path) -> dict:
        """The worker's environment inside the chroot: its Python 3.N, the engine wheel, the cache."""
        problem = chroot.problem()
        if problem is not None:
            raise ShotError(problem)
        return engine_env_chroot(chroot, self.engine_site(), self.chroot_cache(), config)

    def wrote(self, name: str, image, source: str) -> None:
        path = self.out / name
        size = save_png(image, path)
        self.written.append((path, size, source))
        print(f"wrote {path} ({image.width}x{image.height}, {size // 1024} KB) from {source}", flush=True)


def grab(screen: XServer):
    """What the X screen shows, as an RGB image."""
    from PIL import ImageGrab

    return ImageGrab.grab(xdisplay=screen.display).convert("RGB")


def settle_and_grab(ctx: Context, screen: XServer, name: str, source: str, wait: float = 2.0):
    time.sleep(wait)  # the last repaints
    image = grab(screen)
    check_not_blank(image, name)
    ctx.wrote(name, image, source)
    return image


# --- GIMP 3 ---------------------------------------------------------------------------------

GIMP_BATCH = r'''
import json, os, sys, time, traceback
from gi.repository import Gimp, Gio


def _main(spec_path):
    with open(spec_path) as handle:
        spec = json.load(handle)
    info = {}
    try:
        image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(spec["photo"]))
        display = Gimp.Display.new(image)
        Gimp.displays_flush()
        layer = image.get_layers()[0]
        image.set_selected_layers([layer])
        procedure = Gimp.get_pdb().lookup_procedure("plug-in-cleancut-remove-background")
        config = procedure.create_config()
        config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
        config.set_property("image", image)
        config.set_core_object_array("drawables", [layer])
        status = procedure.run(config).index(0).value_nick
        info["status"] = status
        if status != "success":
            info["error"] = "Remove Background: %s: %s" % (status, Gimp.get_pdb().get_last_error())
        info["mask"] = layer.get_mask() is not None
        image.clean_all()
        Gimp.displays_flush()
        time.sleep(1.0)
        Gimp.displays_flush()
    except Exception:
        info["error"] = traceback.format_exc()
    with open(spec["ready"] + ".tmp", "w") as handle:
        json.dump(info, handle)
    os.rename(spec["ready"] + ".tmp", spec["ready"])
    deadline = time.time() + spec["wait"]
    while not os.path.exists(spec["done"]) and time.time() < deadline:
        time.sleep(0.1)


_main(SPEC)
'''

GIMP_SESSIONRC = """\
(session-info "toplevel"
    (factory-entry "gimp-single-image-window")
    (position 0 0)
    (size %(w)d %(h)d)
    (open-on-exit)
    (aux-info
        (left-docks-width "220")
        (right-docks-width "360")
        (maximized "no"))
    (gimp-toolbox
        (side left)
        (book
            (current-page 0)
            (dockable "gimp-tool-options"
                (tab-style automatic)
                (aux-info
                    (show-button-bar "true")))))
    (gimp-dock
        (side right)
        (book
            (current-page 0)
            (dockable "gimp-layer-list"
                (tab-style automatic)
                (preview-size 40)
                (aux-info
                    (show-button-bar "true")))
            (dockable "gimp-channel-list"
                (tab-style automatic)
                (preview-size 32)
                (aux-info
                    (show-button-bar "true")))
            (dockable "gimp-path-list"
                (tab-style automatic)
                (preview-size 32)
                (aux-info
                    (show-button-bar "true"))))
        (book
            (position 470)
            (current-page 0)
            (dockable "gimp-undo-history"
                (tab-style automatic)
                (aux-info
                    (show-button-bar "true"))))))

(hide-docks no)
(single-window-mode yes)
(tabs-position 0)
(last-tip-shown 0)
"""

GIMP_RC = """\
(config-version "%(version)s")
(show-welcome-dialog no)
(show-tips no)
(check-updates no)
"""


def shot_gimp3(ctx: Context) -> None:
    chroot = EDITORS
    base = ctx.scratch / "gimp3"
    home, runtime, config = base / "home", base / "run", base / "config"
    env = ctx.engine_env(chroot, config)
    try:
        _console, version = find_gimp_console(chroot)  # "3.2": its config folder and GUI binary carry it
    except AssertionError as err:
        raise ShotError(str(err)) from None
    gui = f"/usr/bin/gimp-{version}"
    if not (chroot.root / gui.lstrip("/")).exists():
        raise ShotError(f"{gui} is missing in {chroot.root}: {SETUP}")
    plugins = plugin_folder(home, version)
    bundles.write_folder(bundles.BUNDLES["gimp3"], plugins)  # what `cleancut install gimp` copies
    profile = plugins.parent
    (profile / "sessionrc").write_text(GIMP_SESSIONRC % {"w": SCREEN[0], "h": SCREEN[1]})
    package = debian_version(chroot.root, "gimp")
    source = f"GIMP {package} (Debian {chroot.name} chroot)"
    (profile / "gimprc").write_text(GIMP_RC % {"version": package})
    runtime.mkdir(mode=0o700)
    config.mkdir(exist_ok=True)
    ready, done = base / "ready.json", base / "done"
    batch = base / "batch.py"
    batch.write_text(GIMP_BATCH)
    spec = base / "spec.json"
    spec.write_text(json.dumps({"photo": str(PHOTO), "ready": str(ready), "done": str(done),
                                "wait": ctx.timeout}))
    code = f"SPEC={str(spec)!r}; exec(open({str(batch)!r}).read())"
    with XServer(size=SCREEN) as screen:
        env.update(HOME=str(home), CLEANCUT_RUNTIME_DIR=str(runtime), DISPLAY=screen.display, TMPDIR=str(base),
                   NO_AT_BRIDGE="1")
        argv = ["timeout", "-k", "5", str(int(ctx.timeout)), gui, "-n", "-s", "--no-fonts",
                "--batch-interpreter=python-fu-eval", "-b", code, "--quit"]

        def on_ready(info):
            settle_and_grab(ctx, screen, "gimp3.png", source, wait=2.5)
            try:
                gimp_menu(ctx, screen, source)
            except ShotError as err:
                print(f"  gimp3-menu.png not made: {err}", file=sys.stderr)
            done.touch()

        try:
            run_editor(argv, env, base / "gimp.log", ready, ctx.timeout + 20, on_ready, chroot=chroot,
                       scratch=ctx.scratch)
        finally:
            shutdown_workers(runtime)


def gimp_menu(ctx: Context, screen: XServer, source: str) -> None:
    """Layer > Mask open, the pointer on "Remove Background…" (its tooltip shows the procedure's blurb)."""
    xdotool = shutil.which("xdotool")
    if xdotool is None:
        raise ShotError("xdotool is not installed (apt-get install xdotool)")
    env = dict(os.environ, DISPLAY=screen.display)

    def xdo(*args):
        return subprocess.run([xdotool, *args], env=env, check=True, timeout=20, capture_output=True,
                              text=True).stdout

    def popups():
        """Visible top-level windows other than the main window: the open menus, left to right."""
        found = []
        for wid in xdo("search", "--maxdepth", "1", "--onlyvisible", "--class", "gimp").split():
            geometry = dict(line.strip().split(": ", 1) for line in xdo("getwindowgeometry", wid).splitlines()[1:])
            x, y = (int(v) for v in geometry["Position"].split(" ")[0].split(","))
            w, h = (int(v) for v in geometry["Geometry"].split("x"))
            if (w, h) != SCREEN and w > 20 and h > 20:
                found.append((x, y, w, h))
        return sorted(found)

    xdo("mousemove", str(SCREEN[0] - 5), str(SCREEN[1] - 5))
    xdo("key", "alt+l")  # Layer
    time.sleep(1.0)
    xdo("key", "m")  # Mask
    time.sleep(1.0)
    menus = popups()
    if len(menus) < 2:
        raise ShotError(f"the Layer > Mask menu did not open (windows: {menus!r})")
    x, y, _w, h = menus[-1]  # the submenu; the plug-ins' entries come last
    xdo("mousemove", str(x + 40), str(y + h - 14))
    for _ in range(4):  # GTK highlights a menu item once the pointer moves over it
        time.sleep(0.1)
        xdo("mousemove_relative", "--", "5", "0")
    settle_and_grab(ctx, screen, "gimp3-menu.png", source, wait=1.5)
    xdo("key", "Escape", "Escape", "Escape")


# --- Krita ---------------------------------------------------------------------------------

KRITA_SCENARIO = r"""
# Run by the host tests' cleancut_driver plug-in inside Krita: main() is a generator it steps
# from Krita's main loop (yield milliseconds to wait, or a predicate to poll).
import importlib
import json
import os

import cleancut_krita.extension as ccx
import cleancut_krita.options as cco
from cleancut_krita.qt import BINDING, QDockWidget, Qt  # PyQt5 in Krita 5, PyQt6 in Krita 6

from krita import Krita

QCursor = importlib.import_module(BINDING + ".QtGui").QCursor  # the binding this Krita embeds
APP = Krita.instance()


def tell(path, info):
    with open(path + ".tmp", "w") as handle:
        json.dump(info, handle)
    os.rename(path + ".tmp", path)


def main(spec, out):
    window = APP.activeWindow()
    qwindow = window.qwindow()
    qwindow.showNormal()
    qwindow.setGeometry(0, 0, spec["width"], spec["height"])
    doc = APP.openDocument(spec["photo"])
    window.addView(doc)
    yield lambda: doc.activeNode() is not None
    yield 500
    cco.write_settings("", "", False)  # the default model and edge refinement
    extension = ccx.INSTANCE
    count = len(extension.outcomes)
    APP.action("cleancut_remove_background").trigger()
    yield lambda: len(extension.outcomes) > count
    outcome = dict(extension.outcomes[-1])
    info = {"outcome": {k: outcome.get(k) for k in ("status", "message", "kind")},
            "version": APP.version()}
    layer = doc.topLevelNodes()[0]
    masks = [child for child in layer.childNodes() if child.type() == "transparencymask"]
    info["masks"] = [mask.name() for mask in masks]
    if outcome.get("status") != "done" or spec["mask_name"] not in info["masks"]:
        info["error"] = "Remove Background did not add a mask: %r" % (outcome,)
    doc.refreshProjection()
    docks = {dock.objectName(): dock for dock in qwindow.findChildren(QDockWidget)}
    if "KisLayerBox" in docks:  # wide enough for the mask's whole name
        qwindow.resizeDocks([docks["KisLayerBox"]], [spec["dock_width"]], Qt.Orientation.Horizontal)
    QCursor.setPos(spec["width"] - 3, spec["height"] - 3)  # no brush outline over the canvas
    yield 300
    zoom = APP.action("zoom_to_fit")
    if zoom is not None:
        zoom.trigger()
    yield 1500
    tell(spec["ready"], info)
    yield lambda: os.path.exists(spec["done"])
"""


def shot_krita(ctx: Context, name: str = "krita") -> None:
    """NAME.png from the Krita version KRITA_SHOTS gives NAME, in the chroot hostkit's KRITAS gives it."""
    chroot = KRITAS[KRITA_SHOTS[name]]
    if chroot is None:
        raise ShotError(f"Krita {KRITA_SHOTS[name]} is this machine's own: the shots come from a chroot")
    if not (chroot.root / "usr" / "bin" / "krita").exists():
        raise ShotError(f"Krita is not installed in {chroot.root}: {SETUP}")
    base = ctx.scratch / name
    home, config, out, tmp = base / "home", base / "config", base / "out", base / "tmp"
    env = ctx.engine_env(chroot, config)
    resources = home / ".local" / "share" / "krita"
    pykrita = resources / "pykrita"
    pykrita.mkdir(parents=True)
    for folder in (config, out, tmp, resources / "actions", home / ".config"):
        folder.mkdir(parents=True, exist_ok=True)
    bundles.write_folder(bundles.BUNDLES["krita"], resources)  # what `cleancut install krita` copies
    install_driver(resources)  # the host tests' driver plug-in runs the scenario above
    (home / ".config" / "kritarc").write_text("[python]\nenable_cleancut_krita=true\nenable_cleancut_driver=true\n")
    ready, done = base / "ready.json", base / "done"
    script = base / "scenario.py"
    script.write_text(KRITA_SCENARIO)
    spec = base / "spec.json"
    spec.write_text(json.dumps({"photo": str(PHOTO), "ready": str(ready), "done": str(done),
                                "width": SCREEN[0], "height": SCREEN[1], "dock_width": 400,
                                "mask_name": MASK_NAME}))
    package = debian_version(chroot.root, "krita")
    with XServer(size=SCREEN) as screen:
        # the driver's watchdog counts from when Krita loads it, after the slow first start
        env.update(HOME=str(home), TMPDIR=str(tmp), QT_QPA_PLATFORM="xcb", DISPLAY=screen.display,
                   CLEANCUT_DRIVER_OUT=str(out), CLEANCUT_DRIVER_SPEC=str(spec),
                   CLEANCUT_DRIVER_SCRIPT=str(script), CLEANCUT_DRIVER_DEADLINE=str(int(ctx.timeout)))
        argv = ["timeout", "-k", "5", str(int(ctx.timeout + 10)), "krita", "--nosplash"]

        def on_ready(info):
            version = info.get("version") or package
            settle_and_grab(ctx, screen, f"{name}.png", f"Krita {version} (Debian {chroot.name} chroot)", wait=2.0)
            done.touch()

        run_editor(argv, env, base / "krita.log", ready, ctx.timeout + 20, on_ready, chroot=chroot,
                   scratch=ctx.scratch)


# --- Blender --------------------------------------------------------------------------------

BLENDER_DRIVER = r"""
# Runs inside the Blender GUI: blender --factory-startup --python THIS -- SPEC.json
# A timer plays the user: Compositing workspace, an Image node with the photo, Add > Remove
# Background with that node active, a Viewer after the group; then "ready", and quit on "done".
# The compositor is read through the add-on's own compat module (a node group on 5.x, the
# scene's node tree before), so the scene is set up the way the add-on reads it.
import importlib
import json
import os
import sys
import time
import traceback

import addon_utils
import bpy

SPEC = json.load(open(sys.argv[sys.argv.index("--") + 1]))
MODULE = SPEC["module"]
DEADLINE = time.time() + SPEC["deadline"]
state = {"step": "start"}
info = {"version": bpy.app.version_string}


def tell():
    with open(SPEC["ready"] + ".tmp", "w") as handle:
        json.dump(info, handle)
    os.rename(SPEC["ready"] + ".tmp", SPEC["ready"])


def node_editor(window):
    area = next(a for a in window.screen.areas if a.type == "NODE_EDITOR")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return area, {"window": window, "screen": window.screen, "area": area, "region": region}


def socket(node, name, index):
    return node.inputs[name] if name in node.inputs else node.inputs[index]


def tick():
    try:
        return step()
    except BaseException:
        info["error"] = traceback.format_exc()
        tell()
        bpy.ops.wm.quit_blender()
        return None


def step():
    window = bpy.context.window_manager.windows[0]
    scene = bpy.context.scene
    name = state["step"]
    if time.time() > DEADLINE:
        raise RuntimeError("deadline passed in step " + name)
    if name == "start":
        addon_utils.enable(MODULE, default_set=True, handle_error=None)
        compat = importlib.import_module(MODULE + ".compat")
        window.workspace = bpy.data.workspaces["Compositing"]
        tree = compat.ensure_compositor(scene)
        result = compat.result_node(tree)
        for node in list(tree.nodes):
            if node != result:  # nothing 3D is rendered
                tree.nodes.remove(node)
        if result is None:
            compat.new_result_node(tree)
        scene.render.resolution_x = scene.render.resolution_y = 512
        scene.render.resolution_percentage = 100
        scene.view_settings.view_transform = "Standard"
        scene.render.film_transparent = True
        state["step"] = "remove"
        return 1.0
    if name == "remove":
        compat = importlib.import_module(MODULE + ".compat")
        tree = compat.compositor(scene)
        result = compat.result_node(tree)
        image = bpy.data.images.load(SPEC["photo"])
        source = tree.nodes.new("CompositorNodeImage")
        source.image = image
        tree.links.new(source.outputs["Image"], compat.result_input(result))
        for node in tree.nodes:
            node.select = False
        tree.nodes.active = source
        area, override = node_editor(window)
        with bpy.context.temp_override(**override):  # Add > Remove Background, the Image node active
            answer = bpy.ops.cleancut.remove_background("INVOKE_DEFAULT")
        run = dict(sys.modules[MODULE].operators.last_run)
        info["operator"] = sorted(answer)
        info["run"] = {"status": run.get("status"), "report": run.get("report")}
        group = next((n for n in tree.nodes if n.bl_idname == "CompositorNodeGroup"), None)
        if "FINISHED" not in answer or group is None:
            raise RuntimeError("Remove Background did not finish: %r %r" % (answer, run))
        info["result_from"] = [link.from_node.name for link in tree.links if link.to_node == result]
        # The Viewer shows the cut-out over a flat colour (a new background, as a user would add):
        # the node editor's backdrop draws the compositor's buffers as premultiplied, so a cut-out
        # with straight colours (Set Alpha "Replace Alpha") would look uncut there.
        setter = next((n for n in group.node_tree.nodes if n.bl_idname == "CompositorNodeSetAlpha"), None)
        mode = getattr(setter, "mode", None)
        if setter is not None and mode is None and "Type" in setter.inputs:  # 5.0+: a menu input
            mode = str(setter.inputs["Type"].default_value)
        straight = mode is not None and mode.replace(" ", "_").upper() == "REPLACE_ALPHA"
        info["set_alpha_mode"] = mode
        over = tree.nodes.new("CompositorNodeAlphaOver")
        if "Straight Alpha" in over.inputs:  # 5.0+: an input; before: "Convert Premultiplied"
            over.inputs["Straight Alpha"].default_value = straight
        else:
            over.use_premultiply = straight
        socket(over, "Background", 1).default_value = SPEC["background"]
        tree.links.new(group.outputs["Image"], socket(over, "Foreground", 2))
        viewer = tree.nodes.new("CompositorNodeViewer")
        tree.links.new(over.outputs["Image"], viewer.inputs["Image"])
        source.location = (-560, 60)
        group.location = (-300, 60)
        group.width = 180
        result.location = (-40, 240)
        over.location = (-40, 20)
        viewer.location = (-40, -170)  # under the Alpha Over: the backdrop takes the right side
        for node in tree.nodes:
            node.select = False
        group.select = True
        tree.nodes.active = group
        info["nodes"] = sorted("%s:%s" % (n.bl_idname, n.label or n.name) for n in tree.nodes)
        space = area.spaces.active
        space.show_backdrop = True
        space.backdrop_channels = "COLOR_ALPHA"
        space.show_region_ui = False
        if hasattr(space, "show_region_asset_shelf"):  # 5.x: the compositor's asset shelf, not needed here
            space.show_region_asset_shelf = False
        for other in list(window.screen.areas):  # the whole window for the node editor
            if other.type != "NODE_EDITOR":
                region = next(r for r in other.regions if r.type == "WINDOW")
                with bpy.context.temp_override(window=window, screen=window.screen, area=other, region=region):
                    bpy.ops.screen.area_close()
        state["step"] = "frame"
        return 0.5
    if name == "frame":  # once the nodes have been drawn (their sizes are known)
        area, override = node_editor(window)
        with bpy.context.temp_override(**override):
            bpy.ops.node.view_all()
            for _ in range(SPEC["zoom_in"]):
                bpy.ops.view2d.zoom_in()
            bpy.ops.view2d.pan(deltax=SPEC["pan"][0], deltay=SPEC["pan"][1])
        space = area.spaces.active
        space.backdrop_zoom = SPEC["backdrop_zoom"]
        space.backdrop_offset = SPEC["backdrop_offset"]
        area.tag_redraw()
        info["node_editor"] = [area.width, area.height]
        state["step"] = "settle"
        state["until"] = time.time() + 3.0  # the compositor job runs after the tree changed
        return 0.5
    if name == "settle":
        viewer = bpy.data.images.get("Viewer Node")
        if time.time() < state["until"] or viewer is None or not viewer.has_data:
            if time.time() > state["until"] + 30:
                raise RuntimeError("the compositor never filled the Viewer Node")
            return 0.25
        info["viewer"] = list(viewer.size)
        tell()
        state["step"] = "wait"
        return 0.2
    if name == "wait":
        if not os.path.exists(SPEC["done"]):
            return 0.2
        bpy.ops.wm.quit_blender()
        return None
    return None


bpy.app.timers.register(tick, first_interval=1.0)
"""


def shot_blender(ctx: Context) -> None:
    chroot = EDITORS
    if not (chroot.root / "usr" / "bin" / "blender").exists():
        raise ShotError(f"Blender is not installed in {chroot.root}: {SETUP}")
    base = ctx.scratch / "blender"
    home, config, tmp, ext = base / "home", base / "config", base / "tmp", base / "extension"
    for folder in (home, config, tmp, ext):
        folder.mkdir(parents=True, exist_ok=True)
    env = ctx.engine_env(chroot, config)
    env.update(HOME=str(home), TMPDIR=str(tmp))
    # What `cleancut install blender` does for a 4.2+ Blender: the bundle built into an extension
    # and installed into the user_default repository, by that Blender itself.
    addon = bundles.write_folder(bundles.BUNDLES["blender"], base / "build") / "cleancut_blender"
    for command in (["build", "--source-dir", str(addon), "--output-dir", str(ext)], None):
        if command is None:
            archives = sorted(ext.glob("cleancut_blender-*.zip"))
            if len(archives) != 1:
                raise ShotError(f"`blender --command extension build` made {archives!r} in {ext}")
            command = ["install-file", "-r", "user_default", "-e", str(archives[0])]
        argv, full = chroot_command(chroot, ctx.scratch, ["blender", "--factory-startup", "--command", "extension",
                                                          *command], env)
        try:
            done = run_group(argv, 300, env=full, merge=True)
        except subprocess.TimeoutExpired as hung:
            raise ShotError(f"{' '.join(argv[-6:])} did not end within {hung.timeout:.0f} s:\n"
                            f"{(hung.output or '')[-3000:]}") from None
        if done.returncode != 0:
            raise ShotError(f"blender --command extension {command[0]} failed ({done.returncode}):\n"
                            f"{done.stdout[-3000:]}")
    ready, finished = base / "ready.json", base / "done"
    driver = base / "driver.py"
    driver.write_text(BLENDER_DRIVER)
    spec = base / "spec.json"
    spec.write_text(json.dumps({"photo": str(PHOTO), "ready": str(ready), "done": str(finished),
                                "module": BLENDER_MODULE, "deadline": ctx.timeout, "backdrop_zoom": 0.85,
                                "backdrop_offset": [400, 0], "zoom_in": 1, "pan": [240, 0],
                                "background": [0.33, 0.45, 0.6, 1.0]}))
    with XServer(size=SCREEN) as screen:
        env["DISPLAY"] = screen.display
        argv = ["timeout", "-k", "5", str(int(ctx.timeout + 10)), "blender", "--factory-startup",
                "--window-geometry", "0", "0", str(SCREEN[0]), str(SCREEN[1]), "--no-window-focus",
                "--python", str(driver), "--", str(spec)]

        def on_ready(info):
            settle_and_grab(ctx, screen, "blender.png",
                            f"Blender {info.get('version', '?')} (Debian {chroot.name} chroot)", wait=1.5)
            print(f"  Blender: {json.dumps({k: info.get(k) for k in ('nodes', 'result_from', 'viewer')})}",
                  flush=True)
            finished.touch()

        run_editor(argv, env, base / "blender.log", ready, ctx.timeout + 20, on_ready, chroot=chroot,
                   scratch=ctx.scratch)


# --- before / after (the engine itself) ------------------------------------------------------

def checkerboard(width: int, height: int, square: int = 12):
    import numpy as np

    y, x = np.mgrid[0:height, 0:width]
    light = ((x // square + y // square) % 2 == 0)
    board = np.where(light, 255, 214).astype(np.uint8)
    return np.dstack([board, board, board])


def font(size: int, bold: bool = False):
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu"):
        if os.path.exists(os.path.join(folder, name)):
            return ImageFont.truetype(os.path.join(folder, name), size)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def shot_before_after(ctx: Context, photo: Path = PHOTO, panel: int = 480, gap: int = 16, margin: int = 12) -> None:
    """The photo and its cut-out over a checkerboard, side by side, made by cleancut.pipeline."""
    import numpy as np
    from PIL import Image, ImageDraw

    os.environ["CLEANCUT_CACHE_DIR"] = str(ctx.cache)
    os.environ["CLEANCUT_CONFIG_DIR"] = str(ctx.scratch / "engine-config")
    from cleancut import pipeline
    from cleancut.options import Options

    rgb = np.asarray(Image.open(photo).convert("RGB"))
    result = pipeline.remove(rgb, Options(offline=True))
    alpha = result.alpha.astype(np.float32)[..., None]
    colours = result.foreground if result.foreground is not None else rgb
    board = checkerboard(rgb.shape[1], rgb.shape[0])
    over = colours.astype(np.float32) * alpha + board.astype(np.float32) * (1.0 - alpha)
    after = Image.fromarray(np.clip(over + 0.5, 0, 255).astype(np.uint8))
    before = Image.fromarray(rgb)
    scale = panel / max(rgb.shape[:2])
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    before, after = before.resize(size, Image.Resampling.LANCZOS), after.resize(size, Image.Resampling.LANCZOS)
    label_font, small = font(20, bold=True), font(15)
    label_h = 34
    width = margin * 2 + gap + size[0] * 2
    height = margin * 2 + label_h + size[1]
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    model = result.model.id if hasattr(result.model, "id") else "u2netp"
    for index, (picture, title, note) in enumerate(((before, "Before", photo.name),
                                                    (after, "After", f"cleancut, model {model}"))):
        x = margin + index * (size[0] + gap)
        draw.text((x, margin), title, font=label_font, fill=(30, 30, 30))
        title_w = draw.textlength(title, font=label_font)
        draw.text((x + title_w + 10, margin + 4), note, font=small, fill=(110, 110, 110))
        sheet.paste(picture, (x, margin + label_h))
    check_not_blank(sheet, "before-after.png")
    ctx.wrote("before-after.png", sheet, f"cleancut.pipeline ({model}, refine fast)")


# --- entry point ----------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images"), help="folder for the PNGs (docs/images)")
    parser.add_argument("--only", default=",".join(SHOTS), help="comma-separated: " + ",".join(SHOTS))
    parser.add_argument("--timeout", type=float, default=420,
                        help="seconds allowed for one editor run (Krita 5.3 starts slowly)")
    parser.add_argument("--cache", help="a cleancut model cache to use (default: a scratch one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, profiles)")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SHOTS))
    if unknown:
        parser.error(f"unknown shot(s): {', '.join(unknown)} (choose from {', '.join(SHOTS)})")

    become_subreaper()
    ctx = Context(args)
    ctx.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    failures = []
    print(f"scratch folder: {ctx.scratch}", flush=True)
    try:
        ctx.fetch_model()
        for name in only:
            print(f"== {name}", flush=True)
            began = time.time()
            try:
                SHOT_FUNCTIONS[name](ctx)
            except (ShotError, XServerError, subprocess.SubprocessError, OSError) as err:
                failures.append(name)
                print(f"FAILED {name}: {err}", file=sys.stderr, flush=True)
            print(f"   {name}: {time.time() - began:.1f} s", flush=True)
    finally:
        end_descendants()
        if args.keep or failures:
            print(f"kept the scratch folder {ctx.scratch}")
        else:
            shutil.rmtree(ctx.scratch, ignore_errors=True)
    print(f"\n{len(ctx.written)} file(s) in {time.time() - started:.0f} s:")
    for path, size, source in ctx.written:
        print(f"  {path}  {size} bytes  ({source})")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


SHOT_FUNCTIONS: dict[str, Callable[[Context], None]] = {
    "gimp3": shot_gimp3, "blender": shot_blender, "before-after": shot_before_after,
    **{name: functools.partial(shot_krita, name=name) for name in KRITA_SHOTS}}

if __name__ == "__main__":
    sys.exit(main())
