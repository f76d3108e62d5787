"""Multi-label oracles, metrics and the instance-label pair loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from activelab._data import take_rows
from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.models._multilabel import check_indicator
from activelab.oracles import Answers

__all__ = [
    "METRICS",
    "MultiLabelOracle",
    "PairResult",
    "PairRound",
    "f1_macro",
    "f1_micro",
    "hamming_loss",
    "random_pairs",
    "simulate_pairs",
    "subset_accuracy",
]


def f1_micro(Y_true: Any, Y_pred: Any) -> float:
    """Micro-averaged F1 over every (item, label) entry.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n, L)
        0/1 indicator matrices.

    Returns
    -------
    float

    Examples
    --------
    >>> f1_micro([[1, 0], [0, 1]], [[1, 0], [1, 1]])
    0.8
    """
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(Y_true), np.asarray(Y_pred), average="micro", zero_division=0))


def f1_macro(Y_true: Any, Y_pred: Any) -> float:
    """Macro-averaged F1: the mean of the labels' F1 scores.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n, L)

    Returns
    -------
    float

    Examples
    --------
    >>> f1_macro([[1, 0], [0, 1]], [[1, 0], [1, 1]])
    0.8333333333333333
    """
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(Y_true), np.asarray(Y_pred), average="macro", zero_division=0))


def hamming_loss(Y_true: Any, Y_pred: Any) -> float:
    """Fraction of (item, label) entries predicted wrong (lower is better).

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n, L)

    Returns
    -------
    float

    Examples
    --------
    >>> hamming_loss([[1, 0], [0, 1]], [[1, 0], [1, 1]])
    0.25
    """
    return float(np.mean(np.asarray(Y_true) != np.asarray(Y_pred)))


def subset_accuracy(Y_true: Any, Y_pred: Any) -> float:
    """Fraction of items whose whole label vector is predicted exactly.

    Parameters
    ----------
    Y_true, Y_pred : array-like of shape (n, L)

    Returns
    -------
    float

    Examples
    --------
    >>> subset_accuracy([[1, 0], [0, 1]], [[1, 0], [1, 1]])
    0.5
    """
    right = np.asarray(Y_true) == np.asarray(Y_pred)
    return float(np.mean(right if right.ndim == 1 else right.all(axis=1)))  # 1-D: accuracy


#: The metrics reported for a multi-label model, by name: ``f(Y_true, Y_pred) -> float``.
#: Hamming loss is lower-is-better.
METRICS: dict[str, Callable[[Any, Any], float]] = {
    "f1_micro": f1_micro,
    "f1_macro": f1_macro,
    "hamming_loss": hamming_loss,
    "subset_accuracy": subset_accuracy,
}


class MultiLabelOracle:
    """A perfect annotator of multi-label items: whole label vectors or single pairs.

    Parameters
    ----------
    Y : array-like of shape (n, L)
        The true indicator matrix.

    Examples
    --------
    >>> oracle = MultiLabelOracle([[1, 0], [0, 1]])
    >>> oracle.label(np.array([1])).labels.tolist()
    [[0, 1]]
    >>> oracle.label_pairs([[0, 1], [1, 1]]).tolist()
    [0, 1]
    """

    def __init__(self, Y: Any) -> None:
        self.Y = check_indicator(Y, None, "MultiLabelOracle").astype(np.int64)

    def _rows(self, indices: Any) -> np.ndarray:
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.Y.shape[0]):
            raise IndexError(
                f"the oracle knows {self.Y.shape[0]} items; asked for rows outside "
                f"[0, {self.Y.shape[0]})."
            )
        return rows

    def label(self, indices: np.ndarray) -> Answers:
        """The full label vectors of ``indices``.

        Parameters
        ----------
        indices : array of int

        Returns
        -------
        Answers
            ``labels`` has shape ``(len(indices), L)``.
        """
        rows = self._rows(indices)
        return Answers(rows, self.Y[rows])

    def label_pairs(self, pairs: Any) -> np.ndarray:
        """The true value (0 or 1) of each ``(row, label)`` pair.

        Parameters
        ----------
        pairs : array-like of shape (k, 2)

        Returns
        -------
        numpy.ndarray of shape (k,), int64
        """
        array = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        rows = self._rows(array[:, 0])
        labels = array[:, 1]
        if labels.size and (labels.min() < 0 or labels.max() >= self.Y.shape[1]):
            raise IndexError(f"label indices must lie in [0, {self.Y.shape[1]}).")
        return self.Y[rows, labels]


def random_pairs(Y: Any, k: int, random_state: RandomStateLike = None) -> np.ndarray:
    """``k`` unknown instance-label pairs drawn uniformly (the pair baseline).

    Parameters
    ----------
    Y : array-like of shape (n, L)
        0/1 known, NaN or -1 unknown.
    k : int
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k, 2), int64

    Examples
    --------
    >>> random_pairs([[1, -1], [-1, 0]], 2, random_state=0).shape
    (2, 2)
    """
    labels = check_indicator(Y, None, "random_pairs", allow_unknown=True)
    rows, columns = np.nonzero(np.isnan(labels))
    k = check_k(k, rows.shape[0])
    picks = check_random_state(random_state).choice(rows.shape[0], size=k, replace=False)
    return np.column_stack([rows[picks], columns[picks]]).astype(np.int64)


@dataclass
class PairRound:
    """One round of :func:`simulate_pairs`.

    Attributes
    ----------
    round : int
    n_pairs : int
        Known (item, label) entries after this round.
    metrics : dict
        Held-out scores of the model fitted at the end of the round.
    query_seconds, fit_seconds : float
    pairs : numpy.ndarray of shape (k, 2)
        What was asked this round.
    """

    round: int
    n_pairs: int
    metrics: dict[str, float]
    query_seconds: float
    fit_seconds: float
    pairs: np.ndarray


@dataclass
class PairResult:
    """What :func:`simulate_pairs` returns.

    Attributes
    ----------
    strategy : str
    history : list of PairRound
    metric : str
        The metric :attr:`aulc` integrates (against the number of known pairs).
    """

    strategy: str
    history: list[PairRound]
    metric: str = "f1_micro"

    @property
    def aulc(self) -> float:
        """Area under the learning curve of :attr:`metric` against known pairs, normalised."""
        from activelab.loop import aulc

        return aulc(
            [r.n_pairs for r in self.history], [r.metrics[self.metric] for r in self.history]
        )

    @property
    def lower_is_better(self) -> bool:
        """True when :attr:`metric` is the Hamming loss."""
        return self.metric == "hamming_loss"


def simulate_pairs(
    estimator: Any,
    strategy: Any,
    X: Any,
    Y: Any,
    X_test: Any,
    Y_test: Any,
    initial: int = 10,
    batch_size: int = 10,
    budget: int = 300,
    metrics: Sequence[str] | None = None,
    random_state: RandomStateLike = 0,
) -> PairResult:
    """Simulate instance-label pair active learning with a perfect oracle.

    Starts with ``initial`` fully labeled random items; per round the strategy's
    ``query_pairs`` (or uniformly random pairs for ``strategy="random"``) asks
    ``batch_size`` unknown pairs, the oracle answers them from ``Y``, and a
    :class:`~activelab.models.MultiLabelAdapter` is refitted on the partial matrix
    (unknown entries masked). Ends when ``budget`` pairs are known (the initial items'
    pairs included) or none is unknown.

    Parameters
    ----------
    estimator : multi-label classifier or MultiLabelAdapter
        Copied, never modified.
    strategy : str or Strategy
        A strategy with ``query_pairs`` (``"audi"``, ``"quire_multilabel"``) or
        ``"random"``.
    X : array-like of shape (n, d)
    Y : array-like of shape (n, L)
        The true labels (the oracle's).
    X_test, Y_test
        The held-out evaluation set.
    initial : int
        Fully labeled items to start from.
    batch_size : int
        Pairs per round.
    budget : int
        Known pairs at the end, the initial ones included.
    metrics : sequence of str, optional
        From :data:`METRICS`; the first is integrated by ``aulc``.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    PairResult
    """
    from activelab.models import ModelAdapter, MultiLabelAdapter
    from activelab.strategies import get

    rng = check_random_state(random_state)
    names = list(metrics or ("f1_micro", "f1_macro", "hamming_loss", "subset_accuracy"))
    unknown_metrics = [m for m in names if m not in METRICS]
    if unknown_metrics:
        raise ValueError(f"unknown metrics {unknown_metrics}; choose from {sorted(METRICS)}.")
    oracle = MultiLabelOracle(Y)
    truth = oracle.Y
    n, L = truth.shape
    if n_rows(X) != n:
        raise ValueError(f"X has {n_rows(X)} rows and Y {n}.")
    Y_test = check_indicator(Y_test, n_rows(X_test), "simulate_pairs", name="Y_test")
    if not 1 <= initial <= n:
        raise ValueError(f"initial={initial} must be between 1 and the {n} items of X.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    if budget < initial * L:
        raise ValueError(
            f"budget={budget} pairs is smaller than the {initial * L} pairs of the initial "
            "items; the budget counts them too."
        )
    chosen = None
    if not (isinstance(strategy, str) and strategy == "random"):
        chosen = get(strategy) if isinstance(strategy, str) else strategy
        if not callable(getattr(chosen, "query_pairs", None)):
            raise TypeError(
                f"{getattr(chosen, 'name', chosen)!r} queries whole instances; pair "
                "simulation needs query_pairs (audi, quire_multilabel) or 'random'."
            )
    model = estimator if isinstance(estimator, ModelAdapter) else MultiLabelAdapter(estimator)
    model = model.clone()
    partial = np.full((n, L), np.nan)
    start = rng.choice(n, size=initial, replace=False)
    partial[start] = truth[start]
    history: list[PairRound] = []
    query_seconds, asked = 0.0, np.empty((0, 2), dtype=np.int64)
    while True:
        began = time.perf_counter()
        _fit_partial(model, X, partial)
        fit_seconds = time.perf_counter() - began
        predicted = model.predict(X_test)
        scores = {m: METRICS[m](Y_test, predicted) for m in names}
        known = int((~np.isnan(partial)).sum())
        history.append(PairRound(len(history), known, scores, query_seconds, fit_seconds, asked))
        left = min(budget - known, int(np.isnan(partial).sum()))
        if left <= 0:
            break
        k = min(batch_size, left)
        began = time.perf_counter()
        if chosen is None:
            asked = random_pairs(partial, k, rng)
        else:
            asked = chosen.query_pairs(model, X, partial, k, random_state=rng)
        query_seconds = time.perf_counter() - began
        partial[asked[:, 0], asked[:, 1]] = oracle.label_pairs(asked)
    name = "random" if chosen is None else getattr(chosen, "name", type(chosen).__name__)
    return PairResult(strategy=name, history=history, metric=names[0])


def _fit_partial(model: Any, X: Any, partial: np.ndarray) -> None:
    """Fit on the rows with at least one known label (the rest teach nothing)."""
    rows = np.flatnonzero((~np.isnan(partial)).any(axis=1))
    model.fit(take_rows(X, rows), partial[rows])
