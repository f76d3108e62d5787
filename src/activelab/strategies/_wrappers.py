"""Wrappers that run any strategy on part of the pool, or score the pool in parallel."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from activelab._validation import check_int, n_rows
from activelab.models import ModelAdapter
from activelab.select import SAMPLING_MODES, sample
from activelab.strategies._base import ScoreStrategy, Strategy

__all__ = ["Parallel", "SubSample"]


def _resolve(strategy: Any, who: str) -> Strategy:
    """The wrapped strategy: a registry name is built with its defaults."""
    if isinstance(strategy, str):
        from activelab import strategies

        return strategies.get(strategy)
    if isinstance(strategy, Strategy):
        return strategy
    raise TypeError(
        f"{who}: strategy must be a registry name (e.g. 'margin') or a Strategy object "
        f"(e.g. al.strategies.get('entropy', sampling='softmax')); got {strategy!r}."
    )


class _WrappedNeeds:
    """``needs`` of a wrapper: the wrapped strategy's (its default strategy's on the class)."""

    def __get__(self, instance: Any, owner: type) -> tuple[str, ...]:
        if instance is None:
            return _resolve(owner.default_strategy, owner.__name__).needs
        return _resolve(instance.strategy, owner.name).needs


def _rows(X: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of an array, sparse matrix, DataFrame or list (a view if it can)."""
    if hasattr(X, "iloc"):
        return X.iloc[start:stop]
    return X[start:stop]


def _take(X: Any, rows: np.ndarray) -> Any:
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if isinstance(X, list | tuple):
        return [X[i] for i in rows]
    return X[rows]


class SubSample(Strategy):
    """Run a strategy on a random subsample of the pool: at most ``max_candidates`` items.

    Draws ``max_candidates`` pool rows uniformly without replacement (from the query's
    generator, first), queries the wrapped strategy on them alone, and maps its picks back
    to indices into the whole pool. The cost of a query then no longer grows with the
    pool: the usual way to run expensive strategies (expected error reduction,
    QUIRE-like kernels, diversity selectors) on large pools, at the price of considering
    only part of it. The sample is drawn anew at every query. When the pool has at most
    ``max_candidates`` items it is passed through whole and the picks are exactly the
    wrapped strategy's.

    ``needs`` is the wrapped strategy's; ``X_labeled`` and ``y_labeled`` are passed on
    unchanged.

    Parameters
    ----------
    strategy : str or Strategy, default="margin"
        A registry name (built with its defaults) or a strategy object.
    max_candidates : int or float, default=10000
        Subsample size: an int of at least 1, or a float in ``(0, 1]`` for that fraction
        of the pool (rounded up). ``k`` may not exceed it.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: indices into the whole pool, in the wrapped strategy's order.

    References
    ----------
    Kottke, Herde, Minh, Benz, Mergard, Roghman, Sandrock & Sick (2021), "scikit-activeml:
    a library and toolbox for active learning algorithms", Preprints 2021030194
    (``SubSamplingWrapper``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.linspace(0.0, 4.0, 50)[:, None]
    >>> SubSample("margin", max_candidates=10).query(model, pool, 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "subsample"
    needs = _WrappedNeeds()  # type: ignore[assignment]
    summary: ClassVar[str] = "any strategy on a random subsample of at most max_candidates items"
    reference: ClassVar[str] = "Kottke et al. 2021 (scikit-activeml SubSamplingWrapper)"
    default_strategy: ClassVar[str] = "margin"

    def __init__(self, strategy: Any = "margin", max_candidates: int | float = 10_000) -> None:
        self.strategy = strategy
        self.max_candidates = max_candidates

    def _size(self, n: int) -> int:
        value = self.max_candidates
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return check_int(value, "max_candidates", self.name, 1)
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 < value <= 1:
            return max(1, int(np.ceil(float(value) * n)))
        raise ValueError(
            f"{self.name}: max_candidates must be an int of at least 1 or a fraction in "
            f"(0, 1]; got {value!r}."
        )

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        inner = _resolve(self.strategy, self.name)
        n = n_rows(X_pool)
        size = self._size(n)
        if size >= n:
            return inner._select(model, X_pool, k, X_labeled, y_labeled, rng)
        if k > size:
            raise ValueError(
                f"{self.name}: k={k} is larger than max_candidates={self.max_candidates!r} "
                f"({size} items); raise max_candidates to at least {k} or ask for fewer."
            )
        rows = np.sort(rng.choice(n, size=size, replace=False))
        picks = inner._select(model, _take(X_pool, rows), k, X_labeled, y_labeled, rng)
        return rows[np.asarray(picks, dtype=np.int64)]


def _chunk_utilities(strategy: ScoreStrategy, model: ModelAdapter, X_chunk: Any) -> np.ndarray:
    return np.asarray(strategy._utilities(model, X_chunk), dtype=np.float64)


def _pointwise(strategy: ScoreStrategy) -> bool:
    """True when a row's utility depends on that row alone (so chunks can be scored apart)."""
    declared = getattr(strategy, "pointwise", None)
    if declared is not None:
        return bool(declared)
    from activelab.strategies._disagreement import _SampleStrategy
    from activelab.strategies._uncertainty import _ProbaStrategy

    selects_by_sampling = type(strategy)._select is ScoreStrategy._select
    return selects_by_sampling and isinstance(strategy, _ProbaStrategy | _SampleStrategy)


