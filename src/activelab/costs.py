"""Annotation costs: budgeted batch selection and cost models learnt from annotation times.

When items cost different amounts to label (long documents, crowded images, a slow
assay), the batch to ask for is the one that buys the most utility for the money, not
the ``k`` best items. Three selectors share one contract (utilities and costs in, the
chosen indices out, best utility per cost first):

- :func:`knapsack` with ``method="exact"`` solves the 0/1 knapsack problem exactly as a
  mixed-integer programme (scipy's HiGHS branch and bound);
- ``method="greedy"`` takes items by utility per cost while they fit and returns the
  better of that set and the single most useful item that fits, which is at least half
  the optimum (the modified greedy algorithm of the knapsack literature);
- :func:`poss` maximises any set function (diversity, coverage, a utility with
  redundancy) under the budget by Pareto optimisation (POSS/POMC).

:class:`AnnotationCostModel` predicts what an item will cost from what annotating
others did cost (recorded seconds), and ``al.strategies.get("cost_aware", ...)`` turns
any score strategy into a cost-aware one. ``al.simulate(..., costs=...)`` then charges
each label its cost and reports curves against money spent
(``result.curve(against="cost")``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone

from activelab._validation import RandomStateLike, check_random_state, n_rows

__all__ = ["AnnotationCostModel", "check_costs", "knapsack", "length_features", "poss"]

#: ``method="auto"`` solves exactly up to this many candidate items, greedily beyond.
EXACT_LIMIT = 20_000


def check_costs(costs: Any, n: int, name: str = "costs") -> np.ndarray:
    """``costs`` as a float64 array of ``n`` finite, positive numbers.

    Parameters
    ----------
    costs : array-like of shape (n,)
    n : int
        The number of items the costs must cover.
    name : str
        Used in error messages.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    Examples
    --------
    >>> check_costs([1, 2.5], 2)
    array([1. , 2.5])
    """
    try:
        array = np.asarray(costs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers, one per item; got {costs!r:.80}.") from None
    if array.shape != (n,):
        raise ValueError(f"{name} needs one cost per item, shape ({n},); got {array.shape}.")
    bad = np.flatnonzero(~np.isfinite(array) | (array <= 0))
    if bad.size:
        raise ValueError(
            f"{name} must be finite and positive (a cost of 0 makes an item free, which no "
            f"budget limits); item {int(bad[0])} costs {array[bad[0]]!r}. Give free items "
            "a small positive cost instead."
        )
    return array


def _check_utilities(utilities: Any, n: int | None = None) -> np.ndarray:
    array = np.asarray(utilities, dtype=np.float64)
    if array.ndim != 1 or (n is not None and array.shape[0] != n):
        want = f"({n},)" if n is not None else "(n,)"
        raise ValueError(f"utilities need shape {want}, one per item; got {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("utilities must be finite; replace NaN or inf before selecting.")
    return array


def _check_budget(budget: Any) -> float:
    try:
        value = float(budget)
    except (TypeError, ValueError):
        raise TypeError(f"budget must be a number; got {budget!r}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"budget must be a finite positive number; got {budget!r}.")
    return value


def _by_ratio(chosen: np.ndarray, utilities: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """``chosen`` ordered by utility per cost, highest first (ties by index)."""
    chosen = np.asarray(chosen, dtype=np.int64)
    order = np.lexsort((chosen, -(utilities[chosen] / costs[chosen])))
    return chosen[order]


def knapsack(
    utilities: Any,
    costs: Any,
    budget: float,
    max_items: int | None = None,
    method: str = "auto",
) -> np.ndarray:
    """The items of greatest total utility whose total cost fits the budget (0/1 knapsack).

    Maximises ``sum(utilities[S])`` subject to ``sum(costs[S]) <= budget`` and, when
    given, ``len(S) <= max_items``. Items of utility 0 or less are never chosen (they
    cannot raise the total).

    Parameters
    ----------
    utilities : array-like of shape (n,)
        Finite; higher is better.
    costs : array-like of shape (n,)
        Finite and positive.
    budget : float
        The most the batch may cost.
    max_items : int, optional
        The most items the batch may hold (the batch size of the loop).
    method : {"auto", "exact", "greedy"}
        ``"exact"``: the optimum: items that every optimum takes or leaves are fixed by
        Dembo & Hammer's bound, and scipy's mixed-integer solver (HiGHS) decides the
        rest (with ``max_items``, it decides all). ``"greedy"``:
        by utility per cost, each item that still fits, then the better of that set and
        the single most useful item that fits (at least half the optimum without
        ``max_items``); O(n log n). ``"auto"``: exact up to :data:`EXACT_LIMIT` items
        with positive utility, greedy beyond.

    Returns
    -------
    numpy.ndarray of int64
        The chosen indices, highest utility per cost first; empty when nothing fits.

    References
    ----------
    Kellerer, Pferschy & Pisinger (2004), *Knapsack Problems*, Springer (the modified
    greedy algorithm, section 2.1; the reduction of Dembo & Hammer 1980, section 3.2).
    ALiPy's ``select_Knapsack_01`` solves the same problem by dynamic programming over
    integer costs.

    Examples
    --------
    >>> knapsack([3.0, 2.0, 2.0], [2.0, 1.0, 1.0], budget=2.0).tolist()
    [1, 2]
    """
    costs = np.asarray(costs, dtype=np.float64)
    values = _check_utilities(utilities)
    costs = check_costs(costs, values.shape[0])
    capacity = _check_budget(budget)
    if max_items is not None and (int(max_items) != max_items or max_items < 1):
        raise ValueError(f"max_items must be a positive int or None; got {max_items!r}.")
    if method not in ("auto", "exact", "greedy"):
        raise ValueError(f"method must be 'auto', 'exact' or 'greedy'; got {method!r}.")
    useful = np.flatnonzero((values > 0) & (costs <= capacity))
    if useful.size == 0:
        return np.empty(0, dtype=np.int64)
    if method == "exact" or (method == "auto" and useful.size <= EXACT_LIMIT):
        chosen = _knapsack_exact(values[useful], costs[useful], capacity, max_items)
    else:
        chosen = _knapsack_greedy(values[useful], costs[useful], capacity, max_items)
    return _by_ratio(useful[chosen], values, costs)


def _knapsack_greedy(
    values: np.ndarray, costs: np.ndarray, capacity: float, max_items: int | None
) -> np.ndarray:
    order = np.lexsort((np.arange(values.shape[0]), -(values / costs)))
    taken: list[int] = []
    spent = 0.0
    limit = values.shape[0] if max_items is None else int(max_items)
    for item in order:
        if len(taken) == limit:
            break
        if spent + costs[item] <= capacity:
            taken.append(int(item))
            spent += costs[item]
    best_single = int(np.argmax(values))  # every candidate fits on its own
    if values[best_single] > values[taken].sum():
        return np.array([best_single], dtype=np.int64)
    return np.array(taken, dtype=np.int64)


def _fixed_by_bounds(
    values: np.ndarray, costs: np.ndarray, capacity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Items every optimum takes, and items no optimum takes (Dembo & Hammer's reduction).

    With items by utility per cost and ``r`` the ratio of the break item (the first that
    no longer fits), forcing item ``j`` away from its value in the LP relaxation costs
    at least ``|v_j - r c_j|`` of the LP bound ``U``; when ``U - |v_j - r c_j|`` is below
    the value of a feasible solution (the greedy one), every optimum keeps ``j`` where
    the LP puts it.
    """
    n = values.shape[0]
    ratios = values / costs
    order = np.lexsort((np.arange(n), -ratios))
    filled = np.cumsum(costs[order])
    split = int(np.searchsorted(filled, capacity, side="right"))
    if split == n:  # everything fits
        return np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    rate = ratios[order[split]]
    used = filled[split - 1] if split else 0.0
    upper = float(values[order[:split]].sum() + (capacity - used) * rate)
    lower = float(values[_knapsack_greedy(values, costs, capacity, None)].sum())
    margin = 1e-9 * max(1.0, abs(upper))
    bound = upper - np.abs(values - rate * costs)
    in_lp = np.zeros(n, dtype=bool)
    in_lp[order[:split]] = True
    decided = bound < lower - margin
    decided[order[split]] = False
    return decided & in_lp, decided & ~in_lp


