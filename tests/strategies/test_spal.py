"""SPAL: the self-paced weights, and BMDR as its limit when every item is easy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activelab.strategies._bmdr import BMDR
from activelab.strategies._spal import SPAL, self_paced_weights


@settings(max_examples=40, deadline=None)
@given(
    alpha=st.floats(0.0, 1.0),
    loss=st.floats(0.0, 5.0),
    age=st.floats(0.01, 10.0),
)
def test_weights_minimise_the_self_paced_objective(alpha, loss, age):
    grid = np.linspace(0.0, 1.0, 2001)
    objective = grid * alpha * loss + age * (0.5 * grid**2 - grid)
    v = self_paced_weights([alpha], [loss], age)[0]
    assert 0.0 <= v <= 1.0
    assert v * alpha * loss + age * (0.5 * v**2 - v) <= objective.min() + 1e-9


def test_weights_by_hand():
    np.testing.assert_allclose(
        self_paced_weights([1.0, 1.0, 0.5, 0.0], [0.05, 0.2, 0.1, 9.0], 0.1), [0.5, 0, 0.5, 1]
    )


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(5)
    X_L = np.vstack([rng.normal(-2, 0.5, size=(4, 2)), rng.normal(2, 0.5, size=(4, 2))])
    y = np.repeat([0, 1], 4)
    X_U = rng.normal(0, 1.8, size=(30, 2))
    return X_U, X_L, y


def test_with_every_item_easy_the_first_round_is_bmdr(problem):
    X_U, X_L, y = problem
    spal = SPAL(mu=0.5, lambda_init=1e12, max_rounds=1).query(None, X_U, 4, X_L, y, 0)
    bmdr = BMDR(beta=0.5, max_rounds=1).query(None, X_U, 4, X_L, y, 0)
    assert set(spal.tolist()) == set(bmdr.tolist())


def test_a_young_learner_avoids_the_hardest_items(problem):
    X_U, X_L, y = problem
    from sklearn.metrics.pairwise import rbf_kernel

    K = rbf_kernel(X_U, X_L, gamma=0.5)
    codes = np.where(y == 0, 1.0, -1.0)
    f = K @ np.linalg.solve(rbf_kernel(X_L, gamma=0.5) + 0.1 * np.eye(8), codes)
    loss = f**2 + 2 * np.abs(f)
    young = SPAL(lambda_init=0.05, lambda_pace=0.0, max_rounds=1, mu=1e-3)
    picks = young.query(None, X_U, 3, X_L, y, 0)
    # easiness caps the worst-case loss of anything the young learner can pick
    assert loss[picks].max() <= np.sort(loss)[10]


def test_age_grows_with_the_labeled_set():
    spal = SPAL(lambda_init=0.1, lambda_pace=0.5)
    weights = spal._easiness(np.ones(2), np.array([0.5, 0.5]), 2)
    np.testing.assert_allclose(weights, 1 - 0.5 / 1.1)


def test_runs_on_multiclass_strings_and_cold_start(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    assert SPAL().query(None, X[::3], 5, X[1::9], names[1::9], 0).shape == (5,)
    assert SPAL().query(None, X[::3], 5, random_state=0).shape == (5,)


def test_bad_parameters(iris):
    X, y = iris
    with pytest.raises(ValueError, match="lambda_init"):
        SPAL(lambda_init=0).query(None, X, 2, X[::30], y[::30])
    with pytest.raises(ValueError, match="lambda_pace"):
        SPAL(lambda_pace=-1).query(None, X, 2, X[::30], y[::30])
    with pytest.raises(ValueError, match="mu"):
        SPAL(mu=-1).query(None, X, 2)
