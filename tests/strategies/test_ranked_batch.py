"""Ranked batch-mode sampling against a plain reference and modAL's picks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from activelab.strategies import RankedBatch
from activelab.strategies._ranked_batch import ranked_batch


def reference(uncertainty, pool, k, labeled):
    """Cardoso et al.'s rule written out: one pick at a time, distances recomputed."""
    pool = np.asarray(pool, dtype=np.float64)
    chosen_points = [] if labeled is None else [np.asarray(x, dtype=np.float64) for x in labeled]
    picks = []
    n, m = len(pool), len(chosen_points)
    if not chosen_points:
        mean = [np.mean([np.linalg.norm(a - b) for b in pool]) for a in pool]
        picks.append(int(np.argmin(mean)))
        chosen_points.append(pool[picks[0]])
    while len(picks) < k:
        alpha = (n - len(picks)) / (n + m)
        best, best_score = None, -np.inf
        for i in range(n):
            if i in picks:
                continue
            distance = min(np.linalg.norm(pool[i] - c) for c in chosen_points)
            score = alpha * (1 - 1 / (1 + distance)) + (1 - alpha) * uncertainty[i]
            if score > best_score:
                best, best_score = i, score
        picks.append(best)
        chosen_points.append(pool[best])
    return picks


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=160, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=4
    )
    model = LogisticRegression(max_iter=500).fit(X[:30], y[:30])
    return model, X[:30], y[:30], X[30:]


def test_matches_the_reference_with_and_without_labels(problem):
    model, X_lab, _, pool = problem
    uncertainty = 1 - model.predict_proba(pool).max(axis=1)
    for labeled in (X_lab, None):
        picks = ranked_batch(uncertainty, pool, 12, labeled, random_state=0)
        assert picks.tolist() == reference(uncertainty, pool, 12, labeled)


def test_strategy_uses_least_confidence_and_embeddings(problem):
    model, X_lab, y_lab, pool = problem
    uncertainty = 1 - model.predict_proba(pool).max(axis=1)
    picks = RankedBatch().query(model, pool, 8, X_lab, y_lab, random_state=0)
    assert picks.tolist() == reference(uncertainty, pool, 8, X_lab)
    entropy = RankedBatch(uncertainty="entropy").query(model, pool, 8, X_lab, y_lab, 0)
    assert len(set(entropy.tolist())) == 8


def test_many_labels_make_it_uncertainty_sampling(problem):
    """α → 0 as |L| grows: the picks become the most uncertain items."""
    _, _, _, pool = problem
    rng = np.random.default_rng(0)
    uncertainty = rng.random(len(pool))
    labeled = rng.normal(size=(200_000, pool.shape[1]))
    picks = ranked_batch(uncertainty, pool, 5, labeled, random_state=0)
    assert set(picks.tolist()) == set(np.argsort(-uncertainty)[:5].tolist())


def test_errors_say_what_is_wrong(problem):
    _, X_lab, _, pool = problem
    with pytest.raises(ValueError, match="uncertainties for"):
        ranked_batch(np.ones(3), pool, 2, X_lab)
    with pytest.raises(ValueError, match="features"):
        ranked_batch(np.ones(len(pool)), pool, 2, X_lab[:, :2])
    with pytest.raises(ValueError, match="cold_start_sample"):
        RankedBatch(cold_start_sample=0).query(problem[0], pool, 2, X_lab, None, 0)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(3, 12),
    m=st.integers(0, 4),
    seed=st.integers(0, 10_000),
)
def test_property_matches_reference(n, m, seed):
    rng = np.random.default_rng(seed)
    pool = rng.normal(size=(n, 2))
    labeled = rng.normal(size=(m, 2)) if m else None
    uncertainty = rng.random(n)
    k = int(rng.integers(1, n + 1))
    picks = ranked_batch(uncertainty, pool, k, labeled, random_state=seed)
    assert len(set(picks.tolist())) == k
    assert picks.tolist() == reference(uncertainty, pool, k, labeled)


def test_same_picks_as_modal(problem):
    modal_batch = pytest.importorskip("modAL.batch")
    from modAL.models import ActiveLearner

    _, X_lab, y_lab, pool = problem
    learner = ActiveLearner(
        estimator=LogisticRegression(max_iter=500),
        X_training=X_lab,
        y_training=y_lab,
        query_strategy=modal_batch.uncertainty_batch_sampling,
    )
    expected, _ = learner.query(pool, n_instances=10)
    ours = RankedBatch().query(learner.estimator, pool, 10, X_lab, y_lab, random_state=0)
    assert ours.tolist() == np.asarray(expected).tolist()
