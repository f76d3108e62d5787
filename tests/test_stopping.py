"""Stopping criteria on scripted rounds: tiny fake models whose outputs are fixed in advance.

Each criterion is fed a sequence of :class:`State` objects and must fire exactly on the
round that a plain computation in this file predicts, and not before.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import cohen_kappa_score

from activelab.models import ModelAdapter
from activelab.stopping import (
    AccuracyLowerBound,
    Budget,
    ClassificationChange,
    DeltaFScore,
    ErrorStability,
    KappaAverage,
    LowAverageUncertainty,
    MaxUncertainty,
    OverallUncertainty,
    PerformancePlateau,
    SelectedAccuracy,
    StabilizingPredictions,
    State,
    StoppingCriterion,
    clopper_pearson_lower,
    cohen_kappa,
    delta_f,
)

POOL = np.zeros((3, 2))  # the fakes ignore the features; only the row count matters


class ScriptedProba:
    """A fitted model whose predict_proba returns a fixed array."""

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=np.float64)

    def predict_proba(self, X):
        assert len(X) == self.proba.shape[0]
        return self.proba


class ScriptedLabels:
    """A fitted model whose predict returns fixed labels."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def predict(self, X):
        assert len(X) == self.labels.shape[0]
        return self.labels


class ScriptedPosterior(ModelAdapter):
    """An adapter with posterior samples fixed in advance."""

    def __init__(self, samples=None):
        self.samples = samples

    @property
    def capabilities(self):
        return frozenset({"predict_proba", "sample_proba"})

    def predict_proba(self, X):
        return np.asarray(self.samples).mean(axis=0)

    def sample_proba(self, X):
        assert len(X) == np.asarray(self.samples).shape[1]
        return np.asarray(self.samples)


class NoSamples(ModelAdapter):
    """An adapter without sample_proba."""

    def predict_proba(self, X):  # pragma: no cover - never reached
        return np.full((len(X), 2), 0.5)


