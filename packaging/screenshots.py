#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Capture the README's screenshots from the real editors, each on its own Xvfb screen.

    .venv/bin/python packaging/screenshots.py [--out docs/images] [--only gimp3,krita,blender,before-after]

Shots (PNG, 1280×800 screens unless noted):
  gimp3.png         GIMP 3.0 (Debian 13 chroot): examples/astronaut.png after Layer > Mask >
                    Remove Background…: the layer mask in the Layers dock, the checkerboard canvas
  gimp3-menu.png    the same window with Layer > Mask open on "Remove Background…" (needs xdotool)
  krita.png         Krita 5.1 (Debian 12): after Layer > Remove Background, the transparency
                    mask "Background removed (cleancut)" in the Layers docker
  blender.png       Blender 3.4 (Debian 12): the Compositor with the "Remove Background" node
                    group after the Image node, the Viewer backdrop showing the cut-out
  before-after.png  made by the engine itself (cleancut.pipeline): the photo, then its cut-out
                    over a checkerboard (about 1000 px wide)

Each editor gets a private profile (HOME) in a scratch folder with the plug-in copied in the way
the host tests install it, a private Xvfb screen, and the real u2netp model (fetched into a
scratch cache, or --cache). A small driver inside the editor opens the photo, runs Remove
Background, stages the window and writes "ready"; this script then grabs the screen (Pillow's
X11 grab), checks it is not blank, writes "done", and the editor quits. Every editor run is
bounded by a timeout, and every process this script started (editors, workers, Xvfb) is ended
before it exits.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRIXIE = Path(os.environ.get("TRIXIE", "/var/cache/cleancut-trixie"))
CHROOT_SH = REPO / "tests" / "hosts" / "chroot.sh"
KRITA_DRIVER = REPO / "tests" / "hosts" / "krita"  # cleancut_driver/ + .desktop: the host tests' driver plug-in
SITE313 = "/opt/site313"  # numpy, onnxruntime... for the chroot's Python 3.13 (tests/hosts/setup.sh)
PHOTO = REPO / "examples" / "astronaut.png"
SCREEN = (1280, 800)
SHOTS = ("gimp3", "krita", "blender", "before-after")
SIZE_GOAL = 400_000  # bytes per PNG, when a lossless file would be larger
MASK_NAME = "Background removed (cleancut)"


class ShotError(RuntimeError):
    pass


# --- processes ------------------------------------------------------------------------------

