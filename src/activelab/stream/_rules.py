"""Stream rules: the utility of each arriving item, and the budget manager that decides.

A rule turns a model's view of the incoming items into one utility per item (higher =
more worth labelling) and hands them, in order, to a budget manager
(:mod:`activelab.stream._budget`), which answers query or discard. The uncertainty rules
of Žliobaitė et al. (2014) share one utility, least confidence; they differ only in the
budget manager, which is where their thresholds live. Rules that keep state (density
windows, a window of labelled points) hold a bounded amount of it.

The rules follow scikit-activeml's ``skactiveml.stream`` definitions; see the budget
managers for how decisions compare.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from activelab import scores
from activelab._validation import (
    RandomStateLike,
    check_int,
    check_number,
    check_random_state,
    check_scores,
)
from activelab.stream._budget import (
    BalancedIncrementalQuantileFilter,
    BudgetManager,
    CumulativeBudget,
    FixedUncertaintyBudget,
    PeriodicBudget,
    RandomVariableUncertaintyBudget,
    SplitBudget,
    VariableUncertaintyBudget,
)

__all__ = [
    "FixedUncertainty",
    "PeriodicSampling",
    "RandomVariableUncertainty",
    "Split",
    "StreamProbabilisticAL",
    "StreamRandomSampling",
    "StreamRule",
    "VariableUncertainty",
]


def as_rows(X: Any, who: str) -> np.ndarray:
    """A batch of stream items as a 2-D float64 array, or a ValueError saying what is wrong.

    Parameters
    ----------
    X : array-like of shape (n, d) or (d,)
        A mini-batch, or one item as a 1-D vector.
    who : str
        The caller, for messages.

    Returns
    -------
    numpy.ndarray of shape (n, d), float64

    Examples
    --------
    >>> as_rows([1.0, 2.0], "stream").shape
    (1, 2)
    """
    array = np.asarray(X)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{who} needs numeric features; got an array of dtype {array.dtype}.")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(
            f"{who} needs items of shape (n, d) (a mini-batch) or (d,) (one item); "
            f"got shape {array.shape}."
        )
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise ValueError(f"{who}: item {row} of the batch holds NaN or inf; clean it first.")
    return array


def label_codes(classes: np.ndarray, labels: Any, who: str) -> np.ndarray:
    """Position of each label in ``classes``, or a ValueError naming the unknown labels.

    Parameters
    ----------
    classes : numpy.ndarray of shape (C,)
        Distinct labels, in any order.
    labels : array-like of shape (m,)
    who : str
        The caller, for messages.

    Returns
    -------
    numpy.ndarray of shape (m,), int64

    Examples
    --------
    >>> label_codes(np.array(["b", "a"]), ["a", "a", "b"], "stream").tolist()
    [1, 1, 0]
    """
    values = np.asarray(labels).reshape(-1)
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    sorter = np.argsort(classes)
    positions = np.clip(np.searchsorted(classes, values, sorter=sorter), 0, classes.size - 1)
    codes = sorter[positions].astype(np.int64)
    if not np.array_equal(classes[codes], values):
        unknown = sorted(set(values.tolist()) - set(classes.tolist()))
        raise ValueError(
            f"{who}: labels {unknown} are not among the stream's classes {classes.tolist()}; "
            "pass every class up front (classes=...)."
        )
    return codes


class StreamRule(BaseEstimator):
    """Base of the stream rules: utilities per item, decided by a budget manager.

    Subclasses set ``name``, ``summary``, ``reference``, ``needs`` (``("predict_proba",)``
    when the rule reads a model) and ``budget_manager_class`` (the default manager), and
    implement :meth:`utilities`; rules with state override :meth:`_start`, and rules that
    decide per item (density gates) override :meth:`select`. ``__init__`` only stores
    parameters; :meth:`reset` creates the state (attributes ending in ``_``).
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)
    budget_manager_class: ClassVar[type[BudgetManager]] = VariableUncertaintyBudget

    def default_budget_manager(self, budget: float = 0.1) -> BudgetManager:
        """The budget manager this rule uses unless given another.

        Parameters
        ----------
        budget : float, default=0.1

        Returns
        -------
        BudgetManager
            Not yet reset.
        """
        return type(self).budget_manager_class(budget=budget)

    def reset(self, classes: Any, random_state: RandomStateLike = None) -> StreamRule:
        """Start from an empty history.

        Parameters
        ----------
        classes : array-like of shape (C,)
            Every class of the stream, in the column order of the model's probabilities.
        random_state : int, numpy.random.Generator or None
            Source of the rule's random draws (the random rules).

        Returns
        -------
        StreamRule
            self.
        """
        labels = np.asarray(classes)
        if labels.ndim != 1 or np.unique(labels).shape[0] != labels.shape[0] or labels.size < 2:
            raise ValueError(
                f"{self.name}: classes must list at least two distinct labels; got {classes!r}."
            )
        self.classes_ = labels
        self.rng_ = check_random_state(random_state)
        self._start()
        return self

    def utilities(self, model: Any, X: Any) -> np.ndarray:
        """Utility of each item of a batch, higher is more worth labelling.

        Parameters
        ----------
        model : object with ``predict_proba``, or None for rules that need no model
            Columns of ``predict_proba`` follow the ``classes`` given to :meth:`reset`.
        X : array-like of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def select(self, model: Any, X: Any, budget_manager: BudgetManager) -> np.ndarray:
        """Decide, item by item and in order, which items of a batch to query.

        Updates the rule's and the budget manager's state as if the items arrived one at
        a time.

        Parameters
        ----------
        model : object with ``predict_proba``, or None
        X : array-like of shape (n, d)
        budget_manager : BudgetManager
            Already :meth:`~BudgetManager.reset`.

        Returns
        -------
        numpy.ndarray of shape (n,), bool
        """
        self._check_started()
        return budget_manager.decide_many(self.utilities(model, as_rows(X, self.name)))

    def learn(self, X: Any, y: Any) -> StreamRule:
        """Take note of newly labelled items (only rules that use labels keep them).

        Parameters
        ----------
        X : array-like of shape (m, d)
        y : array-like of shape (m,)

        Returns
        -------
        StreamRule
            self.
        """
        return self

    def _start(self) -> None:
        pass

    def _check_started(self) -> None:
        if not hasattr(self, "classes_"):
            raise RuntimeError(
                f"{self.name}: call reset(classes) before select (StreamLearner does this)."
            )

    def _proba(self, model: Any, X: np.ndarray) -> np.ndarray:
        if model is None or not callable(getattr(model, "predict_proba", None)):
            raise TypeError(
                f"{self.name} needs a model with predict_proba; got "
                f"{type(model).__name__}. Pass a fitted classifier (StreamLearner passes "
                "its own model)."
            )
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
        if proba.ndim != 2 or proba.shape != (X.shape[0], self.classes_.shape[0]):
            raise ValueError(
                f"{self.name}: predict_proba gave shape {proba.shape}; expected "
                f"({X.shape[0]}, {self.classes_.shape[0]}), one column per class in classes."
            )
        return proba


class _LeastConfidence(StreamRule):
    """Least-confidence utility, :math:`1 - \\max_y p(y \\mid x)`."""

    def utilities(self, model: Any, X: Any) -> np.ndarray:
        """Least confidence :math:`1 - \\max_y p(y \\mid x)` of each item.

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


