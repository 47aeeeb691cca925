# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the real Krita with cleancut's plug-in installed, for tests and the benchmark.

``KritaHost(flavour, base, cache, engine)`` installs krita/cleancut_krita (+ core/cleancut_client.py
copied into it), its .desktop and .action files, and the test driver plug-in
(cleancut_driver/) into base/home, enables both in kritarc, and ``run(script, spec)`` starts
Krita under Xvfb, where the driver runs ``script``'s scenarios and Krita quits; it returns
what the scenarios wrote to results.json.

flavour "5.1": Debian 12's Krita 5.1.5 (Python 3.11) on this machine, the engine in this venv.
flavour "5.2": Krita 5.2.9 (Python 3.13) in the Debian 13 chroot, the engine built for it.

Every run is bounded twice: the driver's watchdog ends Krita (exit 4) at ``deadline`` s, and
``timeout`` ends the whole process tree a little later, so a hung Krita fails the test.
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

from hostkit import engine_env_native, engine_env_trixie, in_trixie, which

PLUGIN = REPO / "krita"
CLIENT = REPO / "core" / "cleancut_client.py"
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"]


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
        if flavour not in ("5.1", "5.2"):
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
            from cleancut.install import kritarc_set

            kritarc_set(kritarc, "enable_cleancut_driver", "true")
        elif not kritarc.exists():
            kritarc.write_text("[python]\nenable_cleancut_krita=true\nenable_cleancut_driver=true\n")
        if flavour == "5.1":
            which("krita")
            which("xvfb-run")
            self.env = engine_env_native(cache, self.config)
        else:
            if engine is None:
                raise ValueError("Krita 5.2 runs in the chroot and needs the engine built for it")
            self.env = engine_env_trixie(engine, cache, self.config)
        tmp = self.base / "tmp"  # Krita's swap files and caches stay in the scratch folder
        tmp.mkdir(exist_ok=True)
        self.env = dict(self.env, HOME=str(self.home), TMPDIR=str(tmp), QT_QPA_PLATFORM="xcb")
        if installed:  # the engine and settings come from what `cleancut install` wrote in HOME
            for name in ("CLEANCUT_ENGINE_PYTHON", "CLEANCUT_CONFIG_DIR"):
                self.env.pop(name)
        self.scratch = self.base.parent  # bound into the chroot: holds base, the engine and the cache
        self.runs = 0

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
        argv = ["timeout", "-k", "5", str(int(deadline + 30))] + XVFB + ["krita", "--nosplash"]
        started = time.time()
        if self.flavour == "5.1":
            done = subprocess.run(argv, env=dict(os.environ, **env), capture_output=True, text=True, check=False,
                                  timeout=deadline + 60)
        else:
            done = in_trixie(self.scratch, argv, env, timeout=deadline + 60)
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


def _tail(done: subprocess.CompletedProcess) -> str:
    text = (done.stdout or "") + (done.stderr or "")
    lines = [line for line in text.splitlines() if "SyntaxWarning" not in line and "\\{" not in line]
    return "\n".join(lines[-40:])
