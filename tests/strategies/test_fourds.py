"""4DS against the paper's equations written out, and scikit-activeml's FourDs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture

from activelab.strategies._fourds import FourDS, fourds_select


def minmax(v):
    return (v - v.min() + 1e-5) / (v.max() - v.min() + 1e-5)


def reference_utilities(proba, log_density, R, R_L, pi, chosen, lmbda):
    """Eq. 9-15 of Reitmaier & Sick (2013), item by item, for the next pick."""
    n = len(proba)
    top = np.sort(proba, axis=1)
    distance = minmax(np.log((top[:, -1] + 1e-5) / (top[:, -2] + 1e-5)))
    density = minmax(log_density)
    labeled_mean = R_L.mean(axis=0) if len(R_L) else np.zeros_like(pi)
    rho = min(1.0, np.abs(pi - labeled_mean).sum())
    if not chosen:
        alpha = (1 - rho) * np.mean((1 - top[:, -1]) * density)
        beta = 1 - rho - alpha
    else:
        rho = min(rho, 1 - lmbda)
        alpha = (1 - rho - lmbda) * (1 - np.mean(1 - top[:, -1]))
        beta = 1 - rho - lmbda - alpha
    out = np.empty(n)
    for i in range(n):
        members = list(R_L) + [R[j] for j in chosen] + [R[i]]
        mean = np.mean(members, axis=0)
        distribution = 1 - sum(max(0.0, pi[c] - mean[c]) for c in range(len(pi)))
        value = alpha * (1 - distance[i]) + beta * density[i] + rho * distribution
        if chosen:
            div = np.array(
                [-np.log(density[j] + sum(density[c] for c in chosen)) for j in range(n)]
            )
            div = (div - div.min()) / (div.max() - div.min())
            value += lmbda * div[i]
        out[i] = value
    out[list(chosen)] = -np.inf
    return out


def random_inputs(rng, n, n_classes, n_components, n_labeled):
    proba = rng.dirichlet(np.ones(n_classes), size=n)
    R = rng.dirichlet(np.ones(n_components), size=n)
    R_L = rng.dirichlet(np.ones(n_components), size=n_labeled)
    pi = rng.dirichlet(np.ones(n_components))
    return proba, rng.normal(size=n), R, R_L, pi


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 12),
    n_components=st.integers(1, 4),
    n_labeled=st.integers(0, 5),
    k=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_batches_follow_the_equations(n, n_components, n_labeled, k, seed):
    rng = np.random.default_rng(seed)
    proba, log_density, R, R_L, pi = random_inputs(rng, n, 3, n_components, n_labeled)
    lmbda = min((k - 1) * 0.05, 0.5)
    picks = fourds_select(proba, log_density, R, R_L, pi, k, random_state=0)
    assert len(set(picks.tolist())) == k
    chosen: list[int] = []
    for pick in picks:
        utilities = reference_utilities(proba, log_density, R, R_L, pi, chosen, lmbda)
        assert utilities[pick] >= np.nanmax(utilities) - 1e-9
        chosen.append(int(pick))


def test_an_unrepresented_component_is_asked_for_first():
    proba = np.full((4, 2), 0.5)
    R = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    R_L = np.array([[1.0, 0.0], [1.0, 0.0]])  # everything labeled so far is component 0
    picks = fourds_select(proba, np.zeros(4), R, R_L, np.array([0.5, 0.5]), 1, random_state=0)
    assert picks.tolist() == [2]


def test_bad_shapes_and_lmbda():
    rng = np.random.default_rng(0)
    proba, log_density, R, R_L, pi = random_inputs(rng, 5, 2, 2, 1)
    with pytest.raises(ValueError, match="responsibilities"):
        fourds_select(proba, log_density[:3], R, R_L, pi, 1)
    with pytest.raises(ValueError, match="lmbda"):
        fourds_select(proba, log_density, R, R_L, pi, 2, lmbda=2.0)


@pytest.fixture(scope="module")
def problem(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    labeled = rng.choice(len(y), 15, replace=False)
    pool = np.setdiff1d(np.arange(len(y)), labeled)
    return X[labeled], y[labeled], X[pool]


def test_strategy_reads_the_model_and_its_own_mixture(problem):
    X, y, pool = problem
    model = LogisticRegression(max_iter=1000).fit(X, y)
    mixture = GaussianMixture(3, random_state=0).fit(np.vstack([pool, X]))
    picks = FourDS(mixture=mixture).query(model, pool, 4, X, y, random_state=0)
    expected = fourds_select(
        model.predict_proba(pool),
        mixture.score_samples(pool),
        mixture.predict_proba(pool),
        mixture.predict_proba(X),
        mixture.weights_,
        4,
        random_state=0,
    )
    assert picks.tolist() == expected.tolist()
    fitted_here = FourDS(n_components=2).query(model, pool, 3, X, y, random_state=0)
    assert len(set(fitted_here.tolist())) == 3
    assert FourDS().query(model, pool, 3, random_state=0).shape == (3,)
    with pytest.raises(ValueError, match="n_components"):
        FourDS(n_components=0).query(model, pool, 3, X, y)


def test_first_pick_matches_scikit_activeml(problem):
    pool_module = pytest.importorskip("skactiveml.pool")
    classifier = pytest.importorskip("skactiveml.classifier")
    X, y, pool = problem
    everything = np.vstack([X, pool])
    labels = np.concatenate([y.astype(float), np.full(len(pool), np.nan)])
    cmm = classifier.MixtureModelClassifier(classes=[0, 1, 2], random_state=0)
    cmm.fit(everything, labels)
    theirs = pool_module.FourDs(random_state=0).query(everything, labels, cmm, fit_clf=False)
    mixture = cmm.mixture_model_
    ours = fourds_select(
        cmm.predict_proba(pool),
        mixture.score_samples(pool),
        mixture.predict_proba(pool),
        mixture.predict_proba(X),
        mixture.weights_,
        1,
        random_state=0,
    )
    assert ours[0] + len(X) == theirs[0]