def plain_entropy(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    terms = np.where(proba > 0, proba * np.log(np.where(proba > 0, proba, 1.0)), 0.0)
    return -terms.sum(axis=1)


PLAIN_MEASURES = {
    "entropy": plain_entropy,
    "least_confidence": lambda p: 1.0 - p.max(axis=1),
    "margin": lambda p: 1.0 - np.diff(np.sort(p, axis=1)[:, -2:], axis=1)[:, 0],
}


def run(criterion: StoppingCriterion, states) -> list[bool]:
    return [criterion.update(state) for state in states]


# ---------------------------------------------------------------------------------------
# Budget
# ---------------------------------------------------------------------------------------


def test_budget_fires_at_the_budget():
    budget = Budget(25)
    fired = run(budget, [State(round=r, n_labeled=n) for r, n in enumerate([10, 20, 24, 25])])
    assert fired == [False, False, False, True]
    assert "25" in budget.reason
    assert Budget(25).update(State(round=3, n_labeled=30))
    assert Budget(1).update(State(round=0, n_labeled=1))


def test_budget_reason_unset_until_fired_and_reset():
    budget = Budget(5)
    assert budget.reason is None
    assert not budget.update(State(round=0, n_labeled=4))
    assert budget.reason is None
    assert budget.update(State(round=1, n_labeled=5))
    assert budget.reason is not None
    budget.reset()
    assert budget.reason is None


@pytest.mark.parametrize("max_labels", [0, -3])
def test_budget_rejects_non_positive(max_labels):
    with pytest.raises(ValueError, match="max_labels must be at least 1"):
        Budget(max_labels)


# ---------------------------------------------------------------------------------------
# PerformancePlateau
# ---------------------------------------------------------------------------------------


def metric_states(values, metric="accuracy"):
    return [
        State(round=r, n_labeled=10 * (r + 1), metrics={metric: v}) for r, v in enumerate(values)
    ]


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
def test_plateau_fires_after_patience_flat_rounds(patience):
    plateau = PerformancePlateau(patience=patience)
    values = [0.5, 0.6, 0.7] + [0.7] * patience + [0.7]
    fired = run(plateau, metric_states(values)[: 3 + patience])
    assert fired == [False] * (2 + patience) + [True]
    assert "accuracy" in plateau.reason
    assert str(patience) in plateau.reason


def test_plateau_improvement_resets_the_count():
    plateau = PerformancePlateau(patience=2)
    fired = run(plateau, metric_states([0.5, 0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.69]))
    assert fired == [False, False, False, False, True, False, False, True]


def test_plateau_worse_rounds_count_as_flat():
    plateau = PerformancePlateau(patience=3)
    assert run(plateau, metric_states([0.8, 0.7, 0.6, 0.5])) == [False, False, False, True]


def test_plateau_respects_min_delta():
    # Gains of 0.005 do not count with min_delta=0.01 ...
    plateau = PerformancePlateau(patience=2, min_delta=0.01)
    assert run(plateau, metric_states([0.5, 0.505, 0.509])) == [False, False, True]
    # ... a gain of more than min_delta over the best does.
    plateau = PerformancePlateau(patience=2, min_delta=0.01)
    assert run(plateau, metric_states([0.5, 0.505, 0.52, 0.52])) == [False, False, False, False]
    # ... and with min_delta=0 any gain counts.
    plateau = PerformancePlateau(patience=2)
    assert run(plateau, metric_states([0.5, 0.505, 0.509, 0.51])) == [False] * 4


def test_plateau_watches_the_named_metric():
    plateau = PerformancePlateau(metric="f1_macro", patience=1)
    states = [
        State(0, 10, metrics={"accuracy": 0.5, "f1_macro": 0.4}),
        State(1, 20, metrics={"accuracy": 0.9, "f1_macro": 0.4}),
    ]
    assert run(plateau, states) == [False, True]
    assert "f1_macro" in plateau.reason


def test_plateau_missing_metric_is_a_clear_error():
    plateau = PerformancePlateau(metric="f1_macro")
    with pytest.raises(ValueError, match=r"'f1_macro'.*\['accuracy'\].*X_test"):
        plateau.update(State(0, 10, metrics={"accuracy": 0.5}))
    with pytest.raises(ValueError, match=r"'f1_macro'.*no metrics"):
        plateau.update(State(0, 10))


def test_plateau_reset_forgets_the_best():
    plateau = PerformancePlateau(patience=2)
    assert run(plateau, metric_states([0.9, 0.5, 0.5])) == [False, False, True]
    plateau.reset()
    assert plateau.reason is None
    # After reset, 0.5 is a first score, not a round below 0.9.
    assert run(plateau, metric_states([0.5, 0.6])) == [False, False]


@pytest.mark.parametrize("patience", [0, -1])
def test_plateau_rejects_bad_patience(patience):
    with pytest.raises(ValueError, match="patience must be at least 1"):
        PerformancePlateau(patience=patience)


# ---------------------------------------------------------------------------------------
# MaxUncertainty and OverallUncertainty
# ---------------------------------------------------------------------------------------

CONFIDENT = [[0.99, 0.01], [0.995, 0.005], [0.02, 0.98]]
ONE_UNSURE = [[0.999, 0.001], [0.999, 0.001], [0.9, 0.1]]


def pool_state(proba) -> State:
    return State(round=1, n_labeled=10, model=ScriptedProba(proba), X_pool=POOL)


@pytest.mark.parametrize("measure", sorted(PLAIN_MEASURES))
@pytest.mark.parametrize("proba", [CONFIDENT, ONE_UNSURE], ids=["confident", "one_unsure"])
@pytest.mark.parametrize(
    ("criterion_class", "reduce"),
    [(MaxUncertainty, np.max), (OverallUncertainty, np.mean)],
    ids=["max", "overall"],
)
def test_uncertainty_criteria_fire_below_threshold_only(criterion_class, reduce, proba, measure):
    value = float(reduce(PLAIN_MEASURES[measure](np.asarray(proba))))
    above = criterion_class(threshold=value * 1.01 + 1e-9, measure=measure)
    assert above.update(pool_state(proba))
    assert measure in above.reason
    below = criterion_class(threshold=value * 0.99 - 1e-9, measure=measure)
    assert not below.update(pool_state(proba))
    assert below.reason is None


def test_max_and_overall_uncertainty_differ():
    """One unsure item keeps MaxUncertainty going while the pool's mean is already low."""
    entropy = plain_entropy(np.asarray(ONE_UNSURE))
    threshold = (entropy.mean() + entropy.max()) / 2
    assert OverallUncertainty(threshold=threshold).update(pool_state(ONE_UNSURE))
    assert not MaxUncertainty(threshold=threshold).update(pool_state(ONE_UNSURE))


def test_uncertainty_defaults_on_confident_and_uniform_pools():
    assert MaxUncertainty().update(pool_state(CONFIDENT))  # max entropy ~0.098 <= 0.1
    assert not MaxUncertainty().update(pool_state([[0.5, 0.5]] * 3))
    assert not OverallUncertainty().update(pool_state(CONFIDENT))  # mean ~0.07 > 0.05
    assert OverallUncertainty().update(pool_state([[1.0, 0.0]] * 3))


@pytest.mark.parametrize("criterion_class", [MaxUncertainty, OverallUncertainty])
def test_uncertainty_criteria_fire_on_an_empty_pool(criterion_class):
    criterion = criterion_class()
    state = State(round=3, n_labeled=50, model=ScriptedProba(np.empty((0, 2))), X_pool=[])
    assert criterion.update(state)
    assert "empty" in criterion.reason


@pytest.mark.parametrize("criterion_class", [MaxUncertainty, OverallUncertainty])
def test_uncertainty_criteria_need_model_and_pool(criterion_class):
    name = criterion_class.__name__
    with pytest.raises(ValueError, match=rf"{name} needs a fitted model"):
        criterion_class().update(State(round=1, n_labeled=10, X_pool=POOL))
    with pytest.raises(ValueError, match=rf"{name} needs the unlabeled pool"):
        criterion_class().update(State(round=1, n_labeled=10, model=ScriptedProba(CONFIDENT)))


@pytest.mark.parametrize("criterion_class", [MaxUncertainty, OverallUncertainty])
def test_uncertainty_criteria_reject_unknown_measure(criterion_class):
    with pytest.raises(ValueError, match="measure must be one of"):
        criterion_class(measure="bald")


# ---------------------------------------------------------------------------------------
# StabilizingPredictions and cohen_kappa
# ---------------------------------------------------------------------------------------

STOP_SET = np.zeros((8, 2))
A = np.array([0, 1, 2, 0, 1, 2, 0, 1])
B = np.array([0, 1, 2, 0, 1, 2, 1, 1])  # one disagreement with A
C = np.array([2, 2, 1, 0, 0, 1, 2, 0])


def stop_states(label_rounds):
    """Rounds whose models label a stop set as scripted (its size follows the labels)."""
    return [
        State(r, 10 * (r + 1), ScriptedLabels(labels), X_stop=np.zeros((len(labels), 1)))
        for r, labels in enumerate(label_rounds)
    ]


def label_states(label_rounds):
    return [
        State(round=r, n_labeled=10 * (r + 1), model=ScriptedLabels(labels), X_stop=STOP_SET)
        for r, labels in enumerate(label_rounds)
    ]


def test_stabilizing_fires_only_after_window_agreeing_rounds():
    criterion = StabilizingPredictions(threshold=0.99, window=3)
    fired = run(criterion, label_states([C, A, A, A, A, A]))
    # kappas: (C, A) low, then 1, 1, 1: the window of three ones is full at round 4.
    assert fired == [False, False, False, False, True, True]
    assert len(criterion.kappas_) == 5
    assert criterion.kappas_[0] == pytest.approx(cohen_kappa_score(C, A))
    assert criterion.kappas_[1:] == [1.0] * 4
    assert "kappa" in criterion.reason


def test_stabilizing_uses_the_mean_of_the_window():
    kappa_ab = cohen_kappa_score(A, B)
    assert 0.8 < kappa_ab < 0.99
    threshold = (2 + kappa_ab) / 3  # mean of (kappa_ab, 1, 1), just reached
    strict = StabilizingPredictions(threshold=threshold + 1e-9, window=3)
    assert run(strict, label_states([A, B, B, B])) == [False] * 4
    loose = StabilizingPredictions(threshold=threshold - 1e-9, window=3)
    assert run(loose, label_states([A, B, B, B])) == [False, False, False, True]


def test_stabilizing_window_one():
    criterion = StabilizingPredictions(threshold=0.99, window=1)
    assert run(criterion, label_states([A, C, A, A])) == [False, False, False, True]


def test_stabilizing_string_labels():
    names = np.array(["cat", "dog", "eel"])
    criterion = StabilizingPredictions(threshold=0.99, window=2)
    assert run(criterion, label_states([names[A]] * 3)) == [False, False, True]


def test_stabilizing_reset_clears_history():
    criterion = StabilizingPredictions(window=1)
    assert run(criterion, label_states([A, A])) == [False, True]
    criterion.reset()
    assert criterion.kappas_ == []
    assert criterion.reason is None
    # No previous predictions after reset: the first round only records.
    assert run(criterion, label_states([A])) == [False]
    assert criterion.kappas_ == []


def test_stabilizing_needs_model_and_stop_set():
    with pytest.raises(ValueError, match="X_stop"):
        StabilizingPredictions().update(State(1, 10, model=ScriptedLabels(A)))
    with pytest.raises(ValueError, match="a fitted model"):
        StabilizingPredictions().update(State(1, 10, X_stop=STOP_SET))


@pytest.mark.parametrize("window", [0, -2])
def test_stabilizing_rejects_bad_window(window):
    with pytest.raises(ValueError, match="window must be at least 1"):
        StabilizingPredictions(window=window)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 40).flatmap(
        lambda n: st.tuples(
            arrays(np.int64, n, elements=st.integers(0, 4)),
            arrays(np.int64, n, elements=st.integers(0, 4)),
        )
    )
)
def test_cohen_kappa_matches_sklearn(labels):
    first, second = labels
    if np.unique(np.concatenate([first, second])).size == 1:
        # One label everywhere: sklearn gives nan (0/0); agreement is perfect.
        assert cohen_kappa(first, second) == 1.0
        return
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second), abs=1e-12)


