"""The region loop: budgets and curves in pixels, regions and clicks; oracles."""

from __future__ import annotations

import numpy as np
import pytest

import activelab.vision as V


def _run(scenes, regions, **params):
    pool, test = scenes.subset(range(6)), scenes.subset(range(6, 8))
    defaults = dict(budget=0.2, batch_size=8, initial=8, random_state=0)
    defaults.update(params)
    return V.simulate(
        V.PixelForest(scenes.n_classes, n_estimators=5, random_state=0),
        pool.images,
        pool.masks,
        regions,
        test_images=test.images,
        test_masks=test.masks,
        **defaults,
    )


@pytest.fixture(scope="module")
def grid(scenes):
    return V.RegionIndex.grid([im.shape for im in scenes.images[:6]], 8)


@pytest.mark.parametrize("strategy", V.STRATEGIES)
def test_every_strategy_spends_its_budget(scenes, grid, strategy):
    result = _run(scenes, grid, strategy=strategy, labelling="full")
    share, iou = result.curve()
    assert np.all(np.diff(share) > 0)
    assert share[-1] >= 0.2 and share[-2] < 0.2  # stops at the first round past the budget
    assert np.all((iou >= 0) & (iou <= 1))
    assert all(r.label_noise == 0 for r in result.history)  # full labels are the truth
    regions = np.concatenate([r.regions for r in result.history])
    assert len(np.unique(regions)) == len(regions) == result.history[-1].n_regions


def test_budget_in_clicks_and_regions(scenes, grid):
    by_clicks = _run(scenes, grid, unit="clicks", budget=100)
    assert by_clicks.history[-1].n_clicks >= 100 > by_clicks.history[-2].n_clicks
    assert by_clicks.history[-1].n_clicks == 4 * by_clicks.history[-1].n_regions  # squares
    by_regions = _run(scenes, grid, unit="regions", budget=20)
    assert by_regions.history[-1].n_regions == 24  # 8 initial + 2 batches of 8
    x, _ = by_regions.curve("n_regions")
    assert x.tolist() == [8, 16, 24]
    assert by_regions.cost_to_reach(2.0) == float("inf")


def test_dominant_labels_give_each_region_its_majority_class(scenes):
    slic = V.RegionIndex.slic(scenes.images[:6], n_segments=30)
    result = _run(scenes, slic, labelling="dominant", budget=0.15)
    last = result.history[-1]
    _, share = slic.dominant(scenes.masks[:6], scenes.n_classes)
    chosen = np.concatenate([r.regions for r in result.history])
    expected_noise = ((1 - share[chosen]) * slic.sizes[chosen]).sum() / slic.sizes[chosen].sum()
    assert last.label_noise == pytest.approx(expected_noise)


def test_entropy_regions_do_not_trail_random_regions(scenes, grid):
    top = [_run(scenes, grid, strategy="top", random_state=s).history[-1].iou for s in range(2)]
    rnd = [_run(scenes, grid, strategy="random", random_state=s).history[-1].iou for s in range(2)]
    assert np.mean(top) > np.mean(rnd) - 0.05  # at least as good, allowing noise


def test_simulate_errors(scenes, grid):
    with pytest.raises(ValueError, match="strategy"):
        _run(scenes, grid, strategy="best")
    with pytest.raises(ValueError, match="unit"):
        _run(scenes, grid, unit="seconds")
    with pytest.raises(ValueError, match="one mask and one region map"):
        V.simulate(
            V.PixelForest(3),
            scenes.images[:2],
            scenes.masks[:2],
            grid,
            test_images=scenes.images[:1],
            test_masks=scenes.masks[:1],
        )


def test_mean_iou():
    truth = np.array([[0, 0, 1, 1], [2, 2, -1, -1]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 0]])
    per_class = V.mean_iou(truth, pred, 3, average=None)
    np.testing.assert_allclose(per_class, [1 / 3, 2 / 3, 1 / 2])
    assert V.mean_iou([truth], [pred], 3, labels=[1]) == pytest.approx(2 / 3)
    assert V.confusion_matrix(truth, pred, 3).sum() == 6
    with pytest.raises(ValueError, match="differs"):
        V.mean_iou(truth, pred[:, :2], 3)
