"""Batch selectors: arrays in, indices out.

A selector turns per-item utilities (and, for the diversity selectors, embeddings) into
the indices of a batch: :func:`top_k` and :func:`stochastic_batch` on utilities;
:func:`k_center_greedy`, :func:`kmeans_pp`, :func:`cluster_then_pick` and
:func:`facility_location` on embeddings; :func:`batchbald_greedy` on posterior
samples; :func:`greedy_sequential` for scores that depend on what the batch already
holds. Selection is separate from scoring so every
strategy reuses the same, tested selectors.

Every selector returns unique ``int64`` indices, most informative first, and breaks ties
at random under ``random_state``, never by index order (index order would favour the
start of the pool, which is often sorted by date or class).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from activelab import _kernels
from activelab._batchbald import batchbald_greedy
from activelab._diversity import (
    cluster_then_pick,
    facility_location,
    greedy_sequential,
    k_center_greedy,
    kmeans_pp,
)
from activelab._validation import RandomStateLike, check_k, check_random_state, check_scores

__all__ = [
    "SAMPLING_MODES",
    "batchbald_greedy",
    "cluster_then_pick",
    "facility_location",
    "greedy_sequential",
    "k_center_greedy",
    "kmeans_pp",
    "sample",
    "stochastic_batch",
    "top_k",
]

Sampling = Literal["top", "softmax", "power", "softrank"]
#: The values a score-based strategy accepts for ``sampling``.
SAMPLING_MODES: tuple[str, ...] = ("top", "softmax", "power", "softrank")


def top_k(scores: np.ndarray, k: int, random_state: RandomStateLike = None) -> np.ndarray:
    """Indices of the ``k`` highest scores, highest first, ties broken at random.

    Runs in one pass with a size-``k`` heap (O(n log k), no sort and no copy of the
    scores), then one more pass to collect the items that tie with the k-th score; the
    batch takes a random subset of those ties. Within the batch, equal scores appear in
    random order.

    Parameters
    ----------
    scores : array of shape (n,)
        Utilities, higher is better; finite.
    k : int
        Batch size, ``1 <= k <= n``.
    random_state : int, numpy.random.Generator or None
        Seeds the tie-breaking.

    Returns
    -------
    numpy.ndarray of shape (k,), int64

    Examples
    --------
    >>> top_k([0.1, 0.9, 0.5, 0.7], 2)
    array([1, 3])
    """
    values = check_scores(scores)
    k = check_k(k, values.shape[0])
    return _top_k(values, k, check_random_state(random_state))


def _top_k(values: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`top_k` on validated float64 input (``-inf`` allowed)."""
    threshold = _kernels.kth_largest(values, k)
    above = np.empty(k, dtype=np.int64)
    tied = np.empty(k, dtype=np.int64)
    n_above, n_equal = _kernels.split_at(values, threshold, above, tied)
    above = above[:n_above]
    need = k - n_above
    tied = tied[:n_equal] if n_equal <= k else np.flatnonzero(values == threshold)
    if n_equal > need:
        tied = rng.choice(tied, size=need, replace=False)
    chosen = np.concatenate([above, tied])
    # Highest first; the random key orders equal scores at random.
    order = np.lexsort((rng.random(chosen.shape[0]), -values[chosen]))
    return chosen[order].astype(np.int64, copy=False)


def stochastic_batch(
    scores: np.ndarray,
    k: int,
    mode: Literal["softmax", "power", "softrank"] = "softmax",
    temperature: float = 1.0,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    r"""Draw a batch at random, with more informative items more likely.

    Instead of the top ``k`` scores (which in a batch are often near-copies), draw ``k``
    items without replacement with probabilities

    - ``"softmax"``: :math:`p_i \propto \exp(s_i / T)`
    - ``"power"``: :math:`p_i \propto s_i^{1/T}` (scores must be non-negative; zero
      scores are drawn only when nothing else is left)
    - ``"softrank"``: :math:`p_i \propto r_i^{-1/T}`, where :math:`r_i` is the rank of
      item ``i`` (1 = highest score; ties ranked in random order)

    by the Gumbel-top-k trick: add independent Gumbel noise to the log-weights and take
    the top ``k``, which samples a batch without replacement from the Plackett–Luce model
    of those weights. ``temperature`` is :math:`T = 1/\beta` of the paper; as it goes to 0
    every mode approaches :func:`top_k`.

    Parameters
    ----------
    scores : array of shape (n,)
        Utilities, higher is better.
    k : int
        Batch size, ``1 <= k <= n``.
    mode : {"softmax", "power", "softrank"}
        How scores become sampling weights.
    temperature : float
        Positive; larger spreads the draw over more of the pool.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In order of the draw (first drawn first).

    References
    ----------
    Kirsch, Farquhar, Atighehchian, Jesson, Branchaud-Charron & Gal (2023), "Stochastic
    batch acquisition: a simple baseline for deep active learning", TMLR.
    Kool, van Hoof & Welling (2019), "Stochastic beams and where to find them: the
    Gumbel-top-k trick for sampling sequences without replacement", ICML.

    Examples
    --------
    >>> stochastic_batch([0.1, 0.9, 0.5, 0.7], 2, random_state=0).shape
    (2,)
    """
    values = check_scores(scores)
    k = check_k(k, values.shape[0])
    if mode not in SAMPLING_MODES[1:]:
        raise ValueError(f"mode must be one of {SAMPLING_MODES[1:]}; got {mode!r}.")
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number; got {temperature!r}.")
    rng = check_random_state(random_state)
    if mode == "softmax":
        log_weights = values / temperature
    elif mode == "power":
        if (values < 0).any():
            bad = int(np.flatnonzero(values < 0)[0])
            raise ValueError(
                f"power sampling needs non-negative scores; scores[{bad}] = {values[bad]}. "
                "Use sampling='softmax' or 'softrank' for signed scores."
            )
        with np.errstate(divide="ignore"):
            log_weights = np.log(values) / temperature
    else:
        permutation = rng.permutation(values.shape[0])
        order = permutation[np.argsort(-values[permutation], kind="stable")]
        ranks = np.empty(values.shape[0], dtype=np.float64)
        ranks[order] = np.arange(1, values.shape[0] + 1)
        log_weights = -np.log(ranks) / temperature
    keys = log_weights + rng.gumbel(size=values.shape[0])
    return _top_k(keys, k, rng)


def sample(
    scores: np.ndarray,
    k: int,
    sampling: Sampling = "top",
    temperature: float = 1.0,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Pick ``k`` items from utilities by the ``sampling`` rule every score strategy takes.

    ``"top"`` is :func:`top_k`; the others are :func:`stochastic_batch` modes.

    Parameters
    ----------
    scores : array of shape (n,)
    k : int
    sampling : {"top", "softmax", "power", "softrank"}
    temperature : float
        Used by the stochastic modes only.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64

    Examples
    --------
    >>> sample([0.2, 0.8, 0.5], 1, sampling="top")
    array([1])
    """
    if sampling == "top":
        return top_k(scores, k, random_state)
    if sampling not in SAMPLING_MODES:
        raise ValueError(f"sampling must be one of {SAMPLING_MODES}; got {sampling!r}.")
    return stochastic_batch(scores, k, sampling, temperature, random_state)
