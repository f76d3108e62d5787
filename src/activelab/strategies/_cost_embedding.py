"""Cost-sensitive uncertainty sampling by cost embedding (ALCE, Huang & Lin 2016)."""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np

from activelab._validation import RandomStateLike, check_int, check_labels, check_number
from activelab._validation import check_random_state as _check_random_state
from activelab.models import ModelAdapter
from activelab.select import top_k
from activelab.strategies._base import Strategy, embeddings

__all__ = ["CostEmbedding", "check_cost_matrix", "embed_costs"]


def check_cost_matrix(cost_matrix: Any, n_classes: int, who: str = "cost_embedding") -> np.ndarray:
    """A cost matrix as a float64 ``(C, C)`` array, or a ValueError that says what to fix.

    Parameters
    ----------
    cost_matrix : array-like of shape (C, C) or None
        ``cost_matrix[y, y']`` is the cost of predicting ``y'`` when the truth is ``y``.
        None gives the 0/1 cost ``1 - I``.
    n_classes : int
        The number of classes ``C``.
    who : str
        The caller, for messages.

    Returns
    -------
    numpy.ndarray of shape (C, C), float64
        Non-negative and finite, zero on the diagonal, with at least one positive cost.

    Examples
    --------
    >>> check_cost_matrix(None, 2).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    if cost_matrix is None:
        return 1.0 - np.eye(n_classes)
    try:
        costs = np.asarray(cost_matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{who}: cost_matrix must be a ({n_classes}, {n_classes}) array of numbers; got "
            f"{type(cost_matrix).__name__}."
        ) from None
    if costs.shape != (n_classes, n_classes):
        raise ValueError(
            f"{who}: cost_matrix must have shape ({n_classes}, {n_classes}), one row (true "
            f"class) and one column (predicted class) per class; got shape {costs.shape}. "
            "Order rows and columns like classes (sorted labels unless classes is given)."
        )
    if not np.isfinite(costs).all():
        i, j = np.argwhere(~np.isfinite(costs))[0]
        raise ValueError(f"{who}: cost_matrix[{i}, {j}] is {costs[i, j]}; costs must be finite.")
    if (costs < 0).any():
        i, j = np.argwhere(costs < 0)[0]
        raise ValueError(
            f"{who}: cost_matrix[{i}, {j}] = {costs[i, j]:g} is negative; costs must be >= 0 "
            "(shift a matrix of rewards by its largest value to make it a cost)."
        )
    diagonal = np.diagonal(costs)
    if (diagonal != 0).any():
        i = int(np.flatnonzero(diagonal != 0)[0])
        raise ValueError(
            f"{who}: cost_matrix[{i}, {i}] = {diagonal[i]:g}, but predicting the true class "
            "must cost 0 (zero diagonal). Subtract each row's diagonal entry: "
            "C - np.diag(C)[:, None] keeps every decision's relative cost."
        )
    if not (costs > 0).any():
        raise ValueError(f"{who}: cost_matrix has no positive cost; every prediction is free.")
    return costs


@numba.njit(cache=True, nogil=True)
def _isotonic(values, weights):  # pragma: no cover - compiled
    """Weighted least-squares non-decreasing fit of ``values`` (pool adjacent violators)."""
    n = values.shape[0]
    means = np.empty(n)
    sizes = np.empty(n)
    counts = np.empty(n, dtype=np.int64)
    top = 0
    for i in range(n):
        means[top] = values[i]
        sizes[top] = weights[i]
        counts[top] = 1
        top += 1
        while top > 1 and means[top - 2] > means[top - 1]:
            total = sizes[top - 2] + sizes[top - 1]
            means[top - 2] = (
                means[top - 2] * sizes[top - 2] + means[top - 1] * sizes[top - 1]
            ) / total
            sizes[top - 2] = total
            counts[top - 2] += counts[top - 1]
            top -= 1
    out = np.empty(n)
    position = 0
    for block in range(top):
        for _ in range(counts[block]):
            out[position] = means[block]
            position += 1
    return out


def _distances(points: np.ndarray) -> np.ndarray:
    squared = np.einsum("ij,ij->i", points, points)
    gram = squared[:, None] + squared[None, :] - 2.0 * points @ points.T
    return np.sqrt(np.maximum(gram, 0.0))


def _smacof(
    dissimilarity: np.ndarray,
    weights: np.ndarray,
    init: np.ndarray,
    max_iter: int,
    tol: float,
    metric: bool,
) -> tuple[np.ndarray, float]:
    r"""Weighted SMACOF from ``init``; returns the configuration and its stress.

    Stress :math:`\sum_{i<j} w_{ij} (d_{ij}(X) - \hat d_{ij})^2`. Metric: the
    disparities :math:`\hat d` are the dissimilarities. Non-metric: the isotonic
    (monotone increasing) regression of the distances on the positive dissimilarities
    (tied dissimilarities get equal disparities), zero for zero dissimilarities. Either
    way they are scaled to :math:`\sum w \hat d^2 = \sum w`. Each step is the weighted
    Guttman transform :math:`X \leftarrow V^+ B(X) X` (Borg & Groenen 2005, ch. 8–9).
    """
    n = init.shape[0]
    rows, cols = np.nonzero(np.triu(weights > 0, k=1))
    w = weights[rows, cols]
    delta = dissimilarity[rows, cols]
    positive = delta > 0
    laplacian = -weights.copy()
    np.fill_diagonal(laplacian, 0.0)
    np.fill_diagonal(laplacian, -laplacian.sum(axis=1))
    ones = np.full((n, n), 1.0 / n)
    v_plus = np.linalg.inv(laplacian + ones) - ones  # Moore–Penrose inverse of V
    # Tied dissimilarities share one disparity: regress the mean distance of each level.
    levels, level_of = np.unique(delta[positive], return_inverse=True)
    level_size = np.bincount(level_of, minlength=levels.shape[0]).astype(np.float64)
    X = init.copy()
    previous = np.inf
    stress = np.inf
    for _ in range(max_iter):
        d = _distances(X)[rows, cols]
        if metric:
            disparity = delta.copy()
        else:
            disparity = np.zeros_like(d)
            if levels.shape[0]:
                means = np.bincount(level_of, weights=d[positive]) / level_size
                fitted = _isotonic(means, level_size)
                disparity[positive] = fitted[level_of]
        scale = np.sum(w * disparity**2)
        if scale > 0:
            disparity *= np.sqrt(w.sum() / scale)
        stress = float(np.sum(w * (d - disparity) ** 2))
        if np.isfinite(previous) and previous - stress <= tol * previous:
            break
        previous = stress
        ratio = np.zeros((n, n))
        ratio[rows, cols] = np.where(d > 0, w * disparity / np.where(d > 0, d, 1.0), 0.0)
        ratio += ratio.T
        B = -ratio
        np.fill_diagonal(B, ratio.sum(axis=1))
        X = v_plus @ (B @ X)
    return X, stress


def embed_costs(
    cost_matrix: Any,
    embed_dim: int | None = None,
    *,
    n_init: int = 8,
    max_iter: int = 300,
    tol: float = 1e-6,
    metric: bool = True,
    random_state: RandomStateLike = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Embed a cost matrix: one point per true class and one per predicted class.

    ALCE's embedding (Huang & Lin 2016): :math:`2C` points, :math:`z_y` for the true
    classes and :math:`\hat z_{y'}` for the predictions, placed by multidimensional
    scaling (weighted SMACOF) so that the distance :math:`\lVert z_y - \hat z_{y'}
    \rVert` follows the cost :math:`C[y, y']`. Only the :math:`C^2` true–prediction
    pairs enter the stress (the "partial" MDS of the paper's code), so an asymmetric cost
    embeds as it is. The :math:`C` zero-cost pairs :math:`(z_y, \hat z_y)` weigh
    :math:`C` times as much as the others, as much as all of them together, so that an
    item regressed exactly onto :math:`z_y` is predicted as :math:`y`.

    The paper fits non-metric MDS (distances only monotone in the costs), but non-metric
    stress has a degenerate minimum: the regular simplex, :math:`z_y = \hat z_y` with
    all other distances equal, fits *any* cost with a zero diagonal at zero stress, and
    SMACOF falls into it (or into partial merges of cost levels) for many matrices. In
    our runs on 40 random integer costs with 3–7 classes about a quarter of the
    non-metric fits collapsed to the simplex, which turns ALCE into its 0/1-cost version
    whatever the costs; scikit-activeml's and libact's implementations do the same. So by
    default (``metric=True``) the embedding is metric MDS, distances proportional to the
    costs as far as they embed (best of ``n_init`` random starts, uniform in the unit
    cube as the peers start): it keeps the cost ranking (mean Spearman correlation 0.87
    in the same runs) and never collapsed. ``metric=False`` refines that metric fit
    non-metrically, as the paper does.

    The result is scaled so that its distances fit :math:`C / \max C` in least squares:
    distances are in units of the largest cost, whatever the costs' own unit, which keeps
    absolute tolerances of the regressor (SVR's ``epsilon``) meaningful. With the 0/1
    cost every off-diagonal pair has the same dissimilarity, so the optimum puts
    :math:`z_y = \hat z_y` on the vertices of a regular simplex of edge 1.

    Parameters
    ----------
    cost_matrix : array-like of shape (C, C)
        Checked by :func:`check_cost_matrix`; ``1 - np.eye(C)`` is the 0/1 cost.
    embed_dim : int, optional
        Dimension of the embedding; default ``C``.
    n_init : int, default=8
        Random starts.
    max_iter : int, default=300
        SMACOF iterations per start.
    tol : float, default=1e-6
        Stop a start when the stress falls by less than this fraction.
    metric : bool, default=True
        Metric MDS of the costs; False refines it by non-metric MDS (the paper's choice,
        prone to the degenerate simplex, see above).
    random_state : int, numpy.random.Generator or None
        Seeds the starts.

    Returns
    -------
    true_points : numpy.ndarray of shape (C, embed_dim)
        :math:`z_y`, the regression target of an item of class ``y``.
    predicted_points : numpy.ndarray of shape (C, embed_dim)
        :math:`\hat z_{y'}`; an embedded item is predicted as the class of the nearest.

    References
    ----------
    Huang & Lin (2016), "A novel uncertainty sampling algorithm for cost-sensitive
    multiclass active learning", IEEE ICDM, pp. 925–930.
    Borg & Groenen (2005), "Modern multidimensional scaling", 2nd ed., Springer.

    Examples
    --------
    >>> true_points, predicted = embed_costs(1 - np.eye(3), random_state=0)
    >>> bool(np.allclose(true_points, predicted, atol=1e-3))
    True
    """
    try:
        costs = np.asarray(cost_matrix, dtype=np.float64)
    except (TypeError, ValueError):
        costs = np.empty(0)
    if costs.ndim != 2:
        raise ValueError(
            "embed_costs needs a square cost matrix of shape (C, C) (for the 0/1 cost pass "
            f"1 - np.eye(C)); got {cost_matrix!r}."
        )
    costs = check_cost_matrix(costs, costs.shape[0], "embed_costs")
    rng = _check_random_state(random_state)
    return _embed(costs, embed_dim, n_init, max_iter, tol, metric, rng, "embed_costs")


