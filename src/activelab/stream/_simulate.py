"""simulate_stream: prequential (test-then-train) evaluation of a stream rule.

Each arriving batch is first predicted by the current model (the test), then the rule
decides which of its items to query, and the queried items are taught with their true
labels (the train). The accuracy of those predictions over the whole stream so far, and
over the last ``eval_window`` items, is recorded at checkpoints together with the
labels used. Memory stays bounded however long the stream: the learner's state is
bounded (:class:`~activelab.stream.StreamLearner`), the recent-accuracy window is a ring
buffer, and the curve keeps at most ``max_points`` checkpoints (when full it keeps every
second one and records half as often).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from activelab._validation import RandomStateLike, check_int, check_labels, n_rows
from activelab.stream._budget import BudgetManager
from activelab.stream._learner import StreamLearner
from activelab.stream._rules import StreamRule, as_rows

__all__ = ["StreamResult", "drifting_hyperplane", "simulate_stream"]


@dataclass
class StreamResult:
    """What :func:`simulate_stream` returns: the prequential learning curve.

    Attributes
    ----------
    rule : str
        The rule's name.
    budget : float
        The budget manager's target rate.
    n_seen : numpy.ndarray of int
        Items seen at each checkpoint.
    n_labeled : numpy.ndarray of int
        Labels used by then.
    accuracy : numpy.ndarray of float
        Prequential accuracy over every item seen by then.
    window_accuracy : numpy.ndarray of float
        Prequential accuracy over the last ``eval_window`` items.
    seconds : float
        Wall time of the whole run.
    """

    rule: str
    budget: float
    n_seen: np.ndarray
    n_labeled: np.ndarray
    accuracy: np.ndarray
    window_accuracy: np.ndarray
    seconds: float = 0.0

    @property
    def labels_used(self) -> int:
        """Labels queried over the whole stream."""
        return int(self.n_labeled[-1]) if self.n_labeled.size else 0

    @property
    def label_rate(self) -> float:
        """Fraction of the stream that was labelled."""
        return self.labels_used / int(self.n_seen[-1]) if self.n_seen.size else 0.0

    @property
    def final_accuracy(self) -> float:
        """Prequential accuracy over the whole stream."""
        return float(self.accuracy[-1]) if self.accuracy.size else float("nan")

    def accuracy_at(self, n_labels: int, window: bool = False) -> float:
        """Accuracy at the first checkpoint that had used ``n_labels`` labels.

        Parameters
        ----------
        n_labels : int
        window : bool, default=False
            Read the recent-window accuracy instead of the accuracy since the start.

        Returns
        -------
        float
            NaN when the run never used that many labels.
        """
        reached = np.flatnonzero(self.n_labeled >= n_labels)
        if reached.size == 0:
            return float("nan")
        values = self.window_accuracy if window else self.accuracy
        return float(values[reached[0]])

    def to_frame(self) -> Any:
        """One row per checkpoint as a pandas DataFrame (needs pandas).

        Returns
        -------
        pandas.DataFrame
        """
        from activelab._extras import require

        pd = require("pandas", "bench", "StreamResult.to_frame")
        return pd.DataFrame(
            {
                "rule": self.rule,
                "n_seen": self.n_seen,
                "n_labeled": self.n_labeled,
                "accuracy": self.accuracy,
                "window_accuracy": self.window_accuracy,
            }
        )


class _Curve:
    """Checkpoints of a run, at most ``max_points``: when full, keep every second one."""

    def __init__(self, max_points: int, every: int) -> None:
        self.max_points = max_points
        self.every = every
        self.next = every
        self.rows: list[tuple[int, int, float, float]] = []

    def offer(self, row: tuple[int, int, float, float], force: bool = False) -> None:
        seen = row[0]
        if not force and seen < self.next:
            return
        if self.rows and self.rows[-1][0] == seen:
            return
        self.rows.append(row)
        if len(self.rows) >= self.max_points:
            self.rows = self.rows[1::2]
            self.every *= 2
        self.next = (seen // self.every + 1) * self.every


class _RecentAccuracy:
    """Accuracy over the last ``size`` predictions, in a ring buffer of bits."""

    def __init__(self, size: int) -> None:
        self.bits = np.zeros(size, dtype=bool)
        self.count = 0
        self.correct = 0

    def add(self, correct: np.ndarray) -> None:
        size = self.bits.size
        if correct.size >= size:  # the batch fills the ring; its oldest slot is count % size
            positions = (self.count + correct.size - size + np.arange(size)) % size
            self.bits[positions] = correct[-size:]
            self.correct = int(self.bits.sum())
            self.count += correct.size
            return
        positions = (self.count + np.arange(correct.size)) % size
        # a slot holds an older bit once the ring has gone round past it
        overwritten = self.bits[positions] & (np.arange(correct.size) + self.count >= size)
        self.correct += int(correct.sum()) - int(overwritten.sum())
        self.bits[positions] = correct
        self.count += correct.size

    @property
    def value(self) -> float:
        seen = min(self.count, self.bits.size)
        return self.correct / seen if seen else float("nan")


def _batches(X: Any, y: Any, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if y is None:
        for item in X:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise TypeError(
                    "without y, X must be an iterable of (X_batch, y_batch) pairs; got an "
                    f"item of type {type(item).__name__}."
                )
            yield as_rows(item[0], "simulate_stream"), np.asarray(item[1]).reshape(-1)
        return
    rows = as_rows(X, "simulate_stream")
    labels = check_labels(y, n_rows(rows))
    for start in range(0, rows.shape[0], batch_size):
        yield rows[start : start + batch_size], labels[start : start + batch_size]


def simulate_stream(
    estimator: Any,
    rule: str | StreamRule,
    X: Any,
    y: Any = None,
    *,
    budget: float = 0.1,
    budget_manager: BudgetManager | None = None,
    classes: Any = None,
    batch_size: int = 1,
    training: str = "incremental",
    window_size: int = 500,
    refit_every: int = 1,
    eval_window: int = 500,
    record_every: int = 100,
    max_points: int = 500,
    random_state: RandomStateLike = None,
) -> StreamResult:
    """Run a stream rule over a labelled stream with prequential (test-then-train) evaluation.

    Parameters
    ----------
    estimator : classifier
        As for :class:`~activelab.stream.StreamLearner` (copied, never modified).
    rule : str or StreamRule
        A name from :func:`activelab.stream.available` or a rule object.
    X : array-like of shape (n, d), or an iterable of ``(X_batch, y_batch)`` pairs
        The stream, in arrival order. An iterable (a generator) is read once, batch by
        batch, so the stream need not fit in memory; then ``y`` is None and ``classes``
        is required.
    y : array-like of shape (n,), optional
        The labels, revealed only for the queried items (and for scoring).
    budget : float, default=0.1
        Target labelling rate of the rule's default budget manager; ignored when
        ``budget_manager`` is given.
    budget_manager : BudgetManager, optional
    classes : array-like, optional
        Every class of the stream; default: the distinct values of ``y``.
    batch_size : int, default=1
        Items per step when ``X`` is an array; the model is fixed within a step.
    training, window_size, refit_every
        As for :class:`~activelab.stream.StreamLearner`.
    eval_window : int, default=500
        Items in the recent-accuracy window.
    record_every : int, default=100
        Items between checkpoints (doubled each time the curve fills up).
    max_points : int, default=500
        Most checkpoints kept.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    StreamResult

    Examples
    --------
    >>> from sklearn.naive_bayes import GaussianNB
    >>> X, y = drifting_hyperplane(2000, random_state=0)
    >>> result = simulate_stream(GaussianNB(), "variable_uncertainty", X, y, budget=0.1,
    ...                          batch_size=10, random_state=0)
    >>> result.label_rate < 0.15, result.final_accuracy > 0.6
    (True, True)
    """
    batch_size = check_int(batch_size, "batch_size", "simulate_stream", 1)
    eval_window = check_int(eval_window, "eval_window", "simulate_stream", 1)
    record_every = check_int(record_every, "record_every", "simulate_stream", 1)
    max_points = check_int(max_points, "max_points", "simulate_stream", 2)
    if classes is None:
        if y is None:
            raise ValueError(
                "simulate_stream on an iterable of batches needs classes=[...], every label "
                "the stream can hold."
            )
        classes = np.unique(np.asarray(y))
    learner = StreamLearner(
        estimator,
        rule,
        budget_manager,
        budget=budget if budget_manager is None else None,
        classes=classes,
        training=training,
        window_size=window_size,
        refit_every=refit_every,
        random_state=random_state,
    )
    curve = _Curve(max_points, record_every)
    recent = _RecentAccuracy(eval_window)
    n_correct = 0
    start = time.perf_counter()
    for rows, labels in _batches(X, y, batch_size):
        if labels.shape[0] != rows.shape[0]:
            raise ValueError(f"a batch has {labels.shape[0]} labels for {rows.shape[0]} items.")
        if rows.shape[0] == 0:
            continue
        correct = np.asarray(learner.predict(rows) == labels, dtype=bool)
        n_correct += int(correct.sum())
        recent.add(correct)
        queried = learner.query(rows)
        if queried.any():
            learner.teach(rows[queried], labels[queried])
        curve.offer(
            (learner.n_seen_, learner.n_queried_, n_correct / learner.n_seen_, recent.value)
        )
    if learner.n_seen_:
        curve.offer(
            (learner.n_seen_, learner.n_queried_, n_correct / learner.n_seen_, recent.value),
            force=True,
        )
    columns = list(zip(*curve.rows, strict=True)) if curve.rows else [(), (), (), ()]
    return StreamResult(
        rule=learner.rule.name,
        budget=float(learner.budget_manager.budget),
        n_seen=np.asarray(columns[0], dtype=np.int64),
        n_labeled=np.asarray(columns[1], dtype=np.int64),
        accuracy=np.asarray(columns[2], dtype=np.float64),
        window_accuracy=np.asarray(columns[3], dtype=np.float64),
        seconds=time.perf_counter() - start,
    )


def drifting_hyperplane(
    n_samples: int,
    n_features: int = 2,
    *,
    drift_at: float = 0.5,
    angle: float = 90.0,
    noise: float = 0.0,
    random_state: RandomStateLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""A stream with a sudden concept drift: the decision boundary rotates part-way.

    Items are uniform in :math:`[-1, 1]^d`; the label is
    :math:`\mathbb 1[x_1 \cos\varphi + x_2 \sin\varphi > 0]` with :math:`\varphi = 0`
    before item ``drift_at * n_samples`` and :math:`\varphi` = ``angle`` degrees from
    then on. A fraction ``noise`` of the labels is flipped.

    Parameters
    ----------
    n_samples : int
    n_features : int, default=2
        At least 2; the others are irrelevant.
    drift_at : float, default=0.5
        Where in the stream the boundary rotates, in ``[0, 1]``.
    angle : float, default=90.0
        Rotation in degrees.
    noise : float, default=0.0
        Label noise, in ``[0, 0.5]``.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_features)
    y : numpy.ndarray of shape (n_samples,), int64 in {0, 1}

    Examples
    --------
    >>> X, y = drifting_hyperplane(4, random_state=0)
    >>> X.shape, sorted(set(y.tolist())) <= [0, 1]
    ((4, 2), True)
    """
    from activelab._validation import check_number, check_random_state

    n_samples = check_int(n_samples, "n_samples", "drifting_hyperplane", 1)
    n_features = check_int(n_features, "n_features", "drifting_hyperplane", 2)
    drift_at = check_number(drift_at, "drift_at", "drifting_hyperplane", 0.0, 1.0)
    angle = check_number(angle, "angle", "drifting_hyperplane", -np.inf)
    noise = check_number(noise, "noise", "drifting_hyperplane", 0.0, 0.5)
    rng = check_random_state(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_features))
    phi = np.where(np.arange(n_samples) < int(drift_at * n_samples), 0.0, np.radians(angle))
    y = (X[:, 0] * np.cos(phi) + X[:, 1] * np.sin(phi) > 0).astype(np.int64)
    flip = rng.random(n_samples) < noise
    y[flip] = 1 - y[flip]
    return X, y
