"""Temperature scaling (Guo et al. 2017): calibrated probabilities from any classifier."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from activelab._data import take_rows
from activelab._validation import (
    RandomStateLike,
    check_labels,
    check_random_state,
    n_rows,
)
from activelab.models._base import align_columns

__all__ = ["Calibrated", "fit_temperature"]

#: Probabilities are clipped to at least this before the log, so a zero stays finite.
PROBABILITY_FLOOR = 1e-12


def _nll(logits: np.ndarray, rows: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``softmax(logits / T)`` at the targets."""
    scaled = logits / temperature
    return float(np.mean(logsumexp(scaled, axis=1) - scaled[rows, targets]))


def fit_temperature(logits: Any, y: Any, bounds: tuple[float, float] = (1e-2, 1e2)) -> float:
    r"""The temperature that minimises the negative log-likelihood of scaled logits.

    .. math:: T^\star = \arg\min_{T} \; \frac1n \sum_{i=1}^{n}
              \Big[\log \sum_c e^{z_{ic}/T} - z_{i y_i}/T\Big]

    found by a bounded 1-D search (Brent's method) on :math:`\log T`. The objective is
    convex in :math:`1/T`, hence unimodal in :math:`\log T`, so the search finds the global
    minimum inside ``bounds``. Log-probabilities work as logits (softmax is unchanged by a
    per-row shift). :math:`T > 1` softens over-confident predictions, :math:`T < 1`
    sharpens under-confident ones; the arg-max never changes.

    Parameters
    ----------
    logits : array-like of shape (n, C)
        Finite logits or log-probabilities, out-of-sample for the model being calibrated.
    y : array-like of shape (n,)
        Integer class indices ``0..C-1`` (column positions in ``logits``).
    bounds : (float, float), default=(0.01, 100)
        Smallest and largest temperature searched; positive.

    Returns
    -------
    float
        :math:`T^\star`. A value at a bound means the optimum lies beyond it.

    References
    ----------
    Guo, Pleiss, Sun & Weinberger (2017), "On calibration of modern neural networks",
    ICML.

    Examples
    --------
    >>> logits = np.array([[4.0, 0.0], [4.0, 0.0], [0.0, 4.0], [0.0, 4.0]])
    >>> fit_temperature(logits, [0, 1, 1, 1]) > 1.0  # one confident mistake: soften
    True
    """
    array = np.asarray(logits, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 2 or array.shape[0] == 0:
        raise ValueError(
            f"fit_temperature needs logits of shape (n, C) with C >= 2 and n >= 1; got "
            f"shape {array.shape}."
        )
    if not np.isfinite(array).all():
        raise ValueError(
            "fit_temperature needs finite logits; clip probabilities away from 0 before "
            "taking their log."
        )
    targets = check_labels(y, array.shape[0], name="y")
    if targets.dtype.kind not in "iu" or targets.min() < 0 or targets.max() >= array.shape[1]:
        raise ValueError(
            f"fit_temperature needs y as class indices 0..{array.shape[1] - 1} (logit "
            f"columns); got values {np.unique(targets)[:5].tolist()}."
        )
    low, high = (float(b) for b in bounds)
    if not (0 < low < high < np.inf):
        raise ValueError(f"bounds must be 0 < low < high < inf; got {bounds!r}.")
    rows = np.arange(array.shape[0])
    result = minimize_scalar(
        lambda log_t: _nll(array, rows, targets, float(np.exp(log_t))),
        bounds=(np.log(low), np.log(high)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


class Calibrated(ClassifierMixin, BaseEstimator):
    r"""A classifier whose probabilities are temperature-scaled (Guo et al. 2017).

    ``fit`` (1) collects out-of-fold log-probabilities :math:`z_i = \log p(\cdot \mid x_i)`
    on the labeled set: clones of ``model`` are fitted on ``cv - 1`` stratified folds and
    predict the held-out one; (2) fits one scalar temperature :math:`T` minimising their
    negative log-likelihood (:func:`fit_temperature`, a bounded search on
    :math:`\log T`); (3) refits ``model`` on all the labeled data. Then

    .. math:: \tilde p(c \mid x) = \mathrm{softmax}\big(\log p(c \mid x) / T\big)
              = \frac{p(c \mid x)^{1/T}}{\sum_{c'} p(c' \mid x)^{1/T}}

    Scaling never changes the predicted class, and for two classes it keeps the order
    of every uncertainty score (margin, entropy, least confidence: each is monotone in
    :math:`|\tilde p_1 - \tilde p_0|`, itself monotone in :math:`|p_1 - p_0|`); with more
    classes it can reorder items by margin or entropy. Probabilities are clipped at
    ``1e-12`` before the log, so a model that gives exact zeros (fully grown trees) is
    softened too.

    It is a scikit-learn classifier (``fit``, ``predict``, ``predict_proba``,
    ``classes_``), usable wherever a model is: ``al.ActiveLearner(Calibrated(model))``,
    ``al.simulate(Calibrated(model), ...)`` or a strategy's ``query``.

    Parameters
    ----------
    model : classifier
        Unfitted, with ``fit`` and ``predict_proba``; cloned, never fitted in place.
    cv : int or cross-validation splitter, default=5
        Number of stratified folds (at least 2; every class needs at least ``cv``
        labels), or an object with ``split(X, y)``.
    bounds : (float, float), default=(0.01, 100)
        Range of the temperature search.
    random_state : int, numpy.random.Generator or None
        Seeds the fold shuffle.

    Attributes
    ----------
    estimator_ : classifier
        ``model`` refitted on all the labeled data.
    temperature_ : float
        The fitted :math:`T`.
    classes_ : numpy.ndarray

    References
    ----------
    Guo, Pleiss, Sun & Weinberger (2017), "On calibration of modern neural networks",
    ICML.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = Calibrated(LogisticRegression(max_iter=500), cv=3, random_state=0).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __init__(
        self,
        model: Any,
        cv: Any = 5,
        bounds: tuple[float, float] = (1e-2, 1e2),
        random_state: RandomStateLike = None,
    ) -> None:
        self.model = model
        self.cv = cv
        self.bounds = bounds
        self.random_state = random_state

    def _splitter(self, classes: np.ndarray, counts: np.ndarray) -> Any:
        from sklearn.model_selection import StratifiedKFold

        if not isinstance(self.cv, numbers.Integral) or isinstance(self.cv, bool):
            if callable(getattr(self.cv, "split", None)):
                return self.cv
            raise TypeError(f"cv must be an int or a splitter with split(X, y); got {self.cv!r}.")
        if self.cv < 2:
            raise ValueError(f"Calibrated needs cv >= 2 folds; got cv={self.cv}.")
        fewest = int(np.argmin(counts))
        if counts[fewest] < self.cv:
            raise ValueError(
                f"Calibrated(cv={self.cv}) needs at least {self.cv} labeled examples of "
                f"every class for its cross-validation; class {classes[fewest].item()!r} has "
                f"{counts[fewest]}. Label more examples of that class, lower cv (at least "
                "2), or use the model uncalibrated until then."
            )
        seed = int(check_random_state(self.random_state).integers(0, 2**31 - 1))
        return StratifiedKFold(n_splits=int(self.cv), shuffle=True, random_state=seed)

    def _log_proba(self, member: Any, X: Any) -> np.ndarray:
        proba = align_columns(
            member.predict_proba(X),
            getattr(member, "classes_", self.classes_),
            self.classes_,
            encoded=False,
        )
        return np.log(np.clip(proba, PROBABILITY_FLOOR, 1.0))

    def fit(self, X: Any, y: Any) -> Calibrated:
        """Fit the temperature on out-of-fold predictions, then the model on all data.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts
        y : array-like of shape (n,)

        Returns
        -------
        Calibrated
        """
        labels = check_labels(y, n_rows(X))
        self.classes_, targets, counts = np.unique(labels, return_inverse=True, return_counts=True)
        if self.classes_.shape[0] < 2:
            raise ValueError(
                f"Calibrated needs labeled examples of at least 2 classes; got only "
                f"{self.classes_.tolist()}."
            )
        splitter = self._splitter(self.classes_, counts)
        logits = np.zeros((labels.shape[0], self.classes_.shape[0]))
        covered = np.zeros(labels.shape[0], dtype=bool)
        for train, test in splitter.split(np.zeros((labels.shape[0], 1)), labels):
            member = clone(self.model).fit(take_rows(X, train), labels[train])
            logits[test] = self._log_proba(member, take_rows(X, test))
            covered[test] = True
        if not covered.any():
            raise ValueError("the cv splitter gave no held-out rows to calibrate on.")
        self.temperature_ = fit_temperature(logits[covered], targets[covered], self.bounds)
        self.estimator_ = clone(self.model).fit(X, labels)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """``softmax(log p / T)`` of the refitted model's probabilities, ``(n, C)``.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n, C)
        """
        if not hasattr(self, "estimator_"):
            raise RuntimeError("Calibrated is not fitted; call fit(X, y) first.")
        return softmax(self._log_proba(self.estimator_, X) / self.temperature_, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class (the model's own arg-max; T does not change it).

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
