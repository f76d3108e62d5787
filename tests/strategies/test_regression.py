"""Regression strategies and adapters against plain references written here.

The references are loops over items with scipy/numpy building blocks (cdist, refits of a
Gaussian process with fixed hyperparameters, numeric integration); the hypothesis tests
check the invariants of the acquisition maths. A last section compares picks with
scikit-activeml where it is importable (it lives in .venv-bench).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.datasets import make_friedman1
from sklearn.ensemble import (
    BaggingRegressor,
    ExtraTreesRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import BayesianRidge, LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeRegressor

from activelab.models import SklearnAdapter, wrap
from activelab.models._regression import (
    RegressionAdapter,
    RegressionCommittee,
    is_regression_adapter,
    is_regressor,
)
from activelab.strategies._regression import (
    IntervalWidth,
    PredictiveVariance,
    QueryByCommitteeRegression,
    committee_variance,
    quantile_forest_width,
)
from activelab.strategies._regression_expected import (
    ExpectedModelOutputChange,
    ExpectedModelVarianceReduction,
    KLDivergenceMaximization,
    gaussian_kl,
    integration_nodes,
)
from activelab.strategies._regression_greedy import (
    GreedySamplingTarget,
    GreedySamplingX,
    ImprovedGreedySampling,
    greedy_sampling,
)
from activelab.strategies._regression_tree import (
    RegressionTreeBasedAL,
    leaf_allocation,
    leaf_shares,
)


@pytest.fixture(scope="module")
def problem():
    X, y = make_friedman1(n_samples=90, n_features=5, noise=0.5, random_state=1)
    return X[:15], y[:15], X[15:]


def gp_kernel():
    return ConstantKernel(4.0) * RBF(0.8, length_scale_bounds=(0.05, 100.0)) + WhiteKernel(0.3)


@pytest.fixture(scope="module")
def fixed_gp(problem):
    """A GP whose hyperparameters stay fixed when refitted (optimizer=None)."""
    X, y, _ = problem
    return GaussianProcessRegressor(gp_kernel(), optimizer=None).fit(X, y)


# ------------------------------------------------------------------ adapters


@pytest.mark.parametrize(
    "estimator, expected",
    [
        (LinearRegression(), {"predict", "embed"}),
        (BayesianRidge(), {"predict", "embed", "predict_std"}),
        (GaussianProcessRegressor(), {"predict", "embed", "predict_std", "posterior_covariance"}),
        (RandomForestRegressor(), {"predict", "embed", "predict_std", "sample_predict", "apply"}),
        (ExtraTreesRegressor(), {"predict", "embed", "predict_std", "sample_predict", "apply"}),
        (BaggingRegressor(), {"predict", "embed", "predict_std", "sample_predict"}),
        (DecisionTreeRegressor(), {"predict", "embed", "apply"}),
        (
            make_pipeline(StandardScaler(), GaussianProcessRegressor()),
            {"predict", "embed", "predict_std", "posterior_covariance"},
        ),
    ],
)
def test_wrap_gives_a_regression_adapter_with_what_the_model_can_do(estimator, expected):
    adapter = wrap(estimator)
    assert isinstance(adapter, RegressionAdapter)
    assert set(adapter.capabilities) == expected
    assert is_regression_adapter(adapter)


def test_classifiers_are_wrapped_as_before():
    assert isinstance(wrap(LogisticRegression()), SklearnAdapter)
    assert not is_regression_adapter(wrap(LogisticRegression()))
    assert not is_regressor(LogisticRegression()) and is_regressor(LinearRegression())
    with pytest.raises(TypeError, match="decision_function"):
        wrap(LinearSVC())


def test_a_look_alike_regressor_is_wrapped():
    class Mean:
        _estimator_type = "regressor"

        def fit(self, X, y):
            self.mean_ = float(np.mean(y))
            return self

        def predict(self, X):
            return np.full(len(X), self.mean_)

    adapter = wrap(Mean())
    assert isinstance(adapter, RegressionAdapter)
    assert adapter.fit([[0.0], [1.0]], [1.0, 3.0]).predict([[5.0]]).tolist() == [2.0]


def test_predictions_std_and_members_match_the_model(problem):
    X, y, pool = problem
    gp = GaussianProcessRegressor(gp_kernel(), random_state=0).fit(X, y)
    mean, std = gp.predict(pool, return_std=True)
    adapter = wrap(gp)
    np.testing.assert_allclose(adapter.predict(pool), mean)
    np.testing.assert_allclose(adapter.predict_std(pool), std)
    forest = RandomForestRegressor(n_estimators=6, random_state=0).fit(X, y)
    trees = np.stack([tree.predict(pool) for tree in forest.estimators_])
    np.testing.assert_allclose(wrap(forest).sample_predict(pool), trees)
    np.testing.assert_allclose(wrap(forest).predict_std(pool), trees.std(axis=0))
    assert wrap(forest).apply(pool).shape == (pool.shape[0], 6)


def test_pipeline_members_and_std_see_the_transformed_features(problem):
    X, y, pool = problem
    pipeline = make_pipeline(StandardScaler(), GaussianProcessRegressor(gp_kernel())).fit(X, y)
    _, std = pipeline[-1].predict(pipeline[0].transform(pool), return_std=True)
    np.testing.assert_allclose(wrap(pipeline).predict_std(pool), std)
    bagging = make_pipeline(
        StandardScaler(), BaggingRegressor(LinearRegression(), n_estimators=4, max_features=3)
    ).fit(X, y)
    scaled = bagging[0].transform(pool)
    final = bagging[-1]
    expected = np.stack(
        [
            member.predict(scaled[:, columns])
            for member, columns in zip(final.estimators_, final.estimators_features_, strict=True)
        ]
    )
    np.testing.assert_allclose(wrap(bagging).sample_predict(pool), expected)


def test_voting_regressor_members(problem):
    X, y, pool = problem
    voting = VotingRegressor([("lin", LinearRegression()), ("tree", DecisionTreeRegressor())])
    voting.fit(X, y)
    samples = wrap(voting).sample_predict(pool)
    np.testing.assert_allclose(samples.mean(axis=0), voting.predict(pool))


def test_regression_adapter_refuses_class_probabilities(problem):
    X, y, pool = problem
    adapter = wrap(LinearRegression().fit(X, y))
    with pytest.raises(TypeError, match=r"predict_proba.*regressor"):
        adapter.predict_proba(pool)
    with pytest.raises(TypeError, match="sample_predict"):
        adapter.sample_predict(pool)
    with pytest.raises(TypeError, match="predict_std"):
        adapter.predict_std(pool)


def test_regression_committee_bagging_and_mixture_std(problem):
    X, y, pool = problem
    committee = RegressionCommittee.bagging(LinearRegression(), n_members=5, random_state=0)
    samples = committee.fit(X, y).sample_predict(pool)
    assert samples.shape == (5, pool.shape[0])
    assert not np.allclose(samples[0], samples[1])  # different bootstrap samples
    np.testing.assert_allclose(committee.predict(pool), samples.mean(axis=0))
    np.testing.assert_allclose(committee.predict_std(pool), samples.std(axis=0))
    gps = RegressionCommittee(
        [
            GaussianProcessRegressor(gp_kernel(), optimizer=None),
            BayesianRidge(),
        ]
    ).fit(X, y)
    pairs = [m.predict(pool, return_std=True) for m in gps.members_]
    means = np.stack([p[0] for p in pairs])
    variances = np.stack([p[1] ** 2 for p in pairs])
    expected = np.sqrt(means.var(axis=0) + variances.mean(axis=0))
    np.testing.assert_allclose(gps.predict_std(pool), expected)
    clone = committee.clone()
    assert not hasattr(clone, "members_") and clone.bootstrap


def test_regression_committee_errors():
    with pytest.raises(ValueError, match="at least 2 members"):
        RegressionCommittee.bagging(LinearRegression(), n_members=1)
    with pytest.raises(TypeError, match="classifier"):
        RegressionCommittee([LogisticRegression(), LinearRegression()]).fit([[0.0]], [0.0])
    with pytest.raises(RuntimeError, match="not fitted"):
        RegressionCommittee([LinearRegression(), LinearRegression()]).predict([[0.0]])


def test_gaussian_posterior_is_the_refit_with_fixed_hyperparameters(problem, fixed_gp):
    X, y, pool = problem
    posterior = wrap(fixed_gp).gaussian_posterior()
    candidate, value = pool[:1], np.array([1.7])
    refit = GaussianProcessRegressor(fixed_gp.kernel_, optimizer=None)
    refit.fit(np.vstack([X, candidate]), np.concatenate([y, value]))
    evaluation = pool[1:20]
    w_eval, w_cand = posterior.whiten(evaluation), posterior.whiten(candidate)
    cov = posterior.covariance(evaluation, candidate, w_eval, w_cand)[:, 0]
    train_var = posterior.training_variance(candidate, w_cand)[0]
    mean_before, std_before = fixed_gp.predict(evaluation, return_std=True)
    mean_after, std_after = refit.predict(evaluation, return_std=True)
    shift = cov / train_var * (value[0] - fixed_gp.predict(candidate)[0])
    np.testing.assert_allclose(mean_after, mean_before + shift, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(std_after**2, std_before**2 - cov**2 / train_var, atol=1e-10)
    np.testing.assert_allclose(posterior.variance(evaluation, w_eval), std_before**2)


# ------------------------------------------------------------------ variance family


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(2, 6),
    n=st.integers(1, 12),
    shift=st.floats(-100, 100, allow_nan=False),
)
def test_committee_variance_properties(seed, m, n, shift):
    samples = np.random.default_rng(seed).normal(size=(m, n))
    variance = committee_variance(samples)
    assert (variance >= 0).all()
    np.testing.assert_allclose(variance, committee_variance(samples + shift), atol=1e-9)
    np.testing.assert_allclose(
        committee_variance(np.repeat(samples[:1], m, axis=0)), 0.0, atol=1e-20
    )
    reference = [np.mean((samples[:, i] - samples[:, i].mean()) ** 2) for i in range(n)]
    np.testing.assert_allclose(variance, reference)


def test_committee_variance_rejects_bad_input():
    with pytest.raises(ValueError, match=r"shape \(m, n\) with m >= 2"):
        committee_variance(np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        committee_variance(np.array([[0.0, np.nan], [1.0, 1.0]]))


def test_variance_and_qbc_rank_by_what_they_define(problem, fixed_gp):
    X, y, pool = problem
    gp = fixed_gp
    _, std = gp.predict(pool, return_std=True)
    np.testing.assert_allclose(PredictiveVariance().utilities(gp, pool), std**2)
    picks = PredictiveVariance().query(gp, pool, 5, random_state=0)
    assert set(picks) == set(np.argsort(-std)[:5])
    forest = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    trees = np.stack([tree.predict(pool) for tree in forest.estimators_])
    np.testing.assert_allclose(
        QueryByCommitteeRegression().utilities(forest, pool), trees.var(axis=0)
    )


def reference_qrf_width(forest, pool, X, y, coverage):
    """Meinshausen's weights by a loop over items and trees; quantile by the definition."""
    lo, hi = (1 - coverage) / 2, (1 + coverage) / 2
    pool_leaves, train_leaves = forest.apply(pool), forest.apply(X)
    widths = []
    for i in range(pool.shape[0]):
        weights = np.zeros(X.shape[0])
        for t in range(pool_leaves.shape[1]):
            same = train_leaves[:, t] == pool_leaves[i, t]
            weights[same] += 1.0 / same.sum()
        weights /= pool_leaves.shape[1]

        def quantile(alpha, weights=weights):
            candidates = sorted(y)
            return next(v for v in candidates if weights[y <= v].sum() >= alpha - 1e-12)

        widths.append(quantile(hi) - quantile(lo))
    return np.array(widths)