def test_cohen_kappa_on_random_string_labels():
    rng = np.random.default_rng(0)
    names = np.array(["a", "b", "c"])
    for _ in range(20):
        first = names[rng.integers(0, 3, size=50)]
        second = np.where(rng.random(50) < 0.7, first, names[rng.integers(0, 3, size=50)])
        assert cohen_kappa(first, second) == pytest.approx(
            cohen_kappa_score(first, second), abs=1e-12
        )


# ---------------------------------------------------------------------------------------
# ErrorStability
# ---------------------------------------------------------------------------------------

N_STOP, N_CLASSES, N_MEMBERS = 6, 3, 4


def converging_samples(rounds: int, rate: float = 0.6, seed: int = 0) -> list[np.ndarray]:
    """Posterior samples whose predictive mean moves less each round (geometrically)."""
    rng = np.random.default_rng(seed)
    target = rng.dirichlet(np.ones(N_CLASSES), size=N_STOP)
    start = rng.dirichlet(np.ones(N_CLASSES), size=N_STOP)
    spread = rng.dirichlet(np.ones(N_CLASSES), size=(N_MEMBERS, N_STOP))
    script = []
    for t in range(rounds):
        weight = rate**t
        mean = weight * start + (1 - weight) * target
        members = 0.8 * mean + 0.2 * spread  # rows still sum to one
        script.append(members)
    return script


def plain_bounds(script: list[np.ndarray]) -> list[float]:
    """Mean over the stop set of sqrt(KL(p_t || p_{t-1}) / 2), p the predictive mean."""
    bounds = []
    previous = None
    for samples in script:
        predictive = np.clip(samples.mean(axis=0), 1e-12, 1)
        predictive = predictive / predictive.sum(axis=1, keepdims=True)
        if previous is not None:
            kl = np.sum(predictive * np.log(predictive / previous), axis=1)
            bounds.append(float(np.mean(np.sqrt(np.maximum(kl, 0) / 2))))
        previous = predictive
    return bounds


