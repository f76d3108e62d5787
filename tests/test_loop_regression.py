"""The loop on regression: simulate and ActiveLearner with regressors and float targets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.tree import DecisionTreeRegressor

import activelab as al
from activelab.loop import LOWER_IS_BETTER, METRICS, REGRESSION_METRICS, aulc
from activelab.strategies._regression import (
    IntervalWidth,
    PredictiveVariance,
    QueryByCommitteeRegression,
)
from activelab.strategies._regression_expected import (
    ExpectedModelOutputChange,
    ExpectedModelVarianceReduction,
    KLDivergenceMaximization,
)
from activelab.strategies._regression_greedy import (
    GreedySamplingTarget,
    GreedySamplingX,
    ImprovedGreedySampling,
)
from activelab.strategies._regression_tree import RegressionTreeBasedAL

# Gaussian processes fitted on a handful of points often put a hyperparameter on a bound.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=160, n_features=5, noise=0.5, random_state=0)
    return X[:120], y[:120], X[120:], y[120:]


def gp():
    kernel = ConstantKernel(4.0) * RBF(1.0, length_scale_bounds=(0.1, 100.0)) + WhiteKernel(
        0.3, noise_level_bounds=(1e-4, 10.0)
    )
    return GaussianProcessRegressor(kernel, normalize_y=True, random_state=0)


def test_regression_metrics_are_the_usual_ones():
    rng = np.random.default_rng(0)
    truth, guess = rng.normal(size=30), rng.normal(size=30)
    assert METRICS["rmse"](truth, guess) == pytest.approx(np.sqrt(mean_squared_error(truth, guess)))
    assert METRICS["mae"](truth, guess) == pytest.approx(mean_absolute_error(truth, guess))
    assert METRICS["r2"](truth, guess) == pytest.approx(r2_score(truth, guess))
    assert {"rmse", "mae"} <= set(LOWER_IS_BETTER)
    assert REGRESSION_METRICS == ("rmse", "mae", "r2")


def test_simulate_reports_rmse_mae_r2_and_aulc_of_rmse(friedman):
    X, y, X_test, y_test = friedman
    res = al.simulate(
        gp(), PredictiveVariance(), X, y, X_test, y_test, initial=10, batch_size=5, budget=30
    )
    assert [r.n_labeled for r in res.history] == [10, 15, 20, 25, 30]
    assert res.metric == "rmse" and res.lower_is_better
    for record in res.history:
        assert set(record.metrics) == {"rmse", "mae", "r2"}
    n, values = res.curve()
    expected = np.sum(np.diff(n) * (values[1:] + values[:-1]) / 2) / (n[-1] - n[0])
    assert res.aulc == pytest.approx(expected)
    assert res.history[-1].metrics["rmse"] < res.history[0].metrics["rmse"]
    model = res.model
    assert "GaussianProcessRegressor" in model


def test_initial_set_is_plain_random_for_regression(friedman):
    X, y, X_test, y_test = friedman
    res = al.simulate(
        gp(), PredictiveVariance(), X, y, X_test, y_test, initial=8, budget=8, random_state=5
    )
    expected = np.random.default_rng(5).choice(len(y), size=8, replace=False)
    assert res.history[0].indices.tolist() == expected.tolist()


def test_holdout_without_a_test_set(friedman):
    X, y, _, _ = friedman
    res = al.simulate(gp(), PredictiveVariance(), X, y, initial=10, batch_size=10, budget=30)
    labeled = np.concatenate([r.indices for r in res.history])
    assert labeled.shape[0] == 30 and np.unique(labeled).shape[0] == 30


def test_metric_choice_and_errors(friedman):
    X, y, X_test, y_test = friedman
    res = al.simulate(gp(), "random", X, y, X_test, y_test, initial=10, budget=20, metrics=("mae",))
    assert res.metric == "mae" and set(res.final) == {"mae"}
    assert res.aulc == pytest.approx(aulc(*res.curve()))
    with pytest.raises(ValueError, match="do not apply to a regressor"):
        al.simulate(gp(), "random", X, y, X_test, y_test, budget=20, metrics=("accuracy",))
    labels = (y > np.median(y)).astype(int)
    with pytest.raises(ValueError, match="do not apply to a classifier"):
        al.simulate(LogisticRegression(), "margin", X, labels, budget=20, metrics=("rmse",))
    with pytest.raises(TypeError, match="numeric targets"):
        al.simulate(gp(), "random", X, np.array(["a", "b"] * 60), budget=20)


def test_classification_strategy_with_a_regressor_is_a_type_error(friedman):
    X, y, X_test, y_test = friedman
    with pytest.raises(TypeError, match=r"predict_proba.*regressor"):
        al.simulate(gp(), "margin", X, y, X_test, y_test, initial=10, budget=20)


def test_training_schemes_are_refused_for_regression(friedman):
    X, y, _, _ = friedman
    with pytest.raises(TypeError, match="Training schemes are for classifiers"):
        al.simulate(gp(), "random", X, y, budget=20, training=al.training.SelfTraining())
    with pytest.raises(TypeError, match="Training schemes are for classifiers"):
        al.ActiveLearner(gp(), "random", training=al.training.SelfTraining())


def test_importance_weighting_with_a_regressor(friedman):
    X, y, X_test, y_test = friedman
    forest = RandomForestRegressor(n_estimators=5, random_state=0)
    res = al.simulate(forest, "random", X, y, X_test, y_test, budget=30, importance_weighting=True)
    assert res.history[-1].n_labeled == 30


@pytest.mark.parametrize(
    "strategy, model",
    [
        (PredictiveVariance(), gp),
        (QueryByCommitteeRegression(), lambda: RandomForestRegressor(10, random_state=0)),
        (IntervalWidth(), lambda: RandomForestRegressor(10, random_state=0)),
        (GreedySamplingX(), gp),
        (GreedySamplingTarget(), gp),
        (ImprovedGreedySampling(), gp),
        (ExpectedModelOutputChange(), gp),
        (ExpectedModelVarianceReduction(), gp),
        (KLDivergenceMaximization(), gp),
        (RegressionTreeBasedAL(), lambda: DecisionTreeRegressor(min_samples_leaf=2)),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_every_regression_strategy_runs_in_the_loop(strategy, model, friedman):
    X, y, X_test, y_test = friedman
    res = al.simulate(model(), strategy, X, y, X_test, y_test, initial=10, batch_size=5, budget=25)
    picked = np.concatenate([r.indices for r in res.history])
    assert picked.shape[0] == 25 and np.unique(picked).shape[0] == 25
    assert np.isfinite(res.aulc)


def test_active_learner_on_regression(friedman):
    X, y, X_test, y_test = friedman
    learner = al.ActiveLearner(gp(), PredictiveVariance(), X_val=X_test, y_val=y_test)
    learner.fit(X[:10], y[:10])
    picks = learner.query(X[10:], k=5)
    learner.teach(X[10:][picks], y[10:][picks])
    assert learner.n_labeled == 15
    assert set(learner.history[-1].metrics) == {"rmse", "mae", "r2"}
    assert learner.predict(X_test).shape == (40,)
    with pytest.raises(TypeError, match="predict_proba"):
        learner.predict_proba(X_test)


def test_active_learner_classification_metrics_unchanged(iris):
    X, y = iris
    learner = al.ActiveLearner(LogisticRegression(max_iter=500), "margin", X_val=X, y_val=y)
    learner.fit(X[[0, 50, 100]], y[[0, 50, 100]])
    assert set(learner.history[-1].metrics) == {"accuracy", "f1_macro"}