@pytest.mark.parametrize("coverage", [0.5, 0.8, 0.95])
def test_quantile_forest_width_matches_the_definition(problem, coverage):
    X, y, pool = problem
    forest = RandomForestRegressor(n_estimators=7, min_samples_leaf=2, random_state=0)
    forest.fit(X, y)
    expected = reference_qrf_width(forest, pool[:25], X, y, coverage)
    got = quantile_forest_width(forest.apply(pool[:25]), forest.apply(X), y, coverage)
    np.testing.assert_allclose(got, expected)
    strategy = IntervalWidth(coverage=coverage)
    np.testing.assert_allclose(strategy.utilities(forest, pool[:25], X, y), expected)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), low=st.floats(0.05, 0.5), high=st.floats(0.55, 0.99))
def test_quantile_forest_width_is_non_negative_and_grows_with_coverage(seed, low, high):
    rng = np.random.default_rng(seed)
    train = rng.integers(0, 4, size=(12, 3))
    pool = rng.integers(0, 5, size=(9, 3))  # leaf 4 holds no training row
    y = rng.normal(size=12)
    narrow = quantile_forest_width(pool, train, y, low)
    wide = quantile_forest_width(pool, train, y, high)
    assert (narrow >= 0).all() and (wide >= narrow - 1e-12).all()


