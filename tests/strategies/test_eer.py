"""Expected error reduction against brute-force retraining, item by item and label by label."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from joblib import parallel_backend
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB

from activelab import scores
from activelab.strategies import _eer
from activelab.strategies._eer import ExpectedErrorReduction, ValueOfInformationEER, expected_loss


def make_data(n_labeled, n_pool, seed, class_sep=1.0):
    X, y = make_classification(
        n_samples=n_labeled + n_pool,
        n_features=3,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=class_sep,
        random_state=seed,
    )
    return X[:n_labeled], y[:n_labeled], X[n_labeled:]


@pytest.fixture(scope="module")
def tiny():
    """15 labeled rows, a pool of 7, a tightly fitted softmax regression."""
    X_lab, y_lab, pool = make_data(15, 7, seed=0)
    estimator = LogisticRegression(max_iter=2000, tol=1e-10)
    return estimator, estimator.fit(X_lab, y_lab), X_lab, y_lab, pool


# ------------------------------------------------------------------ plain references


def loss_per_row(proba, loss, cost=None):
    """Each row's loss under its own posterior, written out."""
    out = np.empty(proba.shape[0])
    for r, p in enumerate(proba):
        if loss == "log":
            out[r] = -sum(q * np.log(q) for q in p if q > 0)
        elif loss == "gibbs":
            full = 1 - np.eye(len(p)) if cost is None else cost
            out[r] = sum(p[i] * p[j] * full[i, j] for i in range(len(p)) for j in range(len(p)))
        elif cost is None:
            out[r] = 1 - p.max()
        else:
            out[r] = min(sum(p[i] * cost[i, j] for i in range(len(p))) for j in range(len(p)))
    return out


@pytest.fixture(scope="module")
def refits(tiny):
    """Brute force, once: for every candidate and label, the retrained model's
    probabilities on the pool and on the labeled rows."""
    estimator, model, X_lab, y_lab, pool = tiny
    on_pool, on_labeled = [], []
    for x in pool:
        pool_row, labeled_row = [], []
        for label in model.classes_:
            new = clone(estimator).fit(np.vstack([X_lab, x]), np.append(y_lab, label))
            pool_row.append(new.predict_proba(pool))
            labeled_row.append(new.predict_proba(X_lab))
        on_pool.append(pool_row)
        on_labeled.append(labeled_row)
    return model.predict_proba(pool), np.array(on_pool), np.array(on_labeled)


def reference_eer(refits, loss, rows=None, include_labeled=False, cost=None):
    """Roy & McCallum: the loss of each retrained model summed over the pool, weighted
    by the probability of the label it was retrained with."""
    proba, on_pool, on_labeled = refits
    n_pool, n_classes = proba.shape
    rows = np.arange(n_pool) if rows is None else np.asarray(rows)
    weight = n_pool / len(rows)
    utilities = []
    for i in range(n_pool):
        expected = 0.0
        for c in range(n_classes):
            risk = weight * loss_per_row(on_pool[i, c][rows], loss, cost).sum()
            if include_labeled:
                risk += loss_per_row(on_labeled[i, c], loss, cost).sum()
            expected += proba[i, c] * risk
        utilities.append(-expected)
    return np.array(utilities)


def reference_voi(refits, y_lab, cost=None):
    """Kapoor et al.: labeled rows (and the candidate) by their labels, the rest by 1 - Σp²."""
    proba, on_pool, on_labeled = refits
    n_pool, n_classes = proba.shape
    full = 1 - np.eye(n_classes) if cost is None else cost
    utilities = []
    for i in range(n_pool):
        expected = 0.0
        for c in range(n_classes):
            risk = 0.0
            for row, code in zip(on_labeled[i, c], y_lab, strict=True):
                risk += sum(row[j] * full[code, j] for j in range(n_classes))
            risk += sum(on_pool[i, c][i, j] * full[c, j] for j in range(n_classes))
            others = np.delete(on_pool[i, c], i, axis=0)
            risk += loss_per_row(others, "gibbs", cost).sum()
            expected += proba[i, c] * risk
        utilities.append(-expected)
    return np.array(utilities)


