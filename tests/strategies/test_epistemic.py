"""Epistemic uncertainty sampling against brute-force supports and independent solvers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, logsumexp
from sklearn.datasets import make_blobs, make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from activelab.models import wrap
from activelab.strategies._epistemic import (
    EpistemicUncertainty,
    _newton,
    _SoftmaxLikelihood,
    epistemic_logistic,
    epistemic_uncertainty,
    plausibility,
)

# ------------------------------------------------------------------ plain references


def grid_plausibility(p, n, size=100_001):
    """sup_θ min(π(θ), 2θ − 1) over a fine grid of θ."""
    theta = np.linspace(0.0, 1.0, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lik = np.nan_to_num(p * np.log(theta), nan=0.0) + np.nan_to_num(
            n * np.log(1 - theta), nan=0.0
        )
    total = p + n
    top = sum(c * (np.log(c) - np.log(total)) for c in (p, n) if c > 0)
    return np.max(np.minimum(np.exp(log_lik - top), 2 * theta - 1))


def objective(theta, X, onehot, gamma, binary):
    """The penalised NLL of a logistic model, written plainly (intercept last)."""
    K = 1 if binary else onehot.shape[1]
    W = theta.reshape(K, -1)
    logits = X @ W.T
    if binary:
        logits = np.column_stack([np.zeros(len(X)), logits])
    nll = logsumexp(logits, axis=1) - (logits * onehot).sum(axis=1)
    return nll.sum() + 0.5 * gamma * np.sum(W[:, :-1] ** 2)


def profile_value(t, g, X, onehot, gamma, binary, start):
    """min F(θ) subject to gᵀθ = t, by BFGS on the constraint's null space."""
    basis = np.linalg.svd(g[None, :])[2][1:].T  # orthonormal basis of g's complement
    anchor = g * t / (g @ g)
    result = minimize(
        lambda z: objective(anchor + basis @ z, X, onehot, gamma, binary),
        basis.T @ (start - anchor),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    return result.fun


def with_intercept(X):
    return np.column_stack([X, np.ones(len(X))])


# ---------------------------------------------------------------- Parzen (counts)


def test_plausibility_by_hand():
    # p = n = 1: 4θ(1 − θ) = 2θ − 1 at θ = (1 + √5)/4, support (√5 − 1)/2
    np.testing.assert_allclose(plausibility([1.0], [1.0]), [(np.sqrt(5) - 1) / 2])
    # no labels: complete ignorance; only positives: full support
    np.testing.assert_allclose(plausibility([0.0, 3.0], [0.0, 0.0]), [1.0, 1.0])


@settings(max_examples=30, deadline=None)
@given(p=st.floats(0.0, 40.0), n=st.floats(0.0, 40.0))
def test_plausibility_is_the_supremum_over_a_grid(p, n):
    ours = plausibility([p], [n])[0]
    brute = grid_plausibility(p, n)
    assert brute <= ours + 1e-9  # nothing on the grid beats the crossing point
    assert ours <= brute + 1e-3  # and the grid gets within its spacing of it


@settings(max_examples=25, deadline=None)
@given(
    counts=st.lists(st.floats(0.0, 30.0), min_size=3, max_size=3),
    scale=st.floats(1.5, 10.0),
)
def test_epistemic_uncertainty_properties(counts, scale):
    row = np.asarray(counts)
    first, second = np.sort(row)[::-1][:2]
    expected = min(plausibility([first], [second])[0], plausibility([second], [first])[0])
    u = epistemic_uncertainty([row, row[::-1], row[[1, 2, 0]]])
    np.testing.assert_allclose(u, expected)  # the two largest counts, in any column order
    if row.sum() > 0:  # more evidence with the same proportions: less epistemic uncertainty
        assert epistemic_uncertainty([row * scale])[0] <= u[0] + 1e-12


def test_binary_epistemic_is_the_min_of_the_two_supports():
    freq = np.array([[0.0, 0.0], [2.0, 1.0], [1.0, 2.0], [30.0, 29.0], [6.0, 0.0]])
    expected = np.minimum(
        plausibility(freq[:, 0], freq[:, 1]), plausibility(freq[:, 1], freq[:, 0])
    )
    np.testing.assert_allclose(epistemic_uncertainty(freq), expected)
    u = epistemic_uncertainty(freq)
    assert u[0] == 1.0 and u[4] < 0.02 and u[1] == pytest.approx(u[2])


def test_parzen_strategy_uses_kernel_frequencies_on_the_embedding():
    X, y = make_blobs(n_samples=60, centers=3, cluster_std=2.0, random_state=0)
    X_lab, y_lab, pool = X[:12], y[:12], X[12:]
    strategy = EpistemicUncertainty(method="parzen", gamma=0.2)
    ours = strategy.utilities(None, pool, X_lab, y_lab)
    frequencies = np.zeros((len(pool), 3))
    for i, x in enumerate(pool):
        for x_j, y_j in zip(X_lab, y_lab, strict=True):
            frequencies[i, y_j] += np.exp(-0.2 * np.sum((x - x_j) ** 2))
    np.testing.assert_allclose(ours, epistemic_uncertainty(frequencies))
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X_lab, y_lab)
    auto = EpistemicUncertainty(gamma=0.2).utilities(forest, pool, X_lab, y_lab)
    np.testing.assert_allclose(auto, ours)  # any other model: the Parzen variant
    picks = strategy.query(None, pool, 5, X_lab, y_lab, random_state=0)
    assert picks.tolist() == np.argsort(-ours, kind="stable")[:5].tolist()
    assert np.all(strategy.utilities(None, pool) == 1.0)  # no labels: all unknown


