"""Greedy sampling for regression: GSx, GSy and iGS (Wu, Lin & Huang 2019).

Each pick is the pool item farthest from everything selected so far (the labeled set,
then the batch's earlier picks): in feature space (GSx), in target space with the
model's predictions for unlabeled items (GSy), or in the product of the two (iGS).
Distances are exact float64 Euclidean distances, computed in blocks of pool rows (memory
O(block · m)), then one O(n · d) pass per pick.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._diversity import argmax_random
from activelab._validation import check_int
from activelab.models import ModelAdapter
from activelab.strategies._base import Strategy, embeddings
from activelab.strategies._regression import RegressionStrategy, labeled_targets

__all__ = ["GreedySamplingTarget", "GreedySamplingX", "ImprovedGreedySampling", "greedy_sampling"]

_BLOCK_CELLS = 2_000_000  # float64 cells per distance block (16 MB)


def _euclidean(A: np.ndarray, B: np.ndarray, a_norms: np.ndarray, b_norms: np.ndarray):
    products = A @ B.T
    squared = a_norms[:, None] + b_norms[None, :] - 2.0 * products
    return np.sqrt(np.maximum(squared, 0.0))


def _pair_distance(
    mode: str,
    X: np.ndarray | None,
    norms: np.ndarray | None,
    values: np.ndarray | None,
    rows: slice,
    other_X: np.ndarray | None,
    other_norms: np.ndarray | None,
    other_values: np.ndarray | None,
) -> np.ndarray:
    """Distances of ``rows`` of the pool to every ``other`` point, in the mode's metric."""
    distance = None
    if "x" in mode:
        distance = _euclidean(X[rows], other_X, norms[rows], other_norms)
    if "y" in mode:
        gap = np.abs(values[rows][:, None] - other_values[None, :])
        distance = gap if distance is None else distance * gap
    return distance


