"""Cost-embedding active learning (ALCE): cost checks, the embedding, the uncertainty."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.ensemble import RandomForestRegressor
from sklearn.isotonic import isotonic_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import SVR

from activelab.strategies._cost_embedding import (
    CostEmbedding,
    _isotonic,
    check_cost_matrix,
    embed_costs,
)


def cross_distances(true_points, predicted):
    """D[y, y'] = |z_y - ẑ_y'|, by a plain double loop."""
    C = len(true_points)
    return np.array(
        [[np.linalg.norm(true_points[a] - predicted[b]) for b in range(C)] for a in range(C)]
    )


@pytest.fixture(scope="module")
def problem():
    X, y = make_blobs(n_samples=150, centers=3, cluster_std=2.0, random_state=0)
    return X[:30], y[:30], X[30:]


# -------------------------------------------------------------------- cost matrix


def test_default_cost_is_zero_one():
    np.testing.assert_array_equal(check_cost_matrix(None, 3), 1 - np.eye(3))


@pytest.mark.parametrize(
    ("costs", "message"),
    [
        (np.ones((2, 3)), r"shape \(3, 3\).*got shape \(2, 3\)"),
        (1 - np.eye(2), r"shape \(3, 3\)"),
        ([[0, 1, -1], [1, 0, 1], [1, 1, 0]], r"cost_matrix\[0, 2\] = -1 is negative"),
        ([[0, 1, 1], [1, 0.5, 1], [1, 1, 0]], r"cost_matrix\[1, 1\] = 0.5.*zero diagonal"),
        ([[0, 1, np.inf], [1, 0, 1], [1, 1, 0]], r"cost_matrix\[0, 2\] is inf"),
        (np.zeros((3, 3)), "no positive cost"),
        ("costs", "array of numbers"),
    ],
)
def test_bad_cost_matrices_are_refused(costs, message):
    with pytest.raises(ValueError, match=message):
        check_cost_matrix(costs, 3)


def test_strategy_checks_the_cost_matrix_against_the_classes(problem):
    X, y, pool = problem
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        CostEmbedding(cost_matrix=1 - np.eye(4)).query(None, pool, 2, X, y, 0)
    with pytest.raises(ValueError, match="zero diagonal"):
        CostEmbedding(cost_matrix=np.ones((3, 3))).query(None, pool, 2, X, y, 0)


# ----------------------------------------------------------------------- embedding


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(st.floats(-100, 100), min_size=1, max_size=30),
    seed=st.integers(0, 1000),
)
def test_isotonic_fit_matches_scikit_learn(values, seed):
    weights = np.random.default_rng(seed).uniform(0.1, 3.0, size=len(values))
    expected = isotonic_regression(values, sample_weight=weights, increasing=True)
    np.testing.assert_allclose(_isotonic(np.asarray(values), weights), expected, atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_zero_one_cost_embeds_as_a_regular_simplex(n_classes):
    true_points, predicted = embed_costs(1 - np.eye(n_classes), random_state=0)
    distances = cross_distances(true_points, predicted)
    np.testing.assert_allclose(np.diag(distances), 0.0, atol=1e-3)
    off = distances[~np.eye(n_classes, dtype=bool)]
    np.testing.assert_allclose(off, 1.0, rtol=1e-3)  # edge 1: in units of the largest cost


def test_embedding_is_in_units_of_the_largest_cost():
    costs = np.array([[0.0, 1.0, 3.0], [2.0, 0.0, 1.0], [3.0, 2.0, 0.0]])
    small = cross_distances(*embed_costs(costs, random_state=1))
    large = cross_distances(*embed_costs(250.0 * costs, random_state=1))
    np.testing.assert_allclose(small, large, rtol=1e-9, atol=1e-12)
    off = ~np.eye(3, dtype=bool)
    target = costs[off] / costs.max()
    scale = (small[off] @ target) / (small[off] @ small[off])
    np.testing.assert_allclose(scale, 1.0, rtol=1e-9)  # already the least-squares scale


def test_metric_embedding_reproduces_costs_that_embed_on_a_line():
    """|i - j| is the distance of points 0, 1, 2, 3 on a line: metric MDS finds it."""
    costs = np.abs(np.subtract.outer(np.arange(4.0), np.arange(4.0)))
    true_points, predicted = embed_costs(costs, metric=True, random_state=0)
    distances = cross_distances(true_points, predicted)
    ratio = distances[costs > 0] / costs[costs > 0]
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-2)  # SMACOF stops at tol
    np.testing.assert_allclose(np.diag(distances), 0.0, atol=1e-2)


def kruskal_stress(costs, true_points, predicted):
    """Kruskal's stress-1 of the cross distances against their best monotone fit."""
    distances = cross_distances(true_points, predicted)
    off = ~np.eye(len(costs), dtype=bool)
    order = np.argsort(costs[off], kind="stable")
    d = distances[off][order]
    # Tied costs share one disparity (the secondary approach): fit the mean of each tie.
    _, tie, counts = np.unique(costs[off][order], return_inverse=True, return_counts=True)
    means = np.bincount(tie, weights=d) / counts
    fitted = isotonic_regression(means, sample_weight=counts)[tie]
    residual = np.sum((d - fitted) ** 2) + np.sum(np.diag(distances) ** 2)  # zero costs: 0
    return np.sqrt(residual / np.sum(distances**2))


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), n_classes=st.integers(2, 5))
def test_nonmetric_refinement_lowers_the_nonmetric_stress(seed, n_classes):
    rng = np.random.default_rng(seed)
    costs = rng.integers(1, 6, size=(n_classes, n_classes)).astype(float)
    np.fill_diagonal(costs, 0.0)
    metric = kruskal_stress(costs, *embed_costs(costs, n_init=2, random_state=seed))
    refined = kruskal_stress(costs, *embed_costs(costs, n_init=2, metric=False, random_state=seed))
    assert refined <= metric + 1e-6
    assert refined < 0.15  # "fair" or better on Kruskal's scale


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), n_classes=st.integers(3, 6))
@example(seed=251, n_classes=5)
def test_metric_embedding_keeps_the_costs_and_the_right_decisions(seed, n_classes):
    rng = np.random.default_rng(seed)
    costs = rng.integers(1, 10, size=(n_classes, n_classes)).astype(float)
    np.fill_diagonal(costs, 0.0)
    if np.ptp(costs[~np.eye(n_classes, dtype=bool)]) == 0:
        return
    distances = cross_distances(*embed_costs(costs, n_init=2, random_state=seed))
    off = ~np.eye(n_classes, dtype=bool)
    # An item regressed onto z_y is predicted as y or, where metric MDS cannot keep two
    # cheap-to-confuse classes apart, as the class cheapest to confuse it with; cost
    # levels stay apart.
    predicted = distances.argmin(axis=1)
    cheapest = np.where(off, costs, np.inf).min(axis=1)
    for truth, guess in enumerate(predicted):
        assert guess == truth or costs[truth, guess] <= cheapest[truth]
    assert np.mean(predicted == np.arange(n_classes)) >= 0.6
    assert np.corrcoef(costs[off], distances[off])[0, 1] > 0.5


