"""Simulated crowds, IEThresh (interval estimates as scikit-activeml computes them),
repeated labelling of contested items, aggregation, and simulate's clean accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import t as student_t
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import activelab as al
from activelab.oracles import (
    IEThresh,
    MultiAnnotatorOracle,
    NoisyOracle,
    RecordingOracle,
    SimulatedOracle,
    interval_estimates,
    simulated_annotators,
)


def reference_interval(rewards, alpha):
    """scikit-activeml's IntervalEstimationAnnotModel, for one annotator's 0/1 rewards."""
    observed = np.concatenate([rewards, [0, 1]])
    mean, std = observed.mean(), observed.std()
    half = student_t.isf(alpha / 2, observed.size - 1) * std / np.sqrt(observed.size)
    return mean - half, mean, mean + half


@given(st.lists(st.booleans(), max_size=60), st.floats(0.01, 0.5))
@settings(max_examples=60, deadline=None)
def test_interval_estimates_match_scikit_activeml(rewards, alpha):
    rewards = np.array(rewards, dtype=float)
    lower, mean, upper = interval_estimates([rewards.sum()], [rewards.size], alpha)
    expected = reference_interval(rewards, alpha)
    np.testing.assert_allclose([lower[0], mean[0], upper[0]], expected, rtol=1e-10, atol=1e-12)


def test_iethresh_threshold_is_relative_to_the_best_upper_bound():
    agree, asked = np.array([45, 30, 44, 5]), np.array([50, 50, 50, 6])
    upper = interval_estimates(agree, asked)[2]
    for epsilon in (0.0, 0.5, 0.9, 1.0):
        chosen = IEThresh(epsilon=epsilon).choose(agree, asked)
        np.testing.assert_array_equal(chosen, upper >= epsilon * upper.max() - 1e-12)
    assert IEThresh(epsilon=0.0).choose(agree, asked).all()
    assert IEThresh(epsilon=1.0).choose(agree, asked).sum() == 1


@pytest.mark.parametrize("seed", range(5))
def test_iethresh_picks_the_better_annotator(seed):
    y = np.arange(600) % 3
    crowd = simulated_annotators(y, accuracies=[0.95, 0.6, 0.55, 0.5], random_state=seed)
    oracle = MultiAnnotatorOracle(crowd, selection=IEThresh(epsilon=0.8), random_state=seed)
    for start in range(0, 600, 10):
        oracle.label(np.arange(start, start + 10))
    # The accurate annotator is asked about every item and looks best; the others are
    # dropped now and then, so fewer labels are bought than asking everyone.
    assert oracle.n_asked_[0] == 600
    upper = oracle.selection.upper(oracle.n_agree_, oracle.n_compared_)
    assert np.argmax(upper) == 0
    assert oracle.n_asked_.sum() < 4 * 600


def test_a_strict_iethresh_ends_up_asking_only_the_best():
    y = np.arange(600) % 3
    crowd = simulated_annotators(y, accuracies=[0.95, 0.6, 0.55, 0.5], random_state=0)
    oracle = MultiAnnotatorOracle(crowd, selection=IEThresh(epsilon=0.9), random_state=0)
    for start in range(0, 600, 10):
        oracle.label(np.arange(start, start + 10))
    final = oracle.selection.choose(oracle.n_agree_, oracle.n_compared_)
    assert final.tolist() == [True, False, False, False]
    assert oracle.n_asked_[0] == 600 and np.all(oracle.n_asked_[1:] <= 150)
    # After the first choice settles, lone votes are not compared (no self-agreement).
    assert oracle.n_compared_[0] < oracle.n_asked_[0]


def test_simulated_annotators_follow_their_confusion_matrices():
    y = np.arange(9000) % 3
    confusions = np.array(
        [
            [[0.8, 0.1, 0.1], [0.0, 1.0, 0.0], [0.2, 0.2, 0.6]],
            [[1.0, 0.0, 0.0], [0.3, 0.4, 0.3], [0.0, 0.1, 0.9]],
        ]
    )
    crowd = simulated_annotators(y, confusions=confusions, random_state=1)
    for annotator, matrix in zip(crowd, confusions, strict=True):
        given_labels = annotator.label(np.arange(9000)).labels
        rates = np.array([[np.mean(given_labels[y == c] == d) for d in range(3)] for c in range(3)])
        np.testing.assert_allclose(rates, matrix, atol=0.03)
    # Different streams: two identical annotators do not make identical mistakes.
    twins = simulated_annotators(y, accuracies=[0.6, 0.6], random_state=2)
    first, second = (a.label(np.arange(9000)).labels for a in twins)
    assert np.mean(first != second) > 0.2


def test_all_annotators_and_majority_vote():
    y = np.arange(30) % 2
    crowd = simulated_annotators(y, accuracies=[1.0, 1.0, 0.0], random_state=0)
    oracle = MultiAnnotatorOracle(crowd, costs=[3.0, 2.0, 1.0])
    answers = oracle.label(np.arange(30))
    np.testing.assert_array_equal(answers.labels, y)
    np.testing.assert_allclose(answers.confidence, 2 / 3)
    assert answers.cost == oracle.total_cost == 30 * 6.0
    assert oracle.n_asked_.tolist() == oracle.n_compared_.tolist() == [30, 30, 30]
    assert oracle.n_agree_.tolist() == [30, 30, 0]
    items, votes = oracle.annotations()
    assert items.tolist() == list(range(30)) and votes.shape == (30, 3)


def test_random_selection_asks_n_per_item():
    y = np.arange(100) % 3
    crowd = simulated_annotators(y, accuracies=[0.9] * 5, random_state=0)
    oracle = MultiAnnotatorOracle(crowd, selection="random", n_per_item=2, random_state=0)
    oracle.label(np.arange(100))
    _, votes = oracle.annotations()
    assert np.all((votes >= 0).sum(axis=1) == 2)
    assert oracle.total_cost == 200.0
    assert np.all(oracle.n_asked_ > 20)  # spread over everyone


def test_repeated_labelling_asks_again_only_for_contested_items():
    y = np.arange(300) % 2
    crowd = simulated_annotators(y, accuracies=[0.75] * 5, random_state=3)
    oracle = MultiAnnotatorOracle(
        crowd, selection="random", repeat_threshold=0.2, max_labels=4, random_state=0
    )
    answers = oracle.label(np.arange(300))
    _, votes = oracle.annotations()
    n_labels = (votes >= 0).sum(axis=1)
    counts = np.stack([(votes == c).sum(axis=1) for c in (0, 1)], axis=1)
    # Settled items stopped at a consensus (label uncertainty <= 0.2); others at max_labels.
    settled = al.oracles.label_uncertainty(counts) <= 0.2
    assert np.all(settled | (n_labels == 4))
    # One vote (0.25) and a 2-1 split (0.31) are contested; 2-0 (0.125) and 3-1 (0.19) not.
    assert set(n_labels.tolist()) == {2, 4}
    single = MultiAnnotatorOracle(crowd, selection="random", random_state=0)
    single_answers = single.label(np.arange(300))
    # More labels on contested items give cleaner labels than one label each.
    assert np.mean(answers.labels == y) > np.mean(single_answers.labels == y) + 0.05


def test_dawid_skene_aggregation_in_the_oracle():
    y = np.arange(400) % 2
    good = [[0.95, 0.05], [0.05, 0.95]]
    spammer = [[0.9, 0.1], [0.8, 0.2]]  # mostly says 0
    crowd = simulated_annotators(
        y, confusions=[good, spammer, spammer, spammer, good], random_state=0
    )
    ds = MultiAnnotatorOracle(crowd, aggregate="dawid_skene", random_state=0)
    mv = MultiAnnotatorOracle(crowd, aggregate="majority", random_state=0)
    ds_answers, mv_answers = ds.label(np.arange(400)), mv.label(np.arange(400))
    assert np.mean(ds_answers.labels == y) > np.mean(mv_answers.labels == y) + 0.05
    assert np.all((ds_answers.confidence >= 0) & (ds_answers.confidence <= 1))


def test_skips_and_repeated_indices():
    y = np.array(["a", "b"] * 10)
    crowd = [SimulatedOracle(y, skip_rate=0.6, random_state=0), SimulatedOracle(y)]
    oracle = MultiAnnotatorOracle(crowd, classes=["a", "b"], selection=IEThresh(epsilon=1.0))
    answers = oracle.label(np.array([3, 3, 5]))
    assert answers.indices.tolist() == [3, 3, 5]
    assert answers.labels.tolist() == ["b", "b", "b"]
    lonely = MultiAnnotatorOracle(
        [SimulatedOracle(y, skip_rate=0.99, random_state=0)], classes=["a", "b"]
    )
    assert lonely.label(np.arange(20)).skipped.size > 15


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"selection": "best"}, "selection must be one of"),
        ({"aggregate": "mean"}, "aggregate must be one of"),
        ({"n_per_item": 4}, "n_per_item"),
        ({"repeat_threshold": 0.5}, "repeat_threshold"),
        ({"max_labels": 0}, "max_labels"),
        ({"costs": [1.0, -1.0, 1.0]}, "costs"),
    ],
)
def test_bad_multi_annotator_arguments(params, message):
    crowd = simulated_annotators([0, 1, 0], accuracies=[0.9, 0.8, 0.7], random_state=0)
    with pytest.raises(ValueError, match=message):
        MultiAnnotatorOracle(crowd, **params)


def test_answers_outside_the_classes_are_an_error():
    oracle = MultiAnnotatorOracle([SimulatedOracle(["a", "z"])], classes=["a", "b"])
    with pytest.raises(ValueError, match=r"answered \['z'\]"):
        oracle.label(np.array([0, 1]))


def test_simulated_annotators_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        simulated_annotators([0, 1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        simulated_annotators([0, 1], accuracies=[1.2])
    with pytest.raises(ValueError, match="n_annotators, C, C"):
        simulated_annotators([0, 1], confusions=np.eye(2))


def test_simulate_with_noisy_oracles_reports_clean_accuracy(iris):
    X, y = iris
    binary = y[y < 2]
    X = X[y < 2]
    X_train, X_test, y_train, y_test = train_test_split(X, binary, random_state=0, stratify=binary)
    # An annotator who always flips: the model learns the opposite of the truth.
    flipper = RecordingOracle(NoisyOracle(y_train, noise=1.0, random_state=0))
    result = al.simulate(
        LogisticRegression(max_iter=300),
        "margin",
        X_train,
        y_train,
        X_test,
        y_test,
        initial=6,
        batch_size=6,
        budget=30,
        oracle=flipper,
    )
    assert flipper.label_accuracy(y_train) == 0.0
    assert result.final["accuracy"] < 0.2  # measured on the clean test labels
    # Majority vote of a crowd mostly right recovers a good model.
    crowd = MultiAnnotatorOracle(
        simulated_annotators(y_train, accuracies=[0.9, 0.9, 0.9], random_state=0),
        random_state=0,
    )
    recorded = RecordingOracle(crowd)
    clean = al.simulate(
        LogisticRegression(max_iter=300),
        "margin",
        X_train,
        y_train,
        X_test,
        y_test,
        initial=6,
        batch_size=6,
        budget=30,
        oracle=recorded,
    )
    assert clean.final["accuracy"] > 0.9
    assert 0.8 < recorded.label_accuracy(y_train) <= 1.0
    assert recorded.total_cost == crowd.total_cost == 3 * 30
