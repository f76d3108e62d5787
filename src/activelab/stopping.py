"""Stopping criteria: when more labels stop paying for themselves.

Each criterion has ``update(state) -> bool`` (True: stop now) and ``.reason`` (why, once
it fired). The loop builds a :class:`State` after every round, after the model is refit,
and asks each criterion in turn; the first that fires ends the run and its reason is
recorded. A criterion keeps the history it needs between rounds; ``reset()`` clears it.

Settles (2009), "Active Learning Literature Survey", §6, reviews the family.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activelab import scores as _scores
from activelab._validation import n_rows

__all__ = [
    "Budget",
    "ErrorStability",
    "MaxUncertainty",
    "OverallUncertainty",
    "PerformancePlateau",
    "StabilizingPredictions",
    "State",
    "StoppingCriterion",
]


@dataclass(frozen=True)
class State:
    """What a stopping criterion sees after a round.

    Attributes
    ----------
    round : int
        0 for the model fitted on the initial set, then 1, 2, …
    n_labeled : int
        Labels bought so far, the initial set included.
    model : ModelAdapter
        The model fitted on all labels so far.
    X_pool : array-like or None
        The unlabeled items that remain.
    X_stop : array-like or None
        A fixed stop set: unlabeled items drawn once before the first round and kept the
        same every round (Bloodgood & Vijay-Shanker 2009).
    metrics : mapping of str to float
        Held-out scores of this round's model (accuracy, f1_macro, …), if any.
    """

    round: int
    n_labeled: int
    model: Any = None
    X_pool: Any = None
    X_stop: Any = None
    metrics: Mapping[str, float] = field(default_factory=dict)


class StoppingCriterion:
    """Base class: ``update(state) -> bool`` and ``reason``."""

    reason: str | None = None

    def update(self, state: State) -> bool:  # pragma: no cover - abstract
        """Look at the state after a round; return True to stop."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the history of a previous run."""
        self.reason = None

    def _fire(self, reason: str) -> bool:
        self.reason = reason
        return True

    def __repr__(self) -> str:
        names = [n for n in inspect.signature(type(self).__init__).parameters if n != "self"]
        params = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({params})"


def _require(value: Any, what: str, criterion: str, todo: str) -> Any:
    if value is None:
        raise ValueError(f"{criterion} needs {what}; {todo}")
    return value


class Budget(StoppingCriterion):
    """Stop once ``max_labels`` labels are bought (the initial set included).

    Parameters
    ----------
    max_labels : int

    Examples
    --------
    >>> Budget(20).update(State(round=1, n_labeled=20))
    True
    """

    def __init__(self, max_labels: int) -> None:
        if max_labels < 1:
            raise ValueError(f"max_labels must be at least 1; got {max_labels}.")
        self.max_labels = max_labels
        self.reason = None

    def update(self, state: State) -> bool:
        """True once ``state.n_labeled >= max_labels``."""
        if state.n_labeled >= self.max_labels:
            return self._fire(f"budget of {self.max_labels} labels reached")
        return False


class PerformancePlateau(StoppingCriterion):
    """Stop when a held-out score has not improved for ``patience`` rounds.

    "Improved" means beating the best score so far by more than ``min_delta``.

    Parameters
    ----------
    metric : str
        Key of ``state.metrics`` to watch (e.g. ``"accuracy"``); higher is better.
    patience : int
        Rounds without improvement before stopping.
    min_delta : float
        Smallest gain that counts as an improvement.

    References
    ----------
    Early stopping on a validation set, as in Prechelt (1998), "Early stopping — but
    when?"; for active learning, Laws & Schütze (2008), "Stopping criteria for active
    learning of named entity recognition", COLING (performance convergence).

    Examples
    --------
    >>> plateau = PerformancePlateau(patience=1)
    >>> rounds = enumerate([0.5, 0.6, 0.6])
    >>> [plateau.update(State(r, 10 * r, metrics={"accuracy": a})) for r, a in rounds]
    [False, False, True]
    """

    def __init__(self, metric: str = "accuracy", patience: int = 3, min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"patience must be at least 1; got {patience}.")
        self.metric = metric
        self.patience = patience
        self.min_delta = min_delta
        self.reset()

    def reset(self) -> None:
        """Forget the best score."""
        super().reset()
        self._best = -np.inf
        self._since_best = 0

    def update(self, state: State) -> bool:
        """True after ``patience`` rounds without a gain of more than ``min_delta``."""
        if self.metric not in state.metrics:
            raise ValueError(
                f"PerformancePlateau watches {self.metric!r}, but the round reports "
                f"{sorted(state.metrics) or 'no metrics'}; give the loop a held-out set "
                "(X_test, y_test) or watch one of the reported metrics."
            )
        value = float(state.metrics[self.metric])
        if value > self._best + self.min_delta:
            self._best = value
            self._since_best = 0
            return False
        self._since_best += 1
        if self._since_best >= self.patience:
            return self._fire(
                f"{self.metric} has not improved by more than {self.min_delta} for "
                f"{self.patience} rounds (best {self._best:.4f})"
            )
        return False


