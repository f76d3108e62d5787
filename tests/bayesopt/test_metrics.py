"""The share of a library's top candidates found: reference values, invariants, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activelab.bayesopt import CandidateLibrary, minimize, top_fraction_found
from activelab.bayesopt._optimizer import BayesOptResult


def reference(indices, values, k, minimize_=True):
    """Written out: the top set by sorting, then count hits one evaluation at a time."""
    order = sorted(range(len(values)), key=lambda i: values[i], reverse=not minimize_)
    cutoff = values[order[k - 1]]
    better = (lambda v: v <= cutoff) if minimize_ else (lambda v: v >= cutoff)
    size = sum(better(v) for v in values)
    found, curve = 0, []
    for row in indices:
        found += better(values[row])
        curve.append(found / size)
    return np.array(curve)


def test_hand_worked_example():
    values = np.array([5.0, 1.0, 4.0, 0.0, 3.0, 2.0])  # best two: rows 3 (0.0) and 1 (1.0)
    np.testing.assert_allclose(top_fraction_found([2, 3, 1, 0], values, top=2), [0, 0.5, 1, 1])
    # maximising: the best two are rows 0 (5.0) and 2 (4.0)
    np.testing.assert_allclose(
        top_fraction_found([2, 3, 1, 0], values, top=2, minimize=False), [0.5, 0.5, 0.5, 1]
    )
    # a fraction: ceil(0.5 * 6) = 3 rows (3, 1, 5)
    np.testing.assert_allclose(top_fraction_found([5, 4], values, top=0.5), [1 / 3, 1 / 3])


def test_rows_tied_at_the_cut_off_all_belong_to_the_top_set():
    values = np.array([0.0, 1.0, 1.0, 1.0, 2.0])  # top 2 by value: row 0 and rows 1-3 tied
    np.testing.assert_allclose(top_fraction_found([3, 0], values, top=2), [0.25, 0.5])
    np.testing.assert_allclose(
        top_fraction_found([4, 1, 2, 3, 0], values, top=2), [0, 1, 2, 3, 4] / np.float64(4)
    )


def test_top_one_percent_of_the_solubility_library_is_13_molecules():
    values = np.linspace(0.0, 1.0, 1282)
    curve = top_fraction_found(np.arange(20), values)  # the 20 best rows, best first
    assert curve[12] == 1.0 and curve[11] == pytest.approx(12 / 13)
    assert math.ceil(0.01 * 1282) == 13


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 40).flatmap(
        lambda size: st.tuples(
            st.lists(st.integers(-5, 5), min_size=size, max_size=size),
            st.permutations(range(size)),
            st.integers(1, size),
            st.integers(0, size),
            st.booleans(),
        )
    )
)
def test_matches_the_reference_and_is_a_monotone_recall(case):
    values, order, k, n, maximise = case
    values = np.array(values, dtype=float)  # small ints: many ties
    indices = np.array(order[:n], dtype=int)
    curve = top_fraction_found(indices, values, top=k, minimize=not maximise)
    np.testing.assert_allclose(curve, reference(indices, values, k, not maximise))
    assert curve.shape == (n,)
    assert ((curve >= 0) & (curve <= 1)).all() and (np.diff(curve) >= 0).all()
    # evaluating the whole library finds the whole top set
    assert top_fraction_found(np.array(order), values, top=k, minimize=not maximise)[-1] == 1.0


def test_random_screening_finds_n_over_N_on_average():
    rng = np.random.default_rng(0)
    values = np.round(rng.normal(size=500), 1)  # many ties, at the cut-off too
    curves = np.array(
        [top_fraction_found(rng.permutation(500), values, top=0.05) for _ in range(400)]
    )
    # expected fraction after n evaluations is n / N for any top set
    n = np.array([50, 250, 400])
    np.testing.assert_allclose(curves.mean(axis=0)[n - 1], n / 500, atol=0.03)


def test_the_result_method_on_a_library_search_and_a_box():
    rng = np.random.default_rng(3)
    X = rng.random((80, 2))
    values = ((X - 0.3) ** 2).sum(axis=1)
    result = minimize(
        lambda rows: values[rows],
        CandidateLibrary(X),
        budget=24,
        batch_size=4,
        pass_indices=True,
        random_state=0,
    )
    curve = result.top_fraction_found(values, top=8)
    np.testing.assert_allclose(curve, top_fraction_found(result.index, values, top=8))
    # a smooth bowl: the GP finds more of the best 8 in 24 picks than random's 24/80 = 0.3
    assert curve[-1] > 0.3
    box = BayesOptResult(X=X[:3], y=values[:3], batch=np.zeros(3, int), index=None)
    with pytest.raises(ValueError, match="candidate-library search"):
        box.top_fraction_found(values)


@pytest.mark.parametrize(
    ("indices", "values", "top", "message"),
    [
        ([0, 0], [1.0, 2.0], 1, "twice"),
        ([0, 5], [1.0, 2.0], 1, r"\[0, 2\)"),
        ([-1], [1.0, 2.0], 1, r"\[0, 2\)"),
        ([0.5], [1.0, 2.0], 1, "ints"),
        ([[0]], [1.0, 2.0], 1, "1-D array of library row"),
        ([0], [[1.0, 2.0]], 1, "one value per library row"),
        ([0], [1.0, np.nan], 1, "NaN"),
        ([0], [1.0, 2.0], 0, "between 1 and the library size"),
        ([0], [1.0, 2.0], 3, "between 1 and the library size"),
        ([0], [1.0, 2.0], 0.0, r"fraction in \(0, 1\]"),
        ([0], [1.0, 2.0], 1.5, r"fraction in \(0, 1\]"),
        ([0], [1.0, 2.0], True, "fraction"),
        ([0], [1.0, 2.0], "1%", "fraction"),
    ],
)
def test_bad_input_says_what_to_do(indices, values, top, message):
    with pytest.raises(ValueError, match=message):
        top_fraction_found(indices, values, top=top)


def test_no_evaluations_gives_an_empty_curve():
    assert top_fraction_found([], [1.0, 2.0], top=1).shape == (0,)


# --- the call form: everything after space is keyword-only ---------------------------------


def test_positional_budget_and_batch_size_are_refused_with_the_keyword_call():
    from activelab.bayesopt import BRANIN, BayesianOptimizer

    with pytest.raises(TypeError, match=r"budget= and batch_size=.*by keyword") as info:
        # the call form, minimize(f, space, batch_size, budget)
        minimize(BRANIN, BRANIN.bounds, 96, 480)
    assert "(96, 480)" in str(info.value)
    assert "minimize(f, space, budget=480, batch_size=96)" in str(info.value)
    with pytest.raises(TypeError, match="needs budget="):
        minimize(BRANIN, BRANIN.bounds, batch_size=4)
    with pytest.raises(TypeError, match=r"batch_size=.*by keyword"):
        BayesianOptimizer(BRANIN.bounds, 4)
    # the keyword form works, in either order
    result = minimize(BRANIN, BRANIN.bounds, batch_size=2, budget=6, random_state=0)
    assert result.n_evaluations == 6
