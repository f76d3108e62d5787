"""BMDR (and the QP solver it shares with SPAL and HintSVM) against plain references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from sklearn.metrics.pairwise import rbf_kernel

from activelab.strategies._bmdr import (
    BMDR,
    _admm_refit,
    label_codes,
    mmd_qp_terms,
    worst_case_loss,
)
from activelab.strategies._qp import box_qp, kkt_violation

# ------------------------------------------------------------------ the QP solver


def slsqp(P, q, upper, signs=None, rhs=0.0):
    constraints = []
    if signs is not None:
        constraints = [{"type": "eq", "fun": lambda x: signs @ x - rhs, "jac": lambda x: signs}]
    result = minimize(
        lambda x: 0.5 * x @ P @ x + q @ x,
        np.zeros(len(q)),
        jac=lambda x: P @ x + q,
        bounds=list(zip(np.zeros(len(q)), upper, strict=True)),
        constraints=constraints,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    return result.x


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 12), rank=st.integers(1, 6), seed=st.integers(0, 10_000), eq=st.booleans())
def test_box_qp_reaches_the_optimum(n, rank, seed, eq):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(n, rank))
    P, q = G @ G.T, rng.normal(size=n)
    upper = rng.uniform(0.2, 2.0, size=n)
    signs = np.where(rng.random(n) < 0.5, -1.0, 1.0) if eq else None
    start = np.zeros(n)
    x = box_qp(P, q, upper, signs, start)
    objective = 0.5 * x @ P @ x + q @ x
    assert (x >= -1e-12).all() and (x <= upper + 1e-12).all()
    if eq:
        assert abs(signs @ x) < 1e-9
        assert kkt_violation(P, q, upper, signs, x) < 1e-6
    reference = slsqp(P, q, upper, signs)
    assert objective <= 0.5 * reference @ P @ reference + q @ reference + 1e-6


def test_box_qp_keeps_a_budget():
    rng = np.random.default_rng(0)
    K = rbf_kernel(rng.normal(size=(40, 2)))
    q = rng.normal(size=40)
    x = box_qp(K, q, np.ones(40), np.ones(40), np.full(40, 5 / 40))
    assert abs(x.sum() - 5) < 1e-9
    reference = slsqp(K, q, np.ones(40), np.ones(40), 5.0)
    assert 0.5 * x @ K @ x + q @ x <= 0.5 * reference @ K @ reference + q @ reference + 1e-7


# ------------------------------------------------------------------------ the terms


def test_label_codes_and_worst_case_loss():
    assert label_codes([2, 5, 2]).ravel().tolist() == [1.0, -1.0, 1.0]
    codes = label_codes(["a", "b", "c", "a"])
    assert codes.shape == (4, 3) and (codes.sum(axis=1) == -1).all()
    f = np.array([[0.3], [-0.7]])
    worst = np.array([max((y - v) ** 2 for y in (1, -1)) - 1 for v in f.ravel()])
    np.testing.assert_allclose(worst_case_loss(f), worst)


@settings(max_examples=20, deadline=None)
@given(m=st.integers(0, 5), u=st.integers(3, 9), seed=st.integers(0, 10_000))
def test_mmd_terms_are_the_mmd_of_the_selection(m, u, seed):
    """½αᵀPα + qᵀα equals MMD²(L ∪ Q, U \\ Q) / c² up to one constant, for any batch."""
    rng = np.random.default_rng(seed)
    b = int(rng.integers(1, u))
    X_L, X_U = rng.normal(size=(m, 2)), rng.normal(size=(u, 2))
    K_UU, K_UL = rbf_kernel(X_U), rbf_kernel(X_U, X_L) if m else np.zeros((u, 0))
    P, q = mmd_qp_terms(K_UU, K_UL.sum(axis=1), m, b)
    c = (m + u) / ((m + b) * (u - b))
    everything = np.vstack([X_L, X_U])
    K = rbf_kernel(everything)
    gaps = []
    for _ in range(5):
        alpha = np.zeros(u)
        alpha[rng.choice(u, b, replace=False)] = 1.0
        inside = np.concatenate([np.ones(m), alpha]) / (m + b)
        outside = np.concatenate([np.zeros(m), 1 - alpha]) / (u - b)
        diff = inside - outside
        mmd = diff @ K @ diff
        gaps.append(mmd / c**2 - (0.5 * alpha @ P @ alpha + q @ alpha))
    np.testing.assert_allclose(gaps, gaps[0], atol=1e-9)


def refit_objective(tau, K_LL, y, K_QL, w, gamma):
    f_L, f_Q = K_LL @ tau, K_QL @ tau
    return (
        np.sum((y - f_L) ** 2) + gamma * tau @ K_LL @ tau + np.sum(w * (f_Q**2 + 2 * np.abs(f_Q)))
    )


def test_admm_refit_minimises_the_objective():
    rng = np.random.default_rng(3)
    X_L, X_Q = rng.normal(size=(8, 2)), rng.normal(size=(4, 2))
    K_LL, K_QL = rbf_kernel(X_L), rbf_kernel(X_Q, X_L)
    y = np.where(rng.random(8) < 0.5, 1.0, -1.0)
    w = rng.uniform(0.2, 1.0, 4)
    tau0 = np.linalg.solve(K_LL + 0.1 * np.eye(8), y)
    tau = _admm_refit(K_LL, y[:, None], K_QL, w, 0.1, 1.0, tau0[:, None])[:, 0]
    ours = refit_objective(tau, K_LL, y, K_QL, w, 0.1)
    polished = minimize(refit_objective, tau, args=(K_LL, y, K_QL, w, 0.1), method="Powell")
    assert ours <= polished.fun + 1e-4
    assert ours < refit_objective(tau0, K_LL, y, K_QL, w, 0.1)


# ------------------------------------------------------------------ the whole method


def reference_bmdr(X_U, X_L, y, b, beta, gamma, rounds=15):
    """Wang & Ye (2013) as written: SLSQP on the relaxed objective, Powell on the refit."""
    K = rbf_kernel(np.vstack([X_L, X_U]), gamma=1 / X_U.shape[1])
    m, u = len(X_L), len(X_U)
    K_LL, K_UL = K[:m, :m], K[m:, :m]
    c = (m + u) / ((m + b) * (u - b))
    codes = np.where(y == np.unique(y)[0], 1.0, -1.0)
    tau = np.linalg.solve(K_LL + gamma * np.eye(m), codes)

    def relaxed(alpha, loss):
        inside = np.concatenate([np.ones(m), alpha]) / (m + b)
        outside = np.concatenate([np.zeros(m), 1 - alpha]) / (u - b)
        diff = inside - outside
        return beta * (diff @ K @ diff) / c**2 + loss @ alpha

    chosen = None
    for _ in range(rounds):
        f = K_UL @ tau
        loss = f**2 + 2 * np.abs(f)
        alpha = minimize(
            relaxed,
            np.full(u, b / u),
            args=(loss,),
            bounds=[(0, 1)] * u,
            constraints=[{"type": "eq", "fun": lambda a: a.sum() - b}],
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        ).x
        picks = set(np.argsort(-alpha)[:b].tolist())
        if picks == chosen:
            break
        chosen = picks
        rows = sorted(picks)
        tau = minimize(
            refit_objective,
            tau,
            args=(K_LL, codes, K_UL[rows], np.ones(b), gamma),
            method="Powell",
            options={"xtol": 1e-8, "ftol": 1e-12},
        ).x
    return chosen


@pytest.mark.parametrize("beta", [0.05, 1.0])
def test_picks_match_the_paper_written_plainly(beta):
    rng = np.random.default_rng(7)
    X_L = np.vstack([rng.normal(-2, 0.5, size=(4, 2)), rng.normal(2, 0.5, size=(4, 2))])
    y = np.repeat([0, 1], 4)
    X_U = rng.normal(0, 1.8, size=(18, 2))
    ours = BMDR(beta=beta, gamma=0.1).query(None, X_U, 3, X_L, y, random_state=0)
    assert set(ours.tolist()) == reference_bmdr(X_U, X_L, y, 3, beta, 0.1)


def test_large_beta_is_representative_small_beta_is_uncertain():
    rng = np.random.default_rng(0)
    X_L = np.array([[-3.0, 0.0], [3.0, 0.0]])
    y = np.array([0, 1])
    dense = rng.normal([-3.0, 0.0], 0.3, size=(30, 2))  # a dense, well-known cloud
    boundary = rng.normal([0.0, 0.0], 0.2, size=(3, 2))  # few items on the boundary
    X_U = np.vstack([dense, boundary])
    uncertain = BMDR(beta=1e-4).query(None, X_U, 2, X_L, y, random_state=0)
    assert set(uncertain.tolist()) <= set(range(30, 33))
    representative = BMDR(beta=1e4).query(None, X_U, 2, X_L, y, random_state=0)
    assert set(representative.tolist()) <= set(range(30))


def test_cold_start_multiclass_and_candidates(iris):
    X, y = iris
    picks = BMDR().query(None, X, 4, random_state=0)
    assert len(set(picks.tolist())) == 4
    many = BMDR().query(None, X[::4], 5, X[1::10], y[1::10], random_state=1)
    assert many.shape == (5,)
    sampled = BMDR(candidates=20).query(None, X, 5, X[1::10], y[1::10], random_state=2)
    assert sampled.shape == (5,) and len(set(sampled.tolist())) == 5


def test_bad_parameters_and_missing_labels(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="beta"):
        BMDR(beta=0).query(None, X, 2)
    with pytest.raises(ValueError, match="gamma"):
        BMDR(gamma=-1.0).query(None, X, 2)
    with pytest.raises(ValueError, match="y_labeled"):
        BMDR().query(None, X[:50], 2, X[50:60])
    with pytest.raises(ValueError, match="candidates"):
        BMDR(candidates=0).query(None, X, 2)


def test_alipy_agrees_on_an_easy_problem():
    pytest.importorskip("cvxpy")
    query_labels = pytest.importorskip("alipy.query_strategy")
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(-2, 0.6, size=(25, 2)), rng.normal(2, 0.6, size=(25, 2))])
    y = np.repeat([0, 1], 25)
    labeled = np.array([0, 1, 25, 26])
    unlabeled = np.setdiff1d(np.arange(50), labeled)
    theirs = query_labels.QueryInstanceBMDR(X, y, beta=1.0, gamma=0.1, gamma_ker=0.5)
    their_picks = set(theirs.select(labeled, unlabeled, batch_size=4).tolist())
    ours = BMDR(beta=1.0, gamma=0.1, metric_params={"gamma": 0.5}).query(
        None, X[unlabeled], 4, X[labeled], y[labeled], random_state=0
    )
    assert len(set(unlabeled[ours].tolist()) & their_picks) >= 2
