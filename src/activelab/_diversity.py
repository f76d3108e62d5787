"""Batch-diversity selectors on embeddings: k-center, k-means++, cluster-then-pick,
facility location, and the greedy-sequential driver. Re-exported by :mod:`activelab.select`.

Memory stays O(N·d): distances to one centre at a time (a fused kernel), or to a block of
rows at a time (:mod:`activelab._distances`); never an N×N matrix, except the dense
similarity of facility location on pools of at most ``dense_max`` items. The k-means and
the D² sampling are :mod:`activelab._kmeans`.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from activelab._distances import (
    as_embedding,
    check_widths,
    k_nearest,
    nearest_centres,
    squared_distances,
    squared_norms,
)
from activelab._kmeans import Lower, cluster_representatives, d2_sampling, dense_lower
from activelab._parallel import map_row_blocks
from activelab._validation import RandomStateLike, check_k, check_random_state, check_scores

_JIT = {"cache": True, "nogil": True, "fastmath": True}


def _check_labeled(labeled: Any, pool: np.ndarray, name: str) -> np.ndarray | None:
    if labeled is None or not np.prod(np.shape(labeled)):
        return None
    array = as_embedding(labeled, name, what="the labeled embeddings")
    check_widths(pool, array, name)
    return array


def argmax_random(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest value; ties drawn at random.

    Parameters
    ----------
    values : array of shape (n,)
    rng : numpy.random.Generator
        Used only when the maximum is tied.

    Returns
    -------
    int

    Examples
    --------
    >>> argmax_random(np.array([1.0, 3.0, 2.0]), np.random.default_rng(0))
    1
    """
    ties = np.flatnonzero(values == values.max())
    return int(ties[0] if ties.shape[0] == 1 else rng.choice(ties))


@numba.njit(**_JIT)
def _update_min_distance(emb, norms, centre, centre_norm, min_dist, tie_keys):  # pragma: no cover
    """min_dist = min(min_dist, |x - centre|²) in one pass; return the block's argmax.

    Chosen points carry ``min_dist = -1`` and are never returned while another exists.
    Equal maxima go to the larger ``tie_keys`` entry (random, drawn once by the caller).
    """
    n, d = emb.shape
    best = -1
    best_value = -np.inf
    best_key = -1.0
    for i in range(n):
        current = min_dist[i]
        if current >= 0.0:
            dot = 0.0
            for j in range(d):
                dot += emb[i, j] * centre[j]
            distance = max(norms[i] + centre_norm - 2.0 * dot, 0.0)
            if distance < current:
                current = distance
                min_dist[i] = distance
        if current > best_value or (current == best_value and tie_keys[i] > best_key):
            best = i
            best_value = current
            best_key = tie_keys[i]
    return best


def k_center_greedy(
    emb: Any, k: int, labeled: Any = None, random_state: RandomStateLike = None
) -> np.ndarray:
    r"""Core-set selection by greedy k-center: each pick is the point farthest from all centres.

    Starting from the labeled points as centres (or one random point when there are
    none), repeatedly add the pool point whose distance to its nearest centre is largest.
    This is the greedy 2-approximation of the k-center problem
    :math:`\min_S \max_i \min_{j \in S} \lVert x_i - x_j \rVert`.

    Each pick costs one fused pass over the float32 embeddings (distance to the new
    centre, running minimum and argmax together): O(N·k·d) time, O(N·d) memory.

    Parameters
    ----------
    emb : array-like of shape (n, d)
        Pool embeddings.
    k : int
        Batch size.
    labeled : array-like of shape (m, d), optional
        Embeddings of the labeled set, the initial centres.
    random_state : int, numpy.random.Generator or None
        First centre when nothing is labeled, and ties.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In pick order.

    References
    ----------
    Sener & Savarese (2018), "Active learning for convolutional neural networks: a
    core-set approach", ICLR. Gonzalez (1985), "Clustering to minimize the maximum
    intercluster distance", Theoretical Computer Science.

    Examples
    --------
    >>> k_center_greedy([[0.0], [0.1], [5.0], [10.0]], 2, labeled=[[0.0]]).tolist()
    [3, 2]
    """
    points = as_embedding(emb, "k_center_greedy")
    k = check_k(k, points.shape[0])
    rng = check_random_state(random_state)
    centres = _check_labeled(labeled, points, "k_center_greedy")
    norms = squared_norms(points)
    tie_keys = rng.random(points.shape[0])
    picks = np.empty(k, dtype=np.int64)
    if centres is None:
        min_dist = np.full(points.shape[0], np.inf, dtype=np.float32)
        first = int(rng.integers(points.shape[0]))
    else:
        min_dist = nearest_centres(points, norms, centres)[1]
        best = np.flatnonzero(min_dist == min_dist.max())
        first = int(best[np.argmax(tie_keys[best])])
    picks[0] = first
    for step in range(1, k):
        chosen = picks[step - 1]
        min_dist[chosen] = -1.0
        centre, centre_norm = points[chosen], norms[chosen]

        def block(start: int, stop: int, centre=centre, centre_norm=centre_norm) -> int:
            return start + _update_min_distance(
                points[start:stop],
                norms[start:stop],
                centre,
                centre_norm,
                min_dist[start:stop],
                tie_keys[start:stop],
            )

        bests = map_row_blocks(block, points.shape[0])
        # The block maxima compete with the same rule as inside a block.
        picks[step] = max(bests, key=lambda i: (min_dist[i], tie_keys[i]))
    return picks


