"""Stopping criteria: when more labels stop paying for themselves.

Each criterion has ``update(state) -> bool`` (True: stop now) and ``.reason`` (why, once
it fired). The loop builds a :class:`State` after every round, after the model is refit,
and asks each criterion in turn; the first that fires ends the run and its reason is
recorded. A criterion keeps the history it needs between rounds; ``reset()`` clears it.

Settles (2009), "Active Learning Literature Survey", §6, reviews the family.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activelab import scores as _scores
from activelab._validation import n_rows

__all__ = [
    "AccuracyLowerBound",
    "Budget",
    "ClassificationChange",
    "DeltaFScore",
    "ErrorStability",
    "KappaAverage",
    "LowAverageUncertainty",
    "MaxUncertainty",
    "OverallUncertainty",
    "PerformancePlateau",
    "SelectedAccuracy",
    "StabilizingPredictions",
    "State",
    "StoppingCriterion",
    "clopper_pearson_lower",
    "cohen_kappa",
    "delta_f",
]

#: Metrics where lower is better beyond :data:`activelab.loop.LOWER_IS_BETTER` (the
#: benchmark's probability metrics).
_LOWER_IS_BETTER_EXTRA = frozenset({"log_loss", "ece"})


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
    X_new : array-like or None
        The items labelled in this round (the batch just queried); None in round 0.
    y_new : array-like or None
        Their labels as the oracle gave them; None in round 0.
    """

    round: int
    n_labeled: int
    model: Any = None
    X_pool: Any = None
    X_stop: Any = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    X_new: Any = None
    y_new: Any = None


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

    "Improved" means beating the best score so far by more than ``min_delta``: rising
    for a score (accuracy, F1, R²), falling for an error (RMSE, MAE, log loss, ECE).

    Parameters
    ----------
    metric : str
        Key of ``state.metrics`` to watch (e.g. ``"accuracy"`` or ``"rmse"``).
    patience : int
        Rounds without improvement before stopping.
    min_delta : float
        Smallest gain that counts as an improvement.
    mode : {"auto", "max", "min"}
        ``"max"``: higher is better; ``"min"``: lower is better; ``"auto"``: lower is
        better for the error metrics (:data:`activelab.loop.LOWER_IS_BETTER`, plus
        ``log_loss`` and ``ece``), higher for every other metric.

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
    >>> plateau = PerformancePlateau("rmse", patience=1)
    >>> rounds = enumerate([3.0, 2.5, 2.7])
    >>> [plateau.update(State(r, 10 * r, metrics={"rmse": e})) for r, e in rounds]
    [False, False, True]
    """

    def __init__(
        self,
        metric: str = "accuracy",
        patience: int = 3,
        min_delta: float = 0.0,
        mode: str = "auto",
    ) -> None:
        if patience < 1:
            raise ValueError(f"patience must be at least 1; got {patience}.")
        if mode not in ("auto", "max", "min"):
            raise ValueError(
                f"mode must be 'auto', 'max' (higher is better) or 'min' (lower is better); "
                f"got {mode!r}."
            )
        self.metric = metric
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.reset()

    @property
    def lower_is_better(self) -> bool:
        """Whether a smaller value of :attr:`metric` is an improvement."""
        if self.mode != "auto":
            return self.mode == "min"
        from activelab.loop import LOWER_IS_BETTER

        return self.metric in LOWER_IS_BETTER | _LOWER_IS_BETTER_EXTRA

    def reset(self) -> None:
        """Forget the best score."""
        super().reset()
        self._best = np.inf if self.lower_is_better else -np.inf
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
        lower = self.lower_is_better
        improved = (
            value < self._best - self.min_delta if lower else value > self._best + self.min_delta
        )
        if improved:
            self._best = value
            self._since_best = 0
            return False
        self._since_best += 1
        if self._since_best >= self.patience:
            return self._fire(
                f"{self.metric} has not {'fallen' if lower else 'improved'} by more than "
                f"{self.min_delta} for {self.patience} rounds (best {self._best:.4f})"
            )
        return False


def _max_uncertainty(measure: str, n_classes: int) -> float:
    """The largest value ``measure`` takes over ``n_classes`` classes (the uniform row)."""
    return {
        "entropy": float(np.log(n_classes)),
        "least_confidence": 1.0 - 1.0 / n_classes,
    }.get(measure, 1.0)


def _pool_uncertainty(
    state: State, measure: str, criterion: str, normalize: bool = False
) -> np.ndarray:
    model = _require(state.model, "a fitted model", criterion, "the loop passes it.")
    pool = _require(state.X_pool, "the unlabeled pool", criterion, "the loop passes it.")
    proba = model.predict_proba(pool)
    values = _scores.UNCERTAINTY[measure](proba)
    if normalize:
        values = values / max(_max_uncertainty(measure, np.shape(proba)[1]), 1e-300)
    return values


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
    normalize : bool
        Divide each item's uncertainty by its largest possible value for the number of
        classes (``log C`` for entropy, ``1 - 1/C`` for least confidence, 1 for margin and
        ratio), so that one threshold means the same for 2 or 20 classes. With
        ``measure="entropy"`` and ``normalize=True`` this is small-text's
        ``OverallUncertainty`` (normalised prediction entropy; it stops on a strict
        ``<``, this on ``<=``).

    References
    ----------
    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING ("overall-uncertainty").
    """

    def __init__(
        self, threshold: float = 0.05, measure: str = "entropy", normalize: bool = False
    ) -> None:
        self.threshold = threshold
        self.measure = _check_measure(measure)
        self.normalize = normalize
        self.reason = None

    def update(self, state: State) -> bool:
        """True once ``mean(uncertainty over the pool) <= threshold``."""
        if state.X_pool is not None and n_rows(state.X_pool) == 0:
            return self._fire("the pool is empty")
        values = _pool_uncertainty(state, self.measure, "OverallUncertainty", self.normalize)
        mean = float(values.mean())
        if mean <= self.threshold:
            what = f"{'normalised ' if self.normalize else ''}{self.measure}"
            return self._fire(f"mean {what} over the pool is {mean:.4f} <= {self.threshold}")
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
        who = type(self).__name__
        predictions = _stop_set_predictions(state, who)
        if self._previous is not None:
            if predictions.shape != self._previous.shape:
                raise ValueError(
                    f"{who}: the stop set changed size ({self._previous.shape[0]} -> "
                    f"{predictions.shape[0]}); keep X_stop fixed over the run."
                )
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


