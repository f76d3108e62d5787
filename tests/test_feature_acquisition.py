"""Active feature acquisition: completions, entry queries and the simulated loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from activelab.feature_acquisition import (
    AFASMC,
    CommitteeStability,
    RandomFeatureQuery,
    _singular_value_threshold,
    simulate_feature_acquisition,
    supervised_completion,
    svd_completion,
)


def low_rank(n=30, d=10, rank=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, rank)) @ rng.normal(size=(rank, d))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (5, 4), elements=st.floats(-3, 3)),
    st.floats(0.0, 2.0),
    st.integers(0, 1000),
)
def test_singular_value_thresholding_is_the_nuclear_norm_prox(matrix, threshold, seed):
    """SVT(M, t) minimises ½||Z − M||² + t ||Z||_*: no perturbation does better."""
    Z, nuclear = _singular_value_threshold(matrix, threshold)

    def objective(candidate):
        values = np.linalg.svd(candidate, compute_uv=False)
        return 0.5 * np.sum((candidate - matrix) ** 2) + threshold * values.sum()

    assert nuclear == pytest.approx(np.linalg.svd(Z, compute_uv=False).sum(), abs=1e-9)
    rng = np.random.default_rng(seed)
    for _ in range(5):
        other = Z + rng.normal(scale=0.1, size=Z.shape)
        assert objective(Z) <= objective(other) + 1e-9


def test_completion_keeps_observed_entries_and_recovers_a_low_rank_matrix():
    truth = low_rank()
    mask = np.random.default_rng(1).random(truth.shape) < 0.7
    X = np.where(mask, truth, np.nan)
    y = truth[:, 0] > 0
    unsupervised = supervised_completion(X, mask, y, trace_penalty=0.05, label_weight=0.0)
    np.testing.assert_array_equal(unsupervised[mask], truth[mask])
    error = np.abs(unsupervised - truth)[~mask].mean()
    baseline = np.abs(truth[~mask]).mean()  # what filling with zeros misses by
    assert error < 0.2 * baseline
    by_svd = svd_completion(X, mask, rank=2, max_iter=500)
    np.testing.assert_array_equal(by_svd[mask], truth[mask])
    assert np.abs(by_svd - truth)[~mask].mean() < 0.1 * baseline


def test_the_label_term_makes_the_completion_predict_the_labels():
    truth = low_rank(seed=2)
    mask = np.random.default_rng(3).random(truth.shape) < 0.5
    y = (truth[:, 0] + truth[:, 1] > 0).astype(int)

    def label_residual(Z):
        design = np.hstack([Z, np.ones((Z.shape[0], 1))])
        targets = np.eye(2)[y]
        coef = np.linalg.lstsq(design, targets, rcond=None)[0]
        return float(np.sum((design @ coef - targets) ** 2))

    without = supervised_completion(truth, mask, y, label_weight=0.0)
    with_labels = supervised_completion(truth, mask, y, label_weight=50.0)
    assert label_residual(with_labels) < label_residual(without)


def test_completion_input_errors_are_explained():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="mask of X's shape"):
        supervised_completion(X, np.ones((2, 2), bool), [0, 1, 0])
    with pytest.raises(ValueError, match="True/False"):
        supervised_completion(X, np.full((3, 2), 2), [0, 1, 0])
    with pytest.raises(ValueError, match="one label per row"):
        supervised_completion(X, np.ones((3, 2), bool), [0, 1])
    with pytest.raises(ValueError, match="finite"):
        supervised_completion(np.full((3, 2), np.nan), np.ones((3, 2), bool), [0, 1, 0])
    with pytest.raises(ValueError, match="trace_penalty"):
        supervised_completion(X, np.ones((3, 2), bool), [0, 1, 0], trace_penalty=-1.0)
    with pytest.raises(ValueError, match="rank"):
        svd_completion(X, np.ones((3, 2), bool), rank=3)


@pytest.fixture
def problem():
    truth = low_rank(n=25, d=6, seed=4)
    mask = np.random.default_rng(5).random(truth.shape) < 0.6
    return truth, mask, (truth[:, 0] > 0).astype(int)


def test_afasmc_picks_the_entries_whose_completions_varied_most(problem):
    truth, mask, y = problem
    query = AFASMC()
    first = query.query(truth, mask, y, 4, random_state=0)
    assert not mask[first[:, 0], first[:, 1]].any()
    grown = mask.copy()
    grown[first[:, 0], first[:, 1]] = True
    second = query.query(truth, grown, y, 5, random_state=0)
    variance = np.var(np.stack(query.completions_), axis=0)
    variance[grown] = -np.inf
    expected = np.argsort(-variance.ravel(), kind="stable")[:5]
    assert sorted(map(tuple, second.tolist())) == sorted(
        zip(*np.unravel_index(expected, mask.shape), strict=True)
    )
    assert len(query.completions_) == 2
    with pytest.raises(ValueError, match="reset"):
        query.query(truth[:10], mask[:10], y[:10], 1)
    assert query.reset().completions_ == []


def test_committee_stability_picks_the_largest_disagreement(problem):
    truth, mask, y = problem
    picks = CommitteeStability(ranks=(1, 2)).query(truth, mask, y, 3, random_state=0)
    members = np.stack([svd_completion(truth, mask, rank=r) for r in (1, 2)])
    variance = np.var(members, axis=0)
    variance[mask] = -np.inf
    expected = set(np.argsort(-variance.ravel(), kind="stable")[:3].tolist())
    assert {int(r) * mask.shape[1] + int(c) for r, c in picks} == expected
    with pytest.raises(ValueError, match="at least 2 ranks"):
        CommitteeStability(ranks=(2,)).query(truth, mask, y, 1)


def test_random_query_picks_distinct_unobserved_entries_and_refuses_a_full_matrix(problem):
    truth, mask, y = problem
    picks = RandomFeatureQuery().query(truth, mask, y, 10, random_state=0)
    assert len({tuple(p) for p in picks.tolist()}) == 10
    assert not mask[picks[:, 0], picks[:, 1]].any()
    with pytest.raises(ValueError, match="nothing to acquire"):
        RandomFeatureQuery().query(truth, np.ones_like(mask), y, 1)


def test_simulation_buys_the_budget_and_reveals_what_it_bought():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    result = simulate_feature_acquisition(
        LogisticRegression(max_iter=300),
        AFASMC(),
        X[:60],
        y[:60],
        X[1000:1200],
        y[1000:1200],
        initial_fraction=0.2,
        batch_size=40,
        budget=100,
        random_state=0,
    )
    bought, scores = result.curve()
    assert bought.tolist() == [0, 40, 80, 100]
    assert np.all((scores >= 0) & (scores <= 1))
    entries = np.concatenate([r.entries for r in result.history])
    assert len({tuple(e) for e in entries.tolist()}) == 100
    assert result.observed[entries[:, 0], entries[:, 1]].all()
    assert result.observed.any(axis=1).all()  # every row starts with a known value
    with pytest.raises(ValueError, match="complete, finite"):
        simulate_feature_acquisition(
            LogisticRegression(), RandomFeatureQuery(), np.full((3, 2), np.nan), [0, 1, 0], X, y
        )
