# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the real Krita with cleancut's plug-in installed, for tests and the benchmark.

``KritaHost(flavour, base, cache, engine)`` installs krita/cleancut_krita (+ core/cleancut_client.py
copied into it), its .desktop and .action files, and the test driver plug-in
(cleancut_driver/) into base/home, enables both in kritarc, and ``run(script, spec)`` starts
Krita under Xvfb, where the driver runs ``script``'s scenarios and Krita quits; it returns
what the scenarios wrote to results.json.

flavour "5.1": Debian 12's Krita 5.1.5 (Python 3.11) on this machine, the engine in this venv.
flavour "5.2": Krita 5.2.9 (Python 3.13) in the Debian 13 chroot, the engine built for it.
flavour "5.3": Krita 5.3.4 (Python 3.14) in the Debian sid chroot, the engine built for it.
flavour "6.0": Krita 6.0.4 (Qt 6, PyQt6, Python 3.14) in a sid chroot with experimental's Krita.
(hostkit.KRITAS is the list.)

The X server is this harness's own Xvfb, started on this machine for each run (Krita in a
chroot reaches it through the abstract X socket, which chroots share) and killed with its whole
process group when the run ends, whatever happens. Its display number is one that has no lock
file in any root and no abstract socket in use, and the socket is checked to be this server's
(see XServer); ``-listen local`` adds the abstract socket that Krita inside a chroot connects to.

Every run is bounded twice: the driver's watchdog ends Krita (exit 4) ``deadline`` s after the
driver loaded, and the process group of Krita (and of the chroot) is killed ``START_S`` s after
that, so a hung Krita fails the test and leaves nothing running. The driver's steps.log says
which scenario step it was on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
sys.path.insert(0, str(REPO / "tests" / "hosts"))

from hostkit import (
    KRITAS,
    engine_env_chroot,
    engine_env_native,
    in_chroot,
    kill_group,
    run_group,
    which,
)

PLUGIN = REPO / "krita"
CLIENT = REPO / "core" / "cleancut_client.py"
# flavour -> the chroot its Krita lives in (None: this machine's own Krita)
CHROOTS = KRITAS
FLAVOURS = tuple(CHROOTS)
SCREEN = "1280x1024x24"
# The driver's watchdog counts from when Krita loads it; before that, Krita starts: 5 s warm,
# but 80-130 s on 2 busy cores for 5.3's first start in a new HOME (resource database, fonts).
START_S = 180


class KritaRunError(AssertionError):
    pass


