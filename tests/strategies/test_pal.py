"""Probabilistic active learning (McPAL, xPAL) against plain references written here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from activelab import _distances
from activelab.strategies._pal import (
    XPAL,
    ProbabilisticAL,
    kernel_frequencies,
    mean_bandwidth,
    pal_gain,
    xpal_gain,
)

# ------------------------------------------------------------------ plain references


def reference_kernel(A, B, gamma):
    return np.array([[np.exp(-gamma * np.sum((a - b) ** 2)) for b in B] for a in A])


def reference_frequencies(X, X_labeled, labels, n_classes, gamma):
    out = np.zeros((len(X), n_classes))
    for i, x in enumerate(X):
        for x_j, y_j in zip(X_labeled, labels, strict=True):
            out[i, y_j] += np.exp(-gamma * np.sum((x - x_j) ** 2))
    return out


def reference_pal_gain(k, prior, m_max):
    """McPAL by enumerating label *sequences* with Pólya-urn probabilities."""
    k = np.asarray(k, dtype=float)
    alpha = k + prior
    n_classes = len(k)

    def expected_error(m):
        error = 0.0
        for sequence in itertools.product(range(n_classes), repeat=m):
            probability, seen = 1.0, np.zeros(n_classes)
            for step, label in enumerate(sequence):
                probability *= (alpha[label] + seen[label]) / (alpha.sum() + step)
                seen[label] += 1
            decision = int(np.argmax(k + seen))
            error += probability * (1 - (alpha[decision] + seen[decision]) / (alpha.sum() + m))
        return error

    now = expected_error(0)
    return max((now - expected_error(m)) / m for m in range(1, m_max + 1))


def reference_xpal_gain(K_c, K_x, S, alpha_c, alpha_x):
    """xgain by the formula: every candidate, hypothetical label and evaluation item."""
    n_classes = K_c.shape[1]
    loss = 1.0 - np.eye(n_classes)
    gains = np.zeros(len(K_c))
    for c in range(len(K_c)):
        p_label = (K_c[c] + alpha_c) / (K_c[c] + alpha_c).sum()
        for y in range(n_classes):
            for x in range(len(K_x)):
                now = int(np.argmin(K_x[x] @ loss))
                plus = K_x[x] + S[c, x] * np.eye(n_classes)[y]
                after = int(np.argmin(plus @ loss))
                truth = (plus + alpha_x) / (plus + alpha_x).sum()
                gains[c] += p_label[y] * truth @ (loss[:, now] - loss[:, after])
    return gains / len(K_x)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=50, centers=3, cluster_std=1.5, n_features=2, random_state=0)
    rng = np.random.default_rng(0)
    labeled = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 3, replace=False) for c in range(3)]
    )
    pool = np.setdiff1d(np.arange(50), labeled)
    return X[labeled], y[labeled], X[pool]


# -------------------------------------------------------------------------- kernels


def test_kernel_frequencies_sum_the_kernel_per_class(blobs):
    X_lab, y_lab, pool = blobs
    ours = kernel_frequencies(pool, X_lab, y_lab, 3, 0.3)
    np.testing.assert_allclose(ours, reference_frequencies(pool, X_lab, y_lab, 3, 0.3))
    assert kernel_frequencies(pool, X_lab[:0], y_lab[:0], 3, 0.3).sum() == 0


def test_kernel_frequencies_in_many_blocks_match(blobs, monkeypatch):
    X_lab, y_lab, pool = blobs
    whole = kernel_frequencies(pool, X_lab, y_lab, 3, 0.3)
    monkeypatch.setattr(_distances, "_BLOCK_BYTES", 8 * 9 * 4)  # 4 rows per block
    np.testing.assert_allclose(kernel_frequencies(pool, X_lab, y_lab, 3, 0.3), whole)


def test_mean_bandwidth_follows_the_mean_criterion():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) * [1.0, 2.0, 0.5]
    n, variance = 40, X.var(axis=0).sum()
    s2 = 2 * n * variance / ((n - 1) * np.log((n - 1) / (np.sqrt(2) * 1e-6) ** 2))
    assert mean_bandwidth(X) == pytest.approx(1 / (2 * s2))
    assert mean_bandwidth(np.ones((5, 4))) == 0.25


# --------------------------------------------------------------------------- McPAL


@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 4),
    m_max=st.integers(1, 3),
    prior=st.sampled_from([0.01, 0.5, 1.0, 3.0]),
    seed=st.integers(0, 10_000),
)
def test_pal_gain_equals_the_sequence_enumeration(n_classes, m_max, prior, seed):
    rng = np.random.default_rng(seed)
    k = rng.choice([0.0, 0.3, 1.0, 2.5, 7.0], size=(4, n_classes))
    ours = pal_gain(k, prior, m_max)
    expected = [reference_pal_gain(row, prior, m_max) for row in k]
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)


def test_pal_gain_by_hand():
    # k = (0, 0), prior 1: error 1/2 now, 1/3 after one label -> gain 1/6
    # k = (5, 0): one label never flips the decision -> gain 0
    np.testing.assert_allclose(pal_gain([[0.0, 0.0], [5.0, 0.0]]), [1 / 6, 0.0], atol=1e-15)
    # more evidence, less to gain
    gains = pal_gain([[1.0, 1.0], [5.0, 5.0], [50.0, 50.0]])
    assert gains[0] > gains[1] > gains[2] > 0


def test_pal_gain_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative"):
        pal_gain([[-1.0, 0.0]])
    with pytest.raises(ValueError, match=r"C >= 2"):
        pal_gain([[1.0]])
    with pytest.raises(ValueError, match="prior"):
        pal_gain([[1.0, 0.0]], prior=0.0)
    with pytest.raises(ValueError, match="m_max"):
        pal_gain([[1.0, 0.0]], m_max=0)


def test_pal_strategy_is_density_times_gain(blobs):
    X_lab, y_lab, pool = blobs
    strategy = ProbabilisticAL(prior=0.5, m_max=2, gamma=0.3)
    ours = strategy.utilities(None, pool, X_lab, y_lab)
    frequencies = reference_frequencies(pool, X_lab, y_lab, 3, 0.3)
    density = reference_kernel(pool, np.vstack([pool, X_lab]), 0.3).mean(axis=1)
    expected = np.array([reference_pal_gain(k, 0.5, 2) for k in frequencies]) * density
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-15)
    no_density = ProbabilisticAL(prior=0.5, m_max=2, gamma=0.3, density=False)
    np.testing.assert_allclose(
        no_density.utilities(None, pool, X_lab, y_lab), expected / density, atol=1e-14
    )
    picks = strategy.query(None, pool, 5, X_lab, y_lab, random_state=0)
    assert picks.tolist() == np.argsort(-expected, kind="stable")[:5].tolist()


def test_pal_cold_start_picks_the_densest_items():
    pool = np.array([[0.0], [0.1], [0.2], [5.0], [9.0]])
    picks = ProbabilisticAL(gamma=1.0).query(None, pool, 2, random_state=0)
    assert sorted(picks.tolist()) == [0, 1] or sorted(picks.tolist()) == [1, 2]
    assert 1 in picks


def test_classes_come_from_the_model_when_it_knows_more(blobs):
    X_lab, y_lab, pool = blobs
    two = y_lab != 2
    knows_three = DummyClassifier().fit(np.zeros((3, 1)), [0, 1, 2])
    ours = ProbabilisticAL(gamma=0.3, density=False).utilities(
        knows_three, pool, X_lab[two], y_lab[two]
    )
    frequencies = reference_frequencies(pool, X_lab[two], y_lab[two], 3, 0.3)
    np.testing.assert_allclose(ours, pal_gain(frequencies), atol=1e-12)
    assert not np.allclose(ours, pal_gain(frequencies[:, :2]))
    with pytest.raises(ValueError, match="does not know"):
        ProbabilisticAL().utilities(knows_three, pool, X_lab[:2], ["x", "y"])
    with pytest.raises(ValueError, match="pass y_labeled"):
        XPAL().utilities(None, pool, X_lab)


def test_string_labels_and_pipeline_features(blobs):
    X_lab, y_lab, pool = blobs
    names = np.array(["a", "b", "c"])[y_lab]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_lab, names)
    scaled = model[0]
    ours = XPAL(gamma=0.5).utilities(model, pool, X_lab, names)
    plain = XPAL(gamma=0.5).utilities(None, scaled.transform(pool), scaled.transform(X_lab), y_lab)
    np.testing.assert_allclose(ours, plain)


def test_bad_gamma_is_a_clear_error(blobs):
    X_lab, y_lab, pool = blobs
    for gamma in ("median", -1.0, 0.0, None):
        with pytest.raises(ValueError, match="gamma"):
            ProbabilisticAL(gamma=gamma).utilities(None, pool, X_lab, y_lab)


# ---------------------------------------------------------------------------- xPAL


@settings(max_examples=40, deadline=None)
@given(
    n_classes=st.integers(2, 4),
    alpha=st.sampled_from([(1.0, 1.0), (0.001, 0.001), (2.0, 0.1)]),
    seed=st.integers(0, 10_000),
)
def test_xpal_gain_equals_the_formula(n_classes, alpha, seed):
    rng = np.random.default_rng(seed)
    K_c = rng.choice([0.0, 0.2, 1.0, 3.0], size=(5, n_classes))
    K_x = np.vstack([K_c, rng.choice([0.0, 0.5, 2.0], size=(4, n_classes))])
    S = rng.choice([0.0, 0.1, 0.5, 1.0, 2.0], size=(5, 9))  # exact ties happen
    ours = xpal_gain(K_c, K_x, S, *alpha)
    np.testing.assert_allclose(ours, reference_xpal_gain(K_c, K_x, S, *alpha), atol=1e-12)


def test_xpal_gain_rejects_bad_shapes():
    with pytest.raises(ValueError, match="similarity of shape"):
        xpal_gain(np.zeros((2, 2)), np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        xpal_gain(np.zeros((1, 2)), np.zeros((1, 2)), [[-1.0]])


def test_xpal_strategy_evaluates_on_pool_and_labeled_set(blobs, monkeypatch):
    X_lab, y_lab, pool = blobs
    strategy = XPAL(alpha_c=0.5, alpha_x=2.0, gamma=0.3)
    ours = strategy.utilities(None, pool, X_lab, y_lab)
    everything = np.vstack([pool, X_lab])
    K_x = reference_frequencies(everything, X_lab, y_lab, 3, 0.3)
    S = reference_kernel(pool, everything, 0.3)
    expected = reference_xpal_gain(K_x[: len(pool)], K_x, S, 0.5, 2.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-14)
    picks = strategy.query(None, pool, 4, X_lab, y_lab, random_state=0)
    assert picks.tolist() == np.argsort(-expected, kind="stable")[:4].tolist()
    monkeypatch.setattr(_distances, "_BLOCK_BYTES", 8 * len(everything) * 3)  # 3-row blocks
    np.testing.assert_allclose(strategy.utilities(None, pool, X_lab, y_lab), ours)


def test_xpal_prefers_the_undecided_dense_region():
    # two labeled clusters and a dense unlabeled group between them
    X_lab = np.array([[-4.0], [-4.2], [4.0], [4.2]])
    y_lab = np.array([0, 0, 1, 1])
    pool = np.array([[-4.1], [0.0], [0.1], [-0.1], [0.05], [4.1], [12.0]])
    picks = XPAL(gamma=0.5).query(None, pool, 1, X_lab, y_lab, random_state=0)
    assert pool[picks[0], 0] in (0.0, 0.1, -0.1, 0.05)


def test_xpal_cold_start_runs():
    pool = np.random.default_rng(0).normal(size=(30, 2))
    picks = XPAL().query(None, pool, 3, random_state=0)
    assert np.unique(picks).shape == (3,)
