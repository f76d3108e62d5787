"""Stream rules: utilities, density gates and windows against plain references."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from activelab import stream
from activelab.strategies._pal import pal_gain


class Fixed:
    """A model whose probabilities are given per call."""

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)

    def predict_proba(self, X):
        return self.proba[: len(X)]


class Recorder(stream.VariableUncertaintyBudget):
    """A manager that records the utilities it was shown and answers from a list."""

    def __init__(self, budget=0.1, answers=None):
        super().__init__(budget=budget)
        self.answers = answers

    def _start(self):
        super()._start()
        self.seen = []

    def _decide(self, utility):
        self.seen.append(utility)
        return bool(self.answers.pop(0)) if self.answers else True


# ------------------------------------------------------------------ references


def reference_dbal_density(items, window_size):
    """Ienco et al.'s local density factor with a deque of (item, nn distance) pairs."""
    window, out = deque(maxlen=window_size), []
    for x in items:
        factor, nearest = 0, math.inf
        for entry in window:
            distance = math.dist(entry[0], x)
            nearest = min(nearest, distance)
            if distance < entry[1]:
                entry[1] = distance
                factor += 1
        window.append([x, nearest])
        out.append(factor)
    return out


def reference_cogdqs_density(items, size):
    """Liu et al.'s cognition window, one dict per remembered item."""
    window, out = [], []
    for t, x in enumerate(items):
        factor = 0
        distances = [math.dist(m["x"], x) for m in window]
        for m, distance in zip(window, distances, strict=True):
            if distance < m["nn"]:
                m.update(nn=distance, count=m["count"] + 1, last=t)
                factor += 1
        if len(window) > size:
            strength = [math.exp(-(t - m["last"]) / (m["count"] + 1)) for m in window]
            del window[int(np.argmin(strength))]
        window.append({"x": x, "nn": min(distances, default=math.inf), "count": 0, "last": t})
        out.append(factor)
    return out


# Coordinates far below 1e-100 are read as 0: their squares underflow, and whether a
# distance comes out 0 or 1e-494 then depends on the order of the arithmetic, not the rule.
coordinate = st.floats(-5, 5, allow_nan=False).map(lambda v: 0.0 if abs(v) < 1e-100 else v)
points = st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=60)


# ------------------------------------------------------------ uncertainty rules


@pytest.mark.parametrize(
    ("rule", "manager"),
    [
        (stream.FixedUncertainty, stream.FixedUncertaintyBudget),
        (stream.VariableUncertainty, stream.VariableUncertaintyBudget),
        (stream.RandomVariableUncertainty, stream.RandomVariableUncertaintyBudget),
        (stream.Split, stream.SplitBudget),
    ],
)
def test_zliobaite_rules_give_least_confidence_to_their_manager(rule, manager):
    proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8]])
    started = rule().reset([0, 1], 0)
    assert np.allclose(started.utilities(Fixed(proba), np.zeros((3, 2))), [0.1, 0.45, 0.2])
    assert isinstance(started.default_budget_manager(0.3), manager)
    assert started.default_budget_manager(0.3).budget == 0.3
    recorder = Recorder(answers=[1, 0, 1]).reset()
    assert started.select(Fixed(proba), np.zeros((3, 2)), recorder).tolist() == [True, False, True]
    assert np.allclose(recorder.seen, [0.1, 0.45, 0.2])


def test_rules_check_the_model_output():
    rule = stream.VariableUncertainty().reset([0, 1, 2])
    with pytest.raises(ValueError, match="expected \\(2, 3\\), one column per class"):
        rule.utilities(Fixed([[0.5, 0.5], [0.5, 0.5]]), np.zeros((2, 1)))
    with pytest.raises(TypeError, match="needs a model with predict_proba"):
        rule.utilities(None, np.zeros((2, 1)))
    with pytest.raises(RuntimeError, match="call reset"):
        stream.VariableUncertainty().select(None, np.zeros((1, 1)), Recorder().reset())
    with pytest.raises(ValueError, match="at least two distinct labels"):
        stream.VariableUncertainty().reset([1, 1])
    with pytest.raises(ValueError, match="NaN or inf"):
        rule.utilities(Fixed([[0.5, 0.3, 0.2]]), [[np.nan]])


def test_periodic_and_random_need_no_model():
    periodic = stream.PeriodicSampling().reset([0, 1])
    manager = periodic.default_budget_manager(0.25).reset()
    assert np.flatnonzero(periodic.select(None, np.zeros((8, 3)), manager)).tolist() == [3, 7]
    first = stream.StreamRandomSampling().reset([0, 1], 5)
    again = stream.StreamRandomSampling().reset([0, 1], 5)
    manager = first.default_budget_manager(0.2)
    a = first.select(None, np.zeros((500, 1)), manager.reset())
    b = again.select(None, np.zeros((500, 1)), stream.CumulativeBudget(budget=0.2).reset())
    assert a.tolist() == b.tolist()
    assert 60 <= a.sum() <= 140


# ----------------------------------------------------------------- density rules


@settings(max_examples=40, deadline=None)
@given(points, st.integers(1, 8))
def test_dbal_density_matches_the_deque_reference(items, window_size):
    rule = stream.StreamDensityBasedAL(window_size=window_size).reset([0, 1])
    found = [rule.local_density(np.array(x)) for x in items]
    assert found == reference_dbal_density(items, window_size)


