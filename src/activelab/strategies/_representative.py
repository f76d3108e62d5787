"""Representative (cold-start) strategies: k-means, TypiClust, ProbCover and MaxHerding.

They need only embeddings, so they run before any label exists (``model=None``: the
numeric features of the pool) and afterwards on ``model.embed``. Each takes the labeled
set into account the way its paper does.

How they stay fast and small
----------------------------
- Embeddings are centred on the pool mean and held in float32; squared distances come
  from BLAS as ``|a|² + |b|² − 2 a·b`` in row blocks of about 16 MiB, so no ``N × N``
  matrix ever exists.
- k-means is our own Lloyd iteration (k-means++ seeding, float32 BLAS assignment, a
  compiled kernel for the centre sums): the same objective and stopping rule as
  :class:`sklearn.cluster.KMeans`, at a fraction of its time.
- ProbCover keeps only the edges of its δ-ball graph (a sparse symmetric adjacency built
  from half the distance blocks) and runs the greedy cover in a compiled kernel.
- MaxHerding updates the coverage gains incrementally: a new pick changes only the
  terms of the points it now covers best, so each step costs one block pass over those
  points instead of one over the whole pool.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, ClassVar, Literal, NamedTuple

import numba
import numpy as np
import scipy.sparse as sp

from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.models import Features, ModelAdapter
from activelab.strategies._base import Strategy

__all__ = ["KMeansSampling", "MaxHerding", "ProbCover", "TypiClust", "cold_start"]

_JIT = {"cache": True, "nogil": True}

#: Bytes of one block of distances (or products) held at a time.
_BLOCK_BYTES = 1 << 24
#: Largest dense embedding we build from sparse features.
_MAX_DENSE_BYTES = 1 << 31
#: Largest number of (directed) edges ProbCover stores; a pair costs about 16 bytes
#: while the graph is built, so this caps it near 0.8 GB.
_MAX_EDGES = 100_000_000


# ---------------------------------------------------------------------------------------
# Embeddings and blocked distances
# ---------------------------------------------------------------------------------------


def _embedding(model: ModelAdapter, X: Any, who: str, what: str) -> np.ndarray:
    """``model.embed(X)`` as a finite 2-D float array (float32 or float64)."""
    values = model.embed(X)
    if sp.issparse(values):
        n, d = values.shape
        if n * d * 4 > _MAX_DENSE_BYTES:
            raise ValueError(
                f"{who} works on dense embeddings; the {n} x {d} sparse features of {what} "
                f"would take {n * d * 4 / 2**30:.1f} GiB. Reduce them first, e.g. with "
                "TruncatedSVD(n_components=100) as a Pipeline step before the classifier."
            )
        values = values.toarray()
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"{who} needs embeddings of shape (n, d) for {what}; got {array.shape}.")
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise ValueError(
            f"{who}: row {row} of the embeddings of {what} contains NaN or inf; impute or "
            "drop missing features before querying."
        )
    return array


def _l2_normalize(array: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", array, array, dtype=np.float64))
    norms[norms == 0] = 1.0  # zero rows stay zero, as sklearn.preprocessing.normalize does
    return array / norms[:, None]


def _prepare(
    model: ModelAdapter,
    X_pool: Any,
    X_labeled: Any,
    who: str,
    normalize: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pool and labeled embeddings, centred on the pool mean, as C-contiguous float32.

    Centring changes no distance and keeps ``|a|² + |b|² − 2 a·b`` accurate in float32.
    """
    pool = _embedding(model, X_pool, who, "X_pool")
    labeled = None
    if X_labeled is not None and n_rows(X_labeled) > 0:
        labeled = _embedding(model, X_labeled, who, "X_labeled")
        if labeled.shape[1] != pool.shape[1]:
            raise ValueError(
                f"{who}: X_labeled embeds into {labeled.shape[1]} features but X_pool into "
                f"{pool.shape[1]}; pass labeled and pool items with the same columns."
            )
    if normalize:
        pool = _l2_normalize(pool)
        labeled = None if labeled is None else _l2_normalize(labeled)
    center = pool.mean(axis=0, dtype=np.float64)

    def centred(array: np.ndarray) -> np.ndarray:
        out = np.empty(array.shape, dtype=np.float32)
        np.subtract(array, center, out=out, casting="same_kind")
        return out

    return centred(pool), None if labeled is None else centred(labeled)


