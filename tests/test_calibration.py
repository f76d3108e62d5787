"""Temperature scaling: the temperature, the calibration it buys, what it must not change."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

import activelab as al
from activelab import scores
from activelab.models import Calibrated, fit_temperature


def draw_labels(logits, rng):
    """One label per row drawn from softmax(logits), by inverse CDF."""
    cdf = np.cumsum(softmax(logits, axis=1), axis=1)
    return (rng.random((logits.shape[0], 1)) > cdf).sum(axis=1)


def reference_ece(y, proba, classes, n_bins=10):
    """Expected calibration error of the top-class confidence, equal-width bins."""
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == y
    error = 0.0
    edges = np.linspace(0, 1, n_bins + 1)
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return error


def reference_nll(logits, y, temperature):
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    log_p = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(y)), y].mean()


@pytest.fixture(scope="module")
def noisy():
    X, y = make_classification(
        n_samples=3000, n_features=20, n_informative=5, flip_y=0.15, random_state=0
    )
    return X[:150], y[:150], X[150:], y[150:]


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 3.0])
def test_temperature_is_recovered_from_miscalibrated_logits(true_temperature):
    rng = np.random.default_rng(0)
    calibrated_logits = 2.0 * rng.normal(size=(20_000, 4))
    y = draw_labels(calibrated_logits, rng)
    # the model reports logits true_temperature times too sharp (or too flat)
    found = fit_temperature(calibrated_logits * true_temperature, y)
    assert found == pytest.approx(true_temperature, rel=0.05)


def test_temperature_minimises_the_nll_over_a_grid():
    rng = np.random.default_rng(1)
    logits = 3.0 * rng.normal(size=(300, 3))
    y = rng.integers(0, 3, size=300)
    found = fit_temperature(logits, y)
    grid = np.exp(np.linspace(np.log(0.01), np.log(100), 4001))
    best = grid[np.argmin([reference_nll(logits, y, t) for t in grid])]
    assert found == pytest.approx(best, rel=0.01)
    assert reference_nll(logits, y, found) <= reference_nll(logits, y, best) + 1e-9


def test_temperature_stops_at_its_bounds():
    logits = np.array([[5.0, 0.0], [0.0, 5.0]])
    assert fit_temperature(logits, [0, 1], bounds=(0.5, 2.0)) == pytest.approx(0.5, rel=1e-4)


def test_fit_temperature_rejects_bad_input():
    with pytest.raises(ValueError, match="finite logits"):
        fit_temperature([[0.0, -np.inf]], [0])
    with pytest.raises(ValueError, match=r"class indices 0\.\.1"):
        fit_temperature([[0.0, 1.0]], [2])
    with pytest.raises(ValueError, match="shape"):
        fit_temperature([0.0, 1.0], [0, 1])
    with pytest.raises(ValueError, match="bounds"):
        fit_temperature([[0.0, 1.0]], [1], bounds=(2.0, 1.0))


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(C=1e4, max_iter=5000),
        RandomForestClassifier(n_estimators=30, random_state=0),
    ],
    ids=["unregularised-logreg", "grown-forest"],
)
def test_calibration_improves_ece_and_log_loss(noisy, model):
    X, y, X_test, y_test = noisy
    raw = clone(model).fit(X, y)
    calibrated = Calibrated(model, cv=5, random_state=0).fit(X, y)
    raw_proba, cal_proba = raw.predict_proba(X_test), calibrated.predict_proba(X_test)
    assert reference_ece(y_test, cal_proba, calibrated.classes_) < 0.7 * reference_ece(
        y_test, raw_proba, raw.classes_
    )
    rows = np.arange(len(y_test))
    raw_nll = -np.log(np.clip(raw_proba[rows, y_test], 1e-12, 1)).mean()
    assert -np.log(cal_proba[rows, y_test]).mean() < raw_nll
    assert calibrated.predict(X_test).tolist() == raw.predict(X_test).tolist()


def test_fit_uses_out_of_fold_predictions_then_refits_on_everything(noisy):
    X, y, X_test, _ = noisy
    folds = KFold(n_splits=3)
    model = LogisticRegression(C=1e4, max_iter=5000)
    calibrated = Calibrated(model, cv=folds).fit(X, y)
    logits = np.empty((len(y), 2))
    for train, test in folds.split(X):
        member = clone(model).fit(X[train], y[train])
        logits[test] = np.log(np.clip(member.predict_proba(X[test]), 1e-12, 1))
    assert calibrated.temperature_ == pytest.approx(fit_temperature(logits, y), rel=1e-6)
    full = clone(model).fit(X, y).predict_proba(X_test)
    expected = softmax(np.log(np.clip(full, 1e-12, 1)) / calibrated.temperature_, axis=1)
    np.testing.assert_allclose(calibrated.predict_proba(X_test), expected, atol=1e-10)
    assert not hasattr(model, "coef_")


@settings(max_examples=30, deadline=None)
@given(
    p=st.lists(st.floats(1e-6, 1 - 1e-6), min_size=2, max_size=40),
    temperature=st.floats(0.05, 20.0),
)
def test_binary_margin_ranking_is_unchanged_by_temperature(p, temperature):
    positive = np.asarray(p)
    proba = np.column_stack([1 - positive, positive])
    scaled = softmax(np.log(proba) / temperature, axis=1)
    before, after = scores.margin(proba), scores.margin(scaled)
    order = np.argsort(before, kind="stable")
    assert np.all(np.diff(after[order]) >= -1e-12)


def test_binary_calibrated_model_ranks_the_pool_like_the_raw_one(noisy):
    X, y, X_test, _ = noisy
    model = LogisticRegression(C=1e4, max_iter=5000)
    raw = clone(model).fit(X, y)
    calibrated = Calibrated(model, random_state=0).fit(X, y)
    assert calibrated.temperature_ != pytest.approx(1.0, abs=0.05)
    before = scores.margin(raw.predict_proba(X_test))
    after = scores.margin(calibrated.predict_proba(X_test))
    order = np.argsort(before, kind="stable")
    assert np.all(np.diff(after[order]) >= -1e-12)


def test_usable_wherever_a_model_is(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    frame = pd.DataFrame(X, columns=list("abcd"))
    model = Calibrated(LogisticRegression(max_iter=500), cv=3, random_state=0)
    picks = al.strategies.get("margin").query(model.fit(frame, names), frame, 5, random_state=0)
    assert picks.shape == (5,)
    assert model.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    result = al.simulate(
        Calibrated(LogisticRegression(max_iter=500), cv=2, random_state=0),
        "entropy",
        X,
        y,
        X_test=X,
        y_test=y,
        initial=12,
        batch_size=6,
        budget=24,
        random_state=0,
    )
    assert result.history[-1].n_labeled == 24


def test_too_few_labels_per_class_is_a_clear_error():
    X = np.arange(12, dtype=float).reshape(-1, 1)
    y = np.array([0] * 9 + [1] * 3)
    with pytest.raises(ValueError, match=r"class 1 has 3.*lower cv"):
        Calibrated(LogisticRegression(), cv=5).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        Calibrated(LogisticRegression()).fit(X, np.zeros(12))
    with pytest.raises(ValueError, match="cv >= 2"):
        Calibrated(LogisticRegression(), cv=1).fit(X, y)
    with pytest.raises(RuntimeError, match="not fitted"):
        Calibrated(LogisticRegression()).predict_proba(X)
    Calibrated(LogisticRegression(), cv=3).fit(X, y)  # 3 per class is enough for cv=3
