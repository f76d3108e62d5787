"""Hierarchical sampling (Dasgupta & Hsu): sample within the prunings of a cluster tree."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

import numpy as np

from activelab._data import row_keys
from activelab._validation import check_int, n_rows
from activelab.models import Features
from activelab.strategies._base import Strategy, embeddings

__all__ = ["ClusterTree", "HierarchicalSampling"]

NO_LABEL = -1


class ClusterTree:
    """An agglomerative (Ward) cluster tree with Dasgupta & Hsu's label statistics.

    Leaves are the items ``0 … n−1``; internal node ``n + i`` is the ``i``-th merge of
    :func:`scipy.cluster.hierarchy.linkage`. :meth:`observe` adds one label and refines
    the pruning as the paper's ``update`` does; :meth:`sample` draws leaves by the
    paper's ``select``.

    Parameters
    ----------
    points : array of shape (n, d), float64
    n_classes : int

    References
    ----------
    Dasgupta & Hsu (2008), "Hierarchical sampling for active learning", ICML.

    Examples
    --------
    >>> tree = ClusterTree(np.array([[0.0], [0.1], [5.0], [5.1]]), n_classes=2)
    >>> for leaf, label in [(0, 0), (2, 1), (1, 0), (3, 1)]:
    ...     tree.observe(leaf, label)
    >>> sorted(tree.pruning().tolist())  # the root (6) split into its two clusters
    [4, 5]
    """

    def __init__(self, points: np.ndarray, n_classes: int) -> None:
        from scipy.cluster.hierarchy import leaves_list, linkage

        n = points.shape[0]
        self.n = n
        m = 2 * n - 1
        self.left = np.full(m, -1, dtype=np.int64)
        self.right = np.full(m, -1, dtype=np.int64)
        self.parent = np.full(m, -1, dtype=np.int64)
        self.size = np.ones(m, dtype=np.int64)
        self.lo = np.empty(m, dtype=np.int64)  # leaf-order range [lo, hi) of each node
        self.hi = np.empty(m, dtype=np.int64)
        if n == 1:
            self.order = np.zeros(1, dtype=np.int64)
        else:
            merges = linkage(points, method="ward")
            children = merges[:, :2].astype(np.int64)
            internal = np.arange(n, m)
            self.left[n:], self.right[n:] = children[:, 0], children[:, 1]
            self.parent[children[:, 0]] = internal
            self.parent[children[:, 1]] = internal
            self.order = leaves_list(merges).astype(np.int64)
        self.position = np.empty(n, dtype=np.int64)
        self.position[self.order] = np.arange(n)
        self.lo[:n] = self.position
        self.hi[:n] = self.position + 1
        for node in range(n, m):
            a, b = self.left[node], self.right[node]
            self.size[node] = self.size[a] + self.size[b]
            self.lo[node] = min(self.lo[a], self.lo[b])
            self.hi[node] = max(self.hi[a], self.hi[b])
        self.reset(n_classes)

    def reset(self, n_classes: int) -> None:
        """Forget every label: the pruning is the root alone.

        Parameters
        ----------
        n_classes : int
        """
        m = self.size.shape[0]
        self.n_classes = n_classes
        self.count = np.zeros((m, n_classes), dtype=np.int64)
        self.total = np.zeros(m, dtype=np.int64)
        self.lower = np.zeros((m, n_classes))
        self.upper = np.ones((m, n_classes))
        self.best = np.full(m, NO_LABEL, dtype=np.int64)
        self.split = np.zeros(m, dtype=bool)
        self.cost = self.size.astype(np.float64)
        self.in_pruning = np.zeros(m, dtype=bool)
        self.in_pruning[m - 1] = True

    def pruning(self) -> np.ndarray:
        """The nodes of the current pruning (they partition the leaves).

        Returns
        -------
        numpy.ndarray of int64
        """
        return np.flatnonzero(self.in_pruning)

    def _refresh(self, node: int) -> None:
        """Bounds, admissible labels, best label and cost of one node (the paper's update)."""
        size, total, count = self.size[node], self.total[node], self.count[node]
        frac = count / total
        finite = 1.0 - total / size  # finite-population correction
        delta = finite / total + np.sqrt(finite * frac * (1.0 - frac) / total)
        self.lower[node] = np.maximum(count, (frac - delta) * size)
        self.upper[node] = np.minimum(size - (total - count), (frac + delta) * size)
        # label l is admissible when lower[l] > 2·upper[k] − size for every other k
        threshold = 2.0 * self.upper[node] - size
        others = np.full_like(threshold, -np.inf)
        if self.n_classes > 1:  # the largest threshold among the other labels
            second, top = np.sort(threshold)[-2:]
            others[:] = top
            others[np.argmax(threshold)] = second
        admissible = (self.lower[node] > others) & (count > 0)
        if admissible.any():
            candidates = np.where(admissible, count, -1)
            self.best[node] = int(np.argmax(candidates))
            basic = size - self.lower[node, self.best[node]]
        else:
            self.best[node] = NO_LABEL
            basic = float(size)
        if size == 1:
            self.cost[node] = basic
            self.split[node] = False
            return
        split_cost = self.cost[self.left[node]] + self.cost[self.right[node]]
        self.split[node] = bool(split_cost < basic and self.best[node] != NO_LABEL)
        self.cost[node] = split_cost if self.split[node] else basic

    def observe(self, leaf: int, label: int) -> None:
        """Add the label of ``leaf`` and refine the pruning node that holds it.

        Parameters
        ----------
        leaf : int
        label : int
            Class index in ``[0, n_classes)``.
        """
        top = leaf
        while not self.in_pruning[top]:
            top = self.parent[top]
        node = leaf
        while True:
            self.count[node, label] += 1
            self.total[node] += 1
            self._refresh(node)
            if node == top:
                break
            node = self.parent[node]
        self.in_pruning[top] = False
        stack = [top]
        while stack:
            node = stack.pop()
            if self.split[node]:
                stack.extend((self.left[node], self.right[node]))
            else:
                self.in_pruning[node] = True

    def sample(
        self, available: np.ndarray, k: int, rng: np.random.Generator, active: bool = True
    ) -> np.ndarray:
        """Draw ``k`` distinct available leaves: a pruning node, then a leaf within it.

        A pruning node ``v`` is drawn with weight ``size(v) − lower(v, best label)``
        (the number of its leaves its best label may get wrong; ``size(v)`` when no
        label is admissible) with ``active=True``, or its number of unlabeled leaves
        with ``active=False``; then one of its available leaves uniformly (the paper's
        descent by unseen-leaf counts gives the same law). Nodes without available
        leaves are skipped.

        Parameters
        ----------
        available : bool array of shape (n,)
            Leaves that may be drawn (unlabeled pool items); not modified.
        k : int
        rng : numpy.random.Generator
        active : bool, default=True

        Returns
        -------
        numpy.ndarray of shape (k,), int64
            Leaves, in draw order.
        """
        open_in_order = available[self.order].copy()
        prefix = np.concatenate([[0], np.cumsum(open_in_order)])
        nodes = self.pruning()
        left = prefix[self.hi[nodes]] - prefix[self.lo[nodes]]
        if active:
            best = self.best[nodes]
            lower = self.lower[nodes, np.maximum(best, 0)]
            weight = np.where(best == NO_LABEL, self.size[nodes], self.size[nodes] - lower)
        else:
            weight = (self.size[nodes] - self.total[nodes]).astype(np.float64)
        weight = np.maximum(weight.astype(np.float64), 0.0)
        picks = np.empty(k, dtype=np.int64)
        for step in range(k):
            usable = np.where(left > 0, weight, 0.0)
            if usable.sum() <= 0:
                usable = (left > 0).astype(np.float64)
            which = int(rng.choice(nodes.shape[0], p=usable / usable.sum()))
            node = nodes[which]
            lo, hi = self.lo[node], self.hi[node]
            spots = lo + np.flatnonzero(open_in_order[lo:hi])
            spot = int(spots[rng.integers(spots.shape[0])])
            open_in_order[spot] = False
            left[which] -= 1
            picks[step] = self.order[spot]
        return picks


class HierarchicalSampling(Strategy):
    """Hierarchical sampling: labels spread over the pruning of a cluster tree.

    Builds an agglomerative (Ward) cluster tree of the pool and the labeled items. The
    labels seen so far give, for every node, confidence bounds on the share of each
    class among its leaves (with a finite-population correction); a node is *pure
    enough* for a label when that label's lower bound beats twice every other label's
    upper bound minus the size (an admissible label). The *pruning* — a set of nodes
    that partition the data — is refined wherever splitting a node lowers the bound on
    the number of misclassified leaves. A query draws a pruning node with probability
    proportional to that bound (``size − lower bound of its best label``) and then a
    random unlabeled leaf of it, so labels go to the impure clusters. The bounds are
    conservative: until a node has enough labels for an admissible label it is not
    split, and early queries are uniform over the pool (the paper's behaviour). A node's
    split flag follows the current costs (libact sets it once and never clears it).

    Model-free: it reads only the features (``embed`` of the model when one is given,
    the raw features otherwise) and the labels. The labeled set is replayed in the
    order given — the order it was labeled in — to rebuild the bounds and the pruning
    at each query, which is the paper's sequence of updates; the tree itself is kept
    between queries (``tree_``) while the pool and labeled items are the same items.
    A batch is ``k`` draws without replacement from the same pruning (the paper labels
    one item at a time). The tree costs ``O(n²)`` memory (Ward's linkage), so at most
    ``max_items`` pool and labeled items are accepted; wrap larger pools in
    ``SubSample``.

    Parameters
    ----------
    active : bool, default=True
        Draw pruning nodes by their error bound (the paper's active rule); False draws
        them by their number of unlabeled leaves (its random rule).
    max_items : int, default=10000

    References
    ----------
    Dasgupta & Hsu (2008), "Hierarchical sampling for active learning", ICML.

    Examples
    --------
    >>> X = [[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]]
    >>> HierarchicalSampling().query(None, X, 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "hierarchical"
    needs: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = "cluster-tree pruning by label-purity bounds, sample within nodes"
    reference: ClassVar[str] = "Dasgupta & Hsu 2008"
    task: ClassVar[str] = "any"

    def __init__(self, active: bool = True, max_items: int = 10_000) -> None:
        self.active = active
        self.max_items = max_items

    def _tree(self, points: np.ndarray) -> tuple[ClusterTree, np.ndarray]:
        """The cached tree when it holds exactly these items, else a new one; and row → leaf."""
        keys = row_keys(points)
        cached = getattr(self, "tree_", None)
        if cached is not None and cached[0].n == len(keys):
            leaves: defaultdict[Any, list[int]] = defaultdict(list)
            for leaf, key in enumerate(cached[1]):
                leaves[key].append(leaf)
            try:
                mapping = np.array([leaves[key].pop() for key in keys], dtype=np.int64)
            except IndexError:
                mapping = None
            if mapping is not None:
                return cached[0], mapping
        tree = ClusterTree(points, 1)
        self.tree_ = (tree, keys)
        return tree, np.arange(len(keys), dtype=np.int64)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        limit = check_int(self.max_items, "max_items", self.name, 2)
        source = Features() if model is None else model
        if not callable(getattr(source, "embed", None)):
            source = Features()
        pool, labeled = embeddings(source, X_pool, X_labeled, self.name, dtype=np.float64)
        n_pool = pool.shape[0]
        points = pool if labeled is None else np.concatenate([pool, labeled])
        if points.shape[0] > limit:
            raise ValueError(
                f"{self.name}: {points.shape[0]} pool and labeled items exceed max_items="
                f"{limit}; the Ward tree needs O(n²) memory. Wrap the strategy in "
                f"SubSample('hierarchical', max_candidates=...) or raise max_items."
            )
        tree, leaf_of = self._tree(points)
        labels = np.zeros(0, dtype=np.int64)
        n_classes = 1
        if labeled is not None:
            if y_labeled is None or n_rows(y_labeled) != labeled.shape[0]:
                raise ValueError(
                    f"{self.name} needs y_labeled with one label per row of X_labeled."
                )
            _, labels = np.unique(np.asarray(y_labeled), return_inverse=True)
            n_classes = int(labels.max()) + 1
        tree.reset(n_classes)
        for row, label in enumerate(labels.tolist()):
            tree.observe(int(leaf_of[n_pool + row]), label)
        available = np.zeros(points.shape[0], dtype=bool)
        available[leaf_of[:n_pool]] = True
        leaves = tree.sample(available, k, rng, active=bool(self.active))
        row_of = np.empty(points.shape[0], dtype=np.int64)
        row_of[leaf_of] = np.arange(points.shape[0])
        return row_of[leaves]
