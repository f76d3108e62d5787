"""Cost-aware selection: any score strategy's utilities per unit of annotation cost."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._validation import n_rows
from activelab.costs import check_costs, knapsack
from activelab.select import _top_k
from activelab.strategies._base import ScoreStrategy, Strategy
from activelab.strategies._wrappers import _resolve, _WrappedNeeds

__all__ = ["CostAware"]


class CostAware(Strategy):
    """Pick by utility per cost, or the most useful batch a cost budget buys.

    Scores the pool with a score strategy, prices each item with ``cost``, and then

    - without ``budget``: the ``k`` items of highest utility per cost, the return on
      investment rule of Haertel et al. (2008) and Settles et al. (2008);
    - with ``budget``: the batch of at most ``k`` items, costing at most ``budget``, of
      greatest total utility (a 0/1 knapsack, :func:`activelab.costs.knapsack`), which
      can be fewer than ``k`` items when the budget runs out first.

    Utilities are shifted so the smallest in the pool is 0 when any is negative (a ratio
    needs a utility that cannot go below nothing); the order of the base strategy is
    kept. With every cost equal the picks are the base strategy's top ``k``.

    Parameters
    ----------
    strategy : str or ScoreStrategy, default="margin"
        A registry name or a score strategy object (its ``sampling`` is ignored: the
        selection is by ratio or knapsack).
    cost : callable, fitted cost model, array or None
        Price of each pool item: ``cost(X_pool) -> (n,)`` costs, an object with
        ``predict`` (e.g. a fitted :class:`activelab.costs.AnnotationCostModel`), an
        array with one cost per pool item, or None for unit costs.
        :func:`activelab.simulate` with ``costs=`` fills it in each round.
    budget : float, optional
        Cost limit of one batch.
    method : {"auto", "exact", "greedy"}
        How the knapsack is solved (see :func:`activelab.costs.knapsack`).

    References
    ----------
    Haertel, Seppi, Ringger & Carroll (2008), "Return on investment for active
    learning", NIPS Workshop on Cost-Sensitive Learning. Settles, Craven & Friedland
    (2008), "Active learning with real annotation costs". ALiPy's cost-sensitive
    selection (``select_Knapsack_01``, ``select_POSS``; Tang, Huang et al. 2019).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> pool = np.array([[2.0], [2.1], [0.0]])
    >>> CostAware("margin", cost=[10.0, 1.0, 1.0]).query(model, pool, 1).tolist()
    [1]
    """

    name: ClassVar[str] = "cost_aware"
    needs = _WrappedNeeds()  # type: ignore[assignment]
    summary: ClassVar[str] = (
        "a score strategy's utility per annotation cost, or a knapsack within a cost budget"
    )
    reference: ClassVar[str] = "Haertel et al. 2008; Settles et al. 2008; ALiPy knapsack"
    default_strategy: ClassVar[str] = "margin"

    def __init__(
        self,
        strategy: Any = "margin",
        cost: Any = None,
        budget: float | None = None,
        method: str = "auto",
    ) -> None:
        self.strategy = strategy
        self.cost = cost
        self.budget = budget
        self.method = method

    def _inner(self) -> ScoreStrategy:
        inner = _resolve(self.strategy, self.name)
        if not isinstance(inner, ScoreStrategy):
            raise TypeError(
                f"{self.name} divides utilities by costs, which needs a score strategy "
                f"(margin, entropy, bald, …); {inner.name or type(inner).__name__} picks a "
                "batch without per-item utilities."
            )
        return inner

    def costs(self, X_pool: Any) -> np.ndarray:
        """The price of each pool item under ``cost``.

        Parameters
        ----------
        X_pool : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        n = n_rows(X_pool)
        if self.cost is None:
            return np.ones(n)
        if hasattr(self.cost, "predict"):
            prices = self.cost.predict(X_pool)
        elif callable(self.cost):
            prices = self.cost(X_pool)
        else:
            prices = self.cost
        return check_costs(prices, n, name=f"{self.name}: cost")

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        inner = self._inner()
        utilities = np.asarray(inner._utilities(model, X_pool), dtype=np.float64)
        if not np.all(np.isfinite(utilities)):
            raise ValueError(
                f"{self.name}: {inner.name} gave non-finite utilities; cost-aware selection "
                "needs finite ones."
            )
        prices = self.costs(X_pool)
        low = float(utilities.min())
        if low < 0:
            utilities = utilities - low
        if self.budget is None:
            return _top_k(utilities / prices, k, rng)
        chosen = knapsack(utilities, prices, self.budget, max_items=k, method=self.method)
        if chosen.size:
            return chosen
        cheapest = int(np.argmin(prices))
        if prices[cheapest] > self.budget:
            raise ValueError(
                f"{self.name}: budget={self.budget!r} is below the cheapest pool item's cost "
                f"({prices[cheapest]:.6g}); raise the budget or price items lower."
            )
        return np.array([cheapest], dtype=np.int64)  # every utility is 0: any item is as good