def kmeans_pp(
    emb: Any, k: int, first: str = "random", random_state: RandomStateLike = None
) -> np.ndarray:
    r"""k-means++ seeding (D² sampling): each new point drawn with probability ∝ D(x)².

    :math:`D(x)` is the distance to the nearest point chosen so far. A point already
    chosen has :math:`D = 0` and is never drawn again; once every remaining point
    coincides with a chosen one, the rest are drawn uniformly from the unchosen points.

    Parameters
    ----------
    emb : array-like of shape (n, d)
    k : int
    first : {"random", "max_norm"}
        The first point: uniform at random (Arthur & Vassilvitskii), or the largest
        norm (as BADGE's reference code does for gradient embeddings).
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In draw order.

    References
    ----------
    Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding", SODA.
    Ash, Zhang, Krishnamurthy, Langford & Agarwal (2020), "Deep batch active learning by
    diverse, uncertain gradient lower bounds", ICLR.

    Examples
    --------
    >>> kmeans_pp([[0.0], [0.1], [9.0]], 2, first="max_norm", random_state=0)[0]
    np.int64(2)
    """
    points = as_embedding(emb, "kmeans_pp")
    k = check_k(k, points.shape[0])
    rng = check_random_state(random_state)
    norms = squared_norms(points)
    return _d2_batch(dense_lower(points, norms), norms, k, first, rng)


def _d2_batch(
    lower: Lower, norms: np.ndarray, k: int, first: str, rng: np.random.Generator
) -> np.ndarray:
    """:func:`kmeans_pp` on any distances (BADGE's factored gradient embeddings)."""
    if first == "max_norm":
        start = int(rng.choice(np.flatnonzero(norms == norms.max())))
    elif first == "random":
        start = int(rng.integers(norms.shape[0]))
    else:
        raise ValueError(f"first must be 'random' or 'max_norm'; got {first!r}.")
    return d2_sampling(lower, np.full(norms.shape[0], np.inf), k, rng, first=start)


