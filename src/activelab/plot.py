"""Plots (matplotlib, imported lazily): learning curves with a confidence band over seeds,
a strategy's utilities over a 2-D feature space with its picks, a stream rule's utilities
over time, and IEThresh's view of the annotators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from activelab._extras import require

__all__ = [
    "annotator_utilities",
    "grid_2d",
    "learning_curves",
    "mean_curve",
    "stream_utilities",
    "utility_map",
]


def mean_curve(results: Sequence[Any], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95 % confidence half-width of a metric over seeds, per label count.

    Runs that stopped early contribute only to the label counts they reached.

    Parameters
    ----------
    results : sequence of Result
        Runs of one strategy with different seeds.
    metric : str

    Returns
    -------
    (n_labeled, mean, half_width) : three numpy arrays
    """
    from scipy import stats

    by_count: dict[int, list[float]] = {}
    for result in results:
        for count, value in zip(*result.curve(metric), strict=True):
            by_count.setdefault(int(count), []).append(float(value))
    counts = np.array(sorted(by_count))
    means = np.array([np.mean(by_count[c]) for c in counts])
    half = np.array(
        [
            stats.t.ppf(0.975, len(by_count[c]) - 1) * stats.sem(by_count[c])
            if len(by_count[c]) > 1
            else 0.0
            for c in counts
        ]
    )
    return counts, means, np.nan_to_num(half)