class Parallel(Strategy):
    """Score the pool of a score strategy in chunks, in parallel, then select as it would.

    The pool is split into consecutive chunks of ``chunk_size`` rows (by default one per
    worker); the wrapped strategy's utilities of each chunk are computed in
    ``n_jobs`` joblib workers, concatenated in pool order, and the batch is chosen from
    them by the strategy's own sampling rule (``sampling``, ``temperature``) with the
    query's generator. The picks are therefore exactly the unwrapped strategy's. This pays
    off when computing the utilities is the expensive part (a large model's
    ``predict_proba`` or posterior samples); for the cheap score functions one process is
    already at the memory-bandwidth bound.

    Only score strategies whose utility of an item depends on that item alone can be
    split this way: the uncertainty scores (``least_confidence``, ``margin``, ``ratio``,
    ``entropy``) and the committee scores (``vote_entropy``, ``kl_consensus``, ``bald``,
    ``variation_ratio``, ``mean_std``). Others raise a TypeError: strategies that select
    a batch jointly (core-set, BADGE, QUIRE, …), and score strategies whose utilities
    depend on the whole pool (``information_density``). A ScoreStrategy subclass declares
    itself splittable with the class attribute ``pointwise = True``.

    The default backend is threads: nothing is copied, no process starts, and
    scikit-learn's and torch's predictions spend their time in code that releases the
    GIL. ``backend="loky"`` runs processes instead (the strategy, the model and each chunk
    are pickled to them, and each worker imports activelab once, seconds on the first
    query). activelab's score kernels use their own threads on large chunks; set
    ``ACTIVELAB_NUM_THREADS=1`` when each worker should use one core.

    Parameters
    ----------
    strategy : str or ScoreStrategy, default="margin"
        A registry name or a strategy object.
    n_jobs : int, default=2
        Workers, as joblib counts them (-1: all CPUs).
    chunk_size : int, optional
        Rows per chunk; default: the pool split evenly over the workers.
    backend : str or None, default="threading"
        joblib backend ("threading", "loky", …); None takes joblib's default or the one
        set by ``joblib.parallel_config``.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the unwrapped strategy's picks.

    References
    ----------
    joblib: https://joblib.readthedocs.io (``Parallel``, ``delayed``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.linspace(0.0, 4.0, 9)[:, None]
    >>> Parallel("margin", n_jobs=2).query(model, pool, 1, random_state=0).tolist()
    [4]
    """

    name: ClassVar[str] = "parallel"
    needs = _WrappedNeeds()  # type: ignore[assignment]
    summary: ClassVar[str] = "a score strategy's utilities over pool chunks in joblib workers"
    reference: ClassVar[str] = "— (joblib; picks identical to the wrapped strategy)"
    default_strategy: ClassVar[str] = "margin"

    def __init__(
        self,
        strategy: Any = "margin",
        n_jobs: int = 2,
        chunk_size: int | None = None,
        backend: str | None = "threading",
    ) -> None:
        self.strategy = strategy
        self.n_jobs = n_jobs
        self.chunk_size = chunk_size
        self.backend = backend

    def _inner(self) -> ScoreStrategy:
        inner = _resolve(self.strategy, self.name)
        if not isinstance(inner, ScoreStrategy) or not _pointwise(inner):
            raise TypeError(
                f"{self.name} splits the pool into chunks and scores each on its own, which "
                "needs a score strategy whose utility of an item depends on that item alone "
                f"(margin, entropy, bald, …); {getattr(inner, 'name', '') or type(inner).__name__}"
                " is not one. Run it unwrapped, or wrap it in SubSample to bound its cost."
            )
        return inner

    def utilities(self, model: Any, X_pool: Any) -> np.ndarray:
        """The wrapped strategy's utilities of every pool item, computed chunk by chunk.

        Parameters
        ----------
        model : fitted estimator or ModelAdapter
        X_pool : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._utilities(self._inner(), self._adapter(model), X_pool)

    def _utilities(self, inner: ScoreStrategy, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        import joblib

        n = n_rows(X_pool)
        if isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, numbers.Integral):
            raise ValueError(
                f"{self.name}: n_jobs must be an int (-1: all CPUs); got {self.n_jobs!r}."
            )
        if self.n_jobs == 0:
            raise ValueError(f"{self.name}: n_jobs must not be 0; use 1 for no parallelism.")
        workers = joblib.effective_n_jobs(int(self.n_jobs))
        if self.chunk_size is None:
            size = max(1, -(-n // workers))
        else:
            size = check_int(self.chunk_size, "chunk_size", self.name, 1)
        starts = range(0, n, size)
        if len(starts) == 1:
            return _chunk_utilities(inner, model, X_pool)
        parts = joblib.Parallel(n_jobs=int(self.n_jobs), backend=self.backend)(
            joblib.delayed(_chunk_utilities)(inner, model, _rows(X_pool, start, start + size))
            for start in starts
        )
        utilities = np.concatenate(parts)
        if utilities.shape != (n,):
            raise ValueError(
                f"{self.name}: the chunks of {inner.name} gave {utilities.shape[0]} utilities "
                f"for {n} pool items; its utilities must be one number per row."
            )
        return utilities

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        inner = self._inner()
        if inner.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{inner.name}: sampling must be one of {SAMPLING_MODES}; got {inner.sampling!r}."
            )
        utilities = self._utilities(inner, model, X_pool)
        return sample(utilities, k, inner.sampling, inner.temperature, rng)
