"""Every registered strategy passes the same battery of checks.

A new strategy gets these tests by registering; nothing here names a strategy.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

import activelab as al

NAMES = al.strategies.available()


def model_for(name: str):
    """An unfitted estimator that provides everything strategy ``name`` needs."""
    needs = al.strategies.get(name).needs
    if "sample_proba" in needs:
        return RandomForestClassifier(n_estimators=8, random_state=0)
    return LogisticRegression(max_iter=500)


@pytest.fixture(scope="module")
def data(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    labeled = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 4, replace=False) for c in range(3)]
    )
    pool = np.setdiff1d(np.arange(len(y)), labeled)[::3]
    return X[labeled], y[labeled], X[pool]


def fitted(name, X, y):
    return model_for(name).fit(X, y)


def assert_valid(indices, k, n):
    assert isinstance(indices, np.ndarray)
    assert indices.dtype == np.int64
    assert indices.shape == (k,)
    assert np.unique(indices).shape[0] == k
    assert indices.min() >= 0 and indices.max() < n


@pytest.mark.parametrize("name", NAMES)
def test_returns_k_unique_indices_in_range(name, data):
    X, y, pool = data
    picks = al.strategies.get(name).query(fitted(name, X, y), pool, 7, X, y, random_state=0)
    assert_valid(picks, 7, len(pool))


@pytest.mark.parametrize("name", NAMES)
def test_k_equal_to_pool_size(name, data):
    X, y, pool = data
    picks = al.strategies.get(name).query(fitted(name, X, y), pool, len(pool), X, y, 0)
    assert_valid(picks, len(pool), len(pool))


@pytest.mark.parametrize("name", NAMES)
def test_pool_of_one(name, data):
    X, y, pool = data
    picks = al.strategies.get(name).query(fitted(name, X, y), pool[:1], 1, X, y, 0)
    assert picks.tolist() == [0]


@pytest.mark.parametrize("name", NAMES)
def test_k_larger_than_pool_is_a_clear_error(name, data):
    X, y, pool = data
    with pytest.raises(ValueError, match="larger than the pool"):
        al.strategies.get(name).query(fitted(name, X, y), pool[:3], 4, X, y, 0)


@pytest.mark.parametrize("name", NAMES)
def test_same_random_state_same_answer(name, data):
    X, y, pool = data
    model = fitted(name, X, y)
    strategy = al.strategies.get(name)
    first = strategy.query(model, pool, 10, X, y, random_state=3)
    again = strategy.query(model, pool, 10, X, y, random_state=3)
    from_generator = strategy.query(model, pool, 10, X, y, np.random.default_rng(3))
    assert first.tolist() == again.tolist() == from_generator.tolist()


@pytest.mark.parametrize("name", NAMES)
def test_string_labels(name, data):
    X, y, pool = data
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    picks = al.strategies.get(name).query(fitted(name, X, names), pool, 5, X, names, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", NAMES)
def test_dataframe_input(name, data):
    X, y, pool = data
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame, pool_frame = pd.DataFrame(X, columns=columns), pd.DataFrame(pool, columns=columns)
    picks = al.strategies.get(name).query(fitted(name, frame, y), pool_frame, 5, frame, y, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", NAMES)
def test_pool_of_exact_duplicates(name, data):
    X, y, _ = data
    pool = np.repeat(X[:1], 20, axis=0)
    picks = al.strategies.get(name).query(fitted(name, X, y), pool, 6, X, y, 0)
    assert_valid(picks, 6, 20)


def needs_a_model(name: str) -> bool:
    """Strategies that need only embeddings run on raw features; the rest need a model."""
    return not set(al.strategies.get(name).needs) <= {"embed"}


@pytest.mark.parametrize("name", [n for n in NAMES if needs_a_model(n)])
def test_missing_capability_is_a_type_error_naming_it(name, data):
    X, y, pool = data
    strategy = al.strategies.get(name)
    if "sample_proba" in strategy.needs:
        lacking, missing = LogisticRegression(max_iter=500).fit(X, y), "sample_proba"
    else:
        lacking, missing = LinearSVC().fit(X, y), "predict_proba"
    with pytest.raises(TypeError, match=missing):
        strategy.query(lacking, pool, 3, X, y, 0)
    with pytest.raises(TypeError, match="model=None"):
        strategy.query(None, pool, 3, X, y, 0)


@pytest.mark.parametrize("name", [n for n in NAMES if not needs_a_model(n)])
def test_embedding_strategies_run_without_a_model(name, data):
    X, y, pool = data
    picks = al.strategies.get(name).query(None, pool, 5, X, y, random_state=0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", NAMES)
def test_metadata_clone_and_pickle(name):
    strategy = al.strategies.get(name)
    row = al.strategies.describe(name)
    assert row["name"] == name and row["summary"] and row["reference"]
    assert type(clone(strategy)) is type(strategy)
    assert repr(pickle.loads(pickle.dumps(strategy))) == repr(strategy)
    assert strategy.__doc__


@pytest.mark.parametrize(
    "name", [n for n in NAMES if "sampling" in al.strategies.get(n).get_params()]
)
@pytest.mark.parametrize("sampling", ["softmax", "power", "softrank"])
def test_score_strategies_take_every_sampling_mode(name, sampling, data):
    X, y, pool = data
    strategy = al.strategies.get(name, sampling=sampling, temperature=0.5)
    picks = strategy.query(fitted(name, X, y), pool, 5, X, y, 0)
    assert_valid(picks, 5, len(pool))
