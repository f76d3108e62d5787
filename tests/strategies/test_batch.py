"""Batch strategies: BADGE's gradients, information density, diversity on duplicate pools."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import activelab as al
from activelab.models import wrap
from activelab.select import kmeans_pp
from activelab.strategies import Diverse, Margin
from activelab.strategies._batch import density


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=600, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    return X[:60], y[:60], X[60:]


def cross_entropy_gradient(W, b, x, label):
    """∂ −log softmax(Wx + b)[label] / ∂[W b], by central differences."""
    params = np.hstack([W, b[:, None]])
    gradient = np.zeros_like(params)

    def loss(p):
        logits = p[:, :-1] @ x + p[:, -1]
        logits = logits - logits.max()
        return -(logits[label] - np.log(np.exp(logits).sum()))

    for index in np.ndindex(params.shape):
        step = np.zeros_like(params)
        step[index] = 1e-6
        gradient[index] = (loss(params + step) - loss(params - step)) / 2e-6
    return gradient.ravel()


def test_grad_embed_is_the_cross_entropy_gradient_at_the_predicted_label(problem):
    X, y, pool = problem
    model = LogisticRegression(max_iter=1000).fit(X, y)
    embedding = wrap(model).grad_embed(pool[:5])
    for row in range(5):
        predicted = int(np.argmax(model.predict_proba(pool[row : row + 1])))
        expected = cross_entropy_gradient(model.coef_, model.intercept_, pool[row], predicted)
        np.testing.assert_allclose(embedding[row], expected, atol=1e-4)


def test_grad_embed_of_an_mlp_uses_its_last_hidden_layer(problem):
    X, y, pool = problem
    mlp = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2000, random_state=0).fit(X, y)
    residual, hidden = wrap(mlp).grad_embed(pool[:4], factored=True)
    assert residual.shape == (4, 3) and hidden.shape == (4, 9)
    expected_hidden = np.maximum(pool[:4] @ mlp.coefs_[0] + mlp.intercepts_[0], 0.0)
    np.testing.assert_allclose(hidden[:, :-1], expected_hidden, rtol=1e-5, atol=1e-5)
    dense = wrap(mlp).grad_embed(pool[:4])
    np.testing.assert_allclose(dense, (residual[:, :, None] * hidden[:, None, :]).reshape(4, -1))


def test_badge_equals_kmeans_pp_on_the_dense_gradient_embeddings(problem):
    X, y, pool = problem
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    picks = al.strategies.get("badge").query(model, pool, 15, random_state=7)
    dense = wrap(model).grad_embed(pool)
    reference = kmeans_pp(dense, 15, first="max_norm", random_state=7)
    assert picks.tolist() == reference.tolist()


def test_badge_needs_a_softmax_head(problem):
    X, y, pool = problem
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="grad_embed"):
        al.strategies.get("badge").query(forest, pool, 3)


def test_density_matches_brute_force():
    rng = np.random.default_rng(0)
    points = np.abs(rng.normal(size=(40, 5)))
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    shifted = (1 + unit @ unit.T) / 2
    np.testing.assert_allclose(density(points, "cosine"), shifted.mean(1), rtol=1e-5)
    signed = rng.normal(size=(40, 5))
    signed_unit = signed / np.linalg.norm(signed, axis=1, keepdims=True)
    expected = ((1 + signed_unit @ signed_unit.T) / 2).mean(1)
    np.testing.assert_allclose(density(signed, "cosine"), expected, rtol=1e-5)
    assert (density(signed, "cosine") > 0).all()
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.testing.assert_allclose(
        density(points, "euclidean"), (1 / (1 + distances)).mean(1), rtol=1e-4
    )
    nearest = np.sort(distances, axis=1)[:, :7]
    np.testing.assert_allclose(
        density(points, "euclidean", n_neighbors=7), (1 / (1 + nearest)).mean(1), rtol=1e-3
    )


def test_information_density_is_uncertainty_times_density(problem):
    X, y, pool = problem
    model = LogisticRegression(max_iter=1000).fit(X, y)
    strategy = al.strategies.get("information_density", beta=2.0, metric="euclidean")
    expected = al.scores.entropy(model.predict_proba(pool)) * density(pool, "euclidean") ** 2
    np.testing.assert_allclose(strategy.utilities(model, pool), expected, rtol=1e-5)


def duplicate_pool():
    """10 exact copies of each of 50 points, and a model trained on other points."""
    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=1
    )
    pool = np.repeat(X[:50], 10, axis=0)
    return X[50:], y[50:], pool


@pytest.mark.parametrize("name", ["coreset", "badge", "diverse_minibatch", "facility_location"])
def test_diverse_strategies_pick_distinct_points_where_top_k_picks_copies(name):
    X, y, pool = duplicate_pool()
    model = LogisticRegression(max_iter=1000).fit(X, y)
    k = 20
    margin = al.strategies.get("margin").query(model, pool, k, random_state=0)
    assert len({tuple(pool[p]) for p in margin}) < k  # top-k takes copies of the same point
    picks = al.strategies.get(name).query(model, pool, k, X, y, random_state=0)
    assert len({tuple(pool[p]) for p in picks}) == k


def test_diverse_wrapper_makes_any_score_strategy_diverse():
    X, y, pool = duplicate_pool()
    model = LogisticRegression(max_iter=1000).fit(X, y)
    for method in ("cluster", "kcenter"):
        strategy = Diverse(Margin(), method=method)  # 10·k candidates: k distinct points
        picks = strategy.query(model, pool, 5, X, y, random_state=0)
        assert len({tuple(pool[p]) for p in picks}) == 5
    assert Diverse("entropy").needs == ("predict_proba", "embed")
    with pytest.raises(ValueError, match="method"):
        Diverse(method="nope").query(model, pool, 3)
    with pytest.raises(TypeError, match="score strategy"):
        Diverse(base=al.strategies.get("coreset")).query(model, pool, 3)


def test_coreset_cold_start_on_features_alone():
    blobs = np.vstack([np.full((10, 2), c) for c in ([0, 0], [5, 5], [10, 0])])
    picks = al.strategies.get("coreset").query(None, blobs, 3, random_state=0)
    assert sorted(p // 10 for p in picks) == [0, 1, 2]
