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
    "draw_probabilities",
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
    _check_mode(mode, temperature)
    rng = check_random_state(random_state)
    if mode == "softrank":
        permutation = rng.permutation(values.shape[0])
        order = permutation[np.argsort(-values[permutation], kind="stable")]
        ranks = np.empty(values.shape[0], dtype=np.float64)
        ranks[order] = np.arange(1, values.shape[0] + 1)
        log_weights = -np.log(ranks) / temperature
    else:
        log_weights = _score_log_weights(values, mode, temperature)
    keys = log_weights + rng.gumbel(size=values.shape[0])
    return _top_k(keys, k, rng)


def _check_mode(mode: str, temperature: float) -> None:
    if mode not in SAMPLING_MODES[1:]:
        raise ValueError(f"mode must be one of {SAMPLING_MODES[1:]}; got {mode!r}.")
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number; got {temperature!r}.")


def _score_log_weights(values: np.ndarray, mode: str, temperature: float) -> np.ndarray:
    """Log sampling weights of the ``"softmax"`` and ``"power"`` modes (``-inf`` for 0)."""
    if mode == "softmax":
        return values / temperature
    if (values < 0).any():
        bad = int(np.flatnonzero(values < 0)[0])
        raise ValueError(
            f"power sampling needs non-negative scores; scores[{bad}] = {values[bad]}. "
            "Use sampling='softmax' or 'softrank' for signed scores."
        )
    with np.errstate(divide="ignore"):
        return np.log(values) / temperature


def _softrank_log_weights(values: np.ndarray, temperature: float) -> np.ndarray:
    """Log of the expected softrank weight of each item over random orders of its ties."""
    n = values.shape[0]
    order = np.argsort(-values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    rank_weights = np.arange(1, n + 1, dtype=np.float64) ** (-1.0 / temperature)
    sizes = np.diff(np.r_[starts, n])
    group_means = np.add.reduceat(rank_weights, starts) / sizes
    log_weights = np.empty(n, dtype=np.float64)
    log_weights[order] = np.repeat(np.log(group_means), sizes)
    return log_weights


def draw_probabilities(
    scores: np.ndarray,
    picks: np.ndarray,
    sampling: Sampling = "softmax",
    temperature: float = 1.0,
) -> np.ndarray:
    r"""The probability with which each pick of a batch was drawn, given the picks before it.

    For a batch drawn by :func:`stochastic_batch` (or :func:`sample`) from ``scores``,
    the ``j``-th pick :math:`i_j` was drawn from the items not yet picked with the
    Plackett–Luce probability

    .. math:: q_j = \frac{w_{i_j}}{\sum_i w_i - \sum_{l<j} w_{i_l}}

    where :math:`w` are the mode's weights (see :func:`stochastic_batch`). These are the
    probabilities importance weighting needs (:mod:`activelab.training`). When every item
    left has weight zero (``"power"`` with zero scores) the draw is uniform among them.
    ``"softrank"`` uses each item's weight averaged over the random orders of its ties,
    which is exact for tie-free scores. ``"top"`` is deterministic: every pick has
    probability 1.

    Computed in log space, so tiny probabilities do not underflow to zero.

    Parameters
    ----------
    scores : array of shape (n,)
        The utilities the batch was drawn from.
    picks : array of int of shape (k,)
        The batch, in the order of the draw (as :func:`stochastic_batch` returns it).
    sampling : {"softmax", "power", "softrank", "top"}
    temperature : float

    Returns
    -------
    numpy.ndarray of shape (k,), float64
        In ``(0, 1]``.

    References
    ----------
    Plackett (1975), "The analysis of permutations", JRSS C; Luce (1959), "Individual
    choice behavior".

    Examples
    --------
    >>> draw_probabilities([0.0, 0.0, np.log(2.0)], [2, 0]).round(3).tolist()
    [0.5, 0.5]
    """
    values = check_scores(scores)
    n = values.shape[0]
    chosen = np.asarray(picks)
    if chosen.ndim != 1 or not np.issubdtype(chosen.dtype, np.integer):
        raise ValueError(f"picks must be a 1-D array of ints; got {chosen.dtype} {chosen.shape}.")
    chosen = chosen.astype(np.int64)
    if chosen.size and (chosen.min() < 0 or chosen.max() >= n):
        raise ValueError(f"picks must be indices into the {n} scores.")
    if np.unique(chosen).shape[0] != chosen.shape[0]:
        raise ValueError("picks must be unique: a batch is drawn without replacement.")
    if sampling == "top":
        return np.ones(chosen.shape[0], dtype=np.float64)
    _check_mode(sampling, temperature)
    if sampling == "softrank":
        log_weights = _softrank_log_weights(values, temperature)
    else:
        log_weights = _score_log_weights(values, sampling, temperature)
    picked = log_weights[chosen]
    rest = np.ones(n, dtype=bool)
    rest[chosen] = False
    log_rest = _logsumexp(log_weights[rest])
    # log of the weight left before each draw: the unpicked items plus the later picks.
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.logaddexp(log_rest, np.logaddexp.accumulate(picked[::-1])[::-1])
        log_probabilities = picked - left
    # A drawn item cannot have probability 0; a finite log-probability below the float
    # range (e.g. softmax at a tiny temperature) is kept as the smallest positive float.
    probabilities = np.maximum(np.exp(log_probabilities), np.finfo(np.float64).tiny)
    empty = np.isneginf(left)
    probabilities[empty] = 1.0 / (n - np.flatnonzero(empty))
    impossible = ~empty & np.isneginf(log_probabilities)
    probabilities[impossible] = 0.0
    if impossible.any():
        j = int(np.flatnonzero(impossible)[0])
        raise ValueError(
            f"picks[{j}] = {chosen[j]} has probability 0 under {sampling!r} sampling while "
            "items of positive weight were left; were the picks drawn from these scores?"
        )
    return probabilities


def _logsumexp(log_values: np.ndarray) -> float:
    if log_values.size == 0:
        return -np.inf
    top = float(np.max(log_values))
    if not np.isfinite(top):
        return top
    return top + float(np.log(np.sum(np.exp(log_values - top))))


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