def _sq_norms(Z: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", Z, Z)


def _block_rows(n_columns: int, itemsize: int = 4) -> int:
    """Rows per block so that a block of ``n_columns`` values stays near 16 MiB."""
    return max(1, _BLOCK_BYTES // (itemsize * max(1, n_columns)))


def _sq_distances(A: np.ndarray, A_sq: np.ndarray, B: np.ndarray, B_sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of A and B (BLAS), clipped at 0."""
    out = A @ B.T
    out *= -2.0
    out += A_sq[:, None]
    out += B_sq[None, :]
    np.maximum(out, 0.0, out=out)
    return out


def _min_sq_distances(Z: np.ndarray, Z_sq: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each row of Z, the squared distance to its nearest row of ``others``."""
    others_sq = _sq_norms(others)
    nearest = np.empty(Z.shape[0], dtype=np.float32)
    rows = _block_rows(others.shape[0])
    for start in range(0, Z.shape[0], rows):
        stop = min(start + rows, Z.shape[0])
        block = _sq_distances(Z[start:stop], Z_sq[start:stop], others, others_sq)
        nearest[start:stop] = block.min(axis=1)
    return nearest


def _argmax_random(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest value; ties drawn at random."""
    best = values.max()
    ties = np.flatnonzero(values == best)
    return int(ties[0] if ties.shape[0] == 1 else rng.choice(ties))


# ---------------------------------------------------------------------------------------
# k-means
# ---------------------------------------------------------------------------------------


@numba.njit(**_JIT)
def _center_sums(Z, labels, sums, counts):  # pragma: no cover - compiled
    n, d = Z.shape
    for i in range(n):
        c = labels[i]
        counts[c] += 1
        for j in range(d):
            sums[c, j] += Z[i, j]


class _Clusters(NamedTuple):
    labels: np.ndarray  # (n,) int64, index into centers
    sq_dist: np.ndarray  # (n,) float32, squared distance to the assigned centre
    centers: np.ndarray  # (n_free + n_fixed, d) float32; fixed centres last
    sizes: np.ndarray  # (n_free + n_fixed,) int64


def _augment(Z: np.ndarray) -> np.ndarray:
    """``[Z, 1]``: one GEMM with ``[C, −|c|²/2]`` then gives ``z·c − |c|²/2`` directly."""
    out = np.empty((Z.shape[0], Z.shape[1] + 1), dtype=np.float32)
    out[:, :-1] = Z
    out[:, -1] = 1.0
    return out


def _assign(Z_aug, Z_sq, centers, labels, sq_dist) -> int:
    """Assign every row to its nearest centre, blockwise; returns how many labels changed.

    ``argmin |z − c|² = argmax (z·c − |c|²/2)``, one GEMM and one pass per block.
    """
    centers_aug = np.empty((centers.shape[0], centers.shape[1] + 1), dtype=np.float32)
    centers_aug[:, :-1] = centers
    centers_aug[:, -1] = -0.5 * _sq_norms(centers)
    rows = _block_rows(centers.shape[0])
    changed = 0
    for start in range(0, Z_aug.shape[0], rows):
        stop = min(start + rows, Z_aug.shape[0])
        scores = Z_aug[start:stop] @ centers_aug.T
        nearest = scores.argmax(axis=1)
        best = scores[np.arange(stop - start), nearest]
        changed += int(np.count_nonzero(nearest != labels[start:stop]))
        labels[start:stop] = nearest
        np.maximum(Z_sq[start:stop] - 2.0 * best, 0.0, out=sq_dist[start:stop])
    return changed


@numba.njit(cache=True, nogil=True, fastmath=True)
def _seed_step(Z, Z_sq, seed, closest, cumulative):  # pragma: no cover - compiled
    """Lower ``closest`` to the squared distance from the new ``seed`` row; running sums."""
    n, d = Z.shape
    total = 0.0
    for i in range(n):
        dot = np.float32(0.0)
        for j in range(d):
            dot += Z[i, j] * Z[seed, j]
        value = max(Z_sq[i] + Z_sq[seed] - 2.0 * dot, 0.0)
        if value < closest[i]:
            closest[i] = value
        total += closest[i]
        cumulative[i] = total
    return total


def _kmeans_plusplus(
    Z: np.ndarray,
    Z_sq: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    closest_sq: np.ndarray | None,
) -> np.ndarray:
    """k-means++ seeding (D² sampling; Arthur & Vassilvitskii 2007), one trial per centre.

    ``closest_sq`` holds squared distances to centres fixed in advance (or None). When
    every remaining distance is zero (duplicates), the next seed is drawn uniformly.
    """
    n = Z.shape[0]
    closest = np.full(n, np.inf) if closest_sq is None else closest_sq.astype(np.float64)
    cumulative = np.cumsum(closest) if closest_sq is not None else np.zeros(n)
    total = float(cumulative[-1]) if closest_sq is not None else 0.0
    seeds = np.empty(n_clusters, dtype=np.int64)
    for c in range(n_clusters):
        if total > 0.0:
            target = rng.random() * total
            seed = min(int(np.searchsorted(cumulative, target, side="right")), n - 1)
        else:
            seed = int(rng.integers(n))
        seeds[c] = seed
        total = _seed_step(Z, Z_sq, seed, closest, cumulative)
    return Z[seeds]


def _kmeans(
    Z: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    fixed: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
) -> _Clusters:
    """Lloyd's k-means with k-means++ seeding, float32 BLAS distances, bounded memory.

    Minimises the same objective as :class:`sklearn.cluster.KMeans` (one initialisation,
    as its ``n_init="auto"``) and stops by the same rule: no assignment changed, or the
    squared centre shift fell below ``tol`` times the mean feature variance. Empty
    clusters are moved to the points farthest from their centres. ``fixed`` centres (the
    labeled set, say) take part in the assignment but never move. The returned labels
    and distances belong to the returned centres.
    """
    n, d = Z.shape
    Z_sq = _sq_norms(Z)
    n_fixed = 0 if fixed is None else fixed.shape[0]
    n_all = n_clusters + n_fixed
    closest = None if fixed is None else _min_sq_distances(Z, Z_sq, fixed)
    free = _kmeans_plusplus(Z, Z_sq, n_clusters, rng, closest)
    centers = free if fixed is None else np.concatenate([free, fixed.astype(np.float32)])
    mean = Z.mean(axis=0, dtype=np.float64)
    variance = float(Z_sq.sum(dtype=np.float64) / n - mean @ mean) / d
    tol_abs = tol * max(variance, 0.0)
    Z_aug = _augment(Z)
    labels = np.full(n, -1, dtype=np.int64)
    sq_dist = np.empty(n, dtype=np.float32)
    _assign(Z_aug, Z_sq, centers, labels, sq_dist)
    for _ in range(max_iter):
        sums = np.zeros((n_all, d), dtype=np.float64)
        counts = np.zeros(n_all, dtype=np.int64)
        _center_sums(Z, labels, sums, counts)
        new = centers[:n_clusters].copy()
        filled = counts[:n_clusters] > 0
        new[filled] = sums[:n_clusters][filled] / counts[:n_clusters][filled, None]
        empty = np.flatnonzero(~filled)
        if empty.shape[0]:
            far = np.argpartition(-sq_dist, empty.shape[0] - 1)[: empty.shape[0]]
            far = far[sq_dist[far] > 0]
            new[empty[: far.shape[0]]] = Z[far]
        shift = float(((new - centers[:n_clusters]).astype(np.float64) ** 2).sum())
        centers[:n_clusters] = new
        changed = _assign(Z_aug, Z_sq, centers, labels, sq_dist)
        if changed == 0 or shift <= tol_abs:
            break
    sizes = np.bincount(labels, minlength=n_all)
    return _Clusters(labels, sq_dist, centers, sizes)


def _representatives(
    labels: np.ndarray,
    sq_dist: np.ndarray,
    sizes: np.ndarray,
    clusters: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The member nearest its centre of each of ``clusters``, largest cluster first.

    Ties (equal distances, equal sizes) are drawn at random. Clusters without members
    give nothing; the batch is then filled with random other items.
    """
    n = labels.shape[0]
    key = rng.random(n)
    order = np.lexsort((key, sq_dist, labels))
    sorted_labels = labels[order]
    first = np.ones(n, dtype=bool)
    first[1:] = sorted_labels[1:] != sorted_labels[:-1]
    nearest = np.full(sizes.shape[0], -1, dtype=np.int64)
    nearest[sorted_labels[first]] = order[first]
    clusters = clusters[sizes[clusters] > 0]
    clusters = clusters[np.lexsort((rng.random(clusters.shape[0]), -sizes[clusters]))]
    picks = nearest[clusters][:k]
    if picks.shape[0] < k:
        rest = np.setdiff1d(np.arange(n), picks)
        picks = np.concatenate([picks, rng.choice(rest, k - picks.shape[0], replace=False)])
    return picks.astype(np.int64)


def _typicality(members: np.ndarray, n_neighbors: int) -> np.ndarray:
    """TypiClust's typicality of each row: 1 / mean distance to its K nearest other rows.

    ``K = min(n_neighbors, m // 2)`` (at least 1) for ``m`` rows, as the authors' code
    does for small clusters. Computed in float64 row blocks against all ``m`` rows (so
    ``O(m²·d)`` time but bounded memory). Exact duplicates get ``inf``.
    """
    m = members.shape[0]
    if m == 1:
        return np.ones(1)
    neighbors = max(1, min(n_neighbors, m // 2))
    rows = members.astype(np.float64)
    rows -= rows.mean(axis=0)
    rows_sq = _sq_norms(rows)
    typicality = np.empty(m, dtype=np.float64)
    step = _block_rows(m, itemsize=8)
    for start in range(0, m, step):
        stop = min(start + step, m)
        block = _sq_distances(rows[start:stop], rows_sq[start:stop], rows, rows_sq)
        block[np.arange(stop - start), np.arange(start, stop)] = np.inf  # not its own neighbour
        nearest = np.partition(block, neighbors - 1, axis=1)[:, :neighbors]
        mean_distance = np.sqrt(nearest).mean(axis=1)
        with np.errstate(divide="ignore"):
            typicality[start:stop] = 1.0 / mean_distance
    return typicality


# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------


class KMeansSampling(Strategy):
    r"""k-means of the pool embeddings; query the item nearest each centre.

    Clusters the pool into ``k`` clusters with k-means (Lloyd's algorithm, k-means++
    seeding, minimising :math:`\sum_i \min_c \lVert z_i - \mu_c \rVert^2`) and returns,
    for each cluster, the member nearest its centre, largest cluster first (ties in
    size, and in distance, at random).

    With a labeled set (and ``use_labeled=True``) the labeled embeddings are extra
    centres that stay fixed: pool items near a labeled item are already represented,
    and the ``k`` free centres move to the regions the labeled set does not reach. With
    ``use_labeled=False`` the labeled set is ignored (the classic k-means baseline).

    Parameters
    ----------
    use_labeled : bool, default=True
        Hold the labeled embeddings fixed as centres.
    max_iter : int, default=300
        Lloyd iterations at most.
    tol : float, default=1e-4
        Stop when the squared centre shift falls below ``tol`` times the mean feature
        variance (scikit-learn's rule), or when no assignment changes.

    Returns
    -------
    :meth:`query` returns ``k`` unique int64 pool indices, largest cluster first.

    Notes
    -----
    Our own float32 Lloyd iteration (BLAS distances in bounded blocks) replaces
    :class:`sklearn.cluster.KMeans`: same objective and stopping rule, a fraction of the
    time. ``O(N·k·d)`` per iteration, ``O(N·d)`` memory. A cluster's representative is
    its member nearest the centre; this is the pool item nearest the centre unless an
    item of a neighbouring cluster happens to lie closer to it.

    References
    ----------
    Lloyd (1982), "Least squares quantization in PCM", IEEE Trans. Inf. Theory.
    Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding", SODA.
    Zhdanov (2019), "Diverse mini-batch active learning", arXiv:1901.05954 (k-means
    representatives as a batch).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> sorted((KMeansSampling().query(None, X, 2, random_state=0) // 2).tolist())
    [0, 1]
    """

    name: ClassVar[str] = "kmeans"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "item nearest each k-means centre, largest cluster first"
    reference: ClassVar[str] = "Lloyd 1982; Arthur & Vassilvitskii 2007"

    def __init__(self, use_labeled: bool = True, max_iter: int = 300, tol: float = 1e-4) -> None:
        self.use_labeled = use_labeled
        self.max_iter = max_iter
        self.tol = tol

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        _check_int(self.max_iter, "max_iter", self.name, minimum=1)
        if not (isinstance(self.tol, numbers.Real) and self.tol >= 0):
            raise ValueError(f"kmeans: tol must be a non-negative number; got {self.tol!r}.")
        pool, labeled = _prepare(model, X_pool, X_labeled if self.use_labeled else None, self.name)
        clusters = _kmeans(pool, k, rng, fixed=labeled, max_iter=self.max_iter, tol=self.tol)
        return _representatives(
            clusters.labels, clusters.sq_dist, clusters.sizes, np.arange(k), k, rng
        )


class TypiClust(Strategy):
    r"""TypiClust: the most typical item of each of the largest uncovered clusters.

    Clusters labeled and pool embeddings together into
    :math:`\min(|L| + k, \text{max\_clusters})` clusters with k-means. Clusters are
    visited by the number of labeled items they hold (uncovered clusters, with none,
    first), then by size (largest first; ties at random); clusters with at most
    ``min_cluster_size`` items come last. From each visited cluster the strategy takes
    its most typical pool item,

    .. math::
        \text{typicality}(x) = \Big(\frac{1}{K} \sum_{x_i \in \text{K-NN}(x)}
        \lVert x - x_i \rVert_2\Big)^{-1},

    the K nearest neighbours taken among the cluster's remaining pool items, with
    ``K = min(n_neighbors, size // 2)``. When ``k`` exceeds the number of clusters the
    visit order repeats, as in the authors' code.

    Parameters
    ----------
    n_neighbors : int, default=20
        K of the typicality (the paper's value).
    max_clusters : int, default=500
        Cap on the number of clusters (the paper's value).
    min_cluster_size : int, default=5
        Clusters with at most this many items are visited last (the authors' code drops
        them).

    Returns
    -------
    :meth:`query` returns ``k`` unique int64 pool indices in visit order.

    Notes
    -----
    Differences from scikit-activeml's ``TypiClust``: its default ``k`` (K) is 5, not the
    paper's 20; it uses ``K = min(k, size − 1)``; it has no cluster cap and no minimum
    size; and once every uncovered cluster has given an item it picks the rest at
    random (we keep visiting clusters in order, least-labeled first). With K = 20,
    clusters of more than 40 items and ``|L| + k ≤ 500`` both compute the same thing.
    The authors' code averages squared distances (faiss ``IndexFlatL2``); we follow the
    paper's formula above, as scikit-activeml does. Clustering is our float32 Lloyd
    k-means (see :class:`KMeansSampling`), where the authors use scikit-learn's KMeans
    (MiniBatchKMeans above 50 clusters). Typicality costs ``O(m²·d)`` per visited
    cluster of ``m`` items, in bounded blocks.

    References
    ----------
    Hacohen, Dekel & Weinshall (2022), "Active learning on a budget: opposite strategies
    suit high and low budgets", ICML.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(20, 1, (30, 2))])
    >>> sorted((TypiClust().query(None, X, 2, random_state=0) // 30).tolist())
    [0, 1]
    """

    name: ClassVar[str] = "typiclust"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "most typical item of the largest uncovered k-means clusters"
    reference: ClassVar[str] = "Hacohen, Dekel & Weinshall 2022"

    def __init__(
        self, n_neighbors: int = 20, max_clusters: int = 500, min_cluster_size: int = 5
    ) -> None:
        self.n_neighbors = n_neighbors
        self.max_clusters = max_clusters
        self.min_cluster_size = min_cluster_size

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        _check_int(self.n_neighbors, "n_neighbors", self.name, minimum=1)
        _check_int(self.max_clusters, "max_clusters", self.name, minimum=1)
        _check_int(self.min_cluster_size, "min_cluster_size", self.name, minimum=0)
        pool, labeled = _prepare(model, X_pool, X_labeled, self.name)
        n_labeled = 0 if labeled is None else labeled.shape[0]
        data = pool if labeled is None else np.concatenate([labeled, pool])
        n_clusters = min(n_labeled + k, self.max_clusters, data.shape[0])
        clusters = _kmeans(data, n_clusters, rng)
        return _typiclust_picks(
            pool,
            clusters.labels[n_labeled:],
            np.bincount(clusters.labels[:n_labeled], minlength=n_clusters),
            clusters.sizes,
            k,
            self.n_neighbors,
            self.min_cluster_size,
            rng,
        )


def _typiclust_picks(
    pool: np.ndarray,
    pool_labels: np.ndarray,
    labeled_counts: np.ndarray,
    sizes: np.ndarray,
    k: int,
    n_neighbors: int,
    min_cluster_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """TypiClust's visit order over clusters and most-typical pick in each."""
    n_clusters = sizes.shape[0]
    by_cluster = np.argsort(pool_labels, kind="stable")
    bounds = np.searchsorted(pool_labels[by_cluster], np.arange(n_clusters + 1))
    remaining = [by_cluster[bounds[c] : bounds[c + 1]] for c in range(n_clusters)]
    order = np.lexsort((rng.random(n_clusters), -sizes, labeled_counts, sizes <= min_cluster_size))
    order = order[[remaining[c].shape[0] > 0 for c in order]]
    picks = np.empty(k, dtype=np.int64)
    visit = 0
    for i in range(k):
        while remaining[order[visit % order.shape[0]]].shape[0] == 0:
            visit += 1
        cluster = order[visit % order.shape[0]]
        visit += 1
        members = remaining[cluster]
        best = _argmax_random(_typicality(pool[members], n_neighbors), rng)
        picks[i] = members[best]
        remaining[cluster] = np.delete(members, best)
    return picks


class ProbCover(Strategy):
    r"""ProbCover: greedy maximum coverage of δ-balls around the queried items.

    Builds the graph whose edges join embeddings closer than δ,
    :math:`\lVert z_i - z_j \rVert < \delta`, and greedily queries the pool item whose ball
    holds the most not-yet-covered pool items. Items within δ of a labeled item start
    covered; after each pick its ball's items become covered. Once everything is
    covered the remaining picks are random (ties are always broken at random).

    With ``delta=None`` δ is the paper's purity choice: k-means with ``n_classes``
    clusters on labeled and pool embeddings gives pseudo-labels; a ball is pure when all
    items in it share its centre's pseudo-label; δ is the largest radius for which at
    least ``alpha`` of the balls are pure. It is computed exactly (the
    ``⌈alpha·n⌉``-th largest distance from an item to its nearest item of another
    cluster) rather than on a grid.

    Parameters
    ----------
    delta : float or None, default=None
        Ball radius in embedding units; None chooses it by purity.
    alpha : float, default=0.95
        Purity required when choosing δ (the paper's value).
    n_classes : int or None, default=None
        Clusters for the purity choice; None uses the number of distinct labels in
        ``y_labeled``, at least 2.

    Returns
    -------
    :meth:`query` returns ``k`` unique int64 pool indices in greedy order.

    Notes
    -----
    The graph is built from half the distance blocks (it is symmetric) and stored as a
    sparse adjacency holding only the edges closer than δ; memory is ``O(edges)``, and a
    δ so large that balls hold most of the pool raises a ValueError instead of filling
    memory. The greedy runs in a compiled kernel in ``O(k·N + edges)``.

    Differences from scikit-activeml's ``ProbCover``: it builds dense ``N × N`` distance
    and edge matrices, joins items at distance ``≤ δ`` (the authors' code, and we, use
    ``< δ``), chooses δ on a fixed grid ``0.2, 0.4, …, 2.0`` (made for unit-norm
    embeddings), and caches δ and the distances on the strategy object between queries.
    Given the same δ both compute the same greedy cover: the same coverage gain at every
    step, although tied gains (frequent, they are counts) may go to different items.

    References
    ----------
    Yehuda, Dekel, Hacohen & Weinshall (2022), "Active learning through a covering
    lens", NeurIPS.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> ProbCover(delta=0.15).query(None, X, 2, random_state=0).tolist()
    [1, 4]
    """

    name: ClassVar[str] = "probcover"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "greedy max coverage of δ-balls (δ by cluster purity)"
    reference: ClassVar[str] = "Yehuda, Dekel, Hacohen & Weinshall 2022"

    def __init__(
        self, delta: float | None = None, alpha: float = 0.95, n_classes: int | None = None
    ) -> None:
        self.delta = delta
        self.alpha = alpha
        self.n_classes = n_classes

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        pool, labeled = _prepare(model, X_pool, X_labeled, self.name)
        delta = self._delta(pool, labeled, y_labeled, rng)
        n = pool.shape[0]
        if not math.isfinite(delta):  # every ball holds everything: any order is greedy
            return rng.permutation(n)[:k].astype(np.int64)
        pool_sq = _sq_norms(pool)
        radius_sq = np.float32(delta) ** 2
        covered = np.zeros(n, dtype=np.bool_)
        if labeled is not None:
            covered = _min_sq_distances(pool, pool_sq, labeled) < radius_sq
        indptr, indices = _ball_graph(pool, pool_sq, radius_sq, self.name)
        gains = _uncovered_degrees(indptr, indices, covered)
        picks = np.empty(k, dtype=np.int64)
        _greedy_cover(indptr, indices, covered, gains, rng.permutation(n), picks)
        return picks

    def _delta(self, pool, labeled, y_labeled, rng) -> float:
        if self.delta is not None:
            delta = float(self.delta)
            if not delta > 0:  # also rejects NaN
                raise ValueError(
                    f"probcover: delta must be a positive radius; got {self.delta!r}. "
                    "Pass None to choose it by cluster purity."
                )
            return delta
        if not (isinstance(self.alpha, numbers.Real) and 0 < self.alpha < 1):
            raise ValueError(f"probcover: alpha must lie in (0, 1); got {self.alpha!r}.")
        n_classes = self.n_classes
        if n_classes is None:
            n_classes = 2 if y_labeled is None else max(2, np.unique(np.asarray(y_labeled)).size)
        _check_int(n_classes, "n_classes", self.name, minimum=2)
        data = pool if labeled is None else np.concatenate([labeled, pool])
        labels = _kmeans(data, min(n_classes, data.shape[0]), rng).labels
        return _purity_delta(data, labels, self.alpha)


def _purity_delta(Z: np.ndarray, labels: np.ndarray, alpha: float) -> float:
    """ProbCover's radius: the largest δ for which at least ``alpha`` of the δ-balls are pure.

    A ball ``{x' : |x − x'| < δ}`` is pure when every item in it has the pseudo-label
    (``labels``) of ``x``; so it is pure exactly when δ is at most the distance ``m(x)``
    from ``x`` to its nearest item of another cluster, and the answer is the
    ``⌈alpha·n⌉``-th largest ``m(x)``. ``inf`` when there is a single cluster.
    """
    n = Z.shape[0]
    Z_sq = _sq_norms(Z)
    nearest_other = np.empty(n, dtype=np.float32)
    rows = _block_rows(n)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        _nearest_other(
            Z[start:stop] @ Z.T,
            Z_sq[start:stop],
            Z_sq,
            labels[start:stop],
            labels,
            nearest_other[start:stop],
        )
    pure = math.ceil(alpha * n)
    return float(np.sqrt(np.partition(nearest_other, n - pure)[n - pure]))


@numba.njit(**_JIT)
def _nearest_other(products, row_sq, col_sq, row_labels, col_labels, out):  # pragma: no cover
    """Squared distance from each row to its nearest column of another label."""
    n_rows, n_cols = products.shape
    for i in range(n_rows):
        best = np.inf
        for j in range(n_cols):
            if col_labels[j] != row_labels[i]:
                value = row_sq[i] + col_sq[j] - 2.0 * products[i, j]
                if value < best:
                    best = value
        out[i] = max(best, 0.0)


@numba.njit(**_JIT)
def _close_pairs(products, row_sq, col_sq, radius_sq, sources, targets):  # pragma: no cover
    """Pairs (i, j), ``j > i``, of a block closer than the radius (upper triangle).

    ``products`` holds rows ``start:stop`` against items ``start:``, so row ``i`` and
    column ``i`` are the same item. Writes at most ``sources.shape[0]`` pairs and returns
    how many there are in all (the caller retries with more room when that is more).
    """
    n_rows, n_cols = products.shape
    count = 0
    capacity = sources.shape[0]
    for i in range(n_rows):
        for j in range(i + 1, n_cols):
            if row_sq[i] + col_sq[j] - 2.0 * products[i, j] < radius_sq:
                if count < capacity:
                    sources[count] = i
                    targets[count] = j
                count += 1
    return count


@numba.njit(**_JIT)
def _symmetric_csr(sources, targets, n):  # pragma: no cover - compiled
    """CSR (indptr, indices) of the undirected graph of the given edges plus self loops."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        indptr[i + 1] = 1
    for e in range(sources.shape[0]):
        indptr[sources[e] + 1] += 1
        indptr[targets[e] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    indices = np.empty(indptr[n], dtype=np.int32)
    for i in range(n):
        indices[fill[i]] = i
        fill[i] += 1
    for e in range(sources.shape[0]):
        a = sources[e]
        b = targets[e]
        indices[fill[a]] = b
        fill[a] += 1
        indices[fill[b]] = a
        fill[b] += 1
    return indptr, indices


def _ball_graph(
    Z: np.ndarray, Z_sq: np.ndarray, radius_sq: np.float32, who: str
) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric adjacency (CSR ``indptr``, ``indices``) of ``|z_i − z_j|² < radius_sq``.

    Each block of rows is compared with itself and the rows after it only (the graph is
    symmetric); every item is its own neighbour.
    """
    n = Z.shape[0]
    sources: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    n_edges = 0
    rows = _block_rows(n)
    capacity = 1 << 16
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        products = Z[start:stop] @ Z[start:].T
        while True:
            source = np.empty(capacity, dtype=np.int32)
            target = np.empty(capacity, dtype=np.int32)
            found = _close_pairs(
                products, Z_sq[start:stop], Z_sq[start:], radius_sq, source, target
            )
            if found <= capacity:
                break
            capacity = found
        n_edges += found
        if 2 * n_edges + n > _MAX_EDGES:
            raise ValueError(
                f"{who}: delta={math.sqrt(float(radius_sq)):.4g} joins more than "
                f"{_MAX_EDGES:,} pairs of the {n} pool items (balls hold most of the pool); "
                "pass a smaller delta, or delta=None to choose it by cluster purity."
            )
        sources.append(source[:found] + np.int32(start))
        targets.append(target[:found] + np.int32(start))
    empty = np.empty(0, dtype=np.int32)
    return _symmetric_csr(np.concatenate([empty, *sources]), np.concatenate([empty, *targets]), n)


@numba.njit(**_JIT)
def _uncovered_degrees(indptr, indices, covered):  # pragma: no cover - compiled
    n = indptr.shape[0] - 1
    degrees = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            if not covered[indices[p]]:
                degrees[i] += 1
    return degrees


@numba.njit(**_JIT)
def _greedy_cover(indptr, indices, covered, gains, priority, out):  # pragma: no cover
    """Greedy max coverage on a symmetric graph: pick the most uncovered neighbours.

    ``gains[i]`` counts the uncovered neighbours of ``i``; covering ``j`` lowers the
    gain of each neighbour of ``j`` (the graph is symmetric). Equal gains go to the
    higher ``priority`` (a random permutation), so ties are random, not by index.
    """
    n = gains.shape[0]
    picked = np.zeros(n, dtype=np.bool_)
    for step in range(out.shape[0]):
        best = -1
        for i in range(n):
            if picked[i]:
                continue
            if (
                best < 0
                or gains[i] > gains[best]
                or (gains[i] == gains[best] and priority[i] > priority[best])
            ):
                best = i
        picked[best] = True
        out[step] = best
        for p in range(indptr[best], indptr[best + 1]):
            j = indices[p]
            if not covered[j]:
                covered[j] = True
                for q in range(indptr[j], indptr[j + 1]):
                    gains[indices[q]] -= 1


class MaxHerding(Strategy):
    r"""MaxHerding: greedy maximisation of the kernel ("generalized") coverage.

    The generalized coverage of a labeled set :math:`L` over the pool is

    .. math::
        C_k(L) = \frac{1}{N} \sum_{j=1}^{N} \max_{x \in L} k(z_j, x),
        \qquad k(z, z') = \exp(-\gamma \lVert z - z' \rVert^2),

    and MaxHerding adds, one at a time, the pool item with the largest gain
    :math:`\sum_j \max(k(z_j, z_c) - m_j, 0)`, where :math:`m_j = \max_{x \in L} k(z_j, x)`
    is item j's current coverage (0 before any label). ProbCover is the special case of
    a top-hat kernel. Before any label the first pick is the kernel-density mode.

    Parameters
    ----------
    gamma : float or None, default=None
        Kernel width :math:`\gamma = 1 / (2\sigma^2)`; None means ``1 / n_features``
        (scikit-learn's RBF default, which scikit-activeml uses).
    normalize : bool, default=True
        Scale each embedding to unit length first (as scikit-activeml does), so the
        default γ suits embeddings of any scale.

    Returns
    -------
    :meth:`query` returns ``k`` unique int64 pool indices in greedy order.

    Notes
    -----
    Nothing ``N × N`` is stored. The gains are computed once in blocks, then kept up to
    date: a new pick ``s`` changes only the terms of the items it now covers best
    (``k(z_j, z_s) > m_j``, its "Voronoi cell" among the picks), so a step costs a block
    pass over those items only: about ``2 + ln k`` passes of ``N²·d`` for a batch of
    ``k``, instead of ``k``. Kernel values are float32, gains float64. scikit-activeml's
    ``MaxHerding`` computes the same utilities from a dense ``N × N`` float64 kernel
    matrix; the picks agree unless two gains tie (exact ties occur by symmetry, e.g. for
    an isolated pair of items; each library breaks them at random).

    References
    ----------
    Bae, Noh & Sutherland (2024), "Generalized coverage for more robust low-budget active
    learning", ECCV. (Greedy kernel herding of Chen, Welling & Smola 2010 on the coverage
    objective; Bae et al. 2025, "Uncertainty herding", weight it by uncertainty.)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99], [0.05, 1.0]])
    >>> sorted((MaxHerding(gamma=5.0).query(None, X, 2, random_state=0) >= 2).tolist())
    [False, True]
    """

    name: ClassVar[str] = "maxherding"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "greedy max of Gaussian-kernel coverage (kernel herding)"
    reference: ClassVar[str] = "Bae, Noh & Sutherland 2024"

    def __init__(self, gamma: float | None = None, normalize: bool = True) -> None:
        self.gamma = gamma
        self.normalize = normalize

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        pool, labeled = _prepare(model, X_pool, X_labeled, self.name, self.normalize)
        gamma = 1.0 / pool.shape[1] if self.gamma is None else float(self.gamma)
        if not (math.isfinite(gamma) and gamma > 0):
            raise ValueError(f"maxherding: gamma must be a positive number; got {self.gamma!r}.")
        return _max_herding(pool, labeled, k, np.float32(gamma), rng)


def _kernel_block(rows, rows_sq, Z, Z_sq, gamma) -> np.ndarray:
    """``exp(−γ |r − z|²)`` for a block of rows against all of Z, float32."""
    block = _sq_distances(rows, rows_sq, Z, Z_sq)
    block *= -gamma
    return np.exp(block, out=block)


def _max_herding(
    Z: np.ndarray,
    labeled: np.ndarray | None,
    k: int,
    gamma: np.float32,
    rng: np.random.Generator,
) -> np.ndarray:
    n = Z.shape[0]
    Z_sq = _sq_norms(Z)
    coverage = np.zeros(n, dtype=np.float32)  # m_j
    if labeled is not None:
        coverage = np.exp(-gamma * _min_sq_distances(Z, Z_sq, labeled))
    gains = np.zeros(n, dtype=np.float64)
    rows = _block_rows(n)
    for start in range(0, n, rows):  # gains_c = sum_j max(K_jc - m_j, 0)
        stop = min(start + rows, n)
        block = _kernel_block(Z[start:stop], Z_sq[start:stop], Z, Z_sq, gamma)
        block -= coverage[start:stop, None]
        np.maximum(block, 0.0, out=block)
        gains += block.sum(axis=0, dtype=np.float64)
    picks = np.empty(k, dtype=np.int64)
    available = np.ones(n, dtype=np.bool_)
    for step in range(k):
        pick = _argmax_random(np.where(available, gains, -np.inf), rng)
        picks[step] = pick
        available[pick] = False
        if step == k - 1:
            break
        to_pick = _kernel_block(Z[pick : pick + 1], Z_sq[pick : pick + 1], Z, Z_sq, gamma)[0]
        captured = np.flatnonzero(to_pick > coverage)
        for start in range(0, captured.shape[0], rows):
            items = captured[start : start + rows]
            old, new = coverage[items], to_pick[items]
            # Each captured item j lowers gain_c by max(K_jc − m_old, 0) − max(K_jc − m_new, 0).
            block = _kernel_block(Z[items], Z_sq[items], Z, Z_sq, gamma)
            block -= old[:, None]
            np.clip(block, 0.0, (new - old)[:, None], out=block)
            gains -= block.sum(axis=0, dtype=np.float64)
        coverage[captured] = to_pick[captured]
    return picks


# ---------------------------------------------------------------------------------------
# Cold start
# ---------------------------------------------------------------------------------------


def _check_int(value: Any, name: str, who: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{who}: {name} must be an int of at least {minimum}; got {value!r}.")


def _birch_tree(data: np.ndarray, threshold: float, cap: int) -> Any:
    """Birch's CF tree of ``data`` (no global step), given up once it passes ``cap`` leaves.

    ``partial_fit`` on consecutive chunks builds the same tree as one ``fit``.
    """
    from sklearn.cluster import Birch

    birch = Birch(threshold=threshold, n_clusters=None, compute_labels=False)
    for start in range(0, data.shape[0], 1000):
        birch.partial_fit(data[start : start + 1000])
        if birch.subcluster_centers_.shape[0] > cap:
            break
    return birch


def _birch_picks(Z: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Birch into k clusters; the member nearest each cluster's centroid, largest first.

    Birch's threshold (the largest subcluster radius) depends on the scale of the data,
    so it is searched, starting from the median nearest-neighbour distance in a sample:
    doubled while Birch makes more than ``max(2000, 4k)`` subclusters (its global
    agglomerative step costs their square), halved while it makes fewer than ``k``, and
    bisected once both are known.
    """
    n = Z.shape[0]
    data = Z.astype(np.float64)
    sample = data[rng.choice(n, size=min(n, 1000), replace=False)]
    sample_sq = _sq_norms(sample)
    within = _sq_distances(sample, sample_sq, sample, sample_sq)
    np.fill_diagonal(within, np.inf)
    nearest = np.sqrt(within.min(axis=1))
    positive = nearest[np.isfinite(nearest) & (nearest > 0)]
    spread = math.sqrt(float(_sq_norms(data - data.mean(axis=0)).mean()))
    threshold = float(np.median(positive)) if positive.size else max(spread, 1e-12) / 10
    cap = max(2000, 4 * k)
    too_small, too_large = 0.0, math.inf  # thresholds giving too many / too few subclusters
    chosen = fallback = None
    stalled = 0
    for _ in range(40):
        fit = _birch_tree(data, threshold, cap)
        found = fit.subcluster_centers_.shape[0]
        if k <= found <= cap:
            chosen = fit
            break
        if found > cap:
            too_small = threshold
        else:
            grew = fallback is None or found > fallback.subcluster_centers_.shape[0]
            stalled = 0 if grew else stalled + 1
            if grew:
                fallback = fit
            too_large = threshold
            if too_small == 0.0 and stalled >= 3:
                break  # halving finds no more subclusters: fewer distinct items than k
        if math.isinf(too_large):
            threshold *= 2
        elif too_small == 0.0:
            threshold /= 2
        else:
            threshold = math.sqrt(too_small * too_large)
    if chosen is None:
        chosen = fallback if fallback is not None else fit
    n_clusters = min(k, chosen.subcluster_centers_.shape[0])
    if n_clusters == 1:
        labels = np.zeros(n, dtype=np.int64)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fewer subclusters than k: the batch is filled
            chosen.set_params(n_clusters=n_clusters)
            chosen.partial_fit()
            labels = chosen.predict(data).astype(np.int64)
    sizes = np.bincount(labels, minlength=n_clusters)
    sums = np.zeros((sizes.shape[0], Z.shape[1]))
    np.add.at(sums, labels, data)
    centroids = sums / np.maximum(sizes, 1)[:, None]
    gap = data - centroids[labels]
    sq_dist = np.einsum("ij,ij->i", gap, gap)
    return _representatives(labels, sq_dist, sizes, np.arange(sizes.shape[0]), k, rng)


def cold_start(
    X: Any,
    k: int,
    method: Literal["typiclust", "kmeans", "birch", "random"] = "typiclust",
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Indices of ``k`` items of ``X`` to label first, before any model exists.

    Parameters
    ----------
    X : array-like, sparse matrix or DataFrame of shape (n, d)
        Numeric features (or embeddings) of the items.
    k : int
        How many to pick, ``1 <= k <= n``.
    method : {"typiclust", "kmeans", "birch", "random"}, default="typiclust"
        ``"typiclust"``: :class:`TypiClust` (most typical item of the k largest
        k-means clusters). ``"kmeans"``: :class:`KMeansSampling` (item nearest each
        k-means centre). ``"birch"``: scikit-learn's Birch into k clusters, the member
        nearest each cluster's centroid, largest cluster first (the Birch threshold is
        searched so that it makes between k and ``max(2000, 4k)`` subclusters).
        ``"random"``: uniformly at random.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        Unique row indices of ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> sorted((cold_start(X, 2, method="kmeans", random_state=0) // 2).tolist())
    [0, 1]
    """
    if method == "typiclust":
        return TypiClust().query(None, X, k, random_state=random_state)
    if method == "kmeans":
        return KMeansSampling().query(None, X, k, random_state=random_state)
    if method not in ("birch", "random"):
        raise ValueError(
            f"cold_start: method must be 'typiclust', 'kmeans', 'birch' or 'random'; "
            f"got {method!r}."
        )
    k = check_k(k, n_rows(X))
    rng = check_random_state(random_state)
    if method == "random":
        return rng.choice(n_rows(X), size=k, replace=False).astype(np.int64)
    pool, _ = _prepare(Features(), X, None, "cold_start")
    return _birch_picks(pool, k, rng)