def learning_curves(
    runs: Mapping[str, Sequence[Any]], path: str | None = None, metric: str = "accuracy"
) -> Any:
    """Learning curves of several strategies, mean ± 95 % CI over seeds.

    Parameters
    ----------
    runs : mapping of label to a sequence of Result
        E.g. ``{"margin": [seed0, seed1, …], "random": [...]}``.
    path : str, optional
        Save the figure there (format by extension).
    metric : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    require("matplotlib", "bench", "plotting")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    for label, results in runs.items():
        counts, means, half = mean_curve(results, metric)
        mean_aulc = np.mean([r.aulc for r in results])
        line = axes.plot(counts, means, label=f"{label} (AULC {mean_aulc:.3f})")[0]
        axes.fill_between(counts, means - half, means + half, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("labeled examples")
    axes.set_ylabel(metric)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return figure


def _pyplot(path: str | None) -> Any:
    """matplotlib.pyplot, imported on first use (Agg when writing a file)."""
    require("matplotlib", "bench", "plotting")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(figure: Any, path: str | None, plt: Any) -> Any:
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=120)
        plt.close(figure)
    return figure


def grid_2d(
    X: Any, resolution: int = 80, margin: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular grid over a 2-D feature space, for utility maps.

    The grid spans each feature's range over ``X`` widened by ``margin`` times that range
    on both sides, with ``resolution`` points per axis.

    Parameters
    ----------
    X : array-like of shape (n, 2)
        The points the grid must cover.
    resolution : int
        Points per axis, at least 2.
    margin : float
        Widening of the range on each side, as a fraction of it.

    Returns
    -------
    (xs, ys, points) : arrays of shape (resolution,), (resolution,), (resolution², 2)
        The axis values and the grid points, row ``i * resolution + j`` at
        ``(xs[j], ys[i])``.

    Examples
    --------
    >>> xs, ys, points = grid_2d([[0.0, 0.0], [1.0, 2.0]], resolution=3, margin=0.0)
    >>> xs.tolist(), ys.tolist(), points.shape
    ([0.0, 0.5, 1.0], [0.0, 1.0, 2.0], (9, 2))
    """
    points = np.asarray(X, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(
            f"a utility map needs 2-D features, an array of shape (n, 2); got shape "
            f"{points.shape}. Project the data first (e.g. PCA(n_components=2)) and fit the "
            "model on the projection."
        )
    if int(resolution) != resolution or resolution < 2:
        raise ValueError(f"resolution must be an integer of at least 2; got {resolution}.")
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    low, high = low - margin * span, high + margin * span
    xs = np.linspace(low[0], high[0], int(resolution))
    ys = np.linspace(low[1], high[1], int(resolution))
    xx, yy = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([xx.ravel(), yy.ravel()])


def utility_map(
    strategy: Any,
    model: Any,
    X_labeled: Any,
    y_labeled: Any,
    X_pool: Any,
    k: int = 10,
    *,
    resolution: int = 80,
    margin: float = 0.1,
    random_state: Any = 0,
    ax: Any = None,
    path: str | None = None,
) -> Any:
    """A strategy's utilities over a 2-D feature space, the decision boundary and its picks.

    Draws, on one axes: the utility of every point of a grid (:func:`grid_2d`) as a
    colour map, when the strategy scores items one by one (a ``ScoreStrategy``: its
    ``utilities`` evaluated on the grid points as if they were the pool; for scores that
    depend on the pool, such as densities, that is the grid's own density); the model's
    decision boundary (the edges of the regions of its predicted classes); the labelled
    items coloured by class; the pool in grey; and the ``k`` items the strategy picks
    from the pool, numbered in pick order. A strategy without per-item utilities (batch
    and diversity strategies) gets the picks only, and the title says so.

    The artists carry ids for inspection: ``"utilities"`` (a QuadMesh whose array is
    the grid's utilities, row by row), ``"boundary"``, ``"labeled"``, ``"pool"``,
    ``"picks"``.

    Parameters
    ----------
    strategy : str or Strategy
        A registry name or a Strategy object.
    model : fitted estimator or ModelAdapter
        Fitted on ``X_labeled, y_labeled`` (2 features).
    X_labeled : array-like of shape (n_labeled, 2)
    y_labeled : array-like of shape (n_labeled,)
    X_pool : array-like of shape (n_pool, 2)
    k : int
        Items to pick.
    resolution, margin
        The grid, as for :func:`grid_2d` (over the labelled and pool items together).
    random_state : int, numpy.random.Generator or None
        For the strategy's query.
    ax : matplotlib Axes, optional
        Draw there; a new figure otherwise.
    path : str, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); y = (X[:, 0] > 0).astype(int)
    >>> model = LogisticRegression().fit(X[:20], y[:20])
    >>> figure = utility_map("margin", model, X[:20], y[:20], X[20:], k=5, resolution=20)
    >>> figure.axes[0].get_title()
    'margin: utilities and 5 picks'
    """
    from activelab import strategies as _strategies

    chosen = _strategies.get(strategy) if isinstance(strategy, str) else strategy
    if not isinstance(chosen, _strategies.Strategy):
        raise TypeError(
            f"strategy must be a registry name or a Strategy; got {type(strategy).__name__}."
        )
    labeled = np.asarray(X_labeled, dtype=np.float64)
    pool = np.asarray(X_pool, dtype=np.float64)
    labels = np.asarray(y_labeled)
    if labeled.shape[0] != labels.shape[0]:
        raise ValueError(
            f"X_labeled has {labeled.shape[0]} rows but y_labeled {labels.shape[0]} labels."
        )
    xs, ys, points = grid_2d(np.vstack([labeled, pool]), resolution, margin)
    picks = np.asarray(chosen.query(model, pool, k, labeled, labels, random_state=random_state))
    plt = _pyplot(path)
    figure, axes = plt.subplots(figsize=(6.5, 5)) if ax is None else (ax.figure, ax)
    shape = (ys.shape[0], xs.shape[0])
    scores = isinstance(chosen, _strategies.ScoreStrategy)
    if scores:
        values = np.asarray(chosen.utilities(model, points), dtype=np.float64).reshape(shape)
        mesh = axes.pcolormesh(xs, ys, values, shading="nearest", cmap="viridis", alpha=0.85)
        mesh.set_gid("utilities")
        figure.colorbar(mesh, ax=axes, label=f"{chosen.name} utility")
    predict = getattr(model, "predict", None)
    classes = np.unique(labels)
    if callable(predict) and classes.shape[0] > 1:
        predicted = np.asarray(predict(points)).reshape(shape)
        # One line around each class's region (a single one for two classes): the lines
        # of two neighbouring regions coincide, so every boundary is drawn once.
        for label in classes[:1] if classes.shape[0] == 2 else classes:
            region = (predicted == label).astype(np.float64)
            if 0.0 < region.mean() < 1.0:
                boundary = axes.contour(
                    xs, ys, region, levels=[0.5], colors="black", linewidths=1.2
                )
                boundary.set_gid("boundary")
    axes.scatter(pool[:, 0], pool[:, 1], s=10, c="0.6", label="pool", gid="pool")
    colours = plt.get_cmap("tab10")
    codes = np.searchsorted(classes, labels)
    axes.scatter(
        labeled[:, 0],
        labeled[:, 1],
        s=28,
        c=[colours(c % 10) for c in codes],
        edgecolors="black",
        linewidths=0.5,
        label="labelled",
        gid="labeled",
    )
    axes.scatter(
        pool[picks, 0],
        pool[picks, 1],
        s=140,
        marker="*",
        c="red",
        edgecolors="white",
        linewidths=0.6,
        label="picks",
        gid="picks",
    )
    for rank, (x, y) in enumerate(pool[picks], start=1):
        axes.annotate(str(rank), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7)
    what = "utilities and" if scores else "picks only (no per-item utilities):"
    axes.set_title(f"{chosen.name}: {what} {picks.shape[0]} picks")
    axes.set_xlim(xs[0], xs[-1])
    axes.set_ylim(ys[0], ys[-1])
    axes.set_xlabel("feature 1")
    axes.set_ylabel("feature 2")
    axes.legend(loc="upper right", fontsize=8)
    return _finish(figure, path, plt) if ax is None else figure


def stream_utilities(
    estimator: Any,
    rule: Any,
    X: Any,
    y: Any,
    *,
    budget: float = 0.1,
    budget_manager: Any = None,
    classes: Any = None,
    batch_size: int = 1,
    training: str = "incremental",
    random_state: Any = 0,
    path: str | None = None,
) -> Any:
    """A stream rule's utilities over time, which items it queried, and its label rate.

    Runs :class:`activelab.stream.StreamLearner` over the stream (test-then-train, as
    :func:`activelab.stream.simulate_stream`) and records, for every item, the utility
    the rule gave it when it arrived (what the budget manager saw) and whether it was
    queried. Top panel: the utilities against the item's position in the stream, queried
    items marked. Bottom panel: the share of the stream labelled so far against the
    budget.

    The artists carry ids: ``"utilities"`` (every item), ``"queried"``, ``"rate"``,
    ``"budget"``.

    Parameters
    ----------
    estimator : classifier
        As for :class:`~activelab.stream.StreamLearner` (copied).
    rule : str or StreamRule
    X : array-like of shape (n, d)
        The stream, in arrival order.
    y : array-like of shape (n,)
        Its labels, revealed for the queried items.
    budget, budget_manager, classes, training
        As for :class:`~activelab.stream.StreamLearner`; ``classes`` defaults to the
        distinct values of ``y``.
    batch_size : int
        Items per step; the model is fixed within a step.
    random_state : int, numpy.random.Generator or None
    path : str, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from activelab.stream import drifting_hyperplane
    >>> X, y = drifting_hyperplane(400, random_state=0)
    >>> figure = stream_utilities(GaussianNB(), "variable_uncertainty", X, y, batch_size=10)
    >>> len(figure.axes)
    2
    """
    from activelab.stream import StreamLearner
    from activelab.stream._rules import as_rows

    rows = as_rows(X, "stream_utilities")
    labels = np.asarray(y)
    if labels.shape[0] != rows.shape[0]:
        raise ValueError(f"X has {rows.shape[0]} items but y has {labels.shape[0]} labels.")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}.")
    learner = StreamLearner(
        estimator,
        rule,
        budget_manager,
        budget=budget if budget_manager is None else None,
        classes=np.unique(labels) if classes is None else classes,
        training=training,
        random_state=random_state,
    )
    manager = learner.budget_manager
    seen: list[float] = []
    decide = manager.decide

    def recording(utility: float) -> bool:
        seen.append(float(utility))
        return decide(utility)

    manager.decide = recording  # the learner's own copy: every decision passes here
    queried = np.zeros(rows.shape[0], dtype=bool)
    for start in range(0, rows.shape[0], int(batch_size)):
        batch = slice(start, start + int(batch_size))
        asked = np.asarray(learner.query(rows[batch]), dtype=bool)
        queried[batch] = asked
        if asked.any():
            learner.teach(rows[batch][asked], labels[batch][asked])
    utilities = np.asarray(seen, dtype=np.float64)
    position = np.arange(1, rows.shape[0] + 1)
    plt = _pyplot(path)
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    top.scatter(position, utilities, s=6, c="0.55", label="arriving items", gid="utilities")
    top.scatter(
        position[queried],
        utilities[queried],
        s=22,
        c="red",
        marker="o",
        label=f"queried ({int(queried.sum())})",
        gid="queried",
    )
    top.set_ylabel(f"{learner.rule.name} utility")
    ruled_out = int(np.isnan(utilities).sum())
    note = f" ({ruled_out} ruled out beforehand, not drawn)" if ruled_out else ""
    top.set_title(f"{learner.rule.name}: utilities over the stream{note}")
    top.legend(loc="upper right", fontsize=8)
    rate = np.cumsum(queried) / position
    bottom.plot(position, rate, color="tab:blue", label="labelled so far", gid="rate")
    bottom.axhline(manager.budget, color="black", linestyle="--", label="budget", gid="budget")
    bottom.set_xlabel("items seen")
    bottom.set_ylabel("label rate")
    bottom.set_ylim(0, max(float(rate.max()), manager.budget) * 1.2)
    bottom.legend(loc="upper right", fontsize=8)
    return _finish(figure, path, plt)


