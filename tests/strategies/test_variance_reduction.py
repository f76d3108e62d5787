"""Variance reduction against the paper's formula evaluated candidate by candidate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from activelab.strategies import _variance_reduction
from activelab.strategies._variance_reduction import (
    VarianceReduction,
    fisher_information,
    variance_reduction,
)


def softmax_curvature(logits):
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return p[:, :, None] * (np.eye(p.shape[1]) - p[:, None, :])


def reference_total_variance(fisher, pool, curvature):
    """Σ_v tr(J_v F⁻¹ J_vᵀ) with J_v = A_v ⊗ ṽᵀ built explicitly (Schein & Ungar 2007)."""
    inverse = np.linalg.pinv(fisher, hermitian=True)
    total = 0.0
    for v, A in zip(pool, curvature, strict=True):
        J = np.kron(A, v[None, :])
        total += np.trace(J @ inverse @ J.T)
    return total


def reference_reduction(labeled, labeled_curv, pool, pool_curv, lam):
    fisher = sum(np.kron(A, np.outer(x, x)) for x, A in zip(labeled, labeled_curv, strict=True))
    fisher = fisher + lam * np.eye(fisher.shape[0])
    before = reference_total_variance(fisher, pool, pool_curv)
    return np.array(
        [
            before - reference_total_variance(fisher + np.kron(A, np.outer(x, x)), pool, pool_curv)
            for x, A in zip(pool, pool_curv, strict=True)
        ]
    )


def random_problem(rng, n_labeled, n_pool, width, n_outputs):
    labeled = rng.normal(size=(n_labeled, width))
    pool = rng.normal(size=(n_pool, width))
    weights = rng.normal(size=(n_outputs, width))
    return (
        labeled,
        softmax_curvature(labeled @ weights.T),
        pool,
        softmax_curvature(pool @ weights.T),
    )


@pytest.mark.parametrize("n_outputs", [1, 2, 3])
def test_matches_the_paper_candidate_by_candidate(n_outputs):
    rng = np.random.default_rng(n_outputs)
    labeled, lc, pool, pc = random_problem(rng, 8, 10, 3, n_outputs)
    if n_outputs == 1:  # a binary model's single sigmoid: A = s(1 - s)
        s = 1 / (1 + np.exp(-(labeled @ rng.normal(size=3))))
        lc = (s * (1 - s))[:, None, None]
        s = 1 / (1 + np.exp(-(pool @ rng.normal(size=3))))
        pc = (s * (1 - s))[:, None, None]
    fisher = fisher_information(labeled, lc, 0.5)
    got = variance_reduction(pool, pc, fisher)
    np.testing.assert_allclose(got, reference_reduction(labeled, lc, pool, pc, 0.5), atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    n_labeled=st.integers(0, 6),
    n_pool=st.integers(1, 6),
    width=st.integers(1, 3),
    n_outputs=st.integers(2, 3),
    lam=st.floats(0.05, 5.0),
    seed=st.integers(0, 10_000),
)
def test_reduction_is_exact_and_bounded(n_labeled, n_pool, width, n_outputs, lam, seed):
    rng = np.random.default_rng(seed)
    labeled, lc, pool, pc = random_problem(rng, n_labeled, n_pool, width, n_outputs)
    fisher = fisher_information(
        labeled.reshape(-1, width), lc.reshape(-1, n_outputs, n_outputs), lam
    )
    got = variance_reduction(pool, pc, fisher)
    reference = reference_reduction(labeled, lc, pool, pc, lam) if n_labeled else None
    if reference is not None:
        np.testing.assert_allclose(got, reference, atol=1e-9)
    total = reference_total_variance(fisher, pool, pc)
    assert (got >= 0).all() and (got <= total + 1e-9).all()


def test_blocks_give_the_same_reduction(monkeypatch):
    rng = np.random.default_rng(0)
    labeled, lc, pool, pc = random_problem(rng, 9, 30, 4, 3)
    fisher = fisher_information(labeled, lc, 1.0)
    whole = variance_reduction(pool, pc, fisher)
    monkeypatch.setattr(_variance_reduction, "block_rows", lambda *a, **k: 4)
    np.testing.assert_allclose(variance_reduction(pool, pc, fisher), whole, atol=1e-12)


def objective_gradient(model, X, y, weights):
    """Gradient of sklearn's softmax objective Σ log loss + ‖W‖²/(2C) (intercept free)."""
    W, b = weights[:, :-1], weights[:, -1]
    z = X @ W.T + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    residual = p - np.eye(W.shape[0])[y]
    grad = residual.T @ np.hstack([X, np.ones((len(X), 1))])
    grad[:, :-1] += W / model.C
    return grad.ravel()


