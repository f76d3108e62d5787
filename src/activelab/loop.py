"""The active learning loop: :class:`ActiveLearner` (interactive) and :func:`simulate`.

Per round, data flows one way: the model (fitted once per round, by the loop) is read by
the strategy, the strategy picks indices, the oracle labels them, the model is refit, and
the stopping criteria look at the new state.

Two options change what each fit sees (:mod:`activelab.training`): a training scheme adds
pseudo-labeled pool items to the round's fit (CEAL, self-training), never counted as
labels; ``importance_weighting`` weights the labeled items so that the training risk is
unbiased for a stochastic strategy (LURE weights, passed to fit as ``sample_weight``).
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.base import clone

from activelab import strategies as _strategies
from activelab._data import concat_rows, row_keys, take_rows
from activelab._validation import RandomStateLike, check_labels, check_random_state, n_rows
from activelab.costs import check_costs
from activelab.models import ModelAdapter, SklearnAdapter, wrap
from activelab.multilabel._loop import f1_micro, hamming_loss, subset_accuracy
from activelab.oracles import (
    Answers,
    LoopContext,
    Oracle,
    SimulatedOracle,
    apply_revisions,
    observe,
)
from activelab.stopping import State, StoppingCriterion
from activelab.training import (
    TrainingScheme,
    importance_ratios,
    lure_weights,
    selection_probabilities,
)

__all__ = [
    "CLASSIFICATION_METRICS",
    "LOWER_IS_BETTER",
    "METRICS",
    "MULTILABEL_METRICS",
    "REGRESSION_METRICS",
    "ActiveLearner",
    "Result",
    "Round",
    "aulc",
    "simulate",
]


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def _f1_macro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    error = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.sqrt(np.mean(error**2)))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    error = np.asarray(y_true, dtype=np.float64) - np.asarray(y_pred, dtype=np.float64)
    return float(np.mean(np.abs(error)))


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(np.asarray(y_true, dtype=np.float64), y_pred))


#: Metrics the loop can report, by name: ``f(y_true, y_pred) -> float``. Higher is
#: better except for the names in :data:`LOWER_IS_BETTER`.
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "f1_macro": _f1_macro,
    "f1_micro": f1_micro,
    "hamming_loss": hamming_loss,
    "subset_accuracy": subset_accuracy,
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
}
#: Error metrics: lower is better (root mean squared and mean absolute error, in the
#: target's units; the multi-label Hamming loss, a fraction of wrong entries).
LOWER_IS_BETTER: frozenset[str] = frozenset({"rmse", "mae", "hamming_loss"})
#: The metrics reported by default for a classifier and for a regressor.
CLASSIFICATION_METRICS: tuple[str, ...] = ("accuracy", "f1_macro")
REGRESSION_METRICS: tuple[str, ...] = ("rmse", "mae", "r2")
#: The metrics reported by default for a multi-label model (Y an indicator matrix):
#: micro and macro F1, Hamming loss (lower is better) and subset accuracy.
MULTILABEL_METRICS: tuple[str, ...] = ("f1_micro", "f1_macro", "hamming_loss", "subset_accuracy")


@dataclass
class Round:
    """One round of the loop.

    Attributes
    ----------
    round : int
        0 for the model fitted on the initial set.
    n_labeled : int
        Labels after this round.
    metrics : dict
        Held-out scores of the model fitted at the end of the round.
    query_seconds, fit_seconds : float
        Time spent choosing the batch and refitting.
    indices : numpy.ndarray
        What was labeled this round (indices into ``X`` for :func:`simulate`; positions
        in the labeled set for :class:`ActiveLearner`).
    skipped : numpy.ndarray
        Queried indices the oracle skipped.
    n_pseudo : int
        Pseudo-labeled pool items in this round's fit (a training scheme's); never
        counted in ``n_labeled``.
    pseudo_accuracy : float
        Fraction of those pseudo-labels that are right (:func:`simulate` knows the true
        labels); NaN when there are none or the truth is unknown.
    cost : float
        Annotation cost spent after this round, the initial set included: the ``costs``
        of every item asked (skipped or not), plus what the oracle reported
        (:attr:`~activelab.oracles.Answers.cost`: an LLM's tokens, a router's human and
        LLM labels), plus what a strategy paid to choose (``llm_select``'s tokens). NaN
        when nothing is counted: no ``costs`` and an oracle that keeps no
        ``total_cost`` and reported none.
    """

    round: int
    n_labeled: int
    metrics: dict[str, float]
    query_seconds: float
    fit_seconds: float
    indices: np.ndarray
    skipped: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    n_pseudo: int = 0
    pseudo_accuracy: float = float("nan")
    cost: float = float("nan")


def aulc(n_labeled: Sequence[float], values: Sequence[float]) -> float:
    """Area under a learning curve, normalised by the width of the label range.

    The trapezoidal area under ``values`` against ``n_labeled``, divided by the width of
    the label range: the curve's mean value over the labels bought. For a score in
    ``[0, 1]`` (accuracy, F1) it lies in ``[0, 1]`` and a model perfect from the first
    round scores 1. For an error metric (``rmse``, ``mae``) it is the mean error over the
    curve, in the target's units, and lower is better; ``r2`` is at most 1, higher is
    better. A single point returns its value.

    Parameters
    ----------
    n_labeled : sequence of numbers, increasing
    values : sequence of floats

    Returns
    -------
    float

    Examples
    --------
    >>> aulc([10, 20, 30], [0.5, 0.7, 0.9])
    0.7
    """
    x = np.asarray(n_labeled, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or x.size == 0:
        raise ValueError("aulc needs as many metric values as label counts, at least one.")
    if x.size == 1 or x[-1] == x[0]:
        return float(y[-1])
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return area / float(x[-1] - x[0])


@dataclass
class Result:
    """What :func:`simulate` returns.

    Attributes
    ----------
    strategy : str
        The strategy's name.
    model : str
        The model's description.
    history : list of Round
        One record per round.
    stopped_by : str or None
        The reason a stopping criterion gave, or None when the budget or the pool ran out.
    metric : str
        The metric :attr:`aulc` integrates.
    """

    strategy: str
    model: str
    history: list[Round]
    stopped_by: str | None = None
    metric: str = "accuracy"

    def curve(
        self, metric: str | None = None, against: str = "labels"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Label counts (or cost spent) and the metric after each round.

        Parameters
        ----------
        metric : str, optional
            Defaults to :attr:`metric`.
        against : {"labels", "cost"}
            The x axis: labels bought, or annotation cost spent (:attr:`Round.cost`: a
            run of :func:`simulate` with ``costs`` or with an oracle that reports its
            cost); ``aulc(*result.curve(against="cost"))`` is the area under the cost
            curve.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
        """
        key = metric or self.metric
        if against == "labels":
            x = np.array([r.n_labeled for r in self.history])
        elif against == "cost":
            x = np.array([r.cost for r in self.history], dtype=np.float64)
            if np.isnan(x).any():
                raise ValueError(
                    "this run has no annotation costs; run simulate(..., costs=...) or with an "
                    "oracle that reports its cost (LLMOracle, Router, MultiAnnotatorOracle, "
                    "or any oracle wrapped in RecordingOracle) to get curves against cost."
                )
        else:
            raise ValueError(f"against must be 'labels' or 'cost'; got {against!r}.")
        return x, np.array([r.metrics[key] for r in self.history])

    @property
    def aulc(self) -> float:
        """Area under the learning curve of :attr:`metric`, divided by the label range.

        In ``[0, 1]`` for accuracy and F1 (higher is better); the mean error over the
        curve for ``rmse`` and ``mae`` (lower is better, see :attr:`lower_is_better`).
        """
        return aulc(*self.curve())

    @property
    def lower_is_better(self) -> bool:
        """True when :attr:`metric` is an error (``rmse``, ``mae``): smaller AULC wins."""
        return self.metric in LOWER_IS_BETTER

    @property
    def final(self) -> dict[str, float]:
        """Metrics of the last round's model."""
        return dict(self.history[-1].metrics)

    def to_frame(self) -> Any:
        """One row per round as a pandas DataFrame (needs pandas).

        Returns
        -------
        pandas.DataFrame
        """
        from activelab._extras import require

        pd = require("pandas", "bench", "Result.to_frame")
        rows = [
            {
                "strategy": self.strategy,
                "model": self.model,
                "round": r.round,
                "n_labeled": r.n_labeled,
                **r.metrics,
                "query_seconds": r.query_seconds,
                "fit_seconds": r.fit_seconds,
                "indices": r.indices.tolist(),
                "skipped": r.skipped.tolist(),
                "n_pseudo": r.n_pseudo,
                "pseudo_accuracy": r.pseudo_accuracy,
                "cost": r.cost,
            }
            for r in self.history
        ]
        return pd.DataFrame(rows)

    def plot(self, path: str | None = None, metric: str | None = None) -> Any:
        """Draw the learning curve; save it to ``path`` when given (needs matplotlib).

        Parameters
        ----------
        path : str, optional
            File to write (PNG, SVG, PDF by extension).
        metric : str, optional

        Returns
        -------
        matplotlib.figure.Figure
        """
        from activelab.plot import learning_curves

        return learning_curves({self.strategy: [self]}, path=path, metric=metric or self.metric)


def _resolve_strategy(strategy: str | _strategies.Strategy) -> _strategies.Strategy:
    if isinstance(strategy, str):
        return _strategies.get(strategy)
    if isinstance(strategy, _strategies.Strategy):
        return strategy
    raise TypeError(
        f"strategy must be a registry name or a Strategy; got {type(strategy).__name__}. "
        f"Names: {', '.join(_strategies.available())}."
    )


def _is_regression(model: ModelAdapter) -> bool:
    from activelab.models._regression import is_regression_adapter

    return is_regression_adapter(model)


def _is_multilabel(model: ModelAdapter) -> bool:
    from activelab.models import is_multilabel_adapter

    return is_multilabel_adapter(model)


def _multilabel_model(model: ModelAdapter, estimator: Any) -> ModelAdapter:
    """A multi-label adapter for a 2-D indicator ``y``, or a TypeError saying what to pass."""
    from activelab.models import MultiLabelAdapter

    if _is_multilabel(model):
        return model
    if isinstance(estimator, ModelAdapter) and not isinstance(estimator, SklearnAdapter):
        raise TypeError(
            f"y is an indicator matrix (multi-label) and {estimator.describe()} is not a "
            "multi-label model. Pass a multi-label classifier (OneVsRestClassifier(...), "
            "MultiOutputClassifier(...), ClassifierChain(...), RandomForestClassifier) or "
            "al.models.MultiLabelAdapter(estimator)."
        )
    inner = estimator.estimator if isinstance(estimator, SklearnAdapter) else estimator
    return MultiLabelAdapter(inner).clone()


def _check_task(strategy: Any, multilabel: bool) -> None:
    """A multi-label experiment needs a multi-label (or feature-only) strategy, and back."""
    task = getattr(strategy, "task", "classification")
    reads_nothing = not getattr(strategy, "needs", ("?",))  # random sampling
    if multilabel and task not in ("multilabel", "any") and not reads_nothing:
        raise TypeError(
            f"y is an indicator matrix (multi-label) and {getattr(strategy, 'name', strategy)!r} "
            f"is a {task} strategy. Use a multi-label strategy: "
            f"{', '.join(n for n in _strategies.available() if _task(n) == 'multilabel')}."
        )
    if not multilabel and task == "multilabel":
        raise TypeError(
            f"{strategy.name!r} is a multi-label strategy; pass y as an indicator matrix "
            "(n, L) and a multi-label classifier."
        )


def _task(name: str) -> str:
    return getattr(_strategies._lookup(name), "task", "classification")


def _check_targets(labels: np.ndarray) -> None:
    """Regression targets: numbers, and not all equal is not required (a constant fits)."""
    if not (np.issubdtype(labels.dtype, np.number) or labels.dtype == bool):
        raise TypeError(
            f"a regressor needs numeric targets; got labels of dtype {labels.dtype}. For "
            "class labels pass a classifier."
        )


def _check_classes(labels: np.ndarray) -> None:
    classes = np.unique(labels)
    if classes.shape[0] < 2:
        raise ValueError(
            f"the labeled set has one class ({classes[0]!r}); a classifier needs at least "
            "two. Label more items (a larger or stratified initial set) before fitting."
        )


def _takes_sample_weight(fit: Any) -> bool:
    try:
        parameters = inspect.signature(fit).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters)


