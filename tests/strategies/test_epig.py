"""EPIG against a direct implementation of the paper's estimator."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from activelab.strategies import _epig
from activelab.strategies._epig import EPIG, epig


def reference_epig(pool, target):
    """Bickford Smith et al. (2023): mean over x* of KL[p(y, y*) || p(y) p(y*)], item by item."""
    pool, target = np.asarray(pool, float), np.asarray(target, float)
    n_draws, n, n_classes = pool.shape
    out = np.zeros(n)
    for i in range(n):
        values = []
        for j in range(target.shape[1]):
            joint = np.zeros((n_classes, n_classes))
            for k in range(n_draws):
                joint += np.outer(pool[k, i], target[k, j]) / n_draws
            p_y, p_star = joint.sum(axis=1), joint.sum(axis=0)
            value = 0.0
            for a in range(n_classes):
                for b in range(n_classes):
                    if joint[a, b] > 0:
                        value += joint[a, b] * np.log(joint[a, b] / (p_y[a] * p_star[b]))
            values.append(value)
        out[i] = np.mean(values)
    return out


def random_samples(rng, n_draws, n, n_classes, concentration=0.5):
    return rng.dirichlet(np.full(n_classes, concentration), size=(n_draws, n))


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_matches_the_paper(n_classes):
    rng = np.random.default_rng(n_classes)
    pool = random_samples(rng, 7, 12, n_classes)
    target = random_samples(rng, 7, 5, n_classes)
    np.testing.assert_allclose(epig(pool, target), reference_epig(pool, target), atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    n_draws=st.integers(1, 6),
    n=st.integers(1, 8),
    m=st.integers(1, 5),
    n_classes=st.integers(2, 4),
    seed=st.integers(0, 10_000),
)
def test_bounds_and_reference_on_random_problems(n_draws, n, m, n_classes, seed):
    rng = np.random.default_rng(seed)
    pool = random_samples(rng, n_draws, n, n_classes)
    target = random_samples(rng, n_draws, m, n_classes)
    values = epig(pool, target)
    assert values.shape == (n,)
    assert (values >= 0).all() and (values <= np.log(n_classes) + 1e-9).all()
    np.testing.assert_allclose(values, reference_epig(pool, target), atol=1e-9)
    order = rng.permutation(n_draws)  # the draws are exchangeable
    np.testing.assert_allclose(epig(pool[order], target[order]), values, atol=1e-12)


def test_no_disagreement_no_information():
    rng = np.random.default_rng(0)
    one = random_samples(rng, 1, 6, 3)
    pool = np.repeat(one, 4, axis=0)  # every draw agrees
    target = np.repeat(random_samples(rng, 1, 3, 3), 4, axis=0)
    np.testing.assert_allclose(epig(pool, target), 0.0, atol=1e-12)


def test_an_item_that_decides_the_target_has_maximal_epig():
    # Two equally likely hypotheses; item 0 reveals which one holds, item 1 does not.
    pool = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]])
    target = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    np.testing.assert_allclose(epig(pool, target), [np.log(2), 0.0], atol=1e-12)


def test_blocks_give_the_same_scores(monkeypatch):
    rng = np.random.default_rng(1)
    pool, target = random_samples(rng, 5, 40, 3), random_samples(rng, 5, 7, 3)
    whole = epig(pool, target)
    monkeypatch.setattr(_epig, "block_rows", lambda *a, **k: 3)
    np.testing.assert_allclose(epig(pool, target), whole, atol=1e-12)


def test_bad_input_is_a_clear_error():
    rng = np.random.default_rng(2)
    pool = random_samples(rng, 4, 5, 3)
    with pytest.raises(ValueError, match="same K draws"):
        epig(pool, random_samples(rng, 3, 2, 3))
    with pytest.raises(ValueError, match="summing to 1"):
        epig(pool * 2, pool)
    with pytest.raises(ValueError, match="shape"):
        epig(pool[0], pool)
    bad = pool.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        epig(bad, pool)


@pytest.fixture(scope="module")
def forest(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    labeled = rng.choice(len(y), 20, replace=False)
    model = RandomForestClassifier(n_estimators=15, random_state=0).fit(X[labeled], y[labeled])
    return model, X


def test_strategy_scores_the_forest_samples_against_explicit_targets(forest):
    from activelab.models import wrap

    model, X = forest
    pool, target = X[::2], X[1::10]
    samples = wrap(model).sample_proba
    expected = reference_epig(samples(pool), samples(target))
    strategy = EPIG(target=target)
    np.testing.assert_allclose(strategy.utilities(model, pool), expected, atol=1e-10)
    picks = strategy.query(model, pool, 5, random_state=0)
    assert set(picks.tolist()) == set(np.argsort(-expected)[:5].tolist())


def test_default_target_is_a_seeded_sample_of_the_pool(forest):
    from activelab.models import wrap

    model, X = forest
    pool = X[::2]
    samples = wrap(model).sample_proba(pool)
    rows = np.sort(np.random.default_rng(4).choice(len(pool), 10, replace=False))
    expected = epig(samples, samples[:, rows])
    got = EPIG(n_target=10).utilities(model, pool, random_state=4)
    np.testing.assert_allclose(got, expected)
    everything = EPIG(n_target=10_000).utilities(model, pool, random_state=0)
    np.testing.assert_allclose(everything, epig(samples, samples))


def test_needs_posterior_samples_and_valid_parameters(forest, iris):
    X, y = iris
    model, _ = forest
    with pytest.raises(TypeError, match="sample_proba"):
        EPIG().query(LogisticRegression(max_iter=300).fit(X, y), X, 2)
    with pytest.raises(ValueError, match="n_target"):
        EPIG(n_target=0).query(model, X, 2)
    with pytest.raises(ValueError, match="target is empty"):
        EPIG(target=np.empty((0, 4))).query(model, X, 2)
    with pytest.raises(ValueError, match="sampling"):
        EPIG(sampling="best").query(model, X, 2)


def test_same_picks_as_baal(forest):
    heuristics = pytest.importorskip("baal.active.heuristics")
    if not hasattr(heuristics, "EPIG"):
        pytest.skip("this Baal has no EPIG heuristic")
    from activelab.models import wrap

    model, X = forest
    pool, target = X[::3], X[1::7]
    samples = wrap(model).sample_proba
    ours = epig(samples(pool), samples(target))
    theirs = _baal_epig(heuristics, samples(pool), samples(target))
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert set(np.argsort(-ours)[:5]) == set(np.argsort(-theirs)[:5])


def _baal_epig(heuristics, pool, target):
    """Baal's EPIG: ``compute_score(pool [N_p, C, K], target [N_t, C, K])``."""
    heuristic = heuristics.EPIG()
    scores = heuristic.compute_score(pool.transpose(1, 2, 0), target.transpose(1, 2, 0))
    return np.asarray(scores, dtype=np.float64)
