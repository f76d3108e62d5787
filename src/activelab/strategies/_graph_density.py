"""Graph density (RALF): the most representative items of a k-nearest-neighbour graph."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from activelab._distances import k_nearest, squared_norms
from activelab._validation import check_int, check_number
from activelab.strategies._base import Strategy, embeddings

__all__ = ["GraphDensity", "graph_density"]


def _knn_distances(points: np.ndarray, n_neighbors: int, metric: str) -> tuple[np.ndarray, ...]:
    """Each row's ``n_neighbors`` nearest other rows and the distances to them."""
    if metric == "euclidean":
        norms = squared_norms(points)
        index, sq_dist = k_nearest(points, norms, points, norms, n_neighbors, exclude_self=True)
        return index, sq_dist
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=n_neighbors, metric="manhattan").fit(points)
    distances, index = search.kneighbors()  # no query: each row's neighbours leave it out
    return index.astype(np.int64), distances


def graph_density(
    emb: Any,
    n_neighbors: int = 10,
    gamma: float | None = None,
    metric: str = "manhattan",
) -> tuple[np.ndarray, sp.csr_matrix]:
    r"""Graph density of every item, and the weighted k-nearest-neighbour graph.

    Each item is joined to its ``n_neighbors`` nearest items and the graph is made
    symmetric (an edge when either is among the other's neighbours). Edges are weighted
    :math:`w_{ij} = \exp(-\gamma\,\lVert x_i - x_j\rVert_1)` with ``metric="manhattan"``
    (Google's active-learning code and ALiPy) or the Gaussian
    :math:`\exp(-\gamma\,\lVert x_i - x_j\rVert_2^2)` with ``metric="euclidean"`` (the
    paper). The density of an item is the mean weight of its edges.

    Parameters
    ----------
    emb : array-like of shape (n, d)
    n_neighbors : int, default=10
        Neighbours per item (at most ``n - 1`` are used).
    gamma : float, optional
        Kernel width; default ``1 / d``.
    metric : {"manhattan", "euclidean"}

    Returns
    -------
    density : numpy.ndarray of shape (n,), float64
    graph : scipy.sparse.csr_matrix of shape (n, n)
        The symmetric edge weights.

    References
    ----------
    Ebert, Fritz & Schiele (2012), "RALF: a reinforced active learning formulation for
    object class recognition", CVPR.

    Examples
    --------
    >>> density, graph = graph_density([[0.0], [0.1], [0.2], [5.0]], n_neighbors=1)
    >>> int(np.argmax(density)) in (0, 1, 2), graph.shape
    (True, (4, 4))
    """
    from activelab._distances import as_embedding

    if metric not in ("manhattan", "euclidean"):
        raise ValueError(
            f"graph_density: metric must be 'manhattan' or 'euclidean'; got {metric!r}."
        )
    points = as_embedding(emb, "graph_density", dtype=np.float64)
    n, d = points.shape
    n_neighbors = check_int(n_neighbors, "n_neighbors", "graph_density", 1)
    gamma = 1.0 / d if gamma is None else check_number(gamma, "gamma", "graph_density", 0.0)
    if n == 1:
        return np.zeros(1), sp.csr_matrix((1, 1))
    index, distances = _knn_distances(points, min(n_neighbors, n - 1), metric)
    weights = np.exp(-gamma * distances).ravel()
    rows = np.repeat(np.arange(n), index.shape[1])
    directed = sp.csr_matrix((weights, (rows, index.ravel())), shape=(n, n))
    graph = directed.maximum(directed.T).tocsr()
    graph.eliminate_zeros()
    degree = np.diff(graph.indptr)
    sums = np.asarray(graph.sum(axis=1)).ravel()
    density = np.divide(sums, degree, out=np.zeros(n), where=degree > 0)
    return density, graph


class GraphDensity(Strategy):
    r"""Graph density: pick the densest item of a kNN graph, then damp its neighbours.

    The density of every item (pool and labeled) comes from :func:`graph_density`.
    Items are picked greedily by the largest density; after each pick ``s`` every
    neighbour ``j`` of ``s`` loses the pick's density,
    :math:`\mathrm{density}_j \leftarrow \mathrm{density}_j - \mathrm{density}_s`, so the
    next pick comes from another dense region. Labeled items are never picked. This is
    the selection rule of Google's active-learning ``GraphDensitySampler`` and ALiPy's
    ``QueryInstanceGraphDensity``; ties go at random rather than to the lowest index.

    The peers keep the damped densities in a mutable object between rounds, so earlier
    picks keep damping their neighbours. Here each query starts afresh; with
    ``damp_labeled=True`` (default) the labeled items first damp their neighbours in the
    order given, as if they had been picked by this rule, which carries that memory
    across rounds without state. ``damp_labeled=False`` gives the peers' single query.

    Model-free: it reads only ``embed`` (the raw features when ``model`` is None).
    Builds the kNN graph of pool and labeled items each query: exact neighbours,
    ``O(n²·d)`` time in bounded memory, ``O(n·k)`` graph.

    Parameters
    ----------
    n_neighbors : int, default=10
    gamma : float, optional
        Kernel width, default ``1 / d``.
    metric : {"manhattan", "euclidean"}, default="manhattan"
        Manhattan with ``exp(-γ d)`` as the peers, or the paper's Gaussian on squared
        Euclidean distances.
    damp_labeled : bool, default=True

    References
    ----------
    Ebert, Fritz & Schiele (2012), "RALF: a reinforced active learning formulation for
    object class recognition", CVPR.

    Examples
    --------
    >>> X = [[0.0], [0.1], [0.2], [5.0], [5.1], [9.0]]
    >>> sorted(GraphDensity(n_neighbors=2).query(None, X, 2, random_state=0).tolist())
    [1, 4]
    """

    name: ClassVar[str] = "graph_density"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "densest item of a kNN graph, neighbours damped after each pick"
    reference: ClassVar[str] = "Ebert et al. 2012"
    task: ClassVar[str] = "any"

    def __init__(
        self,
        n_neighbors: int = 10,
        gamma: float | None = None,
        metric: str = "manhattan",
        damp_labeled: bool = True,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.gamma = gamma
        self.metric = metric
        self.damp_labeled = damp_labeled

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        n = pool.shape[0]
        points = pool if labeled is None else np.concatenate([pool, labeled])
        density, graph = graph_density(points, self.n_neighbors, self.gamma, self.metric)
        indptr, indices = graph.indptr, graph.indices

        def damp(item: int) -> None:
            neighbours = indices[indptr[item] : indptr[item + 1]]
            density[neighbours] -= density[item]

        if self.damp_labeled:
            for item in range(n, points.shape[0]):
                damp(item)
        density = density[: points.shape[0]]
        density[n:] = -np.inf
        tie_keys = rng.random(n)
        picks = np.empty(k, dtype=np.int64)
        for step in range(k):
            candidates = density[:n]
            best = np.flatnonzero(candidates == candidates.max())
            chosen = int(best[np.argmax(tie_keys[best])]) if best.shape[0] > 1 else int(best[0])
            picks[step] = chosen
            damp(chosen)
            density[chosen] = -np.inf
        return picks