def reference_influence(model, X_lab, y_lab, pool, loss):
    """theta - H⁻¹ g(x, y) with the Hessian built row by row (softmax regression)."""
    W = np.hstack([model.coef_, model.intercept_[:, None]])
    n_classes, width = W.shape

    def augment(X):
        return np.hstack([X, np.ones((len(X), 1))])

    def softmax(z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    hessian = np.zeros((n_classes * width, n_classes * width))
    for x in augment(X_lab):
        p = softmax(W @ x)
        hessian += np.kron(np.diag(p) - np.outer(p, p), np.outer(x, x))
    penalty = np.tile(np.r_[np.full(width - 1, 1.0 / model.C), 0.0], n_classes)
    inverse = np.linalg.pinv(hessian + np.diag(penalty), rcond=1e-10, hermitian=True)
    proba = model.predict_proba(pool)
    utilities = []
    for i, x in enumerate(augment(pool)):
        expected = 0.0
        for c in range(n_classes):
            gradient = np.kron(softmax(W @ x) - np.eye(n_classes)[c], x)
            moved = W - (inverse @ gradient).reshape(n_classes, width)
            new = softmax(augment(pool) @ moved.T)
            expected += proba[i, c] * loss_per_row(new, loss).sum()
        utilities.append(-expected)
    return np.array(utilities)


def reference_newton_step(model, X_lab, y_lab, pool, loss):
    """One Newton step on J + loss(x, y) from the fitted weights, the full Hessian
    (labeled rows and the candidate) built and inverted for every candidate and label."""
    W = np.hstack([model.coef_, model.intercept_[:, None]])
    n_classes, width = W.shape

    def augment(X):
        return np.hstack([X, np.ones((len(X), 1))])

    def softmax(z):
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def curvature(x):
        p = softmax(W @ x)
        return np.kron(np.diag(p) - np.outer(p, p), np.outer(x, x))

    def gradient(x, c):
        return np.kron(softmax(W @ x) - np.eye(n_classes)[c], x)

    penalty = np.tile(np.r_[np.full(width - 1, 1.0 / model.C), 0.0], n_classes)
    labeled = augment(X_lab)
    hessian = sum(curvature(x) for x in labeled) + np.diag(penalty)
    base = sum(gradient(x, c) for x, c in zip(labeled, y_lab, strict=True)) + penalty * W.ravel()
    proba = model.predict_proba(pool)
    utilities = []
    for i, x in enumerate(augment(pool)):
        expected = 0.0
        for c in range(n_classes):
            step = np.linalg.pinv(hessian + curvature(x), rcond=1e-10, hermitian=True) @ (
                base + gradient(x, c)
            )
            new = softmax(augment(pool) @ (W - step.reshape(n_classes, width)).T)
            expected += proba[i, c] * loss_per_row(new, loss).sum()
        utilities.append(-expected)
    return np.array(utilities)


# ------------------------------------------------------------------------ exact EER


@pytest.mark.parametrize("loss", ["log", "zero_one"])
def test_exact_matches_brute_force(tiny, refits, loss):
    _, model, X_lab, y_lab, pool = tiny
    ours = ExpectedErrorReduction(loss=loss, method="exact", warm_start=False).utilities(
        model, pool, X_lab, y_lab
    )
    np.testing.assert_allclose(ours, reference_eer(refits, loss), rtol=1e-9)


def test_warm_start_reaches_the_same_optimum(tiny):
    _, model, X_lab, y_lab, pool = tiny
    cold = ExpectedErrorReduction(method="exact", warm_start=False).utilities(
        model, pool, X_lab, y_lab
    )
    warm = ExpectedErrorReduction(method="exact", warm_start=True).utilities(
        model, pool, X_lab, y_lab
    )
    np.testing.assert_allclose(warm, cold, rtol=1e-6)


def test_labeled_rows_in_the_evaluation_and_a_cost_matrix(tiny, refits):
    _, model, X_lab, y_lab, pool = tiny
    cost = np.array([[0.0, 1.0, 4.0], [2.0, 0.0, 1.0], [1.0, 3.0, 0.0]])
    ours = ExpectedErrorReduction(
        loss="zero_one", include_labeled=True, cost_matrix=cost, method="exact", warm_start=False
    ).utilities(model, pool, X_lab, y_lab)
    expected = reference_eer(refits, "zero_one", include_labeled=True, cost=cost)
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


def test_evaluation_sample_is_a_scaled_subset_of_the_pool(tiny, refits):
    _, model, X_lab, y_lab, pool = tiny
    ours = ExpectedErrorReduction(evaluation=3, method="exact", warm_start=False).utilities(
        model, pool, X_lab, y_lab, random_state=5
    )
    matches = [
        rows
        for rows in itertools.combinations(range(len(pool)), 3)
        if np.allclose(ours, reference_eer(refits, "log", rows), rtol=1e-9)
    ]
    assert len(matches) == 1
    again = ExpectedErrorReduction(evaluation=3, method="exact", warm_start=False).utilities(
        model, pool, X_lab, y_lab, random_state=5
    )
    np.testing.assert_array_equal(ours, again)


@pytest.mark.parametrize("cost", [None, np.array([[0.0, 1.0, 4.0], [2.0, 0.0, 1.0], [1, 3, 0]])])
def test_value_of_information_matches_brute_force(tiny, refits, cost):
    _, model, X_lab, y_lab, pool = tiny
    ours = ValueOfInformationEER(cost_matrix=cost, method="exact", warm_start=False).utilities(
        model, pool, X_lab, y_lab
    )
    np.testing.assert_allclose(ours, reference_voi(refits, y_lab, cost), rtol=1e-9)
    picks = ValueOfInformationEER(cost_matrix=cost, method="exact").query(
        model, pool, 3, X_lab, y_lab, 0
    )
    assert picks.tolist() == np.argsort(-ours)[:3].tolist()


def test_exact_retrains_any_model(tiny):
    _, _, X_lab, y_lab, pool = tiny
    model = GaussianNB().fit(X_lab, y_lab)
    ours = ExpectedErrorReduction(loss="zero_one", method="exact").utilities(
        model, pool, X_lab, y_lab
    )
    gaussian_refits = [
        [
            GaussianNB().fit(np.vstack([X_lab, x]), np.append(y_lab, c)).predict_proba(pool)
            for c in range(3)
        ]
        for x in pool
    ]
    expected = reference_eer(
        (model.predict_proba(pool), np.array(gaussian_refits), None), "zero_one"
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


def test_parallel_workers_give_the_same_utilities(tiny):
    _, model, X_lab, y_lab, pool = tiny
    sequential = ExpectedErrorReduction(method="exact").utilities(model, pool[:4], X_lab, y_lab)
    with parallel_backend("threading"):  # the same blocks, without starting processes
        parallel = ExpectedErrorReduction(method="exact", n_jobs=2).utilities(
            model, pool[:4], X_lab, y_lab
        )
    np.testing.assert_allclose(parallel, sequential, rtol=1e-12)


def test_string_labels_and_data_frames(tiny, refits):
    estimator, _, X_lab, y_lab, pool = tiny
    names = np.array(["ant", "bee", "cat"])[y_lab]
    frame, pool_frame = pd.DataFrame(X_lab), pd.DataFrame(pool)
    model = clone(estimator).fit(frame, names)
    ours = ValueOfInformationEER(method="exact", warm_start=False).utilities(
        model, pool_frame, frame, names
    )
    np.testing.assert_allclose(ours, reference_voi(refits, y_lab), rtol=1e-9)


# ------------------------------------------------------------------------- fast EER


@pytest.fixture(scope="module")
def conditioned():
    """A well-conditioned problem: 60 labeled rows, overlapping classes, a pool of 20."""
    X_lab, y_lab, pool = make_data(60, 20, seed=4, class_sep=0.8)
    model = LogisticRegression(max_iter=2000, tol=1e-10).fit(X_lab, y_lab)
    exact = {
        name: strategy.utilities(model, pool, X_lab, y_lab)
        for name, strategy in {
            "log": ExpectedErrorReduction(loss="log", method="exact"),
            "zero_one": ExpectedErrorReduction(loss="zero_one", method="exact"),
            "voi": ValueOfInformationEER(method="exact"),
        }.items()
    }
    return model, X_lab, y_lab, pool, exact


def fast_strategy(name, **params):
    if name == "voi":
        return ValueOfInformationEER(**params)
    return ExpectedErrorReduction(loss=name, **params)


@pytest.mark.parametrize("name", ["log", "zero_one", "voi"])
def test_fast_ranks_like_exact(conditioned, name):
    model, X_lab, y_lab, pool, exact = conditioned
    fast = fast_strategy(name, method="fast").utilities(model, pool, X_lab, y_lab)
    assert spearmanr(fast, exact[name])[0] >= 0.9


@pytest.mark.parametrize("name", ["log", "voi"])
def test_enough_newton_steps_reach_the_retrained_model(conditioned, name):
    model, X_lab, y_lab, pool, exact = conditioned
    converged = fast_strategy(name, method="fast", newton_steps=60).utilities(
        model, pool, X_lab, y_lab
    )
    np.testing.assert_allclose(converged, exact[name], rtol=1e-6)


def test_one_newton_step_is_the_full_hessian_step(conditioned):
    model, X_lab, y_lab, pool, _ = conditioned
    ours = ExpectedErrorReduction(method="fast", newton_steps=1).utilities(
        model, pool[:8], X_lab, y_lab
    )
    expected = reference_newton_step(model, X_lab, y_lab, pool[:8], "log")
    np.testing.assert_allclose(ours, expected, rtol=1e-8)


@pytest.mark.parametrize("loss", ["log", "zero_one"])
def test_influence_is_the_inverse_hessian_step(conditioned, loss):
    model, X_lab, y_lab, pool, _ = conditioned
    ours = ExpectedErrorReduction(loss=loss, method="influence").utilities(
        model, pool[:10], X_lab, y_lab
    )
    expected = reference_influence(model, X_lab, y_lab, pool[:10], loss)
    np.testing.assert_allclose(ours, expected, rtol=1e-8)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_auto_is_fast_where_it_applies_and_exact_elsewhere(tiny):
    _, model, X_lab, y_lab, pool = tiny
    pool = pool[:3]
    auto = ExpectedErrorReduction().utilities(model, pool, X_lab, y_lab)
    fast = ExpectedErrorReduction(method="fast").utilities(model, pool, X_lab, y_lab)
    np.testing.assert_array_equal(auto, fast)
    for other in (
        GaussianNB(),
        LogisticRegression(class_weight="balanced"),
        LogisticRegression(penalty="l1", solver="saga", max_iter=50, random_state=0),
    ):
        other.fit(X_lab, y_lab)
        auto = ExpectedErrorReduction().utilities(other, pool, X_lab, y_lab)
        exact = ExpectedErrorReduction(method="exact").utilities(other, pool, X_lab, y_lab)
        np.testing.assert_array_equal(auto, exact)


def test_fast_on_sgd_and_binary_models():
    X_lab, y_lab, pool = make_data(40, 20, seed=2)
    for estimator in (
        SGDClassifier(loss="log_loss", alpha=0.01, random_state=0),
        LogisticRegression(max_iter=1000),
    ):
        model = estimator.fit(X_lab, y_lab == 1)
        utilities = ExpectedErrorReduction(method="fast").utilities(model, pool, X_lab, y_lab == 1)
        assert np.isfinite(utilities).all() and (utilities < 0).all()
        picks = ValueOfInformationEER(method="fast").query(model, pool, 4, X_lab, y_lab == 1, 0)
        assert np.unique(picks).shape == (4,)


# --------------------------------------------------------------- candidate subsampling


def test_margin_prescreen_scores_only_the_least_certain(conditioned):
    model, X_lab, y_lab, pool, _ = conditioned
    strategy = ExpectedErrorReduction(method="fast", candidates=6)
    utilities = strategy.utilities(model, pool, X_lab, y_lab, random_state=0)
    margins = scores.margin(model.predict_proba(pool))
    scored = np.flatnonzero(~np.isnan(utilities))
    assert set(scored) == set(np.argsort(-margins)[:6])
    picks = strategy.query(model, pool, 10, X_lab, y_lab, random_state=0)
    assert picks[:6].tolist() == scored[np.argsort(-utilities[scored])].tolist()
    rest = np.setdiff1d(np.arange(len(pool)), scored)
    assert picks[6:].tolist() == rest[np.argsort(-margins[rest])][:4].tolist()


def test_random_prescreen_is_reproducible(conditioned):
    model, X_lab, y_lab, pool, _ = conditioned
    strategy = ExpectedErrorReduction(method="fast", candidates=5, prescreen="random")
    first = strategy.query(model, pool, 7, X_lab, y_lab, random_state=1)
    again = strategy.query(model, pool, 7, X_lab, y_lab, random_state=1)
    assert first.tolist() == again.tolist()
    assert np.unique(first).shape == (7,) and first.max() < len(pool)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "params, message",
    [
        ({"loss": "hinge"}, "loss must be one of"),
        ({"method": "slow"}, "method must be one of"),
        ({"candidates": 0}, "candidates must be an int of at least 1"),
        ({"evaluation": 2.5}, "evaluation must be an int"),
        ({"prescreen": "entropy"}, "prescreen must be one of"),
        ({"newton_steps": 0}, "newton_steps must be an int of at least 1"),
        ({"n_jobs": 0}, "n_jobs must be None or a non-zero int"),
        ({"warm_start": "yes"}, "warm_start must be True or False"),
        ({"cost_matrix": np.ones((3, 3))}, "cost_matrix applies to loss='zero_one' only"),
        ({"loss": "zero_one", "cost_matrix": np.ones((2, 2))}, r"shape \(3, 3\)"),
        ({"loss": "zero_one", "cost_matrix": -np.ones((3, 3))}, "non-negative"),
    ],
)
def test_bad_options_are_clear_errors(tiny, params, message):
    _, model, X_lab, y_lab, pool = tiny
    with pytest.raises(ValueError, match=message):
        ExpectedErrorReduction(**params).query(model, pool, 2, X_lab, y_lab)


def test_missing_labeled_set_is_a_clear_error(tiny):
    _, model, _, _, pool = tiny
    with pytest.raises(ValueError, match="needs X_labeled and y_labeled"):
        ExpectedErrorReduction().query(model, pool, 2)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # penalty= is deprecated in 1.8
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fast_needs_an_l2_logistic_model(tiny):
    _, _, X_lab, y_lab, pool = tiny
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X_lab, y_lab)
    with pytest.raises(TypeError, match="Use method='exact'"):
        ExpectedErrorReduction(method="fast").query(forest, pool, 2, X_lab, y_lab)
    lasso = LogisticRegression(penalty="l1", solver="saga", max_iter=50).fit(X_lab, y_lab)
    with pytest.raises(ValueError, match="needs an L2 penalty"):
        ExpectedErrorReduction(method="fast").query(lasso, pool, 2, X_lab, y_lab)
    weighted = LogisticRegression(class_weight="balanced").fit(X_lab, y_lab)
    with pytest.raises(ValueError, match="class_weight"):
        ExpectedErrorReduction(method="influence").query(weighted, pool, 2, X_lab, y_lab)