def posterior_states(script):
    return [
        State(round=r, n_labeled=10 * (r + 1), model=ScriptedPosterior(s), X_stop=STOP_SET[:N_STOP])
        for r, s in enumerate(script)
    ]


@pytest.mark.parametrize("threshold", [0.5, 0.1, 0.02])
def test_error_stability_fires_once_the_bound_ratio_is_small(threshold):
    script = converging_samples(rounds=15)
    bounds = plain_bounds(script)
    # Round r (r >= 2) has bounds[: r]; it fires when bounds[r-1] / bounds[0] <= threshold.
    expected = next(r for r in range(2, 15) if bounds[r - 1] / bounds[0] <= threshold)
    criterion = ErrorStability(threshold=threshold)
    fired = run(criterion, posterior_states(script[: expected + 1]))
    assert fired == [False] * expected + [True]
    np.testing.assert_allclose(criterion.bounds_, bounds[:expected], rtol=1e-9)
    assert "bound" in criterion.reason


def test_error_stability_does_not_fire_while_the_posterior_keeps_moving():
    """Rolling the classes by one each round moves the posterior by the same KL every round."""
    base = converging_samples(rounds=1)[0]
    script = [np.roll(base, shift, axis=2) for shift in range(10)]
    criterion = ErrorStability(threshold=0.5)
    assert not any(run(criterion, posterior_states(script)))
    assert criterion.reason is None
    assert len(criterion.bounds_) == 9
    np.testing.assert_allclose(criterion.bounds_, plain_bounds(script), rtol=1e-9)
    np.testing.assert_allclose(criterion.bounds_, criterion.bounds_[0], rtol=1e-9)


def test_error_stability_reset_clears_history():
    script = converging_samples(rounds=12)
    criterion = ErrorStability(threshold=0.5)
    assert any(run(criterion, posterior_states(script)))
    criterion.reset()
    assert criterion.bounds_ == []
    assert criterion.reason is None
    # No previous predictive after reset: the first round records only.
    assert run(criterion, posterior_states(script[:1])) == [False]
    assert criterion.bounds_ == []


def test_error_stability_needs_sample_proba():
    with pytest.raises(TypeError, match=r"ErrorStability needs 'sample_proba'"):
        ErrorStability().update(State(1, 10, model=NoSamples(), X_stop=STOP_SET))


def test_error_stability_needs_model_and_stop_set():
    samples = converging_samples(rounds=1)[0]
    with pytest.raises(ValueError, match="X_stop"):
        ErrorStability().update(State(1, 10, model=ScriptedPosterior(samples)))
    with pytest.raises(ValueError, match="a fitted model"):
        ErrorStability().update(State(1, 10, X_stop=STOP_SET))


# ---------------------------------------------------------------------------------------
# repr and the State object
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "text"),
    [
        (Budget(20), "Budget(max_labels=20)"),
        (
            PerformancePlateau(metric="f1_macro", patience=2, min_delta=0.01),
            "PerformancePlateau(metric='f1_macro', patience=2, min_delta=0.01, mode='auto')",
        ),
        (MaxUncertainty(), "MaxUncertainty(threshold=0.1, measure='entropy')"),
        (
            OverallUncertainty(0.2, "margin"),
            "OverallUncertainty(threshold=0.2, measure='margin', normalize=False)",
        ),
        (StabilizingPredictions(), "StabilizingPredictions(threshold=0.99, window=3)"),
        (ErrorStability(0.05), "ErrorStability(threshold=0.05)"),
    ],
)
def test_repr_is_readable(criterion, text):
    assert repr(criterion) == text


def test_repr_unchanged_by_updates():
    plateau = PerformancePlateau(patience=1)
    run(plateau, metric_states([0.5, 0.5]))
    assert repr(plateau) == (
        "PerformancePlateau(metric='accuracy', patience=1, min_delta=0.0, mode='auto')"
    )


def test_state_defaults_and_is_frozen():
    state = State(round=0, n_labeled=5)
    assert state.model is None
    assert state.X_pool is None
    assert state.X_stop is None
    assert state.X_new is None
    assert state.y_new is None
    assert dict(state.metrics) == {}
    with pytest.raises(AttributeError):
        state.round = 1


# ---------------------------------------------------------------------------------------
# PerformancePlateau on error metrics (lower is better)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["rmse", "mae", "log_loss", "ece"])
def test_plateau_error_metrics_improve_downwards(metric):
    plateau = PerformancePlateau(metric=metric, patience=2)
    # Falling errors are gains; two rounds above the best (0.8) stop the run.
    fired = run(plateau, metric_states([2.0, 1.5, 0.8, 0.9, 1.0], metric))
    assert fired == [False, False, False, False, True]
    assert "fallen" in plateau.reason
    assert "0.8000" in plateau.reason
    assert plateau.lower_is_better


def test_plateau_error_metric_keeps_going_while_it_falls():
    plateau = PerformancePlateau(metric="rmse", patience=1)
    assert run(plateau, metric_states([3.0, 2.0, 1.0, 0.5], "rmse")) == [False] * 4


