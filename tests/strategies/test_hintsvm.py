"""HintSVM: the dual against scikit-learn's SVC and a plain QP, and the query rule."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import linear_kernel, rbf_kernel
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from activelab.strategies._hintsvm import HintSVM, hint_svm_decision


@pytest.mark.parametrize("C", [0.1, 1.0])
@pytest.mark.parametrize("metric", ["linear", "rbf"])
def test_without_hints_it_is_sklearn_svc(iris, C, metric):
    X, y = iris
    rng = np.random.default_rng(0)
    labeled = rng.choice(len(y), 30, replace=False)
    X_l, positive = X[labeled], y[labeled] == 1
    kernel = (
        linear_kernel if metric == "linear" else (lambda a, b=None: rbf_kernel(a, b, gamma=0.5))
    )
    svc = SVC(kernel=metric, C=C, gamma=0.5, tol=1e-8).fit(X_l, positive)
    ours = hint_svm_decision(kernel(X_l), kernel(X, X_l), np.where(positive, 1.0, -1.0), 0, C, C)
    np.testing.assert_allclose(ours, svc.decision_function(X), atol=1e-4)


def primal_objective(w, b, X_l, signs, H, C_l, C_h, eps):
    f_l, f_h = X_l @ w + b, H @ w + b
    hinge = np.maximum(0.0, 1.0 - signs * f_l).sum()
    insensitive = np.maximum(0.0, np.abs(f_h) - eps).sum()
    return 0.5 * w @ w + C_l * hinge + C_h * insensitive


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_hints=st.integers(1, 6), eps=st.sampled_from([0.0, 0.1]))
def test_linear_hint_svm_solves_the_primal(seed, n_hints, eps):
    """With a linear kernel, w = Σ α s x: its primal objective is the primal minimum."""
    rng = np.random.default_rng(seed)
    X_l = np.vstack([rng.normal(-1, 0.7, size=(4, 2)), rng.normal(1, 0.7, size=(4, 2))])
    signs = np.repeat([-1.0, 1.0], 4)
    H = rng.normal(0, 1.5, size=(n_hints, 2))
    train = np.vstack([X_l, H])
    probe = np.vstack([np.zeros((1, 2)), np.eye(2)])  # f(0) = b, f(e_i) - b = w_i
    f = hint_svm_decision(
        linear_kernel(train), linear_kernel(probe, train), signs, n_hints, 0.5, 0.3, eps
    )
    b, w = f[0], f[1:] - f[0]
    ours = primal_objective(w, b, X_l, signs, H, 0.5, 0.3, eps)
    best = min(
        minimize(
            lambda v: primal_objective(v[:2], v[2], X_l, signs, H, 0.5, 0.3, eps),
            start,
            method="Powell",
            options={"xtol": 1e-10, "ftol": 1e-12, "maxiter": 20_000},
        ).fun
        for start in (np.zeros(3), np.append(w, b))
    )
    assert ours <= best + 1e-5


def test_hints_pull_the_boundary_towards_them():
    X_l, signs = np.array([[-2.0], [2.0]]), np.array([-1.0, 1.0])
    hints = np.array([[1.5], [1.6], [1.7]])
    train = np.vstack([X_l, hints])
    grid = np.linspace(-3, 3, 601)[:, None]
    plain = hint_svm_decision(linear_kernel(X_l), linear_kernel(grid, X_l), signs, 0, 0.1, 0.1)
    hinted = hint_svm_decision(linear_kernel(train), linear_kernel(grid, train), signs, 3, 0.1, 1.0)
    assert abs(grid[np.argmin(np.abs(plain)), 0]) < 0.05
    assert grid[np.argmin(np.abs(hinted)), 0] > 0.5


def test_queries_the_smallest_distance_one_vs_rest(iris):
    X, y = iris
    rng = np.random.default_rng(1)
    labeled = rng.choice(len(y), 20, replace=False)
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    strategy = HintSVM(metric="rbf", metric_params={"gamma": 0.5})
    distance = strategy.distances(None, X[pool], X[labeled], y[labeled], random_state=3)
    hints = np.sort(np.random.default_rng(3).choice(len(pool), len(pool) // 2, replace=False))
    train = np.vstack([X[labeled], X[pool][hints]])
    K, K_eval = rbf_kernel(train, gamma=0.5), rbf_kernel(X[pool], train, gamma=0.5)
    expected = np.min(
        [
            np.abs(hint_svm_decision(K, K_eval, np.where(y[labeled] == c, 1.0, -1.0), len(hints)))
            for c in range(3)
        ],
        axis=0,
    )
    np.testing.assert_allclose(distance, expected, atol=1e-9)
    picks = strategy.query(None, X[pool], 4, X[labeled], y[labeled], random_state=3)
    assert set(picks.tolist()) == set(np.argsort(distance)[:4].tolist())


def test_binary_pipeline_cold_start_and_one_class(iris):
    X, y = iris
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    picks = HintSVM().query(model, X[::3], 3, X[1::20], (y[1::20] == 2), random_state=0)
    assert picks.shape == (3,)
    assert HintSVM().query(None, X[::3], 3, random_state=0).shape == (3,)
    assert HintSVM().query(None, X[::3], 3, X[:5], y[:5], random_state=0).shape == (3,)


def test_bad_parameters_are_clear_errors(iris):
    X, y = iris
    for params, match in [
        ({"C_labeled": 0}, "C_labeled"),
        ({"C_hint": -1.0}, "C_hint"),
        ({"hint_fraction": 1.5}, "hint_fraction"),
        ({"epsilon": -0.1}, "epsilon"),
        ({"max_hints": -1}, "max_hints"),
    ]:
        with pytest.raises(ValueError, match=match):
            HintSVM(**params).query(None, X, 2, X[::30], y[::30])
    with pytest.raises(ValueError, match="y_labeled"):
        HintSVM().query(None, X, 2, X[::30])
