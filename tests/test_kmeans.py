"""The one k-means (D² seeding, weighted Lloyd, representatives) against plain references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans

from activelab import _distances
from activelab._distances import squared_norms
from activelab._kmeans import (
    cluster_representatives,
    d2_sampling,
    dense_lower,
    kmeans,
    lower_by,
    representatives,
)


def pairwise_sq(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Plain reference: squared distances by explicit differences, float64."""
    return ((A[:, None, :].astype(np.float64) - B[None, :, :]) ** 2).sum(axis=2)


def blobs(centres: np.ndarray, per_blob: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + rng.normal(size=(per_blob, centres.shape[1])) for c in centres])
    return (X - X.mean(axis=0)).astype(np.float32)


# ---------------------------------------------------------------------------- Lloyd


def test_kmeans_reaches_a_lloyd_fixed_point():
    rng = np.random.default_rng(7)
    X = np.concatenate([c + rng.normal(size=(80, 5)) for c in rng.normal(0, 6, (6, 5))])
    Z = (X - X.mean(axis=0)).astype(np.float32)
    clusters = kmeans(Z, 6, np.random.default_rng(0), tol=0.0)
    centres = clusters.centres.astype(np.float64)
    nearest = pairwise_sq(Z, centres).argmin(axis=1)
    np.testing.assert_array_equal(clusters.labels, nearest)
    for c in range(6):
        np.testing.assert_allclose(centres[c], Z[clusters.labels == c].mean(axis=0), atol=1e-4)
    inertia = pairwise_sq(Z, centres).min(axis=1).sum()
    np.testing.assert_allclose(clusters.sq_dist.sum(), inertia, rtol=1e-4)
    assert np.bincount(clusters.labels, minlength=6).tolist() == clusters.mass.tolist()


def test_weighted_kmeans_reaches_a_weighted_fixed_point():
    Z = blobs(np.random.default_rng(3).normal(0, 8, (4, 3)), 60, seed=3)
    weights = np.random.default_rng(4).random(Z.shape[0]) ** 3
    clusters = kmeans(Z, 4, np.random.default_rng(0), weights=weights, tol=0.0)
    for c in range(4):
        members = clusters.labels == c
        expected = weights[members] @ Z[members] / weights[members].sum()
        np.testing.assert_allclose(clusters.centres[c], expected, atol=1e-4)
        assert clusters.mass[c] == pytest.approx(weights[members].sum())


def test_kmeans_finds_what_sklearn_finds_on_separated_clusters():
    rng = np.random.default_rng(9)
    X = np.concatenate([c + rng.normal(size=(50, 4)) for c in 30 * np.eye(4)[:, :4]])
    Z = (X - X.mean(axis=0)).astype(np.float32)
    ours = kmeans(Z, 4, np.random.default_rng(1)).sq_dist.sum()
    theirs = KMeans(4, n_init=1, random_state=1).fit(Z).inertia_
    assert ours == pytest.approx(theirs, rel=1e-4)
    weights = rng.random(Z.shape[0])
    ours = kmeans(Z, 4, np.random.default_rng(1), weights=weights)
    theirs = KMeans(4, n_init=1, random_state=1).fit(Z, sample_weight=weights).inertia_
    assert float(weights @ ours.sq_dist) == pytest.approx(theirs, rel=1e-4)


def test_kmeans_with_fixed_centres_leaves_them_in_place():
    Z = blobs(np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 0.0], [0.0, 40.0, 0.0]]), 30)
    fixed = Z[:30].mean(axis=0, keepdims=True)
    clusters = kmeans(Z, 2, np.random.default_rng(0), fixed=fixed)
    np.testing.assert_array_equal(clusters.centres[2:], fixed)
    assert set(clusters.labels[:30].tolist()) == {2}  # blob 0 belongs to the fixed one


def test_sparse_input_clusters_like_dense():
    Z = blobs(30 * np.eye(5), 40, seed=5)
    Z[np.abs(Z) < 0.8] = 0.0
    dense = kmeans(Z, 5, np.random.default_rng(2))
    sparse = kmeans(sp.csr_matrix(Z), 5, np.random.default_rng(2))
    assert float(sparse.sq_dist.sum()) == pytest.approx(float(dense.sq_dist.sum()), rel=1e-4)
    np.testing.assert_allclose(sparse.centres, dense.centres, atol=1e-4)


def test_blocking_changes_nothing(monkeypatch):
    Z = blobs(np.random.default_rng(6).normal(0, 5, (8, 6)), 40, seed=6)
    whole = kmeans(Z, 8, np.random.default_rng(3))
    monkeypatch.setattr(_distances, "_BLOCK_BYTES", 256)
    blocked = kmeans(Z, 8, np.random.default_rng(3))
    np.testing.assert_array_equal(whole.labels, blocked.labels)
    np.testing.assert_array_equal(whole.centres, blocked.centres)


