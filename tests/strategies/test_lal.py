"""LAL: the state features, the array regressor, the simulation and the shipped files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestRegressor

import activelab.strategies._lal as lal_module
from activelab.strategies._lal import (
    LAL,
    LALRegressor,
    _fit_forest,
    lal_features,
    simulate_episode_data,
    train_lal,
)

DATA = Path(lal_module.__file__).parent / "data"


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_trees=st.integers(1, 6), depth=st.integers(1, 8))
def test_array_regressor_predicts_like_the_forest(seed, n_trees, depth, tmp_path_factory):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 8))
    y = X[:, 0] - 2 * X[:, 3] + rng.normal(size=80)
    forest = RandomForestRegressor(n_trees, max_depth=depth, random_state=seed).fit(X, y)
    regressor = LALRegressor.from_forest(forest)
    probe = rng.normal(size=(30, 8))
    np.testing.assert_allclose(regressor.predict(probe), forest.predict(probe), atol=1e-10)
    path = tmp_path_factory.mktemp("lal") / "r.npz"
    regressor.save(path)
    # stored as float32: predictions agree to float32 rounding
    np.testing.assert_allclose(
        LALRegressor.load(path).predict(probe), forest.predict(probe), atol=1e-4
    )


def test_regressor_checks_the_width():
    X = np.random.default_rng(0).normal(size=(20, 8))
    regressor = LALRegressor.from_forest(RandomForestRegressor(2, random_state=0).fit(X, X[:, 7]))
    with pytest.raises(ValueError, match="shape"):
        regressor.predict(X[:, :3])


def test_features_follow_the_paper():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 3))
    y = np.array([0, 1] * 6)
    forest = _fit_forest(X, y, 7, 0)
    pool = rng.normal(size=(5, 3))
    features = lal_features(forest, pool, y, 1)
    per_tree = np.array([tree.predict_proba(pool)[:, 1] for tree in forest.estimators_])
    np.testing.assert_allclose(features[:, 0], per_tree.mean(axis=0))
    np.testing.assert_allclose(features[:, 1], per_tree.std(axis=0))
    np.testing.assert_allclose(features[:, 2], 0.5)
    oob = forest.oob_decision_function_
    covered = oob.sum(axis=1) > 0
    accuracy = np.mean(forest.classes_[oob[covered].argmax(axis=1)] == y[covered])
    np.testing.assert_allclose(features[:, 3], accuracy)
    np.testing.assert_allclose(features[:, 4], np.std(forest.feature_importances_ / 3))
    np.testing.assert_allclose(features[:, 5], per_tree.std(axis=0).mean())
    depth = np.mean([tree.tree_.max_depth for tree in forest.estimators_])
    np.testing.assert_allclose(features[:, 6], depth)
    np.testing.assert_allclose(features[:, 7], 12)


def test_simulated_episodes_record_states_and_error_drops():
    features, reductions = simulate_episode_data(
        n_episodes=1,
        n_steps=3,
        n_candidates=2,
        n_estimators=5,
        pool_size=30,
        test_size=60,
        random_state=0,
    )
    assert features.shape == (6, 8) and reductions.shape == (6,)
    assert features[:, 7].tolist() == [2, 2, 3, 3, 4, 4]  # |L| grows by one per state
    assert (np.abs(reductions) <= 1).all()
    # test errors move in steps of 1/60
    np.testing.assert_allclose(np.round(reductions * 60), reductions * 60, atol=1e-9)


def test_train_lal_writes_a_loadable_regressor(tmp_path):
    path = tmp_path / "mine.npz"
    regressor = train_lal(
        "iterative",
        n_episodes=2,
        n_steps=2,
        n_candidates=2,
        n_estimators=5,
        n_trees=3,
        path=path,
        random_state=0,
    )
    assert regressor.roots.shape == (3,)
    probe = np.random.default_rng(0).normal(size=(4, 8))
    np.testing.assert_allclose(
        LALRegressor.load(path).predict(probe), regressor.predict(probe), atol=1e-4
    )
    with pytest.raises(ValueError, match="mode"):
        train_lal("sometimes")


@pytest.fixture(scope="module")
def toy_regressor():
    """A regressor that predicts a larger reduction where the trees disagree more."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 8))
    return LALRegressor.from_forest(RandomForestRegressor(10, random_state=0).fit(X, X[:, 1]))


def test_queries_the_largest_predicted_reduction(iris, toy_regressor):
    X, y = iris
    labeled, pool = X[::6], X[1::3]
    strategy = LAL(regressor=toy_regressor)
    predicted = strategy.predicted_reduction(None, pool, labeled, y[::6], random_state=0)
    forest = _fit_forest(labeled, y[::6], 20, int(np.random.default_rng(0).integers(2**31 - 1)))
    expected = np.mean(
        [toy_regressor.predict(lal_features(forest, pool, y[::6], c)) for c in (0, 1, 2)], axis=0
    )
    np.testing.assert_allclose(predicted, expected)
    picks = strategy.query(None, pool, 4, labeled, y[::6], random_state=0)
    assert set(picks.tolist()) == set(np.argsort(-expected)[:4].tolist())


def test_binary_uses_the_second_class_and_a_saved_path(tmp_path, iris, toy_regressor):
    X, y = iris
    keep = y > 0
    Xb, yb = X[keep], y[keep]
    path = tmp_path / "r.npz"
    toy_regressor.save(path)
    got = LAL(regressor=str(path)).predicted_reduction(None, Xb[1::3], Xb[::5], yb[::5], 0)
    forest = _fit_forest(Xb[::5], yb[::5], 20, int(np.random.default_rng(0).integers(2**31 - 1)))
    expected = LALRegressor.load(path).predict(lal_features(forest, Xb[1::3], yb[::5], 2))
    np.testing.assert_allclose(got, expected)


def test_cold_start_is_random_and_bad_input_is_clear(iris, toy_regressor):
    X, y = iris
    picks = LAL(regressor=toy_regressor).query(None, X, 3, random_state=0)
    assert picks.tolist() == np.random.default_rng(0).permutation(len(X))[:3].tolist()
    with pytest.raises(ValueError, match="mode"):
        LAL(mode="greedy").query(None, X, 3, X[::10], y[::10])
    with pytest.raises(ValueError, match="n_estimators"):
        LAL(regressor=toy_regressor, n_estimators=0).query(None, X, 3, X[::10], y[::10])
    with pytest.raises(ValueError, match="y_labeled"):
        LAL(regressor=toy_regressor).query(None, X, 3, X[::10])


@pytest.mark.parametrize("mode", ["independent", "iterative"])
def test_shipped_regressors_are_small_and_load(mode):
    path = DATA / f"lal_{mode}.npz"
    assert path.stat().st_size < 1_000_000
    regressor = LALRegressor.load(path)
    assert regressor.roots.shape == (50,)
    features, _ = simulate_episode_data(1, 2, 2, 20, random_state=5)
    assert np.isfinite(regressor.predict(features)).all()


@pytest.mark.slow
def test_shipped_iterative_regressor_ranks_held_out_candidates():
    """On fresh simulated episodes, within each state (what a query compares), the
    predicted reductions rank the measured ones better than chance."""
    from scipy.stats import spearmanr

    features, reductions = simulate_episode_data(3, 8, 5, 20, random_state=12345)
    state = np.repeat(np.arange(len(reductions) // 5), 5)
    predicted = LALRegressor.load(DATA / "lal_iterative.npz").predict(features)

    def centred(values):
        means = np.bincount(state, values) / np.bincount(state)
        return values - means[state]

    assert spearmanr(centred(predicted), centred(reductions)).statistic > 0.05