def _weighted_fit(model: ModelAdapter) -> Callable[[Any, np.ndarray, np.ndarray], Any]:
    """How to fit ``model`` with ``sample_weight``, or a TypeError saying it cannot be."""
    if _takes_sample_weight(model.fit):
        return lambda X, y, w: model.fit(X, y, sample_weight=w)
    if isinstance(model, SklearnAdapter) or (_is_regression(model) and hasattr(model, "estimator")):
        estimator = model.estimator
        steps = getattr(estimator, "steps", None)
        final = steps[-1][1] if steps else estimator
        if _takes_sample_weight(getattr(final, "fit", None)):
            if steps:
                key = f"{steps[-1][0]}__sample_weight"
                return lambda X, y, w: estimator.fit(X, y, **{key: w})
            return lambda X, y, w: estimator.fit(X, y, sample_weight=w)
    raise TypeError(
        f"importance_weighting passes sample_weight to fit, and {model.describe()} does not "
        "take it. Use an estimator whose fit has sample_weight (LogisticRegression, "
        "SGDClassifier, RandomForestClassifier, RandomForestRegressor, …, alone or last in "
        "a Pipeline), or importance_weighting=False."
    )


def _fit(
    model: ModelAdapter, X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> float:
    if _is_regression(model):
        _check_targets(y)
    elif not _is_multilabel(model):
        _check_classes(y)
    start = time.perf_counter()
    if sample_weight is None:
        model.fit(X, y)
    else:
        _weighted_fit(model)(X, y, sample_weight)
    return time.perf_counter() - start


def _check_training(training: Any, model: ModelAdapter | None = None) -> TrainingScheme | None:
    if training is None:
        return None
    if model is not None and _is_regression(model):
        raise TypeError(
            f"training={type(training).__name__} pseudo-labels confident class predictions, "
            f"and {model.describe()} is a regressor. Training schemes are for classifiers; "
            "pass training=None."
        )
    if not isinstance(training, TrainingScheme):
        raise TypeError(
            "training takes a training scheme such as al.training.CEAL(delta=0.05, "
            f"decay=0.0033) or al.training.SelfTraining(threshold=0.95); got "
            f"{type(training).__name__}."
        )
    training.validate()
    return training


def _pick_ratios(
    strategy: _strategies.Strategy,
    model: ModelAdapter,
    X_pool: Any,
    picks: np.ndarray,
    warned: bool,
) -> tuple[np.ndarray, bool]:
    """Importance ratios 1/(n_left q) of a batch (1 when its probabilities are unknown)."""
    probabilities = selection_probabilities(strategy, model, X_pool, picks)
    if probabilities is None:
        if not warned:
            warnings.warn(
                f"importance_weighting: {getattr(strategy, 'name', '') or strategy!r} picks "
                "deterministically (or does not say with which probabilities), so its labels "
                "keep weight 1: no reweighting can correct a deterministic choice. Use "
                "sampling='softmax' (or 'power', 'softrank'), 'random' or 'albl'.",
                UserWarning,
                stacklevel=3,
            )
        return np.ones(picks.shape[0]), True
    n_left = n_rows(X_pool) - np.arange(picks.shape[0])
    return importance_ratios(probabilities, n_left), warned


def _priced(
    strategy: Any,
    item_costs: np.ndarray | None,
    pool: np.ndarray,
    cost_budget: float | None,
    spent: float,
) -> Any:
    """A cost-aware strategy without prices of its own gets this round's pool costs."""
    if item_costs is None or not isinstance(strategy, _strategies.CostAware):
        return strategy
    if strategy.cost is not None:
        return strategy
    params: dict[str, Any] = {"cost": item_costs[pool]}
    if cost_budget is not None and strategy.budget is not None:
        params["budget"] = min(float(strategy.budget), cost_budget - spent)
    return clone(strategy).set_params(**params)


def _within(picks: np.ndarray, pool_costs: np.ndarray, left: float) -> np.ndarray:
    """The longest prefix of ``picks`` whose cost fits in ``left``."""
    picks = np.asarray(picks, dtype=np.int64)
    fits = np.cumsum(pool_costs[picks]) <= left * (1 + 1e-12)
    return picks[: int(np.argmin(fits)) if not fits.all() else picks.shape[0]]


def _evaluate(model: ModelAdapter, X_test: Any, y_test: Any, metrics: Sequence[str]) -> dict:
    if X_test is None:
        return {}
    predicted = model.predict(X_test)
    return {name: METRICS[name](y_test, predicted) for name in metrics}


def _check_metrics(
    metrics: Sequence[str] | None, regression: bool = False, multilabel: bool = False
) -> list[str]:
    if metrics is None and multilabel:
        return list(MULTILABEL_METRICS)
    if metrics is None:
        return list(REGRESSION_METRICS if regression else CLASSIFICATION_METRICS)
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; choose from {sorted(METRICS)}.")
    if multilabel:
        wrong = [m for m in metrics if m not in MULTILABEL_METRICS]
        if wrong:
            raise ValueError(
                f"metrics {wrong} do not apply to a multi-label model; choose from "
                f"{list(MULTILABEL_METRICS)}."
            )
        return list(metrics)
    wrong = [m for m in metrics if (m in REGRESSION_METRICS) != regression]
    if wrong:
        task, fits = (
            ("regressor", REGRESSION_METRICS)
            if regression
            else (
                "classifier",
                CLASSIFICATION_METRICS,
            )
        )
        raise ValueError(f"metrics {wrong} do not apply to a {task}; choose from {list(fits)}.")
    return list(metrics)


def _stop_reason(criteria: Sequence[StoppingCriterion], state: State) -> str | None:
    for criterion in criteria:
        if criterion.update(state):
            return criterion.reason or type(criterion).__name__
    return None


def _as_criteria(stopping: Any) -> list[StoppingCriterion]:
    if stopping is None:
        return []
    criteria = list(stopping) if isinstance(stopping, list | tuple) else [stopping]
    for criterion in criteria:
        if not callable(getattr(criterion, "update", None)):
            raise TypeError(
                f"stopping takes criteria with update(state); got {type(criterion).__name__}."
            )
        criterion.reset()
    return criteria


class ActiveLearner:
    """Interactive active learning: fit, query, teach, repeat.

    The learner owns a copy of the estimator and refits it once per :meth:`teach`.
    Stopping criteria are checked after every fit; :attr:`stopped_by` says why the
    learner would stop (it never refuses to query: the caller decides).

    Parameters
    ----------
    estimator : classifier, regressor or ModelAdapter
        Anything with fit and predict_proba, or a regressor (numeric targets, with a
        regression strategy); copied, never modified.
    strategy : str or Strategy
        A registry name (``al.strategies.available()``) or a Strategy object.
    stopping : criterion or list of criteria, optional
    X_stop : array-like, optional
        A fixed stop set for criteria that need one (StabilizingPredictions).
    X_val, y_val : optional
        A validation set: its metrics are recorded per round and fed to the criteria
        (accuracy and macro F1 for a classifier; RMSE, MAE and R² for a regressor).
    random_state : int, numpy.random.Generator or None
    training : TrainingScheme, optional
        E.g. ``al.training.CEAL()``: at each :meth:`teach`, the current model
        pseudo-labels confident items of the last pool passed to :meth:`query` (without
        the items being taught) for this fit only; they never count as labels.
    importance_weighting : bool
        Fit with LURE weights (:func:`activelab.training.lure_weights`) that correct the
        sampling bias of a stochastic strategy. Items taught after a :meth:`query` are
        matched to its picks by content; any other item has weight 1.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> learner = ActiveLearner(LogisticRegression(max_iter=500), "margin", random_state=0)
    >>> learner = learner.fit(X[[0, 50, 100]], y[[0, 50, 100]])
    >>> picks = learner.query(X, k=5)
    >>> learner = learner.teach(X[picks], y[picks])
    >>> learner.n_labeled
    8
    """

    def __init__(
        self,
        estimator: Any,
        strategy: str | _strategies.Strategy = "margin",
        stopping: Any = None,
        X_stop: Any = None,
        X_val: Any = None,
        y_val: Any = None,
        random_state: RandomStateLike = None,
        training: TrainingScheme | None = None,
        importance_weighting: bool = False,
    ) -> None:
        self.model = wrap(estimator).clone()
        self.strategy = _resolve_strategy(strategy)
        self.training = _check_training(training, self.model)
        self.importance_weighting = bool(importance_weighting)
        if self.importance_weighting:
            _weighted_fit(self.model)
        self.criteria = _as_criteria(stopping)
        self.X_stop = X_stop
        self.X_val = X_val
        self.y_val = None if y_val is None else np.asarray(y_val)
        self.history: list[Round] = []
        self.stopped_by: str | None = None
        self._rng = check_random_state(random_state)
        self._X: Any = None
        self._y: np.ndarray | None = None
        self._last_query_seconds = 0.0
        self._last_pool: Any = None
        self._ratios = np.empty(0)  # importance ratio of each labeled item
        # The last query, for matching what is taught: picks, their ratios, still open.
        self._picks = np.empty(0, dtype=np.int64)
        self._pick_ratios = np.empty(0)
        self._open = np.empty(0, dtype=bool)
        self._warned = False
        self._spent, self._counted = 0.0, False  # cost taught or reported by ask()
        self._asked = np.empty(0, dtype=np.int64)  # items labelled through ask(), by index
        self._asked_labels: np.ndarray = np.empty(0)
        self._asked_at = np.empty(0, dtype=np.int64)  # and where they are in y_labeled

    @property
    def n_labeled(self) -> int:
        """Number of labeled items the model was fitted on."""
        return 0 if self._y is None else int(self._y.shape[0])

    @property
    def X_labeled(self) -> Any:
        """The labeled items so far."""
        return self._X

    @property
    def y_labeled(self) -> np.ndarray | None:
        """Their labels."""
        return self._y

    def _record(self, new: int, fit_seconds: float, n_pseudo: int = 0) -> None:
        metrics = _evaluate(
            self.model,
            self.X_val,
            self.y_val,
            _check_metrics(None, _is_regression(self.model), _is_multilabel(self.model)),
        )
        self.history.append(
            Round(
                round=len(self.history),
                n_labeled=self.n_labeled,
                metrics=metrics,
                query_seconds=self._last_query_seconds,
                fit_seconds=fit_seconds,
                indices=np.arange(self.n_labeled - new, self.n_labeled),
                n_pseudo=n_pseudo,
                cost=self._spent if self._counted else float("nan"),
            )
        )
        self._last_query_seconds = 0.0
        taught = None  # the items just taught, for criteria that judge the batch
        if len(self.history) > 1:
            taught = take_rows(self._X, np.arange(self.n_labeled - new, self.n_labeled))
        state = State(
            round=len(self.history) - 1,
            n_labeled=self.n_labeled,
            model=self.model,
            X_pool=self._last_pool,
            X_stop=self.X_stop,
            metrics=metrics,
            X_new=taught,
            y_new=None if taught is None else self._y[self.n_labeled - new :],
        )
        self.stopped_by = self.stopped_by or _stop_reason(self.criteria, state)

    def _check_y(self, y: Any, n: int, name: str) -> np.ndarray:
        """Labels of ``n`` rows; an indicator matrix ``(n, L)`` makes the model multi-label."""
        if np.ndim(y) != 2:
            return check_labels(y, n, name=name)
        from activelab.models._multilabel import check_indicator

        self.model = _multilabel_model(self.model, self.model)
        return check_indicator(y, n, "ActiveLearner", allow_unknown=True, name=name)

    def _charge(self, cost: float | None) -> None:
        if cost is None:
            return
        cost = float(cost)
        if not (np.isfinite(cost) and cost >= 0):
            raise ValueError(f"cost must be a finite number >= 0; got {cost}.")
        self._spent += cost
        self._counted = True

    def fit(self, X: Any, y: Any, cost: float | None = None) -> ActiveLearner:
        """Start over: fit the model on an initial labeled set.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts
        y : array-like of shape (n,)
        cost : float, optional
            What these labels cost; starts the running total in :attr:`Round.cost`
            (NaN while no cost was ever given).

        Returns
        -------
        ActiveLearner
        """
        labels = self._check_y(y, n_rows(X), "y")
        self._spent, self._counted = 0.0, False
        self._asked, self._asked_labels = np.empty(0, dtype=np.int64), np.empty(0)
        self._asked_at = np.empty(0, dtype=np.int64)
        self._charge(cost)
        self._X, self._y = X, labels
        self._ratios = np.ones(labels.shape[0])
        self._last_pool, self._open = None, np.empty(0, dtype=bool)
        self.history, self.stopped_by = [], None
        for criterion in self.criteria:
            criterion.reset()
        weights = self._ratios if self.importance_weighting else None
        self._record(labels.shape[0], _fit(self.model, X, labels, weights))
        return self

    def query(self, X_pool: Any, k: int = 1) -> np.ndarray:
        """Indices of the ``k`` pool items to label next, most informative first.

        Parameters
        ----------
        X_pool : array-like, sparse matrix, DataFrame or list of texts
        k : int

        Returns
        -------
        numpy.ndarray of shape (k,), int64
        """
        if self._y is None:
            raise RuntimeError("fit the learner on an initial labeled set before querying.")
        start = time.perf_counter()
        picks = self.strategy.query(self.model, X_pool, k, self._X, self._y, random_state=self._rng)
        self._last_query_seconds = time.perf_counter() - start
        self._last_pool = X_pool
        self._picks, self._open = picks, np.ones(picks.shape[0], dtype=bool)
        self._pick_ratios = np.ones(picks.shape[0])
        if self.importance_weighting:
            self._pick_ratios, self._warned = _pick_ratios(
                self.strategy, self.model, X_pool, picks, self._warned
            )
        return picks

    def _match_last_picks(self, X_new: Any) -> np.ndarray:
        """Which of the last query's open picks each taught row is (-1: none); closes them."""
        matched = np.full(n_rows(X_new), -1, dtype=np.int64)
        if self._last_pool is None or not self._open.any():
            return matched
        open_picks = np.flatnonzero(self._open)
        slots: dict[Any, list[int]] = {}
        pick_rows = take_rows(self._last_pool, self._picks[open_picks])
        for j, key in zip(open_picks, row_keys(pick_rows), strict=True):
            slots.setdefault(key, []).append(int(j))
        for i, key in enumerate(row_keys(X_new)):
            if slots.get(key):
                matched[i] = slots[key].pop(0)
                self._open[matched[i]] = False
        return matched

    def ask(self, oracle: Oracle, X: Any, indices: Any) -> Answers:
        """Ask ``oracle`` to label ``indices`` (rows of ``X``), teach the answers, count the cost.

        Before asking, an oracle with an ``observe`` hook is told the current model,
        ``X`` and the items labelled through :meth:`ask` so far
        (:class:`~activelab.oracles.LoopContext`): a ``Router(uncertainty="margin")``
        routes by this learner's model, an ``LLMOracle(few_shot_from_labels=True)`` takes
        few-shot examples from those labels. Then the answered rows are taught (the
        first call fits, when the learner is not fitted yet), and the oracle's
        :attr:`~activelab.oracles.Answers.cost` is added to :attr:`Round.cost`. Labels
        the oracle revised (:attr:`~activelab.oracles.Answers.revised`) replace those of
        items labelled through :meth:`ask` before that fit.

        Parameters
        ----------
        oracle : Oracle
            Labels items by index into ``X``.
        X : array-like, sparse matrix, DataFrame or list of texts
            The data the oracle's indices refer to; the same ``X`` on every call.
        indices : array of int
            Rows of ``X`` to label, e.g. ``pool[learner.query(X[pool], k)]``.

        Returns
        -------
        Answers
            What the oracle answered.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.linear_model import LogisticRegression
        >>> from activelab.oracles import SimulatedOracle
        >>> X, y = load_iris(return_X_y=True)
        >>> learner = ActiveLearner(LogisticRegression(max_iter=500), random_state=0)
        >>> _ = learner.ask(SimulatedOracle(y), X, [0, 50, 100])
        >>> _ = learner.ask(SimulatedOracle(y), X, learner.query(X, k=5))
        >>> learner.n_labeled
        8
        """
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"ask takes integer indices into X; got dtype {indices.dtype}. Pass rows of X, "
                "e.g. pool[learner.query(X[pool], k)]."
            )
        indices = indices.astype(np.int64).ravel()
        if self._y is not None:
            context = LoopContext(
                self.model, X, self._asked.copy(), self._asked_labels.copy(), len(self.history) - 1
            )
            observe(oracle, context)
        answers = oracle.label(indices)
        got = np.asarray(answers.indices, dtype=np.int64)
        labels = np.asarray(answers.labels)
        if answers.revised and self._y is not None:  # before the next fit
            held = np.full(self.n_labeled, -1, dtype=np.int64)
            held[self._asked_at] = self._asked
            self._y = apply_revisions(held, self._y, answers.revised)
            self._asked_labels = apply_revisions(self._asked, self._asked_labels, answers.revised)
        start = self.n_labeled
        if got.size:
            self.teach(take_rows(X, got), labels, cost=float(answers.cost))
        else:  # everything skipped: nothing to fit, but the asking was paid for
            self._charge(float(answers.cost))
            if self.history:
                self.history[-1].cost = self._spent
            return answers
        self._asked_at = np.concatenate([self._asked_at, np.arange(start, start + got.size)])
        self._asked = np.concatenate([self._asked, got])
        self._asked_labels = (
            labels.copy()
            if self._asked_labels.size == 0
            else np.concatenate([self._asked_labels, labels])
        )
        return answers

    def teach(self, X_new: Any, y_new: Any, cost: float | None = None) -> ActiveLearner:
        """Add newly labeled items and refit.

        With a training scheme or importance weighting, the taught rows are matched by
        content to the picks of the last :meth:`query`: matched picks leave that pool
        (the rest of it is what the scheme may pseudo-label) and carry their importance
        weight; other rows count as uniform draws (weight 1).

        Parameters
        ----------
        X_new : array-like, sparse matrix, DataFrame or list of texts
        y_new : array-like of shape (n_new,)
        cost : float, optional
            What these labels cost, added to the running total in :attr:`Round.cost`
            (NaN while no cost was ever given).

        Returns
        -------
        ActiveLearner
        """
        if self._y is None:
            return self.fit(X_new, y_new, cost=cost)
        labels = self._check_y(y_new, n_rows(X_new), "y_new")
        self._charge(cost)
        ratios = np.ones(labels.shape[0])
        if self.importance_weighting or self.training is not None:
            matched = self._match_last_picks(X_new)
            ratios[matched >= 0] = self._pick_ratios[matched[matched >= 0]]
        began = time.perf_counter()
        pseudo_X, pseudo_y = None, None
        if self.training is not None and self._last_pool is not None:
            # The last pool without what was taught from it: the picks no longer open.
            rest = np.setdiff1d(np.arange(n_rows(self._last_pool)), self._picks[~self._open])
            pool = take_rows(self._last_pool, rest)
            pseudo = self.training.pseudo_labels(self.model, pool, len(self.history), self._rng)
            if len(pseudo):
                pseudo_X, pseudo_y = take_rows(pool, pseudo.indices), pseudo.labels
        pseudo_seconds = time.perf_counter() - began
        self._X = concat_rows(self._X, X_new)
        self._y = np.concatenate([self._y, labels])
        self._ratios = np.concatenate([self._ratios, ratios])
        X_fit, y_fit, n_pseudo = self._X, self._y, 0
        if pseudo_y is not None:
            X_fit, y_fit = concat_rows(self._X, pseudo_X), np.concatenate([self._y, pseudo_y])
            n_pseudo = pseudo_y.shape[0]
        weights = None
        if self.importance_weighting:
            unlabeled = 0
            if self._last_pool is not None:
                unlabeled = max(n_rows(self._last_pool) - int((~self._open).sum()), 0)
            weights = lure_weights(self._ratios, self.n_labeled + unlabeled)
            weights = np.concatenate([weights, np.ones(n_pseudo)])
        fit_seconds = _fit(self.model, X_fit, y_fit, weights) + pseudo_seconds
        self._record(labels.shape[0], fit_seconds, n_pseudo)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of the current model.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray
        """
        return self.model.predict(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the current model.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts

        Returns
        -------
        numpy.ndarray of shape (n, C)
        """
        return self.model.predict_proba(X)


