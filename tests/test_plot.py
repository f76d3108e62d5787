"""Plots: the content of each figure (artists, data of the maps, positions of the picks)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.linear_model import LogisticRegression, SGDClassifier  # noqa: E402

import activelab as al  # noqa: E402
from activelab.oracles import (  # noqa: E402
    IEThresh,
    MultiAnnotatorOracle,
    interval_estimates,
    simulated_annotators,
)
from activelab.plot import (  # noqa: E402
    annotator_utilities,
    grid_2d,
    learning_curves,
    mean_curve,
    stream_utilities,
    utility_map,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def by_gid(axes, gid):
    return [a for a in axes.get_children() if a.get_gid() == gid]


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.5], [1.5, 3.0]])
    y = np.repeat([0, 1, 2], 40)
    X = centres[y] + rng.normal(scale=0.8, size=(120, 2))
    order = rng.permutation(120)
    return X[order], y[order]


# ---------------------------------------------------------------------------------------
# grid_2d
# ---------------------------------------------------------------------------------------


def test_grid_covers_the_widened_range_row_by_row():
    X = np.array([[0.0, 10.0], [4.0, 20.0], [2.0, 15.0]])
    xs, ys, points = grid_2d(X, resolution=5, margin=0.25)
    np.testing.assert_allclose(xs, np.linspace(-1.0, 5.0, 5))
    np.testing.assert_allclose(ys, np.linspace(7.5, 22.5, 5))
    assert points.shape == (25, 2)
    # Row i * resolution + j is (xs[j], ys[i]).
    np.testing.assert_allclose(points[2 * 5 + 3], [xs[3], ys[2]])


def test_grid_of_a_constant_feature_still_has_width():
    xs, _ys, _ = grid_2d([[1.0, 5.0], [1.0, 6.0]], resolution=3, margin=0.5)
    assert xs[0] < 1.0 < xs[-1]


@pytest.mark.parametrize(
    ("X", "resolution", "message"),
    [
        (np.zeros((4, 3)), 10, r"shape \(n, 2\); got shape \(4, 3\).*PCA"),
        (np.zeros((0, 2)), 10, r"shape \(n, 2\)"),
        (np.zeros((4, 2)), 1, "resolution must be an integer of at least 2"),
    ],
)
def test_grid_errors(X, resolution, message):
    with pytest.raises(ValueError, match=message):
        grid_2d(X, resolution=resolution)


# ---------------------------------------------------------------------------------------
# utility_map
# ---------------------------------------------------------------------------------------


def test_margin_map_shows_the_margin_of_every_grid_point(blobs):
    X, y = blobs
    model = LogisticRegression().fit(X[:30], y[:30])
    figure = utility_map("margin", model, X[:30], y[:30], X[30:], k=7, resolution=25)
    axes = figure.axes[0]
    (mesh,) = by_gid(axes, "utilities")
    _xs, _ys, points = grid_2d(np.vstack([X[:30], X[30:]]), resolution=25)
    reference = al.scores.margin(model.predict_proba(points)).reshape(25, 25)
    np.testing.assert_allclose(np.asarray(mesh.get_array()).reshape(25, 25), reference)
    assert "utilities and 7 picks" in axes.get_title()
    assert figure.axes[1].get_ylabel() == "margin utility"  # the colour bar


def test_picks_are_the_strategy_query(blobs):
    X, y = blobs
    model = LogisticRegression().fit(X[:30], y[:30])
    figure = utility_map("entropy", model, X[:30], y[:30], X[30:], k=5, resolution=10)
    (picks,) = by_gid(figure.axes[0], "picks")
    expected = al.strategies.get("entropy").query(model, X[30:], 5, random_state=0)
    np.testing.assert_allclose(picks.get_offsets(), X[30:][expected])
    numbers = [t.get_text() for t in figure.axes[0].texts]
    assert numbers == ["1", "2", "3", "4", "5"]
    (pool,) = by_gid(figure.axes[0], "pool")
    np.testing.assert_allclose(pool.get_offsets(), X[30:])
    (labeled,) = by_gid(figure.axes[0], "labeled")
    np.testing.assert_allclose(labeled.get_offsets(), X[:30])


def test_boundary_lies_between_the_predicted_classes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0.2).astype(int)
    model = LogisticRegression().fit(X, y)
    figure = utility_map("least_confidence", model, X[:40], y[:40], X[40:], k=3)
    (boundary,) = by_gid(figure.axes[0], "boundary")
    assert list(boundary.levels) == [0.5]  # one line between two classes
    vertices = np.vstack([path.vertices for path in boundary.get_paths()])
    assert vertices.shape[0] > 10
    xs, ys, _ = grid_2d(X, resolution=80)
    step = np.hypot(xs[1] - xs[0], ys[1] - ys[0])
    # The decision function is linear: along the drawn line it is within one grid step of 0.
    slack = np.linalg.norm(model.coef_) * step
    assert np.abs(model.decision_function(vertices)).max() <= slack


def test_three_classes_get_a_line_around_each_region(blobs):
    X, y = blobs
    model = LogisticRegression().fit(X, y)
    figure = utility_map("margin", model, X[:30], y[:30], X[30:], k=2, resolution=30)
    boundaries = by_gid(figure.axes[0], "boundary")
    assert len(boundaries) == 3
    xs, ys, _ = grid_2d(np.vstack([X[:30], X[30:]]), resolution=30)
    half = np.array([[(xs[1] - xs[0]) / 2, 0.0], [0.0, (ys[1] - ys[0]) / 2]]) * 1.001
    for boundary in boundaries:
        vertices = np.vstack([path.vertices for path in boundary.get_paths()])
        assert vertices.shape[0] > 5
        # Each vertex sits halfway between two neighbouring grid points of different class.
        flips = [model.predict(vertices - h) != model.predict(vertices + h) for h in half]
        assert np.logical_or(*flips).all()


def test_strategy_without_utilities_shows_picks_only(blobs):
    X, y = blobs
    model = LogisticRegression().fit(X[:30], y[:30])
    strategy = al.strategies.get("coreset")
    figure = utility_map(strategy, model, X[:30], y[:30], X[30:], k=4, random_state=3)
    axes = figure.axes[0]
    assert by_gid(axes, "utilities") == []
    assert "picks only" in axes.get_title()
    assert len(figure.axes) == 1  # no colour bar
    (picks,) = by_gid(axes, "picks")
    expected = strategy.query(model, X[30:], 4, X[:30], y[:30], random_state=3)
    np.testing.assert_allclose(picks.get_offsets(), X[30:][expected])


def test_utility_map_draws_on_given_axes_and_saves(blobs, tmp_path):
    X, y = blobs
    model = LogisticRegression().fit(X[:30], y[:30])
    figure, (left, right) = plt.subplots(1, 2)
    returned = utility_map("margin", model, X[:30], y[:30], X[30:], k=2, ax=right, resolution=8)
    assert returned is figure
    assert by_gid(right, "utilities") and not by_gid(left, "utilities")
    path = tmp_path / "map.png"
    utility_map("margin", model, X[:30], y[:30], X[30:], k=2, resolution=8, path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_utility_map_errors(blobs):
    X, y = blobs
    model = LogisticRegression().fit(X[:30], y[:30])
    with pytest.raises(ValueError, match="X_labeled has 30 rows but y_labeled 29"):
        utility_map("margin", model, X[:30], y[:29], X[30:])
    with pytest.raises(TypeError, match="registry name or a Strategy"):
        utility_map(42, model, X[:30], y[:30], X[30:])
    X3 = np.column_stack([X, X[:, :1]])
    model3 = LogisticRegression().fit(X3[:30], y[:30])
    with pytest.raises(ValueError, match="2-D features"):
        utility_map("margin", model3, X3[:30], y[:30], X3[30:])


# ---------------------------------------------------------------------------------------
# stream_utilities
# ---------------------------------------------------------------------------------------


def test_stream_map_records_every_item_and_agrees_with_simulate_stream():
    X, y = al.stream.drifting_hyperplane(600, random_state=0)
    model = SGDClassifier(loss="log_loss", random_state=0)
    figure = stream_utilities(
        model, "variable_uncertainty", X, y, budget=0.1, batch_size=10, random_state=0
    )
    top, bottom = figure.axes
    (every,) = by_gid(top, "utilities")
    (queried,) = by_gid(top, "queried")
    offsets = every.get_offsets()
    np.testing.assert_array_equal(offsets[:, 0], np.arange(1, 601))
    utilities = np.asarray(offsets[:, 1])
    assert np.nanmin(utilities) >= 0.0 and np.nanmax(utilities) <= 1.0
    result = al.stream.simulate_stream(
        model, "variable_uncertainty", X, y, budget=0.1, batch_size=10, random_state=0
    )
    assert queried.get_offsets().shape[0] == result.labels_used
    # Queried items are drawn at their own utilities.
    positions = np.asarray(queried.get_offsets()[:, 0], dtype=int)
    np.testing.assert_allclose(queried.get_offsets()[:, 1], utilities[positions - 1])
    (rate,) = by_gid(bottom, "rate")
    assert rate.get_ydata()[-1] == pytest.approx(result.labels_used / 600)
    (budget,) = by_gid(bottom, "budget")
    assert budget.get_ydata()[0] == pytest.approx(0.1)


def test_stream_map_of_a_random_rule_queries_about_the_budget():
    X, y = al.stream.drifting_hyperplane(1000, random_state=1)
    figure = stream_utilities(
        SGDClassifier(loss="log_loss", random_state=0), "random", X, y, budget=0.2
    )
    (queried,) = by_gid(figure.axes[0], "queried")
    assert 120 <= queried.get_offsets().shape[0] <= 280
    assert "random" in figure.axes[0].get_title()


def test_stream_map_errors():
    X, y = al.stream.drifting_hyperplane(50, random_state=0)
    model = SGDClassifier(loss="log_loss")
    with pytest.raises(ValueError, match="X has 50 items but y has 49"):
        stream_utilities(model, "variable_uncertainty", X, y[:49])
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        stream_utilities(model, "variable_uncertainty", X, y, batch_size=0)


# ---------------------------------------------------------------------------------------
# annotator_utilities
# ---------------------------------------------------------------------------------------


def test_annotator_bars_are_the_upper_bounds_and_green_marks_the_chosen():
    agree, asked = np.array([40, 10, 38, 5]), np.array([40, 40, 40, 6])
    selector = IEThresh(epsilon=0.9)
    figure = annotator_utilities(agree, asked, selector=selector, names=list("ABCD"))
    axes = figure.axes[0]
    bars = by_gid(axes, "utility")
    _lower, mean, upper = interval_estimates(agree, asked, selector.alpha)
    np.testing.assert_allclose([bar.get_height() for bar in bars], upper)
    chosen = selector.choose(agree, asked)
    green = matplotlib.colors.to_rgba("tab:green", 0.5)
    assert [bar.get_facecolor() == pytest.approx(green) for bar in bars] == chosen.tolist()
    (threshold,) = by_gid(axes, "threshold")
    assert threshold.get_ydata()[0] == pytest.approx(0.9 * upper.max())
    (interval,) = [
        c for c in axes.containers if isinstance(c, matplotlib.container.ErrorbarContainer)
    ]
    np.testing.assert_allclose(interval.lines[0].get_ydata(), mean)
    assert [t.get_text() for t in axes.get_xticklabels()] == list("ABCD")
    assert f"asks {int(chosen.sum())} of 4" in axes.get_title()


def test_annotator_utilities_reads_a_multi_annotator_oracle():
    y = np.array([0, 1] * 30)
    crowd = simulated_annotators(y, accuracies=[0.95, 0.9, 0.4], random_state=0)
    oracle = MultiAnnotatorOracle(crowd, selection=IEThresh(epsilon=0.8), random_state=0)
    for start in range(0, 60, 10):
        oracle.label(np.arange(start, start + 10))
    figure = annotator_utilities(oracle)
    bars = by_gid(figure.axes[0], "utility")
    upper = interval_estimates(oracle.n_agree_, oracle.n_compared_, 0.05)[2]
    np.testing.assert_allclose([bar.get_height() for bar in bars], upper)
    assert "epsilon=0.8" in figure.axes[0].get_title()


def test_annotator_utilities_errors():
    with pytest.raises(ValueError, match="pass n_asked"):
        annotator_utilities([1, 2])
    with pytest.raises(ValueError, match="names has 1 entries for 2 annotators"):
        annotator_utilities([1, 2], [3, 3], names=["a"])


# ---------------------------------------------------------------------------------------
# learning_curves
# ---------------------------------------------------------------------------------------


def test_learning_curve_band_is_the_confidence_interval(iris_runs):
    figure = learning_curves({"margin": iris_runs})
    axes = figure.axes[0]
    counts, means, half = mean_curve(iris_runs, "accuracy")
    (line,) = axes.lines
    np.testing.assert_allclose(line.get_xdata(), counts)
    np.testing.assert_allclose(line.get_ydata(), means)
    (band,) = axes.collections
    top = band.get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx((means + half).max())
    assert "AULC" in line.get_label()


@pytest.fixture
def iris_runs():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return [
        al.simulate(LogisticRegression(max_iter=300), "margin", X, y, budget=40, random_state=s)
        for s in range(3)
    ]


# ---------------------------------------------------------------------------------------
# The examples render
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "script", ["plot_utility_map.py", "plot_stream_utilities.py", "plot_annotators.py"]
)
def test_examples_write_their_figures(script, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [script, str(tmp_path)])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    written = list(tmp_path.glob("plot-*.png"))
    assert written
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