def test_asymmetric_cost_is_embedded_as_it_is():
    costs = np.array([[0.0, 1.0, 4.0], [4.0, 0.0, 1.0], [1.0, 4.0, 0.0]])
    distances = cross_distances(*embed_costs(costs, metric=True, random_state=0))
    assert distances[0, 1] < distances[1, 0]
    assert distances[1, 2] < distances[2, 1]


def test_embedding_is_reproducible():
    costs = [[0, 1, 3], [1, 0, 2], [3, 2, 0]]
    first = embed_costs(costs, random_state=5)
    again = embed_costs(costs, random_state=5)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def test_embed_costs_refuses_non_matrices():
    with pytest.raises(ValueError, match="square cost matrix"):
        embed_costs([0, 1])
    with pytest.raises(ValueError, match="embed_dim must be an int"):
        embed_costs(1 - np.eye(3), embed_dim=0)


# ----------------------------------------------------------------------- utilities


def reference_utilities(X, y, pool, costs, regressor, seed):
    """ALCE step by step: embed, regress each dimension, distance to the nearest ẑ."""
    rng = np.random.default_rng(seed)
    true_points, predicted = embed_costs(costs, random_state=rng)
    targets = true_points[np.searchsorted(np.unique(y), y)]
    regressed = np.column_stack(
        [regressor.fit(X, targets[:, j]).predict(pool) for j in range(targets.shape[1])]
    )
    return np.array([min(np.linalg.norm(g - p) for p in predicted) for g in regressed])