def stratified_initial(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random initial set that holds every class when ``size`` allows.

    One random item of each class first (classes in random order when ``size`` is smaller
    than the number of classes), then the rest at random from what remains.

    Parameters
    ----------
    y : array of shape (n,)
    size : int
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of shape (size,), int64
    """
    classes, codes = np.unique(y, return_inverse=True)
    firsts = np.array(
        [rng.choice(np.flatnonzero(codes == c)) for c in rng.permutation(classes.shape[0])],
        dtype=np.int64,
    )[:size]
    rest = np.setdiff1d(np.arange(y.shape[0]), firsts)
    extra = rng.choice(rest, size=size - firsts.shape[0], replace=False)
    return np.concatenate([firsts, extra]).astype(np.int64)


def _initial_indices(
    initial: Any, y: np.ndarray, rng: np.random.Generator, regression: bool = False
) -> np.ndarray:
    if isinstance(initial, int | np.integer) and not isinstance(initial, bool):
        if not 2 <= initial <= y.shape[0]:
            raise ValueError(
                f"initial={initial} must be between 2 and the {y.shape[0]} items of X."
            )
        if regression:  # no classes to stratify on: a plain random set
            return rng.choice(y.shape[0], size=int(initial), replace=False).astype(np.int64)
        return stratified_initial(y, int(initial), rng)
    indices = np.asarray(initial, dtype=np.int64)
    if indices.ndim != 1 or indices.size < 1:
        raise ValueError("initial must be an int or a 1-D array of indices into X.")
    if indices.min() < 0 or indices.max() >= y.shape[0]:
        raise ValueError(f"initial indices must lie in [0, {y.shape[0]}).")
    if np.unique(indices).shape[0] != indices.shape[0]:
        raise ValueError("initial indices must be unique.")
    return indices


def _cold_start_strategy(initial: Any, strategy: Any) -> Any:
    """The strategy that picks the initial set without a model, or None.

    ``"llm_select"``: ``strategy`` itself when it is an llm_select (its endpoint
    settings), else a default one; a Strategy object: itself. A fallback that needs a
    model becomes ``"random"`` (there is no model yet).
    """
    if isinstance(initial, str) and initial == "llm_select":
        starter = strategy if getattr(strategy, "name", None) == "llm_select" else None
        starter = _strategies.get("llm_select") if starter is None else starter
    elif isinstance(initial, _strategies.Strategy):
        starter = initial
    else:
        return None
    if getattr(starter, "needs", ()):
        raise TypeError(
            f"initial={getattr(starter, 'name', starter)!r} needs a fitted model "
            f"({', '.join(starter.needs)}), and the initial set is chosen before any fit. "
            "Use a strategy that needs none (llm_select, random) or a cold-start name: "
            "'typiclust', 'kmeans', 'birch', 'random', 'llm_select'."
        )
    fallback = getattr(starter, "fallback", None)
    if isinstance(fallback, str) and getattr(_strategies._lookup(fallback), "needs", ()):
        starter = clone(starter).set_params(fallback="random")
    return starter


def _cold_start_features(estimator: Any, X: Any) -> Any:
    """Features for choosing the first labels: a Pipeline's unsupervised steps, or X."""
    from sklearn.base import clone

    from activelab.models import numeric_features

    steps = getattr(estimator, "steps", None)
    if steps and len(steps) > 1:
        return clone(estimator[:-1]).fit_transform(X)
    return numeric_features(X)


def _cold_start(features: Any, size: int, method: str, rng: np.random.Generator) -> np.ndarray:
    from activelab.strategies._representative import cold_start

    if not 1 <= size <= n_rows(features):
        raise ValueError(f"initial_size={size} must be between 1 and the pool size.")
    return cold_start(features, size, method=method, random_state=rng)


def _holdout(
    labels: np.ndarray, keep: np.ndarray | None, rng: np.random.Generator, regression: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Split rows into (pool, test): a 25 % test set (stratified by class) that avoids
    ``keep``; plain random for regression."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(labels.shape[0])
    if keep is not None:
        rows = np.setdiff1d(rows, keep)
    stratify = None
    if not regression:
        _, counts = np.unique(labels[rows], return_counts=True)
        stratify = labels[rows] if counts.min() >= 2 else None
    pool, test = train_test_split(
        rows, test_size=0.25, stratify=stratify, random_state=int(rng.integers(2**31))
    )
    if keep is not None:
        pool = np.concatenate([keep, pool])
    return np.sort(pool), test


def simulate(
    estimator: Any,
    strategy: str | _strategies.Strategy,
    X: Any,
    y: Any,
    X_test: Any = None,
    y_test: Any = None,
    initial: int | Sequence[int] | str = 10,
    batch_size: int = 10,
    budget: int = 200,
    stopping: Any = None,
    oracle: Oracle | None = None,
    metrics: Sequence[str] | None = None,
    stop_set_size: int = 1000,
    initial_size: int = 10,
    random_state: RandomStateLike = 0,
    training: TrainingScheme | None = None,
    importance_weighting: bool = False,
    costs: Any = None,
    cost_budget: float | None = None,
) -> Result:
    """Run a simulated active learning experiment with a ground-truth (or given) oracle.

    Starts from a stratified random initial set, then per round: query ``batch_size``
    items from the unlabeled rest of ``X``, label them by the oracle, refit, evaluate on
    the test set, and ask the stopping criteria. Ends when ``budget`` labels are bought
    (the initial set included), the pool is empty, or a criterion fires.

    A regressor (``al.models.wrap`` gives a regression adapter for it) makes this a
    regression experiment: ``y`` holds numbers, the initial set and the held-out set
    are plain random (there are no classes to stratify on), the metrics default to
    ``("rmse", "mae", "r2")`` and :attr:`Result.aulc` is the mean RMSE over the curve
    (lower is better, :attr:`Result.lower_is_better`).

    An indicator matrix ``y`` of shape ``(n, L)`` makes it a multi-label experiment: the
    estimator (``OneVsRestClassifier``, ``MultiOutputClassifier``, ``ClassifierChain``, a
    forest, …) is wrapped in :class:`~activelab.models.MultiLabelAdapter`, each query
    buys whole label vectors (:class:`~activelab.multilabel.MultiLabelOracle`), the
    initial and held-out sets are plain random, and the metrics default to
    :data:`MULTILABEL_METRICS` (micro-F1 first, so :attr:`Result.aulc` integrates it;
    with ``metrics=["hamming_loss"]`` the AULC is lower-is-better). Instance-label pair
    experiments run in :func:`activelab.multilabel.simulate_pairs`.

    Parameters
    ----------
    estimator : classifier, regressor or ModelAdapter
        Copied, never modified.
    strategy : str or Strategy
    X : array-like, sparse matrix, DataFrame or list of texts
        The pool (the initial set is drawn from it).
    y : array-like of shape (n,) or (n, L)
        True labels of ``X``: ints or strings; numbers for a regressor; a 0/1 indicator
        matrix ``(n, L)`` for multi-label data (see below).
    X_test, y_test : optional
        Held-out evaluation set. When omitted, a stratified 25 % of ``X`` (never the
        given initial rows) is held out and the rest is the pool. Indices reported in
        the history, and passed to the oracle, are always rows of ``X``.
    initial : int, sequence of int, str or Strategy
        Size of a stratified random initial set (it peeks at the labels, as most
        benchmark papers do; plain random for a regressor), the initial indices into
        ``X``, or a cold-start method that
        looks at features only: ``"typiclust"``, ``"kmeans"``, ``"birch"`` or ``"random"``
        (uniform), choosing ``initial_size`` items. For a Pipeline, the features are its
        steps before the last, fitted without labels (e.g. TF-IDF). ``"llm_select"``
        lets an LLM choose them from the raw rows of ``X`` (ActiveLLM's main use): with
        the endpoint settings of ``strategy`` when that is an ``llm_select``, else
        ``al.strategies.get("llm_select")`` (the ``ACTIVELAB_LLM_*`` environment
        variables; without an endpoint it picks at random, with a warning). A Strategy
        object that needs no model (e.g. a configured ``llm_select``) chooses them the
        same way. A fallback that needs a model is replaced by ``"random"`` for the
        cold start; what the choice cost is counted in :attr:`Round.cost`.
    batch_size : int
        Items per query.
    budget : int
        Total labels, the initial set included.
    stopping : criterion or list of criteria, optional
    oracle : Oracle, optional
        Defaults to ``SimulatedOracle(y)``; indices passed to it are indices into ``X``.
        An oracle with an ``observe`` hook is told the fitted model, ``X`` and the labels
        so far after every fit (:class:`~activelab.oracles.LoopContext`): a
        ``Router(uncertainty="margin")`` routes by the current model, an
        ``LLMOracle(few_shot_from_labels=True)`` takes few-shot examples from the labels.
        What it reports in :attr:`~activelab.oracles.Answers.cost` is added to
        :attr:`Round.cost`; labels it revises (:attr:`~activelab.oracles.Answers.revised`,
        e.g. ``MultiAnnotatorOracle(relabel=k)``) replace the ones held before the next fit.
    metrics : sequence of str, optional
        From :data:`METRICS`; the first is the one :attr:`Result.aulc` integrates.
        Defaults to :data:`CLASSIFICATION_METRICS` (accuracy, macro F1) for a classifier
        and :data:`REGRESSION_METRICS` (RMSE, MAE, R²) for a regressor.
    stop_set_size : int
        Size of the fixed stop set drawn from the pool for criteria that use one.
    initial_size : int
        How many items a cold-start ``initial`` method chooses.
    random_state : int, numpy.random.Generator or None
    training : TrainingScheme, optional
        E.g. ``al.training.CEAL(delta=0.05, decay=0.0033)`` or
        ``al.training.SelfTraining(threshold=0.95)``: before each refit, the previous
        round's model pseudo-labels confident items of the remaining pool, which join
        this fit only. They are never bought, never counted in ``n_labeled`` or the
        budget, never reported as labeled; each round records how many there were and how
        many were right (:attr:`Round.n_pseudo`, :attr:`Round.pseudo_accuracy`).
        Pseudo-labelling time counts in ``fit_seconds``.
    importance_weighting : bool
        Fit with sample weights that make the training risk an unbiased estimate of the
        risk on the whole pool (LURE, :func:`activelab.training.lure_weights`), from the
        probability with which the strategy drew each label
        (:func:`activelab.training.selection_probabilities`): it corrects stochastic
        strategies (``random``, ``sampling="softmax"`` and the other stochastic modes,
        ``albl``); a deterministic strategy's labels keep weight 1 (with a warning). The
        initial set and pseudo-labels have weight 1. The model's fit must take
        ``sample_weight``.
    costs : array-like of shape (n,), optional
        What labelling each row of ``X`` costs (seconds, money; finite and positive; e.g.
        from :class:`activelab.costs.AnnotationCostModel`). Each asked item is charged,
        :attr:`Round.cost` records the running total and
        ``result.curve(against="cost")`` the curve against it. A ``cost_aware`` strategy
        without its own ``cost`` is given these. An oracle that reports a cost
        (:attr:`~activelab.oracles.Answers.cost`) is charged on top, in the same unit:
        give ``costs`` for what the oracle does not bill itself (a person's time beside
        an LLM's tokens), not for the same labels twice. Without ``costs``,
        :attr:`Round.cost` is what the oracle (and a paying strategy) reported.
    cost_budget : float, optional
        Stop once this much is spent (:attr:`Round.cost`). With ``costs``, a batch is
        cut to the picks, in the strategy's order, whose ``costs`` still fit, and the
        run ends when not even the first does; what the oracle reports is known only
        after it answers, so that part can overshoot by one batch. Needs ``costs`` or an
        oracle that keeps ``total_cost``. ``budget`` still caps the label count.

    Returns
    -------
    Result

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> res = simulate(LogisticRegression(max_iter=500), "margin", X, y, budget=30)
    >>> res.history[-1].n_labeled
    30
    """
    rng = check_random_state(random_state)
    chosen = _resolve_strategy(strategy)
    model = wrap(estimator).clone()
    multilabel = np.ndim(y) == 2 or _is_multilabel(model)
    if multilabel:  # y is an indicator matrix (n, L): no classes to stratify on
        from activelab.models._multilabel import check_indicator

        model = _multilabel_model(model, estimator)
        labels = check_indicator(y, n_rows(X), "simulate", name="y").astype(np.int64)
        if training is not None or importance_weighting:
            raise TypeError(
                "training schemes and importance_weighting are for single-label "
                "classifiers; pass training=None and importance_weighting=False with a "
                "multi-label y."
            )
    regression = _is_regression(model)
    scheme = _check_training(training, model)
    metric_names = _check_metrics(metrics, regression, multilabel)
    _check_task(chosen, multilabel)
    criteria = _as_criteria(stopping)
    if not multilabel:
        labels = check_labels(y, n_rows(X))
    if regression:
        _check_targets(labels)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}.")
    if (X_test is None) != (y_test is None):
        raise ValueError(
            "X_test and y_test go together: pass both or neither (X_test was "
            f"{'given' if X_test is not None else 'omitted'} without y_test)."
        )
    starter = _cold_start_strategy(initial, chosen)
    given_initial = starter is None and not isinstance(initial, int | np.integer | str)
    plain = regression or multilabel  # plain random initial and held-out sets
    start = _initial_indices(initial, labels, rng, plain) if given_initial else None
    # `universe`: the rows of X the loop may label; all indices reported are rows of X.
    universe = np.arange(labels.shape[0])
    if X_test is None:
        universe, test = _holdout(labels, start, rng, plain)
        X_test, y_test = take_rows(X, test), labels[test]
    elif multilabel:
        from activelab.models._multilabel import check_indicator

        y_test = check_indicator(y_test, n_rows(X_test), "simulate", name="y_test")
        y_test = y_test.astype(np.int64)
    else:
        y_test = check_labels(y_test, n_rows(X_test), name="y_test")
    start_cost = 0.0
    if starter is not None:
        if not 1 <= initial_size <= universe.shape[0]:
            raise ValueError(f"initial_size={initial_size} must be between 1 and the pool size.")
        paid = float(getattr(starter, "total_cost_", 0.0))
        picks = starter.query(None, take_rows(X, universe), initial_size, random_state=rng)
        start = universe[np.asarray(picks, dtype=np.int64)]
        start_cost = float(getattr(starter, "total_cost_", 0.0)) - paid
    elif isinstance(initial, str):
        features = _cold_start_features(estimator, take_rows(X, universe))
        start = universe[_cold_start(features, initial_size, initial, rng)]
    elif start is None:
        start = universe[_initial_indices(initial, labels[universe], rng, plain)]
    if budget < start.shape[0]:
        raise ValueError(
            f"budget={budget} is smaller than the initial set ({start.shape[0]}); "
            "the budget counts the initial labels too."
        )
    if budget > universe.shape[0]:
        raise ValueError(
            f"budget={budget} exceeds the {universe.shape[0]} items of the pool; lower it "
            f"to at most {universe.shape[0]}."
        )
    item_costs = None if costs is None else check_costs(costs, labels.shape[0])
    if oracle is None and multilabel:
        from activelab.multilabel import MultiLabelOracle

        oracle = MultiLabelOracle(labels)
    oracle = SimulatedOracle(labels) if oracle is None else oracle
    # Is cost counted at all? Prices per item, an oracle that keeps a total, or any
    # cost reported on the way (else Round.cost is NaN).
    counted = item_costs is not None or hasattr(oracle, "total_cost") or start_cost != 0
    if cost_budget is not None and not counted:
        raise ValueError(
            "cost_budget needs costs: pass costs= (one per row of X), or an oracle that "
            "reports its cost and keeps total_cost (LLMOracle, Router, MultiAnnotatorOracle, "
            "or yours wrapped in al.oracles.RecordingOracle)."
        )
    if importance_weighting:
        _weighted_fit(model)  # fails now, not after the first round, if it cannot

    in_pool = np.zeros(labels.shape[0], dtype=bool)
    in_pool[universe] = True
    in_pool[start] = False
    candidates = np.flatnonzero(in_pool)
    stop_rows = rng.choice(candidates, min(stop_set_size, candidates.shape[0]), replace=False)
    X_stop = take_rows(X, stop_rows) if stop_rows.size else None

    spent = start_cost + (0.0 if item_costs is None else float(item_costs[start].sum()))
    answered = oracle.label(start)
    spent += float(answered.cost)
    counted = counted or float(answered.cost) != 0
    labeled = np.asarray(answered.indices, dtype=np.int64)
    y_labeled = np.asarray(answered.labels)
    ratios = np.ones(labeled.shape[0])  # importance ratio 1/(n_left q) of each label
    warned = False
    history: list[Round] = []
    stopped_by = None
    query_seconds = 0.0
    while True:
        began = time.perf_counter()
        fit_rows, fit_labels = labeled, y_labeled
        n_pseudo, pseudo_accuracy = 0, float("nan")
        if scheme is not None and history:
            remaining = np.flatnonzero(in_pool)
            pseudo = scheme.pseudo_labels(model, take_rows(X, remaining), len(history), rng)
            if len(pseudo):
                rows = remaining[pseudo.indices]
                fit_rows = np.concatenate([labeled, rows])
                fit_labels = np.concatenate([y_labeled, pseudo.labels])
                n_pseudo = rows.shape[0]
                pseudo_accuracy = float(np.mean(pseudo.labels == labels[rows]))
        weights = None
        if importance_weighting:
            weights = lure_weights(ratios, universe.shape[0])
            weights = np.concatenate([weights, np.ones(n_pseudo)])
        pseudo_seconds = time.perf_counter() - began
        fit_seconds = _fit(model, take_rows(X, fit_rows), fit_labels, weights) + pseudo_seconds
        round_metrics = _evaluate(model, X_test, y_test, metric_names)
        history.append(
            Round(
                len(history),
                labeled.shape[0],
                round_metrics,
                query_seconds,
                fit_seconds,
                np.asarray(answered.indices, dtype=np.int64),
                np.asarray(answered.skipped, dtype=np.int64),
                n_pseudo,
                pseudo_accuracy,
                spent,
            )
        )
        pool = np.flatnonzero(in_pool)
        X_pool = take_rows(X, pool)
        state = State(len(history) - 1, labeled.shape[0], model, X_pool, X_stop, round_metrics)
        if len(history) > 1:  # the batch just labelled, for criteria that judge it
            got = np.asarray(answered.indices, dtype=np.int64)
            state = replace(state, X_new=take_rows(X, got), y_new=np.asarray(answered.labels))
        stopped_by = _stop_reason(criteria, state)
        remaining = budget - labeled.shape[0]
        if stopped_by or remaining <= 0 or pool.shape[0] == 0:
            break
        k = min(batch_size, remaining, pool.shape[0])
        if cost_budget is not None and (
            spent >= cost_budget
            or (item_costs is not None and item_costs[pool].min() > cost_budget - spent)
        ):
            stopped_by = f"cost budget: {spent:.6g} of {cost_budget:.6g} spent"
            break
        observe(oracle, LoopContext(model, X, labeled, y_labeled, len(history) - 1))
        asking = _priced(chosen, item_costs, pool, cost_budget, spent)
        paid = float(getattr(asking, "total_cost_", 0.0))
        began = time.perf_counter()
        picks = asking.query(model, X_pool, k, take_rows(X, labeled), y_labeled, random_state=rng)
        query_seconds = time.perf_counter() - began
        choosing = float(getattr(asking, "total_cost_", 0.0)) - paid  # llm_select's tokens
        spent += choosing
        counted = counted or choosing != 0
        if cost_budget is not None and item_costs is not None:
            picks = _within(picks, item_costs[pool], cost_budget - spent)
            if picks.size == 0:
                stopped_by = f"cost budget: {spent:.6g} of {cost_budget:.6g} spent"
                break
        asked = pool[picks]
        if item_costs is not None:
            spent += float(item_costs[asked].sum())
        in_pool[asked] = False
        answered = oracle.label(asked)
        spent += float(answered.cost)
        counted = counted or float(answered.cost) != 0
        got = np.asarray(answered.indices, dtype=np.int64)
        labeled = np.concatenate([labeled, got])
        y_labeled = np.concatenate([y_labeled, np.asarray(answered.labels)])
        y_labeled = apply_revisions(labeled, y_labeled, answered.revised)  # earlier items
        if importance_weighting:
            pick_ratios, warned = _pick_ratios(chosen, model, X_pool, picks, warned)
            position = {int(row): j for j, row in enumerate(asked)}
            ratios = np.concatenate([ratios, pick_ratios[[position[int(i)] for i in got]]])
    if not counted:  # nothing counted cost: say so, rather than a curve of zeros
        for record in history:
            record.cost = float("nan")
    return Result(
        strategy=getattr(chosen, "name", type(chosen).__name__) or type(chosen).__name__,
        model=model.describe(),
        history=history,
        stopped_by=stopped_by,
        metric=metric_names[0],
    )
