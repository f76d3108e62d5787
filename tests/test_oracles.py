"""Simulated oracles: perfect answers, seeded skips, uniform and class-dependent label noise.

Frequencies are checked over many seeded queries with loose bounds (several standard
errors), so the tests are deterministic and still catch a wrong noise model.
"""

from __future__ import annotations

import numpy as np
import pytest

from activelab.oracles import Answers, NoisyOracle, Oracle, SimulatedOracle


def answer_rates(true, given, classes) -> np.ndarray:
    """Row i, column j: the share of items of true class classes[i] answered classes[j]."""
    rates = np.zeros((len(classes), len(classes)))
    for i, c in enumerate(classes):
        mask = true == c
        for j, d in enumerate(classes):
            rates[i, j] = np.mean(given[mask] == d)
    return rates


# ---------------------------------------------------------------------------------------
# SimulatedOracle
# ---------------------------------------------------------------------------------------


def test_simulated_oracle_returns_true_labels_in_order():
    y = np.array(["a", "b", "c", "d", "e"])
    oracle = SimulatedOracle(y)
    query = np.array([3, 0, 4, 1])
    answers = oracle.label(query)
    assert isinstance(answers, Answers)
    np.testing.assert_array_equal(answers.indices, query)
    np.testing.assert_array_equal(answers.labels, y[query])
    assert answers.skipped.shape == (0,)
    assert answers.skipped.dtype == np.int64


def test_simulated_oracle_accepts_lists_and_empty_queries():
    oracle = SimulatedOracle([10, 20, 30])
    np.testing.assert_array_equal(oracle.label([2, 2, 0]).labels, [30, 30, 10])
    empty = oracle.label(np.array([], dtype=np.int64))
    assert empty.indices.shape == (0,)
    assert empty.labels.shape == (0,)


def test_simulated_oracle_is_an_oracle():
    assert isinstance(SimulatedOracle([0, 1]), Oracle)
    assert isinstance(NoisyOracle([0, 1]), Oracle)


def test_skip_rate_skips_reproducibly_and_returns_skipped_indices():
    y = np.arange(2000) % 7
    query = np.random.default_rng(5).permutation(2000)
    answers = SimulatedOracle(y, skip_rate=0.3, random_state=42).label(query)
    again = SimulatedOracle(y, skip_rate=0.3, random_state=42).label(query)
    np.testing.assert_array_equal(answers.indices, again.indices)
    np.testing.assert_array_equal(answers.skipped, again.skipped)
    other = SimulatedOracle(y, skip_rate=0.3, random_state=43).label(query)
    assert not np.array_equal(answers.skipped, other.skipped)

    # Answered and skipped split the query, each in the order asked.
    assert np.intersect1d(answers.indices, answers.skipped).size == 0
    np.testing.assert_array_equal(
        np.sort(np.concatenate([answers.indices, answers.skipped])), np.arange(2000)
    )
    position = np.empty(2000, dtype=np.int64)
    position[query] = np.arange(2000)
    assert np.all(np.diff(position[answers.indices]) > 0)
    assert np.all(np.diff(position[answers.skipped]) > 0)
    np.testing.assert_array_equal(answers.labels, y[answers.indices])
    # About 30% skipped: sd of the share is ~0.01.
    assert abs(answers.skipped.size / 2000 - 0.3) < 0.05


def test_skip_rate_zero_never_skips():
    answers = SimulatedOracle(np.arange(500), skip_rate=0.0, random_state=0).label(np.arange(500))
    assert answers.skipped.size == 0
    assert answers.indices.size == 500


def test_skip_state_advances_between_queries():
    oracle = SimulatedOracle(np.arange(1000), skip_rate=0.5, random_state=0)
    first = oracle.label(np.arange(1000)).skipped
    second = oracle.label(np.arange(1000)).skipped
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("skip_rate", [-0.1, 1.0, 1.5])
def test_skip_rate_must_be_in_unit_interval(skip_rate):
    with pytest.raises(ValueError, match="skip_rate"):
        SimulatedOracle([0, 1], skip_rate=skip_rate)


def test_y_must_be_one_dimensional():
    with pytest.raises(ValueError, match="1-D"):
        SimulatedOracle(np.zeros((3, 2)))


@pytest.mark.parametrize("oracle_class", [SimulatedOracle, NoisyOracle])
@pytest.mark.parametrize("index", [3, 10, -1])
def test_index_out_of_range_raises(oracle_class, index):
    oracle = oracle_class([0, 1, 0])
    with pytest.raises(IndexError, match=rf"knows 3 items; asked for index {index}"):
        oracle.label(np.array([0, index]))


@pytest.mark.parametrize("oracle_class", [SimulatedOracle, NoisyOracle])
def test_non_integer_index_raises(oracle_class):
    """1.7 is not an index: it must not be truncated silently to item 1."""
    oracle = oracle_class([0, 1, 0])
    with pytest.raises((IndexError, TypeError, ValueError)):
        oracle.label(np.array([1.7]))


def test_answers_length_mismatch_raises():
    with pytest.raises(ValueError, match="2 labels for 3 indices"):
        Answers(np.array([0, 1, 2]), np.array([0, 1]))


# ---------------------------------------------------------------------------------------
# NoisyOracle
# ---------------------------------------------------------------------------------------


def test_noise_zero_is_perfect():
    y = np.random.default_rng(0).integers(0, 4, size=3000)
    answers = NoisyOracle(y, noise=0.0, random_state=0).label(np.arange(3000))
    np.testing.assert_array_equal(answers.labels, y)