def greedy_sampling(
    X_pool: np.ndarray | None,
    k: int,
    X_labeled: np.ndarray | None = None,
    y_pool: np.ndarray | None = None,
    y_labeled: np.ndarray | None = None,
    mode: str = "x",
    random_state: Any = None,
) -> np.ndarray:
    r"""Greedy sampling (Wu, Lin & Huang 2019): each pick maximises its distance to the
    nearest selected point.

    With :math:`S` the labeled set plus the batch so far, the next pick is
    :math:`\arg\max_{i} \min_{j \in S} d(i, j)`, where :math:`d` is
    :math:`\lVert x_i - x_j\rVert` (``mode="x"``, GSx), :math:`|y_i - y_j|` (``"y"``,
    GSy) or their product (``"xy"``, iGS); :math:`y` is the true target of a labeled point
    and the prediction (``y_pool``) of a pool item. When :math:`S` is empty, the first
    pick is the pool's medoid in that metric, :math:`\arg\min_i \sum_j d(i, j)` (as
    scikit-activeml; Wu et al. start from the point nearest the centroid).

    Parameters
    ----------
    X_pool : array of shape (n, d), optional
        Pool features; needed by modes with ``"x"``.
    k : int
    X_labeled : array of shape (m, d), optional
    y_pool : array of shape (n,), optional
        Predicted targets of the pool; needed by modes with ``"y"``.
    y_labeled : array of shape (m,), optional
        True targets of the labeled set; needed by modes with ``"y"`` when ``m > 0``.
    mode : {"x", "y", "xy"}
    random_state : int, numpy.random.Generator or None
        Breaks ties.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In pick order.

    References
    ----------
    Wu, Lin & Huang (2019), "Active learning for regression using greedy sampling",
    Information Sciences 474.

    Examples
    --------
    >>> greedy_sampling(np.array([[0.0], [1.0], [5.0]]), 1, X_labeled=np.array([[0.0]])).tolist()
    [2]
    """
    from activelab._validation import check_k, check_random_state

    if mode not in ("x", "y", "xy"):
        raise ValueError(f"greedy_sampling: mode must be 'x', 'y' or 'xy'; got {mode!r}.")
    rng = check_random_state(random_state)
    X = norms = values = None
    if "x" in mode:
        if X_pool is None:
            raise ValueError(f"greedy_sampling with mode={mode!r} needs X_pool.")
        X = np.asarray(X_pool, dtype=np.float64)
        norms = np.einsum("ij,ij->i", X, X)
        n = X.shape[0]
    if "y" in mode:
        if y_pool is None:
            raise ValueError(f"greedy_sampling with mode={mode!r} needs y_pool (predictions).")
        values = np.asarray(y_pool, dtype=np.float64).reshape(-1)
        n = values.shape[0]
    k = check_k(k, n)
    if X_labeled is not None:
        m = int(np.shape(X_labeled)[0])
    else:
        m = 0 if y_labeled is None else int(np.shape(y_labeled)[0])
    block = max(1, _BLOCK_CELLS // max(m, n, 1))
    min_distance = np.full(n, np.inf)
    if m:
        lab_X = lab_norms = lab_values = None
        if "x" in mode:
            lab_X = np.asarray(X_labeled, dtype=np.float64)
            lab_norms = np.einsum("ij,ij->i", lab_X, lab_X)
        if "y" in mode:
            if y_labeled is None:
                raise ValueError("greedy_sampling: y_labeled is needed with X_labeled.")
            lab_values = np.asarray(y_labeled, dtype=np.float64).reshape(-1)
        for start in range(0, n, block):
            rows = slice(start, min(start + block, n))
            distances = _pair_distance(mode, X, norms, values, rows, lab_X, lab_norms, lab_values)
            min_distance[rows] = distances.min(axis=1)
    picks = np.empty(k, dtype=np.int64)
    chosen = np.zeros(n, dtype=bool)
    for position in range(k):
        if np.isinf(min_distance).all():  # nothing selected yet: the medoid
            totals = np.empty(n)
            for start in range(0, n, block):
                rows = slice(start, min(start + block, n))
                totals[rows] = _pair_distance(mode, X, norms, values, rows, X, norms, values).sum(
                    axis=1
                )
            utility = -totals
        else:
            utility = min_distance.copy()
        utility[chosen] = -np.inf
        pick = argmax_random(utility, rng)
        picks[position], chosen[pick] = pick, True
        one = slice(pick, pick + 1)
        to_pick = _pair_distance(
            mode,
            X,
            norms,
            values,
            slice(0, n),
            None if X is None else X[one],
            None if norms is None else norms[one],
            None if values is None else values[one],
        )[:, 0]
        min_distance = np.minimum(min_distance, to_pick)
    return picks


class GreedySamplingX(Strategy):
    r"""GSx: greedy sampling in feature space (Wu, Lin & Huang 2019).

    Each pick is the pool item farthest from its nearest labeled (or already picked)
    item, :math:`\arg\max_i \min_{j \in S} \lVert x_i - x_j \rVert`; with nothing labeled
    the first pick is the pool's medoid (:func:`greedy_sampling`). It reads features only
    (``model.embed``, or ``X_pool`` itself with ``model=None``), so it works for any task.
    With a labeled set it is the greedy k-center rule (``coreset``), in exact float64.

    References
    ----------
    Wu, Lin & Huang (2019), "Active learning for regression using greedy sampling",
    Information Sciences 474. Yu & Kim (2010), "Passive sampling for regression", ICDM.

    Examples
    --------
    >>> GreedySamplingX().query(None, [[0.0], [1.0], [5.0]], 1, [[0.0]], [0.0]).tolist()
    [2]
    """

    name: ClassVar[str] = "gsx"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "farthest from the labeled set in feature space (GSx)"
    reference: ClassVar[str] = "Wu, Lin & Huang 2019"
    task: ClassVar[str] = "any"

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        return greedy_sampling(pool, k, X_labeled=labeled, mode="x", random_state=rng)


class GreedySamplingTarget(RegressionStrategy):
    r"""GSy: greedy sampling in target space (Wu, Lin & Huang 2019).

    Each pick maximises :math:`\min_{j \in S} |\hat y_i - y_j|`: the predicted target of
    the pool item against the true targets of the labeled set and the predictions of the
    batch's earlier picks. While fewer than ``n_gsx`` items are labeled (the labeled set
    plus earlier picks), picks are by GSx, as in the paper and scikit-activeml's
    ``GreedySamplingTarget(method="GSy")``.

    Parameters
    ----------
    n_gsx : int
        Picks by GSx until this many items are selected (scikit-activeml's
        ``n_GSx_samples``).

    References
    ----------
    Wu, Lin & Huang (2019), "Active learning for regression using greedy sampling",
    Information Sciences 474.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    >>> X_labeled, y_labeled = [[0.0], [1.0]], [0.0, 1.0]
    >>> GreedySamplingTarget().query(model, [[0.5], [4.0]], 1, X_labeled, y_labeled).tolist()
    [1]
    """

    name: ClassVar[str] = "gsy"
    needs: ClassVar[tuple[str, ...]] = ("predict", "embed")
    summary: ClassVar[str] = "farthest from the labeled targets in predicted-target space (GSy)"
    reference: ClassVar[str] = "Wu, Lin & Huang 2019"
    _mode: ClassVar[str] = "y"

    def __init__(self, n_gsx: int = 1) -> None:
        self.n_gsx = n_gsx

    def _select(self, model: ModelAdapter, X_pool, k, X_labeled, y_labeled, rng):
        n_gsx = check_int(self.n_gsx, "n_gsx", self.name, 0)
        targets = labeled_targets(X_labeled, y_labeled, self.name)
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        n_labeled = 0 if targets is None else targets.shape[0]
        by_x = max(0, min(n_gsx - n_labeled, k))
        picks = np.empty(0, dtype=np.int64)
        if by_x:
            picks = greedy_sampling(pool, by_x, X_labeled=labeled, mode="x", random_state=rng)
        if by_x == k:
            return picks
        predicted = model.predict(X_pool)
        rest = np.setdiff1d(np.arange(predicted.shape[0]), picks)
        # Earlier picks join the selected set with their predicted targets.
        sel_X = pool[picks] if labeled is None else np.vstack([labeled, pool[picks]])
        sel_y = predicted[picks] if targets is None else np.concatenate([targets, predicted[picks]])
        more = greedy_sampling(
            pool[rest],
            k - by_x,
            X_labeled=sel_X if sel_X.shape[0] else None,
            y_pool=predicted[rest],
            y_labeled=sel_y if sel_y.shape[0] else None,
            mode=self._mode,
            random_state=rng,
        )
        return np.concatenate([picks, rest[more]]).astype(np.int64)


class ImprovedGreedySampling(GreedySamplingTarget):
    r"""iGS: greedy sampling in feature and target space together (Wu, Lin & Huang 2019).

    Each pick maximises :math:`\min_{j \in S} \lVert x_i - x_j\rVert \cdot |\hat y_i - y_j|`
    — far from the selected set in both spaces. As for GSy, the first ``n_gsx`` selected
    items come by GSx (scikit-activeml's ``GreedySamplingTarget(method="GSi")``).

    Parameters
    ----------
    n_gsx : int

    References
    ----------
    Wu, Lin & Huang (2019), "Active learning for regression using greedy sampling",
    Information Sciences 474.

    Examples
    --------
    >>> from sklearn.linear_model import LinearRegression
    >>> model = LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    >>> X_labeled, y_labeled = [[0.0], [1.0]], [0.0, 1.0]
    >>> ImprovedGreedySampling().query(model, [[0.5], [4.0]], 1, X_labeled, y_labeled).tolist()
    [1]
    """

    name: ClassVar[str] = "igs"
    summary: ClassVar[str] = "farthest in feature × predicted-target distance (iGS)"
    reference: ClassVar[str] = "Wu, Lin & Huang 2019"
    _mode: ClassVar[str] = "xy"
