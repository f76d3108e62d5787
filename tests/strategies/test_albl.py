"""ALBL: EXP4.P by hand, IW-ACC by hand, learning which expert pays, state across rounds.

The EXP4.P step and the reward are checked against numbers written out in the test; the
bandit is checked to move its weight to the expert whose picks make the model right, both
on the update alone and end to end through simulate() with a model built to reward one
expert; the draw probabilities against the mixture formula; and the state for what a
loop relies on (labels learned from X_labeled, a clone starts fresh).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression

import activelab as al
from activelab.models import ModelAdapter
from activelab.strategies import Margin, Strategy
from activelab.strategies._albl import (
    ALBL,
    default_p_min,
    exp4p_probabilities,
    exp4p_update,
    iw_accuracy,
    row_keys,
)
from activelab.training import selection_probabilities


def test_exp4p_probabilities_by_hand():
    p = exp4p_probabilities(np.log([1.0, 2.0, 1.0]), 0.1)
    assert np.allclose(p, [0.7 * 0.25 + 0.1, 0.7 * 0.5 + 0.1, 0.7 * 0.25 + 0.1])
    assert np.allclose(exp4p_probabilities(np.array([1000.0, 0.0]), 0.0), [1.0, 0.0])


def test_exp4p_update_by_hand():
    log_w = np.log([1.0, 2.0, 1.0])
    p = np.array([0.275, 0.45, 0.275])
    # Expert 0 recommended the drawn item, expert 1 did not, expert 2 is uniform over 10.
    advice = np.array([1.0, 0.0, 0.1])
    q = 0.275 * 1.0 + 0.45 * 0.0 + 0.275 * 0.1
    assert q == pytest.approx(0.3025)
    p_min, delta, horizon, reward = 0.1, 0.1, 50, 0.4
    bonus = np.sqrt(np.log(3 / 0.1) / (3 * 50))
    expected = [
        np.log(1.0) + 0.05 * (0.4 * 1.0 / 0.3025 + bonus / 0.275),
        np.log(2.0) + 0.05 * (0.0 + bonus / 0.45),
        np.log(1.0) + 0.05 * (0.4 * 0.1 / 0.3025 + bonus / 0.275),
    ]
    new = exp4p_update(log_w, advice, p, q, reward, p_min, delta, horizon)
    assert np.allclose(new, expected)


def test_iw_accuracy_and_default_p_min_by_hand():
    correct = np.array([True, False, True, True])
    importance = np.array([2.0, 5.0, 1.5, 10.0])
    assert iw_accuracy(correct, importance, 20, 5) == pytest.approx((2.0 + 1.5 + 10.0) / 100)
    assert default_p_min(3, 100) == pytest.approx(np.sqrt(np.log(3) / 300))
    assert default_p_min(2, 1) == 0.5  # capped at 1/N
    assert default_p_min(1, 10) == 0.0


def test_the_expert_that_keeps_winning_gets_the_weight():
    rng = np.random.default_rng(0)
    n_experts, horizon, p_min, delta = 3, 300, default_p_min(3, 300), 0.1
    log_w = np.zeros(n_experts)
    for _ in range(horizon):
        p = exp4p_probabilities(log_w, p_min)
        drawn = rng.choice(n_experts, p=p)
        advice = np.eye(n_experts)[drawn]  # each expert recommends its own item
        reward = 1.0 if drawn == 1 else 0.0
        log_w = exp4p_update(log_w, advice, p, p[drawn], reward, p_min, delta, horizon)
    p = exp4p_probabilities(log_w, p_min)
    assert np.argmax(p) == 1
    assert p[1] > 0.8 and p[1] <= 1 - 2 * p_min + 1e-12
    assert p.min() >= p_min - 1e-12


class Rightmost(Strategy):
    """Recommends the pool items with the largest first feature."""

    name: ClassVar[str] = "rightmost"
    summary: ClassVar[str] = "test expert"
    reference: ClassVar[str] = "—"

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return np.argsort(-np.asarray(X_pool)[:, 0], kind="stable")[:k].astype(np.int64)


class Leftmost(Rightmost):
    """Recommends the pool items with the smallest first feature."""

    name: ClassVar[str] = "leftmost"

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return np.argsort(np.asarray(X_pool)[:, 0], kind="stable")[:k].astype(np.int64)


class Judge(ModelAdapter):
    """Right on every item after learning a right-side item last, wrong on every item after
    a left-side one: the rewards say exactly which expert's pick was good."""

    @property
    def classes_(self):
        return np.array([0, 1])

    def fit(self, X, y):
        self.good_ = bool(np.asarray(X)[-1, 0] > 0)
        return self

    def predict_proba(self, X):
        truth = (np.asarray(X)[:, 1] > 0).astype(int)
        predicted = truth if self.good_ else 1 - truth
        return np.eye(2)[predicted] * 0.8 + 0.1


