"""Active feature acquisition: ask for the value of a missing feature of an instance.

Sometimes the labels are known and the features are what costs: a lab test not run, a
sensor not read, a survey question skipped. The training matrix then has holes, and
the question is which entry to measure next. This module completes the matrix, picks
the entries whose completed value is least certain, and simulates the loop.

- :func:`supervised_completion`: the matrix completion of AFASMC (Huang et al. 2018), a
  low-rank completion that also has to predict the labels linearly, solved by
  accelerated proximal gradient with singular value thresholding;
- :func:`svd_completion`: iterative rank-``r`` SVD imputation (Troyanskaya et al. 2001);
- query rules: :class:`AFASMC` (the variance of each missing entry over the completions
  of the previous rounds), :class:`CommitteeStability` (the variance over a committee
  of completions of different ranks, Chakraborty et al. 2013) and
  :class:`RandomFeatureQuery`;
- :func:`simulate_feature_acquisition`: complete, fit, evaluate, acquire, repeat, with a
  curve of the held-out score against the entries bought.

An observation mask is a boolean array of the matrix's shape, True where the value is
known; a query returns ``(row, column)`` pairs of unknown entries.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from activelab._validation import RandomStateLike, check_int, check_random_state

__all__ = [
    "AFASMC",
    "CommitteeStability",
    "FeatureAcquisitionResult",
    "FeatureRound",
    "RandomFeatureQuery",
    "simulate_feature_acquisition",
    "supervised_completion",
    "svd_completion",
]


def _check_matrix(X: Any, observed: Any) -> tuple[np.ndarray, np.ndarray]:
    matrix = np.asarray(X, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"X must be a 2-D numeric matrix; got shape {matrix.shape}.")
    mask = np.asarray(observed)
    if mask.shape != matrix.shape:
        raise ValueError(
            f"observed must be a boolean mask of X's shape {matrix.shape}, True where a value "
            f"is known; got shape {mask.shape}."
        )
    if mask.dtype != np.bool_:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("observed must hold only True/False (or 1/0).")
        mask = mask.astype(bool)
    if not np.all(np.isfinite(matrix[mask])):
        raise ValueError("the observed entries of X must be finite (NaN or inf found).")
    return matrix, mask


def _column_means(matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    counts = mask.sum(axis=0)
    sums = np.where(mask, matrix, 0.0).sum(axis=0)
    return np.divide(sums, counts, out=np.zeros(matrix.shape[1]), where=counts > 0)


def _singular_value_threshold(matrix: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    """The proximal operator of ``threshold * ||.||_*`` and the nuclear norm of its output."""
    left, values, right = np.linalg.svd(matrix, full_matrices=False)
    shrunk = np.maximum(values - threshold, 0.0)
    keep = shrunk > 0
    return (left[:, keep] * shrunk[keep]) @ right[keep], float(shrunk.sum())


def _one_hot(y: Any, n: int) -> np.ndarray:
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise ValueError(f"y needs one label per row of X, shape ({n},); got {labels.shape}.")
    if labels.dtype.kind in "fc" and np.unique(labels).shape[0] > 20:
        return labels.astype(np.float64)[:, None]  # a numeric target: regress on it
    classes, codes = np.unique(labels, return_inverse=True)
    return np.eye(classes.shape[0])[codes]


def supervised_completion(
    X: Any,
    observed: Any,
    y: Any,
    trace_penalty: float = 1.0,
    label_weight: float = 1.0,
    max_outer: int = 10,
    max_inner: int = 100,
    tol: float = 1e-5,
) -> np.ndarray:
    """Complete a feature matrix so that it is low-rank and predicts the labels (AFASMC).

    Minimises over the completion ``Z`` and a linear model ``(W, b)``

    ``½ ||P_Ω(Z − X)||²_F + (label_weight / n) ||Z W + 1 bᵀ − Y||²_F + trace_penalty ||Z||_*``

    where ``P_Ω`` keeps the observed entries and ``Y`` one-hot codes the classes (a
    numeric ``y`` is used as is). Alternates: ``(W, b)`` by least squares on the current
    completion, then ``Z`` by accelerated proximal gradient (FISTA with backtracking)
    whose proximal step is singular value thresholding. Observed entries are returned
    as given.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Values at unobserved positions are ignored (NaN is fine there).
    observed : array-like of bool, shape (n, d)
    y : array-like of shape (n,)
    trace_penalty : float
        Weight of the nuclear norm (the low-rank pull).
    label_weight : float
        Weight of the label-fit term.
    max_outer, max_inner : int
        Alternations, and proximal-gradient steps per alternation.
    tol : float
        Relative change of the completion (Frobenius norm) that ends an inner loop.

    Returns
    -------
    numpy.ndarray of shape (n, d)

    References
    ----------
    Huang, Xu, Xie, Sugiyama, Niu & Chen (2018), "Active feature acquisition with
    supervised matrix completion", KDD. Beck & Teboulle (2009), "A fast iterative
    shrinkage-thresholding algorithm", SIAM J. Imaging Sciences.

    Examples
    --------
    >>> X = np.outer([1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0])
    >>> mask = np.ones_like(X, dtype=bool); mask[1, 2] = False
    >>> Z = supervised_completion(X, mask, [0, 0, 1, 1], trace_penalty=0.01, label_weight=0.0)
    >>> round(float(Z[1, 2]), 1)  # the rank-1 value; label_weight > 0 trades it for the labels
    4.0
    """
    matrix, mask = _check_matrix(X, observed)
    n = matrix.shape[0]
    targets = _one_hot(y, n)
    for name, value in (("trace_penalty", trace_penalty), ("label_weight", label_weight)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number of at least 0; got {value!r}.")
    max_outer = check_int(max_outer, "max_outer", "supervised_completion", 1)
    max_inner = check_int(max_inner, "max_inner", "supervised_completion", 1)
    known = np.where(mask, matrix, 0.0)
    weight = label_weight / n
    Z = np.where(mask, matrix, _column_means(matrix, mask))
    step_size = 1.0
    best, best_value = Z, np.inf
    for _ in range(max_outer):
        design = np.hstack([Z, np.ones((n, 1))])
        coef = np.linalg.lstsq(design, targets, rcond=None)[0]
        W, b = coef[:-1], coef[-1]

        def smooth(M: np.ndarray, W: np.ndarray = W, b: np.ndarray = b) -> float:
            fit = np.where(mask, M - known, 0.0)
            residual = M @ W + b - targets
            return 0.5 * float((fit**2).sum()) + weight * float((residual**2).sum())

        def gradient(M: np.ndarray, W: np.ndarray = W, b: np.ndarray = b) -> np.ndarray:
            return np.where(mask, M - known, 0.0) + 2 * weight * (M @ W + b - targets) @ W.T

        previous, current, momentum = Z, Z, 1.0
        for _ in range(max_inner):
            next_momentum = (1 + np.sqrt(1 + 4 * momentum**2)) / 2
            point = current + ((momentum - 1) / next_momentum) * (current - previous)
            base, slope = smooth(point), gradient(point)
            while True:  # backtracking: the quadratic model must bound the smooth part
                candidate, nuclear = _singular_value_threshold(
                    point - slope / step_size, trace_penalty / step_size
                )
                change = candidate - point
                bound = (
                    base + float((slope * change).sum()) + step_size / 2 * float((change**2).sum())
                )
                if smooth(candidate) <= bound * (1 + 1e-12) + 1e-12:
                    break
                step_size *= 2
            moved = float(np.linalg.norm(candidate - current))
            previous, current, momentum = current, candidate, next_momentum
            value = smooth(current) + trace_penalty * nuclear
            if value < best_value:
                best, best_value = current, value
            if moved <= tol * max(1.0, float(np.linalg.norm(previous))):
                break
        Z = best
    return np.where(mask, matrix, Z)


def svd_completion(
    X: Any, observed: Any, rank: int = 3, max_iter: int = 100, tol: float = 1e-5
) -> np.ndarray:
    """Fill the unobserved entries by iterative rank-``rank`` SVD imputation.

    Starts from the column means, then repeatedly replaces the unobserved entries by
    those of the best rank-``rank`` approximation of the current matrix, until they
    change by less than ``tol`` (relative).

    Parameters
    ----------
    X : array-like of shape (n, d)
    observed : array-like of bool, shape (n, d)
    rank : int
    max_iter : int
    tol : float

    Returns
    -------
    numpy.ndarray of shape (n, d)

    References
    ----------
    Troyanskaya, Cantor, Sherlock, Brown, Hastie, Tibshirani, Botstein & Altman (2001),
    "Missing value estimation methods for DNA microarrays", Bioinformatics 17(6).

    Examples
    --------
    >>> X = np.outer([1.0, 2.0, 3.0], [1.0, 2.0])
    >>> mask = np.array([[True, True], [True, False], [True, True]])
    >>> round(float(svd_completion(X, mask, rank=1)[1, 1]), 3)
    4.0
    """
    matrix, mask = _check_matrix(X, observed)
    rank = check_int(rank, "rank", "svd_completion", 1)
    if rank > min(matrix.shape):
        raise ValueError(f"rank must be at most min(X.shape) = {min(matrix.shape)}; got {rank}.")
    filled = np.where(mask, matrix, _column_means(matrix, mask))
    missing = ~mask
    for _ in range(check_int(max_iter, "max_iter", "svd_completion", 1)):
        left, values, right = np.linalg.svd(filled, full_matrices=False)
        approximation = (left[:, :rank] * values[:rank]) @ right[:rank]
        change = float(((approximation - filled)[missing] ** 2).sum())
        scale = float((filled[missing] ** 2).sum())
        filled = np.where(mask, matrix, approximation)
        if scale == 0 or change / scale < tol:
            break
    return filled


def _top_entries(scores: np.ndarray, mask: np.ndarray, k: int, rng: np.random.Generator):
    """The ``k`` unobserved entries of highest score as (row, column) pairs, ties at random."""
    candidates = np.flatnonzero(~mask.ravel())
    if candidates.size == 0:
        raise ValueError("every entry is observed already: there is nothing to acquire.")
    k = min(k, candidates.size)
    values = scores.ravel()[candidates]
    order = np.lexsort((rng.random(candidates.size), -values))[:k]
    rows, columns = np.unravel_index(candidates[order], mask.shape)
    return np.column_stack([rows, columns]).astype(np.int64)


class RandomFeatureQuery(BaseEstimator):
    """Unobserved entries uniformly at random (the baseline).

    Examples
    --------
    >>> mask = np.array([[True, False], [False, True]])
    >>> RandomFeatureQuery().query(np.zeros((2, 2)), mask, [0, 1], 1, random_state=0).shape
    (1, 2)
    """

    def query(
        self, X: Any, observed: Any, y: Any, k: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """``k`` unobserved ``(row, column)`` pairs.

        Parameters
        ----------
        X : array-like of shape (n, d)
        observed : array-like of bool, shape (n, d)
        y : array-like of shape (n,)
        k : int
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        numpy.ndarray of shape (k, 2), int64
        """
        matrix, mask = _check_matrix(X, observed)
        rng = check_random_state(random_state)
        k = check_int(k, "k", "query", 1)
        return _top_entries(rng.random(matrix.shape), mask, k, rng)

    def complete(self, X: Any, observed: Any, y: Any) -> np.ndarray:
        """The completion a learner trains on: the supervised one of AFASMC.

        Parameters
        ----------
        X, observed, y : as in :meth:`query`

        Returns
        -------
        numpy.ndarray of shape (n, d)
        """
        return supervised_completion(X, observed, y)


class AFASMC(BaseEstimator):
    """Acquire the entries whose supervised completion varied most over the rounds.

    Each query completes the matrix with :func:`supervised_completion` and keeps the
    completion; an unobserved entry's score is the variance of its completed values over
    the last ``window`` completions, and the ``k`` highest are asked for. The first
    query (one completion, no variance yet) picks at random among the unobserved
    entries. The object therefore holds state between queries (``completions_``); use a
    fresh one (or :meth:`reset`) for a new run.

    Parameters
    ----------
    trace_penalty, label_weight : float
        Passed to :func:`supervised_completion`.
    window : int or None, default=None
        How many past completions the variance is over (None: all, as the paper).

    Attributes
    ----------
    completions_ : list of numpy.ndarray
        The completions of the queries so far.

    References
    ----------
    Huang, Xu, Xie, Sugiyama, Niu & Chen (2018), "Active feature acquisition with
    supervised matrix completion", KDD. ALiPy's ``QueryFeatureAFASMC`` (one entry per
    query; this one takes ``k``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 4)); mask = rng.random((20, 4)) < 0.7
    >>> query = AFASMC()
    >>> query.query(X, mask, X[:, 0] > 0, 2, random_state=0).shape
    (2, 2)
    """

    def __init__(
        self, trace_penalty: float = 1.0, label_weight: float = 1.0, window: int | None = None
    ) -> None:
        self.trace_penalty = trace_penalty
        self.label_weight = label_weight
        self.window = window

    def reset(self) -> AFASMC:
        """Forget the completions of earlier queries.

        Returns
        -------
        self
        """
        self.completions_: list[np.ndarray] = []
        return self

    def complete(self, X: Any, observed: Any, y: Any) -> np.ndarray:
        """The supervised completion (see :func:`supervised_completion`).

        Parameters
        ----------
        X, observed, y : as in :meth:`query`

        Returns
        -------
        numpy.ndarray of shape (n, d)
        """
        matrix, mask = _check_matrix(X, observed)
        labels = np.asarray(y)
        key = hashlib.sha1(
            b"".join([matrix.tobytes(), np.packbits(mask).tobytes(), labels.tobytes()])
        ).hexdigest()
        cached = getattr(self, "_last_completion", None)
        if cached is not None and cached[0] == key:  # the loop asks twice per round
            return cached[1].copy()
        completed = supervised_completion(
            matrix, mask, labels, trace_penalty=self.trace_penalty, label_weight=self.label_weight
        )
        self._last_completion = (key, completed)
        return completed.copy()

    def query(
        self, X: Any, observed: Any, y: Any, k: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """``k`` unobserved ``(row, column)`` pairs of highest completion variance.

        Parameters
        ----------
        X : array-like of shape (n, d)
        observed : array-like of bool, shape (n, d)
        y : array-like of shape (n,)
        k : int
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        numpy.ndarray of shape (k, 2), int64
        """
        matrix, mask = _check_matrix(X, observed)
        rng = check_random_state(random_state)
        k = check_int(k, "k", "AFASMC.query", 1)
        if not hasattr(self, "completions_"):
            self.reset()
        if self.completions_ and self.completions_[-1].shape != matrix.shape:
            raise ValueError(
                f"AFASMC: X has shape {matrix.shape} but earlier queries saw "
                f"{self.completions_[-1].shape}; call reset() before a new matrix."
            )
        self.completions_.append(self.complete(matrix, mask, y))
        recent = self.completions_ if self.window is None else self.completions_[-self.window :]
        if len(recent) < 2:
            return _top_entries(rng.random(matrix.shape), mask, k, rng)
        return _top_entries(np.var(np.stack(recent), axis=0), mask, k, rng)


class CommitteeStability(BaseEstimator):
    """Acquire the entries on which a committee of completions disagrees most.

    The committee is :func:`svd_completion` at each rank in ``ranks``; an unobserved
    entry's score is the variance of its values across the members.

    Parameters
    ----------
    ranks : tuple of int, default=(1, 2, 3)

    References
    ----------
    Chakraborty, Zhou, Balasubramanian, Panchanathan, Davidson & Ye (2013), "Active
    matrix completion", ICDM. ALiPy's ``QueryFeatureStability``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 4)); mask = rng.random((20, 4)) < 0.7
    >>> CommitteeStability().query(X, mask, None, 3, random_state=0).shape
    (3, 2)
    """

    def __init__(self, ranks: tuple[int, ...] = (1, 2, 3)) -> None:
        self.ranks = ranks

    def complete(self, X: Any, observed: Any, y: Any) -> np.ndarray:
        """The committee's mean completion.

        Parameters
        ----------
        X, observed, y : as in :meth:`query`

        Returns
        -------
        numpy.ndarray of shape (n, d)
        """
        return np.mean(self._members(*_check_matrix(X, observed)), axis=0)

    def _members(self, matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if len(self.ranks) < 2:
            raise ValueError(f"CommitteeStability needs at least 2 ranks; got {self.ranks!r}.")
        return np.stack([svd_completion(matrix, mask, rank=r) for r in self.ranks])

    def query(
        self, X: Any, observed: Any, y: Any, k: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """``k`` unobserved ``(row, column)`` pairs of highest committee variance.

        Parameters
        ----------
        X : array-like of shape (n, d)
        observed : array-like of bool, shape (n, d)
        y : ignored
        k : int
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        numpy.ndarray of shape (k, 2), int64
        """
        matrix, mask = _check_matrix(X, observed)
        rng = check_random_state(random_state)
        k = check_int(k, "k", "CommitteeStability.query", 1)
        return _top_entries(np.var(self._members(matrix, mask), axis=0), mask, k, rng)


@dataclass
class FeatureRound:
    """One round of :func:`simulate_feature_acquisition`.

    Attributes
    ----------
    round : int
    n_acquired : int
        Entries bought so far (the initially observed ones not counted).
    score : float
        The held-out score of the model fitted on this round's completion.
    seconds : float
        Time spent completing and querying.
    entries : numpy.ndarray of shape (m, 2)
        The ``(row, column)`` pairs bought this round.
    """

    round: int
    n_acquired: int
    score: float
    seconds: float
    entries: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64))


@dataclass
class FeatureAcquisitionResult:
    """What :func:`simulate_feature_acquisition` returns.

    Attributes
    ----------
    strategy : str
    history : list of FeatureRound
    observed : numpy.ndarray of bool
        The final observation mask.
    """

    strategy: str
    history: list[FeatureRound]
    observed: np.ndarray

    def curve(self) -> tuple[np.ndarray, np.ndarray]:
        """Entries bought and the held-out score after each round.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
        """
        return (
            np.array([r.n_acquired for r in self.history]),
            np.array([r.score for r in self.history]),
        )


def simulate_feature_acquisition(
    estimator: Any,
    strategy: Any,
    X: Any,
    y: Any,
    X_test: Any,
    y_test: Any,
    observed: Any = None,
    initial_fraction: float = 0.3,
    batch_size: int = 20,
    budget: int = 200,
    random_state: RandomStateLike = 0,
) -> FeatureAcquisitionResult:
    """Simulate active feature acquisition with the true matrix as the oracle.

    Per round: complete the training matrix from its observed entries with the
    strategy's completion, fit ``estimator`` on it and the (known) labels, score it on
    the fully observed test set, then buy ``batch_size`` entries the strategy picks and
    reveal them from ``X``. Ends when ``budget`` entries are bought or none is missing.

    Parameters
    ----------
    estimator : classifier or regressor
        Cloned; fitted on the completed matrix each round.
    strategy : AFASMC, CommitteeStability, RandomFeatureQuery or alike
        Has ``query(X, observed, y, k, random_state)`` and ``complete(X, observed, y)``;
        copied, so a stateful one starts fresh.
    X : array-like of shape (n, d)
        The complete training matrix (the oracle reveals entries from it).
    y : array-like of shape (n,)
    X_test, y_test
        Held-out, fully observed.
    observed : array-like of bool, optional
        The initial observation mask; by default each entry is observed with probability
        ``initial_fraction`` (and every row keeps at least one).
    initial_fraction : float
    batch_size : int
        Entries per round.
    budget : int
        Entries to buy in all.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    FeatureAcquisitionResult

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import scale
    >>> X, y = load_breast_cancer(return_X_y=True); X = scale(X)
    >>> result = simulate_feature_acquisition(
    ...     LogisticRegression(), RandomFeatureQuery(), X[:100], y[:100], X[400:], y[400:],
    ...     batch_size=10, budget=20)
    >>> result.curve()[0].tolist()
    [0, 10, 20]
    """
    rng = check_random_state(random_state)
    matrix = np.asarray(X, dtype=np.float64)
    if matrix.ndim != 2 or not np.all(np.isfinite(matrix)):
        raise ValueError(
            "X must be the complete, finite training matrix (the oracle reads the missing "
            "values from it); pass the observation pattern as observed=."
        )
    if observed is None:
        if not 0 < initial_fraction <= 1:
            raise ValueError(f"initial_fraction must be in (0, 1]; got {initial_fraction!r}.")
        mask = rng.random(matrix.shape) < initial_fraction
        empty = np.flatnonzero(~mask.any(axis=1))
        mask[empty, rng.integers(matrix.shape[1], size=empty.size)] = True
    else:
        matrix, mask = _check_matrix(matrix, observed)
        mask = mask.copy()
    batch_size = check_int(batch_size, "batch_size", "simulate_feature_acquisition", 1)
    budget = check_int(budget, "budget", "simulate_feature_acquisition", 0)
    query = clone(strategy)
    history: list[FeatureRound] = []
    bought = 0
    seconds = 0.0
    entries = np.empty((0, 2), dtype=np.int64)
    while True:
        completed = query.complete(matrix, mask, y)
        model = clone(estimator).fit(completed, y)
        history.append(
            FeatureRound(len(history), bought, float(model.score(X_test, y_test)), seconds, entries)
        )
        missing = int((~mask).sum())
        if bought >= budget or missing == 0:
            break
        k = min(batch_size, budget - bought, missing)
        began = time.perf_counter()
        entries = query.query(matrix, mask, y, k, random_state=rng)
        seconds = time.perf_counter() - began
        mask[entries[:, 0], entries[:, 1]] = True
        bought += entries.shape[0]
    return FeatureAcquisitionResult(
        strategy=type(strategy).__name__, history=history, observed=mask
    )
