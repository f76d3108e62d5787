"""Partial top-k sets and their merge: the reduction step of a distributed query.

A :class:`Candidates` holds the best rows found so far (of a batch, a partition, or a
subtree of partitions) with everything the next step needs: the global row position,
the order key, the tie key, the reported score and per-row payload (features,
embeddings, predicted labels). Rows are ranked by the order key, highest first, and on
equal keys by the tie key (:func:`activelab.scale.tie_keys`), highest first. That is a
total order, so the best ``m`` of a union equals the best ``m`` of the best ``m`` of
each part: merging partial top-ks in any tree gives the exact global top-k.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from activelab import _kernels


@dataclass
class Candidates:
    """The best rows of some part of the pool, best first.

    Parameters
    ----------
    rows : numpy.ndarray of int64
        Global row positions.
    key : numpy.ndarray of float64
        Order key, higher first (the utility, or utility plus Gumbel noise, or a
        uniform draw).
    tie : numpy.ndarray of uint64
        Tie key of each row, higher first on equal ``key``.
    score : numpy.ndarray of float64
        The utility reported for each row (NaN where the plan has none).
    payload : dict of str to numpy.ndarray
        Per-row arrays aligned with ``rows`` (``"X"``, ``"embedding"``, ``"prediction"``).
    """

    rows: np.ndarray
    key: np.ndarray
    tie: np.ndarray
    score: np.ndarray
    payload: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        """Number of rows held."""
        return int(self.rows.shape[0])

    def take(self, positions: np.ndarray) -> Candidates:
        """The rows at ``positions``, in that order.

        Parameters
        ----------
        positions : numpy.ndarray of int

        Returns
        -------
        Candidates
        """
        return Candidates(
            self.rows[positions],
            self.key[positions],
            self.tie[positions],
            self.score[positions],
            {name: values[positions] for name, values in self.payload.items()},
        )

    @staticmethod
    def empty() -> Candidates:
        """No rows (an empty partition).

        Returns
        -------
        Candidates
        """
        return Candidates(
            np.empty(0, np.int64), np.empty(0), np.empty(0, np.uint64), np.empty(0), {}
        )

    @staticmethod
    def concat(parts: Sequence[Candidates]) -> Candidates:
        """All rows of ``parts``, in order (empty parts are skipped).

        Parameters
        ----------
        parts : sequence of Candidates

        Returns
        -------
        Candidates
        """
        filled = [part for part in parts if len(part)]
        if not filled:
            return Candidates.empty()
        if len(filled) == 1:
            return filled[0]
        names = filled[0].payload.keys()
        return Candidates(
            np.concatenate([part.rows for part in filled]),
            np.concatenate([part.key for part in filled]),
            np.concatenate([part.tie for part in filled]),
            np.concatenate([part.score for part in filled]),
            {name: np.concatenate([part.payload[name] for part in filled]) for name in names},
        )


def best_positions(
    key: np.ndarray, m: int, tie_of: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Positions of the ``m`` best entries of ``key``, best first, ties by ``tie_of``.

    One O(n log m) pass finds the m-th largest key and the entries above it (numba
    kernels of :mod:`activelab._kernels`); tie keys are computed only for the entries
    that tie with the m-th key, and the largest of them fill the batch. Only the chosen
    ``m`` entries are sorted.

    Parameters
    ----------
    key : numpy.ndarray of float64, shape (n,)
        No NaN; ``-inf`` is allowed.
    m : int
        How many to keep; all of them when ``m >= n``.
    tie_of : callable
        Maps positions to their uint64 tie keys.

    Returns
    -------
    numpy.ndarray of int64, shape (min(m, n),)
    """
    n = key.shape[0]
    if m <= 0 or n == 0:
        return np.empty(0, np.int64)
    if m >= n:
        chosen = np.arange(n, dtype=np.int64)
    else:
        threshold = _kernels.kth_largest(key, m)
        above = np.empty(m, dtype=np.int64)
        equal = np.empty(m, dtype=np.int64)
        n_above, n_equal = _kernels.split_at(key, threshold, above, equal)
        tied = equal[:n_equal] if n_equal <= m else np.flatnonzero(key == threshold)
        need = m - n_above
        if tied.shape[0] > need:
            ties = tie_of(tied)
            tied = tied[np.argpartition(ties, ties.shape[0] - need)[ties.shape[0] - need :]]
        chosen = np.concatenate([above[:n_above], tied.astype(np.int64, copy=False)])
    order = np.lexsort((tie_of(chosen), key[chosen]))[::-1]
    return chosen[order]


def best(candidates: Candidates, m: int) -> Candidates:
    """The ``m`` best rows of ``candidates``, best first.

    Parameters
    ----------
    candidates : Candidates
    m : int

    Returns
    -------
    Candidates
    """
    if len(candidates) == 0:
        return candidates
    tie = candidates.tie
    return candidates.take(best_positions(candidates.key, m, lambda positions: tie[positions]))


def merge(parts: Sequence[Candidates], m: int) -> Candidates:
    """The ``m`` best rows of the union of ``parts``: one node of the reduction tree.

    Parameters
    ----------
    parts : sequence of Candidates
    m : int

    Returns
    -------
    Candidates
    """
    return best(Candidates.concat(parts), m)
