"""Simple margin (Tong & Koller): the items closest to an SVM's decision boundary."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._validation import n_rows
from activelab.models import ModelAdapter
from activelab.strategies._base import ScoreStrategy

__all__ = ["SVMMargin", "boundary_closeness"]


def boundary_closeness(decision: Any) -> np.ndarray:
    r"""Utility of the simple margin: closeness to the nearest decision boundary.

    With :math:`m(x) = |f(x)|` for a binary decision function (shape ``(n,)``) and
    :math:`m(x) = \min_c |f_c(x)|` for one-vs-rest scores (shape ``(n, C)``, the
    boundary of the class the item is nearest to splitting off), the utility is
    :math:`1 / (1 + m(x))`: in ``(0, 1]``, 1 on the boundary, ranked as :math:`-m(x)`,
    and non-negative so every sampling mode (``"power"`` too) takes it.

    Parameters
    ----------
    decision : array-like of shape (n,) or (n, C)
        ``decision_function`` output.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Higher is closer to a boundary; 1 on it.

    Examples
    --------
    >>> boundary_closeness([3.0, -1.0, 0.0]).tolist()
    [0.25, 0.5, 1.0]
    >>> boundary_closeness([[1.0, -3.0], [0.25, 0.5]]).tolist()
    [0.5, 0.8]
    """
    values = np.asarray(decision)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim not in (1, 2):
        raise ValueError(
            f"svm_margin needs decision_function output of shape (n,) or (n, C); got "
            f"{values.shape}."
        )
    if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        raise ValueError(f"svm_margin needs real decision_function output; got {values.dtype}.")
    values = values.astype(np.float64, copy=False)
    if not np.isfinite(values).all():
        raise ValueError("svm_margin: decision_function gave NaN or infinite values.")
    distance = np.abs(values)
    if values.ndim == 2:
        distance = distance.min(axis=1)
    return 1.0 / (1.0 + distance)


class _DecisionAdapter(ModelAdapter):
    """A thin adapter around any fitted object with ``decision_function``."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    @property
    def capabilities(self) -> frozenset[str]:
        """``decision_function`` only."""
        return frozenset({"decision_function"})

    def describe(self) -> str:
        """The wrapped estimator's class name."""
        return type(self.estimator).__name__

    def decision_function(self, X: Any) -> np.ndarray:
        """The wrapped estimator's ``decision_function``."""
        return np.asarray(self.estimator.decision_function(X))


class SVMMargin(ScoreStrategy):
    r"""Simple margin: query the items closest to the SVM's separating hyperplane.

    Tong & Koller's *simple margin* picks the item with the smallest :math:`|f(x)|`,
    the item that most nearly halves the version space. Multiclass by the smallest
    one-vs-rest :math:`|f_c(x)|` (:func:`boundary_closeness`). It reads the model's
    ``decision_function`` (no probabilities, no calibration): ``LinearSVC``, ``SVC``,
    ``SGDClassifier``, ``LogisticRegression``, ``RidgeClassifier``, a Pipeline ending in
    one, or any object with ``decision_function``. For a multiclass ``SVC`` pass
    ``decision_function_shape="ovr"`` (its default) — its columns are then vote-based
    and only roughly distances; ``LinearSVC`` or ``OneVsRestClassifier(SVC())`` give the
    one-vs-rest distances of the paper.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Tong & Koller (2001), "Support vector machine active learning with applications to
    text classification", JMLR 2.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import LinearSVC
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> svm = LinearSVC().fit(X, [0, 0, 1, 1])
    >>> SVMMargin().query(svm, [[0.0], [2.0], [4.0]], 1).tolist()
    [1]
    """

    name: ClassVar[str] = "svm_margin"
    needs: ClassVar[tuple[str, ...]] = ("decision_function",)
    summary: ClassVar[str] = "smallest absolute decision_function (one-vs-rest min), simple margin"
    reference: ClassVar[str] = "Tong & Koller 2001"

    def _adapter(self, model: Any) -> ModelAdapter | None:
        if model is None:
            raise TypeError(
                f"{self.name} needs a fitted model (decision_function); got model=None."
            )
        candidate = getattr(model, "estimator", model) if isinstance(model, ModelAdapter) else model
        if callable(getattr(model, "decision_function", None)):
            return model if isinstance(model, ModelAdapter) else _DecisionAdapter(model)
        if callable(getattr(candidate, "decision_function", None)):
            return _DecisionAdapter(candidate)
        raise TypeError(
            f"{self.name} needs 'decision_function', which {type(candidate).__name__} does "
            "not provide. Use a margin classifier: LinearSVC, SVC, SGDClassifier, "
            "LogisticRegression, or a Pipeline ending in one; for probability-only models "
            "use 'margin' instead."
        )

    def _utilities(self, model: Any, X_pool: Any) -> np.ndarray:
        utilities = boundary_closeness(model.decision_function(X_pool))
        if utilities.shape[0] != n_rows(X_pool):
            raise ValueError(
                f"{self.name}: decision_function gave {utilities.shape[0]} rows for "
                f"{n_rows(X_pool)} pool items."
            )
        return utilities
