"""SEALS and AnchorAL candidate pools against brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression

from activelab.strategies import SEALS, AnchorSubsampling, Margin
from activelab.strategies._seals import anchor_candidates, seals_candidates


@pytest.fixture(scope="module")
def problem():
    X, y = make_blobs(n_samples=900, centers=6, n_features=4, random_state=0)
    y = y % 3
    labeled = np.r_[[np.flatnonzero(y == c)[:3] for c in range(3)]].ravel()
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    model = LogisticRegression(max_iter=1000).fit(X[labeled], y[labeled])
    return model, X[labeled], y[labeled], X[pool]


def brute_force_neighbours(pool, labeled, k):
    distances = cdist(labeled, pool, "sqeuclidean")
    return np.unique(np.argsort(distances, axis=1, kind="stable")[:, :k])


def test_candidates_are_the_union_of_exact_neighbours(problem):
    _, X_lab, _, pool = problem
    found = seals_candidates(pool, X_lab, 25)
    assert found.tolist() == brute_force_neighbours(pool, X_lab, 25).tolist()


def test_seals_runs_the_base_on_the_candidates(problem):
    model, X_lab, y_lab, pool = problem
    strategy = SEALS("margin", n_neighbors=30, normalize=False)
    picks = strategy.query(model, pool, 5, X_lab, y_lab, random_state=0)
    candidates = brute_force_neighbours(pool, X_lab, 30)
    assert set(picks.tolist()) <= set(candidates.tolist())
    inner = Margin().query(model, pool[candidates], 5, random_state=np.random.default_rng(0))
    assert picks.tolist() == candidates[inner].tolist()


def test_seals_falls_back_to_the_whole_pool(problem):
    model, X_lab, y_lab, pool = problem
    whole = Margin().query(model, pool, 4, random_state=1).tolist()
    assert SEALS(n_neighbors=2000).query(model, pool, 4, X_lab, y_lab, 1).tolist() == whole
    assert SEALS(n_neighbors=5).query(model, pool, 4, None, None, 1).tolist() == whole
    # 9 labeled × 1 neighbour cannot hold a batch of 40
    assert SEALS(n_neighbors=1).query(model, pool, 40, X_lab, y_lab, 1).tolist() == (
        Margin().query(model, pool, 40, random_state=1).tolist()
    )


def test_normalize_gives_cosine_neighbours(problem):
    _, X_lab, _, pool = problem
    from activelab.strategies._seals import _prepare

    found = seals_candidates(_prepare(pool, True), _prepare(X_lab, True), 10)
    cosine = cdist(X_lab, pool, "cosine")
    expected = np.unique(np.argsort(cosine, axis=1, kind="stable")[:, :10])
    assert found.tolist() == expected.tolist()


def test_anchor_candidates_against_a_plain_reference(problem):
    _, X_lab, y_lab, pool = problem
    # 3 labeled per class and n_anchors=3: every labeled item is an anchor
    found = anchor_candidates(pool, X_lab, y_lab, 40, 3, 20, 0)
    distances = cdist(X_lab, pool, "sqeuclidean")
    scores: dict[int, list[float]] = {}
    for row in distances:
        for j in np.argsort(row, kind="stable")[:20]:
            scores.setdefault(int(j), []).append(-row[j])
    mean = {j: np.mean(v) for j, v in scores.items()}
    best = sorted(mean, key=lambda j: -mean[j])[:40]
    assert set(found.tolist()) == set(best)


def test_anchors_cover_every_class_with_at_most_n_anchors(problem):
    _, X_lab, y_lab, pool = problem
    many = np.repeat(X_lab, 5, axis=0) + np.random.default_rng(0).normal(0, 0.1, (45, 4))
    labels = np.repeat(y_lab, 5)
    found = anchor_candidates(pool, many, labels, 1000, 2, 5, 0)
    assert found.shape[0] <= 3 * 2 * 5  # 3 classes × 2 anchors × 5 neighbours


def test_anchor_subsampling_runs_the_base_on_the_sub_pool(problem):
    model, X_lab, y_lab, pool = problem
    strategy = AnchorSubsampling(
        "margin", subsample_size=50, n_anchors=3, n_neighbors=30, normalize=False
    )
    picks = strategy.query(model, pool, 5, X_lab, y_lab, random_state=0)
    rng = np.random.default_rng(0)
    sub = np.sort(anchor_candidates(pool, X_lab, y_lab, 50, 3, 30, rng))
    inner = Margin().query(model, pool[sub], 5, random_state=rng)
    assert picks.tolist() == sub[inner].tolist()
    whole = Margin().query(model, pool, 5, random_state=0).tolist()
    assert (
        AnchorSubsampling(subsample_size=5000).query(model, pool, 5, X_lab, y_lab, 0).tolist()
        == whole
    )
    with pytest.raises(ValueError, match="labels for"):
        anchor_candidates(pool, X_lab, y_lab[:2])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), m=st.integers(1, 6), k=st.integers(1, 8), seed=st.integers(0, 999))
def test_property_seals_candidates(n, m, k, seed):
    rng = np.random.default_rng(seed)
    pool, labeled = rng.normal(size=(n, 3)), rng.normal(size=(m, 3))
    found = seals_candidates(pool, labeled, k)
    assert found.shape[0] <= m * min(k, n) and len(set(found.tolist())) == found.shape[0]
    assert found.tolist() == brute_force_neighbours(pool, labeled, min(k, n)).tolist()