def _embed(costs, embed_dim, n_init, max_iter, tol, metric, rng, who):
    n_classes = costs.shape[0]
    dim = n_classes if embed_dim is None else check_int(embed_dim, "embed_dim", who, 1)
    n_init = check_int(n_init, "n_init", who, 1)
    max_iter = check_int(max_iter, "max_iter", who, 1)
    tol = check_number(tol, "tol", who, 0.0)
    dissimilarity = np.zeros((2 * n_classes, 2 * n_classes))
    dissimilarity[:n_classes, n_classes:] = costs
    dissimilarity[n_classes:, :n_classes] = costs.T
    weights = np.zeros_like(dissimilarity)
    weights[:n_classes, n_classes:] = 1.0
    weights[n_classes:, :n_classes] = 1.0
    own = np.arange(n_classes)
    weights[own, n_classes + own] = weights[n_classes + own, own] = float(n_classes)
    best, best_stress = None, np.inf
    for _ in range(n_init):
        init = rng.random((2 * n_classes, dim))
        points, stress = _smacof(dissimilarity, weights, init, max_iter, tol, metric=True)
        if stress < best_stress:
            best, best_stress = points, stress
    if not metric:
        best, _ = _smacof(dissimilarity, weights, best, max_iter, tol, metric=False)
    # In units of the largest cost: the least-squares scale of the distances to C / max C.
    true_points, predicted = best[:n_classes], best[n_classes:]
    off = ~np.eye(n_classes, dtype=bool)
    distances = np.linalg.norm(true_points[:, None, :] - predicted[None, :, :], axis=2)[off]
    target = costs[off] / costs.max()
    if distances @ distances > 0:
        best = best * ((distances @ target) / (distances @ distances))
    return best[:n_classes], best[n_classes:]


