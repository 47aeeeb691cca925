"""Helpers for tests that drive the real editors: the chroots, the bpy wheels, engine environments.

The editors live in these places (tests/hosts/setup.sh makes them): Debian 12 itself, a Debian 13
"trixie" chroot, a Debian sid chroot (GIMP 3.2, Krita 5.3, Blender 5.2) and a second sid chroot
with experimental's Krita 6.0, plus Blender 4.5 and 5.0 as PyPI `bpy` wheels run by this venv's
Python and Blender 5.1 and 5.3 as `bpy` wheels (cp313 only) run by the trixie chroot's Python
3.13. KRITAS and BLENDERS below are the one list of editor versions the host tests run: adding a
version is a line there (and, for a new place, its install in setup.sh).
Everything started here runs in a process
group of its own that is killed whole on a timeout, so a hung editor never leaves an X server or
a worker behind to break the next run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import pytest

if TYPE_CHECKING:
    from support import LoopbackServer

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BPY = Path(os.environ.get("BPY", "/var/cache/cleancut-bpy"))
BPY_WHEELS = {"4.5": "4.5.15", "5.0": "5.0.1"}  # Blender version -> the PyPI bpy wheel (setup.sh reads this)
# Blender 5.1+ wheels are cp313 only: setup.sh installs them into the trixie chroot (BPY313_DIR),
# whose python3.13 runs them
BPY313_WHEELS = {"5.1": "5.1.2", "5.3": "5.3.0"}
BPY313_DIR = "/opt/bpy"  # inside the trixie chroot


@dataclass(frozen=True)
class Chroot:
    """A Debian chroot made by setup.sh: where it is and where its engine wheels are."""

    name: str  # the Debian suite
    root: Path
    site: str  # the engine's binary wheels for the chroot's Python, a path inside the chroot
    python: str

    def pythonpath(self, engine: Path) -> str:
        """PYTHONPATH inside the chroot for the engine folder beside the chroot's binary wheels."""
        return f"{engine}:{self.site}"

    def require(self) -> None:
        require(self.root / ".cleancut-ready", f"the Debian {self.name} chroot")
        require(self.root / self.site.lstrip("/") / ".ready", f"the {self.name} chroot's Python {self.python} wheels")


TRIXIE_CHROOT = Chroot("trixie", Path(os.environ.get("TRIXIE", "/var/cache/cleancut-trixie")), "/opt/site313", "3.13")
SID_CHROOT = Chroot("sid", Path(os.environ.get("SID", "/var/cache/cleancut-sid")), "/opt/site314", "3.14")
# sid with experimental's Krita 6 (it replaces sid's Krita 5.3, so it has a chroot of its own)
KRITA6_CHROOT = Chroot("sid+experimental", Path(os.environ.get("KRITA6", "/var/cache/cleancut-krita6")),
                       "/opt/site314", "3.14")
CHROOTS = {c.name: c for c in (TRIXIE_CHROOT, SID_CHROOT, KRITA6_CHROOT)}

# --- the editor versions the host tests run, and where each lives ---
# Krita version -> its chroot (None: Debian 12's own Krita 5.1.5)
KRITAS: dict[str, Chroot | None] = {"5.1": None, "5.2": TRIXIE_CHROOT, "5.3": SID_CHROOT, "6.0": KRITA6_CHROOT}
# Blender versions with an executable: 3.4.1 is Debian 12's own, these live in a chroot
BLENDER_CHROOTS: dict[str, Chroot] = {"4.3": TRIXIE_CHROOT, "5.2": SID_CHROOT}
BPY313_CHROOT = TRIXIE_CHROOT  # its python3.13 runs the BPY313_WHEELS
BLENDERS = sorted(["3.4", *BLENDER_CHROOTS, *BPY_WHEELS, *BPY313_WHEELS], key=lambda v: tuple(map(int, v.split("."))))


def require(path: str | Path, what: str) -> None:
    if not Path(path).exists():
        pytest.fail(f"{what} is not installed ({path} missing): run `sudo tests/hosts/setup.sh`")


