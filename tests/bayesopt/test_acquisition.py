"""Closed-form acquisitions: reference values and invariants (hypothesis)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from activelab.bayesopt import (
    expected_improvement,
    probability_of_improvement,
    q_expected_improvement,
    ucb_beta,
    upper_confidence_bound,
)
from activelab.bayesopt._acquisition import utility_and_partials

means = st.floats(-1e3, 1e3, allow_nan=False)
stds = st.floats(0.0, 1e3, allow_nan=False)
positive_stds = st.floats(1e-3, 1e3, allow_nan=False)
# no deadline: the machine running the tests may be busy
SETTINGS = settings(max_examples=100, deadline=None)


def reference_ei(mean: float, std: float, best: float) -> float:
    """EI for minimisation, written out with math.erf."""
    delta = best - mean
    if std == 0:
        return max(delta, 0.0)
    z = delta / std
    cdf = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    pdf = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return delta * cdf + std * pdf


@SETTINGS
@given(mean=means, std=stds, best=means)
def test_ei_is_non_negative_and_at_least_the_mean_improvement(mean, std, best):
    value = expected_improvement([mean], [std], best)[0]
    assert value >= 0.0
    assert value >= max(best - mean, 0.0) - 1e-9 * (1 + abs(best - mean))


@SETTINGS
@given(
    mean=st.floats(-50, 50), shift=st.floats(1e-3, 50), std=positive_stds, best=st.floats(-50, 50)
)
def test_ei_decreases_with_the_mean_for_a_fixed_std(mean, shift, std, best):
    low, high = expected_improvement([mean, mean + shift], [std, std], best)
    assert low >= high - 1e-9 * max(1.0, abs(low))


@SETTINGS
@given(
    mean=st.floats(-50, 50),
    std=st.floats(1e-3, 50),
    grow=st.floats(1e-3, 50),
    best=st.floats(-50, 50),
)
def test_ei_increases_with_the_std_for_a_fixed_mean(mean, std, grow, best):
    narrow, wide = expected_improvement([mean, mean], [std, std + grow], best)
    assert wide >= narrow - 1e-9 * max(1.0, abs(wide))


@SETTINGS
@given(mean=st.floats(-20, 20), std=st.floats(0.0, 20), best=st.floats(-20, 20))
def test_ei_matches_the_written_out_formula(mean, std, best):
    value = expected_improvement([mean], [std], best)[0]
    assert value == pytest.approx(reference_ei(mean, std, best), rel=1e-9, abs=1e-12)


@SETTINGS
@given(mean=means, std=stds, best=means, xi=st.floats(0, 10))
def test_maximising_is_minimising_the_negation(mean, std, best, xi):
    assert expected_improvement([mean], [std], best, xi=xi, minimize=False)[0] == pytest.approx(
        expected_improvement([-mean], [std], -best, xi=xi)[0], rel=1e-12, abs=1e-12
    )
    assert probability_of_improvement([mean], [std], best, xi=xi, minimize=False)[
        0
    ] == pytest.approx(probability_of_improvement([-mean], [std], -best, xi=xi)[0])


@SETTINGS
@given(
    mean=arrays(np.float64, 8, elements=means),
    std=arrays(np.float64, 8, elements=stds),
    best=means,
)
def test_pi_is_a_probability(mean, std, best):
    value = probability_of_improvement(mean, std, best)
    assert ((value >= 0.0) & (value <= 1.0)).all()


@SETTINGS
@given(
    mean=st.floats(-50, 50), shift=st.floats(1e-3, 50), std=positive_stds, best=st.floats(-50, 50)
)
def test_pi_decreases_with_the_mean(mean, shift, std, best):
    low, high = probability_of_improvement([mean, mean + shift], [std, std], best)
    assert low >= high


def test_pi_reference_values_and_zero_std():
    assert probability_of_improvement([0.0], [1.0], 0.0)[0] == pytest.approx(0.5)
    assert probability_of_improvement([1.0], [1.0], 0.0)[0] == pytest.approx(0.158655254)
    assert probability_of_improvement([-1.0, 1.0, 0.0], [0.0, 0.0, 0.0], 0.0).tolist() == [
        1.0,
        0.0,
        0.0,
    ]
    # xi raises the bar
    assert probability_of_improvement([-1.0], [0.0], 0.0, xi=2.0)[0] == 0.0


@SETTINGS
@given(
    mean=arrays(np.float64, 5, elements=means),
    std=arrays(np.float64, 5, elements=stds),
    beta=st.floats(0, 100),
)
def test_ucb_is_mean_plus_root_beta_std(mean, std, beta):
    np.testing.assert_allclose(
        upper_confidence_bound(mean, std, beta, minimize=False), mean + np.sqrt(beta) * std
    )
    np.testing.assert_allclose(upper_confidence_bound(mean, std, beta), -mean + np.sqrt(beta) * std)


def test_ucb_beta_schedules():
    # Srinivas et al. 2010, Theorem 1 (finite D) and Brochu et al. 2010 (box)
    assert ucb_beta(3, n_candidates=50, delta=0.1) == pytest.approx(
        2 * math.log(50 * 9 * math.pi**2 / 0.6)
    )
    assert ucb_beta(4, dim=6, delta=0.05) == pytest.approx(
        2 * math.log(4 ** (6 / 2 + 2) * math.pi**2 / 0.15)
    )
    values = [ucb_beta(t, dim=2) for t in range(1, 20)]
    assert all(b > a for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"t": 0, "dim": 2}, "t must be"),
        ({"t": 1}, "exactly one"),
        ({"t": 1, "dim": 2, "n_candidates": 3}, "exactly one"),
        ({"t": 1, "dim": 2, "delta": 1.5}, "delta"),
        ({"t": 1, "n_candidates": 0}, "at least 1"),
        ({"t": 1, "dim": 0}, "dim must"),
    ],
)
def test_ucb_beta_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ucb_beta(**kwargs)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: expected_improvement([0.0, 1.0], [1.0], 0.0), "same shape"),
        (lambda: expected_improvement([0.0], [-1.0], 0.0), "non-negative"),
        (lambda: expected_improvement([np.nan], [1.0], 0.0), "finite"),
        (lambda: expected_improvement([0.0], [1.0], np.nan), "best"),
        (lambda: expected_improvement([0.0], [1.0], 0.0, xi=-1.0), "xi"),
        (lambda: probability_of_improvement([0.0], [np.inf], 0.0), "finite"),
        (lambda: upper_confidence_bound([0.0], [1.0], -1.0), "beta"),
    ],
)
def test_bad_input_is_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@settings(max_examples=50, deadline=None)
@given(mean=st.floats(-5, 5), std=st.floats(0.05, 5), best=st.floats(-5, 5))
def test_partials_match_finite_differences(mean, std, best):
    h = 1e-6
    for name in ("ei", "pi", "ucb"):
        _, d_mean, d_std = utility_and_partials(
            name, np.array([mean]), np.array([std]), best, 0.0, 3.0
        )
        up, _, _ = utility_and_partials(name, np.array([mean + h]), np.array([std]), best, 0.0, 3.0)
        down, _, _ = utility_and_partials(
            name, np.array([mean - h]), np.array([std]), best, 0.0, 3.0
        )
        assert d_mean[0] == pytest.approx((up[0] - down[0]) / (2 * h), abs=1e-5)
        up, _, _ = utility_and_partials(name, np.array([mean]), np.array([std + h]), best, 0.0, 3.0)
        down, _, _ = utility_and_partials(
            name, np.array([mean]), np.array([std - h]), best, 0.0, 3.0
        )
        assert d_std[0] == pytest.approx((up[0] - down[0]) / (2 * h), abs=1e-5)


def test_monte_carlo_qei_of_one_point_is_ei():
    rng = np.random.default_rng(0)
    mean, std, best = 0.3, 1.2, 0.5
    samples = mean + std * rng.standard_normal((400_000, 1))
    assert q_expected_improvement(samples, best) == pytest.approx(
        reference_ei(mean, std, best), rel=0.01
    )


def test_qei_of_a_batch_is_at_least_each_points_ei():
    rng = np.random.default_rng(1)
    samples = rng.standard_normal((20_000, 3)) + np.array([0.0, 0.5, 1.0])
    batch = q_expected_improvement(samples, 0.2)
    singles = [q_expected_improvement(samples[:, [j]], 0.2) for j in range(3)]
    assert batch >= max(singles)
    assert batch <= sum(singles) + 1e-12
