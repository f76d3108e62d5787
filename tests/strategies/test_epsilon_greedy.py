"""Epsilon-greedy: the base strategy's ranking with random exploration per pick."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from activelab.strategies import EpsilonGreedy, Margin
from activelab.strategies._epsilon_greedy import epsilon_greedy


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    return LogisticRegression().fit(X[:30], y[:30]), X[30:]


def test_epsilon_zero_is_the_base_strategy(problem):
    model, pool = problem
    ours = EpsilonGreedy("margin", epsilon=0.0).query(model, pool, 10, random_state=4)
    base = Margin().query(model, pool, 10, random_state=4)
    assert ours.tolist() == base.tolist()


def test_epsilon_one_is_uniform(problem):
    model, pool = problem
    counts = np.zeros(len(pool))
    for seed in range(400):
        counts[EpsilonGreedy("margin", epsilon=1.0).query(model, pool, 5, random_state=seed)] += 1
    expected = 400 * 5 / len(pool)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 250  # 169 degrees of freedom: the 99.99 % quantile is about 240


def test_explored_share_is_epsilon(problem):
    model, pool = problem
    greedy = set(Margin().query(model, pool, 40, random_state=0).tolist())
    off = [
        len(
            set(EpsilonGreedy(epsilon=0.3).query(model, pool, 40, random_state=s).tolist()) - greedy
        )
        for s in range(50)
    ]
    # explored slots land outside the base's top 40 with probability 130/170
    assert 0.3 * 40 * 130 / 170 * 0.7 < np.mean(off) < 0.3 * 40 * 1.3


def test_bad_epsilon(problem):
    model, pool = problem
    with pytest.raises(ValueError, match="epsilon"):
        EpsilonGreedy(epsilon=1.5).query(model, pool, 2)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 30), seed=st.integers(0, 1000), epsilon=st.floats(0, 1))
def test_property_greedy_slots_follow_the_ranking(n, seed, epsilon):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, n + 1))
    ranking = rng.permutation(n)[:k]
    picks = epsilon_greedy(ranking, n, epsilon, np.random.default_rng(seed))
    assert len(set(picks.tolist())) == k and picks.min() >= 0 and picks.max() < n
    explore = np.random.default_rng(seed).random(k) < epsilon
    greedy_picks = picks[~explore]
    positions = [int(np.flatnonzero(ranking == p)[0]) for p in greedy_picks]
    assert positions == sorted(positions)  # greedy slots keep the base's order
