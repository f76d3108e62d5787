"""Every registered strategy passes the same battery of checks.

A new strategy gets these tests by registering; nothing here names a strategy. Each runs
on a model and data of its task (``Strategy.task``): classification strategies on iris
with a classifier, regression strategies on a Friedman #1 regression problem with the
regressor their ``needs`` call for, task-agnostic ones on both.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeRegressor

import activelab as al

NAMES = al.strategies.available()
# llm_select has no endpoint here: it warns and picks with its fallback strategy.
pytestmark = pytest.mark.filterwarnings("ignore::activelab.strategies.LLMUnavailableWarning")


def make(name: str, **params):
    """The registered strategy ``name`` with parameters."""
    return al.strategies.get(name, **params)


def describe(name: str) -> dict[str, str]:
    return al.strategies.describe(name)


def task(name: str) -> str:
    return type(make(name)).task


CLASSIFICATION = [n for n in NAMES if task(n) in ("classification", "any")]
REGRESSION = [n for n in NAMES if task(n) in ("regression", "any")]


def _tiny_mlp(n_features: int, n_classes: int):
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 8), torch.nn.ReLU(), torch.nn.Linear(8, n_classes)
    )


def model_for(name: str):
    """An unfitted estimator that provides everything strategy ``name`` needs."""
    needs = make(name).needs
    if "predict_loss" in needs:  # loss prediction: a network trained with its module
        pytest.importorskip("torch")
        from activelab.models import TorchClassifier
        from activelab.strategies import LossPredictionHead

        return TorchClassifier(
            _tiny_mlp,
            auxiliary=LossPredictionHead(["1"], hidden=8),
            epochs=5,
            lr=0.05,
            random_state=0,
        )
    if "sample_proba" in needs:
        return RandomForestClassifier(n_estimators=8, random_state=0)
    return LogisticRegression(max_iter=500)


def regressor_for(name: str):
    """An unfitted regressor that provides everything strategy ``name`` needs."""
    needs = make(name).needs
    if "sample_predict" in needs:
        return RandomForestRegressor(n_estimators=8, random_state=0)
    if "apply" in needs:  # a single tree
        return DecisionTreeRegressor(min_samples_leaf=2, random_state=0)
    return gaussian_process()


def gaussian_process() -> GaussianProcessRegressor:
    kernel = ConstantKernel(1.0) * RBF(1.0, length_scale_bounds=(0.05, 100.0)) + WhiteKernel(0.1)
    return GaussianProcessRegressor(kernel, random_state=0)


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


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_returns_k_unique_indices_in_range(name, data):
    X, y, pool = data
    picks = make(name).query(fitted(name, X, y), pool, 7, X, y, random_state=0)
    assert_valid(picks, 7, len(pool))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_k_equal_to_pool_size(name, data):
    X, y, pool = data
    picks = make(name).query(fitted(name, X, y), pool, len(pool), X, y, 0)
    assert_valid(picks, len(pool), len(pool))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_pool_of_one(name, data):
    X, y, pool = data
    picks = make(name).query(fitted(name, X, y), pool[:1], 1, X, y, 0)
    assert picks.tolist() == [0]


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_k_larger_than_pool_is_a_clear_error(name, data):
    X, y, pool = data
    with pytest.raises(ValueError, match="larger than the pool"):
        make(name).query(fitted(name, X, y), pool[:3], 4, X, y, 0)


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_same_random_state_same_answer(name, data):
    X, y, pool = data
    model = fitted(name, X, y)
    strategy = make(name)
    first = strategy.query(model, pool, 10, X, y, random_state=3)
    again = strategy.query(model, pool, 10, X, y, random_state=3)
    from_generator = strategy.query(model, pool, 10, X, y, np.random.default_rng(3))
    assert first.tolist() == again.tolist() == from_generator.tolist()


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_string_labels(name, data):
    X, y, pool = data
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    picks = make(name).query(fitted(name, X, names), pool, 5, X, names, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_dataframe_input(name, data):
    X, y, pool = data
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame, pool_frame = pd.DataFrame(X, columns=columns), pd.DataFrame(pool, columns=columns)
    picks = make(name).query(fitted(name, frame, y), pool_frame, 5, frame, y, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_pool_of_exact_duplicates(name, data):
    X, y, _ = data
    pool = np.repeat(X[:1], 20, axis=0)
    picks = make(name).query(fitted(name, X, y), pool, 6, X, y, 0)
    assert_valid(picks, 6, 20)


def needs_a_model(name: str) -> bool:
    """Strategies that need only embeddings run on raw features; the rest need a model."""
    return not set(make(name).needs) <= {"embed"}


@pytest.mark.parametrize("name", [n for n in CLASSIFICATION if needs_a_model(n)])
def test_missing_capability_is_a_type_error_naming_it(name, data):
    X, y, pool = data
    strategy = make(name)
    if "sample_proba" in strategy.needs:
        lacking, missing = LogisticRegression(max_iter=500).fit(X, y), "sample_proba"
    elif "predict_loss" in strategy.needs:
        lacking, missing = LogisticRegression(max_iter=500).fit(X, y), "predict_loss"
    elif "gradient_lengths" in strategy.needs:
        lacking, missing = LinearSVC().fit(X, y), "gradient_lengths|predict_proba"
    elif "decision_function" in strategy.needs:  # margin strategies: a model without it
        lacking, missing = GaussianNB().fit(X, y), "decision_function"
    else:
        lacking, missing = LinearSVC().fit(X, y), "predict_proba"
    with pytest.raises(TypeError, match=missing):
        strategy.query(lacking, pool, 3, X, y, 0)
    with pytest.raises(TypeError, match="model=None"):
        strategy.query(None, pool, 3, X, y, 0)


@pytest.mark.parametrize("name", [n for n in CLASSIFICATION if not needs_a_model(n)])
def test_embedding_strategies_run_without_a_model(name, data):
    X, y, pool = data
    picks = make(name).query(None, pool, 5, X, y, random_state=0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", NAMES)
def test_metadata_clone_and_pickle(name):
    strategy = make(name)
    row = describe(name)
    assert row["name"] == name and row["summary"] and row["reference"]
    assert type(clone(strategy)) is type(strategy)
    assert repr(pickle.loads(pickle.dumps(strategy))) == repr(strategy)
    assert strategy.__doc__


@pytest.mark.parametrize("name", [n for n in CLASSIFICATION if "sampling" in make(n).get_params()])
@pytest.mark.parametrize("sampling", ["softmax", "power", "softrank"])
def test_score_strategies_take_every_sampling_mode(name, sampling, data):
    X, y, pool = data
    strategy = make(name, sampling=sampling, temperature=0.5)
    picks = strategy.query(fitted(name, X, y), pool, 5, X, y, 0)
    assert_valid(picks, 5, len(pool))


# ---------------------------------------------------------------- regression battery


@pytest.fixture(scope="module")
def regression_data():
    X, y = make_friedman1(n_samples=70, n_features=5, noise=0.3, random_state=0)
    return X[:14], y[:14], X[14::]


def fitted_regressor(name, X, y):
    return regressor_for(name).fit(X, y)


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_returns_k_unique_indices_in_range(name, regression_data):
    X, y, pool = regression_data
    picks = make(name).query(fitted_regressor(name, X, y), pool, 7, X, y, random_state=0)
    assert_valid(picks, 7, len(pool))


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_k_equal_to_pool_size(name, regression_data):
    X, y, pool = regression_data
    picks = make(name).query(fitted_regressor(name, X, y), pool, len(pool), X, y, 0)
    assert_valid(picks, len(pool), len(pool))


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_pool_of_one(name, regression_data):
    X, y, pool = regression_data
    picks = make(name).query(fitted_regressor(name, X, y), pool[:1], 1, X, y, 0)
    assert picks.tolist() == [0]


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_k_larger_than_pool_is_a_clear_error(name, regression_data):
    X, y, pool = regression_data
    with pytest.raises(ValueError, match="larger than the pool"):
        make(name).query(fitted_regressor(name, X, y), pool[:3], 4, X, y, 0)


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_same_random_state_same_answer(name, regression_data):
    X, y, pool = regression_data
    model = fitted_regressor(name, X, y)
    strategy = make(name)
    first = strategy.query(model, pool, 10, X, y, random_state=3)
    again = strategy.query(model, pool, 10, X, y, random_state=3)
    from_generator = strategy.query(model, pool, 10, X, y, np.random.default_rng(3))
    assert first.tolist() == again.tolist() == from_generator.tolist()


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_integer_targets(name, regression_data):
    X, y, pool = regression_data
    counts = np.round(y).astype(np.int64)
    picks = make(name).query(fitted_regressor(name, X, counts), pool, 5, X, counts, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_dataframe_input(name, regression_data):
    X, y, pool = regression_data
    columns = ["a", "b", "c", "d", "e"]
    frame, pool_frame = pd.DataFrame(X, columns=columns), pd.DataFrame(pool, columns=columns)
    model = fitted_regressor(name, frame, y)
    picks = make(name).query(model, pool_frame, 5, frame, y, 0)
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_pool_of_exact_duplicates(name, regression_data):
    X, y, _ = regression_data
    pool = np.repeat(X[:1], 20, axis=0)
    picks = make(name).query(fitted_regressor(name, X, y), pool, 6, X, y, 0)
    assert_valid(picks, 6, 20)


def lacking_regressor(needs: tuple[str, ...]):
    """A fitted-able regressor without the first regression capability in ``needs``."""
    for capability in needs:
        if capability in ("predict_std", "apply"):
            return LinearRegression(), capability
        if capability == "sample_predict":
            return gaussian_process(), capability
    return None, None


@pytest.mark.parametrize("name", [n for n in REGRESSION if task(n) == "regression"])
def test_regression_strategy_refuses_a_classifier_and_a_lacking_regressor(
    name, regression_data, data
):
    X, y, pool = regression_data
    Xc, yc, _ = data
    strategy = make(name)
    classifier = LogisticRegression(max_iter=500).fit(np.hstack([Xc, Xc[:, :1]]), yc)
    with pytest.raises(TypeError, match=r"regression strategy.*classifier"):
        strategy.query(classifier, pool, 3, X, y, 0)
    with pytest.raises(TypeError, match="model=None"):
        strategy.query(None, pool, 3, X, y, 0)
    regressor, missing = lacking_regressor(strategy.needs)
    if regressor is not None:
        with pytest.raises(TypeError, match=missing):
            strategy.query(regressor.fit(X, y), pool, 3, X, y, 0)


CLASS_CAPABILITIES = {"predict_proba", "sample_proba", "grad_embed"}


@pytest.mark.parametrize(
    "name", [n for n in CLASSIFICATION if CLASS_CAPABILITIES & set(make(n).needs)]
)
def test_classification_strategy_given_a_regressor_names_what_it_needs(name, regression_data):
    X, y, pool = regression_data
    strategy = make(name)
    needed = next(c for c in strategy.needs if c in CLASS_CAPABILITIES)
    regressor = RandomForestRegressor(n_estimators=4, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match=rf"{needed}.*regressor"):
        strategy.query(regressor, pool, 3, X, y, 0)


@pytest.mark.parametrize("name", [n for n in REGRESSION if "sampling" in make(n).get_params()])
@pytest.mark.parametrize("sampling", ["softmax", "power", "softrank"])
def test_regression_score_strategies_take_every_sampling_mode(name, sampling, regression_data):
    X, y, pool = regression_data
    strategy = make(name, sampling=sampling, temperature=0.5)
    picks = strategy.query(fitted_regressor(name, X, y), pool, 5, X, y, 0)
    assert_valid(picks, 5, len(pool))


def test_every_strategy_has_a_known_task():
    known = {"classification", "regression", "any", "sequence", "multilabel"}
    assert {task(n) for n in NAMES} <= known
    assert REGRESSION, "no regression strategy found"
    assert MULTILABEL, "no multi-label strategy found"


# ---------------------------------------------------------------- multi-label battery

MULTILABEL = [n for n in NAMES if task(n) == "multilabel"]


@pytest.fixture(scope="module")
def multilabel_data():
    from sklearn.datasets import make_multilabel_classification

    X, Y = make_multilabel_classification(n_samples=80, n_features=5, n_classes=4, random_state=0)
    return X[:16], Y[:16], X[16:]


def multilabel_model(X, Y):
    from sklearn.multiclass import OneVsRestClassifier

    return OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(X, Y)


@pytest.mark.parametrize("name", MULTILABEL)
def test_multilabel_returns_k_unique_indices_in_range(name, multilabel_data):
    X, Y, pool = multilabel_data
    picks = make(name).query(multilabel_model(X, Y), pool, 7, X, Y, random_state=0)
    assert_valid(picks, 7, len(pool))


@pytest.mark.parametrize("name", MULTILABEL)
def test_multilabel_k_equal_to_pool_size_and_pool_of_one(name, multilabel_data):
    X, Y, pool = multilabel_data
    model = multilabel_model(X, Y)
    assert_valid(make(name).query(model, pool, len(pool), X, Y, 0), len(pool), len(pool))
    assert make(name).query(model, pool[:1], 1, X, Y, 0).tolist() == [0]


@pytest.mark.parametrize("name", MULTILABEL)
def test_multilabel_k_larger_than_pool_is_a_clear_error(name, multilabel_data):
    X, Y, pool = multilabel_data
    with pytest.raises(ValueError, match="larger than the pool"):
        make(name).query(multilabel_model(X, Y), pool[:3], 4, X, Y, 0)


@pytest.mark.parametrize("name", MULTILABEL)
def test_multilabel_same_random_state_same_answer(name, multilabel_data):
    X, Y, pool = multilabel_data
    model, strategy = multilabel_model(X, Y), make(name)
    first = strategy.query(model, pool, 10, X, Y, random_state=3)
    again = strategy.query(model, pool, 10, X, Y, random_state=3)
    from_generator = strategy.query(model, pool, 10, X, Y, np.random.default_rng(3))
    assert first.tolist() == again.tolist() == from_generator.tolist()


@pytest.mark.parametrize("name", MULTILABEL)
def test_multilabel_dataframe_input_and_duplicates(name, multilabel_data):
    X, Y, pool = multilabel_data
    columns = ["a", "b", "c", "d", "e"]
    frame, pool_frame = pd.DataFrame(X, columns=columns), pd.DataFrame(pool, columns=columns)
    picks = make(name).query(multilabel_model(frame, Y), pool_frame, 5, frame, Y, 0)
    assert_valid(picks, 5, len(pool))
    duplicates = np.repeat(X[:1], 20, axis=0)
    assert_valid(make(name).query(multilabel_model(X, Y), duplicates, 6, X, Y, 0), 6, 20)


@pytest.mark.parametrize("name", [n for n in MULTILABEL if needs_a_model(n)])
def test_multilabel_strategy_refuses_a_single_label_model(name, multilabel_data):
    X, Y, pool = multilabel_data
    single = LogisticRegression(max_iter=500).fit(X, Y[:, 0])
    with pytest.raises(TypeError, match="multi-label"):
        make(name).query(single, pool, 3, X, Y, 0)
    with pytest.raises(TypeError, match="model=None"):
        make(name).query(None, pool, 3, X, Y, 0)


@pytest.mark.parametrize("name", MULTILABEL)
def test_multilabel_strategy_needs_the_label_matrix_shape(name, multilabel_data):
    X, Y, pool = multilabel_data
    picks = make(name).query(multilabel_model(X, Y), pool, 3, X, Y, 0)
    assert_valid(picks, 3, len(pool))
    if name in ("min_confidence", "avg_confidence", "max_score", "avg_score"):
        return  # these read the pool only
    if name in ("binary_minimization", "max_loss", "mean_max_loss"):
        return
    with pytest.raises(ValueError, match=r"Y_labeled|indicator|label"):
        make(name).query(multilabel_model(X, Y), pool, 3, X, Y[:, 0], 0)


@pytest.mark.parametrize("name", [n for n in MULTILABEL if "sampling" in make(n).get_params()])
@pytest.mark.parametrize("sampling", ["softmax", "power", "softrank"])
def test_multilabel_score_strategies_take_every_sampling_mode(name, sampling, multilabel_data):
    X, Y, pool = multilabel_data
    strategy = make(name, sampling=sampling, temperature=0.5)
    model = multilabel_model(X, Y)
    try:
        picks = strategy.query(model, pool, 5, X, Y, 0)
    except ValueError as error:  # power sampling needs non-negative scores, and says so
        assert sampling == "power" and "non-negative" in str(error)
        return
    assert_valid(picks, 5, len(pool))


@pytest.mark.parametrize("name", [n for n in MULTILABEL if hasattr(make(n), "query_pairs")])
def test_multilabel_pair_queries_ask_unknown_pairs(name, multilabel_data):
    X, Y, pool = multilabel_data
    X_all = np.vstack([X, pool])
    partial = np.full((X_all.shape[0], Y.shape[1]), np.nan)
    partial[: X.shape[0]] = Y
    partial[X.shape[0] :: 2, 0] = 1.0  # some pool items with one known label
    model = al.models.MultiLabelAdapter(clone(multilabel_model(X, Y))).fit(X_all, partial)
    pairs = make(name).query_pairs(model, X_all, partial, 9, random_state=0)
    assert pairs.shape == (9, 2) and pairs.dtype == np.int64
    assert np.isnan(partial[pairs[:, 0], pairs[:, 1]]).all()
    assert len({tuple(p) for p in pairs.tolist()}) == 9
    again = make(name).query_pairs(model, X_all, partial, 9, random_state=0)
    assert again.tolist() == pairs.tolist()
    with pytest.raises(ValueError, match="larger than the pool"):
        make(name).query_pairs(model, X_all, partial, int(np.isnan(partial).sum()) + 1, 0)
