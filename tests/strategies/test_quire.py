"""QUIRE against a direct implementation of the paper's min-max formula."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from activelab.strategies import _quire
from activelab.strategies._quire import Quire, quire_objective

# ------------------------------------------------------------------ plain reference


def reference_objective(pool, labeled, codes, lmbda=1.0, metric="rbf", **params):
    """Huang, Jin & Zhou (2010): min over s of max over y_s of min over y_u of ŷᵀLŷ.

    Written as in the paper, candidate by candidate: L = (K + λI)⁻¹ over labeled and pool
    items, u = the pool without s, and for a label y_s of the candidate

        L_ss y_s² + 2 y_s L_sl y_l + y_lᵀ L_ll y_l
          − (L_us y_s + L_ul y_l)ᵀ L_uu⁻¹ (L_us y_s + L_ul y_l).

    ``codes`` holds the labeled items' ±1 codes, one column per labeling of the labeled
    set; ``y_s`` runs over ``signs`` and the adversary takes the largest value.
    """
    X = np.vstack([labeled, pool]) if len(labeled) else np.asarray(pool, dtype=float)
    m, n = len(labeled), len(X)
    K = pairwise_kernels(X, X, metric=metric, **params)
    L = np.linalg.inv(K + lmbda * np.eye(n))
    lab = list(range(m))
    out = []
    for s in range(m, n):
        u = [i for i in range(m, n) if i != s]
        values = []
        for y_l, signs in codes:
            for y_s in signs:
                r = L[u, s] * y_s + (L[np.ix_(u, lab)] @ y_l if m else 0.0)
                value = L[s, s] * y_s**2
                if m:
                    value += 2 * y_s * L[s, lab] @ y_l + y_l @ L[np.ix_(lab, lab)] @ y_l
                if u:
                    value -= r @ np.linalg.solve(L[np.ix_(u, u)], r)
                values.append(value)
        out.append(max(values))
    return np.asarray(out)


def binary_codes(y):
    """The paper's binary case: y_l = ±1, the adversary picks y_s = ±1."""
    classes = np.unique(y)
    return [(np.where(y == classes[0], 1.0, -1.0), (1.0, -1.0))]


def one_vs_rest_codes(y, classes=None):
    """Several classes: one ±1 coding per class, the candidate put in that class."""
    classes = np.unique(y) if classes is None else np.asarray(classes)
    return [(np.where(y == c, 1.0, -1.0), (1.0,)) for c in classes]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    labeled = rng.normal(size=(9, 3))
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])
    pool = rng.normal(size=(25, 3))
    return pool, labeled, y


# ---------------------------------------------------------------------- the maths


@pytest.mark.parametrize("lmbda", [0.1, 1.0, 10.0])
def test_binary_objective_matches_the_paper(problem, lmbda):
    pool, labeled, y = problem
    y = y % 2
    expected = reference_objective(pool, labeled, binary_codes(y), lmbda)
    np.testing.assert_allclose(quire_objective(pool, labeled, y, lmbda=lmbda), expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("metric", "params"),
    [
        ("rbf", {}),
        ("rbf", {"gamma": 2.0}),
        ("laplacian", {"gamma": 0.5}),
        ("poly", {"degree": 2, "coef0": 1.0}),
        ("linear", {}),
        ("cosine", {}),
    ],
)
def test_multiclass_objective_matches_one_vs_rest_reference(problem, metric, params):
    pool, labeled, y = problem
    expected = reference_objective(pool, labeled, one_vs_rest_codes(y), 1.0, metric, **params)
    ours = quire_objective(pool, labeled, y, metric=metric, metric_params=params)
    np.testing.assert_allclose(ours, expected, rtol=1e-8, atol=1e-10)


