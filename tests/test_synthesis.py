"""Membership query synthesis: bisection, uncertainty maximisation, and the learning loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from activelab import synthesis

# A black-box "simulator": feasible inside a disc and above a wavy floor.


def feasible(X):
    X = np.atleast_2d(X)
    inside = X[:, 0] ** 2 + X[:, 1] ** 2 <= 0.8
    above = X[:, 1] >= 0.4 * np.sin(3.0 * X[:, 0]) - 0.3
    return (inside & above).astype(int)


def oracle(x):
    return int(feasible(x)[0])


BOUNDS = [(-1.0, 1.0), (-1.0, 1.0)]
AXIS = np.linspace(-1.0, 1.0, 60)
GRID = np.array(np.meshgrid(AXIS, AXIS)).reshape(2, -1).T
TRUTH = feasible(GRID)
TARGET = 0.96


def model():
    return SVC(C=100.0, gamma=4.0)


def grid_calls_to_reach(target, largest=20):
    """Oracle calls of the smallest m × m grid design whose model reaches ``target``."""
    for m in range(2, largest + 1):
        axis = np.linspace(-1.0, 1.0, m)
        X = np.array(np.meshgrid(axis, axis)).reshape(2, -1).T
        y = feasible(X)
        if len(set(y.tolist())) < 2:
            continue
        if np.mean(model().fit(X, y).predict(GRID) == TRUTH) >= target:
            return m * m
    return None


# ----------------------------------------------------------------- bisection


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 2 * np.pi), st.floats(-0.5, 0.5), st.integers(0, 2**32 - 1), st.integers(5, 30))
def test_bisection_lands_on_the_boundary(angle, offset, seed, n_steps):
    normal = np.array([np.cos(angle), np.sin(angle)])

    def predict(X):
        return (X @ normal > offset).astype(int)

    rng = np.random.default_rng(seed)
    starts = rng.uniform(-1, 1, (50, 2))
    ends = rng.uniform(-1, 1, (50, 2))
    differ = predict(starts) != predict(ends)
    points = synthesis.boundary_points(predict, starts[differ], ends[differ], n_steps)
    length = np.linalg.norm(starts[differ] - ends[differ], axis=1)
    # the midpoint of the final segment is within half its length of the boundary
    assert np.all(np.abs(points @ normal - offset) <= length * 2.0 ** -(n_steps + 1) + 1e-12)
    # and on the segment it started from
    offsets, directions = points - starts[differ], ends[differ] - starts[differ]
    cross = offsets[:, 0] * directions[:, 1] - offsets[:, 1] * directions[:, 0]
    assert np.allclose(cross, 0.0, atol=1e-9)


def test_bisection_needs_segments_of_one_shape():
    with pytest.raises(ValueError, match="same shape"):
        synthesis.boundary_points(lambda X: X[:, 0] > 0, [[0.0, 0.0]], [[1.0]])


# ------------------------------------------------------ uncertainty maximisation


def logistic(X, normal=(1.0, -2.0), offset=0.3, steepness=6.0):
    p = 1.0 / (1.0 + np.exp(-steepness * (np.asarray(X) @ np.asarray(normal) - offset)))
    return np.column_stack([1.0 - p, p])


@pytest.mark.parametrize("uncertainty", ["entropy", "margin", "least_confidence"])
def test_maximize_uncertainty_finds_the_half_probability_line(uncertainty):
    x = synthesis.maximize_uncertainty(logistic, BOUNDS, uncertainty=uncertainty, random_state=0)
    assert np.all(np.abs(x) <= 1.0)
    assert abs(x @ np.array([1.0, -2.0]) - 0.3) < 1e-3


def test_maximize_uncertainty_spreads_ties_away_from_the_labels():
    labeled = np.array([[0.3 + 2 * t, t] for t in np.linspace(-0.3, 0.0, 5)])
    x = synthesis.maximize_uncertainty(
        logistic, BOUNDS, n_restarts=20, X_labeled=labeled, random_state=1
    )
    nearest = np.min(np.linalg.norm(labeled - x, axis=1))
    assert nearest > 0.3  # another stretch of the line, not next to the labels


def test_maximize_uncertainty_stays_in_a_box_that_excludes_the_line():
    x = synthesis.maximize_uncertainty(logistic, [(0.5, 1.0), (-1.0, -0.8)], random_state=0)
    assert 0.5 <= x[0] <= 1.0 and -1.0 <= x[1] <= -0.8
    # the best the box allows: the corner closest to the line x0 - 2 x1 = 0.3
    assert np.allclose(x, [0.5, -0.8], atol=1e-3)


def test_probabilities_from_decision_values():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0], [0.0, 2.0]])
    binary = SVC().fit(X, [0, 0, 1, 1, 1, 1])
    proba = synthesis.probabilities(binary)(X)
    expected = 1.0 / (1.0 + np.exp(-binary.decision_function(X)))
    assert np.allclose(proba[:, 1], expected) and np.allclose(proba.sum(1), 1.0)
    multi = SVC(decision_function_shape="ovr").fit(X, [0, 0, 1, 1, 2, 2])
    values = multi.decision_function(X)
    softmax = np.exp(values) / np.exp(values).sum(1, keepdims=True)
    assert np.allclose(synthesis.probabilities(multi)(X), softmax)
    logistic_model = LogisticRegression().fit(X, [0, 0, 1, 1, 1, 1])
    assert synthesis.probabilities(logistic_model) == logistic_model.predict_proba
    with pytest.raises(TypeError, match="neither predict_proba nor decision_function"):
        synthesis.probabilities(object())


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ([1.0, 2.0], "shape \\(d, 2\\)"),
        ([(0, 1), (2, 2)], r"bounds\[1\]"),
        ([(0, np.inf)], r"bounds\[0\]"),
    ],
)
def test_bad_bounds_say_which(bounds, message):
    with pytest.raises(ValueError, match=message):
        synthesis.check_bounds(bounds)


# ----------------------------------------------------------------------- learn


def test_learn_records_every_call_and_leaves_the_model_alone():
    estimator = model()
    result = synthesis.learn(
        oracle,
        BOUNDS,
        estimator,
        budget=25,
        random_state=0,
        X_test=GRID,
        y_test=TRUTH,
        eval_every=5,
    )
    assert result.n_calls == 25 and result.X.shape == (25, 2)
    assert result.y.tolist() == feasible(result.X).tolist()
    assert result.origin[:4] == ["initial"] * 4
    assert set(result.origin[4:]) <= {"bisection", "explore"}
    assert result.n_evaluated == [5, 10, 15, 20, 25]
    assert not hasattr(estimator, "support_")
    assert np.all(np.abs(result.X) <= 1.0)
    again = synthesis.learn(oracle, BOUNDS, model(), budget=25, random_state=0)
    assert np.array_equal(again.X, result.X)


def test_synthesis_needs_far_fewer_calls_than_random_or_grid_designs():
    grid = grid_calls_to_reach(TARGET)
    assert grid is not None and grid >= 100
    options = {"bisection": {}, "optimize": {"n_restarts": 2, "n_candidates": 256}}
    for method, extra in options.items():
        calls = synthesis.learn(
            oracle,
            BOUNDS,
            model(),
            budget=80,
            method=method,
            X_test=GRID,
            y_test=TRUTH,
            eval_every=5,
            stop_at=TARGET,
            random_state=0,
            **extra,
        ).calls_to_reach(TARGET)
        assert calls is not None and calls * 1.5 <= grid, (method, calls, grid)
        passive = synthesis.learn(
            oracle,
            BOUNDS,
            model(),
            budget=int(calls * 1.5),
            method="random",
            X_test=GRID,
            y_test=TRUTH,
            eval_every=5,
            random_state=0,
        )
        assert passive.calls_to_reach(TARGET) is None, (method, calls)


def test_stop_at_ends_the_run_early():
    result = synthesis.learn(
        oracle,
        BOUNDS,
        model(),
        budget=200,
        X_test=GRID,
        y_test=TRUTH,
        eval_every=5,
        stop_at=0.9,
        random_state=0,
    )
    assert result.n_calls < 200 and result.accuracy[-1] >= 0.9
    assert result.calls_to_reach(0.9) == result.n_calls
    assert result.calls_to_reach(1.01) is None


def test_learn_explains_what_went_wrong():
    with pytest.raises(ValueError, match="method must be one of"):
        synthesis.learn(oracle, BOUNDS, model(), budget=5, method="grid")
    with pytest.raises(TypeError, match="oracle must be a function"):
        synthesis.learn("oracle", BOUNDS, model(), budget=5)
    with pytest.raises(RuntimeError, match="all 6 oracle answers were 0"):
        synthesis.learn(lambda x: 0, BOUNDS, model(), budget=6, random_state=0)
    with pytest.raises(ValueError, match="one label per point"):
        synthesis.learn(lambda x: np.array([0, 1]), BOUNDS, model(), budget=5)
    with pytest.raises(ValueError, match="must label it"):
        synthesis.learn(lambda x: None, BOUNDS, model(), budget=5)
    with pytest.raises(ValueError, match="X_test must be"):
        synthesis.learn(
            oracle, BOUNDS, model(), budget=5, X_test=np.zeros((3, 3)), y_test=np.zeros(3)
        )
    with pytest.raises(TypeError, match="Use method='bisection'"):
        synthesis.learn(oracle, BOUNDS, object(), budget=5, method="optimize")