def test_interval_width_members_and_errors(problem):
    X, y, pool = problem
    committee = RegressionCommittee.bagging(LinearRegression(), 6, random_state=0).fit(X, y)
    samples = committee.sample_predict(pool)
    low, high = np.quantile(samples, [0.1, 0.9], axis=0)
    np.testing.assert_allclose(
        IntervalWidth(method="members").utilities(committee, pool), high - low
    )
    with pytest.raises(TypeError, match="apply"):
        IntervalWidth().query(committee, pool, 2, X, y)
    forest = RandomForestRegressor(n_estimators=4, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="labeled set"):
        IntervalWidth().query(forest, pool, 2)
    with pytest.raises(ValueError, match="coverage"):
        IntervalWidth(coverage=1.5).query(forest, pool, 2, X, y)
    with pytest.raises(ValueError, match="method"):
        IntervalWidth(method="bogus").query(forest, pool, 2, X, y)
    with pytest.raises(TypeError, match="numeric targets"):
        IntervalWidth().query(forest, pool, 2, X, np.array(["a"] * len(y)))


# ------------------------------------------------------------------ greedy sampling


def reference_greedy(X_pool, X_lab, y_pool, y_lab, k, mode, follow=None):
    """GS by the paper's loop with scipy's cdist; the medoid first when nothing is selected.

    With ``follow`` (the implementation's picks), a step takes the followed pick when its
    utility ties the best one within rounding (e.g. the two middle values of four numbers
    are equally central), so that a tie broken by summation order does not fail the test.
    """

    def distance(a_x, a_y, b_x, b_y):
        d = np.ones(
            (len(a_y) if a_y is not None else len(a_x), len(b_y if b_y is not None else b_x))
        )
        if "x" in mode:
            d = d * cdist(a_x, b_x)
        if "y" in mode:
            d = d * np.abs(a_y[:, None] - b_y[None, :])
        return d

    sel_x = None if X_lab is None else list(X_lab)
    sel_y = None if y_lab is None else list(y_lab)
    picks = []
    for _ in range(k):
        left = [i for i in range(len(X_pool if X_pool is not None else y_pool)) if i not in picks]
        px = None if X_pool is None else X_pool[left]
        py = None if y_pool is None else y_pool[left]
        if not (sel_x or sel_y):
            full_x = X_pool
            full_y = y_pool
            utility = -distance(px, py, full_x, full_y).sum(axis=1)
        else:
            bx = None if sel_x is None else np.array(sel_x)
            by = None if sel_y is None else np.array(sel_y)
            utility = distance(px, py, bx, by).min(axis=1)
        pick = left[int(np.argmax(utility))]
        if follow is not None and len(follow) > len(picks) and follow[len(picks)] in left:
            candidate = follow[len(picks)]
            if np.isclose(utility[left.index(candidate)], utility.max(), rtol=1e-9, atol=1e-12):
                pick = candidate
        picks.append(pick)
        if X_pool is not None:
            sel_x = (sel_x or []) + [X_pool[pick]]
        if y_pool is not None:
            sel_y = (sel_y or []) + [y_pool[pick]]
    return picks


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 25),
    m=st.integers(0, 6),
    mode=st.sampled_from(["x", "y", "xy"]),
    k_fraction=st.floats(0.1, 1.0),
)
def test_greedy_sampling_matches_the_reference_loop(seed, n, m, mode, k_fraction):
    rng = np.random.default_rng(seed)
    X_pool, X_lab = rng.normal(size=(n, 3)), rng.normal(size=(m, 3))
    y_pool, y_lab = rng.normal(size=n), rng.normal(size=m)
    k = max(1, int(k_fraction * n))
    got = greedy_sampling(
        X_pool if "x" in mode else None,
        k,
        X_labeled=(X_lab if m else None) if "x" in mode else None,
        y_pool=y_pool if "y" in mode else None,
        y_labeled=(y_lab if m else None) if "y" in mode else None,
        mode=mode,
        random_state=0,
    )
    expected = reference_greedy(
        X_pool if "x" in mode else None,
        (X_lab if m else None) if "x" in mode else None,
        y_pool if "y" in mode else None,
        (y_lab if m else None) if "y" in mode else None,
        k,
        mode,
        follow=got.tolist(),
    )
    assert got.tolist() == expected


