"""Search spaces: a continuous box and a finite candidate library.

The optimiser works in unit coordinates: a :class:`Box` maps ``[low, high]`` to
``[0, 1]`` per coordinate, a :class:`CandidateLibrary` min–max scales its columns to
``[0, 1]`` (binary fingerprints stay as they are). The surrogate only ever sees unit
coordinates, so its length-scale bounds mean the same on every problem.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from scipy.stats import qmc

__all__ = ["Box", "CandidateLibrary", "as_space"]


class Box:
    """A continuous box ``[low₁, high₁] × … × [low_d, high_d]``.

    Acquisitions are maximised over it by scoring Sobol and local candidates, then
    polishing the best few with L-BFGS-B (:func:`activelab.bayesopt.suggest`).

    Parameters
    ----------
    bounds : array-like of shape (d, 2)
        One ``(low, high)`` pair per coordinate, ``low < high``, finite.

    Examples
    --------
    >>> box = Box([(-5, 10), (0, 15)])
    >>> box.dim, box.to_unit(np.array([[10.0, 0.0]])).tolist()
    (2, [[1.0, 0.0]])
    """

    def __init__(self, bounds: Any) -> None:
        self.bounds = check_bounds(bounds)

    @property
    def dim(self) -> int:
        """Number of coordinates."""
        return int(self.bounds.shape[0])

    @property
    def low(self) -> np.ndarray:
        """Lower bounds, shape (d,)."""
        return self.bounds[:, 0]

    @property
    def high(self) -> np.ndarray:
        """Upper bounds, shape (d,)."""
        return self.bounds[:, 1]

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        """Map points of the box to ``[0, 1]^d``.

        Parameters
        ----------
        X : numpy.ndarray of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n, d)
        """
        return (np.asarray(X, dtype=np.float64) - self.low) / (self.high - self.low)

    def from_unit(self, U: np.ndarray) -> np.ndarray:
        """Map points of ``[0, 1]^d`` back to the box (clipped to it).

        Parameters
        ----------
        U : numpy.ndarray of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n, d)
        """
        X = self.low + np.asarray(U, dtype=np.float64) * (self.high - self.low)
        return np.clip(X, self.low, self.high)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """A scrambled Sobol design of ``n`` points of the box.

        Parameters
        ----------
        n : int
        rng : numpy.random.Generator

        Returns
        -------
        numpy.ndarray of shape (n, d)
        """
        return self.from_unit(sobol_unit(n, self.dim, rng))

    def __repr__(self) -> str:
        return f"Box({self.bounds.tolist()})"


class CandidateLibrary:
    """A finite library of candidates (rows of an ``(n, d)`` array), picked without replacement.

    Molecules as fingerprint vectors, a catalogue of formulations, a grid of process
    settings: the optimiser scores every candidate not yet evaluated and never proposes
    one twice.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Finite feature vectors, one row per candidate.

    Examples
    --------
    >>> library = CandidateLibrary(np.eye(3))
    >>> library.size, library.dim, library.binary
    (3, 3, True)
    """

    def __init__(self, X: Any) -> None:
        array = np.asarray(X)
        if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 1:
            raise ValueError(
                "A candidate library needs an array of shape (n, d) with at least 2 rows, one "
                f"feature vector per candidate; got shape {array.shape}."
            )
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise ValueError(f"A candidate library needs numbers; got dtype {array.dtype}.")
        array = array.astype(np.float64)
        if not np.isfinite(array).all():
            row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
            raise ValueError(
                f"Candidate library row {row} has NaN or inf; drop or impute that candidate."
            )
        self.X = array
        self.binary = bool(np.isin(array, (0.0, 1.0)).all())
        low, high = array.min(axis=0), array.max(axis=0)
        span = high - low
        self._low = low
        self._span = np.where(span > 0, span, 1.0)
        self._index: dict[bytes, list[int]] | None = None

    @property
    def size(self) -> int:
        """Number of candidates."""
        return int(self.X.shape[0])

    @property
    def dim(self) -> int:
        """Number of features."""
        return int(self.X.shape[1])

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        """Min–max scale feature vectors to ``[0, 1]`` (binary libraries are left as they are).

        Parameters
        ----------
        X : numpy.ndarray of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n, d)
        """
        X = np.asarray(X, dtype=np.float64)
        if self.binary:
            return X
        return (X - self._low) / self._span

    def indices_of(self, X: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        """Library indices of rows of ``X`` (exact matches), or a ValueError.

        Duplicate rows of the library map to their successive indices in order, skipping
        those in ``exclude``.

        Parameters
        ----------
        X : numpy.ndarray of shape (n, d)
        exclude : numpy.ndarray of int, optional
            Indices not to return while another copy of the row is free.

        Returns
        -------
        numpy.ndarray of shape (n,), int
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(
                f"Points of this library have {self.dim} features; got shape {X.shape}."
            )
        if self._index is None:
            self._index = {}
            for i, row in enumerate(self.X):
                self._index.setdefault(row.tobytes(), []).append(i)
        skip = set() if exclude is None else {int(i) for i in np.asarray(exclude).ravel()}
        out = np.empty(X.shape[0], dtype=np.int64)
        for k, row in enumerate(X):
            matches = self._index.get(row.tobytes())
            if not matches:
                raise ValueError(
                    f"Point {k} is not a row of the candidate library; a library search can "
                    "only be told about its own candidates."
                )
            free = [i for i in matches if i not in skip]
            out[k] = free[0] if free else matches[0]
            skip.add(int(out[k]))
        return out

    def __repr__(self) -> str:
        return f"CandidateLibrary(size={self.size}, dim={self.dim}, binary={self.binary})"


