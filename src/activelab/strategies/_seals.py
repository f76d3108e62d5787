"""Candidate pools for huge pools: SEALS (neighbours of the labeled set) and AnchorAL."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._data import take_rows
from activelab._distances import _l2_normalize, k_nearest, squared_norms
from activelab._kmeans import kmeans_plusplus
from activelab._validation import check_int, n_rows
from activelab.strategies._base import Strategy, embeddings
from activelab.strategies._combine import NeedsOf, resolve_base

__all__ = ["SEALS", "AnchorSubsampling", "anchor_candidates", "seals_candidates"]


def _prepare(points: np.ndarray, normalize: bool) -> np.ndarray:
    points = np.ascontiguousarray(points, dtype=np.float32)
    return _l2_normalize(points).astype(np.float32) if normalize else points


def seals_candidates(pool: Any, labeled: Any, n_neighbors: int = 100) -> np.ndarray:
    """The union of the ``n_neighbors`` nearest pool items of every labeled item.

    Exact nearest neighbours by squared Euclidean distance, from BLAS in bounded blocks
    (:func:`activelab._distances.k_nearest`): ``O(m·N·d)`` time for ``m`` labeled and
    ``N`` pool items, ``O(m·n_neighbors)`` memory.

    Parameters
    ----------
    pool : array-like of shape (N, d)
    labeled : array-like of shape (m, d)
    n_neighbors : int, default=100
        Neighbours per labeled item (at most ``N``).

    Returns
    -------
    numpy.ndarray of int64
        Sorted, unique pool indices.

    References
    ----------
    Coleman, Chou, Katz-Samuels, Culatana, Bailis, Berg, Nowak, Sumbaly, Zaharia &
    Yalniz (2022), "Similarity search for efficient active learning and search of rare
    concepts", AAAI.

    Examples
    --------
    >>> seals_candidates([[0.0], [1.0], [5.0], [6.0]], [[0.2]], 2).tolist()
    [0, 1]
    """
    points = np.ascontiguousarray(pool, dtype=np.float32)
    queries = np.ascontiguousarray(labeled, dtype=np.float32)
    n_neighbors = min(check_int(n_neighbors, "n_neighbors", "seals", 1), points.shape[0])
    index, _ = k_nearest(
        queries, squared_norms(queries), points, squared_norms(points), n_neighbors
    )
    return np.unique(index)


def anchor_candidates(
    pool: Any,
    labeled: Any,
    y_labeled: Any,
    subsample_size: int = 500,
    n_anchors: int = 10,
    n_neighbors: int = 50,
    random_state: Any = None,
) -> np.ndarray:
    """AnchorAL's sub-pool: the pool items most similar to class-wise anchors.

    For every class, up to ``n_anchors`` labeled items of that class are drawn by
    k-means++ seeding among that class's embeddings (anchors spread over the class).
    Each anchor retrieves its ``n_neighbors`` nearest pool items; a retrieved item's
    score is its mean similarity (``−`` squared distance; with unit-length embeddings,
    ``2·cos − 2``) to the anchors that retrieved it, and the ``subsample_size``
    best-scored items form the sub-pool. Every class, rare ones included, contributes
    anchors, so the sub-pool is closer to class-balanced than the pool.

    Parameters
    ----------
    pool : array-like of shape (N, d)
    labeled : array-like of shape (m, d)
    y_labeled : array-like of shape (m,)
    subsample_size : int, default=500
    n_anchors : int, default=10
        Anchors per class.
    n_neighbors : int, default=50
        Pool items retrieved per anchor.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of int64
        Pool indices, best score first (at most ``subsample_size``).

    References
    ----------
    Lesci & Vlachos (2024), "AnchorAL: computationally efficient active learning for
    large and imbalanced datasets", NAACL.

    Examples
    --------
    >>> pool = [[0.0], [0.1], [5.0], [5.1], [9.0]]
    >>> sorted(anchor_candidates(pool, [[0.0], [5.0]], [0, 1], 4, 1, 2, 0).tolist())
    [0, 1, 2, 3]
    """
    from activelab._validation import check_random_state

    rng = check_random_state(random_state)
    points = np.ascontiguousarray(pool, dtype=np.float32)
    queries = np.ascontiguousarray(labeled, dtype=np.float32)
    labels = np.asarray(y_labeled)
    if labels.shape[0] != queries.shape[0]:
        raise ValueError(
            f"anchor_subsampling: {labels.shape[0]} labels for {queries.shape[0]} labeled items."
        )
    n_anchors = check_int(n_anchors, "n_anchors", "anchor_subsampling", 1)
    n_neighbors = min(
        check_int(n_neighbors, "n_neighbors", "anchor_subsampling", 1), points.shape[0]
    )
    subsample_size = check_int(subsample_size, "subsample_size", "anchor_subsampling", 1)
    anchors = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if members.shape[0] <= n_anchors:
            anchors.append(members)
            continue
        block = queries[members]
        seeds = kmeans_plusplus(block, squared_norms(block), n_anchors, rng)
        anchors.append(members[seeds])
    anchor_points = queries[np.concatenate(anchors)]
    index, sq_dist = k_nearest(
        anchor_points, squared_norms(anchor_points), points, squared_norms(points), n_neighbors
    )
    flat, similarity = index.ravel(), -sq_dist.ravel()
    totals = np.bincount(flat, weights=similarity, minlength=points.shape[0])
    hits = np.bincount(flat, minlength=points.shape[0])
    retrieved = np.flatnonzero(hits)
    mean = totals[retrieved] / hits[retrieved]
    tie_keys = rng.random(retrieved.shape[0])
    order = np.lexsort((tie_keys, -mean))[:subsample_size]
    return retrieved[order]


def _run_on(
    base: Strategy, model, X_pool, rows: np.ndarray, k, X_labeled, y_labeled, rng
) -> np.ndarray:
    rows = np.sort(rows)
    picks = base._select(model, take_rows(X_pool, rows), k, X_labeled, y_labeled, rng)
    return rows[np.asarray(picks, dtype=np.int64)]


class SEALS(Strategy):
    """SEALS: run a strategy only on the nearest neighbours of the labeled set.

    The candidate pool is the union of the ``n_neighbors`` nearest pool items of every
    labeled item, in the model's embedding (:func:`seals_candidates`); the wrapped
    strategy is queried on the candidates alone and its picks are mapped back to pool
    indices. As labels arrive the candidate pool grows with their neighbourhoods — the
    paper's incremental update, recomputed here from the labeled set at each query with
    the labeled items left out (the same set as small-text's index with labeled items
    deleted). Rare concepts are found at a fraction of the cost: the expensive
    strategy sees ``O(|L|·n_neighbors)`` items instead of the whole pool.

    Index: exact neighbours from BLAS in bounded blocks (``O(|L|·N·d)`` per query, no
    approximate index to install or tune); the paper and small-text use an
    approximate index (FAISS, HNSW) built once, which pays off when the embeddings are
    fixed for millions of items.

    The whole pool goes to the wrapped strategy when there is no labeled set, when
    the pool has at most ``n_neighbors`` items (small-text does the same), or when the
    candidates are fewer than ``k``.

    Parameters
    ----------
    strategy : str, (name, params) or Strategy, default="margin"
    n_neighbors : int, default=100
        Neighbours per labeled item.
    normalize : bool, default=True
        Scale embeddings to unit length first (cosine neighbours), as small-text does.

    References
    ----------
    Coleman, Chou, Katz-Samuels, Culatana, Bailis, Berg, Nowak, Sumbaly, Zaharia &
    Yalniz (2022), "Similarity search for efficient active learning and search of rare
    concepts", AAAI.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.linspace(-20.0, 20.0, 401)[:, None]
    >>> picks = SEALS("margin", n_neighbors=5, normalize=False).query(
    ...     model, pool, 2, X, [0, 0, 1, 1], random_state=0)
    >>> bool(np.all(np.abs(pool[picks, 0] - 2.0) < 2.5))
    True
    """

    name: ClassVar[str] = "seals"
    needs = NeedsOf("strategy", extra=("embed",))  # type: ignore[assignment]
    summary: ClassVar[str] = "any strategy on the kNN of the labeled set (huge pools)"
    reference: ClassVar[str] = "Coleman et al. 2022"
    default_bases: ClassVar[str] = "margin"

    def __init__(self, strategy: Any = "margin", n_neighbors: int = 100, normalize: bool = True):
        self.strategy = strategy
        self.n_neighbors = n_neighbors
        self.normalize = normalize

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        base = resolve_base(self.strategy, self.name)
        n_neighbors = check_int(self.n_neighbors, "n_neighbors", self.name, 1)
        n = n_rows(X_pool)
        if X_labeled is None or n_rows(X_labeled) == 0 or n <= n_neighbors:
            return base._select(model, X_pool, k, X_labeled, y_labeled, rng)
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name)
        candidates = seals_candidates(
            _prepare(pool, self.normalize), _prepare(labeled, self.normalize), n_neighbors
        )
        if candidates.shape[0] < k:
            return base._select(model, X_pool, k, X_labeled, y_labeled, rng)
        return _run_on(base, model, X_pool, candidates, k, X_labeled, y_labeled, rng)


class AnchorSubsampling(Strategy):
    """AnchorAL: run a strategy on the pool items nearest to class-wise labeled anchors.

    Per class, up to ``n_anchors`` labeled items (k-means++ seeding among the class's
    embeddings) retrieve their ``n_neighbors`` nearest pool items; the
    ``subsample_size`` items most similar on average to the anchors that retrieved them
    form the sub-pool (:func:`anchor_candidates`), and the wrapped strategy is queried
    on it alone. Anchors are drawn anew each query, so the sub-pool moves between
    rounds, and every class — rare ones too — contributes anchors. The cost of the
    wrapped strategy no longer grows with the pool.

    Index: exact neighbours from BLAS (``O(anchors·N·d)`` per query). The whole pool
    goes to the wrapped strategy when there is no labeled set, when the pool has at
    most ``subsample_size`` items (as small-text), or when the sub-pool has fewer than
    ``k`` items.

    Parameters
    ----------
    strategy : str, (name, params) or Strategy, default="margin"
    subsample_size : int, default=500
    n_anchors : int, default=10
        Anchors per class.
    n_neighbors : int, default=50
        Pool items each anchor retrieves.
    normalize : bool, default=True
        Unit-length embeddings first (cosine similarity), as small-text does.

    References
    ----------
    Lesci & Vlachos (2024), "AnchorAL: computationally efficient active learning for
    large and imbalanced datasets", NAACL (small-text's ``AnchorSubsampling``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.linspace(-20.0, 20.0, 401)[:, None]
    >>> strategy = AnchorSubsampling(subsample_size=20, n_neighbors=10, normalize=False)
    >>> strategy.query(model, pool, 2, X, [0, 0, 1, 1], random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "anchor_subsampling"
    needs = NeedsOf("strategy", extra=("embed",))  # type: ignore[assignment]
    summary: ClassVar[str] = "any strategy on the pool items nearest class-wise labeled anchors"
    reference: ClassVar[str] = "Lesci & Vlachos 2024"
    default_bases: ClassVar[str] = "margin"

    def __init__(
        self,
        strategy: Any = "margin",
        subsample_size: int = 500,
        n_anchors: int = 10,
        n_neighbors: int = 50,
        normalize: bool = True,
    ) -> None:
        self.strategy = strategy
        self.subsample_size = subsample_size
        self.n_anchors = n_anchors
        self.n_neighbors = n_neighbors
        self.normalize = normalize

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        base = resolve_base(self.strategy, self.name)
        size = check_int(self.subsample_size, "subsample_size", self.name, 1)
        n = n_rows(X_pool)
        if X_labeled is None or n_rows(X_labeled) == 0 or y_labeled is None or n <= size:
            return base._select(model, X_pool, k, X_labeled, y_labeled, rng)
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name)
        candidates = anchor_candidates(
            _prepare(pool, self.normalize),
            _prepare(labeled, self.normalize),
            y_labeled,
            size,
            self.n_anchors,
            self.n_neighbors,
            rng,
        )
        if candidates.shape[0] < k:
            return base._select(model, X_pool, k, X_labeled, y_labeled, rng)
        return _run_on(base, model, X_pool, candidates, k, X_labeled, y_labeled, rng)
