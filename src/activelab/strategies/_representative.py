"""Representative (cold-start) selection: k-means representatives and ``cold_start``.

They need only embeddings, so they run before any label exists (``model=None``: the
numeric features of the pool) and afterwards on ``model.embed``. The other
embedding-only strategies have their own modules: TypiClust (``_typiclust``), ProbCover
(``_probcover``) and MaxHerding (``_herding``). Embeddings are centred on the pool mean
and held in float32 (:func:`activelab._distances.centred`); the k-means is
:func:`activelab._kmeans.kmeans`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar, Literal

import numpy as np

from activelab._distances import centred, k_nearest_distances, squared_norms
from activelab._kmeans import cluster_representatives, representatives
from activelab._validation import (
    RandomStateLike,
    check_int,
    check_k,
    check_number,
    check_random_state,
    n_rows,
)
from activelab.models import Features
from activelab.strategies._base import Strategy, embeddings
from activelab.strategies._typiclust import TypiClust

__all__ = ["KMeansSampling", "cold_start"]


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
        max_iter = check_int(self.max_iter, "max_iter", self.name, 1)
        tol = check_number(self.tol, "tol", self.name, 0.0)
        X_labeled = X_labeled if self.use_labeled else None
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=None)
        return cluster_representatives(pool, k, rng, fixed=labeled, max_iter=max_iter, tol=tol)


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
    sample_sq = squared_norms(sample)
    nearest = k_nearest_distances(sample, sample_sq, sample, sample_sq, 1, exclude_self=True)
    nearest = np.sqrt(nearest[:, 0])
    positive = nearest[np.isfinite(nearest) & (nearest > 0)]
    spread = math.sqrt(float(squared_norms(data - data.mean(axis=0)).mean()))
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
    return representatives(labels, sq_dist, sizes, np.arange(sizes.shape[0]), k, rng)


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
    pool, _ = centred(*embeddings(Features(), X, None, "cold_start", dtype=None))
    return _birch_picks(pool, k, rng)