def test_gsx_gsy_igs_strategies(problem):
    X, y, pool = problem
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    predicted = model.predict(pool)
    assert GreedySamplingX().query(model, pool, 4, X, y, 0).tolist() == reference_greedy(
        pool, X, None, None, 4, "x"
    )
    assert GreedySamplingX().query(None, pool, 4, X, y, 0).tolist() == reference_greedy(
        pool, X, None, None, 4, "x"
    )
    assert GreedySamplingTarget().query(model, pool, 4, X, y, 0).tolist() == reference_greedy(
        None, None, predicted, y, 4, "y"
    )
    assert ImprovedGreedySampling().query(model, pool, 4, X, y, 0).tolist() == reference_greedy(
        pool, X, predicted, y, 4, "xy"
    )


def test_gsy_starts_with_gsx_until_n_gsx_items_are_selected(problem):
    X, y, pool = problem
    model = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    predicted = model.predict(pool)
    picks = GreedySamplingTarget(n_gsx=2).query(model, pool, 3, None, None, 0).tolist()
    first_two = reference_greedy(pool, None, None, None, 2, "x")
    assert picks[:2] == first_two
    rest = [i for i in range(len(pool)) if i not in first_two]
    gaps = np.abs(predicted[rest][:, None] - predicted[first_two][None, :]).min(axis=1)
    assert picks[2] == rest[int(np.argmax(gaps))]
    with pytest.raises(ValueError, match="n_gsx"):
        GreedySamplingTarget(n_gsx=-1).query(model, pool, 2, X, y)


