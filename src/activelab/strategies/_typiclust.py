"""TypiClust: the most typical item of each of the largest uncovered k-means clusters."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from activelab._distances import centred, k_nearest_distances, squared_norms
from activelab._diversity import argmax_random
from activelab._kmeans import kmeans
from activelab._validation import check_int
from activelab.strategies._base import Strategy, embeddings

__all__ = ["TypiClust"]


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
        n_neighbors = check_int(self.n_neighbors, "n_neighbors", self.name, 1)
        max_clusters = check_int(self.max_clusters, "max_clusters", self.name, 1)
        min_cluster_size = check_int(self.min_cluster_size, "min_cluster_size", self.name, 0)
        pool, labeled = centred(*embeddings(model, X_pool, X_labeled, self.name, dtype=None))
        n_labeled = 0 if labeled is None else labeled.shape[0]
        data = pool if labeled is None else np.concatenate([labeled, pool])
        n_clusters = min(n_labeled + k, max_clusters, data.shape[0])
        clusters = kmeans(data, n_clusters, rng)
        return _typiclust_picks(
            pool,
            clusters.labels[n_labeled:],
            np.bincount(clusters.labels[:n_labeled], minlength=n_clusters),
            clusters.mass,
            k,
            n_neighbors,
            min_cluster_size,
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
        best = argmax_random(_typicality(pool[members], n_neighbors), rng)
        picks[i] = members[best]
        remaining[cluster] = np.delete(members, best)
    return picks


def _typicality(members: np.ndarray, n_neighbors: int) -> np.ndarray:
    """TypiClust's typicality of each row: 1 / mean distance to its K nearest other rows.

    ``K = min(n_neighbors, m // 2)`` (at least 1) for ``m`` rows, as the authors' code
    does for small clusters. A float64 k-nearest-neighbour search against all ``m`` rows
    (so ``O(m²·d)`` time but bounded memory). Exact duplicates get ``inf``.
    """
    m = members.shape[0]
    if m == 1:
        return np.ones(1)
    neighbors = max(1, min(n_neighbors, m // 2))
    rows = members.astype(np.float64)
    rows -= rows.mean(axis=0)
    rows_sq = squared_norms(rows)
    nearest = k_nearest_distances(rows, rows_sq, rows, rows_sq, neighbors, exclude_self=True)
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(nearest).mean(axis=1)
