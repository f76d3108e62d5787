"""Annotation costs: knapsack and POSS selection, the cost model, cost-aware queries and loop."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LinearRegression, LogisticRegression

import activelab as al
from activelab.costs import AnnotationCostModel, check_costs, knapsack, length_features, poss
from activelab.strategies import CostAware


def brute_force(utilities, costs, budget, max_items=None):
    """The best total utility over every subset that fits (the definition)."""
    n = len(utilities)
    best = 0.0
    for size in range(n + 1):
        if max_items is not None and size > max_items:
            break
        for subset in itertools.combinations(range(n), size):
            if sum(costs[i] for i in subset) <= budget:
                best = max(best, sum(utilities[i] for i in subset))
    return best


instances = st.integers(1, 9).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-1.0, 10.0), min_size=n, max_size=n),
        st.lists(st.floats(0.1, 5.0), min_size=n, max_size=n),
        st.floats(0.1, 12.0),
        st.one_of(st.none(), st.integers(1, n)),
    )
)


@settings(max_examples=60, deadline=None)
@given(instances)
def test_exact_knapsack_is_the_optimum(instance):
    utilities, costs, budget, max_items = instance
    chosen = knapsack(utilities, costs, budget, max_items=max_items, method="exact")
    assert len(set(chosen.tolist())) == chosen.size
    assert sum(costs[i] for i in chosen) <= budget + 1e-9
    if max_items is not None:
        assert chosen.size <= max_items
    total = sum(utilities[i] for i in chosen)
    assert total == pytest.approx(brute_force(utilities, costs, budget, max_items), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(instances)
def test_greedy_knapsack_fits_and_gets_half_the_optimum(instance):
    utilities, costs, budget, _ = instance
    chosen = knapsack(utilities, costs, budget, method="greedy")
    assert sum(costs[i] for i in chosen) <= budget + 1e-9
    total = sum(utilities[i] for i in chosen)
    assert total >= 0.5 * brute_force(utilities, costs, budget) - 1e-9


def dynamic_programme(utilities, costs, capacity):
    """The optimum of a knapsack with integer costs, by the textbook table."""
    best = np.zeros(capacity + 1)
    for value, cost in zip(utilities, costs, strict=True):
        if value > 0:
            best[cost:] = np.maximum(best[cost:], best[: capacity + 1 - cost] + value)
    return best[capacity]


@pytest.mark.parametrize("seed", range(6))
def test_exact_knapsack_with_fixed_items_matches_dynamic_programming(seed):
    """Large enough that the bound fixes most items; the optimum must not move."""
    rng = np.random.default_rng(seed)
    n = 400
    costs = rng.integers(1, 20, n)
    utilities = costs * rng.uniform(0.5, 1.5, n) if seed % 2 else rng.random(n)
    capacity = int(costs.sum() // 7)
    chosen = knapsack(utilities, costs, capacity, method="exact")
    assert costs[chosen].sum() <= capacity
    assert utilities[chosen].sum() == pytest.approx(
        dynamic_programme(utilities, costs, capacity), rel=1e-9
    )


def test_knapsack_orders_by_utility_per_cost_and_skips_useless_items():
    utilities = [1.0, 4.0, 0.0, -2.0, 3.0]
    costs = [1.0, 2.0, 0.5, 0.5, 1.0]
    chosen = knapsack(utilities, costs, budget=10.0)
    assert chosen.tolist() == [4, 1, 0]  # ratios 3, 2, 1; the 0 and the negative never


def test_knapsack_with_nothing_that_fits_is_empty():
    assert knapsack([1.0, 2.0], [5.0, 6.0], budget=1.0).size == 0


def test_knapsack_auto_matches_exact_on_small_pools():
    rng = np.random.default_rng(0)
    utilities, costs = rng.random(200), rng.uniform(0.5, 2.0, 200)
    auto = knapsack(utilities, costs, 20.0, max_items=15)
    exact = knapsack(utilities, costs, 20.0, max_items=15, method="exact")
    assert auto.tolist() == exact.tolist()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: knapsack([1.0], [0.0], 1.0), "finite and positive"),
        (lambda: knapsack([1.0, 2.0], [1.0], 1.0), r"shape \(2,\)"),
        (lambda: knapsack([np.nan], [1.0], 1.0), "finite"),
        (lambda: knapsack([1.0], [1.0], -1.0), "positive"),
        (lambda: knapsack([1.0], [1.0], "ten"), "number"),
        (lambda: knapsack([1.0], [1.0], 1.0, max_items=0), "max_items"),
        (lambda: knapsack([1.0], [1.0], 1.0, method="dp"), "method"),
        (lambda: check_costs(["a"], 1), "numbers"),
    ],
)
def test_bad_input_is_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def coverage(sets):
    """A monotone submodular objective: how many elements the chosen sets cover."""
    return lambda chosen: float(len(set().union(*(sets[i] for i in chosen))))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(2, 7).flatmap(
        lambda n: st.tuples(
            st.lists(st.frozensets(st.integers(0, 12), max_size=5), min_size=n, max_size=n),
            st.lists(st.floats(0.2, 3.0), min_size=n, max_size=n),
            st.floats(0.5, 6.0),
            st.integers(0, 1000),
        )
    )
)
def test_poss_fits_the_budget_and_keeps_the_papers_guarantee(instance):
    sets, costs, budget, seed = instance
    objective = coverage(sets)
    chosen = poss(objective, costs, budget, random_state=seed)
    assert sum(costs[i] for i in chosen) <= budget + 1e-9
    best = 0.0
    for size in range(len(sets) + 1):
        for subset in itertools.combinations(range(len(sets)), size):
            if sum(costs[i] for i in subset) <= budget:
                best = max(best, objective(np.array(subset, dtype=np.int64)))
    # Qian et al. (2017): POMC reaches (1/2)(1 - 1/e) of the optimum for monotone
    # submodular objectives under a cost budget.
    assert objective(chosen) >= 0.5 * (1 - 1 / math.e) * best - 1e-9


def test_poss_finds_the_knapsack_optimum_of_an_additive_objective():
    utilities = np.array([3.0, 2.0, 2.0, 0.5, 4.0])
    costs = np.array([2.0, 1.0, 1.0, 0.5, 3.0])
    chosen = poss(lambda s: float(utilities[s].sum()), costs, 4.0, random_state=0)
    assert float(utilities[chosen].sum()) == pytest.approx(brute_force(utilities, costs, 4.0))


def test_poss_rejects_a_non_finite_objective_and_bad_arguments():
    with pytest.raises(ValueError, match="finite number"):
        poss(lambda s: float("nan"), [1.0, 1.0], 2.0, iterations=50, random_state=0)
    with pytest.raises(ValueError, match="iterations"):
        poss(lambda s: 0.0, [1.0], 1.0, iterations=-1)
    with pytest.raises(ValueError, match="shape"):
        poss(lambda s: 0.0, [[1.0]], 1.0)


def test_cost_model_recovers_a_log_linear_cost():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    seconds = np.exp(1.0 + 0.5 * X[:, 0] - 0.3 * X[:, 1])
    model = AnnotationCostModel(LinearRegression()).fit(X, seconds)
    assert model.smearing_ == pytest.approx(1.0)
    np.testing.assert_allclose(model.predict(X), seconds, rtol=1e-8)


def test_cost_model_smearing_removes_the_retransformation_bias():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5000, 1))
    seconds = np.exp(2.0 + X[:, 0] + rng.normal(scale=0.8, size=5000))
    model = AnnotationCostModel(LinearRegression()).fit(X, seconds)
    naive = np.exp(model.estimator_.predict(X))
    assert abs(model.predict(X).mean() - seconds.mean()) < abs(naive.mean() - seconds.mean())
    assert model.smearing_ == pytest.approx(np.exp(0.8**2 / 2), rel=0.05)  # lognormal mean


def test_cost_model_reads_texts_by_length_and_checks_its_input():
    texts = ["a", "a b c", "a b c d e f g", "a b c d e f g h i j k"]
    seconds = [1.0, 2.0, 4.0, 6.0]
    model = AnnotationCostModel().fit(texts, seconds)
    predicted = model.predict(["a b", "a b c d e f g h i j k l m n"])
    assert predicted[1] > predicted[0] > 0
    assert length_features(["a b"]).tolist() == [[3.0, 2.0]]
    with pytest.raises(ValueError, match="at least 2"):
        AnnotationCostModel().fit(["a"], [1.0])
    with pytest.raises(ValueError, match="positive"):
        AnnotationCostModel().fit(texts, [1.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="not fitted"):
        AnnotationCostModel().predict(texts)


@pytest.fixture(scope="module")
def fitted():
    X, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X[:100], y[:100])
    return model, X[100:400]


def test_cost_aware_with_unit_costs_is_the_base_strategy(fitted):
    model, pool = fitted
    base = al.strategies.get("margin").query(model, pool, 7, random_state=0)
    assert CostAware("margin").query(model, pool, 7, random_state=0).tolist() == base.tolist()


def test_cost_aware_ranks_by_utility_per_cost(fitted):
    model, pool = fitted
    costs = np.random.default_rng(0).uniform(1.0, 10.0, len(pool))
    utilities = al.strategies.get("entropy").utilities(model, pool)
    expected = np.argsort(-(utilities / costs), kind="stable")[:5]
    picks = CostAware("entropy", cost=costs).query(model, pool, 5, random_state=0)
    assert picks.tolist() == expected.tolist()
    # a callable and a fitted cost model price the same way
    assert CostAware("entropy", cost=lambda X: costs).query(model, pool, 5, 0).tolist() == (
        picks.tolist()
    )


def test_cost_aware_with_a_budget_solves_the_knapsack(fitted):
    model, pool = fitted
    costs = np.random.default_rng(1).uniform(1.0, 10.0, len(pool))
    utilities = al.strategies.get("margin").utilities(model, pool)
    shifted = utilities - min(utilities.min(), 0.0)
    picks = CostAware("margin", cost=costs, budget=12.0).query(model, pool, 10, random_state=0)
    assert costs[picks].sum() <= 12.0
    best = knapsack(shifted, costs, 12.0, max_items=10, method="exact")
    assert shifted[picks].sum() == pytest.approx(shifted[best].sum())


def test_cost_aware_explains_what_it_cannot_do(fitted):
    model, pool = fitted
    with pytest.raises(TypeError, match="score strategy"):
        CostAware("coreset").query(model, pool, 2)
    with pytest.raises(ValueError, match="one cost per item"):
        CostAware("margin", cost=[1.0, 2.0]).query(model, pool, 2)
    with pytest.raises(ValueError, match="cheapest"):
        CostAware("margin", cost=np.full(len(pool), 5.0), budget=1.0).query(model, pool, 2)


def test_simulate_charges_costs_and_stops_within_the_cost_budget():
    X, y = load_digits(return_X_y=True)
    costs = np.random.default_rng(0).uniform(1.0, 10.0, len(X))
    result = al.simulate(
        LogisticRegression(max_iter=200),
        "cost_aware",
        X,
        y,
        budget=300,
        costs=costs,
        cost_budget=150.0,
        random_state=0,
    )
    spent, accuracy = result.curve(against="cost")
    bought = np.concatenate([r.indices for r in result.history])
    assert spent[-1] == pytest.approx(costs[bought].sum())
    assert spent[-1] <= 150.0 and np.all(np.diff(spent) > 0)
    assert result.stopped_by.startswith("cost budget")
    assert len(accuracy) == len(result.history)
    # with the same money, buying cheap informative items buys more labels than margin
    plain = al.simulate(
        LogisticRegression(max_iter=200),
        "margin",
        X,
        y,
        budget=300,
        costs=costs,
        cost_budget=150.0,
        random_state=0,
    )
    assert result.history[-1].n_labeled > plain.history[-1].n_labeled
    assert plain.curve(against="cost")[0][-1] <= 150.0


def test_simulate_cost_errors_are_explained():
    X, y = load_digits(return_X_y=True)
    model = LogisticRegression(max_iter=100)
    with pytest.raises(ValueError, match="cost_budget needs costs"):
        al.simulate(model, "margin", X, y, budget=20, cost_budget=10.0)
    result = al.simulate(model, "margin", X, y, budget=20, batch_size=5)
    with pytest.raises(ValueError, match="no annotation costs"):
        result.curve(against="cost")
    with pytest.raises(ValueError, match="against"):
        result.curve(against="money")
    with pytest.raises(ValueError, match="one cost per item"):
        al.simulate(model, "margin", X, y, budget=20, costs=[1.0, 2.0])
