"""Budget managers: per-item decisions that hold the labelling rate of a stream to a budget.

A budget manager sees one utility at a time (higher = more worth labelling) and answers
"query" or "discard", updating a state of a few numbers: how much of the budget was spent
lately, an adaptive threshold, a short window of recent utilities. Nothing grows with the
length of the stream.

The managers follow scikit-activeml's ``skactiveml.stream.budgetmanager`` definitions
(Žliobaitė et al. 2014; Ienco et al. 2014; Kottke et al. 2015). Given the same utilities
they take the same decisions, item by item; the random ones take the same decisions when
fed the same random draws (activelab draws from a :class:`numpy.random.Generator`,
scikit-activeml from a legacy ``RandomState``, so equal seeds give different draws). Each
random manager documents which draws it takes per item. One difference on mini-batches:
scikit-activeml decides a batch with the state frozen at its start for some managers and
replays it differently in ``update``; here every item of a batch is decided in order, each
seeing the state the previous item left, exactly as if the batch arrived one by one.

A NaN utility (an item a density rule ruled out) never queries, except where the manager
queries at random regardless of the utility (the random branch of :class:`SplitBudget`),
and counts as seen, as in scikit-activeml.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from activelab._validation import RandomStateLike, check_int, check_number, check_random_state

__all__ = [
    "BalancedIncrementalQuantileFilter",
    "BudgetManager",
    "CumulativeBudget",
    "DensityBasedSplitBudget",
    "FixedUncertaintyBudget",
    "PeriodicBudget",
    "RandomBudget",
    "RandomVariableUncertaintyBudget",
    "SplitBudget",
    "VariableUncertaintyBudget",
]


class BudgetManager(BaseEstimator):
    """Base of the budget managers: decide, one item at a time, whether to query.

    ``__init__`` only stores parameters; :meth:`reset` validates them and creates the
    state (attributes ending in ``_``), which :meth:`decide` updates. Every manager counts
    the items it saw (``n_seen_``) and queried (``n_queried_``).

    Parameters
    ----------
    budget : float, default=0.1
        Target fraction of items to label, in ``(0, 1]``.
    """

    name: ClassVar[str] = ""

    def __init__(self, budget: float = 0.1) -> None:
        self.budget = budget

    def reset(self, n_classes: int = 2, random_state: RandomStateLike = None) -> BudgetManager:
        """Validate the parameters and start from an empty history.

        Parameters
        ----------
        n_classes : int, default=2
            Number of classes of the stream (used by :class:`FixedUncertaintyBudget`).
        random_state : int, numpy.random.Generator or None
            Source of the random draws of the random managers.

        Returns
        -------
        BudgetManager
            self.
        """
        who = type(self).__name__
        self.budget_ = check_number(self.budget, "budget", who, 0.0, 1.0, open_low=True)
        self.n_classes_ = check_int(n_classes, "n_classes", who, 2)
        self.rng_ = check_random_state(random_state)
        self.n_seen_ = 0
        self.n_queried_ = 0
        self._start()
        return self

    def decide(self, utility: float) -> bool:
        """Whether to query the next item of the stream, whose utility is ``utility``.

        Parameters
        ----------
        utility : float
            Higher means more worth labelling; NaN for an item ruled out beforehand.

        Returns
        -------
        bool
        """
        if not hasattr(self, "n_seen_"):
            self.reset()
        query = bool(self._decide(float(utility)))
        self.n_seen_ += 1
        self.n_queried_ += query
        return query

    def decide_many(self, utilities: Any) -> np.ndarray:
        """:meth:`decide` for each utility in order; each sees the state the last left.

        Parameters
        ----------
        utilities : array-like of shape (n,)

        Returns
        -------
        numpy.ndarray of shape (n,), bool
        """
        values = np.asarray(utilities, dtype=np.float64).reshape(-1)
        return np.fromiter((self.decide(u) for u in values), dtype=bool, count=values.size)

    @property
    def rate(self) -> float:
        """Fraction of the items seen so far that were queried (0 before any item)."""
        seen = getattr(self, "n_seen_", 0)
        return self.n_queried_ / seen if seen else 0.0

    def _start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decide(self, utility: float) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class _EstimatedBudget(BudgetManager):
    r"""Žliobaitė et al.'s estimate of the labels spent in the last ``w`` items.

    .. math:: \hat u_t = \hat u_{t-1} \frac{w - 1}{w} + \mathbb 1[\text{queried}_t]

    Budget is left while :math:`\hat u_t / w < b`. Since a query needs
    :math:`\hat u_{t-1} < w b`, :math:`\hat u_t < w b + 1` always, and summing the
    recursion gives a hard cap on the labels :math:`Q_n` of ``n`` items,
    :math:`Q_n = \hat u_n + \frac1w \sum_{t<n} \hat u_t \le (w b + 1)(1 + n / w)`: a long-run
    rate of at most :math:`b + 1/w`, after a start-up burst of about :math:`w b` labels
    (the estimate starts at zero).
    """

    def __init__(self, budget: float = 0.1, w: int = 100) -> None:
        super().__init__(budget)
        self.w = w

    def _start(self) -> None:
        self.w_ = check_int(self.w, "w", type(self).__name__, 1)
        self.u_ = 0.0

    def _has_budget(self) -> bool:
        return self.u_ / self.w_ < self.budget_

    def _spend(self, queried: bool) -> None:
        self.u_ = self.u_ * ((self.w_ - 1) / self.w_) + queried


class FixedUncertaintyBudget(_EstimatedBudget):
    r"""Fixed uncertainty threshold (Žliobaitė et al. 2014, Algorithm 1).

    With confidence :math:`c = 1 - u` (``u`` the least-confidence utility
    :math:`1 - \max_y p(y \mid x)`), an item is queried while budget is left and

    .. math:: c \le \theta = \frac1C + b \left(1 - \frac1C\right)

    for ``C`` classes and budget ``b``; the spent budget is Žliobaitė's estimate over the
    last ``w`` items (:math:`\hat u_t = \hat u_{t-1}(w-1)/w + \text{queried}_t`, budget
    left while :math:`\hat u_t / w < b`). The threshold never adapts, so a confident model
    spends less than ``b``.

    Parameters
    ----------
    budget : float, default=0.1
    w : int, default=100
        Window of the spending estimate.

    References
    ----------
    Žliobaitė, Bifet, Pfahringer & Holmes (2014), "Active learning with drifting streaming
    data", IEEE TNNLS 25(1):27–39.

    Examples
    --------
    >>> manager = FixedUncertaintyBudget(budget=0.2).reset(n_classes=2)
    >>> [manager.decide(u) for u in (0.45, 0.1, 0.45)]  # θ = 0.6: query c = 0.55 only
    [True, False, True]
    """

    name: ClassVar[str] = "fixed_uncertainty"

    def _start(self) -> None:
        super()._start()
        c = self.n_classes_
        self.theta_ = 1 / c + self.budget_ * (1 - 1 / c)

    def _decide(self, utility: float) -> bool:
        query = (1 - utility) <= self.theta_ and self._has_budget()
        self._spend(query)
        return query


class VariableUncertaintyBudget(_EstimatedBudget):
    r"""Variable uncertainty: a threshold that adapts to spend the budget (Žliobaitė 2014).

    While budget is left, an item with confidence :math:`c = 1 - u` is queried when
    :math:`c < \theta_t`; the threshold then tightens, :math:`\theta \leftarrow
    \theta (1 - s)`, and otherwise loosens, :math:`\theta \leftarrow \theta (1 + s)`, so
    the rule keeps labelling the least confident items whatever their level. Without
    budget left nothing changes but the spending estimate (as for
    :class:`FixedUncertaintyBudget`).

    Parameters
    ----------
    budget : float, default=0.1
    w : int, default=100
    theta : float, default=1.0
        Initial threshold.
    s : float, default=0.01
        Step of the threshold, in ``(0, 1]``.

    References
    ----------
    Žliobaitė, Bifet, Pfahringer & Holmes (2014), "Active learning with drifting streaming
    data", IEEE TNNLS 25(1):27–39, Algorithm 2.

    Examples
    --------
    >>> manager = VariableUncertaintyBudget(budget=0.5, theta=0.5).reset()
    >>> [manager.decide(u) for u in (0.6, 0.6, 0.3)]
    [True, True, False]
    """

    name: ClassVar[str] = "variable_uncertainty"

    def __init__(
        self, budget: float = 0.1, w: int = 100, theta: float = 1.0, s: float = 0.01
    ) -> None:
        super().__init__(budget, w)
        self.theta = theta
        self.s = s

    def _start(self) -> None:
        super()._start()
        who = type(self).__name__
        self.theta_ = check_number(self.theta, "theta", who, -np.inf)
        self.s_ = check_number(self.s, "s", who, 0.0, 1.0, open_low=True)

    def _threshold(self) -> float:
        return self.theta_

    def _decide(self, utility: float) -> bool:
        query = False
        if self._has_budget():
            query = (1 - utility) < self._threshold()
            self.theta_ *= (1 - self.s_) if query else (1 + self.s_)
        self._spend(query)
        return query


class RandomVariableUncertaintyBudget(VariableUncertaintyBudget):
    r"""Variable uncertainty with a randomised threshold (Žliobaitė et al. 2014, Alg. 3).

    As :class:`VariableUncertaintyBudget`, but the confidence is compared with
    :math:`\theta_t \eta`, :math:`\eta \sim \mathcal N(1, \delta)`, so items far from the
    decision boundary are sometimes labelled too, which lets the model notice a drift
    anywhere. Draws one normal per item while budget is left.

    Parameters
    ----------
    budget : float, default=0.1
    w : int, default=100
    theta : float, default=1.0
    s : float, default=0.01
    delta : float, default=1.0
        Standard deviation of the multiplier, positive.

    References
    ----------
    Žliobaitė, Bifet, Pfahringer & Holmes (2014), "Active learning with drifting streaming
    data", IEEE TNNLS 25(1):27–39, Algorithm 3.

    Examples
    --------
    >>> manager = RandomVariableUncertaintyBudget(budget=0.1).reset(random_state=0)
    >>> round(float(manager.decide_many(np.full(10_000, 0.5)).mean()), 2)
    0.1
    """

    name: ClassVar[str] = "random_variable_uncertainty"

    def __init__(
        self,
        budget: float = 0.1,
        w: int = 100,
        theta: float = 1.0,
        s: float = 0.01,
        delta: float = 1.0,
    ) -> None:
        super().__init__(budget, w, theta, s)
        self.delta = delta

    def _start(self) -> None:
        super()._start()
        self.delta_ = check_number(self.delta, "delta", type(self).__name__, 0.0, open_low=True)

    def _threshold(self) -> float:
        return self.theta_ * self.rng_.normal(1.0, self.delta_)


class SplitBudget(VariableUncertaintyBudget):
    r"""Split strategy: random labelling mixed with variable uncertainty (Žliobaitė 2014).

    While budget is left, with probability ``v`` the item takes the random branch and is
    queried with probability ``b`` (the threshold does not move); otherwise the variable
    uncertainty rule decides (:class:`VariableUncertaintyBudget`). Draws, while budget is
    left, one uniform per item and a second one on the random branch.

    Parameters
    ----------
    budget : float, default=0.1
    w : int, default=100
    theta : float, default=1.0
    s : float, default=0.01
    v : float, default=0.1
        Probability of the random branch, in ``(0, 1)``.

    References
    ----------
    Žliobaitė, Bifet, Pfahringer & Holmes (2014), "Active learning with drifting streaming
    data", IEEE TNNLS 25(1):27–39, Algorithm 4.

    Examples
    --------
    >>> manager = SplitBudget(budget=0.1).reset(random_state=0)
    >>> round(float(manager.decide_many(np.full(10_000, 0.5)).mean()), 2)
    0.1
    """

    name: ClassVar[str] = "split"

    def __init__(
        self,
        budget: float = 0.1,
        w: int = 100,
        theta: float = 1.0,
        s: float = 0.01,
        v: float = 0.1,
    ) -> None:
        super().__init__(budget, w, theta, s)
        self.v = v

    def _start(self) -> None:
        super()._start()
        self.v_ = check_number(self.v, "v", type(self).__name__, 0.0, 1.0, open_low=True)
        if self.v_ >= 1.0:
            raise ValueError(f"SplitBudget: v must be below 1; got {self.v!r}.")

    def _decide(self, utility: float) -> bool:
        query = False
        if self._has_budget():
            if self.rng_.random() < self.v_:
                query = self.rng_.random() <= self.budget_
            else:
                query = (1 - utility) < self.theta_
                self.theta_ *= (1 - self.s_) if query else (1 + self.s_)
        self._spend(query)
        return query


class RandomBudget(_EstimatedBudget):
    r"""Random labelling at rate ``b`` while budget is left (Žliobaitė's estimate).

    Each item is queried with probability ``b`` when :math:`\hat u_t / w < b`, whatever
    its utility (a NaN utility is never queried). Draws one uniform per item.

    Parameters
    ----------
    budget : float, default=0.1
    w : int, default=100

    Examples
    --------
    >>> manager = RandomBudget(budget=0.1).reset(random_state=0)
    >>> round(float(manager.decide_many(np.zeros(10_000)).mean()), 2)  # below b: see above
    0.09
    """

    name: ClassVar[str] = "random"

    def _decide(self, utility: float) -> bool:
        draw = self.rng_.random()
        query = draw <= self.budget_ and self._has_budget() and not math.isnan(utility)
        self._spend(query)
        return query


class DensityBasedSplitBudget(RandomVariableUncertaintyBudget):
    r"""Randomised variable uncertainty on the exact spent fraction (DBALStream).

    As :class:`RandomVariableUncertaintyBudget`, but budget is left while the fraction
    of all items seen so far that were queried is below ``b`` (the count
    :math:`q_t / t`, including the current item in ``t``, instead of Žliobaitė's windowed
    estimate). Draws one normal per item while budget is left.

    Parameters
    ----------
    budget : float, default=0.1
    theta : float, default=1.0
    s : float, default=0.01
    delta : float, default=1.0

    References
    ----------
    Ienco, Žliobaitė & Pfahringer (2014), "High density-focused uncertainty sampling for
    active learning over evolving stream data", BigMine, PMLR 36:133–148.

    Examples
    --------
    >>> manager = DensityBasedSplitBudget(budget=0.1).reset(random_state=0)
    >>> int(manager.decide_many(np.full(1000, 0.5)).sum())
    100
    """

    name: ClassVar[str] = "density_based_split"

    def __init__(
        self, budget: float = 0.1, theta: float = 1.0, s: float = 0.01, delta: float = 1.0
    ) -> None:
        super().__init__(budget, 100, theta, s, delta)

    def _has_budget(self) -> bool:
        return self.budget_ > self.n_queried_ / (self.n_seen_ + 1)

    def _spend(self, queried: bool) -> None:
        pass  # the counts n_seen_ and n_queried_ are the whole state


class BalancedIncrementalQuantileFilter(BudgetManager):
    r"""Balanced incremental quantile filter, BIQF (Kottke et al. 2015).

    Keeps the last ``w`` utilities (the current one included). The item is queried when

    .. math:: u \ge \theta_{bal} = Q_{1-b} - (u_{max} - u_{min})\,
              \frac{b\,t - q_t}{w_{tol}}

    with :math:`Q_{1-b}` the :math:`(1-b)` quantile of the window (linear interpolation),
    :math:`u_{max} - u_{min}` its range, ``t`` the items seen and :math:`q_t` those
    queried before this one: the threshold drops when labels are owed and rises when too
    many were taken, which balances the rate over about ``w_tol`` items. Equal utilities
    all clear the threshold (the spread is zero), so a run of ties is queried in full, as
    in scikit-activeml. The window is kept sorted, so a decision moves O(w) list entries
    and sorts nothing; the quantile equals numpy's, bit for bit.

    Parameters
    ----------
    budget : float, default=0.1
    w : int, default=100
        Number of recent utilities the quantile is taken over.
    w_tol : float, default=50
        Tolerance window of the balancing term, positive.

    References
    ----------
    Kottke, Krempl & Spiliopoulou (2015), "Probabilistic active learning in datastreams",
    IDA, LNCS 9385, pp. 145–157.

    Examples
    --------
    >>> manager = BalancedIncrementalQuantileFilter(budget=0.1).reset()
    >>> rng = np.random.default_rng(0)
    >>> round(float(manager.decide_many(rng.random(5000)).mean()), 2)
    0.1
    """

    name: ClassVar[str] = "biqf"

    def __init__(self, budget: float = 0.1, w: int = 100, w_tol: float = 50) -> None:
        super().__init__(budget)
        self.w = w
        self.w_tol = w_tol

    def _start(self) -> None:
        who = type(self).__name__
        self.w_ = check_int(self.w, "w", who, 1)
        self.w_tol_ = check_number(self.w_tol, "w_tol", who, 0.0, open_low=True)
        self.history_: deque[float] = deque()  # the window, oldest first
        self.sorted_: list[float] = []  # its non-NaN values, sorted
        self.n_nan_ = 0

    def _push(self, utility: float) -> None:
        if len(self.history_) == self.w_:
            oldest = self.history_.popleft()
            if math.isnan(oldest):
                self.n_nan_ -= 1
            else:
                del self.sorted_[bisect.bisect_left(self.sorted_, oldest)]
        self.history_.append(utility)
        if math.isnan(utility):
            self.n_nan_ += 1
        else:
            bisect.insort(self.sorted_, utility)

    def _quantile(self, q: float) -> float:
        """``numpy.quantile(window, q)`` (linear method), bit for bit, from the sorted list."""
        values = self.sorted_
        position = (len(values) - 1) * q
        below = math.floor(position)
        above = min(below + 1, len(values) - 1)
        gamma = position - below
        low, high = values[below], values[above]
        step = high - low
        return high - step * (1 - gamma) if gamma >= 0.5 else low + step * gamma

    def _decide(self, utility: float) -> bool:
        self._push(utility)
        if self.n_nan_:
            return False  # a NaN in the window makes the quantile NaN, as in numpy
        theta = self._quantile(1 - self.budget_)
        spread = self.sorted_[-1] - self.sorted_[0]
        owed = self.budget_ * (self.n_seen_ + 1) - self.n_queried_
        return utility >= theta - spread * (owed / self.w_tol_)


class PeriodicBudget(BudgetManager):
    r"""Query every :math:`1/b`-th item: as soon as a whole label is owed.

    The item is queried when :math:`b\,t - q_{t-1} \ge 1` (``t`` counts the current item),
    whatever its utility: periodic sampling, a baseline.

    Parameters
    ----------
    budget : float, default=0.1

    Examples
    --------
    >>> manager = PeriodicBudget(budget=0.25).reset()
    >>> manager.decide_many(np.zeros(8)).astype(int).tolist()
    [0, 0, 0, 1, 0, 0, 0, 1]
    """

    name: ClassVar[str] = "periodic"

    def _start(self) -> None:
        pass

    def _decide(self, utility: float) -> bool:
        return (self.n_seen_ + 1) * self.budget_ - self.n_queried_ >= 1


class CumulativeBudget(BudgetManager):
    r"""Query when the utility clears :math:`1 - b`, within a cumulative allowance.

    An item is queried when :math:`u \ge 1 - b` and, unless ``allow_exceeding_budget``,
    more than one label is owed, :math:`b\,t - q_{t-1} > 1`. With uniform random
    utilities (:class:`~activelab.stream.StreamRandomSampling`) this queries each item
    with probability ``b``: random sampling for streams, the baseline.

    Parameters
    ----------
    budget : float, default=0.1
    allow_exceeding_budget : bool, default=True
        Let the count run ahead of :math:`b\,t` (it matches it on average).

    Examples
    --------
    >>> manager = CumulativeBudget(budget=0.5).reset()
    >>> manager.decide_many([0.9, 0.2, 0.5]).tolist()
    [True, False, True]
    """

    name: ClassVar[str] = "cumulative"

    def __init__(self, budget: float = 0.1, allow_exceeding_budget: bool = True) -> None:
        super().__init__(budget)
        self.allow_exceeding_budget = allow_exceeding_budget

    def _start(self) -> None:
        if not isinstance(self.allow_exceeding_budget, bool | np.bool_):
            raise TypeError(
                "CumulativeBudget: allow_exceeding_budget must be True or False; got "
                f"{self.allow_exceeding_budget!r}."
            )

    def _decide(self, utility: float) -> bool:
        owed = (self.n_seen_ + 1) * self.budget_ - self.n_queried_
        return (bool(self.allow_exceeding_budget) or owed > 1) and utility >= 1 - self.budget_
