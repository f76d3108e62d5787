"""Regions: every pixel in exactly one region, click costs, per-region reductions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.vision as V


def test_grid_regions_cover_every_pixel_once():
    labels = V.grid_regions((10, 7), size=3)
    assert labels.shape == (10, 7)
    counts = np.bincount(labels.ravel())
    assert counts.sum() == 70 and np.all(counts > 0)
    assert labels.max() + 1 == 4 * 3


def test_slic_regions_cover_every_pixel_once(scenes):
    for image in scenes.images[:3]:
        labels = V.slic_regions(image, n_segments=20)
        assert labels.shape == image.shape
        ids = np.unique(labels)
        assert ids.tolist() == list(range(ids.size))  # contiguous, each used
        assert np.bincount(labels.ravel()).sum() == image.size


def test_slic_rejects_bad_images():
    with pytest.raises(ValueError, match="grey-level"):
        V.slic_regions(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        V.slic_regions(np.full((4, 4), np.nan))


@pytest.mark.parametrize(
    ("rows", "cols"), [(slice(2, 10), slice(3, 11)), (slice(0, 5), slice(0, 5))]
)
def test_click_cost_of_a_square_is_4(rows, cols):
    mask = np.zeros((12, 12), bool)
    mask[rows, cols] = True
    assert V.click_cost(mask) == 4


def test_click_cost_of_other_shapes():
    l_shape = np.zeros((12, 12), bool)
    l_shape[2:10, 2:5] = True
    l_shape[7:10, 2:10] = True
    assert V.click_cost(l_shape) == 6
    ring = np.zeros((12, 12), bool)
    ring[1:11, 1:11] = True
    ring[4:8, 4:8] = False
    assert V.click_cost(ring) == 8  # outer square and the hole
    assert V.click_cost(np.zeros((5, 5), bool)) == 0
    assert V.region_click_costs(V.grid_regions((32, 32), 8)).tolist() == [4] * 16


def test_region_index_reductions_match_a_loop(rng):
    maps = [V.grid_regions((9, 7), 3), V.slic_regions(rng.random((16, 16)), 6)]
    index = V.RegionIndex(maps)
    values = [rng.random(m.shape) for m in maps]
    for how, reduce in (("mean", np.mean), ("max", np.max), ("sum", np.sum), ("min", np.min)):
        expected = [
            reduce(v[m == r]) for m, v in zip(maps, values, strict=True) for r in range(m.max() + 1)
        ]
        np.testing.assert_allclose(index.aggregate(values, how), expected)
    assert index.sizes.sum() == sum(m.size for m in maps)
    image, mask = index.locate(int(index.offsets[1]))
    assert image == 1 and mask.sum() == index.sizes[index.offsets[1]]


@settings(max_examples=30, deadline=None)
@given(
    st.integers(2, 12), st.integers(2, 12), st.integers(1, 5), st.integers(2, 4), st.integers(0, 99)
)
def test_dominant_class_is_the_majority(height, width, size, n_classes, seed):
    rng = np.random.default_rng(seed)
    labels = V.grid_regions((height, width), size)
    truth = rng.integers(-1, n_classes, size=(height, width))
    index = V.RegionIndex([labels])
    classes, share = index.dominant([truth], n_classes)
    for r in range(index.n_regions):
        inside = truth[labels == r]
        counts = np.bincount(inside[inside >= 0], minlength=n_classes)
        if counts.sum() == 0:
            assert classes[r] == -1 and share[r] == 0
        else:
            assert counts[classes[r]] == counts.max()
            assert share[r] == pytest.approx(counts.max() / inside.size)


def test_region_index_errors():
    with pytest.raises(ValueError, match="without gaps"):
        V.RegionIndex([np.array([[0, 2]])])
    with pytest.raises(ValueError, match="region map"):
        V.RegionIndex([np.zeros((3, 3))])
    index = V.RegionIndex.grid([(4, 4)], 2)
    with pytest.raises(ValueError, match="region map has"):
        index.aggregate([np.zeros((3, 3))])
    with pytest.raises(ValueError, match="unit must be"):
        index.cost("seconds")
    assert index.cost("regions").tolist() == [1.0] * 4
    assert index.cost("clicks").tolist() == [4.0] * 4
