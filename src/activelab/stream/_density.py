"""Density-gated stream rules: DBALStream (Ienco et al. 2014) and CogDQS (Liu et al. 2023).

Both count, for each arriving item, its *local density factor*: how many items of a
short window it becomes the new nearest neighbour of (its distance to them is below
their nearest-neighbour distance so far). Only items in dense regions may be labelled:
outliers and noise do not spend the budget. The windows are bounded (``window_size``,
``cognition_window_size``), so memory does not grow with the stream.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.spatial.distance import cdist

from activelab import scores
from activelab._validation import check_int
from activelab.stream._budget import (
    BudgetManager,
    DensityBasedSplitBudget,
    FixedUncertaintyBudget,
    RandomBudget,
    RandomVariableUncertaintyBudget,
    VariableUncertaintyBudget,
)
from activelab.stream._rules import StreamRule, as_rows

__all__ = [
    "CogDQS",
    "CogDQSFixedUncertainty",
    "CogDQSRandom",
    "CogDQSRandomVariableUncertainty",
    "CogDQSVariableUncertainty",
    "StreamDensityBasedAL",
]


def _distances(window: np.ndarray, item: np.ndarray, metric: str) -> np.ndarray:
    return cdist(window, item[None, :], metric=metric).ravel()


class StreamDensityBasedAL(StreamRule):
    r"""DBALStream: margin uncertainty, only for items in dense regions (Ienco et al. 2014).

    A sliding window keeps the last ``window_size`` items and, for each, the distance to
    its nearest neighbour seen since. An arriving item's local density factor is the
    number of window items whose nearest-neighbour distance it beats (and it updates
    those distances). With a positive factor, the item's utility is the margin
    :math:`1 - (p_1 - p_2)` of its two most likely classes; otherwise NaN, which the
    budget manager counts as seen and never queries. The default manager is
    :class:`~activelab.stream.DensityBasedSplitBudget` (randomised variable uncertainty
    on the exact spent fraction).

    Parameters
    ----------
    window_size : int, default=100
        Items in the sliding window.
    metric : str, default="euclidean"
        Any metric of :func:`scipy.spatial.distance.cdist`.

    References
    ----------
    Ienco, Žliobaitė & Pfahringer (2014), "High density-focused uncertainty sampling for
    active learning over evolving stream data", BigMine, PMLR 36:133–148.

    Examples
    --------
    >>> rule = StreamDensityBasedAL(window_size=3).reset([0, 1])
    >>> [rule.local_density(np.array([x])) for x in (0.0, 10.0, 1.0, 0.5)]
    [0, 1, 2, 2]
    """

    name: ClassVar[str] = "density_based"
    summary: ClassVar[str] = "margin, only where the item is a new nearest neighbour"
    reference: ClassVar[str] = "Ienco et al. 2014"
    budget_manager_class = DensityBasedSplitBudget

    def __init__(self, window_size: int = 100, metric: str = "euclidean") -> None:
        self.window_size = window_size
        self.metric = metric

    def _start(self) -> None:
        self.window_size_ = check_int(self.window_size, "window_size", self.name, 1)
        self.window_: np.ndarray | None = None
        self.min_distances_ = np.full(self.window_size_, np.inf)
        self.n_seen_ = 0

    def local_density(self, item: np.ndarray) -> int:
        """Count the window items whose nearest neighbour ``item`` becomes; add it to the window.

        Parameters
        ----------
        item : numpy.ndarray of shape (d,)

        Returns
        -------
        int
        """
        self._check_started()
        item = np.asarray(item, dtype=np.float64).reshape(-1)
        if self.window_ is None:
            self.window_ = np.zeros((self.window_size_, item.shape[0]))
        stored = min(self.n_seen_, self.window_size_)
        factor = 0
        nearest = np.inf
        if stored:
            distances = _distances(self.window_[:stored], item, self.metric)
            beaten = distances < self.min_distances_[:stored]
            factor = int(beaten.sum())
            self.min_distances_[:stored][beaten] = distances[beaten]
            nearest = float(distances.min())
        position = self.n_seen_ % self.window_size_  # the oldest slot once full
        self.window_[position] = item
        self.min_distances_[position] = nearest
        self.n_seen_ += 1
        return factor

    def utilities(self, model: Any, X: Any) -> np.ndarray:
        """Margin :math:`1 - (p_1 - p_2)` of each item, before any density gate.

        Parameters
        ----------
        model : object with ``predict_proba``
        X : array-like of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        rows = as_rows(X, self.name)
        return scores.margin(self._proba(model, rows))

    def select(self, model: Any, X: Any, budget_manager: BudgetManager) -> np.ndarray:
        """Query an item when it is locally dense and the budget manager agrees.

        Parameters
        ----------
        model : object with ``predict_proba``
        X : array-like of shape (n, d)
        budget_manager : BudgetManager

        Returns
        -------
        numpy.ndarray of shape (n,), bool
        """
        self._check_started()
        rows = as_rows(X, self.name)
        utilities = self.utilities(model, rows)
        queried = np.zeros(rows.shape[0], dtype=bool)
        for i, (row, utility) in enumerate(zip(rows, utilities, strict=True)):
            dense = self.local_density(row) > 0
            queried[i] = budget_manager.decide(utility if dense else np.nan)
        return queried


