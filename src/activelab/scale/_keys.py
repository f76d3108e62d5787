"""Per-row random keys that depend only on a seed and the row's global position.

A distributed query must break ties, draw Gumbel noise and take uniform samples the same
way whichever partition (or worker) a row lands in. Each row therefore gets its
randomness from a counter-based generator: the SplitMix64 output at position ``row`` of
the stream seeded by ``seed`` (Steele, Lea & Flood 2014). Two rows never share a key
under one seed (the map from row to key is a bijection of 64-bit integers), and the
keys of any subset of rows can be computed without the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1

#: Distinct streams derived from one query seed.
STREAM_TIES = 0
STREAM_GUMBEL = 1
STREAM_SAMPLE = 2


def _mix(z: np.ndarray) -> np.ndarray:
    z = z ^ (z >> np.uint64(30))
    z = z * _MIX1
    z = z ^ (z >> np.uint64(27))
    z = z * _MIX2
    return z ^ (z >> np.uint64(31))


def stream_seed(seed: int, stream: int) -> int:
    """The seed of sub-stream ``stream`` of a query seed (ties, Gumbel noise, samples).

    Parameters
    ----------
    seed : int
        The query's seed, ``0 <= seed < 2**64``.
    stream : int
        Which sub-stream.

    Returns
    -------
    int
    """
    mixed = _mix(np.array([(seed + (stream + 1) * 0x632BE59BD9B4E019) & _MASK64], np.uint64))
    return int(mixed[0])


def tie_keys(rows: Any, seed: int) -> np.ndarray:
    """Random 64-bit key of each global row position, reproducible from ``seed``.

    ``key = splitmix64(seed + (row + 1) · γ)``: the SplitMix64 stream seeded by ``seed``,
    read at position ``row``. Distinct rows get distinct keys under one seed, so
    ordering by (score, key) is a total order that ranks tied scores at random but
    identically however the pool is partitioned.

    Parameters
    ----------
    rows : array-like of int
        Global row positions, ``>= 0``.
    seed : int
        ``0 <= seed < 2**64``.

    Returns
    -------
    numpy.ndarray of uint64, shape of ``rows``

    References
    ----------
    Steele, Lea & Flood (2014), "Fast splittable pseudorandom number generators",
    OOPSLA.

    Examples
    --------
    >>> a = tie_keys([0, 1, 2], seed=7)
    >>> bool((a == tie_keys([0, 1, 2], seed=7)).all()), len(set(a.tolist()))
    (True, 3)
    """
    positions = np.asarray(rows)
    if positions.size and (
        not np.issubdtype(positions.dtype, np.integer) or int(positions.min()) < 0
    ):
        raise ValueError(
            f"tie_keys needs non-negative integer row positions; got dtype {positions.dtype}."
        )
    if not 0 <= int(seed) <= _MASK64:
        raise ValueError(f"tie_keys: seed must be in [0, 2**64); got {seed}.")
    state = np.array(int(seed), dtype=np.uint64)
    counters = positions.astype(np.uint64) + np.uint64(1)
    return _mix(state + counters * _GAMMA)


def uniform_keys(rows: Any, seed: int) -> np.ndarray:
    """A uniform number in ``(0, 1)`` for each global row position, from ``seed``.

    The top 53 bits of :func:`tie_keys`, centred in their interval, so never 0 or 1.

    Parameters
    ----------
    rows : array-like of int
    seed : int

    Returns
    -------
    numpy.ndarray of float64

    Examples
    --------
    >>> u = uniform_keys(range(1000), seed=1)
    >>> bool(((u > 0) & (u < 1)).all()), round(float(u.mean()), 1)
    (True, 0.5)
    """
    bits = tie_keys(rows, seed) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * 2.0**-53


def gumbel_keys(rows: Any, seed: int) -> np.ndarray:
    """Standard Gumbel noise ``-log(-log u)`` for each global row position, from ``seed``.

    Parameters
    ----------
    rows : array-like of int
    seed : int

    Returns
    -------
    numpy.ndarray of float64
    """
    return -np.log(-np.log(uniform_keys(rows, seed)))