def test_fast_refuses_too_many_weights(tiny, monkeypatch):
    _, model, X_lab, y_lab, pool = tiny
    monkeypatch.setattr(_eer, "MAX_FAST_PARAMETERS", 8)
    with pytest.raises(ValueError, match="at most 8 are supported"):
        ExpectedErrorReduction(method="fast").query(model, pool, 2, X_lab, y_lab)


# ------------------------------------------------------------------------ the losses


@st.composite
def distributions(draw):
    n_classes = draw(st.integers(2, 5))
    raw = draw(arrays(np.float64, (4, n_classes), elements=st.floats(0, 1)))
    raw[:, 0] += 1e-3
    return raw / raw.sum(axis=1, keepdims=True)


@settings(max_examples=50, deadline=None)
@given(distributions())
def test_expected_losses_match_their_definitions(proba):
    n_classes = proba.shape[1]
    for loss in ("log", "zero_one", "gibbs"):
        np.testing.assert_allclose(
            expected_loss(proba, loss), loss_per_row(proba, loss), atol=1e-12
        )
    cost = np.arange(n_classes**2, dtype=float).reshape(n_classes, n_classes) % 3
    np.fill_diagonal(cost, 0.0)
    for loss in ("zero_one", "gibbs"):
        np.testing.assert_allclose(
            expected_loss(proba, loss, cost), loss_per_row(proba, loss, cost), atol=1e-12
        )
    entropy = expected_loss(proba, "log")
    assert (entropy >= -1e-12).all() and (entropy <= np.log(n_classes) + 1e-12).all()
