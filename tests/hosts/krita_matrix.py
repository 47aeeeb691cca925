"""The Krita matrix's inputs and sessions, shared by tests/hosts/conftest.py (which starts the
sessions with the first host test, so that they run side by side with the Blender and GIMP tests)
and test_krita.py (which checks what they did).

Every Krita version of hostkit.KRITAS that the run's selected tests name plays all scenarios of
tests/hosts/krita/scenarios.py in one Krita session; the sessions run in threads of their own
(each is mostly single-threaded start-up and waiting on the engine) and the tests wait on their
futures. Whatever the order the sessions finish in, each version's results are its own: only
the wall time depends on what runs beside them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from hostkit import REPO
from hostkit.scenes import BOX, TWO_PHOTOS_SIZE, two_photos
from PIL import Image

from cleancut.options import REFINE_MODES, Options
from krita_harness import CHROOTS, FLAVOURS, KritaHost

SCENARIOS = REPO / "tests" / "hosts" / "krita" / "scenarios.py"
ASTRONAUT = REPO / "examples" / "astronaut.png"
CHELSEA = REPO / "examples" / "chelsea.png"
HINT_RECT = (96, 32, 320, 400)
# A refinement level other than the engine's default (the options dialog and the "refine" case
# choose it), so that using it shows in the mask.
REFINE_CHOICE = next((mode for mode in REFINE_MODES if mode != Options().refine), REFINE_MODES[0])
# Include and exclude points on two_photos() (pixels of the picture): on the cat, on the astronaut,
# and a hidden include layer's point on the astronaut that must not count; the documents' resolutions
# (not 72 ppi: libkis gives shapes in points, 1/72 inch; the second one fractional, which libkis'
# resolution() rounds); the offset of the photos' layer in the
# second case, and how far its points layers are moved (a layer's move must reach the points).
CLICKS = {"include": [[737, 256]], "exclude": [[256, 200]], "hidden": [[256, 330]], "resolution": 150.0,
          "offset": [-100, 30], "offset_resolution": 299.6, "layer_move": [25, 15]}
# The driver's watchdog for one session: a hang detector, not an expectation. A session takes
# 60-140 s alone (the include / exclude points' three scenarios add 20-40 s); beside the Blender
# tests on 2 cores it may take twice that.
DEADLINE_S = 480


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def srgb_to_linear(unit: np.ndarray) -> np.ndarray:
    return np.where(unit <= 0.04045, unit / 12.92, ((unit + 0.055) / 1.055) ** 2.4)


def with_alpha(colour: np.ndarray, opaque) -> np.ndarray:
    return np.dstack([colour, np.full(colour.shape[:2], opaque, colour.dtype)])


def write_inputs(folder: Path) -> dict:
    """Raw layer pixels in Krita's own channel order (BGRA for integer RGBA, RGBA for float)."""
    folder.mkdir(exist_ok=True)
    astronaut = rgb(ASTRONAUT)
    rng = np.random.default_rng(5)
    deep = np.clip(astronaut.astype(np.int32) * 257 + rng.integers(-128, 129, astronaut.shape), 0, 65535)
    linear = srgb_to_linear(astronaut / 255.0)
    arrays = {
        "astronaut_bgra8": with_alpha(astronaut[..., ::-1], 255).astype(np.uint8),
        "astronaut_bgra16": with_alpha(deep[..., ::-1], 65535).astype("<u2"),  # true 16-bit values
        "astronaut_linear_f32": with_alpha(linear, 1.0).astype("<f4"),  # Krita's float default: linear
        "astronaut_linear_f16": with_alpha(linear, 1.0).astype("<f2"),
        "astronaut_ya8": with_alpha(np.asarray(Image.open(ASTRONAUT).convert("L")), 255).astype(np.uint8),
        "cat_bgra8": with_alpha(rgb(CHELSEA)[50:200, 100:300][..., ::-1], 255).astype(np.uint8),  # 200×150
        "two_bgra8": with_alpha(two_photos()[..., ::-1], 255).astype(np.uint8),  # 963×512: astronaut, cat
    }
    paths: dict = {}
    for name, array in arrays.items():
        paths[name] = str(folder / f"{name}.raw")
        np.ascontiguousarray(array).tofile(paths[name])
    paths["deep"] = deep
    return paths


def wanted(items) -> list[str]:
    """The Krita versions whose matrix tests (test_krita.py's ``[kritaX.Y`` ids) are selected."""
    return [flavour for flavour in FLAVOURS
            if any("test_krita.py" in item.nodeid and f"[krita{flavour}" in item.nodeid for item in items)]


def start_sessions(flavours: list[str], scratch: Path, cache: Path, inputs: dict, engine_for) -> tuple[ThreadPoolExecutor, dict]:
    """Start one Krita session per version; (the pool, {flavour: (future of (results, process), host)}).
    ``engine_for(chroot_name)``: the engine folder for a chroot's Python."""
    hosts = {}
    for flavour in flavours:
        chroot = CHROOTS[flavour]  # None: Debian 12's own Krita 5.1; else its chroot (hostkit.KRITAS)
        engine = engine_for(chroot.name) if chroot is not None else None
        hosts[flavour] = KritaHost(flavour, scratch / f"krita{flavour}", cache, engine)
    spec = {"inputs": {k: v for k, v in inputs.items() if isinstance(v, str)}, "hint_rect": list(HINT_RECT),
            "box": {"size": list(TWO_PHOTOS_SIZE), "rect": list(BOX)}, "refine_choice": REFINE_CHOICE,
            "clicks": CLICKS}
    pool = ThreadPoolExecutor(max_workers=max(1, len(hosts)))
    futures = {flavour: (pool.submit(host.run, SCENARIOS, spec, DEADLINE_S), host) for flavour, host in hosts.items()}
    return pool, futures