def _pool_uncertainty(state: State, measure: str, criterion: str) -> np.ndarray:
    model = _require(state.model, "a fitted model", criterion, "the loop passes it.")
    pool = _require(state.X_pool, "the unlabeled pool", criterion, "the loop passes it.")
    return _scores.UNCERTAINTY[measure](model.predict_proba(pool))


def _check_measure(measure: str) -> str:
    if measure not in _scores.UNCERTAINTY:
        raise ValueError(f"measure must be one of {sorted(_scores.UNCERTAINTY)}; got {measure!r}.")
    return measure


class MaxUncertainty(StoppingCriterion):
    """Stop when even the most uncertain unlabeled item is certain enough.

    The "max-confidence" criterion: stop once the largest uncertainty over the remaining
    pool is at most ``threshold``.

    Parameters
    ----------
    threshold : float
        Largest uncertainty at which to stop (nats for entropy).
    measure : {"entropy", "least_confidence", "margin", "ratio"}

    References
    ----------
    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING.
    """

    def __init__(self, threshold: float = 0.1, measure: str = "entropy") -> None:
        self.threshold = threshold
        self.measure = _check_measure(measure)
        self.reason = None

    def update(self, state: State) -> bool:
        """True once ``max(uncertainty over the pool) <= threshold``."""
        if state.X_pool is not None and n_rows(state.X_pool) == 0:
            return self._fire("the pool is empty")
        worst = float(_pool_uncertainty(state, self.measure, "MaxUncertainty").max())
        if worst <= self.threshold:
            return self._fire(
                f"max {self.measure} over the pool is {worst:.4f} <= {self.threshold}"
            )
        return False


class OverallUncertainty(StoppingCriterion):
    """Stop when the average uncertainty over the unlabeled pool is low enough.

    Parameters
    ----------
    threshold : float
        Mean uncertainty at which to stop.
    measure : {"entropy", "least_confidence", "margin", "ratio"}

    References
    ----------
    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING ("overall-uncertainty").
    """

    def __init__(self, threshold: float = 0.05, measure: str = "entropy") -> None:
        self.threshold = threshold
        self.measure = _check_measure(measure)
        self.reason = None

    def update(self, state: State) -> bool:
        """True once ``mean(uncertainty over the pool) <= threshold``."""
        if state.X_pool is not None and n_rows(state.X_pool) == 0:
            return self._fire("the pool is empty")
        mean = float(_pool_uncertainty(state, self.measure, "OverallUncertainty").mean())
        if mean <= self.threshold:
            return self._fire(
                f"mean {self.measure} over the pool is {mean:.4f} <= {self.threshold}"
            )
        return False


def cohen_kappa(first: np.ndarray, second: np.ndarray) -> float:
    """Cohen's kappa between two label vectors; 1.0 when both are one constant label.

    Parameters
    ----------
    first, second : arrays of shape (n,)

    Returns
    -------
    float
    """
    first = np.asarray(first)
    second = np.asarray(second)
    labels, codes = np.unique(np.concatenate([first, second]), return_inverse=True)
    a, b = codes[: first.shape[0]], codes[first.shape[0] :]
    observed = float(np.mean(a == b))
    expected = float(
        np.sum(np.bincount(a, minlength=len(labels)) * np.bincount(b, minlength=len(labels)))
    ) / (first.shape[0] ** 2)
    if expected >= 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


