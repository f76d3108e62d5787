"""Region scores are the aggregation of the pixel scores they claim; selection reuses al.select."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab as al
import activelab.vision as V


def _proba(rng, shape, n_classes):
    logits = rng.normal(size=(*shape, n_classes)) * 3
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10_000),
    st.sampled_from(["entropy", "margin", "least_confidence"]),
    st.sampled_from(["mean", "max", "sum"]),
)
def test_region_score_is_the_aggregate_of_pixel_scores(seed, measure, aggregate):
    rng = np.random.default_rng(seed)
    shapes = [(6, 9), (5, 5)]
    maps = [V.grid_regions(s, int(rng.integers(1, 4))) for s in shapes]
    probas = [_proba(rng, s, 3) for s in shapes]
    index = V.RegionIndex(maps)
    pixel = [V.pixel_scores(p, measure) for p in probas]
    for p, s in zip(probas, pixel, strict=True):
        np.testing.assert_allclose(
            s, getattr(al.scores, measure)(p.reshape(-1, 3)).reshape(s.shape)
        )
    reduce = {"mean": np.mean, "max": np.max, "sum": np.sum}[aggregate]
    expected = [
        reduce(s[m == r]) for m, s in zip(maps, pixel, strict=True) for r in range(m.max() + 1)
    ]
    np.testing.assert_allclose(V.region_scores(index, pixel, aggregate), expected)


def test_bald_region_scores_from_posterior_samples(rng):
    samples = np.stack([_proba(rng, (4, 6), 2) for _ in range(5)])
    pixel = V.pixel_scores(samples, "bald")
    np.testing.assert_allclose(pixel, al.scores.bald(samples.reshape(5, 24, 2)).reshape(4, 6))
    index = V.RegionIndex([V.grid_regions((4, 6), 2)])
    labels = index.label_maps[0]
    np.testing.assert_allclose(
        V.region_scores(index, [pixel], "max"),
        [pixel[labels == r].max() for r in range(index.n_regions)],
    )
    # A probability measure on samples uses their mean.
    np.testing.assert_allclose(
        V.pixel_scores(samples, "entropy"), V.pixel_scores(samples.mean(0), "entropy")
    )
    with pytest.raises(ValueError, match="sample_proba"):
        V.pixel_scores(samples[0], "bald")
    with pytest.raises(ValueError, match="measure must be"):
        V.pixel_scores(samples[0], "nope")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=2, max_size=6), st.floats(0, 3))
def test_class_balanced_weights_favour_rare_classes(counts, power):
    weights = V.class_balanced_weights(counts, power)
    assert weights.mean() == pytest.approx(1.0)
    order = np.argsort(counts, kind="stable")
    # fewer labelled pixels -> weight at least as large
    assert np.all(np.diff(weights[order]) <= 1e-9)
    if power == 0:
        np.testing.assert_allclose(weights, 1.0)


def test_class_balanced_weights_errors():
    with pytest.raises(ValueError, match="non-negative"):
        V.class_balanced_weights([-1, 2])
    with pytest.raises(ValueError, match="power"):
        V.class_balanced_weights([1, 2], power=-1)


def test_select_regions_top_random_and_diverse(rng):
    scores = rng.random(50)
    available = np.ones(50, bool)
    available[np.argsort(scores)[-5:]] = False  # the five best are already labelled
    top = V.select_regions(scores, 5, "top", available=available, random_state=0)
    assert set(top) == set(np.argsort(scores)[-10:-5])
    rand = V.select_regions(scores, 7, "random", available=available, random_state=0)
    assert len(set(rand)) == 7 and available[rand].all()
    features = rng.normal(size=(50, 3))
    diverse = V.select_regions(
        scores, 5, "diverse", features, available, prefilter=3, random_state=1
    )
    candidates = np.flatnonzero(available)
    expected = candidates[
        al.select.cluster_then_pick(
            scores[candidates], features[candidates], 5, prefilter=3, random_state=1
        )
    ]
    assert diverse.tolist() == expected.tolist()
    with pytest.raises(ValueError, match="features"):
        V.select_regions(scores, 5, "diverse")
    with pytest.raises(ValueError, match="method"):
        V.select_regions(scores, 5, "best")


def test_score_regions_of_one_image(scenes):
    model = V.PixelForest(scenes.n_classes, n_estimators=5, random_state=0)
    model.fit(scenes.images[:2], scenes.masks[:2])
    image = scenes.images[3]
    labels = V.grid_regions(image.shape, 8)
    scores = V.score_regions(model, image, labels, "bald", "max")
    pixel = V.pixel_scores(model.sample_proba(image), "bald")
    np.testing.assert_allclose(scores, [pixel[labels == r].max() for r in range(labels.max() + 1)])
