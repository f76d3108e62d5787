"""Weighted k-means: D² (k-means++) seeding, Lloyd iterations, the member nearest each centre.

The one k-means behind KMeansSampling, TypiClust, ProbCover's purity radius, CLUE,
DropQuery, ``cold_start`` and :func:`activelab.select.cluster_then_pick`; its D² sampler
(:func:`d2_sampling`) also draws :func:`activelab.select.kmeans_pp` and BADGE's batch.

- Seeding draws each centre with probability ∝ weight × squared distance to the nearest
  centre so far (Arthur & Vassilvitskii 2007): one candidate per centre, or with
  ``greedy`` the best of ``2 + ln k`` (scikit-learn's seeding). On dense input a compiled
  kernel scores the candidates and accumulates the running sums in one pass.
- Lloyd iterations assign in float32 BLAS blocks
  (:func:`activelab._distances.nearest_centres`) and sum the weighted members in a
  compiled pass; they stop when no label changes or the squared centre shift falls to
  ``tol`` times the mean feature variance, as :class:`sklearn.cluster.KMeans` does. An
  empty cluster moves to the point that costs the objective most. Centres given in
  advance (``fixed``) take part but never move.
- Dense float32 or CSR input; memory ``O(N·d)`` beyond the input, never ``N × k`` at once
  for a large ``N``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numba
import numpy as np
import scipy.sparse as sp

from activelab._distances import (
    centred,
    nearest_centres,
    rows,
    squared_distances,
    squared_norms,
)

__all__ = [
    "Clusters",
    "cluster_representatives",
    "d2_sampling",
    "dense_lower",
    "kmeans",
    "kmeans_plusplus",
    "lower_by",
    "representatives",
]

#: ``lower(candidates, closest, cumulative) -> (best, total)``: among the candidate points,
#: the one that leaves the smallest ``Σ weight × min(closest, d²)``; ``closest`` lowered to
#: the squared distances to it (0 at the candidate itself), the running sums of
#: ``weight × closest`` written into ``cumulative``, and their total returned.
Lower = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[int, float]]


# ------------------------------------------------------------------------------ seeding


@numba.njit(cache=True, nogil=True, fastmath=True)
def _lower_to_row(E, norms, weights, row, closest, cumulative):  # pragma: no cover
    """``closest = min(closest, |x − E[row]|²)`` (0 at ``row``) and its weighted running sums."""
    n, d = E.shape
    total = 0.0
    for i in range(n):
        value = 0.0
        if i != row:
            dot = np.float32(0.0)
            for j in range(d):
                dot += E[i, j] * E[row, j]
            value = max(norms[i] + norms[row] - 2.0 * dot, 0.0)
        if value < closest[i]:
            closest[i] = value
        total += weights[i] * closest[i]
        cumulative[i] = total
    return total


@numba.njit(cache=True, nogil=True, fastmath=True)
def _candidate_distances(
    E, norms, weights, candidates, closest, out, potentials
):  # pragma: no cover
    """``out[i, t] = min(closest[i], |x_i − x_c|²)`` for each candidate ``c``, in one pass.

    ``potentials[t]`` accumulates ``Σ_i weights[i] · out[i, t]``. A candidate's own row
    gets 0 exactly. Each row of ``E`` is read once for all candidates.
    """
    n, d = E.shape
    for i in range(n):
        for t in range(candidates.shape[0]):
            c = candidates[t]
            value = 0.0
            if i != c:
                dot = np.float32(0.0)
                for j in range(d):
                    dot += E[i, j] * E[c, j]
                value = max(norms[i] + norms[c] - 2.0 * dot, 0.0)
            value = min(value, closest[i])
            out[i, t] = value
            potentials[t] += weights[i] * value


def _keep_best(
    distances: np.ndarray,
    potentials: np.ndarray,
    weights: np.ndarray | None,
    closest: np.ndarray,
    cumulative: np.ndarray,
) -> tuple[int, float]:
    """Keep the candidate of least potential: its distances become ``closest``."""
    best = int(np.argmin(potentials))
    closest[:] = distances[:, best]
    np.cumsum(closest if weights is None else weights * closest, out=cumulative)
    return best, float(cumulative[-1])


def dense_lower(E: np.ndarray, norms: np.ndarray, weights: np.ndarray | None = None) -> Lower:
    """The compiled :data:`Lower` for dense points ``E`` (one pass over ``E`` per call).

    Parameters
    ----------
    E : array of shape (n, d), C-contiguous
    norms : array of shape (n,)
        ``squared_norms(E)``.
    weights : array of shape (n,), float64, optional
        Defaults to ones.

    Returns
    -------
    callable
        ``lower(candidates, closest, cumulative) -> (best, total)``.
    """
    unit = np.ones(E.shape[0]) if weights is None else weights

    def lower(
        candidates: np.ndarray, closest: np.ndarray, cumulative: np.ndarray
    ) -> tuple[int, float]:
        if candidates.shape[0] == 1:
            return 0, float(_lower_to_row(E, norms, unit, candidates[0], closest, cumulative))
        distances = np.empty((E.shape[0], candidates.shape[0]))
        potentials = np.zeros(candidates.shape[0])
        _candidate_distances(E, norms, unit, candidates, closest, distances, potentials)
        return _keep_best(distances, potentials, weights, closest, cumulative)

    return lower


def lower_by(distance_to: Callable[[int], np.ndarray], weights: np.ndarray | None = None) -> Lower:
    """A :data:`Lower` from ``distance_to(i)``, the squared distances of all points to ``i``.

    For distances that are not rows of one dense array (sparse rows, BADGE's factored
    gradient embeddings).

    Parameters
    ----------
    distance_to : callable
        ``distance_to(i) -> ndarray of shape (n,)``.
    weights : array of shape (n,), float64, optional

    Returns
    -------
    callable
        ``lower(candidates, closest, cumulative) -> (best, total)``.
    """

    def lower(
        candidates: np.ndarray, closest: np.ndarray, cumulative: np.ndarray
    ) -> tuple[int, float]:
        distances = np.empty((closest.shape[0], candidates.shape[0]))
        for t, candidate in enumerate(candidates):
            np.minimum(closest, distance_to(int(candidate)), out=distances[:, t])
            distances[candidate, t] = 0.0
        potentials = distances.sum(axis=0) if weights is None else weights @ distances
        return _keep_best(distances, potentials, weights, closest, cumulative)

    return lower


def _draw(
    cumulative: np.ndarray, total: float, chosen: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """``size`` inverse-CDF draws from running sums; one uniform unchosen point if all are 0.

    A chosen point has zero width and cannot be drawn, except when rounding puts a
    target at the very end; the last point of positive width is taken then.
    """
    if not total > 0:
        return np.array([rng.choice(np.flatnonzero(~chosen))])
    picks = np.searchsorted(cumulative, rng.random(size) * total, side="right")
    stray = (picks >= cumulative.shape[0]) | chosen[np.minimum(picks, cumulative.shape[0] - 1)]
    picks[stray] = np.searchsorted(cumulative, cumulative[-1], side="left")
    return picks


def d2_sampling(
    lower: Lower,
    closest: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    first: int | None = None,
    weights: np.ndarray | None = None,
    trials: int = 1,
) -> np.ndarray:
    r"""D² sampling: ``k`` distinct points, each drawn with probability ∝ weight × D(x)².

    :math:`D(x)` is the distance to the nearest point drawn so far (or given in advance
    through ``closest``). A drawn point has :math:`D = 0` and is never drawn again; once
    every remaining weighted distance is zero, the rest are drawn uniformly from the
    points not yet drawn. With ``trials > 1`` this is *greedy* k-means++ (as
    :class:`sklearn.cluster.KMeans` seeds): each step draws ``trials`` candidates that
    way and keeps the one that lowers :math:`\sum_x w(x) D(x)^2` most.

    Parameters
    ----------
    lower : callable
        ``lower(candidates, closest, cumulative) -> (best, total)`` (:func:`dense_lower`,
        :func:`lower_by`).
    closest : array of shape (n,), float64
        Squared distances to centres fixed in advance, ``inf`` where there are none;
        updated in place.
    k : int
        ``1 <= k <= n``.
    rng : numpy.random.Generator
    first : int, optional
        The first point; None draws it from ``closest`` (which must then be finite).
    weights : array of shape (n,), float64, optional
        For the draw of the first point from ``closest``; ``lower`` carries them after.
    trials : int, default=1
        Candidates per step.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In draw order.

    References
    ----------
    Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding", SODA.

    Examples
    --------
    >>> E = np.array([[0.0], [0.1], [9.0]], dtype=np.float32)
    >>> lower = dense_lower(E, squared_norms(E))
    >>> d2_sampling(lower, np.full(3, np.inf), 3, np.random.default_rng(0), first=2).shape
    (3,)
    """
    n = closest.shape[0]
    cumulative = np.empty(n)
    chosen = np.zeros(n, dtype=bool)
    picks = np.empty(k, dtype=np.int64)
    total = 0.0
    if first is None:
        np.cumsum(closest if weights is None else weights * closest, out=cumulative)
        total = float(cumulative[-1])
    for position in range(k):
        if position == 0 and first is not None:
            candidates = np.array([first])
        else:
            candidates = _draw(cumulative, total, chosen, trials, rng)
        best = 0
        if position < k - 1 or candidates.shape[0] > 1:
            best, total = lower(candidates, closest, cumulative)
        picks[position] = candidates[best]
        chosen[candidates[best]] = True
    return picks


def kmeans_plusplus(
    E: Any,
    norms: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    weights: np.ndarray | None = None,
    closest: np.ndarray | None = None,
    greedy: bool = False,
) -> np.ndarray:
    """Rows of ``E`` to start k-means from: weighted k-means++ (D² sampling).

    Plain k-means++ draws one candidate per centre; ``greedy`` draws ``2 + ln k`` and
    keeps the one that lowers the potential most (scikit-learn's seeding), scoring them
    in one compiled pass over dense ``E``. Greedy costs about as many passes as it has
    candidates; it pays where weights are skewed (CLUE's entropies): plain weighted D²
    sampling rarely draws from light regions, whose weight × distance still counts.

    Parameters
    ----------
    E : array (float32, C-contiguous) or CSR matrix of shape (n, d)
    norms : array of shape (n,)
        ``squared_norms(E)``.
    k : int
    rng : numpy.random.Generator
    weights : array of shape (n,), float64, optional
    closest : array of shape (n,), optional
        Squared distances to centres fixed in advance; without them the first centre is
        drawn ∝ weight (uniformly when unweighted).
    greedy : bool, default=False
        Draw ``2 + ln k`` candidates per centre and keep the best.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        Distinct row indices, in draw order.
    """
    n = E.shape[0]
    if sp.issparse(E):
        lower = lower_by(
            lambda i: squared_distances(E, norms, rows(E, [i]), norms[i : i + 1])[:, 0], weights
        )
    else:
        lower = dense_lower(E, norms, weights)
    first = None
    if closest is None:
        if weights is None:
            first = int(rng.integers(n))
        else:
            cumulative = np.cumsum(weights)
            first = int(_draw(cumulative, float(cumulative[-1]), np.zeros(n, bool), 1, rng)[0])
        closest = np.full(n, np.inf)
    closest = np.array(closest, dtype=np.float64)
    trials = 2 + int(np.log(k)) if greedy else 1
    return d2_sampling(lower, closest, k, rng, first=first, weights=weights, trials=trials)


# -------------------------------------------------------------------------------- Lloyd


class Clusters(NamedTuple):
    """The result of :func:`kmeans`; labels and distances belong to the final centres."""

    labels: np.ndarray  #: (n,) int64, index into ``centres``
    sq_dist: np.ndarray  #: (n,) float32, squared distance to the assigned centre
    centres: np.ndarray  #: (k + n_fixed, d) float32; the fixed centres last
    mass: np.ndarray  #: (k + n_fixed,) float64, total weight (the size when unweighted)


@numba.njit(cache=True, nogil=True)
def _weighted_sums(E, labels, weights, sums, mass):  # pragma: no cover - compiled
    """Per-cluster ``Σ w_i x_i`` and ``Σ w_i`` (the Lloyd update's numerators and masses)."""
    for i in range(E.shape[0]):
        cluster = labels[i]
        weight = weights[i]
        mass[cluster] += weight
        for j in range(E.shape[1]):
            sums[cluster, j] += weight * E[i, j]


def _centre_sums(
    E: Any, labels: np.ndarray, weights: np.ndarray, n_centres: int
) -> tuple[np.ndarray, np.ndarray]:
    if sp.issparse(E):
        n = E.shape[0]
        membership = sp.csr_matrix((weights, (labels, np.arange(n))), shape=(n_centres, n))
        sums = np.asarray((membership @ E).toarray(), dtype=np.float64)
        return sums, np.bincount(labels, weights=weights, minlength=n_centres)
    sums = np.zeros((n_centres, E.shape[1]))
    mass = np.zeros(n_centres)
    _weighted_sums(E, labels, weights, sums, mass)
    return sums, mass


def kmeans(
    E: Any,
    k: int,
    rng: np.random.Generator,
    *,
    weights: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    greedy: bool = False,
) -> Clusters:
    r"""Weighted k-means: D² seeding, then Lloyd iterations.

    Minimises :math:`\sum_i w_i \min_c \lVert x_i - \mu_c \rVert^2`, the objective of
    :class:`sklearn.cluster.KMeans` with ``sample_weight`` (one initialisation, as its
    ``n_init="auto"``), and stops by the same rule: no assignment changed, or the
    squared centre shift fell to ``tol`` times the mean feature variance. A cluster
    that loses all its weight moves to the point of largest ``w·d²`` (the point that
    costs the objective most). Centre the data first (:func:`activelab._distances.centred`)
    for float32 accuracy.

    Parameters
    ----------
    E : array (float32, C-contiguous) or CSR matrix of shape (n, d)
    k : int
        Free centres, ``1 <= k <= n``.
    rng : numpy.random.Generator
    weights : array of shape (n,), non-negative, optional
    fixed : array of shape (m, d), optional
        Centres that take part in the assignment but never move (the labeled set, say).
    max_iter : int, default=300
    tol : float, default=1e-4
    greedy : bool, default=False
        Greedy k-means++ seeding (:func:`kmeans_plusplus`).

    Returns
    -------
    Clusters
        ``labels``, ``sq_dist``, ``centres`` (free first, then fixed) and ``mass``.

    References
    ----------
    Lloyd (1982), "Least squares quantization in PCM", IEEE Trans. Inf. Theory.
    Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding", SODA.

    Examples
    --------
    >>> E = np.array([[0.0], [0.2], [9.0], [9.2]], dtype=np.float32)
    >>> clusters = kmeans(E, 2, np.random.default_rng(0))
    >>> sorted(clusters.centres.ravel().astype(float).round(1).tolist())
    [0.1, 9.1]
    """
    n, d = E.shape
    norms = squared_norms(E)
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
    unit = np.ones(n) if weights is None else weights
    closest = None
    n_fixed = 0
    if fixed is not None:
        fixed = np.asarray(fixed, dtype=np.float32)
        n_fixed = fixed.shape[0]
        closest = nearest_centres(E, norms, fixed)[1]
    seeds = kmeans_plusplus(E, norms, k, rng, weights=weights, closest=closest, greedy=greedy)
    centres = rows(E, seeds).astype(np.float32)
    if fixed is not None:
        centres = np.concatenate([centres, fixed])
    mean = np.asarray(E.mean(axis=0), dtype=np.float64).ravel()
    variance = max(float(norms.sum(dtype=np.float64)) / n - float(mean @ mean), 0.0) / d
    threshold = tol * variance
    labels, sq_dist = nearest_centres(E, norms, centres)
    for _ in range(max_iter):
        sums, mass = _centre_sums(E, labels, unit, k + n_fixed)
        updated = centres[:k].copy()
        filled = mass[:k] > 0
        updated[filled] = sums[:k][filled] / mass[:k][filled, None]
        empty = np.flatnonzero(~filled)
        if empty.shape[0]:
            cost = unit * sq_dist
            far = np.argpartition(-cost, empty.shape[0] - 1)[: empty.shape[0]]
            far = far[cost[far] > 0]
            updated[empty[: far.shape[0]]] = rows(E, far)
        shift = float(((updated - centres[:k]).astype(np.float64) ** 2).sum())
        centres[:k] = updated
        previous = labels
        labels, sq_dist = nearest_centres(E, norms, centres)
        if shift <= threshold or np.array_equal(labels, previous):
            break
    mass = np.bincount(labels, weights=unit, minlength=k + n_fixed)
    return Clusters(labels, sq_dist, centres, mass)


def representatives(
    labels: np.ndarray,
    sq_dist: np.ndarray,
    mass: np.ndarray,
    clusters: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The member nearest its centre of each of ``clusters``, heaviest cluster first.

    Ties (equal distances, equal masses) are drawn at random. A cluster without members
    gives nothing; the batch is then filled up to ``k`` with other points, the heaviest
    ``weights`` first (ties at random), or uniformly at random without ``weights``.

    Parameters
    ----------
    labels : array of shape (n,), int
        Cluster of every point.
    sq_dist : array of shape (n,)
        Squared distance of every point to its cluster's centre.
    mass : array of shape (n_clusters,)
        Weight (or size) of every cluster; orders the batch.
    clusters : array of int
        The clusters to take a representative from.
    k : int
        Batch size, at most ``n``.
    rng : numpy.random.Generator
    weights : array of shape (n,), optional
        Orders the fill.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        Distinct point indices.

    Examples
    --------
    >>> labels = np.array([0, 0, 1, 1, 1])
    >>> sq_dist = np.array([0.5, 0.1, 0.3, 0.2, 0.9])
    >>> rng = np.random.default_rng(0)
    >>> representatives(labels, sq_dist, np.array([2.0, 3.0]), np.arange(2), 2, rng).tolist()
    [3, 1]
    """
    n = labels.shape[0]
    order = np.lexsort((rng.random(n), sq_dist, labels))
    sorted_labels = labels[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_labels[1:] != sorted_labels[:-1]
    nearest = np.full(mass.shape[0], -1, dtype=np.int64)
    nearest[sorted_labels[first]] = order[first]
    clusters = clusters[nearest[clusters] >= 0]
    clusters = clusters[np.lexsort((rng.random(clusters.shape[0]), -mass[clusters]))]
    picks = nearest[clusters][:k]
    if picks.shape[0] < k:
        rest = np.setdiff1d(np.arange(n), picks)
        missing = k - picks.shape[0]
        if weights is None:
            fill = rng.choice(rest, missing, replace=False)
        else:
            fill = rest[np.lexsort((rng.random(rest.shape[0]), -weights[rest]))][:missing]
        picks = np.concatenate([picks, fill])
    return picks.astype(np.int64)


def cluster_representatives(
    E: Any,
    k: int,
    rng: np.random.Generator,
    *,
    weights: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    greedy: bool = False,
) -> np.ndarray:
    """:func:`kmeans` with ``k`` free centres, then :func:`representatives` of those.

    Dense input (and ``fixed``) is first centred on the mean of ``E`` as float32
    (:func:`activelab._distances.centred`); CSR input is clustered as it is.

    Parameters
    ----------
    E : array or CSR matrix of shape (n, d)
    k : int
    rng : numpy.random.Generator
    weights, fixed, max_iter, tol, greedy
        As for :func:`kmeans`; ``weights`` also order the fill of :func:`representatives`.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        The heaviest cluster's representative first.

    Examples
    --------
    >>> E = np.array([[0.0], [0.2], [0.3], [9.0], [9.1], [9.3]])
    >>> sorted(cluster_representatives(E, 2, np.random.default_rng(0)).tolist())
    [1, 4]
    """
    if not sp.issparse(E):
        E, fixed = centred(E, fixed)
    clusters = kmeans(
        E, k, rng, weights=weights, fixed=fixed, max_iter=max_iter, tol=tol, greedy=greedy
    )
    return representatives(
        clusters.labels, clusters.sq_dist, clusters.mass, np.arange(k), k, rng, weights=weights
    )