Space = Box | CandidateLibrary


def as_space(space: Any) -> Box | CandidateLibrary:
    """Turn what the user passed into a :class:`Box` or a :class:`CandidateLibrary`.

    Parameters
    ----------
    space : Box, CandidateLibrary, list of (low, high) pairs, or numpy.ndarray
        A list or tuple of pairs is a box's bounds; a numpy array of shape (n, d) is a
        candidate library (wrap bounds held in an array in :class:`Box` explicitly).

    Returns
    -------
    Box or CandidateLibrary

    Examples
    --------
    >>> as_space([(0, 1), (0, 2)])
    Box([[0.0, 1.0], [0.0, 2.0]])
    """
    if isinstance(space, Box | CandidateLibrary):
        return space
    if isinstance(space, np.ndarray):
        return CandidateLibrary(space)
    if isinstance(space, list | tuple):
        return Box(space)
    raise TypeError(
        "space must be a Box, a CandidateLibrary, a list of (low, high) pairs (a box) or a "
        f"numpy array of shape (n, d) (a candidate library); got {type(space).__name__}."
    )


def check_bounds(bounds: Any) -> np.ndarray:
    """Box bounds as a float64 ``(d, 2)`` array of ``(low, high)`` rows, or a ValueError.

    Parameters
    ----------
    bounds : array-like of shape (d, 2)

    Returns
    -------
    numpy.ndarray of shape (d, 2)

    Examples
    --------
    >>> check_bounds([(0, 1)]).tolist()
    [[0.0, 1.0]]
    """
    try:
        array = np.asarray(bounds, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            "bounds must be numbers: one (low, high) pair per coordinate, e.g. "
            f"[(-5, 10), (0, 15)]; got {bounds!r}."
        ) from None
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] < 1:
        raise ValueError(
            "bounds must have shape (d, 2): one (low, high) pair per coordinate, e.g. "
            f"[(-5, 10), (0, 15)]; got shape {array.shape}. For d = 1 write [(low, high)]."
        )
    if not np.isfinite(array).all():
        raise ValueError(f"bounds must be finite; got {array.tolist()}.")
    wrong = np.flatnonzero(array[:, 0] >= array[:, 1])
    if wrong.size:
        j = int(wrong[0])
        raise ValueError(
            f"bounds row {j} is (low={array[j, 0]:g}, high={array[j, 1]:g}): each row must be "
            "(low, high) with low < high; swap the pair or widen it."
        )
    return array


def sobol_unit(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of a scrambled Sobol sequence in ``[0, 1]^d`` (first ``n`` of ``2^m``)."""
    m = max(int(np.ceil(np.log2(max(n, 1)))), 0)
    sampler = qmc.Sobol(d, scramble=True, seed=rng)
    return sampler.random_base2(m)[:n]


def check_count(value: Any, name: str, minimum: int) -> int:
    """An int parameter of at least ``minimum``, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an int of at least {minimum}; got {value!r}.")
    return int(value)
