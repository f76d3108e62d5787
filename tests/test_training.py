"""Training schemes (SelfTraining, CEAL) and importance weighting (draw probabilities, LURE).

Pseudo-labels are checked against hand-computed entropies and confidences on a model with
fixed probabilities, and in simulate() for what they must never do (count as labels).
The LURE weights are checked against the formula by hand, for exact unbiasedness by
enumerating every ordered draw of a small pool, and by Monte Carlo with the real sampler.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

import activelab as al
from activelab.models import ModelAdapter
from activelab.select import draw_probabilities, stochastic_batch
from activelab.strategies import Diverse, Margin, RandomSampling
from activelab.training import (
    CEAL,
    PseudoLabels,
    SelfTraining,
    importance_ratios,
    lure_weights,
    selection_probabilities,
)

SETTINGS = settings(max_examples=30, deadline=None)


class FixedProba(ModelAdapter):
    """A 'fitted' model whose probabilities for row i are ``proba[int(X[i, 0])]``."""

    def __init__(self, proba=None, classes=("a", "b")):
        self.proba = proba
        self.classes = classes

    @property
    def classes_(self):
        return np.asarray(self.classes)

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return np.asarray(self.proba)[np.asarray(X)[:, 0].astype(int)]


PROBA = np.array(
    [
        [0.99, 0.01],
        [0.999, 0.001],
        [0.5, 0.5],
        [0.002, 0.998],
        [0.9, 0.1],
    ]
)
POOL = np.arange(5, dtype=np.float64)[:, None]


def entropy(row):
    return -sum(p * np.log(p) for p in row if p > 0)


def blobs():
    X, y = make_blobs(300, centers=3, cluster_std=1.0, random_state=0)
    X_test, y_test = make_blobs(150, centers=3, cluster_std=1.0, random_state=0)
    return X, y, X_test, y_test


# -- pseudo-labels ------------------------------------------------------------------------


def test_ceal_pseudo_labels_low_entropy_items_most_confident_first():
    model = FixedProba(PROBA)
    pseudo = CEAL(delta=0.05, decay=0.0).pseudo_labels(model, POOL, round=1, random_state=0)
    confident = [i for i in range(5) if entropy(PROBA[i]) < 0.05]
    expected = sorted(confident, key=lambda i: entropy(PROBA[i]))
    assert expected == [1, 3]
    assert pseudo.indices.tolist() == expected
    assert pseudo.labels.tolist() == ["a", "b"]
    assert len(pseudo) == 2 and isinstance(pseudo, PseudoLabels)


def test_ceal_threshold_decays_each_round_and_stops_at_zero():
    scheme = CEAL(delta=0.05, decay=0.01)
    assert [round(scheme.threshold_at(t), 10) for t in range(1, 8)] == [
        0.05,
        0.04,
        0.03,
        0.02,
        0.01,
        0.0,
        0.0,
    ]
    # H(row 0) = 0.056, H(row 3) = 0.0145, H(row 1) = 0.0079
    model = FixedProba(PROBA)
    wide = CEAL(delta=0.06, decay=0.01)
    counts = [len(wide.pseudo_labels(model, POOL, t, 0)) for t in range(1, 8)]
    assert counts == [3, 2, 2, 2, 2, 1, 0]  # thresholds 0.06, 0.05, …, 0.01, 0


def test_self_training_threshold_and_cap():
    model = FixedProba(PROBA)
    pseudo = SelfTraining(threshold=0.95).pseudo_labels(model, POOL, 1, 0)
    assert pseudo.indices.tolist() == [1, 3, 0]  # max probability 0.999, 0.998, 0.99
    assert pseudo.labels.tolist() == ["a", "b", "a"]
    capped = SelfTraining(threshold=0.95, max_per_round=2).pseudo_labels(model, POOL, 1, 0)
    assert capped.indices.tolist() == [1, 3]
    assert len(SelfTraining(threshold=1.0).pseudo_labels(model, POOL, 1, 0)) == 0


def test_no_pseudo_labels_in_round_zero_or_from_an_empty_pool():
    model = FixedProba(PROBA)
    assert len(SelfTraining(0.5).pseudo_labels(model, POOL, 0, 0)) == 0
    assert len(SelfTraining(0.5).pseudo_labels(model, POOL[:0], 3, 0)) == 0


def test_ties_at_the_cap_are_broken_at_random():
    model = FixedProba(np.tile([[0.99, 0.01]], (5, 1)))
    scheme = SelfTraining(0.9, max_per_round=1)
    chosen = {int(scheme.pseudo_labels(model, POOL, 1, seed).indices[0]) for seed in range(40)}
    assert len(chosen) > 2


@pytest.mark.parametrize(
    ("scheme", "message"),
    [
        (CEAL(delta=-0.1), "delta"),
        (CEAL(delta=0.0), "delta"),
        (CEAL(delta="0.05"), "delta"),
        (CEAL(decay=-0.01), "decay"),
        (CEAL(decay=float("nan")), "decay"),
        (CEAL(max_per_round=0), "max_per_round"),
        (SelfTraining(threshold=1.5), "threshold"),
        (SelfTraining(threshold=0.0), "threshold"),
        (SelfTraining(max_per_round=2.5), "max_per_round"),
        (SelfTraining(max_per_round=True), "max_per_round"),
    ],
)
def test_invalid_parameters_are_clear_errors(scheme, message):
    with pytest.raises(ValueError, match=message):
        scheme.validate()
    X, y, X_test, y_test = blobs()
    with pytest.raises(ValueError, match=message):  # before any work is done
        al.simulate(LogisticRegression(), "margin", X, y, X_test, y_test, training=scheme)


def test_training_must_be_a_scheme():
    X, y, X_test, y_test = blobs()
    with pytest.raises(TypeError, match="training scheme"):
        al.simulate(LogisticRegression(), "margin", X, y, X_test, y_test, training="ceal")


# -- CEAL in simulate ------------------------------------------------------------------------


class CountingOracle(al.oracles.SimulatedOracle):
    def __init__(self, labels):
        super().__init__(labels)
        self.asked = []

    def label(self, indices):
        self.asked.extend(np.asarray(indices).tolist())
        return super().label(indices)


def test_pseudo_labels_never_count_as_labels_or_budget():
    X, y, X_test, y_test = blobs()
    kwargs = dict(initial=6, batch_size=5, budget=31, random_state=0)
    oracle = CountingOracle(y)
    # delta above the largest possible entropy (ln 3): every pool item is pseudo-labeled.
    res = al.simulate(
        LogisticRegression(max_iter=500),
        "margin",
        X,
        y,
        X_test,
        y_test,
        oracle=oracle,
        training=CEAL(delta=2.0, decay=0.0),
        **kwargs,
    )
    plain = al.simulate(LogisticRegression(max_iter=500), "margin", X, y, X_test, y_test, **kwargs)
    assert [r.n_labeled for r in res.history] == [r.n_labeled for r in plain.history]
    assert [r.n_labeled for r in res.history] == [6, 11, 16, 21, 26, 31]
    assert len(oracle.asked) == 31 == len(set(oracle.asked))
    labeled = np.concatenate([r.indices for r in res.history])
    assert sorted(labeled.tolist()) == sorted(oracle.asked)
    assert res.history[0].n_pseudo == 0
    # Every round after the first pseudo-labels the whole remaining pool.
    assert [r.n_pseudo for r in res.history[1:]] == [300 - n for n in (11, 16, 21, 26, 31)]


def test_ceal_on_an_easy_data_set_uses_pseudo_labels_and_learns():
    X, y, X_test, y_test = blobs()
    res = al.simulate(
        LogisticRegression(max_iter=500),
        "margin",
        X,
        y,
        X_test,
        y_test,
        initial=6,
        batch_size=5,
        budget=46,
        training=CEAL(delta=0.05, decay=0.0033),
        random_state=0,
    )
    counts = [r.n_pseudo for r in res.history]
    assert counts[0] == 0 and sum(counts) > 20
    used = [r.pseudo_accuracy for r in res.history if r.n_pseudo]
    assert min(used) >= 0.95  # low-entropy pseudo-labels on separable blobs are right
    assert all(np.isnan(r.pseudo_accuracy) for r in res.history if not r.n_pseudo)
    _, accuracy = res.curve()
    assert np.all((accuracy >= 0) & (accuracy <= 1))
    assert accuracy[-1] >= 0.9 and accuracy[-1] >= accuracy[0]
    frame = res.to_frame()
    assert frame["n_pseudo"].tolist() == counts


def test_self_training_in_simulate_respects_the_cap():
    X, y, X_test, y_test = blobs()
    res = al.simulate(
        LogisticRegression(max_iter=500),
        "entropy",
        X,
        y,
        X_test,
        y_test,
        initial=6,
        batch_size=6,
        budget=30,
        training=SelfTraining(threshold=0.9, max_per_round=15),
        random_state=1,
    )
    assert [r.n_pseudo for r in res.history] == [0, 15, 15, 15, 15]


# -- draw probabilities and importance weights ------------------------------------------


def softmax_probability_of_sequence(scores, sequence, temperature=1.0):
    """Plain reference: product of softmax draws over what is left."""
    weights = np.exp(np.asarray(scores) / temperature)
    left = np.ones(len(scores), dtype=bool)
    probs = []
    for item in sequence:
        probs.append(weights[item] / weights[left].sum())
        left[item] = False
    return np.array(probs)


def test_draw_probabilities_match_the_plackett_luce_formula():
    scores = np.array([0.3, 1.2, -0.5, 0.8, 0.0])
    picks = np.array([1, 3, 0])
    expected = softmax_probability_of_sequence(scores, picks, 0.7)
    assert np.allclose(draw_probabilities(scores, picks, "softmax", 0.7), expected)
    assert draw_probabilities(scores, picks, "top").tolist() == [1.0, 1.0, 1.0]
    power = draw_probabilities([1.0, 3.0, 0.0, 2.0], [1, 3, 0, 2], "power", 1.0)
    assert np.allclose(power, [3 / 6, 2 / 3, 1.0, 1.0])  # zero weight: uniform among zeros


def test_draw_probabilities_reject_impossible_or_bad_picks():
    with pytest.raises(ValueError, match="probability 0"):
        draw_probabilities([0.0, 1.0, 2.0], [0, 1], "power")
    with pytest.raises(ValueError, match="unique"):
        draw_probabilities([0.0, 1.0], [1, 1])
    with pytest.raises(ValueError, match="indices"):
        draw_probabilities([0.0, 1.0], [2])
    with pytest.raises(ValueError, match="mode"):
        draw_probabilities([0.0, 1.0], [1], "greedy")


@pytest.mark.parametrize("mode", ["softmax", "power", "softrank"])
def test_draw_probabilities_agree_with_the_sampler(mode):
    scores = np.array([0.2, 1.5, 0.7, 1.0, 0.4])
    rng = np.random.default_rng(0)
    counts = {}
    draws = 4000
    for _ in range(draws):
        batch = tuple(stochastic_batch(scores, 2, mode, 0.5, rng).tolist())
        counts[batch] = counts.get(batch, 0) + 1
    for batch, count in counts.items():
        if count < 200:
            continue
        p = float(np.prod(draw_probabilities(scores, np.array(batch), mode, 0.5)))
        assert abs(count / draws - p) < 4 * np.sqrt(p * (1 - p) / draws) + 1e-3


def test_importance_ratios_and_lure_weights_by_hand():
    assert importance_ratios([0.5, 0.25], [4, 4]).tolist() == [0.5, 1.0]
    # N = 5, M = 3: v_m = 1 + (N - M)/(N - m) (r_m - 1)
    ratios = np.array([1.0, 2.0, 0.5])
    expected = [1.0 + 2 / 4 * 0.0, 1.0 + 2 / 3 * 1.0, 1.0 + 2 / 2 * -0.5]
    assert np.allclose(lure_weights(ratios, 5), expected)
    assert lure_weights(np.array([3.0, 0.2]), 2).tolist() == [1.0, 1.0]  # M = N: exact
    with pytest.raises(ValueError, match="n_total"):
        lure_weights(ratios, 2)
    with pytest.raises(ValueError, match="positive"):
        lure_weights(np.array([1.0, 0.0]), 4)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        importance_ratios([0.0], [3])


def exact_expectations(scores, losses, M, temperature):
    """E[LURE estimate] and E[plain mean] over every ordered softmax draw of M items."""
    N = len(scores)
    lure, plain = 0.0, 0.0
    for sequence in itertools.permutations(range(N), M):
        picks = np.array(sequence)
        q = draw_probabilities(scores, picks, "softmax", temperature)
        weights = lure_weights(importance_ratios(q, N - np.arange(M)), N)
        chance = float(np.prod(q))
        lure += chance * float(np.mean(weights * losses[picks]))
        plain += chance * float(np.mean(losses[picks]))
    return lure, plain


def test_lure_is_exactly_unbiased_and_the_plain_mean_is_not():
    scores = np.array([2.0, 0.0, 1.0, -1.0, 0.5, 1.5])
    losses = np.array([0.1, 0.9, 0.4, 1.0, 0.3, 0.2])  # the likely items are the easy ones
    lure, plain = exact_expectations(scores, losses, 3, 1.0)
    assert lure == pytest.approx(losses.mean(), abs=1e-12)
    assert plain < losses.mean() - 0.05


@SETTINGS
@given(
    st.integers(2, 5).flatmap(
        lambda n: st.tuples(
            st.lists(st.floats(-3, 3), min_size=n, max_size=n),
            st.lists(st.floats(0, 1), min_size=n, max_size=n),
            st.integers(1, n),
            st.floats(0.2, 5.0),
        )
    )
)
def test_lure_is_unbiased_for_any_scores_losses_and_budget(case):
    scores, losses, M, temperature = case
    lure, _ = exact_expectations(np.array(scores), np.array(losses), M, temperature)
    assert lure == pytest.approx(float(np.mean(losses)), abs=1e-9)


def test_weighted_pool_risk_is_unbiased_by_monte_carlo_over_rounds():
    # Several rounds of softmax batches whose scores change with what was drawn.
    rng = np.random.default_rng(0)
    N, rounds, k = 12, 3, 2
    base = np.linspace(-1.0, 2.0, N)
    losses = np.where(base > 0.5, 0.1, 0.8)
    lure_estimates, plain_estimates = [], []
    for _ in range(1500):
        left = np.arange(N)
        drawn, ratios = [], []
        for r in range(rounds):
            scores = base[left] + 0.3 * r
            picks = stochastic_batch(scores, k, "softmax", 0.8, rng)
            q = draw_probabilities(scores, picks, "softmax", 0.8)
            ratios.extend(importance_ratios(q, len(left) - np.arange(k)))
            drawn.extend(left[picks])
            left = np.delete(left, picks)
        weights = lure_weights(np.array(ratios), N)
        lure_estimates.append(np.mean(weights * losses[drawn]))
        plain_estimates.append(np.mean(losses[drawn]))
    error = 4 * np.std(lure_estimates) / np.sqrt(len(lure_estimates))
    assert abs(np.mean(lure_estimates) - losses.mean()) < error
    assert abs(np.mean(plain_estimates) - losses.mean()) > 4 * error


# -- what the loop learns about a strategy's draws ---------------------------------------


def test_selection_probabilities_of_known_strategies(iris):
    X, y = iris
    model = LogisticRegression(max_iter=500).fit(X[::5], y[::5])
    pool = X[1::5]
    picks = np.array([4, 0, 7])
    uniform = selection_probabilities(RandomSampling(), model, pool, picks)
    assert np.allclose(uniform, [1 / 30, 1 / 29, 1 / 28])
    soft = Margin(sampling="softmax", temperature=0.3)
    utilities = al.scores.margin(model.predict_proba(pool))
    expected = softmax_probability_of_sequence(utilities, picks, 0.3)
    assert np.allclose(selection_probabilities(soft, model, pool, picks), expected)
    assert selection_probabilities(Margin(), model, pool, picks) is None
    assert selection_probabilities(Diverse("margin"), model, pool, picks) is None


class Recording(LogisticRegression):
    """Records the sample weights of every fit (the loop fits a clone)."""

    fits: ClassVar[list] = []

    def fit(self, X, y, sample_weight=None):
        Recording.fits.append(None if sample_weight is None else np.asarray(sample_weight))
        return super().fit(X, y, sample_weight=sample_weight)


def test_deterministic_top_k_keeps_weight_one():
    X, y, X_test, y_test = blobs()
    Recording.fits = []
    with pytest.warns(UserWarning, match="deterministic"):
        al.simulate(
            Recording(max_iter=500),
            "margin",
            X,
            y,
            X_test,
            y_test,
            initial=6,
            batch_size=5,
            budget=21,
            importance_weighting=True,
        )
    assert len(Recording.fits) == 4
    assert all(w is not None and np.all(w == 1.0) for w in Recording.fits)
    assert [w.shape[0] for w in Recording.fits] == [6, 11, 16, 21]


def test_random_sampling_is_unbiased_already_weights_one():
    X, y, X_test, y_test = blobs()
    Recording.fits = []
    al.simulate(
        Recording(max_iter=500), "random", X, y, X_test, y_test, initial=6, batch_size=5,
        budget=16, importance_weighting=True,
    )  # fmt: skip
    assert np.allclose(Recording.fits[-1], 1.0)


def test_softmax_sampling_weights_follow_the_formula():
    X, y, X_test, y_test = blobs()
    Recording.fits = []
    strategy = Margin(sampling="softmax", temperature=0.2)
    res = al.simulate(
        Recording(max_iter=500),
        strategy,
        X,
        y,
        X_test,
        y_test,
        initial=6,
        batch_size=4,
        budget=10,
        importance_weighting=True,
        random_state=3,
    )
    initial, picks = res.history[0].indices, res.history[1].indices
    # The round-0 model, refitted here, and the pool it queried (rows of X in order).
    model = LogisticRegression(max_iter=500).fit(X[initial], y[initial])
    pool = np.setdiff1d(np.arange(len(y)), initial)
    utilities = al.scores.margin(model.predict_proba(X[pool]))
    q = softmax_probability_of_sequence(utilities, np.searchsorted(pool, picks), 0.2)
    N, M = len(y), 10
    ratios = np.concatenate([np.ones(6), 1.0 / ((len(pool) - np.arange(4)) * q)])
    m = np.arange(1, M + 1)
    expected = 1.0 + (N - M) / (N - m) * (ratios - 1.0)
    assert np.allclose(Recording.fits[-1], expected)
    assert not np.allclose(expected, 1.0)


def test_weights_reach_a_pipeline_and_unweightable_models_fail_early():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, X_test, y_test = blobs()
    res = al.simulate(
        make_pipeline(StandardScaler(), LogisticRegression()),
        "random",
        X,
        y,
        X_test,
        y_test,
        initial=6,
        batch_size=4,
        budget=14,
        importance_weighting=True,
    )
    assert res.history[-1].n_labeled == 14
    with pytest.raises(TypeError, match="sample_weight"):
        al.simulate(
            KNeighborsClassifier(3), "random", X, y, X_test, y_test, importance_weighting=True
        )
