"""Model adapters: wrap, ensemble members as posterior samples, committees, alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    BaggingClassifier,
    ExtraTreesClassifier,
    RandomForestClassifier,
    VotingClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import activelab as al
from activelab.models import Committee, SklearnAdapter, align_columns, wrap


def test_wrap_returns_an_adapter_and_keeps_adapters(iris):
    X, y = iris
    adapter = wrap(LogisticRegression(max_iter=500).fit(X, y))
    assert isinstance(adapter, SklearnAdapter)
    assert wrap(adapter) is adapter
    assert adapter.predict_proba(X[:4]).shape == (4, 3)
    assert adapter.classes_.tolist() == [0, 1, 2]
    assert adapter.capabilities == {
        "predict_proba",
        "embed",
        "grad_embed",
        "gradient_lengths",
        "logistic_head",
    }


def test_wrap_rejects_models_without_probabilities_and_says_how_to_fix():
    with pytest.raises(TypeError, match="CalibratedClassifierCV"):
        wrap(LinearSVC())
    with pytest.raises(TypeError, match="predict_proba"):
        wrap(object())


class DuckModel:
    """Not a scikit-learn estimator: just predict_proba and classes_."""

    classes_ = np.array(["no", "yes"])

    def predict_proba(self, X):
        first = 1.0 / (1.0 + np.exp(-np.asarray(X)[:, 0]))
        return np.column_stack([1.0 - first, first])


def test_duck_typed_model_works_with_a_strategy():
    pool = np.array([[-3.0], [0.05], [4.0], [-0.2]])
    picks = al.strategies.get("margin").query(DuckModel(), pool, 2, random_state=0)
    assert set(picks.tolist()) == {1, 3}
    assert wrap(DuckModel()).predict(pool).tolist() == ["no", "yes", "yes", "no"]


@pytest.mark.parametrize(
    "ensemble",
    [
        RandomForestClassifier(n_estimators=7, random_state=0),
        ExtraTreesClassifier(n_estimators=5, random_state=0),
        BaggingClassifier(LogisticRegression(max_iter=500), n_estimators=6, random_state=0),
        BaggingClassifier(
            GaussianNB(), n_estimators=5, max_features=0.5, max_samples=0.3, random_state=0
        ),
    ],
    ids=["forest", "extra-trees", "bagging", "bagging-feature-subsets"],
)
def test_ensemble_members_are_samples_whose_mean_is_the_ensemble(ensemble, iris):
    X, y = iris
    adapter = wrap(ensemble).fit(X, y)
    assert "sample_proba" in adapter.capabilities
    samples = adapter.sample_proba(X[::10])
    assert samples.shape == (len(ensemble.estimators_), 15, 3)
    np.testing.assert_allclose(samples.mean(axis=0), ensemble.predict_proba(X[::10]), atol=1e-12)


def test_bagging_members_that_missed_classes_get_zero_columns_in_place():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.array(["ant"] * 2 + ["bee"] * 19 + ["cat"] * 19)
    # KNN takes no sample_weight, so bagging really subsamples rows (and misses classes).
    bagging = BaggingClassifier(
        KNeighborsClassifier(n_neighbors=2), n_estimators=12, max_samples=6, random_state=1
    )
    samples = wrap(bagging).fit(X, y).sample_proba(X)
    member_classes = [len(m.classes_) for m in bagging.estimators_]
    assert min(member_classes) < 3  # some member really missed a class
    np.testing.assert_allclose(samples.mean(axis=0), bagging.predict_proba(X), atol=1e-12)


def test_soft_voting_gives_heterogeneous_samples(iris):
    X, y = iris
    voting = VotingClassifier(
        [("lr", LogisticRegression(max_iter=500)), ("nb", GaussianNB())], voting="soft"
    )
    samples = wrap(voting).fit(X, y).sample_proba(X[:5])
    assert samples.shape == (2, 5, 3)
    np.testing.assert_allclose(samples.mean(axis=0), voting.predict_proba(X[:5]), atol=1e-12)
    hard = VotingClassifier([("lr", LogisticRegression()), ("nb", GaussianNB())])
    assert "sample_proba" not in SklearnAdapter(hard).capabilities


def test_pipeline_embed_and_samples(iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=list("abcd"))
    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(5, random_state=0))
    adapter = wrap(pipeline).fit(frame, y)
    np.testing.assert_allclose(adapter.embed(frame), StandardScaler().fit(X).transform(X))
    assert adapter.sample_proba(frame).shape == (5, 150, 3)
    assert "RandomForestClassifier" in adapter.describe()


def test_embed_of_texts_needs_a_vectorising_pipeline():
    texts = ["good film", "bad film", "great plot", "awful plot"]
    labels = ["pos", "neg", "pos", "neg"]
    plain = wrap(LogisticRegression())
    with pytest.raises(TypeError, match="Pipeline"):
        plain.embed(texts)
    pipeline = wrap(make_pipeline(TfidfVectorizer(), LogisticRegression())).fit(texts, labels)
    assert pipeline.embed(texts).shape[0] == 4
    picks = al.strategies.get("entropy").query(pipeline, texts, 2, random_state=0)
    assert len(set(picks.tolist())) == 2


def test_align_columns_places_zero_columns_by_label():
    proba = np.array([[0.25, 0.75]])
    aligned = align_columns(proba, np.array(["a", "c"]), np.array(["a", "b", "c"]), encoded=False)
    assert aligned.tolist() == [[0.25, 0.0, 0.75]]
    encoded = align_columns(proba, np.array([0, 2]), np.array(["x", "y", "z"]), encoded=True)
    assert encoded.tolist() == [[0.25, 0.0, 0.75]]
    with pytest.raises(ValueError, match="does not know"):
        align_columns(proba, np.array(["a", "q"]), np.array(["a", "b", "c"]), encoded=False)


def test_committee_of_different_estimators(iris):
    X, y = iris
    committee = Committee([LogisticRegression(max_iter=500), GaussianNB()]).fit(X, y)
    samples = committee.sample_proba(X[:6])
    assert samples.shape == (2, 6, 3)
    np.testing.assert_allclose(committee.predict_proba(X[:6]), samples.mean(axis=0))
    assert committee.predict(X[:6]).tolist() == y[:6].tolist()
    assert "sample_proba" in committee.capabilities
    assert committee.describe() == "Committee(2 × GaussianNB/LogisticRegression)"


def test_bagging_committee_members_that_saw_one_class_do_not_crash():
    X = np.arange(6, dtype=float).reshape(-1, 1)
    y = np.array(["a", "b", "b", "c", "c", "c"])
    committee = Committee.bagging(LogisticRegression(), n_members=30, random_state=0).fit(X, y)
    samples = committee.sample_proba(X)
    assert samples.shape == (30, 6, 3)
    np.testing.assert_allclose(samples.sum(axis=2), 1.0)
    partial = [m for m in committee.members_ if len(m.classes_) < 3]
    assert partial, "with 6 rows some bootstrap misses a class"
    for position, member in enumerate(committee.members_):
        unseen = np.setdiff1d(committee.classes_, member.classes_)
        columns = np.searchsorted(committee.classes_, unseen)
        assert (samples[position][:, columns] == 0).all()


def test_bagging_is_seeded_and_clones_unfitted(iris):
    X, y = iris
    first = Committee.bagging(LogisticRegression(max_iter=500), 4, random_state=0).fit(X, y)
    second = Committee.bagging(LogisticRegression(max_iter=500), 4, random_state=0).fit(X, y)
    np.testing.assert_allclose(first.sample_proba(X), second.sample_proba(X))
    copy = first.clone()
    assert not hasattr(copy, "members_")
    with pytest.raises(ValueError, match="at least 2"):
        Committee.bagging(LogisticRegression(), n_members=1)
    with pytest.raises(RuntimeError, match="not fitted"):
        copy.sample_proba(X)


def test_missing_capability_message_names_the_provider(iris):
    X, y = iris
    adapter = wrap(LogisticRegression(max_iter=500).fit(X, y))
    with pytest.raises(TypeError, match=r"bald needs 'sample_proba'.*Committee\.bagging"):
        adapter.require("sample_proba", "bald")


def test_gradient_lengths_of_a_linear_head_and_none_for_a_forest(iris):
    from sklearn.ensemble import RandomForestClassifier

    from activelab.strategies._egl import ExpectedGradientLength, expected_length

    X, y = iris
    adapter = wrap(LogisticRegression(max_iter=500).fit(X, y))
    lengths = adapter.gradient_lengths(X[:5])
    assert lengths.shape == (5, 3) and (lengths >= 0).all()
    np.testing.assert_allclose(
        expected_length(adapter.predict_proba(X[:5]), lengths),
        ExpectedGradientLength().utilities(adapter, X[:5]),
    )
    forest = wrap(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y))
    assert "gradient_lengths" not in forest.capabilities
    with pytest.raises(TypeError, match="gradient_lengths"):
        forest.gradient_lengths(X[:5])