def become_subreaper() -> None:
    """Adopt orphaned descendants (the editors' detached shared workers), as a desktop session's
    systemd --user does: this sandbox's PID 1 kills orphans some seconds after they lose their
    parent. Every descendant is ended by reap() before this script exits."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def descendants(root: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def reap(grace: float = 3.0) -> None:
    """End every process this script started that is still there (they are all our descendants)."""
    pids = descendants(os.getpid())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.time() + grace
    while time.time() < deadline and any(_alive(pid) for pid in pids):
        _collect()
        time.sleep(0.1)
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.2)
    _collect()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _collect() -> None:
    """Wait for adopted children that have ended (we are their subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """End a process group we started (it was started with start_new_session)."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            pass
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


class Xvfb:
    """A private X screen: ``with Xvfb() as x: ... x.display``; grab() saves what it shows."""

    def __init__(self, size=SCREEN):
        self.size = size
        self.proc = None
        self.display = None

    def __enter__(self):
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "%dx%dx24" % self.size, "-ac",
             "-nolisten", "tcp", "-noreset"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(write)
        number = b""
        deadline = time.time() + 20
        while time.time() < deadline and not number.endswith(b"\n"):
            chunk = os.read(read, 16)
            if not chunk:
                break
            number += chunk
        os.close(read)
        if not number.strip().isdigit():
            stop(self.proc)
            raise ShotError("Xvfb did not start")
        self.display = ":" + number.strip().decode()
        return self

    def __exit__(self, *exc):
        stop(self.proc)

    def grab(self):
        from PIL import ImageGrab

        return ImageGrab.grab(xdisplay=self.display).convert("RGB")


def run_editor(argv, env, log: Path, ready: Path, timeout: float, on_ready, chroot_scratch: Path | None = None):
    """Start an editor; when its driver writes ``ready``, call on_ready(); then wait for it to quit.

    The whole run is bounded by ``timeout`` (the process group is ended after it); returns the
    editor's exit code."""
    if chroot_scratch is not None:
        argv = [str(CHROOT_SH), "run", str(chroot_scratch), "env"] + ["%s=%s" % kv for kv in env.items()] + argv
        env = dict(os.environ)
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout
    try:
        while not ready.exists():
            if proc.poll() is not None:
                raise ShotError("the editor ended (exit %s) before it was ready; see %s:\n%s"
                                % (proc.returncode, log, tail(log)))
            if time.time() > deadline:
                raise ShotError("the editor was not ready within %d s; see %s:\n%s" % (timeout, log, tail(log)))
            time.sleep(0.2)
        info = json.loads(ready.read_text() or "{}")
        if info.get("error"):
            raise ShotError("the driver inside the editor failed:\n%s" % info["error"])
        on_ready(info)
        try:
            return proc.wait(max(5.0, deadline - time.time()))
        except subprocess.TimeoutExpired:
            print("  (the editor did not quit by itself; ended it)", file=sys.stderr)
            return None
    finally:
        stop(proc)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    keep = [line for line in text if "SyntaxWarning" not in line and "\\{" not in line]
    return "\n".join(keep[-lines:])


def shutdown_workers(runtime: Path) -> None:
    """Ask every shared worker that uses this runtime folder to exit."""
    for path in runtime.glob("cleancut-*/*.sock"):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(5)
        try:
            probe.connect(str(path))
            probe.sendall(b'{"op": "shutdown", "id": 1}\n')
            probe.recv(4096)
        except OSError:
            pass
        finally:
            probe.close()


# --- images ---------------------------------------------------------------------------------

def check_not_blank(image, what: str) -> None:
    from PIL import ImageStat

    stat = ImageStat.Stat(image.convert("L"))
    if stat.stddev[0] < 8:
        raise ShotError("%s looks blank (grey level %.0f ± %.1f)" % (what, stat.mean[0], stat.stddev[0]))


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


# --- shared set-up --------------------------------------------------------------------------

class Context:
    def __init__(self, args):
        self.out = Path(args.out).resolve()
        self.timeout = args.timeout
        self.keep = args.keep
        self.scratch = Path(tempfile.mkdtemp(prefix="cleancut-shots-", dir="/tmp"))
        self.cache = Path(args.cache).resolve() if args.cache else self.scratch / "cache"
        self.written: list[tuple[Path, int, str]] = []
        self._engine313 = None

    def fetch_model(self) -> None:
        env = dict(os.environ, CLEANCUT_CACHE_DIR=str(self.cache))
        subprocess.run([sys.executable, "-m", "cleancut", "models", "fetch", "u2netp", "-q"], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=600)

    def engine_env_native(self, config: Path) -> dict:
        return {"CLEANCUT_ENGINE_PYTHON": sys.executable, "CLEANCUT_CACHE_DIR": str(self.cache),
                "CLEANCUT_CONFIG_DIR": str(config), "CLEANCUT_OFFLINE": "1"}

    def engine313(self) -> Path:
        """cleancut for the chroot's Python 3.13: the engine's sources laid out as the wheel does."""
        if self._engine313 is None:
            target = self.scratch / "engine313"
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(REPO / "core", target / "cleancut", ignore=ignore)
            shutil.copytree(REPO / "models", target / "cleancut" / "models", ignore=ignore, dirs_exist_ok=True)
            self._engine313 = target
        return self._engine313

    def engine_env_trixie(self, config: Path) -> dict:
        return {"CLEANCUT_ENGINE_PYTHON": "/usr/bin/python3", "PYTHONPATH": "%s:%s" % (self.engine313(), SITE313),
                "CLEANCUT_CACHE_DIR": str(self.cache), "CLEANCUT_CONFIG_DIR": str(config), "CLEANCUT_OFFLINE": "1"}

    def wrote(self, name: str, image, source: str) -> None:
        path = self.out / name
        size = save_png(image, path)
        self.written.append((path, size, source))
        print("wrote %s (%dx%d, %d KB) from %s" % (path, image.width, image.height, size // 1024, source), flush=True)


def settle_and_grab(ctx: Context, screen: Xvfb, name: str, source: str, wait: float = 2.0):
    time.sleep(wait)  # the last repaints
    image = screen.grab()
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
        (right-docks-width "300")
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
                (preview-size 48)
                (aux-info
                    (show-button-bar "true")))
            (dockable "gimp-channel-list"
                (tab-style automatic)
                (preview-size 32)
                (aux-info
                    (show-button-bar "true")))
            (dockable "gimp-vectors-list"
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
(show-welcome-dialog no)
(show-tips no)
(check-updates no)
(save-session-info no)
(restore-session no)
"""


def shot_gimp3(ctx: Context) -> None:
    if not (TRIXIE / ".cleancut-ready").exists() or not (TRIXIE / SITE313.lstrip("/") / ".ready").exists():
        raise ShotError("the Debian 13 chroot with GIMP 3 is missing: run `sudo tests/hosts/setup.sh`")
    base = ctx.scratch / "gimp3"
    home, runtime, config = base / "home", base / "run", base / "config"
    plugins = home / ".config" / "GIMP" / "3.0" / "plug-ins" / "cleancut"
    plugins.mkdir(parents=True)
    for source in (REPO / "gimp" / "cleancut" / "cleancut.py", REPO / "gimp" / "cleancut" / "cleancut_dialog.py",
                   REPO / "core" / "cleancut_client.py"):
        shutil.copy(source, plugins / source.name)
    (plugins / "cleancut.py").chmod(0o755)
    profile = home / ".config" / "GIMP" / "3.0"
    (profile / "sessionrc").write_text(GIMP_SESSIONRC % {"w": SCREEN[0], "h": SCREEN[1]})
    (profile / "gimprc").write_text(GIMP_RC)
    runtime.mkdir(mode=0o700)
    config.mkdir()
    ready, done = base / "ready.json", base / "done"
    batch = base / "batch.py"
    batch.write_text(GIMP_BATCH)
    spec = base / "spec.json"
    spec.write_text(json.dumps({"photo": str(PHOTO), "ready": str(ready), "done": str(done),
                                "wait": ctx.timeout}))
    code = "SPEC=%r; exec(open(%r).read())" % (str(spec), str(batch))
    with Xvfb() as screen:
        env = dict(ctx.engine_env_trixie(config), HOME=str(home), CLEANCUT_RUNTIME_DIR=str(runtime),
                   DISPLAY=screen.display, TMPDIR=str(base), NO_AT_BRIDGE="1")
        argv = ["timeout", "-k", "5", str(int(ctx.timeout)), "gimp-3.0", "-n", "-s", "--no-data", "--no-fonts",
                "--batch-interpreter=python-fu-eval", "-b", code, "--quit"]

        def on_ready(info):
            settle_and_grab(ctx, screen, "gimp3.png", "GIMP 3.0.4 (Debian 13)", wait=2.5)
            try:
                gimp_menu(ctx, screen)
            except ShotError as err:
                print("  gimp3-menu.png not made: %s" % err, file=sys.stderr)
            done.touch()

        try:
            run_editor(argv, env, base / "gimp.log", ready, ctx.timeout + 20, on_ready, chroot_scratch=ctx.scratch)
        finally:
            shutdown_workers(runtime)


def gimp_menu(ctx: Context, screen: Xvfb) -> None:
    """Layer > Mask open, "Remove Background…" highlighted, over the result."""
    xdotool = shutil.which("xdotool")
    if xdotool is None:
        raise ShotError("xdotool is not installed (apt-get install xdotool)")
    env = dict(os.environ, DISPLAY=screen.display)

    def key(*keys):
        subprocess.run([xdotool, "key", "--delay", "250", *keys], env=env, check=True, timeout=20)
        time.sleep(0.6)

    key("alt+l")   # Layer
    key("m")       # Mask
    key("Up")      # wraps to the last item of the submenu: the plug-ins' entries come last
    settle_and_grab(ctx, screen, "gimp3-menu.png", "GIMP 3.0.4 (Debian 13)", wait=1.0)
    key("Escape", "Escape", "Escape")


# --- entry point ----------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "images"), help="folder for the PNGs (docs/images)")
    parser.add_argument("--only", default=",".join(SHOTS), help="comma-separated: " + ",".join(SHOTS))
    parser.add_argument("--timeout", type=float, default=240, help="seconds allowed for one editor run")
    parser.add_argument("--cache", help="a cleancut model cache to use (default: a scratch one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, profiles)")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SHOTS))
    if unknown:
        parser.error("unknown shot(s): %s (choose from %s)" % (", ".join(unknown), ", ".join(SHOTS)))

    become_subreaper()
    ctx = Context(args)
    ctx.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    failures = []
    print("scratch folder: %s" % ctx.scratch, flush=True)
    try:
        ctx.fetch_model()
        for name in only:
            print("== %s" % name, flush=True)
            began = time.time()
            try:
                SHOT_FUNCTIONS[name](ctx)
            except (ShotError, subprocess.SubprocessError, OSError) as err:
                failures.append(name)
                print("FAILED %s: %s" % (name, err), file=sys.stderr, flush=True)
            print("   %s: %.1f s" % (name, time.time() - began), flush=True)
    finally:
        reap()
        if args.keep or failures:
            print("kept the scratch folder %s" % ctx.scratch)
        else:
            shutil.rmtree(ctx.scratch, ignore_errors=True)
    print("\n%d file(s) in %.0f s:" % (len(ctx.written), time.time() - started))
    for path, size, source in ctx.written:
        print("  %s  %d bytes  (%s)" % (path, size, source))
    if failures:
        print("failed: %s" % ", ".join(failures), file=sys.stderr)
        return 1
    return 0


SHOT_FUNCTIONS = {"gimp3": shot_gimp3}

if __name__ == "__main__":
    sys.exit(main())
