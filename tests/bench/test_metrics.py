"""Per-round metrics (log loss, ECE, the evaluation hook) and the model registry."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss as sklearn_log_loss

import activelab as al
from activelab.bench import models
from activelab.bench.metrics import (
    METRIC_NAMES,
    ProbabilityMetrics,
    expected_calibration_error,
    log_loss,
)


def random_proba(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    proba = rng.dirichlet(np.full(classes, 0.7), size=n)
    return proba


def reference_ece(y: np.ndarray, proba: np.ndarray, classes: np.ndarray, n_bins: int) -> float:
    """ECE written plainly: loop over bins ((m-1)/M, m/M]."""
    confidence = proba.max(axis=1)
    predicted = classes[proba.argmax(axis=1)]
    total = 0.0
    for m in range(1, n_bins + 1):
        low, high = (m - 1) / n_bins, m / n_bins
        inside = (confidence > low) & (confidence <= high)
        if m == 1:
            inside |= confidence == 0.0
        if inside.any():
            accuracy = np.mean(predicted[inside] == y[inside])
            total += inside.mean() * abs(accuracy - confidence[inside].mean())
    return total


def test_log_loss_matches_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    proba = random_proba(rng, 200, 4)
    y = rng.integers(0, 4, size=200)
    assert log_loss(y, proba, classes=[0, 1, 2, 3]) == pytest.approx(
        sklearn_log_loss(y, proba, labels=[0, 1, 2, 3]), rel=1e-12
    )


def test_log_loss_of_a_class_the_model_never_saw_is_large_but_finite() -> None:
    # Early rounds: the model knows classes 0 and 2 only; the test set has a 1.
    proba = np.array([[0.5, 0.5], [1.0, 0.0]])
    value = log_loss(np.array([1, 0]), proba, classes=np.array([0, 2]))
    assert np.isfinite(value)
    assert value == pytest.approx(-np.log(1e-15) / 2)


def test_labels_are_matched_by_value_not_by_position() -> None:
    proba = np.array([[0.8, 0.2], [0.3, 0.7]])
    # Columns follow classes_ = ["b", "a"], not sorted order.
    assert log_loss(["b", "a"], proba, classes=["b", "a"]) == pytest.approx(
        -(np.log(0.8) + np.log(0.7)) / 2
    )
    assert expected_calibration_error(["b", "a"], proba, classes=["b", "a"]) == pytest.approx(
        ((1 - 0.8) + (1 - 0.7)) / 2
    )


@pytest.mark.parametrize("n_bins", [1, 10, 15])
def test_ece_matches_a_plain_loop_over_bins(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    proba = random_proba(rng, 500, 3)
    y = rng.integers(0, 3, size=500)
    classes = np.arange(3)
    assert expected_calibration_error(y, proba, classes, n_bins) == pytest.approx(
        reference_ece(y, proba, classes, n_bins), abs=1e-12
    )


def test_ece_is_zero_when_confidence_equals_accuracy() -> None:
    # Every item has confidence 0.75 and three in four are right: perfectly calibrated.
    proba = np.tile([0.75, 0.25], (8, 1))
    y = np.array([0, 0, 0, 1] * 2)
    assert expected_calibration_error(y, proba, classes=[0, 1]) == pytest.approx(0.0)
    # And 1 - confidence when every prediction is wrong.
    assert expected_calibration_error(np.ones(8, int), proba, classes=[0, 1]) == pytest.approx(0.75)


def test_shapes_that_do_not_match_are_refused() -> None:
    with pytest.raises(ValueError, match=r"do not match 2 labels and 3 classes"):
        log_loss([0, 1], np.full((2, 2), 0.5), classes=[0, 1, 2])
    with pytest.raises(ValueError, match="n_bins must be at least 1"):
        expected_calibration_error([0], [[1.0, 0.0]], classes=[0, 1], n_bins=0)


def test_hook_records_one_entry_per_round_of_the_final_model(iris) -> None:
    X, y = iris
    rng = np.random.default_rng(0)
    test = rng.permutation(150)[:50]
    pool = np.setdiff1d(np.arange(150), test)
    hook = ProbabilityMetrics(X[test], y[test])
    result = al.simulate(
        LogisticRegression(max_iter=500),
        "margin",
        X[pool],
        y[pool],
        X_test=X[test],
        y_test=y[test],
        initial=6,
        batch_size=8,
        budget=30,
        stopping=hook,
        random_state=0,
    )
    assert result.stopped_by is None  # the hook never stops the loop
    assert len(hook.records) == len(result.history) == 4
    labeled = np.concatenate([r.indices for r in result.history])
    final = LogisticRegression(max_iter=500).fit(X[pool][labeled], y[pool][labeled])
    proba = final.predict_proba(X[test])
    assert hook.records[-1]["log_loss"] == pytest.approx(log_loss(y[test], proba, final.classes_))
    assert hook.records[-1]["ece"] == pytest.approx(
        expected_calibration_error(y[test], proba, final.classes_)
    )
    hook.reset()
    assert hook.records == []


def test_metric_names_are_the_stored_columns() -> None:
    from activelab.bench.store import ROUND_COLUMNS

    assert set(METRIC_NAMES) <= set(ROUND_COLUMNS)


def test_model_registry_defaults_seed_and_errors() -> None:
    assert models.available() == ["forest", "logreg", "logreg-calibrated", "nb", "svm-rbf"]
    forest = models.make("forest", seed=4)
    assert (forest.n_estimators, forest.random_state) == (100, 4)
    assert models.make("forest", seed=4, random_state=9).random_state == 9
    svm = models.make("svm-rbf", seed=1)
    assert (svm.kernel, svm.gamma, svm.C, svm.probability, svm.random_state) == (
        "rbf",
        "auto",
        1.0,
        True,
        1,
    )
    logreg = models.make("logreg", seed=1)
    assert logreg.max_iter == 1000 and not hasattr(logreg, "steps")  # no scaler
    with pytest.raises(ValueError, match="model 'logreg' does not take n_estimators"):
        models.make("logreg", n_estimators=3)
    with pytest.raises(ValueError, match=r"unknown model 'forrest'\. Did you mean 'forest'"):
        models.make("forrest")
    assert models.fits("bald", "forest") and not models.fits("bald", "svm-rbf")
    assert models.fits("badge", "logreg") and not models.fits("badge", "forest")
