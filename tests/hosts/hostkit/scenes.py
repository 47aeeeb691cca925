"""What the GIMP 3, Krita and Blender tests give each editor alike: a first run that downloads
its model, and two photos on one layer with a box selection as the prompt."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image
from support import LoopbackServer, catalog_entry

from cleancut import prompts

from .paths import REPO

# A first run: a model no cache holds yet, downloaded slowly enough to watch and to cancel.
DOWNLOAD_MODEL = "u2netp-first-run"  # u2netp's real file under an id no cache holds yet


@contextmanager
def first_run_server(model_cache: Path, catalog: Path) -> Iterator[tuple[LoopbackServer, int]]:
    """A loopback server (127.0.0.1, which the chroots share) sending u2netp's real file at
    1 MiB/s (4.6 MB: 4.4 s) as DOWNLOAD_MODEL of a user catalog written to ``catalog``; yields
    the server (its ``sent`` counts the bytes that left) and the file's size."""
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
    picture = np.zeros((TWO_PHOTOS_SIZE[1], TWO_PHOTOS_SIZE[0], 3), np.uint8)
    picture[:512, :512] = np.asarray(Image.open(REPO / "examples" / "astronaut.png").convert("RGB"))
    x, y, width, height = BOX
    picture[y:y + height, x:x + width] = np.asarray(Image.open(REPO / "examples" / "chelsea.png").convert("RGB"))
    return picture


def check_box_prompt(mask: np.ndarray, engine: Callable[[np.ndarray | None], np.ndarray]) -> tuple[int, float]:
    """Check the mask an editor made of two_photos() with BOX selected and the selection hint on:
    (1) background everywhere outside the box; (2) exactly the engine's alpha with the box's
    region (prompts.box_region) as the hint, where the engine runs the model on a crop around
    the box; (3) far from what the whole-frame model gives, zeroed outside the box (the answer
    before box prompts), so a plug-in that stops sending the selection, or an engine that stops
    cropping, fails. ``engine(hint)`` is the u8 alpha the worker computes for the editor's
    pixels with that hint (None: no hint). Returns (the largest per-pixel difference from (2),
    the mean |difference| inside the box from (3))."""
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
