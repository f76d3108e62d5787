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
    Budget,
    ErrorStability,
    MaxUncertainty,
    OverallUncertainty,
    PerformancePlateau,
    StabilizingPredictions,
    State,
    StoppingCriterion,
    cohen_kappa,
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
            "PerformancePlateau(metric='f1_macro', patience=2, min_delta=0.01)",
        ),
        (MaxUncertainty(), "MaxUncertainty(threshold=0.1, measure='entropy')"),
        (
            OverallUncertainty(0.2, "margin"),
            "OverallUncertainty(threshold=0.2, measure='margin')",
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
    assert repr(plateau) == "PerformancePlateau(metric='accuracy', patience=1, min_delta=0.0)"


def test_state_defaults_and_is_frozen():
    state = State(round=0, n_labeled=5)
    assert state.model is None
    assert state.X_pool is None
    assert state.X_stop is None
    assert dict(state.metrics) == {}
    with pytest.raises(AttributeError):
        state.round = 1