def test_fisher_is_the_hessian_of_the_fitted_objective(iris):
    X, y = iris
    X, y = X[::6], y[::6]
    model = LogisticRegression(C=2.0, max_iter=2000, tol=1e-10).fit(X, y)
    weights = np.hstack([model.coef_, model.intercept_[:, None]])
    strategy = VarianceReduction()
    from activelab.models import wrap
    from activelab.strategies._egl import linear_head

    head = linear_head(wrap(model), "test")
    augmented = head.augmented(X)
    fisher = fisher_information(
        augmented,
        head.curvature(head.outputs(head.logits(augmented))),
        strategy._regularization(head, len(X)),
    )
    step, size = 1e-6, weights.size
    numeric = np.empty((size, size))
    for j in range(size):
        shift = np.zeros(size)
        shift[j] = step
        up = objective_gradient(model, X, y, (weights.ravel() + shift).reshape(weights.shape))
        down = objective_gradient(model, X, y, (weights.ravel() - shift).reshape(weights.shape))
        numeric[:, j] = (up - down) / (2 * step)
    np.testing.assert_allclose(fisher, numeric, atol=1e-4)


@pytest.fixture(scope="module")
def problem(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    labeled = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 5, replace=False) for c in range(3)]
    )
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    return X[labeled], y[labeled], X[pool]


def test_strategy_queries_the_largest_reduction(problem):
    X, y, pool = problem
    model = LogisticRegression(max_iter=1000).fit(X, y)
    strategy = VarianceReduction()
    utilities = strategy.utilities(model, pool, X, y)
    assert utilities.shape == (len(pool),) and (utilities >= 0).all()
    picks = strategy.query(model, pool, 4, X, y, random_state=0)
    assert set(picks.tolist()) == set(np.argsort(-utilities)[:4].tolist())


def test_pipeline_binary_and_sgd_models(problem):
    X, y, pool = problem
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    assert VarianceReduction().query(pipeline, pool, 3, X, y, 0).shape == (3,)
    binary = LogisticRegression().fit(X, y == 2)
    values = VarianceReduction().utilities(binary, pool, X)
    assert values.shape == (len(pool),) and np.isfinite(values).all()
    sgd = SGDClassifier(loss="log_loss", random_state=0).fit(X, y)
    assert VarianceReduction().query(sgd, pool, 3, X, y, 0).shape == (3,)


def test_labeled_information_lowers_the_reduction(problem):
    X, y, pool = problem
    model = LogisticRegression(max_iter=1000).fit(X, y)
    without = VarianceReduction().utilities(model, pool)
    with_labeled = VarianceReduction().utilities(model, pool, X, y)
    assert with_labeled.sum() < without.sum()


def test_other_models_and_bad_parameters_are_clear_errors(problem):
    X, y, pool = problem
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="logistic_head"):
        VarianceReduction().query(forest, pool, 2, X, y)
    torch = pytest.importorskip("torch")
    from activelab.models import TorchClassifier

    network = TorchClassifier(
        lambda d, c: torch.nn.Sequential(torch.nn.Linear(d, c)), epochs=2, random_state=0
    ).fit(X, y)
    with pytest.raises(TypeError, match="logistic_head"):  # gradients, but no closed form
        VarianceReduction().query(network, pool, 2, X, y)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    with pytest.raises(ValueError, match="regularization"):
        VarianceReduction(regularization=-1.0).query(model, pool, 2, X, y)
    with pytest.raises(ValueError, match="columns"):
        VarianceReduction().query(model, pool[:, :2], 2, X, y)
    with pytest.raises(ValueError, match="Fisher matrix"):
        variance_reduction(pool, np.ones((len(pool), 1, 1)), np.eye(3))