def sides(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, (X[:, 1] > 0).astype(int)


def test_albl_in_simulate_learns_which_expert_pays():
    X, y = sides()
    albl = ALBL(experts=[Rightmost(), Leftmost(), "random"], horizon=60)
    al.simulate(Judge(), albl, X, y, X, y, initial=4, batch_size=1, budget=64, random_state=0)
    p = albl.expert_probabilities_
    # Started equal; the expert whose picks make the model right leads, the one whose
    # picks make it wrong is last (random is right half of the time).
    assert np.argmax(p) == 0 and np.argmin(p) == 1
    assert p[0] > p[1] + 0.15
    assert len(albl.rewards_) >= 59  # one update per learned pick, plus free draws


def test_picks_are_drawn_from_the_expert_mixture():
    X, y = sides(40)
    model = Judge().fit(X[:1] + 2.0, y[:1])  # reads only, a right-side last item
    albl = ALBL(experts=[Rightmost(), Leftmost(), "random"], horizon=10)
    right, left = int(np.argmax(X[:, 0])), int(np.argmin(X[:, 0]))
    counts = np.zeros(len(y))
    trials = 1500
    for seed in range(trials):
        fresh = clone(albl)
        pick = fresh.query(model, X, 1, random_state=seed)
        counts[pick[0]] += 1
        q = fresh.selection_probabilities_[0]
        expected = 1 / 3 * (pick[0] == right) + 1 / 3 * (pick[0] == left) + 1 / 3 / len(y)
        assert q == pytest.approx(expected)
    share = 1 / 3 + 1 / 3 / len(y)
    for item in (right, left):
        assert abs(counts[item] / trials - share) < 4 * np.sqrt(share * (1 - share) / trials)


def blobs():
    X, y = make_blobs(200, centers=3, cluster_std=1.5, random_state=1)
    return X, y


def test_batches_are_valid_and_probabilities_exposed():
    X, y = blobs()
    labeled = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    model = LogisticRegression(max_iter=500).fit(X[labeled], y[labeled])
    albl = ALBL(horizon=30)
    picks = albl.query(model, X[pool], 8, X[labeled], y[labeled], random_state=0)
    assert picks.dtype == np.int64 and np.unique(picks).shape == (8,)
    assert picks.min() >= 0 and picks.max() < len(pool)
    q = albl.selection_probabilities_
    assert q.shape == (8,) and np.all((q > 0) & (q <= 1))
    assert np.array_equal(selection_probabilities(albl, model, X[pool], picks), q)
    assert [type(e).__name__ for e in albl.experts_] == ["Margin", "CoreSet", "RandomSampling"]


def test_labels_of_picks_are_learned_from_the_labeled_rows_added_since():
    X, y = blobs()
    labeled = list(np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)]))
    model = LogisticRegression(max_iter=500).fit(X[labeled], y[labeled])
    albl = ALBL(experts=["margin", "random"], horizon=20)
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    picks = pool[albl.query(model, X[pool], 3, X[labeled], y[labeled], random_state=0)]
    assert albl.rewards_ == []
    # Not labeled (skipped): nothing is learned, and nothing is remembered.
    albl.query(model, X[pool], 3, X[labeled], y[labeled], random_state=1)
    assert albl.rewards_ == []
    picks = pool[albl.query(model, X[pool], 3, X[labeled], y[labeled], random_state=2)]
    labeled += [picks[2], picks[0]]  # two of three taught, in another order
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    albl.query(model, X[pool], 2, X[labeled], y[labeled], random_state=3)
    assert len(albl.rewards_) >= 2
    assert np.array_equal(albl._labeled_y, y[[picks[0], picks[2]]])