def _stop_set_predictions(state: State, criterion: str) -> np.ndarray:
    model = _require(state.model, "a fitted model", criterion, "the loop passes it.")
    stop_set = _require(
        state.X_stop,
        "a stop set (X_stop)",
        criterion,
        "simulate and ActiveLearner pass one; build State(X_stop=...) yourself otherwise.",
    )
    return np.asarray(model.predict(stop_set))


def _check_window(window: int, smallest: int = 1) -> int:
    if int(window) != window or window < smallest:
        raise ValueError(f"window must be an integer of at least {smallest}; got {window}.")
    return int(window)


class KappaAverage(StabilizingPredictions):
    """Stabilizing predictions under small-text's name: mean kappa of the last rounds.

    After each round the model labels the fixed stop set; Cohen's kappa with the previous
    round's labels is recorded, and the run stops once the mean of the last ``window``
    kappas is at least ``threshold``. This is :class:`StabilizingPredictions` (the rule
    of the paper), named and defaulted as small-text's ``KappaAverage`` (``kappa=0.99``,
    ``window_size=3``), which computes the same since small-text 1.3.3 (earlier versions
    tested the spread of the kappas instead, which small-text calls a flaw and fixed).

    Parameters
    ----------
    threshold : float
        Mean kappa at which to stop (small-text's ``kappa``).
    window : int
        Kappas averaged (small-text's ``window_size``).

    References
    ----------
    Bloodgood & Vijay-Shanker (2009), "A method for stopping active learning based on
    stabilizing predictions and the need for user-adjustable stopping", CoNLL.

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:
    ...     def predict(self, X):
    ...         return np.array([0, 1, 1, 0])
    >>> kappa = KappaAverage(window=2)
    >>> [kappa.update(State(r, 10 * r, Fixed(), X_stop=np.zeros((4, 1)))) for r in range(4)]
    [False, False, True, True]
    """


