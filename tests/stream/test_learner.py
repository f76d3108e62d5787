"""StreamLearner: incremental and windowed training, mini-batches, and its messages."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.svm import LinearSVC

from activelab import stream


def blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    return X, y


def run(learner, X, y, batch=1):
    for start in range(0, len(X), batch):
        rows, labels = X[start : start + batch], y[start : start + batch]
        queried = learner.query(rows)
        learner.teach(rows[queried], labels[queried])
    return learner


@pytest.mark.parametrize(
    "estimator",
    [
        SGDClassifier(loss="log_loss", random_state=0),
        GaussianNB(),
        MLPClassifier(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=0.05),
    ],
    ids=["sgd", "naive_bayes", "mlp"],
)
def test_incremental_models_learn_within_the_budget(estimator):
    X, y = blobs(800)
    learner = stream.StreamLearner(
        estimator, "variable_uncertainty", budget=0.1, classes=[0, 1], random_state=0
    )
    run(learner, X, y, batch=10)
    assert learner.n_seen_ == 800
    assert learner.n_queried_ <= (100 * 0.1 + 1) * (1 + 800 / 100)
    assert learner.n_taught_ == learner.n_queried_ > 20
    X_test, y_test = blobs(500, seed=1)
    assert np.mean(learner.predict(X_test) == y_test) > 0.9
    assert learner.rate == learner.n_queried_ / 800


def test_the_caller_estimator_is_never_fitted():
    estimator = SGDClassifier(loss="log_loss")
    learner = stream.StreamLearner(estimator, classes=[0, 1])
    learner.teach([[0.0, 1.0], [1.0, 0.0]], [0, 1])
    assert not hasattr(estimator, "coef_")


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # GaussianNB, unseen class
def test_uniform_until_two_classes_are_taught_then_the_model():
    learner = stream.StreamLearner(GaussianNB(), classes=["a", "b", "c"])
    assert np.allclose(learner.predict_proba([[0.0], [1.0]]), 1 / 3)
    assert learner.predict([[0.0]]).tolist() == ["a"]
    learner.teach([[2.0], [2.5]], ["c", "c"])
    assert np.allclose(learner.predict_proba([[0.0]]), 1 / 3)
    assert learner.predict([[0.0]]).tolist() == ["c"]
    learner.teach([[-2.0], [-2.5]], ["b", "b"])
    assert learner.predict([[-2.2], [2.2]]).tolist() == ["b", "c"]
    window = stream.StreamLearner(
        LogisticRegression(), classes=["a", "b"], training="window", window_size=3
    )
    window.teach([[0.0], [0.1]], ["b", "b"])  # one class: nothing to fit yet
    assert np.allclose(window.predict_proba([[5.0]]), 0.5)
    assert window.predict([[5.0]]).tolist() == ["b"]


def test_window_training_keeps_the_last_items_and_refits_on_schedule():
    fits = []

    class Spy(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            fits.append((np.asarray(X).copy(), np.asarray(y).copy()))
            return super().fit(X, y)

    learner = stream.StreamLearner(
        Spy(), classes=[0, 1], training="window", window_size=4, refit_every=2
    )
    X = np.arange(10, dtype=float)[:, None]
    y = np.array([0, 1] * 5)
    for i in range(10):
        learner.teach(X[i : i + 1], y[i : i + 1])
    assert len(fits) == 5  # after every second label
    kept, labels = fits[-1]
    assert sorted(kept.ravel().tolist()) == [6.0, 7.0, 8.0, 9.0]
    assert sorted(labels.tolist()) == [0, 0, 1, 1]


def test_window_model_with_a_subset_of_classes_gets_zero_columns():
    learner = stream.StreamLearner(
        LogisticRegression(), classes=[0, 1, 2], training="window", window_size=10
    )
    learner.teach([[0.0], [1.0], [4.0], [5.0]], [0, 0, 2, 2])
    proba = learner.predict_proba([[0.0], [5.0]])
    assert proba.shape == (2, 3) and np.allclose(proba[:, 1], 0.0)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_a_mini_batch_is_decided_like_the_same_items_one_by_one():
    X, _ = blobs(300)
    model = GaussianNB().fit(*blobs(50, seed=3))

    def learner():
        made = stream.StreamLearner(
            GaussianNB(),
            "random_variable_uncertainty",
            budget=0.2,
            classes=[0, 1],
            random_state=4,
        )
        made.estimator, made._fitted = model, True  # same fixed model for both
        return made

    batched = learner().query(X)
    single = learner()
    one_by_one = np.array([single.query(x)[0] for x in X])
    assert batched.tolist() == one_by_one.tolist()
    assert 0 < batched.sum() < 300


def test_pal_learns_the_taught_labels():
    X, y = blobs(400)
    learner = stream.StreamLearner(
        GaussianNB(), "probabilistic", budget=0.1, classes=[0, 1], random_state=0
    )
    run(learner, X, y, batch=20)
    assert learner.rule.n_learned_ == learner.n_taught_ > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "needs classes"),
        ({"classes": [1]}, ValueError, "at least two labels"),
        ({"classes": [0, 1], "training": "batch"}, ValueError, "training must be one of"),
        ({"classes": [0, 1], "rule": 3}, TypeError, "rule must be a stream rule name"),
        (
            {"classes": [0, 1], "budget": 0.2, "budget_manager": stream.SplitBudget(budget=0.1)},
            ValueError,
            "disagrees",
        ),
        ({"classes": [0, 1], "budget_manager": "split"}, TypeError, "must be a BudgetManager"),
    ],
)
def test_messages_say_what_to_do(kwargs, error, message):
    with pytest.raises(error, match=message):
        stream.StreamLearner(SGDClassifier(loss="log_loss"), **kwargs)


def test_models_without_partial_fit_or_probabilities_are_refused_clearly():
    with pytest.raises(TypeError, match="Use training='window'"):
        stream.StreamLearner(LogisticRegression(), classes=[0, 1])
    with pytest.raises(TypeError, match="loss='log_loss'"):
        stream.StreamLearner(SGDClassifier(), classes=[0, 1])
    periodic = stream.StreamLearner(LinearSVC(), "periodic", classes=[0, 1], training="window")
    assert periodic.query(np.zeros((10, 2))).sum() == 1


def test_teach_checks_labels():
    learner = stream.StreamLearner(GaussianNB(), classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels \[5\] are not among"):
        learner.teach([[0.0]], [5])
    with pytest.raises(ValueError, match="2 labels for 1 items"):
        learner.teach([[0.0]], [0, 1])
    assert learner.teach(np.zeros((0, 1)), []) is learner
