"""Plots: learning curves with a confidence band over seeds (matplotlib, imported lazily)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from activelab._extras import require


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
