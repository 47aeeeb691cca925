"""Closed-form matting (Levin, Lischinski & Weiss 2008) for a trimap's unknown pixels only, with a
prior: the Laplacian's rows built in chunks on threads, then Jacobi-preconditioned conjugate
gradients whose products run on row blocks in threads (scipy's sparse kernels release the GIL).
refine.py's ``best`` (and the presets that choose it) runs it.

scipy is imported here, at the first solve, not at the top: loading it costs 0.4 s of every
command's start-up (a 12 MP photo's whole run is 4.5 s), and only ``best`` needs it. This is
the one product module that uses scipy.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import morphology, parallel, trimaps

# Closed-form matting.
CF_EPS = 1e-7
CF_PRIOR = 1e-4  # weight of the probability prior inside the unknown band
CF_TOL = 1e-5
CF_MAXITER = 300
THREADS = None  # threads for the solve (None: parallel.threads())
PARALLEL_MIN = 20_000  # unknowns below which one thread is faster


def _sparse():
    """scipy.sparse, loaded by the first solve (see above)."""
    import scipy.sparse  # noqa: PLC0415 - see the module's docstring

    return scipy.sparse


def closed_form(image: np.ndarray, trimap: np.ndarray, prior: np.ndarray,
                prior_weight: float | None = None, eps: float | None = None,
                x0: np.ndarray | None = None, maxiter: int | None = None) -> np.ndarray:
    """Alpha from closed-form matting inside the trimap's unknown band, with a prior.

    Minimises a^T L a + w * sum_U (a - prior)^2 with the known pixels fixed; conjugate
    gradients with a Jacobi preconditioner, started from ``x0`` (default: the prior).
    """
    prior_weight = CF_PRIOR if prior_weight is None else prior_weight
    eps = CF_EPS if eps is None else eps
    alpha = (trimap == trimaps.FOREGROUND).astype(np.float32)
    band = trimaps.unknown(trimap)
    if not band.any():
        return alpha
    lap, rhs, flat = _laplacian_rows(image, band, alpha, eps)
    p = prior.ravel()[flat].astype(np.float64)
    lap.setdiag(lap.diagonal() + prior_weight)  # every row has its diagonal: no new entries
    rhs = rhs + prior_weight * p
    start = p if x0 is None else x0.ravel()[flat].astype(np.float64)
    x = conjugate_gradients(lap, rhs, start, CF_TOL, maxiter or CF_MAXITER)
    alpha.ravel()[flat] = np.clip(x, 0.0, 1.0)
    return alpha


def _laplacian_rows(image: np.ndarray, unknown: np.ndarray, known_alpha: np.ndarray, eps: float):
    """The closed-form matting Laplacian's rows for the unknown pixels (Levin et al. 2008).

    3×3 windows, so a row couples a pixel with its 5×5 neighbourhood: the rows are built as
    25 stencil coefficients per unknown pixel (only windows touching an unknown pixel are
    visited, in chunks), then split into L_UU (CSR) and rhs = -L_UK alpha_K. Returns
    (L_UU, rhs, flat pixel numbers of the unknowns).
    """
    height, width = unknown.shape
    flat_unknown = np.flatnonzero(unknown)
    n = flat_unknown.size
    number = np.full(height * width, -1, np.int32 if height * width < 2**31 else np.int64)
    number[flat_unknown] = np.arange(n)
    centres = morphology.dilate(unknown, 1, morphology.SQUARE)
    centres[0, :] = centres[-1, :] = False
    centres[:, 0] = centres[:, -1] = False
    centre_flat = np.flatnonzero(centres)
    wy, wx = np.divmod(np.arange(9), 3)
    offsets = (wy - 1) * width + (wx - 1)
    # Stencil slot of pixel b seen from pixel a in the same window: (dy+2)*5 + (dx+2).
    slot = ((wy[None, :] - wy[:, None]) + 2) * 5 + ((wx[None, :] - wx[:, None]) + 2)
    flat_image = image.reshape(-1, 3)
    eye = np.eye(9)
    reg = (eps / 9.0) * np.eye(3)
    chunk = 4096

    def chunk_part(start: int) -> tuple[int, np.ndarray]:
        """One chunk of windows' coefficients: (first key, counts from it on)."""
        pix = centre_flat[start:start + chunk, None] + offsets[None, :]  # M×9
        # float64: with a small eps the window covariances are nearly singular.
        win = flat_image[pix].astype(np.float64)
        d = win - win.mean(axis=1, keepdims=True)
        cov = np.matmul(d.transpose(0, 2, 1), d) / 9.0 + reg
        val = eye - (1.0 + np.matmul(np.matmul(d, _inverse_symmetric3(cov)), d.transpose(0, 2, 1))) / 9.0
        row = number[pix]  # M×9
        keep = row >= 0
        key = (row[:, :, None].astype(np.int64) * 25 + slot[None, :, :])[keep]  # pairs whose first pixel is unknown
        if not key.size:
            return 0, np.zeros(0)
        # A chunk's windows reach a few rows of the band: count over their keys only.
        low = int(key.min())
        return low, np.bincount((key - low).ravel(), val[keep].ravel())

    # The chunks' counts are added in chunk order on this thread: the same sums on any number
    # of threads, and one array of the band's size (each thread once held its own).
    starts = range(0, centre_flat.size, chunk)
    workers = _threads() if centre_flat.size >= PARALLEL_MIN else 1
    coef = np.zeros(n * 25)
    for low, counted in parallel.ordered_map(chunk_part, starts, workers):
        coef[low:low + counted.size] += counted
    coef = coef.reshape(n, 25)
    sy, sx = np.divmod(np.arange(25), 5)
    # Index arrays in the pixel numbers' own width, and the known neighbours' part summed over
    # them alone: a band of 200,000 unknowns used to hold five n×25 arrays of 8 bytes here.
    neighbour = flat_unknown[:, None].astype(number.dtype) + ((sy - 2) * width + (sx - 2)).astype(number.dtype)[None, :]
    np.clip(neighbour, 0, height * width - 1, out=neighbour)
    col = number[neighbour]
    inside = col >= 0
    known_row, known_slot = np.nonzero(~inside)
    rhs = -np.bincount(known_row, coef[known_row, known_slot] * known_alpha.ravel()[neighbour[known_row, known_slot]], n)
    del neighbour, known_row, known_slot
    lap = _sparse().csr_matrix((coef[inside], col[inside], np.concatenate([[0], np.cumsum(inside.sum(axis=1))])),
                            shape=(n, n))
    return lap, rhs, flat_unknown