@settings(max_examples=40, deadline=None)
@given(points, st.integers(1, 6))
def test_cogdqs_density_matches_the_plain_reference(items, size):
    rule = stream.CogDQS(cognition_window_size=size).reset([0, 1])
    found = [rule.local_density(np.array(x)) for x in items]
    assert found == reference_cogdqs_density(items, size)
    assert len(rule.window_) <= size + 1


def test_dbal_gives_nan_to_the_manager_for_sparse_items():
    rule = stream.StreamDensityBasedAL(window_size=5).reset([0, 1])
    proba = np.array([[0.6, 0.4]] * 3)
    recorder = Recorder(answers=[1, 1, 1]).reset()
    # first item: empty window (factor 0); second: the first's new nearest neighbour
    # (factor 1); third: far from both, which are closer to each other (factor 0)
    X = np.array([[0.0, 0.0], [0.1, 0.0], [9.0, 9.0]])
    decided = rule.select(Fixed(proba), X, recorder)
    assert math.isnan(recorder.seen[0]) and recorder.seen[1] == pytest.approx(0.8)
    assert math.isnan(recorder.seen[2])
    assert decided.tolist() == [True, True, True]  # the recorder answers yes even to NaN


@pytest.mark.parametrize("force", [False, True])
def test_cogdqs_only_shows_dense_items_unless_forced(force):
    rule = stream.CogDQS(density_threshold=1, force_full_budget=force).reset([0, 1])
    proba = np.array([[0.7, 0.3]] * 3)
    recorder = Recorder(answers=[1, 1, 1]).reset()
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.0]])  # factors 0, 1, 2
    decided = rule.select(Fixed(proba), X, recorder)
    if force:
        assert math.isnan(recorder.seen[0]) and len(recorder.seen) == 3
    else:
        assert len(recorder.seen) == 2
    assert decided.tolist() == [False, True, True]
    assert recorder.seen[-1] == pytest.approx(0.3)


def test_cogdqs_variants_pick_their_managers():
    pairs = {
        stream.CogDQS: stream.RandomVariableUncertaintyBudget,
        stream.CogDQSRandom: stream.RandomBudget,
        stream.CogDQSFixedUncertainty: stream.FixedUncertaintyBudget,
        stream.CogDQSVariableUncertainty: stream.VariableUncertaintyBudget,
        stream.CogDQSRandomVariableUncertainty: stream.RandomVariableUncertaintyBudget,
    }
    for rule, manager in pairs.items():
        assert type(rule().default_budget_manager()) is manager


# --------------------------------------------------------------- probabilistic AL


def test_pal_utilities_are_mcpal_on_brute_force_frequencies():
    rng = np.random.default_rng(0)
    labeled, labels = rng.normal(size=(12, 3)), rng.integers(0, 3, 12)
    items = rng.normal(size=(5, 3))
    rule = stream.StreamProbabilisticAL(gamma=0.7, prior=0.01, m_max=2, window_size=8)
    rule = rule.reset(["a", "b", "c"]).learn(labeled, np.array(["a", "b", "c"])[labels])
    kept, kept_labels = labeled[4:], labels[4:]  # the window holds the last 8
    frequencies = np.zeros((5, 3))
    for i, x in enumerate(items):
        for x_j, y_j in zip(kept, kept_labels, strict=True):
            frequencies[i, y_j] += np.exp(-0.7 * np.sum((x - x_j) ** 2))
    expected = pal_gain(frequencies, 0.01, 2)
    assert np.allclose(rule.utilities(None, items), expected, rtol=1e-9, atol=1e-12)


def test_pal_with_the_model_scales_its_probabilities_by_the_kernel_mass():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    model = LogisticRegression().fit(X, y)
    rule = stream.StreamProbabilisticAL(use_model=True).reset([0, 1]).learn(X, y)
    items = np.array([[0.5, 0.2], [3.0, -1.0]])
    mass = np.exp(-0.5 * ((items[:, None, :] - X[None]) ** 2).sum(-1)).sum(1, keepdims=True)
    expected = pal_gain(mass * model.predict_proba(items), 1e-3, 2)
    assert np.allclose(rule.utilities(model, items), expected)


def test_pal_rejects_unknown_labels_and_mean_bandwidth_works():
    rule = stream.StreamProbabilisticAL(gamma="mean").reset([0, 1])
    with pytest.raises(ValueError, match=r"labels \[7\] are not among"):
        rule.learn([[0.0]], [7])
    rule.learn([[0.0], [1.0], [2.0]], [0, 1, 1])
    assert np.isfinite(rule.utilities(None, [[0.5]])).all()


# --------------------------------------------------------------------- registry


def test_registry_lists_and_builds_every_rule():
    names = stream.available()
    assert len(names) == 13 and names == sorted(names)
    for name in names:
        rule = stream.get(name)
        assert rule.name == name and rule.summary and rule.reference
    assert stream.get("cogdqs", cognition_window_size=4).cognition_window_size == 4
    assert {row["name"] for row in stream.describe()} == set(names)
    with pytest.raises(ValueError, match="Did you mean 'split'"):
        stream.get("splt")
