"""simulate_stream: prequential bookkeeping, drift, generators, and bounded memory."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB

from activelab import stream
from activelab.stream._simulate import _Curve, _RecentAccuracy


def test_prequential_curve_matches_a_hand_written_loop():
    X, y = stream.drifting_hyperplane(1200, random_state=1)
    result = stream.simulate_stream(
        GaussianNB(),
        "split",
        X,
        y,
        budget=0.1,
        batch_size=5,
        record_every=100,
        eval_window=200,
        random_state=3,
    )
    learner = stream.StreamLearner(
        GaussianNB(), "split", budget=0.1, classes=[0, 1], random_state=3
    )
    correct, labels = [], 0
    for start in range(0, 1200, 5):
        rows, truth = X[start : start + 5], y[start : start + 5]
        correct.extend((learner.predict(rows) == truth).tolist())
        queried = learner.query(rows)
        labels += int(queried.sum())
        learner.teach(rows[queried], truth[queried])
    correct = np.array(correct)
    assert result.n_seen.tolist() == list(range(100, 1201, 100))
    assert result.labels_used == labels == learner.n_queried_
    for seen, accuracy, recent in zip(
        result.n_seen, result.accuracy, result.window_accuracy, strict=True
    ):
        assert accuracy == pytest.approx(correct[:seen].mean())
        assert recent == pytest.approx(correct[max(0, seen - 200) : seen].mean())
    assert result.final_accuracy == pytest.approx(correct.mean())
    assert result.label_rate == pytest.approx(labels / 1200)
    assert result.accuracy_at(labels) == pytest.approx(correct.mean())
    assert np.isnan(result.accuracy_at(labels + 1))


def test_generator_of_batches_gives_the_same_run_as_arrays():
    X, y = stream.drifting_hyperplane(600, random_state=2)
    arrays = stream.simulate_stream(
        GaussianNB(), "variable_uncertainty", X, y, batch_size=20, random_state=0
    )
    pairs = ((X[i : i + 20], y[i : i + 20]) for i in range(0, 600, 20))
    generated = stream.simulate_stream(
        GaussianNB(), "variable_uncertainty", pairs, classes=[0, 1], random_state=0
    )
    assert generated.n_labeled.tolist() == arrays.n_labeled.tolist()
    assert np.allclose(generated.accuracy, arrays.accuracy)
    with pytest.raises(ValueError, match="needs classes"):
        stream.simulate_stream(GaussianNB(), "split", iter([]))
    with pytest.raises(TypeError, match=r"\(X_batch, y_batch\) pairs"):
        stream.simulate_stream(GaussianNB(), "split", iter([X[:3]]), classes=[0, 1])


def test_windowed_retraining_recovers_from_the_drift():
    X, y = stream.drifting_hyperplane(4000, drift_at=0.5, angle=90.0, random_state=0)
    result = stream.simulate_stream(
        LogisticRegression(),
        "random_variable_uncertainty",
        X,
        y,
        budget=0.1,
        training="window",
        window_size=60,
        refit_every=5,
        batch_size=10,
        eval_window=300,
        record_every=100,
        random_state=0,
    )
    recent = dict(zip(result.n_seen.tolist(), result.window_accuracy.tolist(), strict=True))
    assert recent[2000] > 0.9  # learnt the first concept
    assert recent[2300] < recent[2000] - 0.1  # the drift hurts
    assert recent[4000] > 0.9  # and the window forgets it


def test_the_curve_keeps_at_most_max_points():
    X, y = stream.drifting_hyperplane(5000, random_state=0)
    result = stream.simulate_stream(
        GaussianNB(),
        "periodic",
        X,
        y,
        batch_size=50,
        record_every=10,
        max_points=16,
        random_state=0,
    )
    assert len(result.n_seen) <= 16
    assert result.n_seen[-1] == 5000 and np.all(np.diff(result.n_seen) > 0)
    assert result.labels_used == 500
    frame = result.to_frame()
    assert list(frame.columns) == ["rule", "n_seen", "n_labeled", "accuracy", "window_accuracy"]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.booleans(), min_size=1, max_size=30), min_size=1, max_size=8),
    st.integers(1, 25),
)
def test_recent_accuracy_is_the_mean_of_the_last_bits(batches, size):
    recent, everything = _RecentAccuracy(size), []
    for batch in batches:
        recent.add(np.array(batch))
        everything.extend(batch)
        assert recent.value == pytest.approx(np.mean(everything[-size:]))


def test_curve_thinning_keeps_every_second_checkpoint():
    curve = _Curve(max_points=4, every=10)
    for seen in range(10, 101, 10):
        curve.offer((seen, 0, 0.0, 0.0))
    assert [row[0] for row in curve.rows] == [40, 80]
    assert curve.every == 40


def test_drifting_hyperplane_rotates_its_boundary():
    X, y = stream.drifting_hyperplane(2000, drift_at=0.25, angle=90.0, noise=0.0, random_state=0)
    assert np.array_equal(y[:500], (X[:500, 0] > 0).astype(int))
    assert np.array_equal(y[500:], (X[500:, 1] > 0).astype(int))
    _, noisy = stream.drifting_hyperplane(2000, noise=0.2, random_state=0)
    assert 0.1 < np.mean(noisy != y) < 0.8  # flipped labels under the first concept too
    with pytest.raises(ValueError, match="noise must be"):
        stream.drifting_hyperplane(10, noise=0.7)


# ------------------------------------------------------------------- memory


def _peak_bytes(rule, n_rows: int, budget: float) -> int:
    """Peak traced memory of a run of ``rule`` over a generator of ``n_rows`` rows."""

    def rows():
        rng = np.random.default_rng(0)
        for _ in range(n_rows // 2000):
            X = rng.normal(size=(2000, 4))
            yield X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)

    model = SGDClassifier(loss="log_loss", random_state=0)
    gc.collect()
    tracemalloc.start()
    try:
        result = stream.simulate_stream(
            model,
            rule,
            rows(),
            classes=[0, 1],
            budget=budget,
            max_points=64,
            random_state=0,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.n_seen[-1] == n_rows and len(result.n_seen) <= 64
    assert result.labels_used > 0
    return peak


def test_memory_stays_bounded_however_long_the_stream():
    _peak_bytes("fixed_uncertainty", 4_000, 0.02)  # first-call costs out of the way
    short = _peak_bytes("fixed_uncertainty", 20_000, 0.02)
    long = _peak_bytes("fixed_uncertainty", 200_000, 0.02)
    # ten times the rows, same peak: nothing per row is kept (a list of one flag per row
    # would add 1.6 MB over the short run; a batch of rows is 64 kB)
    assert long < short + 400_000, (short, long)


@pytest.mark.parametrize(
    ("rule", "budget"),
    [
        # windows small enough to fill within the short run (600 labels, 6,000 items),
        # so that the long run adds nothing a full window does not already hold
        (stream.StreamProbabilisticAL(window_size=200), 0.1),
        (stream.StreamDensityBasedAL(window_size=50), 0.1),
        (stream.CogDQS(cognition_window_size=10), 0.1),
    ],
    ids=["probabilistic", "density_based", "cogdqs"],
)
def test_windowed_rules_keep_their_memory_bounded(rule, budget):
    _peak_bytes(rule, 2_000, budget)  # first-call costs out of the way
    short = _peak_bytes(rule, 6_000, budget)
    long = _peak_bytes(rule, 40_000, budget)
    # 34,000 rows more than the short run, whose windows are already full: one 8-byte
    # value kept per row (a growing window, a list of distances or of utilities) would
    # add 272 kB; the two peaks differ by under 20 kB
    assert long < short + 150_000, (short, long)
