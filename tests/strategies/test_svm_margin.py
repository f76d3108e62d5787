"""Simple margin: the smallest |decision_function|, through any margin classifier."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from activelab.models import wrap
from activelab.strategies import EpsilonGreedy, SVMMargin
from activelab.strategies._svm_margin import boundary_closeness


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(
        n_samples=150, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=3
    )
    return X[:40], y[:40], X[40:]


def test_binary_picks_are_closest_to_the_hyperplane(problem):
    X, y, pool = problem
    svm = SVC(kernel="linear").fit(X, y == 0)
    picks = SVMMargin().query(svm, pool, 5, random_state=0)
    distance = np.abs(svm.decision_function(pool))
    assert picks.tolist() == np.argsort(distance)[:5].tolist()


def test_multiclass_uses_the_nearest_one_vs_rest_boundary(problem):
    X, y, pool = problem
    svm = LinearSVC().fit(X, y)
    nearest = np.abs(svm.decision_function(pool)).min(axis=1)
    picks = SVMMargin().query(svm, pool, 6, random_state=0)
    assert picks.tolist() == np.argsort(nearest)[:6].tolist()
    # the same through an adapter and through a Pipeline
    adapter = wrap(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y))
    assert SVMMargin().query(adapter, pool, 3, random_state=0).shape == (3,)
    piped = make_pipeline(StandardScaler(), LinearSVC()).fit(X, y)
    assert SVMMargin().query(piped, pool, 3, random_state=0).shape == (3,)


def test_models_without_decision_function_are_refused(problem):
    X, y, pool = problem
    with pytest.raises(TypeError, match="decision_function"):
        SVMMargin().query(GaussianNB().fit(X, y), pool, 2)
    with pytest.raises(TypeError, match="model=None"):
        SVMMargin().query(None, pool, 2)
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, C\)"):
        boundary_closeness(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        boundary_closeness([0.0, np.nan])


def test_wrappers_read_it_through_its_own_adapter(problem):
    X, y, pool = problem
    svm = LinearSVC().fit(X, y)
    picks = EpsilonGreedy(SVMMargin(), epsilon=0.0).query(svm, pool, 4, random_state=0)
    assert picks.tolist() == SVMMargin().query(svm, pool, 4, random_state=0).tolist()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30))
def test_property_order_is_minus_absolute_value(values):
    values = np.array(values)
    utility = boundary_closeness(values)
    assert ((utility > 0) & (utility <= 1)).all()
    distance = np.abs(values)
    i, j = np.meshgrid(np.arange(len(values)), np.arange(len(values)))
    closer = distance[i] < distance[j]
    assert (utility[i][closer] >= utility[j][closer]).all()