def test_plateau_min_delta_on_an_error_metric():
    plateau = PerformancePlateau(metric="rmse", patience=1, min_delta=0.1)
    assert run(plateau, metric_states([1.0, 0.95], "rmse")) == [False, True]


def test_plateau_explicit_mode_overrides_the_metric_name():
    plateau = PerformancePlateau(metric="estimate", patience=1, mode="min")
    assert run(plateau, metric_states([0.5, 0.4, 0.45], "estimate")) == [False, False, True]
    plateau = PerformancePlateau(metric="rmse", patience=1, mode="max")
    assert run(plateau, metric_states([1.0, 2.0, 1.5], "rmse")) == [False, False, True]
    assert not PerformancePlateau("accuracy").lower_is_better
    assert PerformancePlateau("r2").lower_is_better is False


def test_plateau_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode must be 'auto', 'max'"):
        PerformancePlateau(mode="down")


def test_plateau_stops_a_regression_run():
    from sklearn.linear_model import Ridge

    import activelab as al

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=300)
    plateau = PerformancePlateau("rmse", patience=2)
    result = al.simulate(
        Ridge(), "random", X, y, initial=20, batch_size=10, budget=200, stopping=plateau
    )
    errors = [r.metrics["rmse"] for r in result.history]
    # It stopped exactly two rounds after the lowest error so far.
    assert result.stopped_by is not None and "rmse" in result.stopped_by
    assert int(np.argmin(errors)) == len(errors) - 3


# ---------------------------------------------------------------------------------------
# KappaAverage
# ---------------------------------------------------------------------------------------


def plain_kappa_average(label_rounds, threshold, window):
    """The rule written out: kappas of consecutive rounds, mean of the last window."""
    kappas, fired = [], []
    for r, labels in enumerate(label_rounds):
        if r:
            same = np.array_equal(label_rounds[r - 1], labels)
            kappas.append(1.0 if same else cohen_kappa_score(label_rounds[r - 1], labels))
        last = kappas[-window:]
        fired.append(len(last) == window and np.mean(last) >= threshold)
    return fired