def annotator_utilities(
    n_agree: Any,
    n_asked: Any = None,
    *,
    selector: Any = None,
    names: Sequence[str] | None = None,
    path: str | None = None,
) -> Any:
    """IEThresh's view of the annotators: interval estimates, threshold and choice.

    For each annotator, the interval estimate of its agreement rate with the majority
    (:func:`activelab.oracles.interval_estimates`: lower bound, mean and upper bound, the
    upper bound being its IEThresh utility), the threshold ``epsilon`` times the best
    upper bound, and which annotators IEThresh asks next (upper bound at or above the
    threshold). Takes the counts, or a :class:`~activelab.oracles.MultiAnnotatorOracle`
    (its ``n_agree_`` and ``n_compared_``, and its IEThresh when it uses one).

    The artists carry ids: ``"interval"`` (the error bars), ``"utility"`` (the bars of
    the upper bounds), ``"threshold"``.

    Parameters
    ----------
    n_agree : array-like of shape (n_annotators,), or MultiAnnotatorOracle
        Agreements with the majority vote.
    n_asked : array-like of shape (n_annotators,), optional
        Labels compared; omitted with an oracle.
    selector : IEThresh, optional
        Defaults to the oracle's, or ``IEThresh()``.
    names : sequence of str, optional
        Annotator names for the axis.
    path : str, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    References
    ----------
    Donmez, Carbonell & Schneider (2009), "Efficiently learning the accuracy of labeling
    sources for selective sampling", KDD.

    Examples
    --------
    >>> figure = annotator_utilities([40, 10, 38], [40, 40, 40])
    >>> figure.axes[0].get_title()
    'IEThresh (epsilon=0.9): asks 2 of 3 annotators'
    """
    from activelab.oracles import IEThresh, MultiAnnotatorOracle, interval_estimates

    if isinstance(n_agree, MultiAnnotatorOracle):
        oracle = n_agree
        if selector is None and isinstance(oracle.selection, IEThresh):
            selector = oracle.selection
        agree, asked = oracle.n_agree_, oracle.n_compared_
    else:
        if n_asked is None:
            raise ValueError("pass n_asked with the counts (or a MultiAnnotatorOracle alone).")
        agree, asked = n_agree, n_asked
    selector = IEThresh() if selector is None else selector
    lower, mean, upper = interval_estimates(agree, asked, selector.alpha)
    chosen = selector.choose(agree, asked)
    count = lower.shape[0]
    labels = list(names) if names is not None else [f"annotator {a}" for a in range(count)]
    if len(labels) != count:
        raise ValueError(f"names has {len(labels)} entries for {count} annotators.")
    plt = _pyplot(path)
    figure, axes = plt.subplots(figsize=(1.2 * count + 3, 4))
    position = np.arange(count)
    bars = axes.bar(
        position,
        upper,
        color=["tab:green" if c else "0.75" for c in chosen],
        alpha=0.5,
        label="upper bound (utility); green: asked",
        gid="utility",
    )
    for bar in bars:
        bar.set_gid("utility")
    axes.errorbar(
        position,
        mean,
        yerr=np.vstack([mean - lower, upper - mean]),
        fmt="o",
        color="black",
        capsize=4,
        label="agreement rate, interval",
        gid="interval",
    )
    threshold = selector.epsilon * float(upper.max())
    axes.axhline(
        threshold, color="tab:red", linestyle="--", label="epsilon × best", gid="threshold"
    )
    axes.set_xticks(position, labels, rotation=20)
    axes.set_ylabel("agreement with the majority")
    axes.set_title(
        f"IEThresh (epsilon={selector.epsilon}): asks {int(chosen.sum())} of {count} annotators"
    )
    axes.legend(loc="lower right", fontsize=8)
    return _finish(figure, path, plt)