def _classes(model: ModelAdapter, y: np.ndarray, classes: Any) -> np.ndarray:
    """The classes in cost-matrix order: given, the model's, or the sorted labels."""
    if classes is not None:
        return np.asarray(classes)
    known = getattr(model, "classes_", None)
    if known is not None:
        return np.asarray(known)
    return np.unique(y)


def _positions(y: np.ndarray, classes: np.ndarray, who: str) -> np.ndarray:
    """Index of each label in ``classes``; a ValueError naming unknown labels."""
    order = np.argsort(classes, kind="stable")
    found = np.searchsorted(classes[order], y)
    found = np.clip(found, 0, classes.shape[0] - 1)
    positions = order[found]
    unknown = classes[positions] != y
    if unknown.any():
        raise ValueError(
            f"{who}: y_labeled holds labels {np.unique(y[unknown]).tolist()} that are not in "
            f"the classes {classes.tolist()}; pass classes= listing every label, in the "
            "order of the cost matrix's rows."
        )
    return positions


class CostEmbedding(Strategy):
    r"""Cost-sensitive uncertainty sampling by cost embedding (ALCE).

    Huang & Lin (2016) turn a cost matrix :math:`C` (``C[y, y']``: the cost of predicting
    :math:`y'` when the truth is :math:`y`) into geometry: :func:`embed_costs` places a
    point :math:`z_y` per true class and :math:`\hat z_{y'}` per prediction by
    multidimensional scaling, so that :math:`\lVert z_y - \hat z_{y'} \rVert` grows with
    :math:`C[y, y']` (metric MDS by default; the paper's non-metric MDS with
    ``metric=False``, see :func:`embed_costs` for why it is not the default). One
    regressor per embedding dimension (``regressor``, cloned; scikit-learn's ``SVR()`` by
    default) learns :math:`g(x) \approx z_{y(x)}` on the labeled set; an item is predicted
    as the class of the nearest :math:`\hat z`, and its cost-sensitive uncertainty is how
    far it is from any prediction point,

    .. math:: u(x) = \min_{y'} \lVert g(x) - \hat z_{y'} \rVert .

    The ``k`` most uncertain items are queried, ties at random. As in the paper and the
    peers, the strategy fits its own regressors on the labeled set at every query (the
    classifier the loop trains is not used); features come from ``model.embed`` (a
    Pipeline's features before its last step, or numeric ``X_pool``; with ``model=None``
    the raw features).

    With the default 0/1 cost every wrong prediction costs the same, the embedding is a
    regular simplex with :math:`z_y = \hat z_y`, and ALCE reduces to uncertainty sampling
    for a regression-coded multiclass classifier: the distance from the regressed code
    :math:`g(x)` to the nearest class vertex.

    Without a labeled set (``X_labeled`` None or empty) there is nothing to regress, every
    item gets utility 0 and the batch is uniformly random (the peers pick at random too).

    Differences from the peers: scikit-activeml's ``CostEmbeddingAL`` and libact's
    ``ALCE`` fit non-metric MDS from 8 random starts and keep the least stress, which
    for many cost matrices is the degenerate simplex, i.e. the 0/1 cost (see
    :func:`embed_costs`); ``metric=False`` is closest to them (non-metric, started from
    the metric fit). Their utility is the same nearest-prediction-point distance. The
    embedding's scale and orientation differ, so with a regressor that is not
    rotation-equivariant (SVR) the picks differ a little even for the 0/1 cost; with
    least squares (e.g. ``LinearRegression()``) they coincide.

    Parameters
    ----------
    cost_matrix : array-like of shape (C, C), optional
        Non-negative, zero on the diagonal, rows and columns in the order of
        ``classes``. Default: the 0/1 cost ``1 - I``.
    regressor : scikit-learn regressor, optional
        Cloned once per embedding dimension; default ``SVR()``. A ``random_state`` left
        None is seeded from the query's generator.
    embed_dim : int, optional
        Embedding dimension; default the number of classes.
    classes : array-like, optional
        All classes, in cost-matrix order. Default: the model's ``classes_`` when it
        has them, else the sorted labels of ``y_labeled``.
    n_init, max_iter, tol, metric
        Passed to :func:`embed_costs`.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the most uncertain first.

    References
    ----------
    Huang & Lin (2016), "A novel uncertainty sampling algorithm for cost-sensitive
    multiclass active learning", IEEE ICDM, pp. 925–930.

    Examples
    --------
    >>> X_labeled = [[0.0], [0.2], [2.0], [2.2], [4.0], [4.2]]
    >>> y_labeled = [0, 0, 1, 1, 2, 2]
    >>> strategy = CostEmbedding(cost_matrix=[[0, 1, 4], [1, 0, 1], [4, 1, 0]])
    >>> strategy.query(None, [[0.1], [1.0], [4.1]], 1, X_labeled, y_labeled, 0).tolist()
    [1]
    """

    name: ClassVar[str] = "cost_embedding"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "cost-sensitive uncertainty: distance to the nearest embedded class"
    reference: ClassVar[str] = "Huang & Lin 2016 (ICDM), ALCE"

    def __init__(
        self,
        cost_matrix: Any = None,
        regressor: Any = None,
        embed_dim: int | None = None,
        classes: Any = None,
        n_init: int = 8,
        max_iter: int = 300,
        tol: float = 1e-6,
        metric: bool = True,
    ) -> None:
        self.cost_matrix = cost_matrix
        self.regressor = regressor
        self.embed_dim = embed_dim
        self.classes = classes
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.metric = metric

    def utilities(
        self,
        model: Any,
        X_pool: Any,
        X_labeled: Any,
        y_labeled: Any,
        random_state: RandomStateLike = None,
    ) -> np.ndarray:
        """Distance of each pool item's regressed embedding to the nearest prediction point.

        Parameters
        ----------
        model : fitted estimator, ModelAdapter or None
            Its ``embed`` (and ``classes_``, when it has them) are used.
        X_pool, X_labeled : array-like, sparse matrix or DataFrame
        y_labeled : array-like of shape (m,)
        random_state : int, numpy.random.Generator or None
            Seeds the embedding's starts and the regressors.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        rng = _check_random_state(random_state)
        return self._scores(self._adapter(model), X_pool, X_labeled, y_labeled, rng)

    def _scores(self, model, X_pool, X_labeled, y_labeled, rng) -> np.ndarray:
        from sklearn.base import clone
        from sklearn.svm import SVR

        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        if labeled is None:
            return np.zeros(pool.shape[0])
        if y_labeled is None:
            raise ValueError(
                f"{self.name} needs the labels of X_labeled; got y_labeled=None. Pass them: "
                "query(model, X_pool, k, X_labeled, y_labeled)."
            )
        y = check_labels(y_labeled, labeled.shape[0], name="y_labeled")
        classes = _classes(model, y, self.classes)
        costs = check_cost_matrix(self.cost_matrix, classes.shape[0], self.name)
        targets, predicted = _embed(
            costs,
            self.embed_dim,
            self.n_init,
            self.max_iter,
            self.tol,
            self.metric,
            rng,
            self.name,
        )
        targets = targets[_positions(y, classes, self.name)]
        base = SVR() if self.regressor is None else self.regressor
        if not callable(getattr(base, "fit", None)) or not callable(getattr(base, "predict", None)):
            raise TypeError(
                f"{self.name}: regressor must be a scikit-learn regressor with fit and "
                f"predict (e.g. SVR(), Ridge()); got {type(base).__name__}."
            )
        regressed = np.empty((pool.shape[0], targets.shape[1]))
        for dim in range(targets.shape[1]):
            regressor = clone(base, safe=False)
            params = regressor.get_params() if hasattr(regressor, "get_params") else {}
            if "random_state" in params and params["random_state"] is None:
                regressor.set_params(random_state=int(rng.integers(2**31 - 1)))
            regressor.fit(labeled, targets[:, dim])
            regressed[:, dim] = np.asarray(regressor.predict(pool), dtype=np.float64)
        squared = (
            np.einsum("ij,ij->i", regressed, regressed)[:, None]
            + np.einsum("ij,ij->i", predicted, predicted)[None, :]
            - 2.0 * regressed @ predicted.T
        )
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(self._scores(model, X_pool, X_labeled, y_labeled, rng), k, rng)