def flips(n_rounds, n_items=40, seed=0, classes=3):
    """Stop-set labels that change less and less from round to round."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n_items)
    rounds = [labels.copy()]
    for r in range(1, n_rounds):
        labels = labels.copy()
        changed = rng.choice(n_items, max(0, 12 - 2 * r), replace=False)
        labels[changed] = rng.integers(0, classes, changed.size)
        rounds.append(labels)
    return rounds


@pytest.mark.parametrize(("threshold", "window"), [(0.99, 3), (0.9, 2), (0.8, 4)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kappa_average_follows_the_plain_rule(threshold, window, seed):
    rounds = flips(9, seed=seed)
    expected = plain_kappa_average(rounds, threshold, window)
    assert True in expected  # the script does reach agreement
    criterion = KappaAverage(threshold=threshold, window=window)
    assert run(criterion, stop_states(rounds)) == expected
    assert len(criterion.kappas_) == len(rounds) - 1
    # The same rule as StabilizingPredictions, under small-text's name.
    assert run(StabilizingPredictions(threshold, window), stop_states(rounds)) == expected


def test_kappa_average_errors():
    with pytest.raises(ValueError, match="window must be at least 1"):
        KappaAverage(window=0)
    criterion = KappaAverage()
    criterion.update(State(0, 10, ScriptedLabels([0, 1, 1]), X_stop=POOL))
    with pytest.raises(ValueError, match="KappaAverage: the stop set changed size"):
        criterion.update(State(1, 20, ScriptedLabels([0, 1]), X_stop=POOL[:2]))
    with pytest.raises(ValueError, match="KappaAverage needs a stop set"):
        KappaAverage().update(State(0, 10, ScriptedLabels([0, 1, 1])))


# ---------------------------------------------------------------------------------------
# DeltaFScore and delta_f
# ---------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(arrays(np.int8, st.integers(1, 40), elements=st.integers(0, 2)), st.data())
def test_delta_f_is_one_minus_f1_of_the_positive_class(previous, data):
    from sklearn.metrics import f1_score

    current = data.draw(arrays(np.int8, previous.shape, elements=st.integers(0, 2)))
    value = delta_f(previous, current, positive=1)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(delta_f(current, previous, positive=1))  # symmetric
    if (previous == 1).any() or (current == 1).any():
        expected = 1.0 - f1_score(previous == 1, current == 1)
        assert value == pytest.approx(expected)
    else:
        assert value == 0.0
    assert delta_f(previous, previous) == 0.0


def test_delta_f_ignores_agreeing_negatives():
    assert delta_f([1, 0, 0, 0, 0], [1, 0, 0, 0, 0]) == 0.0
    assert delta_f([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(1 - 2 / 3)
    assert delta_f([1, 1, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(1 / 3)
    assert delta_f(["spam", "ham"], ["spam", "spam"], positive="spam") == pytest.approx(1 / 3)


def test_delta_f_score_fires_after_window_small_changes():
    rounds = [
        [1, 1, 1, 0, 0, 0, 0, 0, 1, 0],
        [1, 0, 1, 1, 0, 0, 0, 0, 1, 0],  # 1 - 2*3/(6+2) = 0.25
        [1, 0, 1, 1, 0, 0, 0, 0, 1, 0],  # 0
        [1, 0, 1, 1, 0, 0, 0, 0, 1, 0],  # 0
        [1, 0, 1, 1, 0, 0, 0, 0, 1, 1],  # 1 - 8/9 = 0.111
        [1, 0, 1, 1, 0, 0, 0, 0, 1, 1],
        [1, 0, 1, 1, 0, 0, 0, 0, 1, 1],
        [1, 0, 1, 1, 0, 0, 0, 0, 1, 1],
    ]
    criterion = DeltaFScore(threshold=0.05, window=2)
    fired = run(criterion, stop_states(rounds))
    assert fired == [False, False, False, True, False, False, True, True]
    assert criterion.deltas_[:4] == pytest.approx([0.25, 0.0, 0.0, 1 / 9])


def test_delta_f_score_is_binary_unless_told_the_positive_class():
    three = [[0, 1, 2], [0, 1, 2], [0, 1, 2]]
    with pytest.raises(ValueError, match=r"binary tasks.*positive="):
        run(DeltaFScore(), stop_states(three))
    assert run(DeltaFScore(window=2, positive=2), stop_states(three)) == [False, False, True]


def test_delta_f_score_errors():
    with pytest.raises(ValueError, match="threshold must be in"):
        DeltaFScore(threshold=0)
    with pytest.raises(ValueError, match="window must be"):
        DeltaFScore(window=0)


# ---------------------------------------------------------------------------------------
# ClassificationChange
# ---------------------------------------------------------------------------------------


def test_classification_change_fires_when_nothing_changes():
    rounds = [[0, 1, 1, 0], [0, 1, 0, 0], [0, 1, 0, 0]]
    criterion = ClassificationChange()
    assert run(criterion, stop_states(rounds)) == [False, False, True]
    assert criterion.changed_ == [0.25, 0.0]
    assert "0 of 4" in criterion.reason


@pytest.mark.parametrize(("threshold", "expected"), [(0.0, False), (0.2, False), (0.25, True)])
def test_classification_change_threshold_is_the_share_allowed_to_change(threshold, expected):
    rounds = [[0, 1, 1, 0], [0, 1, 0, 0]]
    assert run(ClassificationChange(threshold), stop_states(rounds)) == [False, expected]


def test_classification_change_errors():
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        ClassificationChange(1.5)
    criterion = ClassificationChange()
    criterion.update(State(0, 10, ScriptedLabels([0, 1, 1]), X_stop=POOL))
    with pytest.raises(ValueError, match="stop set changed size"):
        criterion.update(State(1, 20, ScriptedLabels([0, 1]), X_stop=POOL[:2]))


# ---------------------------------------------------------------------------------------
# LowAverageUncertainty and OverallUncertainty(normalize=True)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("measure", sorted(PLAIN_MEASURES))
def test_low_average_uncertainty_is_strictly_below(measure):
    mean = float(PLAIN_MEASURES[measure](np.asarray(CONFIDENT)).mean())
    assert LowAverageUncertainty(mean + 1e-9, measure).update(pool_state(CONFIDENT))
    assert not LowAverageUncertainty(mean, measure).update(pool_state(CONFIDENT))


def test_low_average_uncertainty_reads_posterior_samples():
    # Members disagree on item 0 only: BALD is positive there, zero elsewhere.
    samples = np.array(
        [
            [[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]],
            [[0.1, 0.9], [0.5, 0.5], [0.2, 0.8]],
        ]
    )
    mean = plain_entropy(samples.mean(axis=0)) - np.mean([plain_entropy(s) for s in samples], 0)
    state = State(1, 10, ScriptedPosterior(samples), X_pool=POOL)
    assert LowAverageUncertainty(mean.mean() + 1e-9, "bald").update(state)
    assert not LowAverageUncertainty(mean.mean() - 1e-9, "bald").update(state)
    with pytest.raises(TypeError, match="sample_proba"):
        LowAverageUncertainty(0.1, "bald").update(State(1, 10, NoSamples(), X_pool=POOL))


def test_low_average_uncertainty_errors_and_empty_pool():
    with pytest.raises(ValueError, match="measure must be one of"):
        LowAverageUncertainty(0.1, "variance")
    assert LowAverageUncertainty().update(State(1, 10, X_pool=np.zeros((0, 2))))


def test_overall_uncertainty_normalised_entropy():
    uniform3 = np.full((3, 3), 1 / 3)
    state = pool_state(uniform3)
    assert not OverallUncertainty(0.99, normalize=True).update(state)
    assert OverallUncertainty(1.0, normalize=True).update(state)
    # Raw entropy of the uniform row is log 3 > 1.
    assert not OverallUncertainty(1.0).update(state)
    assert "normalised entropy" in _fired_reason(OverallUncertainty(1.0, normalize=True), state)


def _fired_reason(criterion, state):
    assert criterion.update(state)
    return criterion.reason


# ---------------------------------------------------------------------------------------
# SelectedAccuracy
# ---------------------------------------------------------------------------------------


class Threshold:
    """A fitted model that predicts class 1 where the first feature exceeds a cut."""

    def __init__(self, cut):
        self.cut = cut

    def predict(self, X):
        return (np.asarray(X)[:, 0] > self.cut).astype(int)


def batch_states(cuts, batches):
    """Round r: the model with cut[r], and batch r (items, true labels) labelled in it."""
    states = []
    for r, cut in enumerate(cuts):
        X_new, y_new = (None, None) if r == 0 else batches[r - 1]
        states.append(State(r, 10 * (r + 1), Threshold(cut), X_new=X_new, y_new=y_new))
    return states


def test_selected_accuracy_judges_the_previous_model_on_the_new_batch():
    X = np.linspace(0, 1, 10)[:, None]
    truth = (X[:, 0] > 0.5).astype(int)
    # The model of round r-1 predicts batch r; it only gets it fully right from round 3.
    cuts = [0.05, 0.25, 0.5, 0.5, 0.5]
    states = batch_states(cuts, [(X, truth)] * 4)
    criterion = SelectedAccuracy(threshold=0.9)
    fired = run(criterion, states)
    plain = [np.mean(Threshold(c).predict(X) == truth) for c in cuts[:-1]]
    assert criterion.accuracies_ == pytest.approx(plain[: len(criterion.accuracies_)])
    assert fired == [False, False, False, True, True]
    assert plain[:3] == pytest.approx([0.6, 0.8, 1.0])


def test_selected_accuracy_window_and_copy():
    X = np.linspace(0, 1, 10)[:, None]
    truth = (X[:, 0] > 0.5).astype(int)
    model = Threshold(0.05)
    criterion = SelectedAccuracy(threshold=0.85, window=2)
    fired = []
    for r, cut in enumerate([0.05, 0.5, 0.5, 0.5]):
        model.cut = cut  # the loop refits the same object in place
        state = State(r, 10, model, X_new=None if r == 0 else X, y_new=None if r == 0 else truth)
        fired.append(criterion.update(state))
    # Round 1 judges the copy kept at round 0 (cut 0.05), not the refitted model.
    assert criterion.accuracies_ == pytest.approx([0.6, 1.0, 1.0])
    assert fired == [False, False, False, True]


def test_selected_accuracy_needs_the_batch():
    criterion = SelectedAccuracy()
    criterion.update(State(0, 10, Threshold(0.5)))
    with pytest.raises(ValueError, match=r"X_new=.*y_new="):
        criterion.update(State(1, 20, Threshold(0.5)))
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        SelectedAccuracy(threshold=2)


def test_simulate_passes_the_labelled_batch_to_criteria():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import activelab as al

    class Recorder(StoppingCriterion):
        def __init__(self):
            self.seen = []

        def update(self, state):
            self.seen.append((state.X_new, state.y_new))
            return False

    X, y = load_iris(return_X_y=True)
    recorder = Recorder()
    result = al.simulate(
        LogisticRegression(max_iter=500), "margin", X, y, budget=40, stopping=recorder
    )
    assert recorder.seen[0] == (None, None)
    for record, (X_new, y_new) in zip(result.history[1:], recorder.seen[1:], strict=True):
        np.testing.assert_array_equal(X_new, X[record.indices])
        np.testing.assert_array_equal(y_new, y[record.indices])


def test_selected_accuracy_in_the_loops():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import activelab as al

    X, y = load_iris(return_X_y=True)
    criterion = SelectedAccuracy(threshold=0.9)
    result = al.simulate(
        LogisticRegression(max_iter=500), "random", X, y, budget=100, stopping=criterion
    )
    assert result.stopped_by is not None and "queried batch" in result.stopped_by
    assert criterion.accuracies_[-1] >= 0.9
    assert len(criterion.accuracies_) == len(result.history) - 1

    learner = al.ActiveLearner(
        LogisticRegression(max_iter=500), "random", stopping=SelectedAccuracy(0.5)
    )
    learner.fit(X[[0, 1, 50, 51, 100, 101]], y[[0, 1, 50, 51, 100, 101]])
    picks = learner.query(X, k=10)
    learner.teach(X[picks], y[picks])
    accuracy = learner.criteria[0].accuracies_[0]
    assert accuracy >= 0.0 and (learner.stopped_by is not None) == (accuracy >= 0.5)


# ---------------------------------------------------------------------------------------
# AccuracyLowerBound and clopper_pearson_lower
# ---------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_clopper_pearson_lower_is_the_exact_binomial_bound(n, data, confidence):
    from scipy.stats import binom

    k = data.draw(st.integers(0, n))
    lower = clopper_pearson_lower(k, n, confidence)
    assert 0.0 <= lower <= k / n
    if k:
        # At the bound, k or more successes have probability exactly 1 - confidence.
        assert binom.sf(k - 1, n, lower) == pytest.approx(1 - confidence, rel=1e-6, abs=1e-9)
    if k < n:
        assert clopper_pearson_lower(k + 1, n, confidence) > lower
    assert clopper_pearson_lower(k, n, min(confidence + 0.005, 0.999)) <= lower


def test_clopper_pearson_lower_errors():
    with pytest.raises(ValueError, match="n_correct <= n"):
        clopper_pearson_lower(5, 4)
    with pytest.raises(ValueError, match="confidence"):
        clopper_pearson_lower(1, 4, confidence=1.0)


class Correct:
    """A model that gets the first ``k`` held-out items right (labels are all 0)."""

    def __init__(self, k):
        self.k = k

    def predict(self, X):
        out = np.ones(len(X), dtype=int)
        out[: self.k] = 0
        return out


HOLDOUT = (np.zeros((100, 1)), np.zeros(100, dtype=int))


def test_accuracy_lower_bound_target_rule():
    criterion = AccuracyLowerBound(*HOLDOUT, target=0.9, patience=None)
    rounds = [80, 90, 95, 97, 99]
    fired = run(criterion, [State(r, 10, Correct(k)) for r, k in enumerate(rounds)])
    plain = [clopper_pearson_lower(k, 100, 0.95) for k in rounds]
    assert criterion.bounds_ == pytest.approx(plain[: len(criterion.bounds_)])
    assert fired == [b >= 0.9 for b in plain]
    assert fired == [False, False, False, True, True]  # 95/100 is not enough at 95 %, 97 is


def test_accuracy_lower_bound_plateau_rule():
    criterion = AccuracyLowerBound(*HOLDOUT, patience=2)
    fired = run(criterion, [State(r, 10, Correct(k)) for r, k in enumerate([70, 80, 79, 80, 80])])
    assert fired == [False, False, False, True, True]
    assert "has not risen" in criterion.reason
    criterion.reset()
    assert criterion.bounds_ == [] and criterion.reason is None


def test_accuracy_lower_bound_errors_and_repr():
    with pytest.raises(ValueError, match="target accuracy, a patience, or both"):
        AccuracyLowerBound(*HOLDOUT, target=None, patience=None)
    with pytest.raises(ValueError, match="same number"):
        AccuracyLowerBound(np.zeros((3, 1)), [0, 1])
    with pytest.raises(ValueError, match="target must be"):
        AccuracyLowerBound(*HOLDOUT, target=1.5)
    with pytest.raises(ValueError, match="patience must be at least 1"):
        AccuracyLowerBound(*HOLDOUT, patience=0)
    assert repr(AccuracyLowerBound(*HOLDOUT, target=0.9)) == (
        "AccuracyLowerBound(<100 held-out items>, target=0.9, confidence=0.95, patience=3, "
        "min_delta=0.0)"
    )


@pytest.mark.parametrize(
    ("criterion", "text"),
    [
        (KappaAverage(), "KappaAverage(threshold=0.99, window=3)"),
        (KappaAverage(0.9, 2), "KappaAverage(threshold=0.9, window=2)"),
        (DeltaFScore(), "DeltaFScore(threshold=0.05, window=3, positive=None)"),
        (ClassificationChange(0.1), "ClassificationChange(threshold=0.1)"),
        (LowAverageUncertainty(), "LowAverageUncertainty(threshold=0.05, measure='entropy')"),
        (SelectedAccuracy(), "SelectedAccuracy(threshold=0.9, window=1)"),
    ],
)
def test_new_criteria_repr(criterion, text):
    assert repr(criterion) == text


# ---------------------------------------------------------------------------------------
# Agreement with small-text (run with .venv-bench, where small-text is installed)
# ---------------------------------------------------------------------------------------


def _small_text_rounds(criterion, ours, rounds, **kwargs):
    theirs = [criterion.stop(predictions=np.asarray(r), **kwargs) for r in rounds]
    mine = [ours.update(s) for s in stop_states(rounds)]
    return theirs, mine


@pytest.mark.parametrize("seed", range(4))
def test_kappa_average_matches_small_text(seed):
    stopping = pytest.importorskip("small_text.stopping_criteria")
    rounds = flips(10, seed=seed)
    theirs = stopping.KappaAverage(num_classes=3, window_size=3, kappa=0.99)
    ours = KappaAverage(threshold=0.99, window=3)
    a, b = _small_text_rounds(theirs, ours, rounds)
    assert a == b
    assert True in b


@pytest.mark.parametrize("threshold", [0.0, 0.1, 0.25])
def test_classification_change_matches_small_text(threshold):
    stopping = pytest.importorskip("small_text.stopping_criteria")
    rounds = flips(8, seed=3)
    theirs = stopping.ClassificationChange(num_classes=3, threshold=threshold)
    a, b = _small_text_rounds(theirs, ClassificationChange(threshold), rounds)
    assert a == b
    assert True in b


@pytest.mark.parametrize("seed", range(3))
def test_delta_f_score_matches_small_text(seed):
    stopping = pytest.importorskip("small_text.stopping_criteria")
    rng = np.random.default_rng(seed)
    # Binary stop-set labels (always some positives) that settle down over the rounds.
    labels = rng.integers(0, 2, 60)
    labels[0] = 1
    rounds = [labels.copy()]
    for r in range(1, 10):
        labels = labels.copy()
        flip = rng.choice(np.arange(1, 60), max(0, 8 - r), replace=False)
        labels[flip] = 1 - labels[flip]
        rounds.append(labels)
    theirs = stopping.DeltaFScore(num_classes=2, window_size=3, threshold=0.05)
    ours = DeltaFScore(threshold=0.05, window=3)
    a, b = _small_text_rounds(theirs, ours, rounds)
    assert a == b
    assert True in b


def test_overall_uncertainty_matches_small_text():
    stopping = pytest.importorskip("small_text.stopping_criteria")
    rng = np.random.default_rng(0)
    for scale in [0.3, 1.0, 3.0, 10.0]:
        logits = scale * rng.normal(size=(50, 4))
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        theirs = stopping.OverallUncertainty(num_classes=4, threshold=0.3)
        expected = theirs.stop(proba=proba, indices_stopping=np.arange(50))
        assert OverallUncertainty(0.3, normalize=True).update(pool_state_n(proba)) == expected


def pool_state_n(proba) -> State:
    return State(
        round=1, n_labeled=10, model=ScriptedProba(proba), X_pool=np.zeros((len(proba), 1))
    )
