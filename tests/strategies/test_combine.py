"""Combine: weighted sum, product and rank fusion of score strategies."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

import activelab as al
from activelab.strategies import Combine, CoreSet, Entropy, LeastConfidence
from activelab.strategies._combine import combine_utilities


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=140, n_features=5, n_informative=3, n_classes=3, random_state=1
    )
    model = LogisticRegression(max_iter=500).fit(X[:30], y[:30])
    return model, X[:30], y[:30], X[30:]


def test_sum_and_product_without_normalisation_are_modal_formulas(problem):
    model, _, _, pool = problem
    proba = model.predict_proba(pool)
    lc, ent = al.scores.least_confidence(proba), al.scores.entropy(proba)
    total = Combine(["least_confidence", "entropy"], [1.0, 2.0], normalize="none")
    np.testing.assert_allclose(total.utilities(model, pool), lc + 2 * ent)
    product = Combine([LeastConfidence(), Entropy()], [1.0, 0.5], method="product")
    np.testing.assert_allclose(product.utilities(model, pool), lc * ent**0.5)


def test_default_sum_normalises_to_unit_range(problem):
    model, _, _, pool = problem
    proba = model.predict_proba(pool)
    lc, ent = al.scores.least_confidence(proba), al.scores.entropy(proba)

    def unit(v):
        return (v - v.min()) / (v.max() - v.min())

    combined = Combine(["least_confidence", ("entropy", {})]).utilities(model, pool)
    np.testing.assert_allclose(combined, unit(lc) + unit(ent))
    picks = Combine(["least_confidence", "entropy"]).query(model, pool, 5, random_state=0)
    assert set(picks.tolist()) == set(np.argsort(-(unit(lc) + unit(ent)))[:5].tolist())


def test_rank_fusion_against_plain_formulas():
    rng = np.random.default_rng(0)
    u = rng.random((3, 20))
    w = np.array([1.0, 2.0, 0.5])
    ranks = np.array([rankdata(-row) for row in u])
    rrf = combine_utilities(u, w, method="reciprocal_rank", rrf_k=10)
    np.testing.assert_allclose(rrf, (w[:, None] / (10 + ranks)).sum(axis=0))
    borda = combine_utilities(u, w, method="borda")
    np.testing.assert_allclose(borda, (w[:, None] * (20 - ranks)).sum(axis=0))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100), shift=st.floats(-50, 50))
def test_property_invariances(seed, scale, shift):
    """Min-max sums ignore affine rescaling; rank fusion ignores any increasing map."""
    rng = np.random.default_rng(seed)
    u = rng.random((2, 15))
    moved = u.copy()
    moved[0] = scale * u[0] + shift
    np.testing.assert_allclose(combine_utilities(u), combine_utilities(moved), atol=1e-9)
    cubed = u.copy()
    cubed[1] = np.exp(3 * u[1])
    for method in ("reciprocal_rank", "borda"):
        np.testing.assert_allclose(
            combine_utilities(u, method=method), combine_utilities(cubed, method=method)
        )


def test_needs_and_adapters_follow_the_bases(problem):
    model, X_lab, y_lab, pool = problem
    assert Combine(["margin", "svm_margin"]).needs == ("predict_proba", "decision_function")
    assert Combine.needs == ("predict_proba", "embed")
    # svm_margin reads decision_function through its own adapter, margin through wrap().
    picks = Combine(["margin", "svm_margin"]).query(model, pool, 4, X_lab, y_lab, 0)
    assert len(set(picks.tolist())) == 4
    with pytest.raises(TypeError, match="predict_proba"):
        Combine(["margin", "svm_margin"]).query(LinearSVC().fit(X_lab, y_lab), pool, 2)


def test_bad_input_is_a_clear_error(problem):
    model, X_lab, y_lab, pool = problem
    with pytest.raises(TypeError, match="score strategy"):
        Combine(["margin", CoreSet()]).query(model, pool, 2, X_lab, y_lab)
    with pytest.raises(TypeError, match="base strategy"):
        Combine(["margin", 3]).query(model, pool, 2)
    with pytest.raises(ValueError, match="weights"):
        Combine(["margin", "entropy"], weights=[1.0]).query(model, pool, 2)
    with pytest.raises(ValueError, match="method"):
        Combine(method="mean").query(model, pool, 2)
    with pytest.raises(ValueError, match="normalize"):
        combine_utilities([[1.0, 2.0]], normalize="l2")
    with pytest.raises(ValueError, match="non-negative"):
        combine_utilities([[-1.0, 2.0]], [0.5], method="product")
    with pytest.raises(ValueError, match="empty"):
        Combine([]).query(model, pool, 2)


def test_clone_and_pickle_keep_the_bases():
    strategy = Combine([("information_density", {"beta": 2.0}), "margin"], [1.0, 3.0])
    assert repr(clone(strategy)) == repr(strategy)
    assert repr(pickle.loads(pickle.dumps(strategy))) == repr(strategy)


def test_same_picks_as_modal_combinations(problem):
    pytest.importorskip("modAL")
    from modAL.models import ActiveLearner
    from modAL.uncertainty import classifier_entropy, classifier_uncertainty
    from modAL.utils.combination import make_linear_combination, make_product
    from modAL.utils.selection import multi_argmax

    _, X_lab, y_lab, pool = problem
    learner = ActiveLearner(LogisticRegression(max_iter=500), X_training=X_lab, y_training=y_lab)
    for make, method in ((make_linear_combination, "sum"), (make_product, "product")):
        keyword = "weights" if method == "sum" else "exponents"
        fused = make(classifier_uncertainty, classifier_entropy, **{keyword: [1.0, 2.0]})
        expected = fused(learner, pool)
        ours = Combine(["least_confidence", "entropy"], [1.0, 2.0], method, normalize="none")
        np.testing.assert_allclose(ours.utilities(learner.estimator, pool), expected)
        picks = ours.query(learner.estimator, pool, 6, random_state=0)
        best = multi_argmax(expected, 6)
        best = best[0] if isinstance(best, tuple) else best  # modAL 0.4 adds the values
        assert set(picks.tolist()) == set(np.asarray(best).ravel().tolist())