def delta_f(previous: np.ndarray, current: np.ndarray, positive: Any = 1) -> float:
    """Predicted change of F: ``1 - 2a / (2a + b + c)`` between two label vectors.

    ``a`` counts items both label ``positive``, ``b`` those only ``previous`` labels
    positive, ``c`` those only ``current`` does: one minus the F-measure of the current
    labels against the previous ones. Items both call negative do not count. 0 when
    neither labels anything positive.

    Parameters
    ----------
    previous, current : arrays of shape (n,)
    positive : label
        The positive class.

    Returns
    -------
    float
        In ``[0, 1]``.

    References
    ----------
    Altschuler & Bloodgood (2019), "Stopping active learning based on predicted change of
    F measure for text classification", IEEE ICSC.

    Examples
    --------
    >>> delta_f([1, 1, 0, 0], [1, 0, 1, 0])
    0.5
    """
    old = np.asarray(previous) == positive
    new = np.asarray(current) == positive
    both = int(np.sum(old & new))
    changed = int(np.sum(old != new))
    if 2 * both + changed == 0:
        return 0.0
    return 1.0 - 2.0 * both / (2.0 * both + changed)


class DeltaFScore(StoppingCriterion):
    """Stop when the predicted change of F on the stop set stays small.

    After each round the model labels the stop set; :func:`delta_f` between consecutive
    rounds' labels is recorded, and the run stops once each of the last ``window``
    values is below ``threshold``.

    This is small-text's ``DeltaFScore`` (same window rule and defaults; since version
    1.3.3 it too counts only positive agreements), except where neither round predicts a
    positive: ΔF is 0 here (nothing changed), NaN there (which never stops).

    Parameters
    ----------
    threshold : float
        In (0, 1].
    window : int
        Consecutive values that must all be below ``threshold``.
    positive : label, optional
        The positive class. When omitted the task must be binary and the positive class
        is ``1``; give it to track one class of a multi-class task (one-vs-rest F).

    References
    ----------
    Altschuler & Bloodgood (2019), "Stopping active learning based on predicted change of
    F measure for text classification", IEEE ICSC.
    """

    def __init__(self, threshold: float = 0.05, window: int = 3, positive: Any = None) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1]; got {threshold}.")
        self.threshold = threshold
        self.window = _check_window(window)
        self.positive = positive
        self.reset()

    def reset(self) -> None:
        """Forget earlier predictions and changes."""
        super().reset()
        self._previous: np.ndarray | None = None
        self.deltas_: list[float] = []

    def update(self, state: State) -> bool:
        """True once the last ``window`` values of ΔF are all below ``threshold``."""
        predictions = _stop_set_predictions(state, "DeltaFScore")
        positive = self.positive
        if positive is None:
            seen = np.unique(
                predictions if self._previous is None else [*self._previous, *predictions]
            )
            if seen.shape[0] > 2:
                raise ValueError(
                    f"DeltaFScore is for binary tasks; the model predicts {seen.shape[0]} "
                    "classes. Pass positive=<class> to track one class, or use KappaAverage."
                )
            positive = 1
        if self._previous is not None:
            self.deltas_.append(delta_f(self._previous, predictions, positive))
        self._previous = predictions
        recent = self.deltas_[-self.window :]
        if len(recent) == self.window and max(recent) < self.threshold:
            return self._fire(
                f"predicted change of F on the stop set was below {self.threshold} for "
                f"{self.window} rounds (last {recent[-1]:.4f})"
            )
        return False


