"""Regression strategies on predictive spread: variance, query-by-committee, forest intervals.

Also the base class of every regression strategy (:class:`RegressionStrategy`), which
refuses a classifier with a TypeError that says what to pass instead, and the shared
check of numeric targets.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._validation import check_number, check_scores, n_rows
from activelab.models import ModelAdapter, wrap
from activelab.models._regression import is_regression_adapter
from activelab.select import top_k
from activelab.strategies._base import ScoreStrategy, Strategy

__all__ = [
    "IntervalWidth",
    "PredictiveVariance",
    "QueryByCommitteeRegression",
    "RegressionStrategy",
    "committee_variance",
    "quantile_forest_width",
]


def check_targets(y: Any, n: int, who: str) -> np.ndarray:
    """Numeric regression targets as a finite float64 vector of length ``n``, or raise.

    Parameters
    ----------
    y : array-like of shape (n,)
    n : int
        The number of labeled rows.
    who : str
        The strategy, for messages.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
    """
    array = np.asarray(y)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(
            f"{who} needs one numeric target per labeled row: {n} values; got shape {array.shape}."
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(
            f"{who} is a regression strategy and needs numeric targets; y_labeled has dtype "
            f"{array.dtype}. For class labels use a classification strategy."
        )
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"{who}: y_labeled[{bad}] is {values[bad]}; targets must be finite.")
    return values


def labeled_targets(X_labeled: Any, y_labeled: Any, who: str) -> np.ndarray | None:
    """The labeled targets (checked), or None when there is no labeled set."""
    if X_labeled is None or n_rows(X_labeled) == 0:
        return None
    if y_labeled is None:
        raise ValueError(f"{who} needs y_labeled with X_labeled (the labeled targets).")
    return check_targets(y_labeled, n_rows(X_labeled), who)


class RegressionStrategy(Strategy):
    """Base of the regression strategies: ``task = "regression"``, and a regressor check.

    A classifier (anything wrapped into an adapter with class probabilities) is refused
    with a TypeError that names the capability needed and what provides it.
    """

    task: ClassVar[str] = "regression"

    def _adapter(self, model: Any) -> ModelAdapter | None:
        if not self.needs or model is None:
            return super()._adapter(model)
        adapter = wrap(model)
        if not is_regression_adapter(adapter):
            raise TypeError(
                f"{self.name} is a regression strategy: it needs "
                f"{', '.join(repr(n) for n in self.needs)} from a regressor, and "
                f"{adapter.describe()} is a classifier. Pass a regressor (e.g. "
                "GaussianProcessRegressor, RandomForestRegressor, or "
                "al.models.RegressionCommittee), or use a classification strategy such as "
                "'margin'."
            )
        for capability in self.needs:
            adapter.require(capability, self.name)
        return adapter


class _RegressionScoreStrategy(RegressionStrategy, ScoreStrategy):
    """A regression strategy that scores each pool item; picks by ``sampling``."""


def committee_variance(samples: np.ndarray) -> np.ndarray:
    r"""Variance of the committee's predictions per item (Burbidge et al. 2007).

    :math:`u(x) = \frac{1}{m}\sum_{j=1}^{m} (f_j(x) - \bar f(x))^2`.

    Parameters
    ----------
    samples : array of shape (m, n)
        Each member's prediction of each pool item; ``m >= 2``.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    Examples
    --------
    >>> committee_variance(np.array([[0.0, 1.0], [2.0, 1.0]])).tolist()
    [1.0, 0.0]
    """
    values = np.asarray(samples, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] < 2:
        raise ValueError(
            "committee_variance needs member predictions of shape (m, n) with m >= 2; got "
            f"shape {values.shape}. Stack them: np.stack([m.predict(X) for m in members])."
        )
    if not np.isfinite(values).all():
        raise ValueError("committee_variance: the member predictions contain NaN or inf.")
    return values.var(axis=0)


class PredictiveVariance(_RegressionScoreStrategy):
    r"""Query the items whose prediction is most uncertain: largest predictive variance.

    :math:`u(x) = \sigma^2(x)`, the model's predictive variance: a Gaussian process's
    posterior variance (MacKay 1992's maximum-variance rule, Seo et al. 2000's ALM), a
    Bayesian linear model's, or the spread of an ensemble's members (committee or
    bagging variance; for a committee of models with their own std, the mixture's).

    Parameters
    ----------
    sampling : {"top", "softmax", "power", "softrank"}
    temperature : float

    References
    ----------
    MacKay (1992), "Information-based objective functions for active data selection",
    Neural Computation. Seo, Wallat, Graepel & Obermayer (2000), "Gaussian process
    regression: active data selection and test point rejection", IJCNN.

    Examples
    --------
    >>> from sklearn.gaussian_process import GaussianProcessRegressor
    >>> gp = GaussianProcessRegressor().fit([[0.0], [1.0]], [0.0, 1.0])
    >>> PredictiveVariance().query(gp, [[0.5], [3.0]], 1, random_state=0).tolist()
    [1]
    """

    name: ClassVar[str] = "variance"
    needs: ClassVar[tuple[str, ...]] = ("predict_std",)
    summary: ClassVar[str] = "largest predictive variance (GP, Bayesian linear, ensemble spread)"
    reference: ClassVar[str] = "MacKay 1992; Seo et al. 2000"

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        std = check_scores(model.predict_std(X_pool), name=f"{self.name}: predict_std")
        return std**2


class QueryByCommitteeRegression(_RegressionScoreStrategy):
    r"""Query-by-committee for regression: the variance of the members' predictions.

    :math:`u(x) = \frac1m \sum_j (f_j(x) - \bar f(x))^2` (:func:`committee_variance`), with
    the members of a forest, a bagging ensemble or an :class:`~activelab.models.
    RegressionCommittee`. Unlike ``variance``, it ignores the members' own predictive
    noise: only their disagreement counts.

    Parameters
    ----------
    sampling : {"top", "softmax", "power", "softrank"}
    temperature : float

    References
    ----------
    Burbidge, Rowland & King (2007), "Active learning for regression based on query by
    committee", IDEAL. RayChaudhuri & Hamey (1995), "Minimisation of data collection by
    active learning", ICNN.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> forest = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, [0, 1, 4, 9])
    >>> QueryByCommitteeRegression().query(forest, [[1.5], [9.0]], 1, random_state=0).shape
    (1,)
    """

    name: ClassVar[str] = "qbc_regression"
    needs: ClassVar[tuple[str, ...]] = ("sample_predict",)
    summary: ClassVar[str] = "variance of the committee members' predictions"
    reference: ClassVar[str] = "Burbidge et al. 2007; RayChaudhuri & Hamey 1995"

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        return committee_variance(model.sample_predict(X_pool))


def _weighted_quantile_block(
    weights: np.ndarray, sorted_targets: np.ndarray, quantiles: np.ndarray
) -> np.ndarray:
    """Quantiles ``inf{y : F(y) >= q}`` of each row's weighted empirical distribution."""
    cumulative = np.cumsum(weights, axis=1)
    cumulative /= cumulative[:, -1:]
    last = sorted_targets.shape[0] - 1
    out = np.empty((weights.shape[0], quantiles.shape[0]))
    for column, q in enumerate(quantiles):
        position = np.minimum((cumulative < q - 1e-12).sum(axis=1), last)
        out[:, column] = sorted_targets[position]
    return out


def quantile_forest_width(
    pool_leaves: np.ndarray,
    train_leaves: np.ndarray,
    y_train: np.ndarray,
    coverage: float = 0.8,
) -> np.ndarray:
    r"""Width of each item's central prediction interval by a quantile regression forest.

    Meinshausen (2006): the forest's conditional distribution of :math:`y` at :math:`x` is
    the weighted empirical distribution of the training targets, with weights
    :math:`w_i(x) = \frac1T \sum_t \frac{1[X_i \in \ell_t(x)]}{|\{j : X_j \in \ell_t(x)\}|}`
    (:math:`\ell_t(x)` the leaf of :math:`x` in tree :math:`t`). The width is
    :math:`Q_{(1+c)/2}(x) - Q_{(1-c)/2}(x)` for coverage :math:`c`, with
    :math:`Q_\alpha(x) = \inf\{y : \sum_i w_i(x) 1[Y_i \le y] \ge \alpha\}`. Trees in which
    no training row shares the item's leaf are left out of its average.

    Works in blocks of pool rows (memory O(block · m)), T passes per block.

    Parameters
    ----------
    pool_leaves : int array of shape (n, T)
        Leaf of each pool item in each tree (``forest.apply(X_pool)``).
    train_leaves : int array of shape (m, T)
        Leaf of each training row in each tree.
    y_train : array of shape (m,)
        Training targets.
    coverage : float in (0, 1)

    Returns
    -------
    numpy.ndarray of shape (n,), float64, non-negative

    References
    ----------
    Meinshausen (2006), "Quantile regression forests", JMLR 7.

    Examples
    --------
    >>> leaves = np.array([[1], [2]])
    >>> quantile_forest_width(leaves, np.array([[1], [1], [2]]), np.array([0.0, 4.0, 1.0]),
    ...                       coverage=0.5).tolist()
    [4.0, 0.0]
    """
    coverage = check_number(coverage, "coverage", "quantile_forest_width", 0.0, 1.0, open_low=True)
    pool_leaves = np.asarray(pool_leaves, dtype=np.int64)
    train_leaves = np.asarray(train_leaves, dtype=np.int64)
    targets = np.asarray(y_train, dtype=np.float64)
    if pool_leaves.ndim != 2 or train_leaves.ndim != 2:
        raise ValueError("quantile_forest_width needs leaf arrays of shape (n, T) and (m, T).")
    if pool_leaves.shape[1] != train_leaves.shape[1] or train_leaves.shape[0] != targets.shape[0]:
        raise ValueError(
            "quantile_forest_width: the pool and training leaves need the same trees and one "
            f"target per training row; got {pool_leaves.shape}, {train_leaves.shape}, "
            f"{targets.shape}."
        )
    order = np.argsort(targets, kind="stable")
    sorted_targets = targets[order]
    train_sorted = train_leaves[order]
    n_leaves = int(max(pool_leaves.max(initial=0), train_leaves.max(initial=0))) + 1
    counts = [
        np.bincount(train_sorted[:, t], minlength=n_leaves) for t in range(train_leaves.shape[1])
    ]
    quantiles = np.array([(1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0])
    n, m = pool_leaves.shape[0], targets.shape[0]
    block = max(1, min(n, 2_000_000 // max(m, 1)))
    widths = np.empty(n, dtype=np.float64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        weights = np.zeros((stop - start, m))
        for t, count in enumerate(counts):
            leaf = pool_leaves[start:stop, t]
            size = count[leaf].astype(np.float64)
            share = np.divide(1.0, size, out=np.zeros_like(size), where=size > 0)
            weights += (leaf[:, None] == train_sorted[None, :, t]) * share[:, None]
        empty = weights.sum(axis=1) <= 0
        weights[empty] = 1.0  # no tree shares a leaf with it: the marginal distribution
        bounds = _weighted_quantile_block(weights, sorted_targets, quantiles)
        widths[start:stop] = bounds[:, 1] - bounds[:, 0]
    return widths


class IntervalWidth(RegressionStrategy):
    r"""Query the items with the widest central prediction interval of a forest.

    ``method="qrf"``: the interval of a quantile regression forest (Meinshausen 2006)
    built from a fitted RandomForestRegressor / ExtraTreesRegressor and the labeled set
    (:func:`quantile_forest_width`). ``method="members"``: the empirical quantiles of the
    members' predictions (any ensemble: bagging, committees). The width of an interval of
    coverage :math:`c` is the uncertainty; intervals, unlike the variance, are robust to
    skewed or heavy-tailed predictive distributions.

    Parameters
    ----------
    coverage : float in (0, 1)
        Probability mass of the central interval.
    method : {"qrf", "members"}

    References
    ----------
    Meinshausen (2006), "Quantile regression forests", JMLR 7.

    Examples
    --------
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> X, y = np.arange(8.0).reshape(-1, 1), np.arange(8.0) ** 2
    >>> forest = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    >>> IntervalWidth().query(forest, [[0.5], [6.5]], 1, X, y, random_state=0).tolist()
    [1]
    """

    name: ClassVar[str] = "interval_width"
    needs: ClassVar[tuple[str, ...]] = ("sample_predict",)
    summary: ClassVar[str] = "widest central prediction interval (quantile regression forest)"
    reference: ClassVar[str] = "Meinshausen 2006"

    def __init__(self, coverage: float = 0.8, method: str = "qrf") -> None:
        self.coverage = coverage
        self.method = method

    def utilities(
        self, model: Any, X_pool: Any, X_labeled: Any = None, y_labeled: Any = None
    ) -> np.ndarray:
        """Interval width of each pool item.

        Parameters
        ----------
        model : fitted forest or ensemble, or an adapter
        X_pool : array-like
        X_labeled, y_labeled : optional
            The forest's training data; needed by ``method="qrf"``.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._widths(self._adapter(model), X_pool, X_labeled, y_labeled)

    def _widths(self, model, X_pool, X_labeled, y_labeled) -> np.ndarray:
        coverage = check_number(self.coverage, "coverage", self.name, 0.0, 1.0, open_low=True)
        if coverage >= 1.0:
            raise ValueError(f"{self.name}: coverage must be below 1; got {coverage}.")
        if self.method == "members":
            samples = model.sample_predict(X_pool)
            low, high = np.quantile(samples, [(1 - coverage) / 2, (1 + coverage) / 2], axis=0)
            return high - low
        if self.method != "qrf":
            raise ValueError(
                f"{self.name}: method must be 'qrf' or 'members'; got {self.method!r}."
            )
        model.require("apply", f"{self.name} with method='qrf' (use method='members' otherwise)")
        targets = labeled_targets(X_labeled, y_labeled, self.name)
        if targets is None:
            raise ValueError(
                f"{self.name} with method='qrf' needs the forest's labeled set (X_labeled, "
                "y_labeled) to weigh its targets; pass them, or use method='members'."
            )
        return quantile_forest_width(model.apply(X_pool), model.apply(X_labeled), targets, coverage)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(self._widths(model, X_pool, X_labeled, y_labeled), k, rng)