def test_duplicates_leave_clusters_empty_and_the_fill_follows_the_weights():
    Z = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]], dtype=np.float32), 6, axis=0)
    weights = np.arange(12, dtype=np.float64)
    clusters = kmeans(Z, 4, np.random.default_rng(0), weights=weights)
    assert np.count_nonzero(clusters.mass[:4] > 0) == 2
    picks = cluster_representatives(Z, 4, np.random.default_rng(0), weights=weights)
    assert np.unique(picks).shape == (4,)
    assert sorted(picks[2:].tolist()) == [10, 11]  # the heaviest of the rest, after the two


# ------------------------------------------------------------------------- seeding


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20), copies=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_d2_sampling_never_repeats_a_point(n, copies, seed):
    rng = np.random.default_rng(seed)
    E = np.repeat(rng.normal(size=(n, 2)), copies, axis=0).astype(np.float32)
    picks = d2_sampling(
        dense_lower(E, squared_norms(E)),
        np.full(n * copies, np.inf),
        n * copies,
        rng,
        first=int(rng.integers(n * copies)),
    )
    assert sorted(picks.tolist()) == list(range(n * copies))


def test_d2_sampling_draws_by_weight_times_squared_distance():
    E = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    weights = np.array([1.0, 2.0, 1.0])
    counts = np.zeros(3)
    for seed in range(3000):
        lower = dense_lower(E, squared_norms(E), weights)
        picks = d2_sampling(lower, np.full(3, np.inf), 2, np.random.default_rng(seed), first=2)
        counts[picks[1]] += 1
    # weight × D² from 3: 1·9 and 2·4 → 9/17 and 8/17.
    assert counts[0] / counts.sum() == pytest.approx(9 / 17, abs=0.03)


def test_the_compiled_and_the_numpy_lower_agree_and_keep_the_best_candidate():
    E = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    norms = squared_norms(E)
    weights = np.random.default_rng(1).random(50)
    candidates = np.array([7, 30, 12])
    compiled, plain = np.full(50, np.inf), np.full(50, np.inf)
    sums_compiled, sums_plain = np.empty(50), np.empty(50)
    best, total = dense_lower(E, norms, weights)(candidates, compiled, sums_compiled)
    distance_to = lambda i: pairwise_sq(E, E[i : i + 1])[:, 0]  # noqa: E731
    expected_best, expected = lower_by(distance_to, weights)(candidates, plain, sums_plain)
    potentials = [weights @ pairwise_sq(E, E[c : c + 1])[:, 0] for c in candidates]
    assert best == expected_best == int(np.argmin(potentials))
    np.testing.assert_allclose(compiled, plain, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sums_compiled, sums_plain, rtol=1e-4)
    assert total == pytest.approx(expected, rel=1e-4) == pytest.approx(min(potentials))
    assert compiled[candidates[best]] == 0.0


def test_greedy_seeding_beats_plain_d2_on_average():
    Z = blobs(np.random.default_rng(8).normal(0, 4, (12, 6)), 30, seed=8)
    norms = squared_norms(Z)

    def seeding_cost(trials: int, seed: int) -> float:
        rng = np.random.default_rng(seed)
        seeds = d2_sampling(
            dense_lower(Z, norms), np.full(Z.shape[0], np.inf), 12, rng, first=0, trials=trials
        )
        return float(pairwise_sq(Z, Z[seeds]).min(axis=1).sum())

    plain = np.mean([seeding_cost(1, seed) for seed in range(20)])
    greedy = np.mean([seeding_cost(4, seed) for seed in range(20)])
    assert greedy < plain


def test_fixed_centres_are_not_seeded_again():
    # closest = 0 at the fixed points: D² sampling never draws them.
    closest = np.array([0.0, 0.0, 4.0, 9.0])
    E = np.array([[0.0], [0.0], [2.0], [3.0]], dtype=np.float32)
    for seed in range(20):
        picks = d2_sampling(
            dense_lower(E, squared_norms(E)), closest.copy(), 2, np.random.default_rng(seed)
        )
        assert set(picks.tolist()) == {2, 3}


# ------------------------------------------------------------------ representatives


def test_representatives_take_the_member_nearest_each_centre_heaviest_first():
    labels = np.array([0, 0, 0, 1, 1, 2])
    sq_dist = np.array([0.3, 0.1, 0.2, 0.5, 0.4, 0.0])
    mass = np.array([3.0, 5.0, 1.0])
    picks = representatives(labels, sq_dist, mass, np.arange(3), 3, np.random.default_rng(0))
    assert picks.tolist() == [4, 1, 5]


def test_representative_ties_are_random():
    labels = np.zeros(10, dtype=np.int64)
    firsts = {
        int(
            representatives(
                labels, np.zeros(10), np.ones(1), np.arange(1), 1, np.random.default_rng(seed)
            )[0]
        )
        for seed in range(10)
    }
    assert len(firsts) > 1