# ------------------------------------------------------------------ logistic model


@pytest.fixture(scope="module")
def binary_1d():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-1, 1, 8), rng.normal(1, 1, 8)])[:, None]
    y = np.repeat([0, 1], 8)
    model = LogisticRegression(C=2.0, tol=1e-10, max_iter=1000).fit(X, y)
    pool = np.array([[-3.0], [0.0], [2.5]])
    return X, y, model, pool


def brute_force_binary_1d(X, y, C, x):
    """Supports of class 1 and 0 at x: grid over the logit t, exact 1-D profile."""
    gamma = 1.0 / C
    sign = 2 * y - 1

    def F(w, b):
        return np.sum(np.logaddexp(0, -sign * (w * X[:, 0] + b))) + 0.5 * gamma * w**2

    best = minimize(lambda v: F(*v), [0.0, 0.0], method="BFGS", options={"gtol": 1e-11}).fun

    def profile(t):  # b = t − w x
        return minimize_scalar(lambda w: F(w, t - w * x), bracket=(-5, 5)).fun

    def best_on(t_grid, side):
        pi = np.exp(best - np.array([profile(t) for t in t_grid]))
        values = np.minimum(pi, side * (2 * expit(t_grid) - 1))
        return values.max(), t_grid[np.argmax(values)]

    supports = []
    for side in (1, -1):
        coarse = side * np.concatenate([np.linspace(0, 6, 121), np.linspace(6.5, 25, 20)])
        coarse_best, t_best = best_on(coarse, side)
        fine = np.linspace(t_best - 0.06, t_best + 0.06, 121)
        supports.append(max(coarse_best, best_on(fine, side)[0]))
    return supports


def test_binary_logistic_supports_match_a_brute_force_search(binary_1d):
    X, y, model, pool = binary_1d
    ours = epistemic_logistic(wrap(model), pool, X, y)
    for x, u in zip(pool[:, 0], ours, strict=True):
        support_1, support_0 = brute_force_binary_1d(X, y, 2.0, x)
        brute = min(support_1, support_0)  # a grid: at most the supremum, within its spacing
        assert brute - 1e-6 <= u <= brute + 5e-4
    assert ours[1] > ours[0] and ours[1] > ours[2]  # the boundary is least settled


def check_crossing(model, X_lab, y_lab, pool, binary):
    """At the reported support v, an independent profile likelihood equals v."""
    classes = model.classes_
    onehot = np.eye(len(classes))[np.searchsorted(classes, y_lab)]
    gamma = 1.0 / model.C
    X1 = with_intercept(X_lab)
    theta_hat = np.hstack([model.coef_, model.intercept_[:, None]]).ravel()
    best = minimize(
        lambda th: objective(th, X1, onehot, gamma, binary),
        theta_hat,
        method="BFGS",
        options={"gtol": 1e-10},
    ).fun
    u = epistemic_logistic(wrap(model), pool, X_lab, y_lab)
    for x, value in zip(with_intercept(pool), u, strict=True):
        K = 1 if binary else len(classes)
        g = np.zeros((K, len(x)))
        if binary:
            g[0] = x
        else:
            a, b = np.argsort(-(theta_hat.reshape(K, -1) @ x), kind="stable")[:2]
            g[a], g[b] = x, -x
        g = g.ravel()
        t_hat = g @ theta_hat
        # one of the two supports equals u; its crossing logit is ±log((1 + u)/(1 − u))
        u_star = np.log((1 + value) / (1 - value))
        matches = []
        for side in (1, -1):
            if side * t_hat > u_star + 1e-9:
                continue  # the crossing lies beyond the maximum-likelihood logit
            pi = np.exp(
                best - profile_value(side * u_star, g, X1, onehot, gamma, binary, theta_hat)
            )
            matches.append(abs(pi - value))
        assert min(matches) < 2e-4, (value, matches)
    return u


