"""The host kit: what every editor harness, the test suites and tools/screenshots.py share to run
the real editors (the one copy of each).

    paths      REPO, HOSTS (tests/hosts), CHROOT_SH, SETUP (the remedy for anything missing)
    needs      require(), which(), missing(): an editor not installed fails a test, never skips it
    chroots    the Debian chroots setup.sh makes (CHROOTS), chroot_command(), in_chroot()
    editors    the editor versions the host tests run and where each lives (KRITAS, BLENDERS, bpy wheels)
    processes  run_group(), end_group(), descendants(), end_descendants(), the child subreaper
    xserver    XServer: a private Xvfb that editors in a chroot reach too
    workers    shutdown_workers(): the shared cleancut workers an editor left
    engine     build_engine_site() and the workers' environments
    scenes     (imported as hostkit.scenes: it needs tests/support.py) what the editor tests share

Everything started through the kit runs in a process group of its own that is ended whole, on a
timeout too, so a hung editor never leaves an X server or a worker behind to break the next run.
"""

from .chroots import CHROOTS, KRITA6_CHROOT, SID_CHROOT, TRIXIE_CHROOT, Chroot, chroot_command, in_chroot
from .editors import (BLENDER_CHROOTS, BLENDERS, BPY, BPY313_CHROOT, BPY313_DIR, BPY313_WHEELS, BPY_WHEELS, KRITAS,
                      BpyWheel, bpy_wheel)
from .engine import build_engine_site, engine_env_chroot, engine_env_native, fetch_real_model
from .needs import missing, require, which
from .paths import CHROOT_SH, HOSTS, REPO, SETUP
from .processes import (become_subreaper, descendants, end_descendants, end_group, kill_group, run_group,
                        running, signal_all, subreaper_command, tail)
from .workers import shutdown_workers
from .xserver import XServer, XServerError, x_server_left

__all__ = [
    "BLENDERS", "BLENDER_CHROOTS", "BPY", "BPY313_CHROOT", "BPY313_DIR", "BPY313_WHEELS", "BPY_WHEELS", "CHROOTS",
    "CHROOT_SH", "HOSTS", "KRITA6_CHROOT", "KRITAS", "REPO", "SETUP", "SID_CHROOT", "TRIXIE_CHROOT",
    "BpyWheel", "Chroot", "XServer", "XServerError",
    "become_subreaper", "bpy_wheel", "build_engine_site", "chroot_command", "descendants", "end_descendants",
    "end_group", "engine_env_chroot", "engine_env_native", "fetch_real_model", "in_chroot", "kill_group", "missing", "require",
    "run_group", "running", "shutdown_workers", "signal_all", "subreaper_command", "tail", "which", "x_server_left",
]
