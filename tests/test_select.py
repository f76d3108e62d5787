"""Batch selectors: top_k, stochastic_batch and sample.

top_k is checked against a plain argsort on tie-free input and for its random tie-breaking
on tied input; stochastic_batch for its limits (tiny and huge temperature) and for the
Plackett–Luce first-draw probabilities of each mode, with seeded frequency checks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from activelab.select import SAMPLING_MODES, sample, stochastic_batch, top_k

SETTINGS = settings(max_examples=50, deadline=None)
STOCHASTIC_MODES = ("softmax", "power", "softrank")

# Scores with many duplicates, so that ties at the boundary are common.
TIED_SCORES = st.integers(1, 40).flatmap(
    lambda n: arrays(np.float64, n, elements=st.sampled_from([-2.0, 0.0, 0.25, 0.5, 1.0, 3.0]))
)
ANY_SCORES = st.integers(1, 40).flatmap(
    lambda n: arrays(np.float64, n, elements=st.floats(-1e6, 1e6, allow_subnormal=False))
)


def reference_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Plain reference for tie-free scores: the k largest, highest first."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]


def assert_valid_batch(batch: np.ndarray, n: int, k: int) -> None:
    assert isinstance(batch, np.ndarray)
    assert batch.dtype == np.int64
    assert batch.shape == (k,)
    assert np.unique(batch).shape == (k,)
    assert batch.min() >= 0
    assert batch.max() < n


# ---------------------------------------------------------------------------------------
# top_k
# ---------------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_top_k_is_a_top_batch_sorted_descending(data):
    scores = data.draw(st.one_of(TIED_SCORES, ANY_SCORES))
    k = data.draw(st.integers(1, scores.shape[0]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    batch = top_k(scores, k, random_state=seed)
    assert_valid_batch(batch, scores.shape[0], k)
    chosen = scores[batch]
    assert np.all(np.diff(chosen) <= 0), "not highest first"
    rest = np.delete(scores, batch)
    if rest.size:
        assert chosen.min() >= rest.max(), "a left-out item scores higher than a chosen one"
    np.testing.assert_array_equal(top_k(scores, k, random_state=seed), batch)


@SETTINGS
@given(data=st.data())
def test_top_k_matches_argsort_without_ties(data):
    scores = data.draw(
        st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=60, unique=True).map(np.array)
    )
    k = data.draw(st.integers(1, scores.shape[0]))
    np.testing.assert_array_equal(top_k(scores, k), reference_top_k(scores, k))


def test_top_k_docstring_example_and_input_types():
    np.testing.assert_array_equal(top_k([0.1, 0.9, 0.5, 0.7], 2), [1, 3])
    np.testing.assert_array_equal(top_k(np.array([3, 1, 2]), 2), [0, 2])  # integer scores
    np.testing.assert_array_equal(top_k(np.array([0.1, 0.2], dtype=np.float32), 1), [1])
    np.testing.assert_array_equal(top_k([0.3], 1), [0])


def test_top_k_ties_at_the_boundary_are_random_and_reproducible():
    scores = np.array([5.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0, 3.0])
    tied = {1, 2, 3, 4, 5, 7}
    counts = dict.fromkeys(tied, 0)
    outcomes = set()
    for seed in range(300):
        batch = top_k(scores, 3, random_state=seed)
        assert batch[0] == 0
        assert set(batch[1:]) <= tied
        for index in batch[1:]:
            counts[int(index)] += 1
        outcomes.add(tuple(batch))
        np.testing.assert_array_equal(top_k(scores, 3, random_state=seed), batch)
        np.testing.assert_array_equal(
            top_k(scores, 3, np.random.default_rng(seed)),
            top_k(scores, 3, np.random.default_rng(seed)),
        )
    # Every tied item is chosen sometimes: 600 picks over 6 items, about 100 each.
    assert min(counts.values()) > 50, counts
    assert len(outcomes) > 10


@pytest.mark.parametrize(
    ("scores", "k", "sure", "tied"),
    [
        ([5.0, 3.0, 3.0, 1.0], 2, {0}, {1, 2}),  # as many ties as k: no overflow
        ([3.0, 9.0, 3.0, 3.0, 9.0, 0.0], 3, {1, 4}, {0, 2, 3}),
        ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 2, set(), set(range(7))),
    ],
)
def test_top_k_every_tied_item_is_chosen_sometimes(scores, k, sure, tied):
    counts = dict.fromkeys(tied, 0)
    for seed in range(200):
        batch = top_k(np.array(scores), k, random_state=seed)
        assert sure <= set(batch)
        for index in set(batch) - sure:
            assert index in tied
            counts[int(index)] += 1
    assert min(counts.values()) > 10, counts


def test_top_k_all_tied_order_is_random():
    """Equal scores are not returned in index order: the first item varies with the seed."""
    scores = np.zeros(5)
    firsts = {int(top_k(scores, 5, random_state=seed)[0]) for seed in range(100)}
    assert firsts == set(range(5))
    for seed in range(20):
        np.testing.assert_array_equal(np.sort(top_k(scores, 5, random_state=seed)), np.arange(5))


def test_top_k_tie_spreads_between_first_and_last_items():
    """A tie between the first and the last item of a large pool goes either way."""
    scores = np.zeros(1000)
    scores[[0, 999]] = 1.0
    chosen = {int(top_k(scores, 1, random_state=seed)[0]) for seed in range(40)}
    assert chosen == {0, 999}


def test_top_k_k_equals_n():
    scores = np.array([0.3, 0.1, 0.9, 0.5])
    np.testing.assert_array_equal(top_k(scores, 4), [2, 3, 0, 1])


@pytest.mark.parametrize("k", [0, -1, 6, 100])
def test_top_k_rejects_k_out_of_range(k):
    with pytest.raises(ValueError, match=rf"k(=| must be at least 1; got ){k}"):
        top_k(np.arange(5.0), k)


@pytest.mark.parametrize("k", [2.0, "2", True, None, np.float64(1.0)])
def test_top_k_rejects_non_int_k(k):
    with pytest.raises(TypeError, match="k must be an int"):
        top_k(np.arange(5.0), k)


def test_top_k_accepts_numpy_int_k():
    np.testing.assert_array_equal(top_k(np.arange(5.0), np.int64(2)), [4, 3])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_top_k_rejects_non_finite_scores(bad):
    scores = np.array([0.1, 0.2, bad, 0.4])
    with pytest.raises(ValueError, match=r"scores\[2\]"):
        top_k(scores, 1)


@pytest.mark.parametrize(
    "scores",
    [np.zeros((3, 2)), np.array(0.5), np.array(["a", "b"]), np.array([1 + 1j, 2j])],
)
def test_top_k_rejects_bad_score_arrays(scores):
    with pytest.raises(ValueError, match="scores"):
        top_k(scores, 1)


def test_top_k_does_not_modify_scores():
    scores = np.array([0.3, 0.1, 0.9, 0.5, 0.9])
    before = scores.copy()
    top_k(scores, 3, random_state=0)
    np.testing.assert_array_equal(scores, before)


# ---------------------------------------------------------------------------------------
# stochastic_batch
# ---------------------------------------------------------------------------------------


@SETTINGS
@given(
    scores=st.integers(1, 40).flatmap(
        lambda n: arrays(np.float64, n, elements=st.floats(0, 10, allow_subnormal=False))
    ),
    mode=st.sampled_from(STOCHASTIC_MODES),
    temperature=st.floats(0.01, 100),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_stochastic_batch_valid_and_reproducible(scores, mode, temperature, seed, data):
    k = data.draw(st.integers(1, scores.shape[0]))
    batch = stochastic_batch(scores, k, mode, temperature, random_state=seed)
    assert_valid_batch(batch, scores.shape[0], k)
    again = stochastic_batch(scores, k, mode, temperature, random_state=seed)
    np.testing.assert_array_equal(again, batch)
    via_generator = stochastic_batch(scores, k, mode, temperature, np.random.default_rng(seed))
    np.testing.assert_array_equal(
        stochastic_batch(scores, k, mode, temperature, np.random.default_rng(seed)),
        via_generator,
    )


@pytest.mark.parametrize("mode", STOCHASTIC_MODES)
def test_stochastic_batch_varies_with_seed(mode):
    scores = np.linspace(0.1, 1.0, 20)
    batches = {tuple(stochastic_batch(scores, 5, mode, random_state=seed)) for seed in range(20)}
    assert len(batches) > 5


@pytest.mark.parametrize("mode", STOCHASTIC_MODES)
@pytest.mark.parametrize("seed", range(5))
def test_stochastic_batch_tiny_temperature_is_top_k(mode, seed):
    rng = np.random.default_rng(seed)
    scores = rng.permutation(np.linspace(0.05, 1.0, 30))  # tie-free, well separated
    for k in (1, 5, 30):
        batch = stochastic_batch(scores, k, mode, temperature=1e-6, random_state=seed)
        np.testing.assert_array_equal(batch, reference_top_k(scores, k))
        np.testing.assert_array_equal(batch, top_k(scores, k))


def chi_square(counts: np.ndarray, expected: np.ndarray) -> float:
    return float(np.sum((counts - expected) ** 2 / expected))


@pytest.mark.parametrize("mode", STOCHASTIC_MODES)
def test_stochastic_batch_huge_temperature_is_near_uniform(mode):
    scores = np.array([0.01, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 9.0])
    rng = np.random.default_rng(1234)
    draws = 4000
    counts = np.zeros(scores.shape[0])
    for _ in range(draws):
        counts[stochastic_batch(scores, 1, mode, temperature=1e6, random_state=rng)[0]] += 1
    expected = np.full(scores.shape[0], draws / scores.shape[0])
    # 7 degrees of freedom: mean 7, P(> 35) < 1e-5. A top-k-like draw gives thousands.
    assert chi_square(counts, expected) < 35, counts


def first_draw_probabilities(scores: np.ndarray, mode: str, temperature: float) -> np.ndarray:
    """Plain reference: the probability of each item being drawn first."""
    if mode == "softmax":
        weights = np.exp((scores - scores.max()) / temperature)
    elif mode == "power":
        weights = scores ** (1.0 / temperature)
    else:
        ranks = np.empty(scores.shape[0])
        ranks[np.argsort(-scores)] = np.arange(1, scores.shape[0] + 1)
        weights = ranks ** (-1.0 / temperature)
    return weights / weights.sum()


@pytest.mark.parametrize("mode", STOCHASTIC_MODES)
@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_stochastic_batch_first_draw_follows_the_mode_weights(mode, temperature):
    scores = np.array([0.2, 1.5, 0.7, 1.0, 0.4])  # tie-free, so softrank ranks are fixed
    expected = first_draw_probabilities(scores, mode, temperature)
    rng = np.random.default_rng(99)
    draws = 3000
    counts = np.zeros(scores.shape[0])
    for _ in range(draws):
        counts[stochastic_batch(scores, 1, mode, temperature, random_state=rng)[0]] += 1
    np.testing.assert_allclose(counts / draws, expected, atol=0.035)
    assert chi_square(counts, expected * draws) < 30, (counts, expected * draws)


def test_power_draws_zero_scores_only_when_nothing_else_is_left():
    scores = np.array([0.0, 0.5, 0.0, 2.0, 1.0, 0.0])
    positive = {1, 3, 4}
    for seed in range(30):
        assert set(stochastic_batch(scores, 3, "power", random_state=seed)) == positive
        batch = stochastic_batch(scores, 5, "power", random_state=seed)
        assert set(batch[:3]) == positive
        assert set(batch[3:]) <= {0, 2, 5}


def test_power_rejects_negative_scores():
    with pytest.raises(ValueError, match=r"non-negative scores; scores\[2\] = -0.1"):
        stochastic_batch(np.array([0.5, 0.2, -0.1, -3.0]), 2, "power", random_state=0)


@pytest.mark.parametrize("mode", ["softmax", "softrank"])
def test_signed_scores_allowed_outside_power(mode):
    batch = stochastic_batch(np.array([-5.0, -1.0, 2.0, -0.5]), 2, mode, random_state=0)
    assert_valid_batch(batch, 4, 2)


@pytest.mark.parametrize("mode", ["top", "uniform", "", None, "SOFTMAX"])
def test_stochastic_batch_rejects_unknown_mode(mode):
    with pytest.raises(ValueError, match="mode must be one of"):
        stochastic_batch(np.arange(5.0), 2, mode, random_state=0)


@pytest.mark.parametrize("temperature", [0.0, -1.0, np.nan, np.inf, -np.inf])
def test_stochastic_batch_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        stochastic_batch(np.arange(5.0), 2, "softmax", temperature, random_state=0)


@pytest.mark.parametrize("mode", STOCHASTIC_MODES)
def test_stochastic_batch_validates_k_and_scores(mode):
    with pytest.raises(ValueError, match="larger than the pool"):
        stochastic_batch(np.arange(3.0), 4, mode, random_state=0)
    with pytest.raises(ValueError, match="at least 1"):
        stochastic_batch(np.arange(3.0), 0, mode, random_state=0)
    with pytest.raises(TypeError, match="k must be an int"):
        stochastic_batch(np.arange(3.0), 1.5, mode, random_state=0)
    with pytest.raises(ValueError, match=r"scores\[1\]"):
        stochastic_batch(np.array([0.5, np.nan, 0.2]), 1, mode, random_state=0)


# ---------------------------------------------------------------------------------------
# sample
# ---------------------------------------------------------------------------------------


def test_sampling_modes():
    assert SAMPLING_MODES == ("top", "softmax", "power", "softrank")


@SETTINGS
@given(scores=TIED_SCORES, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_sample_top_equals_top_k(scores, seed, data):
    k = data.draw(st.integers(1, scores.shape[0]))
    np.testing.assert_array_equal(
        sample(scores, k, sampling="top", random_state=seed), top_k(scores, k, random_state=seed)
    )


@pytest.mark.parametrize("mode", STOCHASTIC_MODES)
def test_sample_stochastic_equals_stochastic_batch(mode):
    scores = np.linspace(0.0, 1.0, 12)
    for seed in range(5):
        np.testing.assert_array_equal(
            sample(scores, 4, sampling=mode, temperature=0.3, random_state=seed),
            stochastic_batch(scores, 4, mode, 0.3, random_state=seed),
        )


def test_sample_default_is_top():
    np.testing.assert_array_equal(sample([0.2, 0.8, 0.5], 1), [1])


@pytest.mark.parametrize("sampling", ["best", "", None])
def test_sample_rejects_unknown_sampling(sampling):
    with pytest.raises(ValueError, match="sampling must be one of"):
        sample(np.arange(4.0), 1, sampling=sampling)