class FixedUncertainty(_LeastConfidence):
    r"""Query when the top-class probability is at most a fixed threshold.

    Utility :math:`u = 1 - \max_y p(y \mid x)`; the default manager,
    :class:`~activelab.stream.FixedUncertaintyBudget`, queries while budget is left and
    :math:`\max_y p(y \mid x) \le 1/C + b(1 - 1/C)`.

    Examples
    --------
    >>> FixedUncertainty().default_budget_manager(0.2)
    FixedUncertaintyBudget(budget=0.2)
    """

    name: ClassVar[str] = "fixed_uncertainty"
    summary: ClassVar[str] = "fixed threshold on the top-class probability"
    reference: ClassVar[str] = "Žliobaitė et al. 2014"
    budget_manager_class = FixedUncertaintyBudget


class VariableUncertainty(_LeastConfidence):
    r"""Query the least confident items through a threshold that adapts to the budget.

    Utility :math:`u = 1 - \max_y p(y \mid x)`; the default manager,
    :class:`~activelab.stream.VariableUncertaintyBudget`, tightens its threshold after
    each query and loosens it after each discard (Žliobaitė et al. 2014, Algorithm 2).

    Examples
    --------
    >>> VariableUncertainty().default_budget_manager()
    VariableUncertaintyBudget()
    """

    name: ClassVar[str] = "variable_uncertainty"
    summary: ClassVar[str] = "adaptive threshold on the top-class probability"
    reference: ClassVar[str] = "Žliobaitė et al. 2014"
    budget_manager_class = VariableUncertaintyBudget


class RandomVariableUncertainty(_LeastConfidence):
    r"""Variable uncertainty with a randomised threshold, to notice drift anywhere.

    Utility :math:`u = 1 - \max_y p(y \mid x)`; the default manager,
    :class:`~activelab.stream.RandomVariableUncertaintyBudget`, multiplies its threshold
    by :math:`\eta \sim \mathcal N(1, \delta)` per item (Žliobaitė et al. 2014, Alg. 3).

    Examples
    --------
    >>> RandomVariableUncertainty().default_budget_manager()
    RandomVariableUncertaintyBudget()
    """

    name: ClassVar[str] = "random_variable_uncertainty"
    summary: ClassVar[str] = "adaptive threshold with a random multiplier"
    reference: ClassVar[str] = "Žliobaitė et al. 2014"
    budget_manager_class = RandomVariableUncertaintyBudget