def _inverse_symmetric3(m: np.ndarray) -> np.ndarray:
    """Inverses of symmetric 3×3 matrices (M×3×3) by the adjugate: the same numbers as
    np.linalg.inv within 1e-14 relative, in a twelfth of the time (LAPACK's batched inverse pays
    a call per matrix; it was a sixth of the Laplacian's build)."""
    a, b, c = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    d, e, f = m[:, 1, 1], m[:, 1, 2], m[:, 2, 2]
    out = np.empty_like(m)
    out[:, 0, 0] = d * f - e * e
    out[:, 0, 1] = out[:, 1, 0] = c * e - b * f
    out[:, 0, 2] = out[:, 2, 0] = b * e - c * d
    out[:, 1, 1] = a * f - c * c
    out[:, 1, 2] = out[:, 2, 1] = b * c - a * e
    out[:, 2, 2] = a * d - b * b
    out /= (a * out[:, 0, 0] + b * out[:, 0, 1] + c * out[:, 0, 2])[:, None, None]
    return out


def _rows(matrix, start: int, stop: int):
    """Rows start..stop of a CSR matrix as views of its arrays (slicing copies them: the solve
    held its matrix twice)."""
    first, last = matrix.indptr[start], matrix.indptr[stop]
    return _sparse().csr_matrix((matrix.data[first:last], matrix.indices[first:last],
                              matrix.indptr[start:stop + 1] - first), shape=(stop - start, matrix.shape[1]), copy=False)


def _threads() -> int:
    return THREADS or parallel.threads()


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """a · b on this thread. ``a @ b`` goes to OpenBLAS, whose own threads wake for every
    product of a band's size: in a batch, where the other cores are busy with other files,
    they spun for a third of ``best``'s CPU time (1280×720 photos, 2.9 against 1.9 CPU s)."""
    return float(np.einsum("i,i->", a, b))


def conjugate_gradients(matrix, rhs: np.ndarray, x0: np.ndarray, rtol: float, maxiter: int,
                        threads: int | None = None) -> np.ndarray:
    """Jacobi-preconditioned conjugate gradients for a symmetric positive definite CSR matrix.

    The matrix-vector product, where the time goes, runs on row blocks in parallel threads
    (scipy's sparse kernels release the GIL); the iteration is the textbook one, stopped at
    ``rtol`` times the norm of ``rhs`` or after ``maxiter`` products.
    """
    threads = threads or _threads()
    n = rhs.size
    matrix = _sparse().csr_matrix(matrix)
    inv_diag = 1.0 / np.maximum(matrix.diagonal(), 1e-12)
    if threads > 1 and n >= PARALLEL_MIN:
        cuts = np.linspace(0, n, threads + 1).astype(int)
        blocks = [(_rows(matrix, a, b), a, b) for a, b in zip(cuts[:-1], cuts[1:])]
        pool = ThreadPoolExecutor(threads)

        def product(v):
            out = np.empty(n)

            def part(block):
                rows, a, b = block
                out[a:b] = rows @ v

            list(pool.map(part, blocks))
            return out
    else:
        pool = None

        def product(v):
            return matrix @ v

    try:
        x = x0.astype(np.float64, copy=True)
        r = rhs - product(x)
        limit = rtol * max(float(np.linalg.norm(rhs)), 1e-30)
        z = inv_diag * r
        p = z.copy()
        rz = _dot(r, z)
        for _ in range(maxiter):
            if _dot(r, r) ** 0.5 <= limit:
                break
            ap = product(p)
            step = rz / max(_dot(p, ap), 1e-300)
            x += step * p
            r -= step * ap
            z = inv_diag * r
            rz_next = _dot(r, z)
            p *= rz_next / max(rz, 1e-300)
            p += z
            rz = rz_next
        return x
    finally:
        if pool is not None:
            pool.shutdown()
