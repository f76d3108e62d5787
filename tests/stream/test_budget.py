"""Budget managers against plain loops written from the papers, and their long-run rates."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from activelab import stream

ZLIOBAITE = [
    stream.FixedUncertaintyBudget,
    stream.VariableUncertaintyBudget,
    stream.RandomVariableUncertaintyBudget,
    stream.SplitBudget,
    stream.RandomBudget,
]
ALL = [
    *ZLIOBAITE,
    stream.DensityBasedSplitBudget,
    stream.BalancedIncrementalQuantileFilter,
    stream.PeriodicBudget,
    stream.CumulativeBudget,
]


class Draws:
    """A stand-in generator that hands out given draws and records which were asked for."""

    def __init__(self, uniforms=(), normals=()):
        self.uniforms = list(uniforms)
        self.normals = list(normals)
        self.asked: list[str] = []

    def random(self, size=None):
        self.asked.append("uniform")
        return self.uniforms.pop(0)

    def normal(self, loc=0.0, scale=1.0):
        self.asked.append("normal")
        return loc + scale * self.normals.pop(0)


def started(manager, n_classes=2, draws=None):
    manager.reset(n_classes, 0)
    if draws is not None:
        manager.rng_ = draws
    return manager


# ------------------------------------------------------------------ plain references


def reference_variable(utilities, b, w, theta, s, multipliers=None, split=None):
    """Žliobaitė et al. 2014, Algorithms 2–4, as plain loops.

    ``multipliers`` (Alg. 3): one η per item that had budget. ``split`` (Alg. 4):
    ``(v, uniforms)``, the uniforms taken in order as the manager asks for them.
    """
    u_hat, out = 0.0, []
    multipliers = list(multipliers or [])
    uniforms = list(split[1]) if split else []
    for utility in utilities:
        query = False
        if u_hat / w < b:
            if split and uniforms.pop(0) < split[0]:
                query = uniforms.pop(0) <= b
            else:
                threshold = theta * (multipliers.pop(0) if multipliers else 1.0)
                query = (1 - utility) < threshold
                theta = theta * (1 - s) if query else theta * (1 + s)
        u_hat = u_hat * ((w - 1) / w) + query
        out.append(query)
    return np.array(out)


def reference_fixed(utilities, b, w, n_classes):
    theta = 1 / n_classes + b * (1 - 1 / n_classes)
    u_hat, out = 0.0, []
    for utility in utilities:
        query = (u_hat / w < b) and (1 - utility) <= theta
        u_hat = u_hat * ((w - 1) / w) + query
        out.append(query)
    return np.array(out)


def reference_biqf(utilities, b, w, w_tol):
    window, queried, out = deque(maxlen=w), 0, []
    for t, utility in enumerate(utilities, start=1):
        window.append(utility)
        theta = np.quantile(list(window), 1 - b)
        balanced = theta - (max(window) - min(window)) * ((b * t - queried) / w_tol)
        query = utility >= balanced
        queried += query
        out.append(query)
    return np.array(out)


utility_lists = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=300)
budgets = st.floats(0.01, 0.9)


# ------------------------------------------------------------- exact decisions


@settings(max_examples=40, deadline=None)
@given(utility_lists, budgets, st.integers(1, 50), st.integers(2, 5))
def test_fixed_uncertainty_matches_the_paper(utilities, b, w, n_classes):
    manager = started(stream.FixedUncertaintyBudget(budget=b, w=w), n_classes)
    expected = reference_fixed(utilities, b, w, n_classes)
    assert manager.decide_many(utilities).tolist() == expected.tolist()


@settings(max_examples=40, deadline=None)
@given(utility_lists, budgets, st.integers(1, 50), st.floats(0.01, 0.5), st.floats(0.1, 2.0))
def test_variable_uncertainty_matches_the_paper(utilities, b, w, s, theta):
    manager = started(stream.VariableUncertaintyBudget(budget=b, w=w, theta=theta, s=s))
    expected = reference_variable(utilities, b, w, theta, s)
    assert manager.decide_many(utilities).tolist() == expected.tolist()


@settings(max_examples=30, deadline=None)
@given(utility_lists, budgets, st.integers(0, 2**32 - 1))
def test_randomised_variable_uncertainty_matches_the_paper_on_the_same_draws(utilities, b, seed):
    normals = np.random.default_rng(seed).normal(size=len(utilities)).tolist()
    draws = Draws(normals=normals)
    manager = started(stream.RandomVariableUncertaintyBudget(budget=b, delta=0.5), draws=draws)
    decisions = manager.decide_many(utilities)
    used = len(draws.asked)  # one normal per item that had budget, in order
    multipliers = [1 + 0.5 * z for z in normals[:used]]
    expected = reference_variable(utilities, b, 100, 1.0, 0.01, multipliers=multipliers)
    assert decisions.tolist() == expected.tolist()


@settings(max_examples=30, deadline=None)
@given(utility_lists, budgets, st.integers(0, 2**32 - 1))
def test_split_matches_the_paper_on_the_same_draws(utilities, b, seed):
    uniforms = np.random.default_rng(seed).random(2 * len(utilities)).tolist()
    manager = started(stream.SplitBudget(budget=b, v=0.3), draws=Draws(uniforms=uniforms))
    expected = reference_variable(utilities, b, 100, 1.0, 0.01, split=(0.3, uniforms))
    assert manager.decide_many(utilities).tolist() == expected.tolist()


def test_random_budget_takes_one_draw_per_item_and_never_queries_nan():
    draws = Draws(uniforms=[0.05, 0.05, 0.5, 0.05])
    manager = started(stream.RandomBudget(budget=0.1, w=1), draws=draws)
    # w=1: after a query the estimate is 1, so no budget for the next item
    assert manager.decide_many([0.3, 0.3, 0.3, np.nan]).tolist() == [True, False, False, False]
    assert draws.asked == ["uniform"] * 4


def test_density_based_split_counts_the_exact_fraction():
    normals = [0.0] * 20
    manager = started(
        stream.DensityBasedSplitBudget(budget=0.25, delta=0.1), draws=Draws(normals=normals)
    )
    decisions = manager.decide_many(np.full(8, 0.9))  # confidence 0.1 < θ: wants every item
    # budget left while q/t < 0.25 with t counting the current item
    assert decisions.astype(int).tolist() == [1, 0, 0, 0, 1, 0, 0, 0]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=200),
    budgets,
    st.integers(1, 40),
    st.floats(1.0, 100.0),
)
def test_biqf_matches_numpy_quantiles(utilities, b, w, w_tol):
    manager = started(stream.BalancedIncrementalQuantileFilter(budget=b, w=w, w_tol=w_tol))
    expected = reference_biqf(utilities, b, w, w_tol)
    assert manager.decide_many(utilities).tolist() == expected.tolist()


def test_biqf_nan_in_the_window_blocks_queries_like_numpy():
    manager = started(stream.BalancedIncrementalQuantileFilter(budget=0.5, w=3))
    decisions = manager.decide_many([0.9, np.nan, 0.9, 0.9, 0.9])
    assert decisions.tolist() == [True, False, False, False, True]


def test_periodic_queries_every_one_over_budget():
    manager = started(stream.PeriodicBudget(budget=0.2))
    assert np.flatnonzero(manager.decide_many(np.zeros(20))).tolist() == [4, 9, 14, 19]


def test_cumulative_budget_threshold_and_allowance():
    manager = started(stream.CumulativeBudget(budget=0.5, allow_exceeding_budget=False))
    # owed b·t − q must exceed 1: t=3 gives 1.5
    assert manager.decide_many([0.9, 0.9, 0.9, 0.9]).tolist() == [False, False, True, False]


# --------------------------------------------------------------- long-run rates


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(ZLIOBAITE),
    budgets,
    st.integers(1, 200),
    st.integers(0, 2**32 - 1),
    st.integers(50, 3000),
)
def test_zliobaite_estimate_caps_the_labels(cls, b, w, seed, n):
    """Q_n ≤ (w b + 1)(1 + n / w) for any utilities (derivation in the docstring)."""
    rng = np.random.default_rng(seed)
    utilities = rng.random(n) ** rng.uniform(0.2, 5.0)  # skewed either way
    manager = started(cls(budget=b, w=w), draws=None)
    manager.rng_ = rng
    queried = int(manager.decide_many(utilities).sum())
    assert queried <= (w * b + 1) * (1 + n / w) + 1e-9


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(
        [
            stream.VariableUncertaintyBudget,
            stream.RandomVariableUncertaintyBudget,
            stream.SplitBudget,
        ]
    ),
    st.floats(0.02, 0.3),
    st.integers(0, 2**32 - 1),
)
def test_adaptive_managers_spend_the_budget_over_a_long_stream(cls, b, seed):
    """Below b = 0.5: the threshold settles where about half the items with budget left
    are queried (steps of 1 ± s), so larger budgets are limited by the threshold."""
    rng = np.random.default_rng(seed)
    n, w = 6000, 100
    manager = started(cls(budget=b, w=w))
    manager.rng_ = rng
    rate = manager.decide_many(rng.random(n) * rng.uniform(0.05, 1.0)).mean()
    assert b - 0.02 <= rate <= b + 1 / w + (w * b + 1) / n


@settings(max_examples=20, deadline=None)
@given(st.floats(0.02, 0.5), st.integers(0, 2**32 - 1))
def test_density_based_split_never_exceeds_and_nearly_spends(b, seed):
    rng = np.random.default_rng(seed)
    n = 5000
    manager = started(stream.DensityBasedSplitBudget(budget=b))
    manager.rng_ = rng
    queried = int(manager.decide_many(rng.random(n)).sum())
    assert queried <= b * n + 1
    assert queried >= b * n - 0.03 * n


@settings(max_examples=20, deadline=None)
@given(st.floats(0.02, 0.5), st.integers(0, 2**32 - 1), st.floats(0.2, 5.0))
def test_biqf_holds_the_rate_on_continuous_utilities(b, seed, power):
    rng = np.random.default_rng(seed)
    manager = started(stream.BalancedIncrementalQuantileFilter(budget=b))
    rate = manager.decide_many(rng.random(4000) ** power).mean()
    assert abs(rate - b) <= 0.02


@settings(max_examples=20, deadline=None)
@given(st.floats(0.01, 1.0), st.integers(1, 5000))
def test_periodic_rate_is_exact(b, n):
    manager = started(stream.PeriodicBudget(budget=b))
    queried = int(manager.decide_many(np.zeros(n)).sum())
    assert abs(queried - b * n) <= 1


@settings(max_examples=20, deadline=None)
@given(st.floats(0.02, 0.5), st.integers(0, 2**32 - 1))
def test_cumulative_budget_with_uniform_utilities_is_bernoulli_b(b, seed):
    rng = np.random.default_rng(seed)
    n = 4000
    manager = started(stream.CumulativeBudget(budget=b))
    queried = int(manager.decide_many(rng.random(n)).sum())
    assert abs(queried - b * n) <= 5 * np.sqrt(n * b * (1 - b)) + 1
    strict = started(stream.CumulativeBudget(budget=b, allow_exceeding_budget=False))
    assert int(strict.decide_many(rng.random(n)).sum()) <= b * n


# --------------------------------------------------------------------- contract


@pytest.mark.parametrize("cls", ALL)
def test_managers_clone_count_and_reset(cls):
    manager = clone(cls(budget=0.2)).reset(3, 0)
    decisions = manager.decide_many(np.linspace(0, 1, 50))
    assert manager.n_seen_ == 50
    assert manager.n_queried_ == int(decisions.sum())
    assert manager.rate == pytest.approx(decisions.mean())
    manager.reset(3, 0)
    assert manager.n_seen_ == 0 and manager.rate == 0.0


def test_decide_resets_on_first_use():
    manager = stream.VariableUncertaintyBudget(budget=0.5)
    assert manager.decide(0.9) is True
    assert manager.n_seen_ == 1


@pytest.mark.parametrize(
    ("manager", "message"),
    [
        (stream.VariableUncertaintyBudget(budget=0.0), "budget must be a finite number > 0"),
        (stream.VariableUncertaintyBudget(budget=1.5), "budget must be"),
        (stream.VariableUncertaintyBudget(w=0), "w must be an int of at least 1"),
        (stream.VariableUncertaintyBudget(s=0.0), "s must be"),
        (stream.SplitBudget(v=1.0), "v must be below 1"),
        (stream.RandomVariableUncertaintyBudget(delta=0.0), "delta must be a positive number"),
        (stream.BalancedIncrementalQuantileFilter(w_tol=0), "w_tol must be a positive number"),
        (stream.CumulativeBudget(allow_exceeding_budget="yes"), "must be True or False"),
    ],
)
def test_bad_parameters_say_what_is_wrong(manager, message):
    with pytest.raises((ValueError, TypeError), match=message):
        manager.reset()


def test_fixed_uncertainty_needs_two_classes():
    with pytest.raises(ValueError, match="n_classes must be an int of at least 2"):
        stream.FixedUncertaintyBudget().reset(n_classes=1)
