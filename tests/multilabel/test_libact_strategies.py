"""Auxiliary-learner and CSRPE multi-label queries against plain loops of libact's definitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist
from scipy.spatial.distance import hamming as scipy_hamming
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC

import activelab as al
from activelab.strategies._multilabel_libact import (
    CSRPE,
    MultiLabelAuxiliary,
    auxiliary_disagreement,
    pairwise_label_scores,
    reference_pair_distance,
)


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel_classification(n_samples=90, n_features=5, n_classes=4, random_state=3)
    return X[:30], Y[:30], X[30:]


def ovr():
    return OneVsRestClassifier(LogisticRegression(max_iter=500))


# ----------------------------------------------------------------- plain references


def reference_disagreement(major, auxiliary, criterion, b=1.0):
    """libact's MultilabelWithAuxiliaryLearner score, one row and label at a time."""
    out = []
    for row_major, row_aux in zip(major, auxiliary, strict=True):
        if criterion == "hlr":
            out.append(
                sum(abs(m - a) for m, a in zip(row_major, row_aux, strict=True)) / len(row_major)
            )
            continue
        total = 0.0
        for m, a in zip(row_major, row_aux, strict=True):
            product = (2 * m - 1) * a
            if criterion == "mmr":
                total += (1 - product) / 2
            else:
                total += (b - min(max(product, -b), b)) / 2 / b
        out.append(total)
    return np.array(out)


def reference_score(truth, prediction, cost):
    """libact's scoring functions on one pair of label vectors (F1 of two empties: 1)."""
    z, y = np.asarray(truth, int), np.asarray(prediction, int)
    if cost == "hamming":
        return -float(np.mean(z != y))
    if cost == "rank_loss":
        count = lambda a, b: int(np.sum((z == a) & (y == b)))  # noqa: E731
        return -(
            count(0, 1) * count(1, 0)
            + 0.5 * count(0, 0) * count(1, 0)
            + 0.5 * count(0, 1) * count(1, 1)
        )
    down = z.sum() + y.sum()
    return 1.0 if down == 0 else 2.0 * np.sum(z & y) / down


def reference_csrpe(model, X_labeled, Y_labeled, X_pool, references, cost):
    """libact's CSRPE query score with one classifier object per reference pair."""
    n_codes = references.shape[1]
    codes_pool = np.zeros((len(X_pool), n_codes))
    codes_labeled = np.zeros((len(X_labeled), n_codes))
    predicted = model.predict(X_pool)
    encoded_prediction = np.zeros((len(X_pool), n_codes))
    for t in range(n_codes):
        r0, r1 = references[0, t], references[1, t]
        s0 = np.array([reference_score(y, r0, cost) for y in Y_labeled])
        s1 = np.array([reference_score(y, r1, cost) for y in Y_labeled])
        label = (s1 - s0 > 0) + 0.0
        weight = np.abs(s1 - s0)
        if weight.sum() > 0:
            weight = weight / weight.sum() * len(X_labeled)
        if len(np.unique(label)) == 1:
            codes_pool[:, t] = label[0]
            codes_labeled[:, t] = label[0]
        else:
            clf = LogisticRegression(solver="liblinear").fit(X_labeled, label, sample_weight=weight)
            codes_pool[:, t] = clf.predict(X_pool)
            codes_labeled[:, t] = clf.predict(X_labeled)
        for i, y in enumerate(predicted):
            p0, p1 = reference_score(y, r0, cost), reference_score(y, r1, cost)
            encoded_prediction[i, t] = float(p1 - p0 > 0)
    first = np.array(
        [scipy_hamming(a, b) for a, b in zip(codes_pool, encoded_prediction, strict=True)]
    )
    nearest = cdist(codes_pool, codes_labeled).min(axis=1)
    return first + nearest


# ----------------------------------------------------------------- auxiliary learner


