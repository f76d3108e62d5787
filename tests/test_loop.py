"""The loop: simulate() and ActiveLearner end to end, with their input errors."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import activelab as al
from activelab.loop import aulc, stratified_initial


def logreg():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


@pytest.mark.slow
def test_margin_beats_random_on_digits_over_five_seeds():
    X, y = load_digits(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    mean_aulc = {}
    for strategy in ("margin", "random"):
        runs = [
            al.simulate(
                logreg(),
                strategy,
                X_pool,
                y_pool,
                X_test,
                y_test,
                initial=20,
                batch_size=20,
                budget=300,
                random_state=seed,
            )
            for seed in range(5)
        ]
        mean_aulc[strategy] = np.mean([r.aulc for r in runs])
    assert mean_aulc["margin"] > mean_aulc["random"]


def test_history_records_every_round(iris):
    X, y = iris
    result = al.simulate(logreg(), "entropy", X, y, initial=6, batch_size=8, budget=38)
    counts = [r.n_labeled for r in result.history]
    assert counts == [6, 14, 22, 30, 38]
    assert result.history[0].query_seconds == 0.0
    assert all(r.fit_seconds > 0 for r in result.history)
    assert all(r.query_seconds > 0 for r in result.history[1:])
    chosen = np.concatenate([r.indices for r in result.history])
    assert np.unique(chosen).shape[0] == 38
    assert set(result.history[-1].metrics) == {"accuracy", "f1_macro"}
    assert 0.0 <= result.aulc <= 1.0
    assert result.stopped_by is None
    assert result.strategy == "entropy" and "Pipeline" in result.model


def test_stratified_initial_set_holds_every_class(iris):
    _, y = iris
    rng = np.random.default_rng(0)
    for size in (3, 5, 12):
        picks = stratified_initial(y, size, rng)
        assert picks.shape == (size,) and np.unique(picks).shape == (size,)
        assert set(y[picks]) == {0, 1, 2}
    assert len(set(y[stratified_initial(y, 2, rng)])) == 2


def test_given_initial_indices_and_same_seed_same_run(iris):
    X, y = iris
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    initial = np.array([0, 1, 2, 3, 4, 5])
    initial = np.concatenate([np.flatnonzero(y_train == c)[:2] for c in range(3)])
    kwargs = dict(initial=initial, batch_size=5, budget=26, random_state=4)
    first = al.simulate(logreg(), "margin", X_train, y_train, X_test, y_test, **kwargs)
    again = al.simulate(logreg(), "margin", X_train, y_train, X_test, y_test, **kwargs)
    assert first.history[0].indices.tolist() == initial.tolist()
    for a, b in zip(first.history, again.history, strict=True):
        assert a.indices.tolist() == b.indices.tolist()
        assert a.metrics == b.metrics


def test_string_labels_dataframes_and_texts(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    frame = pd.DataFrame(X, columns=list("abcd"))
    result = al.simulate(logreg(), "least_confidence", frame, names, budget=30)
    assert result.history[-1].n_labeled == 30
    texts = [f"{'good great fine' if i % 2 else 'bad awful poor'} item {i}" for i in range(80)]
    labels = ["pos" if i % 2 else "neg" for i in range(80)]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    result = al.simulate(pipeline, "margin", texts, labels, initial=4, batch_size=4, budget=20)
    assert result.final["accuracy"] == 1.0


def test_bald_on_a_bagging_committee(iris):
    X, y = iris
    committee = al.models.Committee.bagging(LogisticRegression(max_iter=500), 5, random_state=0)
    result = al.simulate(committee, "bald", X, y, initial=6, batch_size=6, budget=30)
    assert result.history[-1].n_labeled == 30
    assert "Committee" in result.model


def test_stopping_criteria_end_the_run_and_say_why(iris):
    X, y = iris
    result = al.simulate(
        logreg(),
        "margin",
        X,
        y,
        initial=6,
        batch_size=6,
        budget=100,
        stopping=[al.stopping.Budget(24)],
    )
    assert result.history[-1].n_labeled == 24
    assert "budget of 24" in result.stopped_by
    stable = al.simulate(
        logreg(),
        "margin",
        X,
        y,
        initial=6,
        batch_size=6,
        budget=100,
        stopping=al.stopping.StabilizingPredictions(threshold=0.9, window=2),
    )
    assert stable.stopped_by and "kappa" in stable.stopped_by
    assert stable.history[-1].n_labeled < 100


def test_skipped_items_are_recorded_and_never_asked_again(iris):
    X, y = iris
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    oracle = al.oracles.SimulatedOracle(y_train, skip_rate=0.3, random_state=0)
    result = al.simulate(
        logreg(),
        "margin",
        X_train,
        y_train,
        X_test,
        y_test,
        initial=9,
        batch_size=10,
        budget=60,
        oracle=oracle,
    )
    skipped = np.concatenate([r.skipped for r in result.history])
    labeled = np.concatenate([r.indices for r in result.history])
    assert skipped.size > 0
    assert not set(skipped) & set(labeled)
    assert np.unique(np.concatenate([skipped, labeled])).size == skipped.size + labeled.size


def test_noisy_oracle_in_the_loop(iris):
    X, y = iris
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    noisy = al.oracles.NoisyOracle(y_train, noise=0.3, random_state=0)
    result = al.simulate(
        logreg(),
        "margin",
        X_train,
        y_train,
        X_test,
        y_test,
        initial=9,
        batch_size=10,
        budget=69,
        oracle=noisy,
    )
    assert result.history[-1].n_labeled == 69


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(budget=500), "exceeds"),
        (dict(initial=20, budget=10), "smaller than the initial"),
        (dict(initial=[0, 1, 2], budget=30), "one class"),
        (dict(batch_size=0), "batch_size"),
        (dict(metrics=("accuracy", "auc")), "unknown metrics"),
        (dict(initial=[0, 0, 60]), "unique"),
    ],
)
def test_bad_input_is_a_clear_error(iris, kwargs, message):
    X, y = iris
    with pytest.raises(ValueError, match=message):
        al.simulate(logreg(), "margin", X, y, **kwargs)


def test_unknown_strategy_and_mismatched_labels(iris):
    X, y = iris
    with pytest.raises(ValueError, match="Did you mean 'margin'"):
        al.simulate(logreg(), "margn", X, y)
    with pytest.raises(ValueError, match="149 labels for 150 rows"):
        al.simulate(logreg(), "margin", X, y[:-1])
    with pytest.raises(ValueError, match="pass both or neither"):
        al.simulate(logreg(), "margin", X, y, X_test=X)


def test_result_frame_and_plot(iris, tmp_path):
    X, y = iris
    result = al.simulate(logreg(), "margin", X, y, initial=6, batch_size=6, budget=24)
    frame = result.to_frame()
    assert list(frame["n_labeled"]) == [6, 12, 18, 24]
    assert {"accuracy", "f1_macro", "query_seconds", "fit_seconds", "indices"} <= set(frame)
    path = tmp_path / "curve.png"
    result.plot(str(path))
    assert path.stat().st_size > 1000


def test_aulc_normalisation():
    assert aulc([10, 20, 30], [0.5, 0.7, 0.9]) == pytest.approx(0.7)
    assert aulc([10, 20], [1.0, 1.0]) == 1.0
    assert aulc([5], [0.4]) == 0.4
    with pytest.raises(ValueError):
        aulc([1, 2], [0.5])


def test_active_learner_fit_query_teach(iris):
    X, y = iris
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0, stratify=y)
    learner = al.ActiveLearner(
        logreg(),
        "margin",
        X_val=X_val,
        y_val=y_val,
        stopping=al.stopping.Budget(20),
        random_state=0,
    )
    start = np.concatenate([np.flatnonzero(y_train == c)[:2] for c in range(3)])
    learner.fit(X_train[start], y_train[start])
    pool = np.setdiff1d(np.arange(len(y_train)), start)
    while learner.stopped_by is None:
        picks = learner.query(X_train[pool], k=7)
        learner.teach(X_train[pool[picks]], y_train[pool[picks]])
        pool = np.delete(pool, picks)
    assert learner.n_labeled == 20
    assert [r.n_labeled for r in learner.history] == [6, 13, 20]
    assert learner.history[-1].metrics["accuracy"] > 0.5
    assert learner.history[-1].query_seconds > 0
    assert "budget" in learner.stopped_by
    assert learner.predict(X_val).shape == y_val.shape


def test_active_learner_errors(iris):
    X, y = iris
    learner = al.ActiveLearner(logreg(), "margin")
    with pytest.raises(RuntimeError, match="fit the learner"):
        learner.query(X, 3)
    with pytest.raises(ValueError, match="one class"):
        learner.fit(X[:5], y[:5])
    with pytest.raises(TypeError, match="registry name"):
        al.ActiveLearner(logreg(), strategy=42)


def test_indices_are_rows_of_x_even_with_the_automatic_holdout(iris):
    X, y = iris

    class Recorder(al.oracles.SimulatedOracle):
        asked: ClassVar[list[int]] = []

        def label(self, indices):
            self.asked.extend(np.asarray(indices).tolist())
            return super().label(indices)

    oracle = Recorder(y)
    initial = np.array([149, 0, 75])
    result = al.simulate(
        logreg(), "margin", X, y, initial=initial, batch_size=9, budget=30, oracle=oracle
    )
    reported = np.concatenate([r.indices for r in result.history]).tolist()
    assert reported == oracle.asked
    assert reported[:3] == [149, 0, 75]
    assert len(set(reported)) == 30


@pytest.mark.parametrize("method", ["typiclust", "kmeans", "birch", "random"])
def test_cold_start_initial_sets_come_from_features(method):
    X, y = load_digits(return_X_y=True)
    result = al.simulate(
        logreg(),
        "margin",
        X,
        y,
        initial=method,
        initial_size=20,
        batch_size=20,
        budget=60,
        random_state=0,
    )
    first = result.history[0]
    assert first.n_labeled == 20 and len(set(first.indices.tolist())) == 20
    if method != "random":  # representative picks cover most digits without seeing labels
        assert len(set(y[first.indices])) >= 7
    texts = [f"{'good great fine' if i % 2 else 'bad awful poor'} item {i}" for i in range(80)]
    labels = ["pos" if i % 2 else "neg" for i in range(80)]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    result = al.simulate(
        pipeline,
        "margin",
        texts,
        labels,
        initial=method,
        initial_size=6,
        batch_size=4,
        budget=14,
        random_state=0,
    )
    assert result.history[0].n_labeled == 6


# -- training schemes and importance weighting in the loop (activelab.training) ----------


def test_rounds_record_pseudo_labels_and_the_frame_shows_them(iris):
    X, y = iris
    result = al.simulate(
        logreg(),
        "margin",
        X,
        y,
        initial=6,
        batch_size=6,
        budget=24,
        training=al.training.SelfTraining(threshold=0.9),
    )
    frame = result.to_frame()
    assert {"n_pseudo", "pseudo_accuracy"} <= set(frame)
    assert frame["n_pseudo"].iloc[0] == 0 and frame["n_pseudo"].iloc[1:].min() > 0
    assert list(frame["n_labeled"]) == [6, 12, 18, 24]
    plain = al.simulate(logreg(), "margin", X, y, initial=6, batch_size=6, budget=24)
    assert plain.to_frame()["n_pseudo"].tolist() == [0, 0, 0, 0]


def test_active_learner_pseudo_labels_the_rest_of_the_last_pool(iris):
    X, y = iris
    start = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    pool = np.setdiff1d(np.arange(len(y)), start)
    learner = al.ActiveLearner(
        logreg(), "margin", training=al.training.CEAL(delta=5.0, decay=0.0), random_state=0
    )
    learner.fit(X[start], y[start])
    assert learner.history[0].n_pseudo == 0
    picks = learner.query(X[pool], k=5)
    learner.teach(X[pool[picks]], y[pool[picks]])
    # delta above ln 3: every pool item not taught is pseudo-labeled, none counts.
    assert learner.history[-1].n_pseudo == len(pool) - 5
    assert learner.n_labeled == 11 and learner.y_labeled.shape == (11,)
    # Taught without a query: no pool to pseudo-label from is invented.
    learner.fit(X[start], y[start])
    learner.teach(X[pool[:3]], y[pool[:3]])
    assert learner.history[-1].n_pseudo == 0


class WeightRecorder(LogisticRegression):
    """Records the sample weights of every fit (the loop fits a clone)."""

    fits: ClassVar[list] = []

    def fit(self, X, y, sample_weight=None):
        WeightRecorder.fits.append(sample_weight)
        return super().fit(X, y, sample_weight=sample_weight)


def test_active_learner_importance_weights_follow_the_picks(iris):
    X, y = iris
    start = np.concatenate([np.flatnonzero(y == c)[:2] for c in range(3)])
    pool = np.setdiff1d(np.arange(len(y)), start)
    WeightRecorder.fits = []
    strategy = al.strategies.get("entropy", sampling="softmax", temperature=0.2)
    learner = al.ActiveLearner(
        WeightRecorder(max_iter=500), strategy, importance_weighting=True, random_state=0
    )
    learner.fit(X[start], y[start])
    assert np.all(WeightRecorder.fits[-1] == 1.0)
    model = learner.model
    picks = learner.query(X[pool], k=4)
    q = al.training.selection_probabilities(strategy, model, X[pool], picks)
    ratios = np.concatenate([np.ones(6), 1.0 / ((len(pool) - np.arange(4)) * q)])
    order = [2, 0, 3]  # three of the four taught, out of order
    learner.teach(X[pool[picks[order]]], y[pool[picks[order]]])
    expected = al.training.lure_weights(ratios[[0, 1, 2, 3, 4, 5, 8, 6, 9]], len(y))
    assert np.allclose(WeightRecorder.fits[-1], expected)


def test_loop_options_fail_early_with_clear_errors(iris):
    from sklearn.neighbors import KNeighborsClassifier

    with pytest.raises(TypeError, match="sample_weight"):
        al.ActiveLearner(KNeighborsClassifier(3), "random", importance_weighting=True)
    with pytest.raises(TypeError, match="training scheme"):
        al.ActiveLearner(logreg(), "margin", training=0.9)
    with pytest.raises(ValueError, match="threshold"):
        al.ActiveLearner(logreg(), "margin", training=al.training.SelfTraining(threshold=2))


class BillingOracle:
    """Answers the truth at a price per item, and remembers what the loop told it."""

    def __init__(self, y, price):
        self.y, self.price, self.contexts = np.asarray(y), price, []

    def label(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        return al.oracles.Answers(indices, self.y[indices], cost=self.price * indices.size)

    def observe(self, context):
        self.contexts.append(context)


def test_simulate_adds_the_oracles_cost_to_the_items_costs(iris):
    X, y = iris
    prices = np.linspace(1.0, 3.0, len(y))
    oracle = BillingOracle(y, 0.5)
    result = al.simulate(
        logreg(), "margin", X, y, initial=9, batch_size=7, budget=30, oracle=oracle, costs=prices
    )
    spent, _ = result.curve(against="cost")
    bought = [r.indices for r in result.history]
    expected = np.cumsum([prices[b].sum() + 0.5 * b.size for b in bought])
    np.testing.assert_allclose(spent, expected)
    without = al.simulate(
        logreg(), "margin", X, y, initial=9, batch_size=7, budget=30, oracle=oracle
    )
    np.testing.assert_allclose(
        without.curve(against="cost")[0], np.cumsum([0.5 * r.indices.size for r in without.history])
    )


def test_simulate_tells_an_observing_oracle_the_model_and_the_labels(iris):
    X, y = iris
    oracle = BillingOracle(y, 0.0)
    result = al.simulate(
        logreg(), "margin", X, y, initial=9, batch_size=7, budget=30, oracle=oracle
    )
    # After every fit but the last (nothing more is asked then).
    assert len(oracle.contexts) == len(result.history) - 1
    for r, context in enumerate(oracle.contexts):
        labeled = np.concatenate([h.indices for h in result.history[: r + 1]])
        np.testing.assert_array_equal(context.labeled, labeled)
        np.testing.assert_array_equal(context.y_labeled, y[labeled])
        assert context.round == r and context.X is X
        assert hasattr(context.model, "predict_proba")
    # Free but counted (the oracle reported 0 each time, and keeps no total): NaN.
    assert np.isnan([h.cost for h in result.history]).all()


def test_cost_budget_with_an_oracles_cost_stops_once_spent(iris):
    X, y = iris
    oracle = al.oracles.RecordingOracle(BillingOracle(y, 1.0))
    result = al.simulate(
        logreg(),
        "margin",
        X,
        y,
        initial=10,
        batch_size=10,
        budget=100,
        oracle=oracle,
        cost_budget=35.0,
    )
    spent, _ = result.curve(against="cost")
    assert spent.tolist() == [10.0, 20.0, 30.0, 40.0]  # over by at most one batch
    assert result.stopped_by == "cost budget: 40 of 35 spent"


def test_active_learner_ask_tells_the_oracle_and_counts_its_cost(iris):
    X, y = iris
    oracle = BillingOracle(y, 0.25)
    learner = al.ActiveLearner(logreg(), "margin", random_state=0)
    learner.ask(oracle, X, [0, 50, 100])
    assert oracle.contexts == []  # no model yet
    pool = np.setdiff1d(np.arange(len(y)), [0, 50, 100])
    learner.ask(oracle, X, pool[learner.query(X[pool], k=4)])
    context = oracle.contexts[-1]
    np.testing.assert_array_equal(context.labeled, [0, 50, 100])
    assert context.model is learner.model and context.X is X
    assert [r.cost for r in learner.history] == [0.75, 1.75]