# ------------------------------------------------------------------ expected change


def test_integration_nodes_moments():
    nodes, weights = integration_nodes("gauss_hermite", 10)
    assert weights.sum() == pytest.approx(1.0)
    assert weights @ nodes == pytest.approx(0.0, abs=1e-12)
    assert weights @ nodes**2 == pytest.approx(1.0)
    assert weights @ nodes**4 == pytest.approx(3.0)
    assert integration_nodes("assume_linear")[0].tolist() == [0.0]
    with pytest.raises(ValueError, match="gauss_hermite"):
        integration_nodes("simpson")


@settings(max_examples=50, deadline=None)
@given(
    m1=st.floats(-5, 5),
    m0=st.floats(-5, 5),
    v1=st.floats(0.05, 5),
    v0=st.floats(0.05, 5),
)
def test_gaussian_kl_is_the_integral_and_non_negative(m1, m0, v1, v0):
    from scipy import integrate, stats

    value = float(gaussian_kl(np.array(m1), np.array(v1), np.array(m0), np.array(v0)))
    p, q = stats.norm(m1, np.sqrt(v1)), stats.norm(m0, np.sqrt(v0))
    lo, hi = m1 - 12 * np.sqrt(v1), m1 + 12 * np.sqrt(v1)
    reference, _ = integrate.quad(lambda t: p.pdf(t) * (p.logpdf(t) - q.logpdf(t)), lo, hi)
    assert value >= 0
    assert value == pytest.approx(reference, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize(
    "strategy",
    [
        ExpectedModelOutputChange(),
        ExpectedModelOutputChange(loss="absolute"),
        ExpectedModelOutputChange(integration="gauss_hermite", n_integration=3),
        ExpectedModelOutputChange(evaluate_on="all"),
        ExpectedModelVarianceReduction(),
        ExpectedModelVarianceReduction(evaluate_on="pool"),
        KLDivergenceMaximization(),
        KLDivergenceMaximization(integration="assume_linear"),
        KLDivergenceMaximization(evaluate_on="pool"),
    ],
    ids=repr,
)
def test_closed_form_equals_refitting_the_gaussian_process(strategy, problem, fixed_gp):
    X, y, pool = problem
    closed = strategy.utilities(fixed_gp, pool[:12], X, y)
    refit = strategy.set_params(refit=True).utilities(fixed_gp, pool[:12], X, y)
    strategy.set_params(refit=False)
    np.testing.assert_allclose(closed, refit, rtol=1e-6, atol=1e-12 * np.abs(refit).max())


def test_emoc_with_the_mean_label_leaves_a_gp_unchanged(problem, fixed_gp):
    pool = problem[2]
    utilities = ExpectedModelOutputChange(integration="assume_linear").utilities(fixed_gp, pool)
    np.testing.assert_allclose(utilities, 0.0, atol=1e-20)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.floats(0.2, 3.0), noise=st.floats(0.01, 1.0))