def test_a_smaller_labeled_set_starts_over_and_a_clone_starts_fresh():
    X, y = blobs()
    labeled = np.concatenate([np.flatnonzero(y == c)[:3] for c in range(3)])
    model = LogisticRegression(max_iter=500).fit(X[labeled], y[labeled])
    albl = ALBL(experts=["margin", "random"], horizon=20)
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    for seed in range(4):
        picks = pool[albl.query(model, X[pool], 2, X[labeled], y[labeled], seed)]
        labeled = np.concatenate([labeled, picks])
        pool = np.setdiff1d(pool, picks)
    assert len(albl.rewards_) >= 6 and not np.allclose(albl.log_weights_, 0.0)
    fresh = clone(albl)
    assert not hasattr(fresh, "experts_") and fresh.get_params() == albl.get_params()
    albl.query(model, X[pool], 2, X[labeled[:4]], y[labeled[:4]], random_state=0)
    assert albl.rewards_ == [] and np.allclose(albl.log_weights_, 0.0)


def test_free_draws_of_labeled_picks_are_rewarded_at_once():
    X, y = blobs()
    labeled = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    model = LogisticRegression(max_iter=500).fit(X[labeled], y[labeled])
    albl = ALBL(experts=["random"], horizon=50)
    pool = np.setdiff1d(np.arange(len(y)), labeled)[:30]
    for seed in range(12):
        picks = pool[albl.query(model, X[pool], 2, X[labeled], y[labeled], seed)]
        labeled = np.concatenate([labeled, picks])
        pool = np.setdiff1d(pool, picks)
    learned = len(albl._labeled_y)
    assert learned == 22
    assert len(albl.rewards_) > learned  # draws that landed on labeled picks


def test_albl_through_active_learner_with_importance_weights():
    X, y = blobs()
    start = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    learner = al.ActiveLearner(
        LogisticRegression(max_iter=500),
        ALBL(experts=[Margin(), "random"], horizon=20),
        importance_weighting=True,
        random_state=0,
    )
    learner.fit(X[start], y[start])
    pool = np.setdiff1d(np.arange(len(y)), start)
    for _ in range(4):
        picks = learner.query(X[pool], k=3)
        learner.teach(X[pool[picks]], y[pool[picks]])
        pool = np.delete(pool, picks)
    assert learner.n_labeled == 18
    assert len(learner.strategy.rewards_) >= 9
    assert not np.allclose(learner._ratios[6:], 1.0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (dict(experts=[]), "empty"),
        (dict(experts="margin"), "list"),
        (dict(experts=["margin", "albl"]), "own experts"),
        (dict(experts=["margin", 3]), "registry name"),
        (dict(horizon=0), "horizon"),
        (dict(horizon=2.5), "horizon"),
        (dict(delta=0.0), "delta"),
        (dict(p_min=0.6), "p_min"),
        (dict(p_min=0.0), "p_min"),
        (dict(experts=["margn"]), "Did you mean"),
    ],
)
def test_invalid_parameters_are_clear_errors(params, message):
    X, y = blobs()
    model = LogisticRegression(max_iter=500).fit(X[:30], y[:30])
    with pytest.raises(ValueError, match=message):
        ALBL(**params).query(model, X[30:], 2, X[:30], y[:30], random_state=0)


def test_row_keys_match_equal_content_across_types():
    import pandas as pd
    import scipy.sparse as sp

    dense = np.array([[1, 0, 2], [0, 0, 0], [1, 0, 2]])
    keys = row_keys(dense)
    assert keys[0] == keys[2] != keys[1]
    assert row_keys(dense.astype(float)) == keys
    assert row_keys(pd.DataFrame(dense)) == keys
    sparse = row_keys(sp.csr_matrix(dense))
    assert sparse[0] == sparse[2] != sparse[1]
    assert row_keys(["a b", "c", "a b"]) == ["a b", "c", "a b"]