def install_plugin(resources: Path) -> Path:
    """Krita's resource folder gets pykrita/cleancut_krita(.desktop) and actions/cleancut_krita.action."""
    pykrita = resources / "pykrita"
    package = pykrita / "cleancut_krita"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(PLUGIN / "cleancut_krita", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(CLIENT, package / "cleancut_client.py")
    shutil.copy(PLUGIN / "cleancut_krita.desktop", pykrita / "cleancut_krita.desktop")
    (resources / "actions").mkdir(parents=True, exist_ok=True)
    shutil.copy(PLUGIN / "cleancut_krita.action", resources / "actions" / "cleancut_krita.action")
    return package


class KritaHost:
    def __init__(self, flavour: str, base: Path, cache: Path, engine: Path | None = None, installed: bool = False):
        """``installed``: the plug-in and its kritarc switch are already in base/home, put there by
        `cleancut install krita` (which also wrote the engine's path into HOME's cleancut settings)."""
        if flavour not in CHROOTS:
            raise ValueError(flavour)
        self.flavour = flavour
        self.base = Path(base)
        self.home = self.base / "home"
        self.resources = self.home / ".local" / "share" / "krita"
        self.config = self.base / "config"  # cleancut's settings folder (licence acceptances)
        self.config.mkdir(parents=True, exist_ok=True)
        (self.resources / "pykrita").mkdir(parents=True, exist_ok=True)
        if not installed:
            install_plugin(self.resources)
        driver = self.resources / "pykrita" / "cleancut_driver"
        if driver.exists():
            shutil.rmtree(driver)
        shutil.copytree(HERE / "cleancut_driver", driver, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(HERE / "cleancut_driver.desktop", self.resources / "pykrita")
        kritarc = self.home / ".config" / "kritarc"
        kritarc.parent.mkdir(parents=True, exist_ok=True)
        if installed:
            from cleancut.hosts.krita import kritarc_set

            kritarc_set(kritarc, "enable_cleancut_driver", "true")
        elif not kritarc.exists():
            kritarc.write_text("[python]\nenable_cleancut_krita=true\nenable_cleancut_driver=true\n")
        which("Xvfb")
        self.chroot = CHROOTS[flavour]
        if self.chroot is None:
            which("krita")
            self.env = engine_env_native(cache, self.config)
        else:
            if engine is None:
                raise ValueError(f"Krita {flavour} runs in the {self.chroot.name} chroot and needs the engine built for it")
            self.env = engine_env_chroot(self.chroot, engine, cache, self.config)
        tmp = self.base / "tmp"  # Krita's swap files and caches stay in the scratch folder
        tmp.mkdir(exist_ok=True)
        self.env = dict(self.env, HOME=str(self.home), TMPDIR=str(tmp), QT_QPA_PLATFORM="xcb")
        if installed:  # the engine and settings come from what `cleancut install` wrote in HOME
            for name in ("CLEANCUT_ENGINE_PYTHON", "CLEANCUT_CONFIG_DIR"):
                self.env.pop(name)
        self.scratch = self.base.parent  # bound into the chroot: holds base, the engine and the cache
        self.runs = 0
        self.display: str | None = None  # the last run's X display (":N"), for tests of the harness

    @property
    def kritarc(self) -> Path:
        return self.home / ".config" / "kritarc"

    def run(self, script: Path, spec: dict, deadline: float = 240, extra_env: dict | None = None) -> tuple[dict, subprocess.CompletedProcess]:
        """Run the scenarios of ``script`` in one Krita session; (results.json, the process)."""
        self.runs += 1
        out = self.base / f"out{self.runs}"
        out.mkdir()
        local_script = out / "scenarios.py"  # inside base: visible in the chroot too
        shutil.copy(script, local_script)
        (out / "spec.json").write_text(json.dumps(spec))
        env = dict(self.env, CLEANCUT_DRIVER_OUT=str(out), CLEANCUT_DRIVER_SPEC=str(out / "spec.json"),
                   CLEANCUT_DRIVER_SCRIPT=str(local_script), CLEANCUT_DRIVER_DEADLINE=str(deadline),
                   **(extra_env or {}))
        argv = ["krita", "--nosplash"]
        started = time.time()
        with XServer(out / "xvfb.log") as display:
            env["DISPLAY"] = self.display = display
            try:
                if self.chroot is None:
                    done = run_group(argv, deadline + START_S, env=dict(os.environ, **env))
                else:
                    done = in_chroot(self.chroot, self.scratch, argv, env, timeout=deadline + START_S)
            except subprocess.TimeoutExpired as expired:  # the group is dead already
                done = subprocess.CompletedProcess(argv, -9, _text(expired.output), _text(expired.stderr))
        (out / "krita.log").write_text(done.stdout + done.stderr)
        (out / "wall.json").write_text(json.dumps({"seconds": time.time() - started}))
        crash = out / "crash.txt"
        if crash.exists():
            raise KritaRunError(f"Krita {self.flavour} driver failed (exit {done.returncode}):\n"
                                f"{crash.read_text()}\n--- log tail ---\n{_tail(done)}")
        results = out / "results.json"
        if not results.exists() or not (out / "status.json").exists():
            raise KritaRunError(f"Krita {self.flavour} ended (exit {done.returncode}) without finishing "
                                f"its scenarios:\n{_tail(done)}")
        return json.loads(results.read_text()), done


class XServer:
    """An Xvfb of this run's own, in a process group of its own that is killed on exit.

    ``with XServer(out / "xvfb.log") as display:`` gives the DISPLAY value (":N") once the server
    is ready. Krita in a chroot cannot see this machine's /tmp, so it reaches the server through
    its abstract socket ``@/tmp/.X11-unix/XN``, which every chroot shares; an X server started
    inside a chroot (xvfb-run's, say) has its lock file in that chroot's /tmp only, so Xvfb's
    own choice of a free display can pick a number whose abstract socket another server holds,
    and Krita would then knock on that server's door (and be refused). So the number is chosen
    here, free of lock files in every root and of abstract sockets, and the server is only used
    once the abstract socket is seen to be its own. ``-noreset``: Krita probes OpenGL with
    short connections first, and an X server that resets when its last client leaves refuses
    the connection that arrives during the reset ("could not connect to display").
    """

    ATTEMPTS = 8

    def __init__(self, log: Path, timeout: float = 30):
        self.log = log
        self.timeout = timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        for _ in range(self.ATTEMPTS):
            number = _free_display()
            if self._start(number):
                return ":%d" % number
            self.__exit__(None, None, None)  # lost a race for that number: another one
        raise KritaRunError("Xvfb did not start in %d attempts; see %s" % (self.ATTEMPTS, self.log))

    def _start(self, number: int) -> bool:
        read, write = os.pipe()
        try:
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(
                    ["Xvfb", ":%d" % number, "-displayfd", str(write), "-screen", "0", SCREEN,
                     "-nolisten", "tcp", "-listen", "local", "-listen", "unix", "-noreset"],
                    pass_fds=(write,), start_new_session=True, stdout=log, stderr=log)
        finally:
            os.close(write)
        try:
            ready = _read_line(read, self.timeout) == str(number)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        finally:
            os.close(read)
        return ready and _abstract_socket_owner(number) == self.process.pid

    def __exit__(self, *exc) -> None:
        """SIGTERM first (Xvfb then removes its socket and lock file), SIGKILL for the group."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            kill_group(self.process.pid)
            self.process.wait()
            self.process = None


def x_server_left(display: str) -> bool:
    """Whether anything still holds this display: its abstract socket or its lock file."""
    number = int(display.lstrip(":"))
    return number in _abstract_x_sockets() or Path(f"/tmp/.X{number}-lock").exists()


def _abstract_x_sockets() -> dict[int, int]:
    """Display number -> socket inode of every listening abstract X socket on this machine."""
    found = {}
    with open("/proc/net/unix") as table:
        next(table)
        for line in table:
            fields = line.split()
            if len(fields) >= 8 and fields[7].startswith("@/tmp/.X11-unix/X") and fields[7][17:].isdigit():
                found[int(fields[7][17:])] = int(fields[6])
    return found


def _abstract_socket_owner(number: int) -> int | None:
    """The pid of our Xvfb if it holds display number's abstract socket, else None."""
    inode = _abstract_x_sockets().get(number)  # machine-wide: chroots share the table
    if inode is None:
        return None
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return int(pid)
    return None


def _free_display() -> int:
    """A display number with no lock file in this machine's or a chroot's /tmp and no abstract
    socket, from a random start well above xvfb-run's 99 and the Blender GUI tests' 200-699
    (tests/hosts/test_blender.py), which run beside the Krita sessions; Krita runs side by side
    rarely collide, and a collision is seen: the socket is checked to be this server's."""
    import random

    roots = [Path("/")] + [c.root for c in CHROOTS.values() if c is not None]
    taken = set(_abstract_x_sockets())
    start = random.randrange(1000, 1900)
    for number in range(start, start + 1000):
        if number not in taken and not any((root / "tmp" / f".X{number}-lock").exists() for root in roots):
            return number
    raise KritaRunError("no free X display number")


def _read_line(fd: int, timeout: float) -> str:
    """The first line written to fd within timeout seconds ("" when none came)."""
    import select

    data = b""
    end = time.time() + timeout
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.time()))
        if not ready:
            return ""
        chunk = os.read(fd, 64)
        if not chunk:
            return ""
        data += chunk
    return data.decode().strip()


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _tail(done: subprocess.CompletedProcess) -> str:
    text = (done.stdout or "") + (done.stderr or "")
    lines = [line for line in text.splitlines() if "SyntaxWarning" not in line and "\\{" not in line]
    return "\n".join(lines[-40:])