class Split(_LeastConfidence):
    r"""Split strategy: a share ``v`` of the items is sampled at random, the rest by
    variable uncertainty (:class:`~activelab.stream.SplitBudget`).

    Utility :math:`u = 1 - \max_y p(y \mid x)` (Žliobaitė et al. 2014, Algorithm 4).

    Examples
    --------
    >>> Split().default_budget_manager()
    SplitBudget()
    """

    name: ClassVar[str] = "split"
    summary: ClassVar[str] = "random share v, variable uncertainty for the rest"
    reference: ClassVar[str] = "Žliobaitė et al. 2014"
    budget_manager_class = SplitBudget


class PeriodicSampling(StreamRule):
    r"""Query every :math:`1/b`-th item, whatever it is: a baseline.

    Utilities are all zero; the default manager, :class:`~activelab.stream.PeriodicBudget`,
    queries as soon as a whole label is owed (:math:`b\,t - q \ge 1`).

    Examples
    --------
    >>> rule = PeriodicSampling().reset([0, 1])
    >>> manager = rule.default_budget_manager(0.5).reset()
    >>> rule.select(None, np.zeros((4, 1)), manager).tolist()
    [False, True, False, True]
    """

    name: ClassVar[str] = "periodic"
    summary: ClassVar[str] = "every 1/budget-th item (baseline)"
    reference: ClassVar[str] = "—"
    needs: ClassVar[tuple[str, ...]] = ()
    budget_manager_class = PeriodicBudget

    def utilities(self, model: Any, X: Any) -> np.ndarray:
        """All zeros: the item does not matter.

        Parameters
        ----------
        model : ignored
        X : array-like of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return np.zeros(as_rows(X, self.name).shape[0])


class StreamRandomSampling(StreamRule):
    r"""Query each item with probability ``b``: random sampling for streams, a baseline.

    Utilities are uniform draws :math:`u \sim U(0, 1)`, one per item; the default manager,
    :class:`~activelab.stream.CumulativeBudget`, queries when :math:`u \ge 1 - b`.

    Examples
    --------
    >>> rule = StreamRandomSampling().reset([0, 1], random_state=0)
    >>> manager = rule.default_budget_manager(0.1).reset()
    >>> 50 < int(rule.select(None, np.zeros((1000, 1)), manager).sum()) < 150
    True
    """

    name: ClassVar[str] = "random"
    summary: ClassVar[str] = "each item with probability budget (baseline)"
    reference: ClassVar[str] = "—"
    needs: ClassVar[tuple[str, ...]] = ()
    budget_manager_class = CumulativeBudget

    def utilities(self, model: Any, X: Any) -> np.ndarray:
        """One uniform draw per item (advances the rule's generator).

        Parameters
        ----------
        model : ignored
        X : array-like of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        self._check_started()
        return np.asarray(self.rng_.random(as_rows(X, self.name).shape[0]), dtype=np.float64)


class StreamProbabilisticAL(StreamRule):
    r"""Probabilistic active learning for streams (Kottke et al. 2015).

    The spatial utility of an item is its McPAL gain
    (:func:`activelab.strategies._pal.pal_gain`): with the kernel frequency estimate
    :math:`k_x = \sum_{(x_j, y_j)} K(x, x_j)\, e_{y_j}` over the last ``window_size``
    labelled items, :math:`K(x, x') = \exp(-\gamma \lVert x - x' \rVert^2)`, and the
    posterior :math:`\mathrm{Dir}(k_x + \alpha)`, the expected reduction of the
    misclassification rate per hypothetical label, best over
    :math:`1 \le m \le m_{max}` labels. The temporal decision is the balanced incremental
    quantile filter (:class:`~activelab.stream.BalancedIncrementalQuantileFilter`).

    As scikit-activeml: with ``use_model=False`` the frequencies come from the labelled
    window alone (a Parzen window classifier's ``predict_freq``); with ``use_model=True``
    they are the model's probabilities scaled by the kernel's total mass,
    :math:`k_x = \lvert k_x \rvert\, p(\cdot \mid x)`. scikit-activeml reads the
    frequencies from whatever classifier it is given; here the rule keeps its own bounded
    window of labelled items (:meth:`learn`), so memory does not grow with the stream.
    Fed the same labels, the utilities equal scikit-activeml's up to rounding, and so do
    the decisions, except where a gain is zero up to rounding (about 1e-14, an item deep
    inside a well-labelled region): there the two computations round differently and the
    quantile filter may rank such near-zero gains differently.

    Parameters
    ----------
    prior : float, default=1e-3
        Dirichlet prior :math:`\alpha`, positive.
    m_max : int, default=2
        Largest number of hypothetical labels.
    gamma : float, "mean" or None, default=None
        Kernel width; None is :math:`1/d` (scikit-learn's RBF default, which
        scikit-activeml's Parzen window classifier uses), "mean" the mean criterion on
        the labelled window (:func:`activelab.strategies._pal.mean_bandwidth`).
    window_size : int, default=500
        Labelled items kept for the frequency estimate.
    use_model : bool, default=False
        Scale the model's probabilities by the kernel mass instead of using the kernel
        frequencies per class.

    References
    ----------
    Kottke, Krempl & Spiliopoulou (2015), "Probabilistic active learning in datastreams",
    IDA, LNCS 9385, pp. 145–157.
    Kottke, Krempl, Lang, Teschner & Spiliopoulou (2016), "Multi-class probabilistic
    active learning", ECAI, pp. 586–594.

    Examples
    --------
    >>> rule = StreamProbabilisticAL().reset([0, 1])
    >>> rule = rule.learn([[0.0, 0.0], [1.0, 1.0]], [0, 1])
    >>> rule.utilities(None, [[0.0, 0.0], [5.0, 5.0]]).round(3)
    array([0.042, 0.499])
    """

    name: ClassVar[str] = "probabilistic"
    summary: ClassVar[str] = "McPAL gain on a labelled window, quantile filter"
    reference: ClassVar[str] = "Kottke et al. 2015"
    needs: ClassVar[tuple[str, ...]] = ()
    budget_manager_class = BalancedIncrementalQuantileFilter

    def __init__(
        self,
        prior: float = 1e-3,
        m_max: int = 2,
        gamma: float | str | None = None,
        window_size: int = 500,
        use_model: bool = False,
    ) -> None:
        self.prior = prior
        self.m_max = m_max
        self.gamma = gamma
        self.window_size = window_size
        self.use_model = use_model

    def _start(self) -> None:
        check_number(self.prior, "prior", self.name, 0.0, open_low=True)
        check_int(self.m_max, "m_max", self.name, 1)
        self.window_size_ = check_int(self.window_size, "window_size", self.name, 1)
        if not (self.gamma is None or self.gamma == "mean"):
            check_number(self.gamma, "gamma", self.name, 0.0, open_low=True)
        self.X_window_: np.ndarray | None = None
        self.y_window_ = np.zeros(self.window_size_, dtype=np.int64)
        self.n_learned_ = 0

    def learn(self, X: Any, y: Any) -> StreamProbabilisticAL:
        """Add labelled items to the window (the oldest leave when it is full).

        Parameters
        ----------
        X : array-like of shape (m, d)
        y : array-like of shape (m,)
            Labels from ``classes``.

        Returns
        -------
        StreamProbabilisticAL
            self.
        """
        self._check_started()
        rows = as_rows(X, self.name)
        labels = np.asarray(y).reshape(-1)
        if labels.shape[0] != rows.shape[0]:
            raise ValueError(f"{self.name}: {labels.shape[0]} labels for {rows.shape[0]} items.")
        codes = label_codes(self.classes_, labels, self.name)
        if self.X_window_ is None:
            self.X_window_ = np.zeros((self.window_size_, rows.shape[1]))
        for row, code in zip(rows, codes, strict=True):
            position = self.n_learned_ % self.window_size_
            self.X_window_[position] = row
            self.y_window_[position] = code
            self.n_learned_ += 1
        return self

    def utilities(self, model: Any, X: Any) -> np.ndarray:
        """McPAL gain of each item given the labelled window.

        Parameters
        ----------
        model : object with ``predict_proba`` when ``use_model``, else ignored
        X : array-like of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        from activelab.strategies._pal import kernel_frequencies, mean_bandwidth, pal_gain

        self._check_started()
        rows = as_rows(X, self.name)
        n_classes = self.classes_.shape[0]
        stored = min(self.n_learned_, self.window_size_)
        if stored == 0:
            frequencies = np.zeros((rows.shape[0], n_classes))
        else:
            labeled = self.X_window_[:stored]
            if self.gamma is None:
                gamma = 1.0 / rows.shape[1]
            elif self.gamma == "mean":
                gamma = mean_bandwidth(labeled)
            else:
                gamma = float(self.gamma)
            frequencies = kernel_frequencies(
                rows, labeled, self.y_window_[:stored], n_classes, gamma
            )
        if self.use_model:
            frequencies = frequencies.sum(axis=1, keepdims=True) * self._proba(model, rows)
        return check_scores(pal_gain(frequencies, self.prior, self.m_max), name=self.name)