class StabilizingPredictions(StoppingCriterion):
    """Stop when successive models agree on a fixed stop set.

    After each round the model labels the stop set; Cohen's kappa between consecutive
    rounds' labels is recorded, and the run stops when the mean of the last ``window``
    kappas reaches ``threshold``.

    Parameters
    ----------
    threshold : float
        Mean kappa at which to stop (0.99 in the paper).
    window : int
        Number of consecutive kappas averaged (3 in the paper).

    References
    ----------
    Bloodgood & Vijay-Shanker (2009), "A method for stopping active learning based on
    stabilizing predictions and the need for user-adjustable stopping", CoNLL.
    """

    def __init__(self, threshold: float = 0.99, window: int = 3) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1; got {window}.")
        self.threshold = threshold
        self.window = window
        self.reset()

    def reset(self) -> None:
        """Forget earlier predictions and kappas."""
        super().reset()
        self._previous: np.ndarray | None = None
        self.kappas_: list[float] = []

    def update(self, state: State) -> bool:
        """True once the mean of the last ``window`` kappas is at least ``threshold``."""
        model = _require(state.model, "a fitted model", "StabilizingPredictions", "")
        stop_set = _require(
            state.X_stop,
            "a stop set (X_stop)",
            "StabilizingPredictions",
            "simulate and ActiveLearner pass one; build State(X_stop=...) yourself otherwise.",
        )
        predictions = np.asarray(model.predict(stop_set))
        if self._previous is not None:
            self.kappas_.append(cohen_kappa(self._previous, predictions))
        self._previous = predictions
        if len(self.kappas_) >= self.window:
            mean = float(np.mean(self.kappas_[-self.window :]))
            if mean >= self.threshold:
                return self._fire(
                    f"mean Cohen's kappa of the last {self.window} rounds on the stop set "
                    f"is {mean:.4f} >= {self.threshold}"
                )
        return False


class ErrorStability(StoppingCriterion):
    r"""Stop when the bound on the change in generalisation error has shrunk enough.

    For a Bayesian model, Ishibashi & Hino bound the change of the expected error between
    successive posteriors by a function of their KL divergence, and stop when that bound,
    relative to its value at the first round, falls below a threshold. Here the posterior
    is represented by the model's posterior samples (``sample_proba``: ensemble members,
    MC-dropout passes); the change of the expected 0–1 error of the posterior predictive
    on each stop-set item is bounded, by Pinsker's inequality, by
    :math:`\sqrt{\mathrm{KL}(\bar p_t \| \bar p_{t-1}) / 2}`. The criterion averages that
    bound over the stop set (:math:`\Delta_t`) and stops when
    :math:`\Delta_t / \Delta_1 \le` ``threshold``, where :math:`\Delta_1` is the first
    non-zero bound (a round whose model did not change at all is no reference).

    This works on predictive distributions, where the paper's closed form uses
    parameter posteriors (Gaussian processes, Bayesian linear models); it is the same
    ratio test on a bound that every model with posterior samples can compute.

    Parameters
    ----------
    threshold : float
        Ratio of the current bound to the first one at which to stop.

    References
    ----------
    Ishibashi & Hino (2020), "Stopping criterion for active learning based on
    deterministic generalization bounds", AISTATS.
    Ishibashi & Hino (2021), "Stopping criterion for active learning based on error
    stability", arXiv:2104.01836.
    """

    def __init__(self, threshold: float = 0.1) -> None:
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        """Forget earlier predictive distributions and bounds."""
        super().reset()
        self._previous: np.ndarray | None = None
        self.bounds_: list[float] = []

    def update(self, state: State) -> bool:
        """True once the error-change bound is at most ``threshold`` times the first."""
        model = _require(state.model, "a fitted model", "ErrorStability", "")
        model.require("sample_proba", "ErrorStability")
        stop_set = _require(
            state.X_stop, "a stop set (X_stop)", "ErrorStability", "the loop passes one."
        )
        predictive = np.clip(np.asarray(model.sample_proba(stop_set)).mean(axis=0), 1e-12, 1)
        predictive /= predictive.sum(axis=1, keepdims=True)
        if self._previous is not None:
            divergence = np.sum(predictive * (np.log(predictive) - np.log(self._previous)), axis=1)
            self.bounds_.append(float(np.mean(np.sqrt(np.maximum(divergence, 0.0) / 2.0))))
        self._previous = predictive
        reference = next((bound for bound in self.bounds_ if bound > 0), None)
        if reference is not None and len(self.bounds_) >= 2:
            ratio = self.bounds_[-1] / reference
            if ratio <= self.threshold:
                return self._fire(
                    f"error-change bound fell to {ratio:.3f} of its first value "
                    f"(<= {self.threshold})"
                )
        return False