def run_group(argv: list[str], timeout: float, env: dict[str, str] | None = None,
              cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    """subprocess.run(capture_output=True, text=True) in a new process group that is killed whole
    when the command ends or times out (then TimeoutExpired is raised as by subprocess.run)."""
    with subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env, cwd=cwd) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(argv, timeout, output=out, stderr=err) from None
        finally:
            kill_group(proc.pid)  # what it left running: an X server, a stray child
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def in_chroot(chroot: Chroot, scratch: Path, argv: list[str], env: dict[str, str],
              timeout: float = 300) -> subprocess.CompletedProcess:
    """Run argv inside the chroot (scratch bound at its own path, HOME=scratch/home)."""
    pairs = [f"{k}={v}" for k, v in env.items()]
    return run_group([str(HERE / "chroot.sh"), "run", str(scratch), "env", *pairs, *argv], timeout,
                     env=dict(os.environ, CHROOT=str(chroot.root)))


def engine_env_chroot(chroot: Chroot, engine: Path, cache: Path, config: Path) -> dict[str, str]:
    """Environment for a chroot's /usr/bin/python3 to run the cleancut worker."""
    return {
        "CLEANCUT_ENGINE_PYTHON": "/usr/bin/python3",
        "PYTHONPATH": chroot.pythonpath(engine),
        "CLEANCUT_CACHE_DIR": str(cache),
        "CLEANCUT_CONFIG_DIR": str(config),
        "CLEANCUT_OFFLINE": "1",
    }


def engine_env_native(cache: Path, config: Path) -> dict[str, str]:
    """Environment for a Debian 12 editor (or a bpy wheel) to run the worker with this venv's Python."""
    return {
        "CLEANCUT_ENGINE_PYTHON": sys.executable,
        "CLEANCUT_CACHE_DIR": str(cache),
        "CLEANCUT_CONFIG_DIR": str(config),
        "CLEANCUT_OFFLINE": "1",
    }