class ClassificationChange(StoppingCriterion):
    """Stop when (almost) no stop-set item changes its predicted class between rounds.

    Zhu et al. stop when no unlabeled item's predicted class changes from one round to
    the next; here the items are the fixed stop set (a sample of the pool, as in
    small-text, which compares predictions on a fixed subset). With ``threshold`` > 0 a
    fraction of the items may change: stop once at least ``(1 - threshold) · n`` kept
    their class (small-text's ``ClassificationChange``).

    Parameters
    ----------
    threshold : float
        In [0, 1]: the fraction of items allowed to change (0: none, the paper's rule).

    References
    ----------
    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING ("classification-change").
    """

    def __init__(self, threshold: float = 0.0) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1]; got {threshold}.")
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        """Forget the previous predictions."""
        super().reset()
        self._previous: np.ndarray | None = None
        self.changed_: list[float] = []

    def update(self, state: State) -> bool:
        """True once at most a ``threshold`` fraction of the stop set changed its class."""
        predictions = _stop_set_predictions(state, "ClassificationChange")
        previous, self._previous = self._previous, predictions
        if previous is None:
            return False
        if previous.shape != predictions.shape:
            raise ValueError(
                f"ClassificationChange: the stop set changed size ({previous.shape[0]} -> "
                f"{predictions.shape[0]}); keep X_stop fixed over the run."
            )
        unchanged = int(np.sum(previous == predictions))
        self.changed_.append(1.0 - unchanged / max(predictions.shape[0], 1))
        if unchanged >= predictions.shape[0] * (1.0 - self.threshold):
            return self._fire(
                f"{predictions.shape[0] - unchanged} of {predictions.shape[0]} stop-set items "
                f"changed their predicted class (allowed: {self.threshold:.0%})"
            )
        return False


#: Uncertainty measures from posterior or committee samples (``sample_proba``).
_SAMPLE_MEASURES = ("bald", "kl_consensus", "mean_std", "variation_ratio", "vote_entropy")


class LowAverageUncertainty(StoppingCriterion):
    """Stop when the mean acquisition score over the pool falls below a threshold.

    Baal's ``LowAverageUncertaintyStoppingCriterion``: the loop's own uncertainty
    scores of the unlabeled pool, averaged, strictly below ``threshold``. Beside the
    probability measures of :class:`OverallUncertainty` it takes the posterior measures
    Baal uses (BALD, variation ratio, …) from the model's ``sample_proba`` (MC dropout,
    ensembles, forests).

    Parameters
    ----------
    threshold : float
        Mean uncertainty below which to stop.
    measure : str
        ``"entropy"``, ``"least_confidence"``, ``"margin"``, ``"ratio"`` (from
        ``predict_proba``), or ``"bald"``, ``"kl_consensus"``, ``"mean_std"``,
        ``"variation_ratio"``, ``"vote_entropy"`` (from ``sample_proba``).

    References
    ----------
    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING (overall uncertainty); Baal
    (``baal.active.stopping_criteria``), Atighehchian et al. (2020), "Bayesian active
    learning for production, a systematic study and a reusable library", ICML workshop.
    """

    def __init__(self, threshold: float = 0.05, measure: str = "entropy") -> None:
        known = sorted([*_scores.UNCERTAINTY, *_SAMPLE_MEASURES])
        if measure not in known:
            raise ValueError(f"measure must be one of {known}; got {measure!r}.")
        self.threshold = threshold
        self.measure = measure
        self.reason = None

    def update(self, state: State) -> bool:
        """True once ``mean(uncertainty over the pool) < threshold``."""
        if state.X_pool is not None and n_rows(state.X_pool) == 0:
            return self._fire("the pool is empty")
        if self.measure in _scores.UNCERTAINTY:
            values = _pool_uncertainty(state, self.measure, "LowAverageUncertainty")
        else:
            model = _require(state.model, "a fitted model", "LowAverageUncertainty", "")
            pool = _require(state.X_pool, "the unlabeled pool", "LowAverageUncertainty", "")
            if callable(getattr(model, "require", None)):
                model.require("sample_proba", f"LowAverageUncertainty(measure={self.measure!r})")
            values = getattr(_scores, self.measure)(model.sample_proba(pool))
        mean = float(np.mean(values))
        if mean < self.threshold:
            return self._fire(f"mean {self.measure} over the pool is {mean:.4f} < {self.threshold}")
        return False