@pytest.mark.parametrize("noise", [0.1, 0.3, 0.6])
@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_uniform_noise_flip_rate_and_targets(noise, n_classes):
    n = 12000
    y = np.arange(n) % n_classes
    given = NoisyOracle(y, noise=noise, random_state=7).label(np.arange(n)).labels
    flipped = given != y
    # The flip rate is `noise` itself (the answer is one of the *other* classes), not
    # noise * (C - 1) / C. Standard error of the share is below 0.005.
    assert abs(flipped.mean() - noise) < 0.02
    # Flips land uniformly on the other classes.
    rates = answer_rates(y, given, np.arange(n_classes))
    expected = np.full((n_classes, n_classes), noise / (n_classes - 1))
    np.fill_diagonal(expected, 1 - noise)
    np.testing.assert_allclose(rates, expected, atol=0.03)


def test_noise_one_always_flips():
    y = np.arange(3000) % 3
    given = NoisyOracle(y, noise=1.0, random_state=1).label(np.arange(3000)).labels
    assert np.all(given != y)
    np.testing.assert_array_equal(
        NoisyOracle([0, 1, 1, 0], noise=1.0, random_state=0).label(np.array([0, 1])).labels,
        [1, 0],
    )


def test_noise_is_reproducible_under_a_seed():
    y = np.arange(1000) % 4
    first = NoisyOracle(y, noise=0.4, random_state=3).label(np.arange(1000)).labels
    second = NoisyOracle(y, noise=0.4, random_state=3).label(np.arange(1000)).labels
    third = NoisyOracle(y, noise=0.4, random_state=4).label(np.arange(1000)).labels
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


def test_class_dependent_noise_matches_the_transition_matrix():
    transition = np.array([[0.7, 0.2, 0.1], [0.05, 0.9, 0.05], [0.3, 0.3, 0.4]])
    n = 15000
    y = np.arange(n) % 3
    oracle = NoisyOracle(y, transition=transition, random_state=11)
    given = oracle.label(np.arange(n)).labels
    np.testing.assert_allclose(answer_rates(y, given, [0, 1, 2]), transition, atol=0.03)
    np.testing.assert_array_equal(oracle.transition, transition)


def test_zero_entries_of_the_transition_matrix_are_never_answered():
    transition = np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 0.6, 0.4]])
    y = np.arange(6000) % 3
    given = NoisyOracle(y, transition=transition, random_state=2).label(np.arange(6000)).labels
    rates = answer_rates(y, given, [0, 1, 2])
    assert np.all(rates[transition == 0] == 0)
    np.testing.assert_allclose(rates, transition, atol=0.03)


def test_unsorted_classes_follow_the_given_order():
    classes = ["c", "a", "b"]
    # In the order of `classes`: c -> a, a -> b, b -> c, always.
    cycle = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    y = np.array(["a", "b", "c", "a", "c", "b"])
    oracle = NoisyOracle(y, transition=cycle, classes=classes, random_state=0)
    np.testing.assert_array_equal(oracle.label(np.arange(6)).labels, ["b", "c", "a", "b", "a", "c"])

    transition = np.array([[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]])
    n = 12000
    y = np.array(classes)[np.arange(n) % 3]
    given = (
        NoisyOracle(y, transition=transition, classes=classes, random_state=9)
        .label(np.arange(n))
        .labels
    )
    np.testing.assert_allclose(answer_rates(y, given, classes), transition, atol=0.03)


def test_unsorted_integer_classes_with_uniform_noise():
    y = np.arange(6000) % 3
    given = (
        NoisyOracle(y, noise=0.3, classes=[2, 0, 1], random_state=4).label(np.arange(6000)).labels
    )
    assert set(np.unique(given)) <= {0, 1, 2}
    assert abs(np.mean(given != y) - 0.3) < 0.03


def test_noisy_oracle_with_skips():
    y = np.arange(4000) % 2
    answers = NoisyOracle(y, noise=0.0, skip_rate=0.25, random_state=0).label(np.arange(4000))
    assert abs(answers.skipped.size / 4000 - 0.25) < 0.03
    np.testing.assert_array_equal(answers.labels, y[answers.indices])


@pytest.mark.parametrize("noise", [-0.1, 1.1, np.nan])
def test_invalid_noise_raises(noise):
    with pytest.raises(ValueError, match=r"noise must be in \[0, 1\]"):
        NoisyOracle([0, 1, 2], noise=noise)


@pytest.mark.parametrize(
    ("transition", "message"),
    [
        (np.eye(2), r"transition must be \(3, 3\)"),
        (np.eye(4), r"transition must be \(3, 3\)"),
        (np.ones(3) / 3, r"transition must be \(3, 3\)"),
        (np.array([[1.2, -0.2, 0.0], [0, 1, 0], [0, 0, 1]]), "summing to 1"),
        (np.array([[0.5, 0.2, 0.2], [0, 1, 0], [0, 0, 1]]), "summing to 1"),
        (np.full((3, 3), 0.5), "summing to 1"),
    ],
)
def test_invalid_transition_raises(transition, message):
    with pytest.raises(ValueError, match=message):
        NoisyOracle([0, 1, 2], transition=transition)


def test_classes_must_cover_y_and_have_two_labels():
    with pytest.raises(ValueError, match=r"labels \[3\] that are not in classes"):
        NoisyOracle([0, 1, 3], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="at least 2 classes"):
        NoisyOracle([1, 1, 1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        NoisyOracle([0, 0], classes=[0])
