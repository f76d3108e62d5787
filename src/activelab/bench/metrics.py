"""Per-round metrics the benchmark records beyond :data:`activelab.loop.METRICS`.

:func:`activelab.simulate` scores each round's model by its predictions (accuracy,
macro-F1). Log loss and the expected calibration error need the class probabilities,
so the benchmark runs ``simulate`` with a :class:`ProbabilityMetrics` hook: a stopping
criterion that never stops and, after every round's refit, scores the model's
``predict_proba`` on the test set. Nothing in the loop changes for it.

>>> import numpy as np
>>> proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
>>> round(log_loss([0, 1, 1], proba, classes=[0, 1]), 4)
0.4149
>>> round(expected_calibration_error([0, 1, 1], proba, classes=[0, 1]), 4)
0.3
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from activelab.stopping import State, StoppingCriterion

__all__ = [
    "METRIC_NAMES",
    "ProbabilityMetrics",
    "expected_calibration_error",
    "log_loss",
]

#: Every metric a benchmark run records per round, in the order of the stored columns.
#: ``accuracy`` and ``f1_macro``: higher is better; ``log_loss`` and ``ece``: lower is better.
METRIC_NAMES: tuple[str, ...] = ("accuracy", "f1_macro", "log_loss", "ece")

#: Probabilities are clipped here before the logarithm, as scikit-learn did for float64.
_EPS = 1e-15


def _true_class_columns(y_true: Any, proba: np.ndarray, classes: Sequence[Any]) -> np.ndarray:
    """Column of each row's true class in ``proba``; -1 where the model never saw it."""
    labels = np.asarray(y_true)
    known = np.asarray(classes)
    if proba.ndim != 2 or proba.shape[0] != labels.shape[0] or proba.shape[1] != known.shape[0]:
        raise ValueError(
            f"probabilities of shape {proba.shape} do not match {labels.shape[0]} labels and "
            f"{known.shape[0]} classes; pass predict_proba(X) and the model's classes_."
        )
    order = np.argsort(known, kind="stable")
    position = np.searchsorted(known[order], labels)
    position = np.minimum(position, known.shape[0] - 1)
    found = known[order][position] == labels
    return np.where(found, order[position], -1)


def log_loss(y_true: Any, proba: Any, classes: Sequence[Any]) -> float:
    """Mean negative log-probability of the true class (natural log).

    A test label the model never saw (absent from ``classes``, possible in early rounds)
    has probability 0; probabilities are clipped to ``1e-15`` so the loss stays finite.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    proba : array-like of shape (n, C)
        Class probabilities, columns in the order of ``classes``.
    classes : sequence of length C
        The model's ``classes_``.

    Returns
    -------
    float
        Lower is better; 0 for certain, correct predictions.

    Examples
    --------
    >>> round(log_loss([1], [[0.5, 0.5]], classes=[0, 1]), 4)
    0.6931
    """
    probabilities = np.asarray(proba, dtype=np.float64)
    columns = _true_class_columns(y_true, probabilities, classes)
    rows = np.arange(columns.shape[0])
    p_true = np.where(columns >= 0, probabilities[rows, np.maximum(columns, 0)], 0.0)
    return float(-np.mean(np.log(np.clip(p_true, _EPS, 1.0))))


def expected_calibration_error(
    y_true: Any, proba: Any, classes: Sequence[Any], n_bins: int = 15
) -> float:
    """Expected calibration error of the top-class confidence, equal-width bins.

    The confidences ``max_c p(c | x)`` fall into ``n_bins`` bins ``((m-1)/M, m/M]``; the
    ECE is the mean over bins of ``|accuracy - mean confidence|`` weighted by the share of
    items in the bin (Naeini et al. 2015; Guo et al. 2017 use 15 bins).

    Parameters
    ----------
    y_true : array-like of shape (n,)
    proba : array-like of shape (n, C)
        Columns in the order of ``classes``.
    classes : sequence of length C
    n_bins : int

    Returns
    -------
    float in [0, 1]
        Lower is better; 0 for a perfectly calibrated model.

    References
    ----------
    Guo, Pleiss, Sun & Weinberger (2017), "On calibration of modern neural networks", ICML.

    Examples
    --------
    >>> expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]], classes=[0, 1])
    0.0
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1; got {n_bins}.")
    probabilities = np.asarray(proba, dtype=np.float64)
    columns = _true_class_columns(y_true, probabilities, classes)
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == columns).astype(np.float64)
    # Bin m holds confidences in ((m-1)/M, m/M]; a confidence of 0 goes to the first bin.
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    gap = np.bincount(bins, weights=correct - confidence, minlength=n_bins)
    return float(np.sum(np.abs(gap)) / confidence.shape[0])


class ProbabilityMetrics(StoppingCriterion):
    """A stopping criterion that never stops: it scores each round's probabilities.

    Pass it to :func:`activelab.simulate` as ``stopping=``; after every round (the initial
    fit included) it appends ``{"log_loss": …, "ece": …}`` for the test set to
    :attr:`records`, one dict per round, in the order of ``Result.history``.

    Parameters
    ----------
    X_test : array-like
    y_test : array-like of shape (n,)
    n_bins : int
        Bins of the ECE.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> import activelab as al
    >>> X, y = load_iris(return_X_y=True)
    >>> hook = ProbabilityMetrics(X[::2], y[::2])
    >>> res = al.simulate(LogisticRegression(max_iter=500), "margin", X[1::2], y[1::2],
    ...                   X_test=X[::2], y_test=y[::2], budget=20, stopping=hook)
    >>> len(hook.records) == len(res.history)
    True
    """

    def __init__(self, X_test: Any, y_test: Any, n_bins: int = 15) -> None:
        self.X_test = X_test
        self.y_test = y_test
        self.n_bins = n_bins
        self.records: list[dict[str, float]] = []
        self.reason = None

    def reset(self) -> None:
        """Forget the records of a previous run."""
        self.reason = None
        self.records = []

    def update(self, state: State) -> bool:
        """Score ``state.model`` on the test set; never stop.

        Parameters
        ----------
        state : State

        Returns
        -------
        bool
            Always False.
        """
        proba = np.asarray(state.model.predict_proba(self.X_test), dtype=np.float64)
        classes = state.model.classes_
        self.records.append(
            {
                "log_loss": log_loss(self.y_test, proba, classes),
                "ece": expected_calibration_error(self.y_test, proba, classes, self.n_bins),
            }
        )
        return False