def test_binary_logistic_support_is_the_crossing_point():
    X, y = make_classification(60, 3, n_informative=2, n_redundant=0, random_state=0)
    model = LogisticRegression(C=0.5, tol=1e-10, max_iter=1000).fit(X[:14], y[:14])
    u = check_crossing(model, X[:14], y[:14], X[20:26], binary=True)
    assert np.all((u >= 0) & (u <= 1))


def test_multinomial_logistic_support_is_the_crossing_point():
    X, y = make_blobs(60, centers=3, n_features=2, cluster_std=2.5, random_state=1)
    model = LogisticRegression(tol=1e-10, max_iter=2000).fit(X[:15], y[:15])
    u = check_crossing(model, X[:15], y[:15], X[20:24], binary=False)
    assert np.all((u >= 0) & (u <= 1))


@pytest.mark.parametrize(
    "params",
    [
        {"C": 0.3},
        {"C": 5.0, "class_weight": "balanced"},
        {"C": 1.0, "fit_intercept": False},
    ],
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_likelihood_is_the_models_own_objective(params, n_classes):
    X, y = make_blobs(80, centers=n_classes, n_features=3, cluster_std=3.0, random_state=2)
    y[:5] = 0  # imbalance, so class weights matter
    model = LogisticRegression(tol=1e-12, max_iter=5000, **params).fit(X, y)
    from sklearn.utils.class_weight import compute_sample_weight

    weights = compute_sample_weight(params.get("class_weight"), y)
    intercept = params.get("fit_intercept", True)
    design = with_intercept(X) if intercept else X
    binary = n_classes == 2
    likelihood = _SoftmaxLikelihood(
        design, np.eye(n_classes)[y], weights, 1.0 / params["C"], binary, intercept
    )
    start = np.hstack([model.coef_, model.intercept_[:, None]]) if intercept else model.coef_
    polished, _ = _newton(likelihood, np.zeros((1, start.size)))
    # Newton from zero lands on scikit-learn's solution: same objective
    np.testing.assert_allclose(polished[0], start.ravel(), rtol=1e-4, atol=1e-5)


def test_auto_picks_the_logistic_variant_and_pipelines_work(binary_1d):
    X, y, model, pool = binary_1d
    auto = EpistemicUncertainty().utilities(model, pool, X, y)
    np.testing.assert_allclose(auto, epistemic_logistic(wrap(model), pool, X, y))
    scaler = StandardScaler().fit(X)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=2.0, tol=1e-10)).fit(X, y)
    plain = LogisticRegression(C=2.0, tol=1e-10).fit(scaler.transform(X), y)
    np.testing.assert_allclose(
        EpistemicUncertainty().utilities(pipeline, pool, X, y),
        EpistemicUncertainty().utilities(plain, scaler.transform(pool), scaler.transform(X), y),
        atol=1e-7,
    )
    liblinear = LogisticRegression(solver="liblinear").fit(X, y)
    parzen = EpistemicUncertainty(method="parzen").utilities(liblinear, pool, X, y)
    np.testing.assert_allclose(EpistemicUncertainty().utilities(liblinear, pool, X, y), parzen)


def test_errors_say_what_to_do(binary_1d):
    X, y, model, pool = binary_1d
    forest = RandomForestClassifier(n_estimators=3).fit(X, y)
    with pytest.raises(ValueError, match=r"LogisticRegression.*method='parzen'"):
        EpistemicUncertainty(method="logreg").utilities(forest, pool, X, y)
    with pytest.raises(ValueError, match="pass it"):
        EpistemicUncertainty(method="logreg").utilities(model, pool)
    with pytest.raises(ValueError, match="method must be"):
        EpistemicUncertainty(method="entropy").utilities(model, pool, X, y)
    with pytest.raises(ValueError, match="non-negative"):
        plausibility([-1.0], [0.0])
    with pytest.raises(ValueError, match=r"C >= 2"):
        epistemic_uncertainty([[1.0]])