class SelectedAccuracy(StoppingCriterion):
    """Stop when the previous model already labelled the queried batch right.

    Each round the oracle labels the items just queried; the model of the round before
    (which chose them) predicted their classes. The accuracy of those predictions against
    the oracle's labels is the selected accuracy; the run stops once its mean over the
    last ``window`` rounds reaches ``threshold`` (0.9 in the paper, ``window=1``). The
    queried items are the hardest the model knows of, so this is a pessimistic accuracy
    estimate that costs no extra labels.

    Needs ``state.X_new`` and ``state.y_new`` (the loop passes them) and keeps a copy
    (``copy.deepcopy``) of each round's model until the next round.

    Parameters
    ----------
    threshold : float
        Accuracy on the selected items at which to stop.
    window : int
        Rounds averaged.

    References
    ----------
    Zhu, Wang & Hovy (2008), "Learning a stopping criterion for active learning for word
    sense disambiguation and text classification", IJCNLP (the minimum-error criterion).
    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for
    data annotation", COLING.
    """

    def __init__(self, threshold: float = 0.9, window: int = 1) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1]; got {threshold}.")
        self.threshold = threshold
        self.window = _check_window(window)
        self.reset()

    def reset(self) -> None:
        """Forget the previous model and accuracies."""
        super().reset()
        self._previous: Any = None
        self.accuracies_: list[float] = []

    def update(self, state: State) -> bool:
        """True once the mean selected accuracy of the last ``window`` rounds >= threshold."""
        model = _require(state.model, "a fitted model", "SelectedAccuracy", "the loop passes it.")
        previous = self._previous
        self._previous = copy.deepcopy(model)
        if previous is None or state.y_new is None:
            if state.round > 0 and state.y_new is None:
                raise ValueError(
                    "SelectedAccuracy needs the batch labelled this round: State(X_new=..., "
                    "y_new=...). simulate and ActiveLearner pass them."
                )
            return False
        labels = np.asarray(state.y_new)
        if labels.shape[0] == 0:  # the oracle skipped the whole batch
            return False
        predicted = np.asarray(previous.predict(state.X_new))
        self.accuracies_.append(float(np.mean(predicted == labels)))
        recent = self.accuracies_[-self.window :]
        if len(recent) == self.window and float(np.mean(recent)) >= self.threshold:
            return self._fire(
                f"the previous model labelled {np.mean(recent):.1%} of the last "
                f"{self.window} queried batch(es) right (>= {self.threshold:.0%})"
            )
        return False


