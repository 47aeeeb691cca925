"""Closed-form matting (closedform.closed_form) solves Levin, Lischinski & Weiss's system: its
answer equals a direct solve of the Laplacian built window by window from the paper's formula,
on one thread and on several (the build's chunks and the solve's row blocks)."""

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse import linalg

from cleancut import closedform, trimaps


def reference_laplacian(image: np.ndarray, eps: float) -> np.ndarray:
    """The dense matting Laplacian: for every 3×3 window, delta_ij - (1 + (I_i - mu)^T
    (Sigma + eps/9 I)^-1 (I_j - mu)) / 9 added to its pixels' rows."""
    height, width = image.shape[:2]
    lap = np.zeros((height * width, height * width))
    for y in range(1, height - 1):
        for x in range(1, width - 1):
            pixels = [(y + dy) * width + (x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            window = image.reshape(-1, 3)[pixels].astype(np.float64)
            centred = window - window.mean(axis=0)
            inverse = np.linalg.inv(centred.T @ centred / 9.0 + (eps / 9.0) * np.eye(3))
            lap[np.ix_(pixels, pixels)] += np.eye(9) - (1.0 + centred @ inverse @ centred.T) / 9.0
    return lap


def direct_answer(image, trimap, prior, weight, eps) -> np.ndarray:
    lap = reference_laplacian(image, eps)
    unknown = trimaps.unknown(trimap).ravel()
    known = (trimap == trimaps.FOREGROUND).ravel().astype(np.float64)
    system = lap[np.ix_(unknown, unknown)] + weight * np.eye(int(unknown.sum()))
    rhs = -lap[np.ix_(unknown, ~unknown)] @ known[~unknown] + weight * prior.ravel()[unknown]
    alpha = known.copy()
    alpha[unknown] = linalg.spsolve(sparse.csr_matrix(system), rhs)
    return alpha.reshape(trimap.shape)


@pytest.fixture
def scene():
    """A 26×31 picture: a reddish disc on a noisy green ground, its rim unknown."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:26, 0:31]
    inside = np.hypot(yy - 13, xx - 15) < 8
    image = np.where(inside[..., None], [0.8, 0.3, 0.2], [0.2, 0.6, 0.3]) + rng.normal(0, 0.05, (26, 31, 3))
    image = np.clip(image, 0, 1).astype(np.float32)
    distance = np.abs(np.hypot(yy - 13, xx - 15) - 8)
    trimap = np.where(distance < 2.5, trimaps.UNKNOWN, np.where(inside, trimaps.FOREGROUND, trimaps.BACKGROUND))
    prior = np.clip(9.0 - np.hypot(yy - 13, xx - 15), 0, 1).astype(np.float32)
    return image, trimap.astype(np.uint8), prior


@pytest.mark.parametrize("threads", [1, 3])
def test_closed_form_is_the_direct_solution_of_the_papers_system(scene, monkeypatch, threads):
    image, trimap, prior = scene
    monkeypatch.setattr(closedform, "THREADS", threads)
    monkeypatch.setattr(closedform, "PARALLEL_MIN", 1)  # threads even for this small band

    alpha = closedform.closed_form(image, trimap, prior, prior_weight=1e-2, eps=1e-5, maxiter=2000)

    expected = np.clip(direct_answer(image, trimap, prior, 1e-2, 1e-5), 0, 1)
    assert np.abs(alpha - expected).max() < 1e-4


def test_closed_form_keeps_the_trimaps_certain_pixels(scene):
    image, trimap, prior = scene

    alpha = closedform.closed_form(image, trimap, prior)

    assert np.all(alpha[trimap == trimaps.FOREGROUND] == 1.0)
    assert np.all(alpha[trimap == trimaps.BACKGROUND] == 0.0)