class CogDQS(StreamRule):
    r"""Cognitive dual-query strategy, CogDQS (Liu et al. 2023).

    A small *cognition window* keeps the most memorable items: each has a count
    :math:`\theta_i` of how often it was the nearest neighbour of an arriving item, the
    time :math:`t_i` it last was, and a memory strength following Ebbinghaus' forgetting
    curve, :math:`s_i = \exp(-f_i (t - t_i))` with fading rate
    :math:`f_i = 1 / (\theta_i + 1)`. An arriving item's local density factor is the
    number of window items whose nearest-neighbour distance it beats. When the window
    holds more than ``cognition_window_size`` items, the weakest memory leaves before
    the new item enters (as in scikit-activeml, the window thus holds up to
    ``cognition_window_size + 1`` items while distances are taken).

    An item with a factor of at least ``density_threshold`` goes to the budget manager
    with its least-confidence utility :math:`1 - \max_y p(y \mid x)`; the others are
    discarded without the manager seeing them (with ``force_full_budget`` it sees them
    as NaN, so the managers that count seen items spend the whole budget). The default
    manager is randomised variable uncertainty; the variants below pick the others.

    Parameters
    ----------
    density_threshold : int, default=1
        Smallest local density factor that may be queried.
    cognition_window_size : int, default=10
    force_full_budget : bool, default=False
    metric : str, default="euclidean"
        Any metric of :func:`scipy.spatial.distance.cdist`.

    References
    ----------
    Liu, Xue, Wu, Zhou, Yang, Li & Cao (2023), "Online active learning for drifting data
    streams", IEEE TNNLS 34(1):186–200.

    Examples
    --------
    >>> rule = CogDQS(cognition_window_size=2).reset([0, 1])
    >>> [rule.local_density(np.array([x])) for x in (0.0, 4.0, 1.0, 3.0)]
    [0, 1, 2, 1]
    """

    name: ClassVar[str] = "cogdqs"
    summary: ClassVar[str] = "cognitive window density gate, randomised variable uncertainty"
    reference: ClassVar[str] = "Liu et al. 2023"
    budget_manager_class = RandomVariableUncertaintyBudget

    def __init__(
        self,
        density_threshold: int = 1,
        cognition_window_size: int = 10,
        force_full_budget: bool = False,
        metric: str = "euclidean",
    ) -> None:
        self.density_threshold = density_threshold
        self.cognition_window_size = cognition_window_size
        self.force_full_budget = force_full_budget
        self.metric = metric

    def _start(self) -> None:
        self.size_ = check_int(self.cognition_window_size, "cognition_window_size", self.name, 1)
        self.threshold_ = check_int(self.density_threshold, "density_threshold", self.name, 0)
        if not isinstance(self.force_full_budget, bool | np.bool_):
            raise TypeError(
                f"{self.name}: force_full_budget must be True or False; got "
                f"{self.force_full_budget!r}."
            )
        self.window_: list[np.ndarray] = []
        self.counts_: list[int] = []  # θ_i: times item i was a new nearest neighbour's
        self.times_: list[int] = []  # t_i: when it last was (or arrived)
        self.min_distances_: list[float] = []
        self.t_ = 0

    def local_density(self, item: np.ndarray) -> int:
        """Local density factor of ``item`` in the cognition window; updates the window.

        Parameters
        ----------
        item : numpy.ndarray of shape (d,)

        Returns
        -------
        int
        """
        self._check_started()
        item = np.asarray(item, dtype=np.float64).reshape(-1)
        now = self.t_
        factor = 0
        if self.window_:
            distances = _distances(np.stack(self.window_), item, self.metric)
            beaten = np.flatnonzero(distances < np.asarray(self.min_distances_))
            factor = int(beaten.size)
            for i in beaten:
                self.times_[i] = now
                self.counts_[i] += 1
                self.min_distances_[i] = float(distances[i])
            self.min_distances_.append(float(distances.min()))
        else:
            self.min_distances_.append(np.inf)
        if len(self.window_) > self.size_:
            fading = 1 / (np.asarray(self.counts_, dtype=np.float64) + 1)
            strength = np.exp(-fading * (now - np.asarray(self.times_)))
            weakest = int(np.argmin(strength))
            for memory in (self.window_, self.counts_, self.times_, self.min_distances_):
                memory.pop(weakest)
        self.window_.append(item)
        self.counts_.append(0)
        self.times_.append(now)
        self.t_ += 1
        return factor

    def utilities(self, model: Any, X: Any) -> np.ndarray:
        """Least confidence :math:`1 - \\max_y p(y \\mid x)`, before any density gate.

        Parameters
        ----------
        model : object with ``predict_proba``
        X : array-like of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        rows = as_rows(X, self.name)
        return scores.least_confidence(self._proba(model, rows))

    def select(self, model: Any, X: Any, budget_manager: BudgetManager) -> np.ndarray:
        """Query an item when its density factor clears the threshold and the manager agrees.

        Parameters
        ----------
        model : object with ``predict_proba``
        X : array-like of shape (n, d)
        budget_manager : BudgetManager

        Returns
        -------
        numpy.ndarray of shape (n,), bool
        """
        self._check_started()
        rows = as_rows(X, self.name)
        utilities = self.utilities(model, rows)
        queried = np.zeros(rows.shape[0], dtype=bool)
        for i, (row, utility) in enumerate(zip(rows, utilities, strict=True)):
            if self.local_density(row) >= self.threshold_:
                queried[i] = budget_manager.decide(utility)
            elif self.force_full_budget:
                budget_manager.decide(np.nan)
        return queried


class CogDQSRandom(CogDQS):
    """CogDQS with random labelling of the dense items (:class:`~activelab.stream.RandomBudget`).

    Examples
    --------
    >>> CogDQSRandom().default_budget_manager()
    RandomBudget()
    """

    name: ClassVar[str] = "cogdqs_random"
    summary: ClassVar[str] = "cognitive window density gate, random"
    budget_manager_class = RandomBudget


class CogDQSFixedUncertainty(CogDQS):
    """CogDQS with a fixed uncertainty threshold (:class:`FixedUncertaintyBudget`).

    Examples
    --------
    >>> CogDQSFixedUncertainty().default_budget_manager()
    FixedUncertaintyBudget()
    """

    name: ClassVar[str] = "cogdqs_fixed_uncertainty"
    summary: ClassVar[str] = "cognitive window density gate, fixed uncertainty"
    budget_manager_class = FixedUncertaintyBudget


class CogDQSVariableUncertainty(CogDQS):
    """CogDQS with variable uncertainty (:class:`~activelab.stream.VariableUncertaintyBudget`).

    Examples
    --------
    >>> CogDQSVariableUncertainty().default_budget_manager()
    VariableUncertaintyBudget()
    """

    name: ClassVar[str] = "cogdqs_variable_uncertainty"
    summary: ClassVar[str] = "cognitive window density gate, variable uncertainty"
    budget_manager_class = VariableUncertaintyBudget


class CogDQSRandomVariableUncertainty(CogDQS):
    """CogDQS with randomised variable uncertainty, the default manager of :class:`CogDQS`.

    Examples
    --------
    >>> CogDQSRandomVariableUncertainty().default_budget_manager()
    RandomVariableUncertaintyBudget()
    """

    name: ClassVar[str] = "cogdqs_random_variable_uncertainty"
    summary: ClassVar[str] = "cognitive window density gate, randomised variable uncertainty"
    budget_manager_class = RandomVariableUncertaintyBudget