def test_expected_change_utilities_are_non_negative(seed, length, noise):
    rng = np.random.default_rng(seed)
    X, pool = rng.normal(size=(8, 2)), rng.normal(size=(10, 2))
    y = rng.normal(size=8)
    kernel = ConstantKernel(1.0) * RBF(length) + WhiteKernel(noise)
    gp = GaussianProcessRegressor(kernel, optimizer=None).fit(X, y)
    for strategy in (
        ExpectedModelOutputChange(),
        ExpectedModelVarianceReduction(),
        KLDivergenceMaximization(),
    ):
        utilities = strategy.utilities(gp, pool, X, y)
        assert np.isfinite(utilities).all() and (utilities >= -1e-12).all()


def test_refit_path_on_a_model_without_closed_form(problem):
    X, y, pool = problem
    model = BayesianRidge().fit(X, y)
    got = ExpectedModelVarianceReduction(evaluate_on="pool").utilities(model, pool[:5], X, y)
    before = np.mean(model.predict(pool[:5], return_std=True)[1] ** 2)
    expected = []
    for i in range(5):
        label = model.predict(pool[i : i + 1])
        refit = BayesianRidge().fit(np.vstack([X, pool[i : i + 1]]), np.concatenate([y, label]))
        expected.append(before - np.mean(refit.predict(pool[:5], return_std=True)[1] ** 2))
    np.testing.assert_allclose(got, expected)
    with pytest.raises(ValueError, match="labeled set"):
        ExpectedModelOutputChange().query(model, pool, 2)


def test_expected_change_parameter_errors(problem, fixed_gp):
    X, y, pool = problem
    with pytest.raises(ValueError, match="loss"):
        ExpectedModelOutputChange(loss="huber").query(fixed_gp, pool, 2, X, y)
    with pytest.raises(ValueError, match="evaluate_on"):
        KLDivergenceMaximization(evaluate_on="test").query(fixed_gp, pool, 2, X, y)
    with pytest.raises(ValueError, match="n_integration"):
        KLDivergenceMaximization(n_integration=0).query(fixed_gp, pool, 2, X, y)
    with pytest.raises(TypeError, match="predict_std"):
        ExpectedModelVarianceReduction().query(LinearRegression().fit(X, y), pool, 2, X, y)


# ------------------------------------------------------------------ regression tree


def test_leaf_shares_and_allocation():
    pool = np.array([1, 1, 1, 2, 4, 4])
    labeled = np.array([1, 1, 2, 2, 4, 4])
    y = np.array([0.0, 2.0, 5.0, 5.0, 1.0, 4.0])
    shares = leaf_shares(pool, labeled, y, 5, 5)
    weights = np.array([0, np.sqrt(0.5 * 2.0), 0, 0, np.sqrt(2 / 6 * 4.5)])
    np.testing.assert_allclose(shares, 5 * weights / weights.sum())
    for seed in range(20):
        allocation = leaf_allocation(shares, 5, np.random.default_rng(seed))
        assert allocation.sum() == 5
        assert (allocation >= np.floor(shares)).all() and (allocation <= np.ceil(shares)).all()
    flat = leaf_shares(pool, labeled, np.zeros(6), 3, 5)  # no variance: proportional
    np.testing.assert_allclose(flat, 3 * np.bincount(pool, minlength=5) / 6)


@pytest.mark.parametrize("method", ["random", "diversity", "representativity"])
def test_rt_al_picks_follow_the_allocation(method, problem):
    X, y, pool = problem
    tree = DecisionTreeRegressor(max_depth=2, min_samples_leaf=2, random_state=0).fit(X, y)
    picks = RegressionTreeBasedAL(method=method).query(tree, pool, 6, X, y, random_state=1)
    assert len(set(picks.tolist())) == 6
    shares = leaf_shares(tree.apply(pool), tree.apply(X), y, 6, tree.tree_.node_count)
    counts = np.bincount(tree.apply(pool[picks]), minlength=tree.tree_.node_count)
    capacity = np.bincount(tree.apply(pool), minlength=tree.tree_.node_count)
    limit = np.minimum(np.ceil(shares), capacity)
    assert (counts[capacity > np.ceil(shares)] <= limit[capacity > np.ceil(shares)]).all()


