"""Committees beyond bagging: heterogeneous committees and query-by-boosting."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import activelab as al
from activelab import scores
from activelab.models import BoostingCommittee, Committee
from activelab.models._committee import _apportion

DISAGREEMENT = ("vote_entropy", "kl_consensus", "bald", "variation_ratio", "mean_std")


@pytest.fixture(scope="module")
def labeled(iris):
    X, y = iris
    rng = np.random.default_rng(0)
    rows = np.concatenate([rng.choice(np.flatnonzero(y == c), 8, replace=False) for c in range(3)])
    return X[rows], y[rows], X[::5]


class ReversedColumns(ClassifierMixin, BaseEstimator):
    """A classifier that keeps its classes (and probability columns) in reverse order."""

    def __init__(self, estimator=None):
        self.estimator = estimator

    def fit(self, X, y):
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_[::-1]
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)[:, ::-1]


def reference_weighted_vote_entropy(member_proba, weights):
    """Entropy of the weighted hard votes, member by member."""
    votes = np.zeros(member_proba.shape[1:])
    for proba, weight in zip(member_proba, weights, strict=True):
        votes[np.arange(proba.shape[0]), proba.argmax(axis=1)] += weight
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(votes > 0, votes * np.log(votes), 0.0)
    return -terms.sum(axis=1)


# ------------------------------------------------------------------- heterogeneous


def test_heterogeneous_committee_stacks_every_kind_of_member(labeled):
    X, y, pool = labeled
    estimators = [
        LogisticRegression(max_iter=500),
        RandomForestClassifier(n_estimators=10, random_state=0),
        CalibratedClassifierCV(SVC(), ensemble=False),
        GaussianNB(),
    ]
    committee = Committee.heterogeneous(estimators).fit(X, y)
    samples = committee.sample_proba(pool)
    assert samples.shape == (4, len(pool), 3)
    np.testing.assert_allclose(samples.sum(axis=2), 1.0)
    for member, alone in zip(samples, estimators, strict=True):
        np.testing.assert_allclose(member, clone(alone).fit(X, y).predict_proba(pool))
    np.testing.assert_allclose(committee.predict_proba(pool), samples.mean(axis=0))
    assert not hasattr(estimators[0], "coef_"), "the estimators passed in stay unfitted"


@pytest.mark.parametrize("name", DISAGREEMENT)
def test_disagreement_strategies_work_unchanged_on_a_heterogeneous_committee(name, labeled):
    X, y, pool = labeled
    committee = Committee.heterogeneous(
        [LogisticRegression(max_iter=500), GaussianNB(), DecisionTreeClassifier(random_state=0)]
    ).fit(X, y)
    strategy = al.strategies.get(name)
    expected = getattr(scores, name)(committee.sample_proba(pool))
    np.testing.assert_allclose(strategy.utilities(committee, pool), expected)
    picks = strategy.query(committee, pool, 5, random_state=0)
    assert picks.shape == (5,) and np.unique(picks).shape == (5,)
    assert expected[picks].min() >= np.sort(expected)[-5] - 1e-12


def test_members_with_another_class_order_are_aligned(labeled):
    X, y, pool = labeled
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    plain = LogisticRegression(max_iter=500)
    committee = Committee.heterogeneous([ReversedColumns(plain), GaussianNB()]).fit(X, names)
    assert committee.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert committee.members_[0].classes_.tolist() == ["virginica", "versicolor", "setosa"]
    expected = clone(plain).fit(X, names).predict_proba(pool)
    np.testing.assert_allclose(committee.sample_proba(pool)[0], expected)


def test_heterogeneous_bootstrap_is_seeded(labeled):
    X, y, pool = labeled
    members = [LogisticRegression(max_iter=500), GaussianNB()]
    first = Committee.heterogeneous(members, bootstrap=True, random_state=4).fit(X, y)
    again = Committee.heterogeneous(members, bootstrap=True, random_state=4).fit(X, y)
    other = Committee.heterogeneous(members, bootstrap=True, random_state=5).fit(X, y)
    np.testing.assert_allclose(first.sample_proba(pool), again.sample_proba(pool))
    assert not np.allclose(first.sample_proba(pool), other.sample_proba(pool))


def test_heterogeneous_rejects_bad_members_with_a_hint():
    with pytest.raises(ValueError, match="at least 2 members"):
        Committee.heterogeneous([GaussianNB()])
    with pytest.raises(TypeError, match=r"member 1 \(SVC\).*CalibratedClassifierCV"):
        Committee.heterogeneous([GaussianNB(), SVC()])
    with pytest.raises(TypeError, match="list of estimators"):
        Committee.heterogeneous(GaussianNB())


# ------------------------------------------------------------------------ boosting


def test_boosting_members_and_weights_are_adaboosts(labeled):
    X, y, pool = labeled
    committee = Committee.boosting(n_members=6, random_state=0).fit(X, y)
    assert isinstance(committee, BoostingCommittee)
    seed = int(np.random.default_rng(0).integers(0, 2**31 - 1))
    reference = AdaBoostClassifier(
        DecisionTreeClassifier(max_depth=1), n_estimators=6, random_state=seed
    ).fit(X, y)
    weights = reference.estimator_weights_[: len(reference.estimators_)]
    np.testing.assert_allclose(committee.weights_, weights / weights.sum())
    for ours, theirs in zip(committee.members_, reference.estimators_, strict=True):
        np.testing.assert_allclose(ours.predict_proba(pool), theirs.predict_proba(pool))
    # the weighted vote of the hard predictions is AdaBoost's (SAMME) prediction
    votes = np.zeros((len(pool), 3))
    for member, weight in zip(committee.members_, committee.weights_, strict=True):
        votes[np.arange(len(pool)), member.predict(pool)] += weight
    assert votes.argmax(axis=1).tolist() == reference.predict(pool).tolist()


def test_boosting_predict_proba_is_the_weighted_mean(labeled):
    X, y, pool = labeled
    committee = Committee.boosting(n_members=5, random_state=1).fit(X, y)
    expected = sum(
        weight * member.predict_proba(pool)
        for member, weight in zip(committee.members_, committee.weights_, strict=True)
    )
    np.testing.assert_allclose(committee.predict_proba(pool), expected)
    assert committee.predict(pool).tolist() == committee.classes_[expected.argmax(1)].tolist()


def test_boosting_samples_repeat_members_by_weight(labeled):
    X, y, pool = labeled
    committee = Committee.boosting(n_members=8, resolution=50, random_state=0).fit(X, y)
    samples = committee.sample_proba(pool)
    assert samples.shape == (50, len(pool), 3)
    assert committee.counts_.sum() == 50
    assert np.all(np.abs(committee.counts_ - 50 * committee.weights_) < 1)
    members = np.stack([m.predict_proba(pool) for m in committee.members_])
    # vote entropy of the samples = weighted vote entropy with the rounded weights ...
    rounded = committee.counts_ / 50
    np.testing.assert_allclose(
        scores.vote_entropy(samples), reference_weighted_vote_entropy(members, rounded)
    )
    # ... close to the one with the exact boosting weights
    exact = reference_weighted_vote_entropy(members, committee.weights_)
    assert np.abs(scores.vote_entropy(samples) - exact).max() < 0.05
    # BALD and the other scores read the same samples, weighted the same way
    mean = np.tensordot(rounded, members, axes=1)
    entropy = lambda p: -(p * np.log(np.where(p > 0, p, 1))).sum(-1)  # noqa: E731
    np.testing.assert_allclose(
        scores.bald(samples), entropy(mean) - np.tensordot(rounded, entropy(members), 1)
    )


def test_boosting_that_stops_at_one_perfect_member_has_no_disagreement():
    X = np.arange(10, dtype=float).reshape(-1, 1)
    y = np.where(X[:, 0] > 4, "b", "a")
    committee = Committee.boosting(n_members=10, resolution=7, random_state=0).fit(X, y)
    assert len(committee.members_) == 1 and committee.counts_.tolist() == [7]
    assert np.all(scores.bald(committee.sample_proba(X)) == 0.0)
    picks = al.strategies.get("vote_entropy").query(committee, X, 3, random_state=0)
    assert len(set(picks.tolist())) == 3


def test_boosting_with_another_weak_learner_and_dataframes(labeled):
    import pandas as pd

    X, y, pool = labeled
    frame, pool_frame = pd.DataFrame(X), pd.DataFrame(pool)
    committee = Committee.boosting(GaussianNB(), n_members=4, random_state=0).fit(frame, y)
    np.testing.assert_allclose(committee.sample_proba(pool_frame), committee.sample_proba(pool))
    picks = al.strategies.get("kl_consensus").query(committee, pool_frame, 4, random_state=0)
    assert picks.shape == (4,)


def test_boosting_errors_say_what_to_do(labeled):
    X, y, _ = labeled
    with pytest.raises(TypeError, match=r"sample_weight.*KNeighborsClassifier"):
        Committee.boosting(KNeighborsClassifier()).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        Committee.boosting().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="n_members must be an int of at least 1"):
        Committee.boosting(n_members=0).fit(X, y)
    with pytest.raises(RuntimeError, match="not fitted"):
        Committee.boosting().sample_proba(X)
    clone_of = clone(Committee.boosting(n_members=3, random_state=0))
    assert clone_of.get_params()["n_members"] == 3
    assert Committee.boosting().describe() == "BoostingCommittee(10 × DecisionTreeClassifier)"


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.floats(1e-6, 1.0), min_size=1, max_size=30),
    total=st.integers(1, 500),
)
def test_apportion_sums_to_total_and_stays_within_one(weights, total):
    w = np.asarray(weights)
    counts = _apportion(w, total)
    assert counts.sum() == total
    assert np.all(np.abs(counts - total * w / w.sum()) < 1 + 1e-9)
    assert np.all(counts >= 0)