@pytest.mark.parametrize("criterion", ["hlr", "mmr", "shlr"])
def test_disagreement_matches_the_plain_loop(criterion):
    rng = np.random.default_rng(0)
    major = rng.integers(0, 2, (12, 5))
    auxiliary = rng.integers(0, 2, (12, 5)) if criterion == "hlr" else rng.normal(size=(12, 5))
    np.testing.assert_allclose(
        auxiliary_disagreement(major, auxiliary, criterion, b=0.7),
        reference_disagreement(major, auxiliary, criterion, b=0.7),
    )


@settings(max_examples=40, deadline=None)
@given(
    major=arrays(np.int64, (6, 4), elements=st.integers(0, 1)),
    outputs=arrays(np.float64, (6, 4), elements=st.floats(-5, 5)),
    b=st.floats(0.1, 3.0),
)
def test_disagreement_bounds(major, outputs, b):
    soft = auxiliary_disagreement(major, outputs, "shlr", b)
    assert np.all((soft >= -1e-12) & (soft <= 4 + 1e-12))  # each label in [0, 1]
    # agreeing outputs beyond the clip bound give zero soft loss
    agreeing = (2 * major - 1) * (b + 1.0)
    np.testing.assert_allclose(auxiliary_disagreement(major, agreeing, "shlr", b), 0.0)
    hard = auxiliary_disagreement(major, major, "hlr")
    np.testing.assert_array_equal(hard, 0.0)
    # mmr with ±1 outputs equals the number of labels predicted differently
    signs = np.where(outputs > 0, 1.0, -1.0)
    np.testing.assert_allclose(
        auxiliary_disagreement(major, signs, "mmr"), (major != (signs > 0)).sum(axis=1)
    )


@pytest.mark.parametrize("criterion", ["hlr", "mmr", "shlr"])
def test_auxiliary_query_is_libacts_argmax_and_ranks_by_score(criterion, data):
    X, Y, pool = data
    model = ovr().fit(X, Y)
    auxiliary = OneVsRestClassifier(LinearSVC())
    aux_fitted = clone(auxiliary).fit(X, Y)
    major = model.predict(pool)
    outputs = aux_fitted.predict(pool) if criterion == "hlr" else aux_fitted.decision_function(pool)
    expected = reference_disagreement(major, outputs, criterion, b=0.5)
    strategy = al.strategies.get(
        "multilabel_auxiliary", auxiliary=auxiliary, criterion=criterion, b=0.5
    )
    first = strategy.query(model, pool, 1, X, Y, random_state=0)
    assert np.isclose(expected[first[0]], expected.max())
    ranking = strategy.query(model, pool, len(pool), X, Y, random_state=0)
    assert np.all(np.diff(expected[ranking]) <= 1e-12)


def test_auxiliary_default_is_binary_relevance_linear_svm_and_proba_fallback(data):
    X, Y, pool = data
    strategy = MultiLabelAuxiliary()
    auxiliary = strategy.fit_auxiliary(X, Y)
    assert isinstance(auxiliary.estimator, OneVsRestClassifier)
    assert isinstance(auxiliary.estimator.estimator, LinearSVC)
    # an auxiliary learner without a decision function uses 2p - 1
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=5, random_state=0)
    model = ovr().fit(X, Y)
    picks = MultiLabelAuxiliary(forest, criterion="mmr").query(model, pool, 3, X, Y, 0)
    proba = clone(forest).fit(X, Y)
    outputs = 2 * al.models.MultiLabelAdapter(proba).predict_proba(pool) - 1
    expected = reference_disagreement(model.predict(pool), outputs, "mmr")
    assert np.all(np.isclose(expected[picks], np.sort(expected)[::-1][:3]))


def test_auxiliary_errors(data):
    X, Y, pool = data
    model = ovr().fit(X, Y)
    with pytest.raises(ValueError, match="criterion must be one of"):
        MultiLabelAuxiliary(criterion="hamming").query(model, pool, 2, X, Y)
    with pytest.raises(ValueError, match="b must be a positive"):
        MultiLabelAuxiliary(criterion="shlr", b=0.0).query(model, pool, 2, X, Y)
    with pytest.raises(ValueError, match="needs the labeled set"):
        MultiLabelAuxiliary().query(model, pool, 2)
    with pytest.raises(ValueError, match="same shape"):
        auxiliary_disagreement(np.zeros((3, 2)), np.zeros((3, 3)))


