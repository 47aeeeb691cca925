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

The X server is the host kit's XServer, an Xvfb started on this machine for each run (Krita in a
chroot reaches it through the abstract X socket, which chroots share) and ended with its whole
process group when the run ends, whatever happens.

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
import time
from pathlib import Path

from hostkit import (
    KRITAS,
    REPO,
    XServer,
    engine_env_chroot,
    engine_env_native,
    in_chroot,
    run_group,
    tail,
    which,
)

from cleancut.hosts.krita import kritarc_set

HERE = Path(__file__).resolve().parent
PLUGIN = REPO / "krita"
CLIENT = REPO / "core" / "cleancut_client.py"
# flavour -> the chroot its Krita lives in (None: this machine's own Krita)
CHROOTS = KRITAS
FLAVOURS = tuple(CHROOTS)
SCREEN = (1280, 1024)
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


def install_driver(resources: Path) -> None:
    """The test driver plug-in (cleancut_driver/, which runs a scenario script inside Krita) in
    Krita's resource folder; kritarc must still switch it on."""
    pykrita = resources / "pykrita"
    driver = pykrita / "cleancut_driver"
    if driver.exists():
        shutil.rmtree(driver)
    shutil.copytree(HERE / "cleancut_driver", driver, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE / "cleancut_driver.desktop", pykrita)


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
        install_driver(self.resources)
        kritarc = self.home / ".config" / "kritarc"
        kritarc.parent.mkdir(parents=True, exist_ok=True)
        if installed:
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
        with XServer(out / "xvfb.log", size=SCREEN) as server:
            env["DISPLAY"] = self.display = server.display
            try:
                if self.chroot is None:
                    done = run_group(argv, deadline + START_S, env=dict(os.environ, **env))
                else:
                    done = in_chroot(self.chroot, self.scratch, argv, env, timeout=deadline + START_S)
            except subprocess.TimeoutExpired as expired:  # the group is dead already
                done = subprocess.CompletedProcess(argv, -9, expired.output or "", expired.stderr or "")
        (out / "krita.log").write_text(done.stdout + done.stderr)
        (out / "wall.json").write_text(json.dumps({"seconds": time.time() - started}))
        crash = out / "crash.txt"
        if crash.exists():
            raise KritaRunError(f"Krita {self.flavour} driver failed (exit {done.returncode}):\n"
                                f"{crash.read_text()}\n--- log tail ---\n{tail(done.stdout + done.stderr)}")
        results = out / "results.json"
        if not results.exists() or not (out / "status.json").exists():
            raise KritaRunError(f"Krita {self.flavour} ended (exit {done.returncode}) without finishing "
                                f"its scenarios:\n{tail(done.stdout + done.stderr)}")
        return json.loads(results.read_text()), done

