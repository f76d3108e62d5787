"""Batch selection: conditioning, gradients, distinct picks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.gaussian_process.kernels import ConstantKernel, Matern

from activelab.bayesopt import GPPosterior, q_expected_improvement
from activelab.bayesopt._batch import (
    METHOD_FUNCTIONS,
    Conditioned,
    GreedyQEI,
    PenalizedAcquisition,
    Problem,
    _acquisition_objective,
    lipschitz_constant,
    polish,
)

KERNEL = ConstantKernel(1.0) * Matern(length_scale=[0.25, 0.4], nu=2.5)


@pytest.fixture(scope="module")
def posterior():
    rng = np.random.default_rng(0)
    X = rng.random((20, 2))
    y = np.sin(5 * X[:, 0]) * np.cos(3 * X[:, 1])
    return GPPosterior(KERNEL, 1e-3, X, (y - y.mean()) / y.std())


def make_problem(posterior, acquisition="ei", continuous=True, n=200, seed=1):
    rng = np.random.default_rng(seed)
    return Problem(
        posterior=posterior,
        candidates=rng.random((n, 2)),
        continuous=continuous,
        acquisition=acquisition,
        best=float(posterior.y.min()),
        xi=0.0,
        beta=4.0,
        rng=rng,
        n_restarts=3,
        maxiter=20,
        n_samples=128,
    )


def numeric_gradient(function, A, h=1e-6):
    out = np.zeros(A.shape)
    for j in range(A.shape[1]):
        shift = np.zeros(A.shape[1])
        shift[j] = h
        out[:, j] = (function(A + shift)[0] - function(A - shift)[0]) / (2 * h)
    return out


def test_fantasised_variance_equals_a_gp_refitted_with_the_fantasies(posterior):
    rng = np.random.default_rng(2)
    C = rng.random((30, 2))
    S = rng.random((3, 2))
    conditioned = Conditioned(posterior, C, noise=posterior.noise)
    for x in S:
        conditioned.add(x)
    mean_S, _, _ = posterior.predict(S)
    refitted = GPPosterior(
        KERNEL,
        posterior.noise,
        np.vstack([posterior.X, S]),
        np.concatenate([posterior.y, mean_S]),
    )
    mean, var, _ = refitted.predict(C)
    np.testing.assert_allclose(conditioned.resid_C, var, atol=1e-8)
    np.testing.assert_allclose(conditioned.mean_C, mean, atol=1e-8)  # the believer's mean
    np.testing.assert_allclose(conditioned.with_gradient(C)["var"], var, atol=1e-8)


def test_noise_free_conditioning_is_the_schur_complement(posterior):
    rng = np.random.default_rng(3)
    C = rng.random((10, 2))
    S = rng.random((2, 2))
    conditioned = Conditioned(posterior, C, noise=0.0)
    for x in S:
        conditioned.add(x)
    points = np.vstack([S, C])
    _, _, V = posterior.predict(points)
    joint = posterior.covariance(points, points, V, V)
    schur = joint[2:, 2:] - joint[2:, :2] @ np.linalg.solve(joint[:2, :2], joint[:2, 2:])
    np.testing.assert_allclose(conditioned.resid_C, np.diag(schur), atol=1e-6)


@pytest.mark.parametrize("acquisition", ["ei", "pi", "ucb"])
def test_objective_gradients_match_finite_differences(posterior, acquisition):
    problem = make_problem(posterior, acquisition)
    A = np.random.default_rng(4).random((4, 2))
    conditioned = Conditioned(posterior, problem.candidates, posterior.noise)
    conditioned.add(np.array([0.5, 0.5]))
    objective = _acquisition_objective(problem, conditioned, problem.best)
    np.testing.assert_allclose(objective(A)[1], numeric_gradient(objective, A), atol=1e-5)
    penalized = PenalizedAcquisition(problem)
    penalized.add(np.array([0.2, 0.7]))
    penalized.add(np.array([0.8, 0.1]))
    np.testing.assert_allclose(
        penalized.objective(A)[1], numeric_gradient(penalized.objective, A), rtol=1e-4, atol=1e-5
    )


def test_qei_objective_gradient_and_candidate_values(posterior):
    problem = make_problem(posterior)
    state = GreedyQEI(problem)
    state.add(problem.candidates[0], 0)
    order = np.array([5, 6, 7])
    objective = state.objective_for(order)
    best_rows = np.argsort(posterior.y)[:3]
    A = np.clip(posterior.X[best_rows] + 0.03, 0, 1)
    value, gradient = objective(A)
    assert value.max() > 0
    np.testing.assert_allclose(gradient, numeric_gradient(objective, A), atol=1e-6)
    # at the candidates themselves the objective equals the incremental values
    np.testing.assert_allclose(
        state.objective(problem.candidates[order], state.Z_C[:, order])[0],
        state.candidate_values()[order],
        atol=1e-10,
    )


def test_greedy_qei_values_are_monte_carlo_qei_of_joint_samples(posterior):
    problem = make_problem(posterior, n=40)
    state = GreedyQEI(problem)
    state.add(problem.candidates[3], 3)
    state.add(problem.candidates[9], 9)
    # reference: sample the joint posterior of (x3, x9, c) with a Cholesky factor and the
    # same base samples, in the same order
    C = problem.candidates
    for c in (0, 17):
        points = C[[3, 9, c]]
        mean, _, V = posterior.predict(points)
        L = np.linalg.cholesky(posterior.covariance(points, points, V, V) + 1e-9 * np.eye(3))
        Z = state.Z_C[:, [3, 9, c]]
        samples = mean + Z @ L.T
        assert state.candidate_values()[c] == pytest.approx(
            q_expected_improvement(samples, problem.best), abs=1e-6
        )


def test_lipschitz_constant_bounds_the_mean_slope(posterior):
    rng = np.random.default_rng(5)
    C = rng.random((300, 2))
    L_box = lipschitz_constant(posterior, C, continuous=True)
    L_lib = lipschitz_constant(posterior, C, continuous=False)
    mean, _, _ = posterior.predict(C)
    a, b = rng.integers(300, size=(2, 500))
    keep = a != b
    slopes = np.abs(mean[a] - mean[b])[keep] / np.linalg.norm(C[a] - C[b], axis=1)[keep]
    assert L_lib >= slopes.max() * 0.999
    assert L_box > 0.5 * slopes.max()


@pytest.mark.parametrize("method", sorted(METHOD_FUNCTIONS))
@pytest.mark.parametrize("continuous", [True, False])
def test_every_method_gives_distinct_points_in_the_box(posterior, method, continuous):
    problem = make_problem(posterior, "thompson" if method == "thompson" else "ei", continuous)
    X, index = METHOD_FUNCTIONS[method](problem, 8)
    assert X.shape == (8, 2)
    assert ((X >= 0) & (X <= 1)).all()
    distances = np.linalg.norm(X[:, None] - X[None, :], axis=2) + np.eye(8)
    assert distances.min() > 1e-6
    if not continuous:
        assert len(set(index.tolist())) == 8
        np.testing.assert_array_equal(X, problem.candidates[index])


def test_polish_improves_a_smooth_objective():
    def objective(A):
        return -np.sum((A - 0.3) ** 2, axis=1), -2 * (A - 0.3)

    starts = np.array([[0.9, 0.9], [0.0, 1.0]])
    x, value, _ = polish(objective, starts, maxiter=50)
    np.testing.assert_allclose(x, [0.3, 0.3], atol=1e-5)
    assert value == pytest.approx(0.0, abs=1e-9)