def clopper_pearson_lower(n_correct: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson lower confidence bound of a proportion.

    The largest ``p`` such that seeing ``n_correct`` or more successes in ``n`` trials
    has probability at most ``1 - confidence``: the ``1 - confidence`` quantile of
    ``Beta(n_correct, n - n_correct + 1)``; 0 when ``n_correct`` is 0.

    Parameters
    ----------
    n_correct : int
    n : int
        At least 1.
    confidence : float
        In (0, 1).

    Returns
    -------
    float

    References
    ----------
    Clopper & Pearson (1934), "The use of confidence or fiducial limits illustrated in
    the case of the binomial", Biometrika.

    Examples
    --------
    >>> round(clopper_pearson_lower(95, 100), 4)
    0.8977
    >>> round(clopper_pearson_lower(50, 50), 4)
    0.9418
    """
    from scipy.stats import beta

    if n < 1 or not 0 <= n_correct <= n:
        raise ValueError(f"need 0 <= n_correct <= n and n >= 1; got {n_correct} of {n}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
    if n_correct == 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, n_correct, n - n_correct + 1))


class AccuracyLowerBound(StoppingCriterion):
    """Stop on the lower confidence bound of accuracy on a labelled held-out sample.

    Each round the model labels the held-out sample; with ``k`` of its ``n`` items right,
    the bound is the one-sided Clopper–Pearson lower bound
    ``L_t = clopper_pearson_lower(k, n, confidence)``: with probability ``confidence``
    the model's accuracy is at least ``L_t``. The exact rule:

    1. with a ``target``, stop as soon as ``L_t >= target`` (the model is good enough,
       with that confidence);
    2. with a ``patience``, stop once ``L_t`` has not exceeded the best bound so far by
       more than ``min_delta`` for ``patience`` rounds in a row (more labels no longer
       buy a provable gain).

    Either rule alone, or both (whichever fires first). The held-out labels cost as much
    as any others: count them in the budget (the benchmark does).

    Parameters
    ----------
    X_holdout, y_holdout : array-like
        A labelled sample, never used for training, drawn at random from the pool.
    target : float, optional
        Accuracy the bound must reach.
    confidence : float
        Confidence of the one-sided bound.
    patience : int or None
        Rounds without a gain of the bound before stopping; None: target only.
    min_delta : float
        Smallest gain of the bound that counts.

    References
    ----------
    Beatty, Kochis & Bloodgood (2019), "The use of unlabeled data versus labeled data for
    stopping active learning for text classification", IEEE ICSC (stopping on a labelled
    validation sample); Clopper & Pearson (1934), Biometrika (the bound).

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:
    ...     def predict(self, X):
    ...         return np.zeros(len(X), dtype=int)
    >>> bound = AccuracyLowerBound(np.zeros((50, 1)), np.zeros(50, dtype=int), target=0.9)
    >>> bound.update(State(0, 10, Fixed()))
    True
    """

    def __init__(
        self,
        X_holdout: Any,
        y_holdout: Any,
        target: float | None = None,
        confidence: float = 0.95,
        patience: int | None = 3,
        min_delta: float = 0.0,
    ) -> None:
        if target is None and patience is None:
            raise ValueError(
                "AccuracyLowerBound needs a target accuracy, a patience, or both; got neither."
            )
        if target is not None and not 0.0 < target <= 1.0:
            raise ValueError(f"target must be an accuracy in (0, 1]; got {target}.")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1 (or None); got {patience}.")
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
        labels = np.asarray(y_holdout)
        if labels.ndim != 1 or labels.shape[0] < 1 or labels.shape[0] != n_rows(X_holdout):
            raise ValueError(
                "X_holdout and y_holdout must hold the same number (at least 1) of items "
                f"and labels; got {n_rows(X_holdout)} items and labels of shape {labels.shape}."
            )
        self.X_holdout = X_holdout
        self.y_holdout = y_holdout
        self.target = target
        self.confidence = confidence
        self.patience = patience
        self.min_delta = min_delta
        self.reset()

    def __repr__(self) -> str:
        return (
            f"AccuracyLowerBound(<{n_rows(self.X_holdout)} held-out items>, "
            f"target={self.target!r}, confidence={self.confidence!r}, "
            f"patience={self.patience!r}, min_delta={self.min_delta!r})"
        )

    def reset(self) -> None:
        """Forget earlier bounds."""
        super().reset()
        self.bounds_: list[float] = []
        self._best = -np.inf
        self._since_best = 0

    def update(self, state: State) -> bool:
        """True once the bound reaches ``target`` or stops rising for ``patience`` rounds."""
        model = _require(state.model, "a fitted model", "AccuracyLowerBound", "")
        labels = np.asarray(self.y_holdout)
        correct = int(np.sum(np.asarray(model.predict(self.X_holdout)) == labels))
        bound = clopper_pearson_lower(correct, labels.shape[0], self.confidence)
        self.bounds_.append(bound)
        if self.target is not None and bound >= self.target:
            return self._fire(
                f"{self.confidence:.0%} lower bound of held-out accuracy is {bound:.4f} >= "
                f"{self.target}"
            )
        if self.patience is None:
            return False
        if bound > self._best + self.min_delta:
            self._best, self._since_best = bound, 0
            return False
        self._since_best += 1
        if self._since_best >= self.patience:
            return self._fire(
                f"{self.confidence:.0%} lower bound of held-out accuracy has not risen by "
                f"more than {self.min_delta} for {self.patience} rounds (best {self._best:.4f})"
            )
        return False