def build_engine_site(scratch: Path) -> Path:
    """cleancut built as a wheel and installed into SCRATCH/engine-site: pure Python, so any
    chroot's Python puts it on PYTHONPATH beside that chroot's binary wheels."""
    wheels = scratch / "wheels"
    target = scratch / "engine-site"
    shutil.rmtree(REPO / "build", ignore_errors=True)  # setuptools would reuse stale build/lib files
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True)
    (wheel,) = wheels.glob("cleancut-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    return target


def bpy_site(version: str) -> Path:
    """The folder holding the PyPI `bpy` wheel VERSION (e.g. "5.0.1") for this venv's Python."""
    site = BPY / version
    require(site / ".ready", f"Blender {version} (the bpy wheel)")
    return site


@dataclass(frozen=True)
class BpyWheel:
    """Blender ``version`` (major.minor) as a PyPI `bpy` wheel, and the Python that imports it:
    this venv's (``chroot`` None) or the chroot's python3.13 (for the cp313-only 5.1+ wheels)."""

    version: str
    chroot: Chroot | None
    site: str  # the wheel's folder, as that Python sees it
    python: str  # that Python, as the chroot sees it

    def require(self) -> None:
        where = Path(self.site) if self.chroot is None else self.chroot.root / self.site.lstrip("/")
        require(where / ".ready", f"Blender {self.version} (the bpy wheel)")


def bpy_wheel(version: str) -> BpyWheel:
    """Where Blender ``version``'s bpy wheel is and which Python runs it (checked installed)."""
    if version in BPY313_WHEELS:
        wheel = BpyWheel(version, BPY313_CHROOT, f"{BPY313_DIR}/{BPY313_WHEELS[version]}", "/usr/bin/python3.13")
    else:
        wheel = BpyWheel(version, None, str(BPY / BPY_WHEELS[version]), sys.executable)
    if wheel.chroot is not None:
        wheel.chroot.require()
    wheel.require()
    return wheel


def which(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `sudo tests/hosts/setup.sh`")
    return found


# A first run: a model no cache holds yet, downloaded slowly enough to watch and to cancel.
DOWNLOAD_MODEL = "u2netp-first-run"  # u2netp's real file under an id no cache holds yet


@contextmanager
def first_run_server(model_cache: Path, catalog: Path) -> Iterator[tuple["LoopbackServer", int]]:
    """A loopback server (127.0.0.1, which the chroots share) sending u2netp's real file at
    1 MiB/s (4.6 MB: 4.4 s) as DOWNLOAD_MODEL of a user catalog written to ``catalog``; yields
    the server (its ``sent`` counts the bytes that left) and the file's size."""
    from support import LoopbackServer, catalog_entry

    data = (model_cache / "models" / "u2netp" / "u2netp.onnx").read_bytes()
    server = LoopbackServer()
    server.throttle(1 << 20)
    url = server.add("/u2netp.onnx", "throttled", data)
    catalog.write_text(catalog_entry(DOWNLOAD_MODEL, data, f'{{ kind = "url", url = "{url}" }}', licence="Apache-2.0"))
    try:
        yield server, len(data)
    finally:
        server.close()


# A selection as a box prompt (test_gimp3.py, test_krita.py): two photos side by side on one black
# layer, the astronaut (512×512) on the left and the cat (examples/chelsea.png, 451×300) centred
# on the right, and a rectangle selection around the cat's photo, which leaves two thirds of the
# layer out. Seeing the whole layer, u2netp looks at the astronaut and leaves the cat half
# transparent; with the selection as a box prompt it sees a crop around the cat alone.
TWO_PHOTOS_SIZE = (963, 512)  # width, height
BOX = (512, 106, 451, 300)  # x, y, width, height: the cat's photo
BOX_GAIN_MIN = 40  # mean |difference| inside the box from the old answer, in u8 steps (measured: 101)


def two_photos() -> np.ndarray:
    """The 963×512 RGB picture: the astronaut, and the cat at BOX, on black."""
    from PIL import Image

    picture = np.zeros((TWO_PHOTOS_SIZE[1], TWO_PHOTOS_SIZE[0], 3), np.uint8)
    picture[:512, :512] = np.asarray(Image.open(REPO / "examples" / "astronaut.png").convert("RGB"))
    x, y, width, height = BOX
    picture[y:y + height, x:x + width] = np.asarray(Image.open(REPO / "examples" / "chelsea.png").convert("RGB"))
    return picture


def check_box_prompt(mask: np.ndarray, engine) -> tuple[int, float]:
    """Check the mask an editor made of two_photos() with BOX selected and the selection hint on:
    (1) background everywhere outside the box; (2) exactly the engine's alpha with the box's
    region (prompts.box_region) as the hint, where the engine runs the model on a crop around
    the box; (3) far from what the whole-frame model gives, zeroed outside the box (the answer
    before box prompts), so a plug-in that stops sending the selection, or an engine that stops
    cropping, fails. ``engine(hint)`` is the u8 alpha the worker computes for the editor's
    pixels with that hint (None: no hint). Returns (the largest per-pixel difference from (2),
    the mean |difference| inside the box from (3))."""
    from cleancut import prompts

    region = prompts.box_region(mask.shape, BOX)
    crop = prompts.crop_for(region)
    assert crop is not None, "the engine does not crop for this box"
    assert mask[region == 0].max() == 0, "the mask is not background outside the selection"
    expected = engine(region)
    largest = int(np.abs(mask.astype(np.int64) - expected).max())
    assert largest == 0, f"the mask differs from the engine's box-prompt alpha by up to {largest}"
    clipped = engine(None).copy()
    clipped[region == 0] = 0
    x, y, width, height = BOX
    inside = (slice(y, y + height), slice(x, x + width))
    gain = float(np.abs(expected[inside].astype(np.int64) - clipped[inside]).mean())
    assert gain > BOX_GAIN_MIN, f"the box prompt changes the cat's alpha by only {gain:.1f} on average"
    return largest, gain
