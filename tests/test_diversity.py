"""Diversity selectors against brute force and their guarantees."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activelab.select import (
    cluster_then_pick,
    facility_location,
    greedy_sequential,
    k_center_greedy,
    kmeans_pp,
)


def radius(points: np.ndarray, centres: np.ndarray) -> float:
    distances = np.linalg.norm(points[:, None, :] - points[None, centres, :], axis=2)
    return float(distances.min(axis=1).max())


@pytest.mark.parametrize("seed", range(8))
def test_k_center_is_a_two_approximation(seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(11, 2)).astype(np.float32)
    k = 3
    picks = k_center_greedy(points, k, random_state=seed)
    best = min(radius(points, np.array(c)) for c in itertools.combinations(range(11), k))
    assert radius(points, picks) <= 2 * best + 1e-5


def test_k_center_starts_from_the_labeled_set_and_picks_farthest_first():
    pool = np.array([[0.0], [1.0], [4.0], [10.0]])
    assert k_center_greedy(pool, 2, labeled=[[0.0]], random_state=0).tolist() == [3, 2]
    # Brute-force greedy reference on random data with a labeled set.
    rng = np.random.default_rng(1)
    pool, labeled = rng.normal(size=(60, 5)), rng.normal(size=(4, 5))
    picks = k_center_greedy(pool, 6, labeled=labeled, random_state=0)
    centres = list(labeled)
    for pick in picks:
        gaps = np.min([np.linalg.norm(pool - c, axis=1) for c in centres], axis=0)
        assert np.isclose(gaps[pick], gaps.max(), rtol=1e-4)
        centres.append(pool[pick])


def test_k_center_ties_are_random_and_duplicates_fine():
    pool = np.zeros((30, 3), dtype=np.float32)
    picks = {tuple(k_center_greedy(pool, 4, random_state=s).tolist()) for s in range(10)}
    assert len(picks) > 1
    assert all(len(set(p)) == 4 for p in picks)
    with pytest.raises(ValueError, match="features"):
        k_center_greedy(np.ones((5, 3)), 2, labeled=np.ones((2, 4)))
    with pytest.raises(ValueError, match="NaN"):
        k_center_greedy([[0.0], [np.nan]], 1)


def test_k_center_memory_stays_linear():
    points = np.random.default_rng(0).normal(size=(200_000, 64)).astype(np.float32)
    k_center_greedy(points[:1000], 3, random_state=0)  # compile outside the measurement
    tracemalloc.start()
    k_center_greedy(points, 20, random_state=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * points.nbytes  # an N×N float32 matrix would be 160 GB


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 25),
    copies=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    first=st.sampled_from(["random", "max_norm"]),
)
def test_kmeans_pp_never_repeats_a_point(n, copies, seed, first):
    rng = np.random.default_rng(seed)
    points = np.repeat(rng.normal(size=(n, 3)), copies, axis=0)
    picks = kmeans_pp(points, n * copies, first=first, random_state=seed)
    assert sorted(picks.tolist()) == list(range(n * copies))


def test_kmeans_pp_draws_by_squared_distance():
    points = np.array([[0.0], [1.0], [3.0]])
    counts = np.zeros(3)
    for seed in range(3000):
        picks = kmeans_pp(points, 2, first="max_norm", random_state=seed)
        assert picks[0] == 2
        counts[picks[1]] += 1
    # D² from 3: 9 and 4 → probabilities 9/13 and 4/13.
    assert counts[0] / counts.sum() == pytest.approx(9 / 13, abs=0.03)


def coverage_value(similarity: np.ndarray, chosen) -> float:
    return float(similarity[:, list(chosen)].max(axis=1).sum())


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sparse", [False, True])
def test_facility_location_reaches_the_greedy_bound(seed, sparse):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(10, 2)).astype(np.float32)
    kwargs = dict(dense_max=2, n_neighbors=10) if sparse else {}
    picks = facility_location(points, 3, random_state=seed, **kwargs)
    sample = points  # all 10 points: the median scale is computed on them exactly
    distances = ((sample[:, None] - sample[None]) ** 2).sum(-1)
    scale = np.median(distances[np.triu_indices(10, 1)])
    similarity = np.exp(-distances / scale)
    best = max(coverage_value(similarity, c) for c in itertools.combinations(range(10), 3))
    assert coverage_value(similarity, picks) >= (1 - 1 / math.e) * best - 1e-6
    assert len(set(picks.tolist())) == 3


def test_facility_location_large_pool_uses_neighbours_and_stays_distinct():
    rng = np.random.default_rng(0)
    points = np.repeat(rng.normal(size=(60, 4)), 10, axis=0)
    picks = facility_location(points, 12, dense_max=100, n_neighbors=15, random_state=0)
    assert len({tuple(points[p]) for p in picks}) == 12


def test_cluster_then_pick_prefilters_and_spreads():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.vstack([c + rng.normal(scale=0.1, size=(20, 2)) for c in centres])
    utilities = np.ones(60)
    picks = cluster_then_pick(utilities, points, 3, prefilter=20, random_state=0)
    assert sorted(p // 20 for p in picks) == [0, 1, 2]
    # Only the top prefilter·k candidates are eligible.
    utilities = np.linspace(0.01, 1.0, 60)
    picks = cluster_then_pick(utilities, points, 2, prefilter=3, random_state=0)
    assert set(picks.tolist()) <= set(range(54, 60))
    with pytest.raises(ValueError, match="non-negative"):
        cluster_then_pick(-utilities, points, 2)
    with pytest.raises(ValueError, match="utilities for"):
        cluster_then_pick(utilities[:5], points, 2)


def test_cluster_then_pick_is_weighted_and_reproducible():
    rng = np.random.default_rng(3)
    points = rng.normal(size=(40, 2))
    utilities = rng.random(40) ** 3
    # One cluster over every candidate: its centre is the utility-weighted mean.
    pick = cluster_then_pick(utilities, points, 1, prefilter=40, random_state=0)
    centre = utilities @ points / utilities.sum()
    assert pick.tolist() == [int(np.argmin(((points - centre) ** 2).sum(axis=1)))]
    first = cluster_then_pick(utilities, points, 5, prefilter=4, random_state=7)
    assert first.tolist() == cluster_then_pick(utilities, points, 5, 4, random_state=7).tolist()
    assert np.all(np.diff(utilities[first]) <= 0)  # by descending utility


def test_greedy_sequential_updates_between_picks():
    base = np.array([5.0, 4.9, 1.0, 0.5])
    near = np.array([[0, 1], [1, 0], [2, 3], [3, 2]])

    def score(chosen):
        penalty = np.zeros(4)
        for c in chosen:
            penalty[near[c, 1]] += 10.0
        return base - penalty

    # 0 first; then 1 is penalised below 2; then 1 (−5.1) still beats 3 (0.5 − 10).
    assert greedy_sequential(score, 3, 4, random_state=0).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="must return 4"):
        greedy_sequential(lambda chosen: np.zeros(3), 1, 4)
