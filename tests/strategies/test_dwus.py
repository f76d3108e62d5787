"""DWUS: uncertainty × a pre-clustered Gaussian mixture density fitted by EM."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal
from sklearn.linear_model import LogisticRegression

import activelab as al
from activelab.strategies import DWUS
from activelab.strategies._dwus import mixture_density


@pytest.fixture(scope="module")
def clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]])
    sizes = [120, 60, 20]
    X = np.vstack([c + rng.normal(size=(s, 2)) for c, s in zip(centres, sizes, strict=True)])
    labels = np.repeat(np.arange(3), sizes)
    return X, labels


def reference_log_density(X, labels, n_iter=2000):
    """Isotropic mixture on the cluster means, shared ML variance, EM on the weights."""
    centres = np.array([X[labels == c].mean(axis=0) for c in range(labels.max() + 1)])
    variance = np.mean(((X - centres[labels]) ** 2).sum(axis=1)) / X.shape[1]
    pdf = np.column_stack(
        [multivariate_normal(c, variance * np.eye(X.shape[1])).pdf(X) for c in centres]
    )
    prior = np.full(len(centres), 1 / len(centres))
    for _ in range(n_iter):
        resp = pdf * prior
        resp /= resp.sum(axis=1, keepdims=True)
        prior = resp.mean(axis=0)
    return np.log(pdf @ prior), prior


def test_density_matches_the_reference_em(clusters):
    X, labels = clusters
    ours = mixture_density(X, n_clusters=3, max_iter=5000, tol=0.0, random_state=0)
    expected, prior = reference_log_density(X, labels)
    np.testing.assert_allclose(ours, expected, rtol=1e-5)  # float32 centres
    np.testing.assert_allclose(np.sort(prior), [0.1, 0.3, 0.6], atol=0.02)


def test_utilities_are_uncertainty_times_scaled_density(clusters):
    X, labels = clusters
    model = LogisticRegression().fit(X, labels)
    pool = X[::4]
    strategy = DWUS(n_clusters=3)
    rng = np.random.default_rng(0)
    utilities = strategy._utilities(al.models.wrap(model), pool, X[1::4], rng)
    log_p = mixture_density(
        pool, 3, random_state=np.random.default_rng(0), fit_on=np.vstack([pool, X[1::4]])
    )
    expected = al.scores.least_confidence(model.predict_proba(pool)) * np.exp(log_p - log_p.max())
    np.testing.assert_allclose(utilities, expected)
    picks = strategy.query(model, pool, 5, X[1::4], labels[1::4], random_state=0)
    assert set(picks.tolist()) == set(np.argsort(-expected)[:5].tolist())


def test_an_uncertain_outlier_waits(clusters):
    X, labels = clusters
    model = LogisticRegression().fit(X, labels)
    boundary = np.array([[6.0, 0.0]])  # between two dense clusters
    outlier = np.array([[30.0, -30.0]])
    pool = np.vstack([X[:50], boundary, outlier])
    picks = DWUS(n_clusters=3).query(model, pool, 1, X, labels, random_state=0)
    assert picks.tolist() != [51]


def test_bad_parameters(clusters):
    X, _ = clusters
    with pytest.raises(ValueError, match="variance"):
        mixture_density(X, variance=0.0)
    with pytest.raises(ValueError, match="n_clusters"):
        mixture_density(X, n_clusters=0)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 6), seed=st.integers(0, 999))
def test_property_density_integrates_like_a_mixture(n, k, seed):
    """log p is finite, and a far point is less likely than every data point."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    log_p = mixture_density(np.vstack([X, [[50.0, 50.0]]]), k, random_state=seed, fit_on=X)
    assert np.isfinite(log_p).all()
    assert (log_p[-1] < log_p[:-1]).all()
