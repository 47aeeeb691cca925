"""Binary morphology through OpenCV gives exactly scipy.ndimage's pixels (the trimaps, the
unsure bands and the click reach were scipy's before; their results must not move)."""

import numpy as np
import pytest
from scipy import ndimage

from cleancut import matting, morphology

SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (5, 9), (64, 80), (257, 311)]
CROSS = ndimage.generate_binary_structure(2, 1)


def masks():
    rng = np.random.default_rng(7)
    for shape in SHAPES:
        for density in (0.03, 0.5, 0.97):
            yield rng.random(shape) < density


@pytest.mark.parametrize("iterations", [1, 2, 7, 20])
def test_erode_is_scipys_erosion_with_the_frame_edge_kept(iterations):
    for mask in masks():
        expected = ndimage.binary_erosion(mask, CROSS, iterations=iterations, border_value=1)
        assert np.array_equal(morphology.erode(mask, iterations), expected)


@pytest.mark.parametrize("iterations", [1, 2, 7, 20])
def test_dilate_is_scipys_dilation(iterations):
    for mask in masks():
        assert np.array_equal(morphology.dilate(mask, iterations), ndimage.binary_dilation(mask, iterations=iterations))


def test_dilate_by_the_square_is_scipys_dilation_by_the_square():
    for mask in masks():
        expected = ndimage.binary_dilation(mask, np.ones((3, 3), bool))
        assert np.array_equal(morphology.dilate(mask, 1, morphology.SQUARE), expected)


def test_results_are_boolean_masks_of_the_same_shape():
    mask = np.zeros((4, 6), bool)
    mask[2, 3] = True

    grown = morphology.dilate(mask)

    assert grown.dtype == bool and grown.shape == (4, 6)
    assert grown.sum() == 5


def test_no_iteration_is_refused_rather_than_read_as_until_nothing_changes():
    with pytest.raises(ValueError, match="at least 1"):
        morphology.erode(np.ones((3, 3), bool), 0)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (40, 70), (301, 300), (40, 70, 3)])
@pytest.mark.parametrize("r", [1, 3, 20])
def test_box_is_scipys_uniform_filter_with_nearest_edges_within_float_rounding(shape, r):
    x = np.random.default_rng(3).random(shape, dtype=np.float32)
    expected = ndimage.uniform_filter(x, size=(2 * r + 1, 2 * r + 1) + (1,) * (x.ndim - 2), mode="nearest")

    got = matting.box(x, r)

    assert got.dtype == np.float32 and got.shape == shape
    assert np.abs(got - expected).max() < 1e-6


def test_box_reads_a_crop_of_a_larger_plane_as_the_crop():
    plane = np.random.default_rng(4).random((50, 60), dtype=np.float32)
    crop = plane[5:40, 7:50]

    assert np.array_equal(matting.box(crop, 3), matting.box(np.ascontiguousarray(crop), 3))


def same_partition(ours: np.ndarray, theirs: np.ndarray) -> bool:
    """Two labellings name the same parts (0 outside), whatever numbers each gives them."""
    pairs = np.unique(np.stack([ours.ravel(), theirs.ravel()]), axis=1)
    return (np.array_equal(ours == 0, theirs == 0) and len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1])


def test_parts_are_scipys_eight_connected_parts():
    for mask in masks():
        expected, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
        labels, found = morphology.parts(mask)

        assert found == count and same_partition(labels, expected)


def test_parts_of_an_empty_mask_are_none():
    labels, count = morphology.parts(np.zeros((4, 5), bool))

    assert count == 0 and not labels.any()


def test_diagonal_neighbours_are_one_part():
    labels, count = morphology.parts(np.eye(4, dtype=bool))

    assert count == 1 and set(labels[np.eye(4, dtype=bool)]) == {1}


@pytest.mark.parametrize("frame_outside", [True, False])
def test_distance_outside_is_scipys_exact_distance_at_pixels_of_the_mask(frame_outside):
    rng = np.random.default_rng(3)
    for mask in masks():
        padded = np.pad(mask, 1, constant_values=not frame_outside)
        if padded.all():
            continue
        expected = ndimage.distance_transform_edt(padded)[1:-1, 1:-1]
        inside = np.transpose(np.nonzero(mask))
        for point in inside[rng.permutation(len(inside))[:300]]:  # every pixel of the small masks
            assert morphology.distance_outside(mask, tuple(point), frame_outside) == expected[tuple(point)]


def test_distance_outside_of_a_mask_with_no_outside_is_refused():
    with pytest.raises(ValueError, match="no outside"):
        morphology.distance_outside(np.ones((3, 3), bool), (1, 1), frame_outside=False)
