"""Ranked batch-mode sampling: uncertainty traded against dissimilarity to what is chosen."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab import scores
from activelab._distances import as_embedding, block_rows, squared_distances, squared_norms
from activelab._validation import check_int, check_k, check_random_state, check_scores
from activelab.strategies._base import Strategy, embeddings

__all__ = ["RankedBatch", "ranked_batch"]


def _mean_distances(pool: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Mean Euclidean distance of every pool row to the rows of ``sample``, in blocks."""
    pool_norms, sample_norms = squared_norms(pool), squared_norms(sample)
    out = np.empty(pool.shape[0])
    step = block_rows(sample.shape[0], itemsize=8)
    for start in range(0, pool.shape[0], step):
        stop = start + step
        block = squared_distances(pool[start:stop], pool_norms[start:stop], sample, sample_norms)
        out[start:stop] = np.sqrt(block).mean(axis=1)
    return out


def ranked_batch(
    uncertainty: Any,
    pool: Any,
    k: int,
    labeled: Any = None,
    random_state: Any = None,
    cold_start_sample: int = 2000,
) -> np.ndarray:
    r"""Rank ``k`` pool items by uncertainty and dissimilarity to the labeled and chosen items.

    Pick ``t`` (``t = 0, 1, …``) maximises

    .. math:: \alpha_t \left(1 - \frac{1}{1 + d(x, L_t)}\right) + (1 - \alpha_t)\,u(x),
       \qquad \alpha_t = \frac{|U_t|}{|U_t| + |L_t|},

    where :math:`d(x, L_t)` is the Euclidean distance from ``x`` to the nearest item of
    :math:`L_t` (the labeled items and the ``t`` picks so far), :math:`U_t` the pool
    without the picks and :math:`u` the uncertainty. Early in a campaign (few labels)
    the batch is spread out; as labels accumulate, uncertainty takes over. Without a
    labeled set the first pick is the item with the smallest mean distance to the pool
    (modAL's cold start), measured against a random sample of ``cold_start_sample``
    pool items on larger pools.

    ``O(N·k·d)`` time: one distance pass per pick, a running minimum (as k-center
    greedy), float64 throughout.

    Parameters
    ----------
    uncertainty : array-like of shape (n,)
    pool : array-like of shape (n, d)
    k : int
    labeled : array-like of shape (m, d), optional
    random_state : int, numpy.random.Generator or None
        Ties, and the cold-start sample.
    cold_start_sample : int, default=2000

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In rank order.

    References
    ----------
    Cardoso, Silva, Sousa & Rodrigues (2017), "Ranked batch-mode active learning",
    Information Sciences 379.

    Examples
    --------
    >>> pool = [[0.0], [0.1], [5.0]]
    >>> ranked_batch([0.5, 0.5, 0.1], pool, 2, labeled=[[0.0]], random_state=0).tolist()
    [2, 1]
    """
    rng = check_random_state(random_state)
    points = as_embedding(pool, "ranked_batch", dtype=np.float64)
    n = points.shape[0]
    k = check_k(k, n)
    utilities = check_scores(uncertainty, name="uncertainty")
    if utilities.shape[0] != n:
        raise ValueError(
            f"ranked_batch: {utilities.shape[0]} uncertainties for {n} pool items; pass one "
            "per pool row."
        )
    norms = squared_norms(points)
    tie_keys = rng.random(n)
    available = np.ones(n, dtype=bool)
    picks = np.empty(k, dtype=np.int64)
    start = 0
    if labeled is None or not np.prod(np.shape(labeled)):
        n_labeled = 0
        sample = points
        if n > cold_start_sample:
            sample = points[rng.choice(n, size=cold_start_sample, replace=False)]
        mean = _mean_distances(points, sample)
        best = np.flatnonzero(mean == mean.min())
        picks[0] = best[np.argmax(tie_keys[best])]
        min_sq = squared_distances(points, norms, points[picks[:1]], norms[picks[:1]])[:, 0]
        available[picks[0]] = False
        start = 1
    else:
        centres = as_embedding(labeled, "ranked_batch", dtype=np.float64, what="X_labeled")
        if centres.shape[1] != points.shape[1]:
            raise ValueError(
                f"ranked_batch: labeled items have {centres.shape[1]} features, the pool "
                f"{points.shape[1]}; embed both the same way."
            )
        n_labeled = centres.shape[0]
        # Exact float64 distances: modAL's picks depend on them.
        min_sq = np.full(n, np.inf)
        centre_norms = squared_norms(centres)
        step = block_rows(n, itemsize=8)
        for first in range(0, n_labeled, step):
            block = squared_distances(
                centres[first : first + step], centre_norms[first : first + step], points, norms
            )
            np.minimum(min_sq, block.min(axis=0), out=min_sq)
    for step in range(start, k):
        alpha = (n - step) / (n + n_labeled)
        similarity = 1.0 / (1.0 + np.sqrt(min_sq))
        score = alpha * (1.0 - similarity) + (1.0 - alpha) * utilities
        score[~available] = -np.inf
        best = np.flatnonzero(score == score.max())
        chosen = int(best[np.argmax(tie_keys[best])])
        picks[step] = chosen
        available[chosen] = False
        to_chosen = norms - 2.0 * (points @ points[chosen]) + norms[chosen]
        np.minimum(min_sq, np.maximum(to_chosen, 0.0), out=min_sq)
    return picks


class RankedBatch(Strategy):
    r"""Ranked batch-mode sampling: uncertainty and dissimilarity, weighted by |U|/(|U|+|L|).

    The model's uncertainty (least confidence ``1 − max p`` by default, as modAL's
    ``uncertainty_batch_sampling``) is combined with the distance of each item to the
    labeled items and the picks so far by :func:`ranked_batch`. Early on (few labels),
    the batch is spread out; as labels accumulate, uncertainty takes over.

    Parameters
    ----------
    uncertainty : {"least_confidence", "margin", "ratio", "entropy"}
    cold_start_sample : int, default=2000
        Pool items the first cold-start pick is measured against.

    References
    ----------
    Cardoso, Silva, Sousa & Rodrigues (2017), "Ranked batch-mode active learning",
    Information Sciences 379.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> RankedBatch().query(model, [[2.0], [2.1], [9.0]], 2, X, [0, 0, 1, 1], 0).shape
    (2,)
    """

    name: ClassVar[str] = "ranked_batch"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "embed")
    summary: ClassVar[str] = "greedy α·dissimilarity + (1 − α)·uncertainty, α = unlabeled share"
    reference: ClassVar[str] = "Cardoso et al. 2017"

    def __init__(
        self, uncertainty: str = "least_confidence", cold_start_sample: int = 2000
    ) -> None:
        self.uncertainty = uncertainty
        self.cold_start_sample = cold_start_sample

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        sample_size = check_int(self.cold_start_sample, "cold_start_sample", self.name, 1)
        utilities = scores.uncertainty(self.uncertainty, self.name)(model.predict_proba(X_pool))
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        return ranked_batch(utilities, pool, k, labeled, rng, sample_size)
