"""Multi-label scores against plain reference loops, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from activelab import multilabel as ml


def proba_matrices(max_rows: int = 8, max_labels: int = 5):
    shape = st.tuples(st.integers(1, max_rows), st.integers(1, max_labels))
    return shape.flatmap(
        lambda s: arrays(np.float64, s, elements=st.floats(0.0, 1.0, allow_subnormal=False))
    )


def score_matrices():
    shape = st.tuples(st.integers(1, 8), st.integers(1, 5))
    return shape.flatmap(
        lambda s: arrays(np.float64, s, elements=st.floats(-5.0, 5.0, allow_subnormal=False))
    )


def reference_labelling(row):
    signs = [1.0 if v > 0 else -1.0 for v in row]
    if all(s < 0 for s in signs):
        signs[int(np.argmax(row))] = 1.0
    return signs


def test_binary_minimization_loss_and_labelling_match_loops():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(20, 4))
    f[3] = -np.abs(f[3])  # a row with no positive label
    expected_bm = [-min(abs(v) for v in row) for row in f]
    expected_ml, expected_mml = [], []
    for row in f:
        y = reference_labelling(row)
        losses = [max(0.0, 1.0 - yj * fj) for yj, fj in zip(y, row, strict=True)]
        expected_ml.append(max(losses))
        expected_mml.append(sum(losses) / len(losses))
    np.testing.assert_allclose(ml.binary_minimization(f), expected_bm)
    np.testing.assert_allclose(ml.max_loss(f), expected_ml)
    np.testing.assert_allclose(ml.mean_max_loss(f), expected_mml)


def test_mmc_matches_loop():
    rng = np.random.default_rng(1)
    p = rng.random((15, 5))
    f = 2 * p - 1
    counts = rng.integers(0, 6, 15)
    expected = []
    for row_f, row_p, c in zip(f, p, counts, strict=True):
        order = sorted(range(5), key=lambda j: -row_p[j])
        y = [-1.0] * 5
        for j in order[:c]:
            y[j] = 1.0
        expected.append(sum((1 - yj * fj) / 2 for yj, fj in zip(y, row_f, strict=True)))
    np.testing.assert_allclose(ml.mmc(f, p, counts), expected)


def test_modal_style_scores_match_loops():
    rng = np.random.default_rng(2)
    p = rng.random((10, 3))
    y = (p > 0.5).astype(int)
    np.testing.assert_allclose(ml.min_confidence(p), [-min(r) for r in p])
    np.testing.assert_allclose(ml.avg_confidence(p), [sum(r) / 3 for r in p])
    signed = [
        [pj * (yj - 0.5) for pj, yj in zip(pr, yr, strict=True)]
        for pr, yr in zip(p, y, strict=True)
    ]
    np.testing.assert_allclose(ml.max_score(p, y), [max(r) for r in signed])
    np.testing.assert_allclose(ml.avg_score(p, y), [sum(r) / 3 for r in signed])


def test_cardinality_and_separation_margin_match_loops():
    f = np.array([[1.0, -0.5, 0.2], [-1.0, -2.0, -0.1], [0.3, 0.4, 0.5]])
    y = (f > 0).astype(int)
    np.testing.assert_allclose(ml.label_cardinality_inconsistency(y, 1.5), [0.5, 1.5, 1.5])
    np.testing.assert_allclose(ml.separation_margin_uncertainty(f), [1 / 0.7, 0.0, 0.0])


def reference_entropy_distance(u, v):
    q = len(u)

    def h(values):
        total = 0.0
        for count in values:
            if count:
                t = count / q
                total -= t * math.log2(t)
        return total

    a = sum(1 for x, y in zip(u, v, strict=True) if x and y)
    b = sum(1 for x, y in zip(u, v, strict=True) if not x and y)
    c = sum(1 for x, y in zip(u, v, strict=True) if x and not y)
    d = q - a - b - c
    if b + c == q:
        return 1.0
    joint = h([a, b, c, d])
    if joint == 0:
        return 0.0
    hu, hv = h([sum(u), q - sum(u)]), h([sum(v), q - sum(v)])
    return (2 * joint - hu - hv) / joint


def test_category_vector_inconsistency_matches_loop():
    rng = np.random.default_rng(3)
    predicted = rng.integers(0, 2, (12, 5))
    labeled = rng.integers(0, 2, (7, 5))
    expected = [np.mean([reference_entropy_distance(u, v) for v in labeled]) for u in predicted]
    np.testing.assert_allclose(ml.category_vector_inconsistency(predicted, labeled), expected)
    hamming = [np.mean([np.mean(u != v) for v in labeled]) for u in predicted]
    np.testing.assert_allclose(
        ml.category_vector_inconsistency(predicted, labeled, "hamming"), hamming
    )


def test_margin_rank_scores_match_a_borda_loop():
    p = np.array([[0.5, 0.9], [0.6, 0.5], [0.99, 0.7], [0.4, 0.2]])
    n, L = p.shape
    margins = np.abs(2 * p - 1)
    expected = []
    for i in range(n):
        total = 0.0
        for j in range(L):
            smaller = np.sum(margins[:, j] < margins[i, j])
            equal = np.sum(margins[:, j] == margins[i, j])
            rank = smaller + (equal + 1) / 2
            total += n - rank
        expected.append(total / (L * (n - 1)))
    np.testing.assert_allclose(ml.margin_rank_scores(p), expected)
    predicted = (p > 0.5).astype(int)
    labeled = np.array([[1, 0], [0, 1]])
    np.testing.assert_allclose(
        ml.cvirs(p, predicted, labeled),
        np.asarray(expected) * ml.category_vector_inconsistency(predicted, labeled),
    )


def test_audi_instance_scores():
    np.testing.assert_allclose(
        ml.audi_instance_scores([[1, 1, 0], [0, 0, 0]], 1.0, [2, 0], epsilon=0.5), [0.5, 2.0]
    )


@settings(max_examples=40, deadline=None)
@given(proba_matrices())
def test_properties_of_probability_scores(p):
    y = (p > 0.5).astype(int)
    assert np.all(ml.min_confidence(p) <= -p.min(axis=1) + 1e-12)
    assert np.all((ml.avg_confidence(p) >= 0) & (ml.avg_confidence(p) <= 1))
    assert np.all(ml.max_score(p, y) >= ml.avg_score(p, y) - 1e-12)
    ranks = ml.margin_rank_scores(p)
    assert np.all((ranks >= -1e-12) & (ranks <= 1 + 1e-12))
    v = ml.category_vector_inconsistency(y, y)
    assert np.all((v >= 0) & (v <= 1))


@settings(max_examples=40, deadline=None)
@given(score_matrices())
def test_properties_of_output_scores(f):
    # max loss bounds the mean; binary minimisation is invariant to flipping a label's sign
    assert np.all(ml.max_loss(f) >= ml.mean_max_loss(f) - 1e-12)
    assert np.all(ml.mean_max_loss(f) >= 0)
    flipped = f.copy()
    flipped[:, 0] *= -1
    np.testing.assert_allclose(ml.binary_minimization(f), ml.binary_minimization(flipped))
    labelling = ml.predicted_label_vectors(f)
    assert np.all((labelling == 1).any(axis=1))
    assert np.all(ml.separation_margin_uncertainty(f) >= 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(0, 10_000))
def test_entropy_distance_is_zero_on_itself_and_symmetric(L, seed):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, 2, (4, L))
    v = rng.integers(0, 2, (3, L))
    np.testing.assert_allclose(
        np.diag([ml.category_vector_inconsistency(u[[i]], u[[i]])[0] for i in range(4)]),
        0.0,
        atol=1e-12,
    )
    forward = np.array(
        [[ml.category_vector_inconsistency(a[None], b[None])[0] for b in v] for a in u]
    )
    backward = np.array(
        [[ml.category_vector_inconsistency(b[None], a[None])[0] for b in v] for a in u]
    )
    np.testing.assert_allclose(forward, backward, atol=1e-12)


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match=r"\(n, L\)"):
        ml.binary_minimization([0.1, 0.2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ml.min_confidence([[1.5, 0.2]])
    with pytest.raises(ValueError, match="NaN"):
        ml.max_loss([[np.nan, 0.2]])
    with pytest.raises(ValueError, match="same label columns"):
        ml.category_vector_inconsistency([[1, 0]], [[1, 0, 1]])
    with pytest.raises(ValueError, match="indicator"):
        ml.label_cardinality_inconsistency([[0.5, 1.0]], 1.0)