def _knapsack_exact(
    values: np.ndarray, costs: np.ndarray, capacity: float, max_items: int | None
) -> np.ndarray:
    if max_items is None or max_items >= values.shape[0]:
        taken, dropped = _fixed_by_bounds(values, costs, capacity)
        core = np.flatnonzero(~(taken | dropped))
        chosen = np.flatnonzero(taken)
        left = capacity - float(costs[chosen].sum())
        if core.size:
            fits = core[costs[core] <= left]
            if fits.size:
                extra = _knapsack_milp(values[fits], costs[fits], left, None)
                chosen = np.concatenate([chosen, fits[extra]])
        return chosen
    return _knapsack_milp(values, costs, capacity, max_items)


def _knapsack_milp(
    values: np.ndarray, costs: np.ndarray, capacity: float, max_items: int | None
) -> np.ndarray:
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = values.shape[0]
    rows = [costs[None, :]]
    upper = [capacity]
    if max_items is not None and max_items < n:
        rows.append(np.ones((1, n)))
        upper.append(float(max_items))
    constraint = LinearConstraint(np.vstack(rows), -np.inf, np.array(upper))
    solution = milp(
        -values,
        constraints=constraint,
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    if solution.x is None:  # pragma: no cover - the empty set is always feasible
        return _knapsack_greedy(values, costs, capacity, max_items)
    chosen = np.flatnonzero(solution.x > 0.5)
    # The solver's feasibility tolerance may admit a hair over the budget: drop the
    # least useful per cost until it fits exactly.
    while chosen.size and costs[chosen].sum() > capacity:
        chosen = chosen[np.argsort(values[chosen] / costs[chosen])[1:]]
    return chosen


def poss(
    objective: Callable[[np.ndarray], float],
    costs: Any,
    budget: float,
    iterations: int | None = None,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """A subset of high ``objective`` within the cost budget, by Pareto optimisation.

    POMC (Qian et al. 2017), the cost-constrained form of POSS (Qian et al. 2015): keep a
    population of subsets that are Pareto-optimal for the two objectives "high
    ``objective``" and "low cost" (subsets costing twice the budget or more are
    discarded); at each iteration pick a member at random, flip each item in or out with
    probability ``1/n``, and admit the child unless a member is strictly better on both
    counts (members it is at least as good as on both leave). Returns the best member
    that fits the budget. For a monotone submodular objective it reaches the
    ``(1 - 1/e)``-style guarantees of the papers with ``O(n^2)`` iterations; for an
    additive one, :func:`knapsack` is exact and faster.

    Parameters
    ----------
    objective : callable
        ``objective(indices) -> float`` for a subset given as an int64 array (possibly
        empty); higher is better.
    costs : array-like of shape (n,)
        Finite and positive; a subset costs the sum of its items'.
    budget : float
    iterations : int, optional
        Mutations to try; defaults to ``2 e n^2`` capped at 20,000 (the papers' bound is
        ``O(n^2)``; prefilter to a few hundred candidates for large pools).
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of int64
        The chosen indices, sorted.

    References
    ----------
    Qian, Yu & Zhou (2015), "Subset selection by Pareto optimization", NeurIPS.
    Qian, Shi, Yu & Tang (2017), "On subset selection with general cost constraints",
    IJCAI.

    Examples
    --------
    >>> gains = [3.0, 2.0, 2.0]
    >>> poss(lambda s: sum(gains[i] for i in s), [2.0, 1.0, 1.0], 2.0, random_state=0).tolist()
    [1, 2]
    """
    prices = np.asarray(costs, dtype=np.float64)
    if prices.ndim != 1:
        raise ValueError(f"costs need shape (n,), one per item; got {prices.shape}.")
    prices = check_costs(prices, prices.shape[0])
    capacity = _check_budget(budget)
    n = prices.shape[0]
    if iterations is None:
        iterations = min(math.ceil(2 * math.e * n * n), 20_000)
    if int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be a non-negative int; got {iterations!r}.")
    rng = check_random_state(random_state)

    def evaluate(member: np.ndarray) -> tuple[float, float]:
        spent = float(prices[member].sum())
        if spent >= 2 * capacity:
            return -math.inf, spent
        value = float(objective(np.flatnonzero(member)))
        if not math.isfinite(value):
            raise ValueError(f"objective returned {value!r}; it must return a finite number.")
        return value, spent

    empty = np.zeros(n, dtype=bool)
    population = [empty]
    scores = [evaluate(empty)]
    for _ in range(int(iterations)):
        parent = population[int(rng.integers(len(population)))]
        flips = rng.random(n) < 1.0 / n
        if not flips.any():
            continue
        child = parent ^ flips
        value, spent = evaluate(child)
        if value == -math.inf:
            continue
        if any(v >= value and c <= spent and (v > value or c < spent) for v, c in scores):
            continue
        keep = [
            i for i, (v, c) in enumerate(scores) if not (value >= v and spent <= c)
        ]  # members the child weakly dominates leave
        population = [population[i] for i in keep] + [child]
        scores = [scores[i] for i in keep] + [(value, spent)]
    feasible = [i for i, (_, c) in enumerate(scores) if c <= capacity]
    best = max(feasible, key=lambda i: (scores[i][0], -scores[i][1]))
    return np.flatnonzero(population[best]).astype(np.int64)


def length_features(texts: Sequence[str]) -> np.ndarray:
    """Characters and whitespace tokens of each text: the usual predictors of reading time.

    Parameters
    ----------
    texts : sequence of str

    Returns
    -------
    numpy.ndarray of shape (n, 2), float64

    Examples
    --------
    >>> length_features(["a b", "abc"]).tolist()
    [[3.0, 2.0], [3.0, 1.0]]
    """
    return np.array([[len(text), len(text.split())] for text in texts], dtype=np.float64)


def _is_texts(X: Any) -> bool:
    if isinstance(X, str):
        return False
    if isinstance(X, list | tuple):
        return len(X) > 0 and all(isinstance(item, str) for item in X)
    array = np.asarray(X) if not hasattr(X, "tocsr") else None
    return array is not None and array.ndim == 1 and array.dtype.kind in ("U", "O")


class AnnotationCostModel(BaseEstimator):
    """Predict what labelling an item will cost from the recorded cost of others.

    Fits a regressor to recorded annotation times (or any cost). Times are right-skewed,
    so by default the regressor is fitted to ``log(seconds)`` and a prediction is
    ``exp(prediction) * smearing``, where ``smearing`` is the mean of ``exp(residual)``
    on the training data (Duan's smearing estimate), which removes the bias of
    exponentiating a mean of logs. Texts are described by their lengths
    (:func:`length_features`), which Settles et al. found to predict annotation time.

    Parameters
    ----------
    estimator : regressor, optional
        Defaults to ``sklearn.linear_model.Ridge(alpha=1.0)``.
    log : bool, default=True
        Fit on the log scale as described; False fits the seconds themselves (negative
        predictions are then clipped to ``min_cost``).
    min_cost : float, default=1e-3
        Floor on predictions, so no item is free.

    Attributes
    ----------
    estimator_ : the fitted regressor
    smearing_ : float
        Duan's factor (1.0 when ``log=False``).

    References
    ----------
    Settles, Craven & Friedland (2008), "Active learning with real annotation costs",
    NIPS Workshop on Cost-Sensitive Learning. Duan (1983), "Smearing estimate: a
    nonparametric retransformation method", JASA 78(383).

    Examples
    --------
    >>> model = AnnotationCostModel().fit(["a b", "a b c d e f"], [2.0, 6.0])
    >>> bool(model.predict(["a b c d e f g h"])[0] > model.predict(["a"])[0])
    True
    """

    def __init__(self, estimator: Any = None, log: bool = True, min_cost: float = 1e-3) -> None:
        self.estimator = estimator
        self.log = log
        self.min_cost = min_cost

    def _features(self, X: Any) -> Any:
        return length_features(list(X)) if _is_texts(X) else X

    def fit(self, X: Any, seconds: Any) -> AnnotationCostModel:
        """Learn costs from items and what labelling each of them cost.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts
        seconds : array-like of shape (n,)
            Positive recorded costs (seconds, money).

        Returns
        -------
        self
        """
        n = n_rows(X)
        if n < 2:
            raise ValueError(
                f"AnnotationCostModel needs at least 2 recorded costs to fit; got {n}. "
                "Record a few annotation times first, or pass costs directly."
            )
        target = check_costs(seconds, n, name="seconds")
        if self.estimator is None:
            from sklearn.linear_model import Ridge

            regressor = Ridge(alpha=1.0)
        else:
            regressor = clone(self.estimator)
        features = self._features(X)
        fitted = regressor.fit(features, np.log(target) if self.log else target)
        self.estimator_ = fitted
        if self.log:
            residuals = np.log(target) - np.asarray(fitted.predict(features), dtype=np.float64)
            self.smearing_ = float(np.mean(np.exp(residuals)))
        else:
            self.smearing_ = 1.0
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted cost of each item, at least ``min_cost``.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        if not hasattr(self, "estimator_"):
            raise ValueError("AnnotationCostModel is not fitted; call fit(X, seconds) first.")
        raw = np.asarray(self.estimator_.predict(self._features(X)), dtype=np.float64)
        costs = np.exp(raw) * self.smearing_ if self.log else raw
        return np.maximum(costs, float(self.min_cost))