def test_rt_al_diversity_takes_the_farthest_items_of_each_leaf(problem):
    X, y, pool = problem
    tree = DecisionTreeRegressor(max_depth=1, min_samples_leaf=2, random_state=0).fit(X, y)
    picks = RegressionTreeBasedAL(method="diversity").query(tree, pool, 4, X, y, 0)
    pool_leaves, lab_leaves = tree.apply(pool), tree.apply(X)
    for leaf in np.unique(pool_leaves[picks]):
        members = np.flatnonzero(pool_leaves == leaf)
        distance = cdist(pool[members], X[lab_leaves == leaf]).min(axis=1)
        chosen = [p for p in picks if pool_leaves[p] == leaf]
        best = members[np.argsort(-distance)[: len(chosen)]]
        assert set(chosen) == set(best.tolist())


def test_rt_al_errors_and_fallback(problem):
    X, y, pool = problem
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="single regression tree"):
        RegressionTreeBasedAL().query(forest, pool, 3, X, y)
    tree = DecisionTreeRegressor(min_samples_leaf=2).fit(X, y)
    with pytest.raises(ValueError, match="method"):
        RegressionTreeBasedAL(method="greedy").query(tree, pool, 3, X, y)
    picks = RegressionTreeBasedAL().query(tree, pool, 3, X[:1], y[:1], random_state=0)
    expected = np.random.default_rng(0).choice(len(pool), 3, replace=False)
    assert picks.tolist() == expected.tolist()  # one label: uniformly random


def test_regression_strategy_refuses_class_labels_and_classifiers(problem):
    X, y, pool = problem
    forest = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="numeric targets"):
        GreedySamplingTarget().query(forest, pool, 2, X, np.array(["a"] * len(y)))
    classifier = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y > y.mean())
    with pytest.raises(TypeError, match="regression strategy"):
        QueryByCommitteeRegression().query(classifier, pool, 2, X, y)


# ------------------------------------------------------------------ scikit-activeml


@pytest.fixture(scope="module")
def skactiveml():
    """scikit-activeml's pool and regressor modules; the tests skip where it is missing."""
    pool = pytest.importorskip("skactiveml.pool")
    regressor = pytest.importorskip("skactiveml.regressor")
    return pool, regressor


@pytest.fixture(scope="module")
def shared(problem):
    """The labeled set and the pool stacked as scikit-activeml takes them (NaN = unlabeled)."""
    X, y, pool = problem
    pool = pool[:40]
    X_all = np.vstack([X, pool])
    y_all = np.concatenate([y, np.full(len(pool), np.nan)])
    candidates = np.arange(len(X), len(X_all))
    return X, y, pool, X_all, y_all, candidates


def peer_query(strategy, shared, k, **kwargs):
    X, _, _, X_all, y_all, candidates = shared
    picks = strategy.query(X_all, y_all, candidates=candidates, batch_size=k, **kwargs)
    return (np.asarray(picks) - len(X)).tolist()


def peer_utilities(strategy, shared, **kwargs):
    _, _, _, X_all, y_all, candidates = shared
    _, utilities = strategy.query(
        X_all, y_all, candidates=candidates, batch_size=1, return_utilities=True, **kwargs
    )
    return np.asarray(utilities)[0, candidates]


def test_greedy_sampling_picks_as_skactiveml(skactiveml, shared):
    sk_pool, sk_regressor = skactiveml
    X, y, pool, X_all, y_all, _ = shared
    # A smooth model: a forest's piecewise-constant predictions tie, and ties go at random.
    gp = GaussianProcessRegressor(gp_kernel(), optimizer=None)
    peer_gp = sk_regressor.SklearnRegressor(gp).fit(X_all, y_all)
    ours_gp = peer_gp.estimator_
    assert GreedySamplingX().query(None, pool, 6, X, y, 0).tolist() == peer_query(
        sk_pool.GreedySamplingX(), shared, 6
    )
    for ours, method in ((GreedySamplingTarget(), "GSy"), (ImprovedGreedySampling(), "GSi")):
        theirs = peer_query(
            sk_pool.GreedySamplingTarget(method=method), shared, 6, reg=peer_gp, fit_reg=False
        )
        assert ours.query(ours_gp, pool, 6, X, y, 0).tolist() == theirs