# ----------------------------------------------------------------- CSRPE


@pytest.mark.parametrize("cost", ["hamming", "rank_loss", "f1"])
@settings(max_examples=30, deadline=None)
@given(
    Y=arrays(np.int64, (5, 4), elements=st.integers(0, 1)),
    R=arrays(np.int64, (3, 4), elements=st.integers(0, 1)),
)
def test_pairwise_scores_match_libacts_formulas(cost, Y, R):
    expected = np.array([[reference_score(y, r, cost) for r in R] for y in Y])
    np.testing.assert_allclose(pairwise_label_scores(Y, R, cost), expected, atol=1e-12)


def test_pairwise_scores_take_a_callable_and_check_it():
    rng = np.random.default_rng(1)
    Y, R = rng.integers(0, 2, (7, 5)), rng.integers(0, 2, (4, 5))

    def minus_hamming(truth, prediction):
        return -np.mean(truth != prediction, axis=1)

    np.testing.assert_allclose(
        pairwise_label_scores(Y, R, minus_hamming), pairwise_label_scores(Y, R, "hamming")
    )
    with pytest.raises(ValueError, match="one finite score per row"):
        pairwise_label_scores(Y, R, lambda a, b: np.zeros(2))
    with pytest.raises(ValueError, match="cost must be one of"):
        pairwise_label_scores(Y, R, "jaccard")


@settings(max_examples=40, deadline=None)
@given(
    codes=arrays(np.int64, (7, 6), elements=st.integers(0, 1)),
    model_codes=arrays(np.int64, (7, 6), elements=st.integers(0, 1)),
    labeled=arrays(np.int64, (3, 6), elements=st.integers(0, 1)),
)
def test_reference_pair_distance_is_hamming_plus_nearest_euclidean(codes, model_codes, labeled):
    expected = (codes != model_codes).mean(axis=1) + cdist(codes, labeled).min(axis=1)
    np.testing.assert_allclose(reference_pair_distance(codes, model_codes, labeled), expected)


@pytest.mark.parametrize("cost", ["hamming", "rank_loss", "f1"])
def test_csrpe_ranks_by_libacts_score(cost, data):
    X, Y, pool = data
    model = ovr().fit(X, Y)
    strategy = al.strategies.get("csrpe", cost=cost, n_codes=12)
    references = strategy.references(Y.shape[1], np.random.default_rng(5))
    expected = reference_csrpe(model, X, Y, pool, references, cost)
    ranking = strategy.query(model, pool, len(pool), X, Y, random_state=5)
    assert np.all(np.diff(expected[ranking]) <= 1e-12)
    first = strategy.query(model, pool, 1, X, Y, random_state=5)
    assert np.isclose(expected[first[0]], expected.max())


def test_csrpe_codes_encode_the_cheaper_reference(data):
    _, Y, _ = data
    strategy = CSRPE(cost="hamming", n_codes=8)
    references = strategy.references(Y.shape[1], np.random.default_rng(0))
    codes, weights = strategy.encode(Y, references)
    for t in range(8):
        d0 = (Y != references[0, t]).sum(axis=1)
        d1 = (Y != references[1, t]).sum(axis=1)
        np.testing.assert_array_equal(codes[:, t], (d1 < d0).astype(float))
        np.testing.assert_allclose(weights[:, t], np.abs(d1 - d0) / Y.shape[1])


def test_csrpe_errors(data):
    X, Y, pool = data
    model = ovr().fit(X, Y)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="n_codes"):
            CSRPE(n_codes=bad).query(model, pool, 2, X, Y)
    with pytest.raises(ValueError, match="cost must be one of"):
        CSRPE(cost="jaccard").query(model, pool, 2, X, Y)
    with pytest.raises(ValueError, match="sampling must be one of"):
        CSRPE(sampling="best").query(model, pool, 2, X, Y)
    with pytest.raises(ValueError, match="label columns"):
        CSRPE().query(model, pool, 2, X, Y[:, :3])
    with pytest.raises(ValueError, match="at least one labeled code"):
        reference_pair_distance(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((0, 3)))
