"""ProbCover: greedy maximum coverage of δ-balls, with δ chosen by cluster purity.

The δ-ball graph keeps only its edges (a sparse symmetric adjacency built from half the
distance blocks), and the greedy cover runs in a compiled kernel.
"""

from __future__ import annotations

import math
import numbers
from typing import ClassVar

import numba
import numpy as np

from activelab._distances import block_rows, centred, nearest_centres, squared_norms
from activelab._kmeans import kmeans
from activelab._validation import check_int
from activelab.strategies._base import Strategy, embeddings

__all__ = ["ProbCover"]

_JIT = {"cache": True, "nogil": True}

#: Largest number of (directed) edges ProbCover stores; a pair costs about 16 bytes
#: while the graph is built, so this caps it near 0.8 GB.
_MAX_EDGES = 100_000_000


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
        pool, labeled = centred(*embeddings(model, X_pool, X_labeled, self.name, dtype=None))
        delta = self._delta(pool, labeled, y_labeled, rng)
        n = pool.shape[0]
        if not math.isfinite(delta):  # every ball holds everything: any order is greedy
            return rng.permutation(n)[:k].astype(np.int64)
        pool_sq = squared_norms(pool)
        radius_sq = np.float32(delta) ** 2
        covered = np.zeros(n, dtype=np.bool_)
        if labeled is not None:
            covered = nearest_centres(pool, pool_sq, labeled)[1] < radius_sq
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
        n_classes = check_int(n_classes, "n_classes", self.name, 2)
        data = pool if labeled is None else np.concatenate([labeled, pool])
        labels = kmeans(data, min(n_classes, data.shape[0]), rng).labels
        return _purity_delta(data, labels, self.alpha)


def _purity_delta(Z: np.ndarray, labels: np.ndarray, alpha: float) -> float:
    """ProbCover's radius: the largest δ for which at least ``alpha`` of the δ-balls are pure.

    A ball ``{x' : |x − x'| < δ}`` is pure when every item in it has the pseudo-label
    (``labels``) of ``x``; so it is pure exactly when δ is at most the distance ``m(x)``
    from ``x`` to its nearest item of another cluster, and the answer is the
    ``⌈alpha·n⌉``-th largest ``m(x)``. ``inf`` when there is a single cluster.
    """
    n = Z.shape[0]
    Z_sq = squared_norms(Z)
    nearest_other = np.empty(n, dtype=np.float32)
    step = block_rows(n)
    for start in range(0, n, step):
        stop = min(start + step, n)
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
    step = block_rows(n)
    capacity = 1 << 16
    for start in range(0, n, step):
        stop = min(start + step, n)
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