@pytest.mark.parametrize("name", ["emoc", "emvr", "kl_max"])
def test_expected_change_utilities_as_skactiveml(name, skactiveml, shared):
    """On a GP with fixed hyperparameters scikit-activeml's refits and our closed form agree.

    scikit-activeml integrates over the label by Gauss–Hermite quadrature here (its
    default for EMOC and KL is ``assume_linear``, which activelab offers as
    ``integration="assume_linear"``; the test sets both sides alike).
    """
    sk_pool, sk_regressor = skactiveml
    X, y, pool, X_all, y_all, _ = shared
    gp = GaussianProcessRegressor(gp_kernel(), optimizer=None)
    peer_gp = sk_regressor.SklearnNormalRegressor(gp).fit(X_all, y_all)
    hermite = {"method": "gauss_hermite", "n_integration_samples": 10}
    if name == "emoc":
        ours = ExpectedModelOutputChange()
        theirs = sk_pool.ExpectedModelOutputChange(integration_dict=hermite)
    elif name == "emvr":
        ours = ExpectedModelVarianceReduction()
        theirs = sk_pool.ExpectedModelVarianceReduction()
    else:
        ours = KLDivergenceMaximization()
        theirs = sk_pool.KLDivergenceMaximization(integration_dict_target_val=hermite)
    expected = peer_utilities(theirs, shared, reg=peer_gp, fit_reg=False)
    got = ours.utilities(peer_gp.estimator_, pool, X, y)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9 * np.abs(expected).max())


def test_rt_al_allocation_as_skactiveml(skactiveml, shared):
    from skactiveml.pool._regression_tree_based_al import _calc_acquisitions_per_leaf

    _, sk_regressor = skactiveml
    X, y, pool, X_all, y_all, _ = shared
    tree = DecisionTreeRegressor(min_samples_leaf=2, random_state=0)
    peer_tree = sk_regressor.SklearnRegressor(tree).fit(X_all, y_all)
    fitted = peer_tree.estimator_
    theirs = _calc_acquisitions_per_leaf(X_all, y_all, peer_tree, np.nan, batch_size=7)
    ours = leaf_shares(fitted.apply(pool), fitted.apply(X), y, 7, fitted.tree_.node_count)
    np.testing.assert_allclose(ours, theirs)


def test_qbc_regression_picks_as_skactiveml(skactiveml, shared):
    """scikit-activeml ranks by the members' standard deviation, we by their variance."""
    sk_pool, sk_regressor = skactiveml
    _, _, pool, X_all, y_all, _ = shared
    forest = RandomForestRegressor(n_estimators=7, random_state=0)
    peer_forest = sk_regressor.SklearnRegressor(forest).fit(X_all, y_all)
    ours = QueryByCommitteeRegression()
    expected = peer_utilities(
        sk_pool.QueryByCommittee(), shared, ensemble=peer_forest, fit_ensemble=False
    )
    np.testing.assert_allclose(ours.utilities(peer_forest.estimator_, pool), expected**2)
    theirs = peer_query(
        sk_pool.QueryByCommittee(), shared, 5, ensemble=peer_forest, fit_ensemble=False
    )
    assert set(ours.query(peer_forest.estimator_, pool, 5, random_state=0)) == set(theirs)


def test_adapter_trees_embed_clone_and_kl_errors(problem):
    X, y, pool = problem
    pipeline = make_pipeline(StandardScaler(), DecisionTreeRegressor(min_samples_leaf=2))
    adapter = wrap(pipeline).fit(X, y)
    assert len(adapter.trees()) == 1 and adapter.trees()[0] is pipeline[-1]
    np.testing.assert_allclose(adapter.embed(pool), pipeline[0].transform(pool))
    assert adapter.apply(pool).shape == (pool.shape[0], 1)
    copy = adapter.clone()
    assert isinstance(copy, RegressionAdapter) and not hasattr(copy.estimator[-1], "tree_")
    assert adapter.describe() == "Pipeline(… DecisionTreeRegressor)"
    with pytest.raises(ValueError, match="positive variances"):
        gaussian_kl(np.zeros(2), np.array([1.0, 0.0]), np.zeros(2), np.ones(2))
