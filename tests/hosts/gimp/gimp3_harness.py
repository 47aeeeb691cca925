# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a real GIMP 3 (3.0.4 in the Debian 13 chroot, 3.2.6 in the Debian sid chroot) with cleancut's
plug-in installed, for tests and benchmarks.

``Gimp3(base, engine, cache, chroot=...)`` finds the chroot's GIMP by what it holds
(``gimp-console-3.N``; the binary names carry the version, 3.2 has no ``-3.0`` names), installs
gimp/cleancut/ plus core/cleancut_client.py into that version's plug-in folder
(base/home/.config/GIMP/3.N/plug-ins/cleancut/); ``run(scenarios)`` executes gimp3_driver.py in
its gimp-console and returns the results, ``run_dialog(...)`` works the real dialog under Xvfb
with gimp3_dialog_driver.py (see those files). Each session ends by shutting its worker down.

Two things about this environment, not about GIMP:
* GIMP runs under a child subreaper (hostkit.subreaper_command), as a desktop session's
  systemd --user would be: the shared worker a plug-in call starts outlives that call, and this
  sandbox's init SIGTERMs orphaned processes, which would kill the warm worker between calls.
* ``timeout`` inside the chroot bounds every GIMP run, so a hung GIMP fails the run instead of
  lingering; the dialog's X server is the host kit's XServer, outside the chroot.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from hostkit import (
    REPO,
    SETUP,
    SID_CHROOT,
    TRIXIE_CHROOT,
    Chroot,
    XServer,
    engine_env_chroot,
    in_chroot,
    shutdown_workers,
    subreaper_command,
)

HERE = Path(__file__).resolve().parent

# The GIMP 3 each chroot holds, by its version: what the host tests run.
CHROOTS = {"3.0": TRIXIE_CHROOT, "3.2": SID_CHROOT}

PLUGIN_FILES = [REPO / "gimp" / "cleancut" / "cleancut.py", REPO / "gimp" / "cleancut" / "cleancut_dialog.py",
                REPO / "core" / "cleancut_client.py"]
SCREEN = (1280, 1024)  # the dialog's


class GimpRunError(AssertionError):
    pass


def find_gimp_console(chroot: Chroot) -> tuple[str, str]:
    """(the gimp-console binary inside the chroot, its version "3.N"): the newest GIMP 3 the
    chroot holds, found by the versioned names Debian installs (gimp-console-3.0, -3.2)."""
    found = []
    for path in (chroot.root / "usr" / "bin").glob("gimp-console-3.*"):
        match = re.fullmatch(r"gimp-console-(3)\.(\d+)", path.name)
        if match:
            found.append(((int(match[1]), int(match[2])), path.name))
    if not found:
        raise GimpRunError(f"no gimp-console-3.N in {chroot.root}/usr/bin: {SETUP}")
    (major, minor), name = max(found)
    return f"/usr/bin/{name}", f"{major}.{minor}"


def plugin_folder(home: Path, version: str) -> Path:
    """Where GIMP 3.N looks for a user's plug-ins on Linux: its own config folder, GIMP/3.N."""
    return home / ".config" / "GIMP" / version / "plug-ins"


class Gimp3:
    def __init__(self, base: Path, engine: Path, cache: Path, installed: bool = False,
                 chroot: Chroot = TRIXIE_CHROOT, env: dict[str, str] | None = None):
        """``installed``: the plug-in is already in base/home, put there by `cleancut install gimp`
        (which also wrote the engine's path into HOME's cleancut settings). ``chroot``: where the
        GIMP runs (``CHROOTS[version]``). ``env``: more variables for GIMP and so the worker
        (e.g. CLEANCUT_CATALOG)."""
        self.chroot = chroot
        self.binary, self.version = find_gimp_console(chroot)
        self.base = Path(base)
        self.home = self.base / "home"
        self.runtime = self.base / "run"
        self.config = self.base / "config"
        self.plugin_dir = plugin_folder(self.home, self.version) / "cleancut"
        if not installed:
            self.plugin_dir.mkdir(parents=True, exist_ok=True)
            for source in PLUGIN_FILES:
                shutil.copy(source, self.plugin_dir / source.name)
            (self.plugin_dir / "cleancut.py").chmod(0o755)
        self.runtime.mkdir(mode=0o700, exist_ok=True)
        self.config.mkdir(exist_ok=True)
        self.env = dict(engine_env_chroot(chroot, engine, cache, self.config), HOME=str(self.home),
                        CLEANCUT_RUNTIME_DIR=str(self.runtime), **(env or {}))
        if installed:
            for name in ("CLEANCUT_ENGINE_PYTHON", "CLEANCUT_CONFIG_DIR"):
                self.env.pop(name)
        self.scratch = self.base.parent  # bound into the chroot: holds the engine, the cache and base
        self.runs = 0

    def run(self, scenarios: list[dict], timeout: float = 240,
            fonts: bool = False) -> tuple[list[dict], subprocess.CompletedProcess]:
        """Run gimp3_driver.py's scenarios in one gimp-console session; (results, the process).
        ``fonts``: load the fonts (text layers need them; the start takes longer)."""
        out = self._out()
        spec = {"scenarios": scenarios, "plugin_dir": str(self.plugin_dir)}
        done = self._gimp("gimp3_driver.py", spec, out / "results.json", timeout, fonts=fonts)
        return json.loads((out / "results.json").read_text()), done

    def run_dialog(self, model: str, permissive: str = "", timeout: float = 120,
                   **extra) -> tuple[dict, subprocess.CompletedProcess]:
        """Work the real dialog under Xvfb with gimp3_dialog_driver.py; (its record, the process).
        ``extra``: more of the driver's spec (mode="download-cancel" and what it needs)."""
        out = self._out()
        spec = {"plugin_dir": str(self.plugin_dir), "drivers_dir": str(HERE), "model": model,
                "permissive": permissive, **extra}
        done = self._gimp("gimp3_dialog_driver.py", spec, out / "dialog.json", timeout, display=True)
        return json.loads((out / "dialog.json").read_text()), done

    def _out(self) -> Path:
        self.runs += 1
        out = self.base / f"out{self.runs}"
        out.mkdir()
        return out

    def _gimp(self, driver: str, spec: dict, result: Path, timeout: float, display: bool = False,
              fonts: bool = False):
        out = result.parent
        path = out / "spec.json"
        path.write_text(json.dumps(dict(spec, out=str(out))))
        code = f"SPEC={str(path)!r}; exec(open({str(HERE / driver)!r}).read())"
        argv = ["timeout", "-k", "5", str(int(timeout)),
                *subreaper_command([self.binary, "-i", "-d", *([] if fonts else ["-f"]),
                                    "--batch-interpreter=python-fu-eval", "-b", code, "--quit"], python="python3")]
        try:
            if display:
                with XServer(out / "xvfb.log", size=SCREEN) as server:
                    done = in_chroot(self.chroot, self.scratch, argv, dict(self.env, DISPLAY=server.display),
                                     timeout=timeout + 30)
            else:
                done = in_chroot(self.chroot, self.scratch, argv, self.env, timeout=timeout + 30)
        finally:
            self.shutdown_workers()  # each session starts its own worker, under its own subreaper
        if done.returncode != 0 or not result.exists():
            raise GimpRunError(f"{self.binary} (GIMP {self.version}) exited {done.returncode}"
                               f"{' (timed out)' if done.returncode in (124, 137) else ''}:\n"
                               f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}")
        return done

    def shutdown_workers(self) -> None:
        shutdown_workers(self.runtime)