@pytest.mark.parametrize(
    "costs", [None, [[0, 1, 5], [1, 0, 1], [5, 1, 0]], [[0, 2, 1], [9, 0, 3], [1, 1, 0]]]
)
def test_utilities_match_the_step_by_step_reference(problem, costs):
    X, y, pool = problem
    strategy = CostEmbedding(cost_matrix=costs)
    ours = strategy.utilities(None, pool, X, y, random_state=3)
    full = 1 - np.eye(3) if costs is None else np.asarray(costs, dtype=float)
    expected = reference_utilities(X, y, pool, full, SVR(), 3)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)


def test_zero_one_cost_is_distance_to_the_nearest_one_hot_code(problem):
    """With least squares the simplex is one-hot codes up to rotation, shift and scale."""
    X, y, pool = problem
    ours = CostEmbedding(regressor=LinearRegression()).utilities(None, pool, X, y, 0)
    codes = np.eye(3)[y]
    regressed = LinearRegression().fit(X, codes).predict(pool)
    expected = np.array([min(np.linalg.norm(g - c) for c in np.eye(3)) for g in regressed])
    ratio = ours / expected
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-6)


def test_query_takes_the_most_uncertain_first(problem):
    X, y, pool = problem
    strategy = CostEmbedding(cost_matrix=[[0, 1, 5], [1, 0, 1], [5, 1, 0]])
    utilities = strategy.utilities(None, pool, X, y, random_state=4)
    picks = strategy.query(None, pool, 6, X, y, random_state=4)
    assert picks.tolist() == np.argsort(-utilities, kind="stable")[:6].tolist()


def test_costs_change_the_ranking(problem):
    X, y, pool = problem
    zero_one = CostEmbedding().utilities(None, pool, X, y, 0)
    skewed = CostEmbedding(cost_matrix=[[0, 1, 20], [1, 0, 1], [20, 1, 0]], metric=True)
    assert not np.allclose(zero_one, skewed.utilities(None, pool, X, y, 0))


def test_without_labels_the_batch_is_random(problem):
    _, _, pool = problem
    strategy = CostEmbedding()
    np.testing.assert_array_equal(strategy.utilities(None, pool, None, None), 0.0)
    picks = {strategy.query(None, pool, 1, random_state=seed)[0] for seed in range(20)}
    assert len(picks) > 5


def test_classes_come_from_the_model_then_the_parameter(problem):
    X, y, pool = problem
    names = np.array(["ant", "bee", "cat"])[y]
    model = LogisticRegression().fit(X, names)
    costs = [[0, 1, 5], [1, 0, 1], [5, 1, 0]]
    with_model = CostEmbedding(cost_matrix=costs).utilities(model, pool, X, names, 1)
    by_int = CostEmbedding(cost_matrix=costs).utilities(None, pool, X, y, 1)
    np.testing.assert_allclose(with_model, by_int, rtol=1e-12)
    only_two = y < 2  # one class unseen: classes= keeps the 3 × 3 matrix usable
    strategy = CostEmbedding(cost_matrix=costs, classes=[0, 1, 2])
    assert strategy.utilities(None, pool, X[only_two], y[only_two], 1).shape == (len(pool),)
    with pytest.raises(ValueError, match=r"not in the classes \[0, 1\]"):
        CostEmbedding(classes=[0, 1]).query(None, pool, 1, X, y, 0)


def test_regressor_random_state_is_seeded_from_the_query(problem):
    X, y, pool = problem
    strategy = CostEmbedding(regressor=RandomForestRegressor(n_estimators=5))
    first = strategy.utilities(None, pool, X, y, random_state=7)
    np.testing.assert_array_equal(first, strategy.utilities(None, pool, X, y, random_state=7))


def test_labeled_rows_need_labels(problem):
    X, y, pool = problem
    with pytest.raises(ValueError, match="needs the labels of X_labeled"):
        CostEmbedding().query(None, pool, 1, X, None)
    with pytest.raises(ValueError, match="29 labels for 30 rows"):
        CostEmbedding().query(None, pool, 1, X, y[:-1])


def test_bad_regressor_is_a_type_error(problem):
    X, y, pool = problem
    with pytest.raises(TypeError, match="regressor must be a scikit-learn regressor"):
        CostEmbedding(regressor="svr").query(None, pool, 1, X, y, 0)
