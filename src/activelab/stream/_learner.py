"""StreamLearner: see items one at a time (or a mini-batch), query or discard, learn.

The learner owns a copy of the estimator and one of two ways to train it:

``training="incremental"``
    ``partial_fit`` on each batch of newly labelled items (SGDClassifier, the naive Bayes
    classifiers, MLPClassifier, Perceptron, PassiveAggressiveClassifier …). Nothing but
    the model is kept.
``training="window"``
    A ring buffer of the last ``window_size`` labelled items; the estimator is refitted
    on it from scratch every ``refit_every`` new labels. Any classifier with ``fit``
    works, and the window forgets old concepts, which helps under drift.

Either way the learner's memory is bounded: the model, the rule's windows, the budget
manager's few numbers and, for ``"window"``, the buffer. Until the model has been taught
two classes (or, for ``"window"``, refitted on a window that holds two), its
probabilities are uniform, so the uncertainty rules keep asking, and
:meth:`StreamLearner.predict` answers the most frequent label taught so far.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from activelab._validation import RandomStateLike, check_int, check_random_state
from activelab.models import align_columns
from activelab.stream._budget import BudgetManager
from activelab.stream._rules import StreamRule, as_rows, label_codes

__all__ = ["TRAINING", "StreamLearner"]

#: The ways a StreamLearner trains its model.
TRAINING = ("incremental", "window")


def resolve_rule(rule: Any) -> StreamRule:
    """A stream rule from a registry name or a rule object.

    Parameters
    ----------
    rule : str or StreamRule

    Returns
    -------
    StreamRule
        A fresh copy (the caller's object is never reset).

    Examples
    --------
    >>> resolve_rule("variable_uncertainty").name
    'variable_uncertainty'
    """
    if isinstance(rule, str):
        from activelab.stream import get

        return get(rule)
    if isinstance(rule, StreamRule):
        return clone(rule)
    from activelab.stream import available

    raise TypeError(
        f"rule must be a stream rule name or a StreamRule; got {type(rule).__name__}. "
        f"Names: {', '.join(available())}."
    )


class StreamLearner:
    """Stream-based selective sampling: decide for each arriving item to query or discard.

    Call :meth:`query` with each arriving item (or mini-batch); it returns which to
    label. Call :meth:`teach` with the labels of those you got. A mini-batch is decided
    item by item in order, with the model fixed for the batch.

    Parameters
    ----------
    estimator : classifier
        With ``partial_fit`` for ``training="incremental"``, or ``fit`` for ``"window"``,
        and ``predict_proba`` when the rule reads a model. Copied, never modified.
    rule : str or StreamRule, default="variable_uncertainty"
        A name from :func:`activelab.stream.available` or a rule object.
    budget_manager : BudgetManager, optional
        Decides under the budget; default: the rule's own manager with ``budget``.
    budget : float, optional
        Target labelling rate for the rule's default manager (0.1 when neither this
        nor ``budget_manager`` is given). Giving both with different budgets is an error.
    classes : array-like
        Every class the stream can hold (``partial_fit`` must know them up front).
    training : {"incremental", "window"}, default="incremental"
    window_size : int, default=500
        Labelled items kept by ``training="window"``.
    refit_every : int, default=1
        New labels between refits for ``training="window"``.
    random_state : int, numpy.random.Generator or None
        Seeds the rule's and the budget manager's draws.

    Attributes
    ----------
    n_seen_, n_queried_ : int
        Items seen by :meth:`query` and queried.
    n_taught_ : int
        Labelled items given to :meth:`teach`.

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> rng = np.random.default_rng(0)
    >>> learner = StreamLearner(SGDClassifier(loss="log_loss"), "variable_uncertainty",
    ...                         budget=0.2, classes=[0, 1], random_state=0)
    >>> for _ in range(200):
    ...     x = rng.normal(size=(1, 2))
    ...     if learner.query(x)[0]:
    ...         learner = learner.teach(x, [int(x[0, 0] > 0)])
    >>> learner.n_seen_, learner.n_queried_ <= (100 * 0.2 + 1) * (1 + 200 / 100)
    (200, True)
    """

    def __init__(
        self,
        estimator: Any,
        rule: str | StreamRule = "variable_uncertainty",
        budget_manager: BudgetManager | None = None,
        *,
        budget: float | None = None,
        classes: Any = None,
        training: str = "incremental",
        window_size: int = 500,
        refit_every: int = 1,
        random_state: RandomStateLike = None,
    ) -> None:
        if classes is None:
            raise ValueError(
                "StreamLearner needs classes=[...], every label the stream can hold: an "
                "incremental model must know them before the first label arrives."
            )
        self.classes_ = np.asarray(classes)
        if self.classes_.ndim != 1 or np.unique(self.classes_).size != self.classes_.size:
            raise ValueError(f"classes must be distinct labels in a 1-D list; got {classes!r}.")
        if self.classes_.size < 2:
            raise ValueError(f"classes must hold at least two labels; got {classes!r}.")
        if training not in TRAINING:
            raise ValueError(f"training must be one of {TRAINING}; got {training!r}.")
        method = "partial_fit" if training == "incremental" else "fit"
        if not callable(getattr(estimator, method, None)):
            hint = (
                " Use training='window' to refit it on the last labelled items instead."
                if training == "incremental"
                else ""
            )
            raise TypeError(
                f"training={training!r} calls {method}, which {type(estimator).__name__} "
                f"does not have.{hint}"
            )
        self.rule = resolve_rule(rule)
        if not callable(getattr(estimator, "predict_proba", None)) and self.rule.needs:
            raise TypeError(
                f"rule {self.rule.name!r} reads the model's predict_proba, which "
                f"{type(estimator).__name__} does not have. For SGDClassifier pass "
                "loss='log_loss' or 'modified_huber'."
            )
        self.estimator = clone(estimator) if hasattr(estimator, "get_params") else estimator
        self.training = training
        self.window_size = check_int(window_size, "window_size", "StreamLearner", 1)
        self.refit_every = check_int(refit_every, "refit_every", "StreamLearner", 1)
        self.budget_manager = self._manager(budget_manager, budget)
        rng = check_random_state(random_state)
        self.rule.reset(self.classes_, rng)
        self.budget_manager.reset(self.classes_.size, rng)
        self.n_seen_ = 0
        self.n_queried_ = 0
        self.n_taught_ = 0
        self._label_counts = np.zeros(self.classes_.size, dtype=np.int64)
        self._fitted = False
        self._since_refit = 0
        self._window_count = 0
        self._X_window: np.ndarray | None = None
        self._y_window = np.zeros(self.window_size, dtype=np.int64)

    def _manager(self, budget_manager: BudgetManager | None, budget: float | None) -> BudgetManager:
        if budget_manager is None:
            return self.rule.default_budget_manager(0.1 if budget is None else budget)
        if not isinstance(budget_manager, BudgetManager):
            raise TypeError(
                "budget_manager must be a BudgetManager such as "
                "al.stream.VariableUncertaintyBudget(budget=0.1); got "
                f"{type(budget_manager).__name__}."
            )
        if budget is not None and budget != budget_manager.budget:
            raise ValueError(
                f"budget={budget} disagrees with budget_manager.budget="
                f"{budget_manager.budget}; give one of them."
            )
        return clone(budget_manager)

    # ------------------------------------------------------------------ predictions

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per class of ``classes`` in that order.

        Uniform until the model can predict.

        Parameters
        ----------
        X : array-like of shape (n, d) or (d,)

        Returns
        -------
        numpy.ndarray of shape (n, C)
        """
        rows = as_rows(X, "StreamLearner")
        n_classes = self.classes_.size
        if not self._fitted:
            return np.full((rows.shape[0], n_classes), 1.0 / n_classes)
        proba = np.asarray(self.estimator.predict_proba(rows), dtype=np.float64)
        return align_columns(proba, self.estimator.classes_, self.classes_, encoded=False)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted label of each item (the most frequent label so far until fitted).

        Parameters
        ----------
        X : array-like of shape (n, d) or (d,)

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        rows = as_rows(X, "StreamLearner")
        if not self._fitted:
            return np.repeat(self.classes_[np.argmax(self._label_counts)], rows.shape[0])
        return np.asarray(self.estimator.predict(rows))

    # -------------------------------------------------------------------- the loop

    def query(self, X: Any) -> np.ndarray:
        """Decide for each arriving item whether to query its label.

        Parameters
        ----------
        X : array-like of shape (n, d) or (d,)
            The next item or mini-batch of the stream.

        Returns
        -------
        numpy.ndarray of shape (n,), bool
            True for the items to label; pass them with their labels to :meth:`teach`.
        """
        rows = as_rows(X, "StreamLearner")
        model = self if self.rule.needs or getattr(self.rule, "use_model", False) else None
        queried = np.asarray(self.rule.select(model, rows, self.budget_manager), dtype=bool)
        self.n_seen_ += rows.shape[0]
        self.n_queried_ += int(queried.sum())
        return queried

    def teach(self, X: Any, y: Any) -> StreamLearner:
        """Learn from labelled items: update the model and the rule.

        Parameters
        ----------
        X : array-like of shape (m, d) or (d,)
        y : array-like of shape (m,)
            Labels from ``classes``.

        Returns
        -------
        StreamLearner
            self.
        """
        rows = as_rows(X, "StreamLearner")
        labels = np.asarray(y).reshape(-1)
        if labels.shape[0] != rows.shape[0]:
            raise ValueError(f"teach got {labels.shape[0]} labels for {rows.shape[0]} items.")
        if labels.size == 0:
            return self
        codes = label_codes(self.classes_, labels, "StreamLearner")
        np.add.at(self._label_counts, codes, 1)
        self.n_taught_ += labels.size
        self.rule.learn(rows, labels)
        if self.training == "incremental":
            self.estimator.partial_fit(rows, labels, classes=self.classes_)
            # one class seen: some models give NaN (GaussianNB's zero variance), others
            # certainty; either would stop the uncertainty rules from asking
            self._fitted = np.count_nonzero(self._label_counts) >= 2
        else:
            self._remember(rows, codes)
        return self

    def _remember(self, rows: np.ndarray, codes: np.ndarray) -> None:
        if self._X_window is None:
            self._X_window = np.zeros((self.window_size, rows.shape[1]))
        for row, code in zip(rows, codes, strict=True):
            position = self._window_count % self.window_size
            self._X_window[position] = row
            self._y_window[position] = code
            self._window_count += 1
        self._since_refit += codes.size
        if self._since_refit < self.refit_every:
            return
        stored = min(self._window_count, self.window_size)
        window_codes = self._y_window[:stored]
        if np.unique(window_codes).size < 2:
            return  # one class: keep the last model (or uniform probabilities)
        self.estimator.fit(self._X_window[:stored], self.classes_[window_codes])
        self._fitted = True
        self._since_refit = 0

    @property
    def rate(self) -> float:
        """Fraction of the items seen that were queried (0 before any item)."""
        return self.n_queried_ / self.n_seen_ if self.n_seen_ else 0.0
