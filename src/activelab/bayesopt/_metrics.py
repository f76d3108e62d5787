"""How well a library search did: the share of the library's best candidates it has found."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = ["top_fraction_found"]


def top_fraction_found(
    indices: Any, values: Any, *, top: float | int = 0.01, minimize: bool = True
) -> np.ndarray:
    """Fraction of the library's top candidates found after each evaluation (top-k recall).

    The drug-discovery view of a candidate-library search: of the ``k`` best molecules in
    the library (the top 1 % by default), how many has the search measured after ``n``
    evaluations? Simple regret stops moving once the single best candidate is found; this
    curve keeps separating methods that find *many* good candidates from those that found
    one. Random search finds ``n / N`` of them in expectation (``N`` the library size), so
    ``curve[n - 1] / (n / N)`` is the enrichment factor over random screening.

    The top set is every candidate at least as good as the ``k``-th best value: ``k`` rows,
    or more when several tie at the cut-off (all of them count, so that random screening
    finds ``n / N`` of the set in expectation, ties or not).

    Parameters
    ----------
    indices : array-like of int, shape (n,)
        Library rows in the order they were evaluated (``BayesOptResult.index``); each row
        at most once.
    values : array-like of float, shape (N,)
        The objective value of every library row (a lookup table of measurements).
    top : float or int, default=0.01
        A float in (0, 1]: the top set is that fraction of the library, ``k = ceil(top N)``
        (at least 1). An int: ``k`` itself.
    minimize : bool, default=True
        Whether lower values are better (as in :func:`minimize`); False for maximisation.

    Returns
    -------
    numpy.ndarray of shape (n,)
        Non-decreasing, in [0, 1]: top-set rows found over the size of the top set, after
        each evaluation.

    Examples
    --------
    >>> values = np.array([5.0, 1.0, 4.0, 0.0, 3.0, 2.0])
    >>> top_fraction_found([2, 3, 1, 0], values, top=2)  # the top 2 are rows 3 and 1
    array([0. , 0.5, 1. , 1. ])
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.shape[0] == 0:
        raise ValueError(
            f"values must be a 1-D array with one value per library row; got shape {values.shape}."
        )
    if not np.isfinite(values).all():
        raise ValueError(
            "values contain NaN or inf; give every library row a finite value (drop the "
            "rows without a measurement from the library first)."
        )
    size = values.shape[0]
    k = _top_count(top, size)
    raw = np.asarray(indices)
    if raw.ndim != 1 or (raw.size and not np.issubdtype(raw.dtype, np.integer)):
        raise ValueError(
            f"indices must be a 1-D array of library row numbers (ints); got dtype "
            f"{raw.dtype}, shape {raw.shape}. Pass BayesOptResult.index of a library search."
        )
    rows = raw.astype(np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= size):
        raise ValueError(
            f"indices must lie in [0, {size}) for a library of {size} values; got "
            f"{int(rows.min())}..{int(rows.max())}."
        )
    if np.unique(rows).size != rows.size:
        raise ValueError(
            "indices hold a library row twice; a library search evaluates each row at most "
            "once, so pass the rows in evaluation order without repeats."
        )
    scores = values if minimize else -values
    cutoff = np.partition(scores, k - 1)[k - 1]
    in_top = scores <= cutoff
    return np.cumsum(in_top[rows]) / np.count_nonzero(in_top)


def _top_count(top: Any, size: int) -> int:
    if isinstance(top, bool) or not isinstance(top, numbers.Real):
        raise ValueError(f"top must be a fraction in (0, 1] or an int k >= 1; got {top!r}.")
    if isinstance(top, numbers.Integral):
        if not 1 <= top <= size:
            raise ValueError(
                f"top={top} candidates: must be between 1 and the library size {size}."
            )
        return int(top)
    if not (math.isfinite(float(top)) and 0 < float(top) <= 1):
        raise ValueError(
            f"top must be a fraction in (0, 1] (0.01 = the best 1 %) or an int k >= 1; got {top!r}."
        )
    return max(1, math.ceil(float(top) * size - 1e-9))
