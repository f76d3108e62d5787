"""Regression-tree-based active learning (RT-AL, Jose et al. 2023)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from activelab._validation import check_int, n_rows
from activelab.models import ModelAdapter
from activelab.strategies._base import embeddings
from activelab.strategies._regression import RegressionStrategy, labeled_targets

__all__ = ["RegressionTreeBasedAL", "leaf_allocation", "leaf_shares"]

_METHODS = ("random", "diversity", "representativity")


def leaf_shares(
    pool_leaves: np.ndarray,
    labeled_leaves: np.ndarray,
    y_labeled: np.ndarray,
    k: int,
    n_nodes: int,
) -> np.ndarray:
    r"""The real-valued share of ``k`` picks of each tree node (Jose et al. 2023, Eq. 5).

    Leaf :math:`\ell` gets :math:`n_\ell = k\,\sqrt{p_\ell v_\ell} / \sum_j \sqrt{p_j v_j}`
    (the Neyman allocation of a stratified sample), where :math:`p_\ell` is the share of
    the pool in the leaf and :math:`v_\ell` the variance (``ddof=1``) of the labeled
    targets in it (0 with fewer than two). When every :math:`\sqrt{p_\ell v_\ell}` is 0
    the shares are proportional to :math:`p_\ell` (scikit-activeml spreads them over every
    tree node, internal ones included, and so ends up picking at random).

    Parameters
    ----------
    pool_leaves : int array of shape (n,)
    labeled_leaves : int array of shape (m,)
    y_labeled : array of shape (m,)
    k : int
    n_nodes : int
        ``tree_.node_count``.

    Returns
    -------
    numpy.ndarray of shape (n_nodes,), float64, summing to ``k``

    Examples
    --------
    >>> leaf_shares(np.array([1, 1, 2, 2]), np.array([1, 1, 2, 2]),
    ...             np.array([0.0, 2.0, 0.0, 0.0]), 2, 3).tolist()
    [0.0, 2.0, 0.0]
    """
    variance = np.zeros(n_nodes)
    count = np.bincount(labeled_leaves, minlength=n_nodes).astype(np.float64)
    total = np.bincount(labeled_leaves, weights=y_labeled, minlength=n_nodes)
    several = count > 1
    mean = np.divide(total, count, out=np.zeros(n_nodes), where=count > 0)
    squares = np.bincount(
        labeled_leaves, weights=(y_labeled - mean[labeled_leaves]) ** 2, minlength=n_nodes
    )
    variance[several] = squares[several] / (count[several] - 1)
    share = np.bincount(pool_leaves, minlength=n_nodes) / pool_leaves.shape[0]
    weight = np.sqrt(share * variance)
    if weight.sum() <= 0:
        weight = share
    return k * weight / weight.sum()


def leaf_allocation(shares: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    r"""Whole numbers of picks per node from real shares (Jose et al. 2023).

    Each node keeps :math:`\lfloor n_\ell \rfloor`; the remaining picks go to nodes drawn
    without replacement with probability proportional to the fractional parts, as
    scikit-activeml does.

    Parameters
    ----------
    shares : array of shape (n_nodes,)
        From :func:`leaf_shares`; sums to ``k``.
    k : int
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of shape (n_nodes,), int64, summing to ``k``

    Examples
    --------
    >>> leaf_allocation(np.array([0.0, 2.0, 1.0]), 3, np.random.default_rng(0)).tolist()
    [0, 2, 1]
    """
    whole = np.floor(shares + 1e-9)
    rest = np.maximum(shares - whole, 0.0)
    short = k - int(whole.sum())
    if short > 0:
        extra = rng.choice(shares.shape[0], size=short, replace=False, p=rest / rest.sum())
        whole[extra] += 1
    return whole.astype(np.int64)


def _min_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Distance of each row of A to its nearest row of B (inf when B is empty)."""
    if B.shape[0] == 0:
        return np.full(A.shape[0], np.inf)
    out = np.empty(A.shape[0])
    b_norms = np.einsum("ij,ij->i", B, B)
    block = max(1, 2_000_000 // B.shape[0])
    for start in range(0, A.shape[0], block):
        rows = A[start : start + block]
        squared = np.einsum("ij,ij->i", rows, rows)[:, None] + b_norms[None, :] - 2 * rows @ B.T
        out[start : start + block] = np.sqrt(np.maximum(squared, 0.0)).min(axis=1)
    return out


def _mean_distance_within(A: np.ndarray) -> np.ndarray:
    """Mean distance of each row of A to the other rows (0 for a single row)."""
    n = A.shape[0]
    if n < 2:
        return np.zeros(n)
    norms = np.einsum("ij,ij->i", A, A)
    out = np.empty(n)
    block = max(1, 2_000_000 // n)
    for start in range(0, n, block):
        rows = A[start : start + block]
        squared = norms[start : start + block, None] + norms[None, :] - 2 * rows @ A.T
        out[start : start + block] = np.sqrt(np.maximum(squared, 0.0)).sum(axis=1) / (n - 1)
    return out


class RegressionTreeBasedAL(RegressionStrategy):
    r"""RT-AL: a regression tree's leaves as strata; more picks where targets vary more.

    The fitted tree partitions the input space; leaf :math:`\ell` gets
    :math:`n_\ell \propto \sqrt{p_\ell v_\ell}` of the batch (:func:`leaf_shares`,
    :func:`leaf_allocation`), and
    within the leaf the picks are made by ``method``:

    - ``"random"``: uniformly among the leaf's pool items;
    - ``"diversity"``: the items farthest from the labeled items of the leaf (the whole
      labeled set when the leaf holds none), Eq. (6)–(7) of the paper;
    - ``"representativity"``: k-means with :math:`n_\ell` clusters in the leaf; in each
      cluster, the item maximising :math:`\delta - R` (its distance to the labeled set
      and the other picks minus its mean distance to its cluster), iterated up to
      ``max_iter_representativity`` times (Eq. (8)–(10)).

    A leaf with fewer pool items than its share passes the rest to random items of the
    pool (scikit-activeml does the same through ties). With at most one labeled item the
    batch is uniformly random, as in scikit-activeml.

    Parameters
    ----------
    method : {"random", "diversity", "representativity"}
    max_iter_representativity : int

    References
    ----------
    Jose, de Mendonça, Devijver, Jakse, Monbet & Poloni (2023), "Regression tree-based
    active learning", Data Mining and Knowledge Discovery 38.

    Examples
    --------
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> X = np.arange(20.0).reshape(-1, 1)
    >>> y = np.where(X[:, 0] < 9, 0.0, 100.0 + X[:, 0] % 4)  # a step; noisy on the right
    >>> tree = DecisionTreeRegressor(max_depth=1).fit(X[::2], y[::2])
    >>> picks = RegressionTreeBasedAL().query(tree, X[1::2], 4, X[::2], y[::2], random_state=0)
    >>> bool((X[1::2][picks, 0] > 9).all())  # all picks where the targets vary
    True
    """

    name: ClassVar[str] = "rt_al"
    needs: ClassVar[tuple[str, ...]] = ("predict", "apply")
    summary: ClassVar[str] = "regression tree leaves as strata, picks ∝ √(share × variance)"
    reference: ClassVar[str] = "Jose et al. 2023"

    def __init__(self, method: str = "random", max_iter_representativity: int = 5) -> None:
        self.method = method
        self.max_iter_representativity = max_iter_representativity

    def _select(self, model: ModelAdapter, X_pool, k, X_labeled, y_labeled, rng):
        if self.method not in _METHODS:
            raise ValueError(f"{self.name}: method must be one of {_METHODS}; got {self.method!r}.")
        max_iter = check_int(
            self.max_iter_representativity, "max_iter_representativity", self.name, 1
        )
        n = n_rows(X_pool)
        targets = labeled_targets(X_labeled, y_labeled, self.name)
        if targets is None or targets.shape[0] <= 1:
            return rng.choice(n, size=k, replace=False).astype(np.int64)
        trees = model.trees()
        if len(trees) != 1:
            raise TypeError(
                f"{self.name} needs a single regression tree (DecisionTreeRegressor, with "
                f"min_samples_leaf >= 2); {model.describe()} has {len(trees)} trees."
            )
        n_nodes = int(trees[0].tree_.node_count)
        pool_leaves = model.apply(X_pool)[:, 0]
        labeled_leaves = model.apply(X_labeled)[:, 0]
        shares = leaf_shares(pool_leaves, labeled_leaves, targets, k, n_nodes)
        allocation = leaf_allocation(shares, k, rng)
        pool = labeled = None
        if self.method != "random":
            pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        picks: list[int] = []
        taken = np.zeros(n, dtype=bool)
        for leaf in np.flatnonzero(allocation):
            members = np.flatnonzero(pool_leaves == leaf)
            want = min(int(allocation[leaf]), members.shape[0])
            if want == 0:
                continue
            if self.method == "random":
                chosen = rng.choice(members, size=want, replace=False)
            elif self.method == "diversity":
                chosen = self._diverse(pool, labeled, members, labeled_leaves == leaf, want, rng)
            else:
                chosen = self._representative(pool, labeled, members, want, max_iter, picks, rng)
            picks.extend(int(i) for i in chosen)
            taken[chosen] = True
        short = k - len(picks)
        if short > 0:  # leaves with fewer pool items than their share
            picks.extend(int(i) for i in rng.choice(np.flatnonzero(~taken), short, replace=False))
        return np.asarray(picks, dtype=np.int64)

    @staticmethod
    def _diverse(pool, labeled, members, in_leaf, want, rng) -> np.ndarray:
        reference = labeled[in_leaf] if in_leaf.any() else labeled
        distance = _min_distances(pool[members], reference)
        order = np.lexsort((rng.random(members.shape[0]), -distance))
        return members[order[:want]]

    def _representative(self, pool, labeled, members, want, max_iter, earlier, rng):
        import warnings

        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        points = pool[members]
        with warnings.catch_warnings():  # duplicate points: fewer distinct clusters
            warnings.simplefilter("ignore", ConvergenceWarning)
            clusters = KMeans(want, random_state=int(rng.integers(2**31)), n_init=10).fit(points)
        assignment = clusters.labels_
        groups = [np.flatnonzero(assignment == c) for c in range(want)]
        groups = [g for g in groups if g.shape[0]]
        spread = np.zeros(members.shape[0])
        for group in groups:
            spread[group] = _mean_distance_within(points[group])
        # Start from the member nearest each centroid.
        chosen = []
        for group in groups:
            centre = clusters.cluster_centers_[assignment[group[0]]]
            gaps = np.einsum("ij,ij->i", points[group] - centre, points[group] - centre)
            chosen.append(int(group[np.argmin(gaps)]))
        others_before = pool[np.asarray(earlier, dtype=np.int64)] if earlier else pool[:0]
        for _ in range(max_iter):
            previous = list(chosen)
            for c, group in enumerate(groups):
                rest = [chosen[j] for j in range(len(groups)) if j != c]
                reference = np.vstack([labeled, others_before, points[rest]])
                utility = _min_distances(points[group], reference) - spread[group]
                best = np.flatnonzero(utility == utility.max())
                chosen[c] = int(group[best[0] if best.shape[0] == 1 else rng.choice(best)])
            if chosen == previous:
                break
        return members[np.asarray(chosen, dtype=np.int64)]