def test_two_classes_one_vs_rest_is_the_binary_objective(problem):
    pool, labeled, y = problem
    y = y % 2
    binary = reference_objective(pool, labeled, binary_codes(y))
    ovr = reference_objective(pool, labeled, one_vs_rest_codes(y))
    np.testing.assert_allclose(binary, ovr, rtol=1e-10)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(0, 6),
    n=st.integers(1, 6),
    d=st.integers(1, 3),
    n_classes=st.integers(1, 3),
    lmbda=st.floats(0.05, 20.0),
    gamma=st.floats(0.05, 3.0),
    seed=st.integers(0, 10_000),
)
def test_closed_form_equals_the_paper_on_random_problems(m, n, d, n_classes, lmbda, gamma, seed):
    rng = np.random.default_rng(seed)
    labeled, pool = rng.normal(size=(m, d)), rng.normal(size=(n, d))
    y = rng.integers(0, n_classes, size=m)
    classes = np.unique(y)
    if m == 0:
        codes = [(np.zeros(0), (1.0, -1.0))]
    elif classes.shape[0] == 1:
        codes = binary_codes(y)  # one class seen: "that class or another one"
    else:
        codes = one_vs_rest_codes(y)
    expected = reference_objective(pool, labeled, codes, lmbda, gamma=gamma)
    ours = quire_objective(pool, labeled, y, lmbda=lmbda, metric_params={"gamma": gamma})
    np.testing.assert_allclose(ours, expected, rtol=1e-7, atol=1e-9)


def test_objective_of_an_item_does_not_depend_on_the_rest_of_the_pool(problem):
    """The inner minimum over y_u cancels the other unlabeled items exactly."""
    pool, labeled, y = problem
    full = reference_objective(pool, labeled, one_vs_rest_codes(y))
    alone = [reference_objective(pool[i : i + 1], labeled, one_vs_rest_codes(y))[0] for i in (0, 7)]
    np.testing.assert_allclose(alone, full[[0, 7]], rtol=1e-9)


def test_unlabeled_classes_are_coded_minus_one(problem):
    pool, labeled, y = problem
    classes = [0, 1, 2, 3]
    expected = reference_objective(pool, labeled, one_vs_rest_codes(y, classes))
    ours = quire_objective(pool, labeled, y, classes=classes)
    np.testing.assert_allclose(ours, expected, rtol=1e-9)


def test_closed_form_pieces_by_hand():
    """One labeled item, rbf: f = k/(1+λ), σ = 1 + λ − k²/(1+λ), J = 1/(1+λ) + (1+|f|)²/σ."""
    lmbda, gamma = 0.5, 1.0
    k = np.exp(-gamma * 0.7**2)
    f = k / (1 + lmbda)
    sigma = 1 + lmbda - k**2 / (1 + lmbda)
    expected = 1 / (1 + lmbda) + (1 + f) ** 2 / sigma
    ours = quire_objective([[0.7]], [[0.0]], ["a"], lmbda=lmbda, metric_params={"gamma": gamma})
    np.testing.assert_allclose(ours, [expected], rtol=1e-12)


def test_blocks_give_the_same_objective(problem, monkeypatch):
    pool, labeled, y = problem
    whole = quire_objective(pool, labeled, y, metric="poly")
    monkeypatch.setattr(_quire, "block_rows", lambda *args, **kwargs: 4)
    monkeypatch.setattr(_quire, "_DIAGONAL_BLOCK", 3)
    np.testing.assert_allclose(quire_objective(pool, labeled, y, metric="poly"), whole, rtol=1e-12)


def test_callable_kernel_is_used():
    def kernel(A, B):
        return (1.0 + np.asarray(A) @ np.asarray(B).T) ** 2

    rng = np.random.default_rng(1)
    labeled, pool, y = rng.normal(size=(5, 2)), rng.normal(size=(6, 2)), np.array([0, 1, 0, 1, 1])
    expected = reference_objective(
        pool, labeled, binary_codes(y), metric="poly", degree=2, gamma=1.0
    )
    np.testing.assert_allclose(
        quire_objective(pool, labeled, y, metric=kernel), expected, rtol=1e-9
    )


# ------------------------------------------------------------------------ strategy