def cluster_then_pick(
    utilities: Any,
    emb: Any,
    k: int,
    prefilter: int = 10,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Diverse mini-batch: weighted k-means over the most informative candidates.

    Keep the ``prefilter · k`` items of highest utility, cluster them into ``k`` groups
    with k-means weighted by utility (:func:`activelab._kmeans.kmeans`, greedy k-means++
    seeded from ``random_state``), and take from each cluster the member nearest its
    centre; when there are fewer distinct candidates than ``k``, the rest of the batch is
    the most useful remaining candidates. The batch is returned by descending utility.

    Parameters
    ----------
    utilities : array of shape (n,)
        Informativeness; k-means weights, so they must be non-negative.
    emb : array-like of shape (n, d)
    k : int
    prefilter : int
        Candidates kept per batch slot (β in the paper, 10 by default).
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64

    References
    ----------
    Zhdanov (2019), "Diverse mini-batch active learning", arXiv:1901.05954.

    Examples
    --------
    >>> u = [0.9, 0.8, 0.1, 0.7]
    >>> sorted(cluster_then_pick(u, [[0.0], [0.01], [5.0], [9.0]], 2, random_state=0).tolist())
    [0, 3]
    """
    values = check_scores(utilities, name="utilities")
    points = as_embedding(emb, "cluster_then_pick")
    if points.shape[0] != values.shape[0]:
        raise ValueError(
            f"cluster_then_pick got {values.shape[0]} utilities for {points.shape[0]} embeddings."
        )
    if (values < 0).any():
        raise ValueError("cluster_then_pick needs non-negative utilities (k-means weights).")
    k = check_k(k, points.shape[0])
    if prefilter < 1:
        raise ValueError(f"prefilter must be at least 1; got {prefilter}.")
    rng = check_random_state(random_state)
    from activelab.select import top_k

    candidates = top_k(values, min(points.shape[0], prefilter * k), rng)
    if candidates.shape[0] == k:
        return candidates
    weights = values[candidates]
    if not weights.sum() > 0:
        weights = np.ones_like(weights)
    chosen = cluster_representatives(points[candidates], k, rng, weights=weights, greedy=True)
    picks = candidates[chosen]
    order = np.lexsort((rng.random(k), -values[picks]))
    return picks[order].astype(np.int64)


def greedy_sequential(
    score_fn: Callable[[np.ndarray], np.ndarray],
    k: int,
    n: int,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Pick one item, let the scores react to it, repeat ``k`` times.

    For strategies whose score depends on what the batch already holds: ``score_fn``
    receives the indices chosen so far and returns the utility of every item. Chosen
    items are never picked again; ties go at random.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(chosen: ndarray of int) -> ndarray of shape (n,)``.
    k : int
    n : int
        Pool size.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64

    Examples
    --------
    >>> base = np.array([3.0, 2.9, 1.0])
    >>> greedy_sequential(lambda chosen: base - 2.5 * np.isin([0, 1, 1], chosen), 2, 3).tolist()
    [0, 1]
    """
    k = check_k(k, n)
    rng = check_random_state(random_state)
    chosen: list[int] = []
    for _ in range(k):
        scores = np.array(score_fn(np.asarray(chosen, dtype=np.int64)), dtype=np.float64)
        if scores.shape != (n,):
            raise ValueError(f"score_fn must return {n} scores; got shape {scores.shape}.")
        scores[chosen] = -np.inf
        chosen.append(argmax_random(scores, rng))
    return np.asarray(chosen, dtype=np.int64)


def _median_sq_distance(points: np.ndarray, rng: np.random.Generator) -> float:
    sample = points[rng.choice(points.shape[0], min(points.shape[0], 1000), replace=False)]
    norms = squared_norms(sample)
    distances = squared_distances(sample, norms, sample, norms)
    upper = distances[np.triu_indices(sample.shape[0], 1)]
    positive = upper[upper > 1e-12]
    return float(np.median(positive)) if positive.size else 1.0


def facility_location(
    emb: Any,
    k: int,
    labeled: Any = None,
    n_neighbors: int = 50,
    dense_max: int = 4096,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    r"""Submodular facility location by lazy greedy: pick the batch that best covers the pool.

    Maximises :math:`F(S) = \sum_i \max_{j \in S \cup L} s(x_i, x_j)` with the Gaussian
    similarity :math:`s = \exp(-\lVert x_i - x_j \rVert^2 / \sigma^2)`, :math:`\sigma^2` the
    median squared distance (on a sample of 1,000 points). Labeled points ``L`` cover
    from the start. Lazy greedy (Minoux 1978) keeps stale gains in a priority queue and
    re-evaluates only the top; greedy reaches at least :math:`1 - 1/e` of the optimum
    (Nemhauser, Wolsey & Fisher 1978).

    On pools above ``dense_max`` items the similarity is sparse: each point keeps only
    its ``n_neighbors`` most similar pool points (exact k-nearest neighbours, computed in
    chunks), so memory is O(N·n_neighbors). Coverage then counts only those neighbours,
    which changes gains only by similarities below the neighbourhood's smallest.

    Parameters
    ----------
    emb : array-like of shape (n, d)
    k : int
    labeled : array-like of shape (m, d), optional
    n_neighbors : int
        Neighbours kept per point on large pools.
    dense_max : int
        Largest pool that uses the dense similarity.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In pick order.

    References
    ----------
    Nemhauser, Wolsey & Fisher (1978), "An analysis of approximations for maximizing
    submodular set functions", Mathematical Programming. Minoux (1978), "Accelerated
    greedy algorithms for maximizing submodular set functions". Wei, Iyer & Bilmes (2015),
    "Submodularity in data subset selection and active learning", ICML.

    Examples
    --------
    >>> sorted(facility_location([[0.0], [0.1], [5.0], [5.1]], 2, random_state=0).tolist()) in (
    ...     [0, 2], [0, 3], [1, 2], [1, 3])
    True
    """
    points = as_embedding(emb, "facility_location")
    k = check_k(k, points.shape[0])
    rng = check_random_state(random_state)
    labeled_points = _check_labeled(labeled, points, "facility_location")
    n = points.shape[0]
    scale = _median_sq_distance(points, rng)
    norms = squared_norms(points)
    coverage = np.zeros(n, dtype=np.float64)
    if labeled_points is not None:
        nearest = nearest_centres(points, norms, labeled_points)[1]
        coverage = np.exp(-nearest / scale).astype(np.float64)
    if n <= dense_max:
        distances = squared_distances(points, norms, points, norms)
        similarity = np.exp(-distances / np.float32(scale))

        everyone = np.arange(n)

        def column(j: int) -> tuple[np.ndarray, np.ndarray]:
            return everyone, similarity[j]  # symmetric: row j is column j, contiguous

        def gains(columns: np.ndarray) -> np.ndarray:
            covered = coverage[None, :].astype(np.float32)
            return np.maximum(similarity[columns] - covered, 0.0).sum(axis=1, dtype=np.float64)

    else:
        neighbours, sq_dist = k_nearest(points, norms, points, norms, min(n_neighbors, n))
        values = np.exp(-sq_dist / scale).astype(np.float32)
        # Column j of the sparse similarity: the points i that list j among their neighbours.
        flat_columns = neighbours.ravel()
        order = np.argsort(flat_columns, kind="stable")
        sorted_columns = flat_columns[order]
        flat_rows = np.repeat(np.arange(n), neighbours.shape[1])[order]
        flat_values = values.ravel()[order].astype(np.float64)
        starts = np.searchsorted(sorted_columns, np.arange(n + 1))

        def column(j: int) -> tuple[np.ndarray, np.ndarray]:
            return flat_rows[starts[j] : starts[j + 1]], flat_values[starts[j] : starts[j + 1]]

        def gains(columns: np.ndarray) -> np.ndarray:
            if columns.shape[0] == n:
                positive = np.maximum(flat_values - coverage[flat_rows], 0.0)
                return np.bincount(sorted_columns, weights=positive, minlength=n)
            return np.array(
                [float(np.maximum(v - coverage[r], 0.0).sum()) for r, v in map(column, columns)]
            )

    # Lazy greedy with batched re-evaluation: gains only shrink as coverage grows, so a
    # stale gain is an upper bound. Re-evaluate the top `batch` stale entries at once.
    tie_keys = rng.random(n)
    initial = gains(np.arange(n))
    heap = list(zip((-initial).tolist(), (-tie_keys).tolist(), range(n), [0] * n, strict=True))
    heapq.heapify(heap)
    picks: list[int] = []
    batch = 64
    while len(picks) < k:
        if heap[0][3] == len(picks):  # fresh since the last pick: it is the best
            _, _, j, _ = heapq.heappop(heap)
            picks.append(j)
            who, sims = column(j)
            coverage[who] = np.maximum(coverage[who], sims)
            continue
        stale = [heapq.heappop(heap) for _ in range(min(batch, len(heap)))]
        columns = np.array(sorted(entry[2] for entry in stale), dtype=np.int64)
        fresh = dict(zip(columns.tolist(), gains(columns).tolist(), strict=True))
        for _, key, j, _ in stale:
            heapq.heappush(heap, (-fresh[j], key, j, len(picks)))
    return np.asarray(picks, dtype=np.int64)