def test_query_takes_the_smallest_objectives_first(problem):
    pool, labeled, y = problem
    expected = np.argsort(reference_objective(pool, labeled, one_vs_rest_codes(y)))[:5]
    picks = Quire().query(None, pool, 5, labeled, y, random_state=0)
    assert picks.tolist() == expected.tolist()
    np.testing.assert_allclose(
        Quire().utilities(None, pool, labeled, y), -quire_objective(pool, labeled, y)
    )


def test_prefers_uncertain_items_far_from_the_labeled_set():
    X_labeled, y_labeled = [[0.0], [4.0]], ["neg", "pos"]
    pool = [[0.05], [2.0], [3.95], [30.0]]
    objective = quire_objective(pool, X_labeled, y_labeled)
    # Midway is most informative; beyond the data the prediction is 0 too and the
    # posterior variance is larger still, so the far item wins: QUIRE's min-max view.
    assert objective.argmin() == 3
    assert objective[1] < objective[0] and objective[1] < objective[2]


def test_without_labels_every_rbf_item_ties_and_the_pick_is_random():
    pool = np.arange(12.0)[:, None]
    np.testing.assert_allclose(quire_objective(pool), np.full(12, 1 / 2.0))
    picks = {Quire().query(None, pool, 1, random_state=seed)[0] for seed in range(30)}
    assert len(picks) > 5
    poly = quire_objective([[0.0], [2.0]], metric="poly", metric_params={"coef0": 1.0})
    np.testing.assert_allclose(poly, [1 / (1.0 + 1.0), 1 / ((2.0 * 2.0 + 1.0) ** 3 + 1.0)])


def test_uses_the_pipeline_features(problem):
    pool, labeled, y = problem
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(labeled, y)
    scaler = model[0]
    expected = quire_objective(scaler.transform(pool), scaler.transform(labeled), y)
    np.testing.assert_allclose(-Quire().utilities(model, pool, labeled, y), expected, rtol=1e-12)


def test_dataframes_and_string_labels(problem):
    pool, labeled, y = problem
    names = np.array(["a", "b", "c"])[y]
    frame, pool_frame = pd.DataFrame(labeled), pd.DataFrame(pool)
    np.testing.assert_allclose(
        quire_objective(pool_frame, frame, names), quire_objective(pool, labeled, y), rtol=1e-12
    )


# -------------------------------------------------------------------------- errors


@pytest.mark.parametrize("lmbda", [0, -1.0, np.nan, "1", True])
def test_lambda_must_be_positive(problem, lmbda):
    pool, labeled, y = problem
    with pytest.raises(ValueError, match="lmbda must be a positive number"):
        Quire(lmbda=lmbda).query(None, pool, 1, labeled, y)


def test_unknown_and_precomputed_metrics_are_refused(problem):
    pool, labeled, y = problem
    with pytest.raises(ValueError, match="metric must be one of"):
        quire_objective(pool, labeled, y, metric="gaussian")
    with pytest.raises(ValueError, match="precomputed kernel cannot be split"):
        quire_objective(pool, labeled, y, metric="precomputed")
    with pytest.raises(TypeError, match="metric_params must be a dict"):
        quire_objective(pool, labeled, y, metric_params=[("gamma", 1.0)])


def test_non_psd_kernel_is_a_clear_error():
    X = np.array([[0.0], [1.0], [2.0]])
    with pytest.raises(ValueError, match="not positive semi-definite"):
        quire_objective(
            X,
            X * 10,
            [0, 1, 0],
            lmbda=0.01,
            metric="sigmoid",
            metric_params={"gamma": 5.0, "coef0": -3.0},
        )


def test_labels_must_match(problem):
    pool, labeled, y = problem
    with pytest.raises(ValueError, match="labels for 9 rows"):
        quire_objective(pool, labeled, y[:-1])
    with pytest.raises(ValueError, match="needs the labels of X_labeled"):
        Quire().query(None, pool, 1, labeled, None)
    with pytest.raises(ValueError, match=r"not in classes \[0, 1\]"):
        quire_objective(pool, labeled, y, classes=[0, 1])
    with pytest.raises(ValueError, match="same columns"):
        quire_objective(pool[:, :2], labeled, y)
