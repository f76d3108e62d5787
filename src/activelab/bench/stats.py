"""Statistics of a benchmark run, on the rounds table of :func:`activelab.bench.load_rounds`.

A *run* is one strategy on one data set with one model, seed, initial size, batch size
and budget (one cell of the grid). A *problem* is what runs are compared on: a data set,
a model and a setting (initial size, batch size, budget); every strategy of a problem
and seed starts from the same initial set and is scored on the same test split, so runs
of one seed are paired.

- :func:`run_aulc`: the area under each run's learning curve, normalised to ``[0, 1]``.
- :func:`curve_ci`, :func:`aulc_ci`: mean ± 95 % t-confidence half-width over seeds.
- :func:`labels_to_target`: labels each run needed to reach a fraction of the accuracy of
  the model trained on the whole pool (``reference.parquet``).
- :func:`wilcoxon_vs_baseline`: a paired Wilcoxon signed-rank test of each strategy against
  random per problem, on per-seed AULC.
- :func:`average_ranks`: strategies ranked per data set by mean AULC, averaged over data
  sets, with the Nemenyi critical difference (Demšar 2006).

References
----------
Demšar, J. (2006). Statistical comparisons of classifiers over multiple data sets.
JMLR 7, 1–30.

Examples
--------
>>> import pandas as pd
>>> rounds = pd.DataFrame({
...     "dataset": "d", "model": "m", "initial_size": 10, "batch_size": 10, "budget": 30,
...     "strategy": ["margin"] * 3 + ["random"] * 3, "seed": 0, "round": [0, 1, 2] * 2,
...     "n_labeled": [10, 20, 30] * 2, "accuracy": [0.5, 0.7, 0.9, 0.5, 0.6, 0.7]})
>>> run_aulc(rounds)[["strategy", "aulc"]].to_dict("records")
[{'strategy': 'margin', 'aulc': 0.7}, {'strategy': 'random', 'aulc': 0.6}]
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from activelab._extras import require
from activelab.loop import aulc as _aulc

__all__ = [
    "CURVE_KEYS",
    "LOWER_IS_BETTER",
    "PROBLEM_KEYS",
    "Q_ALPHA_05",
    "RUN_KEYS",
    "SETTING_KEYS",
    "aulc_ci",
    "average_ranks",
    "critical_difference",
    "curve_ci",
    "labels_to_target",
    "mean_ci",
    "q_alpha",
    "run_aulc",
    "target_summary",
    "timings",
    "wilcoxon_vs_baseline",
]

#: What a setting of the grid is, besides the data set and the model.
SETTING_KEYS = ("initial_size", "batch_size", "budget")
#: What strategies are compared on: one data set, model and setting.
PROBLEM_KEYS = ("dataset", "model", *SETTING_KEYS)
#: One learning curve averaged over seeds.
CURVE_KEYS = (*PROBLEM_KEYS, "strategy")
#: One run (one cell of the grid).
RUN_KEYS = (*CURVE_KEYS, "seed")
#: Metrics where lower is better; ranks and tests flip their sign.
LOWER_IS_BETTER = frozenset({"log_loss", "ece"})

#: Critical values q_alpha of the Nemenyi test at alpha = 0.05 for k = 2 … 10 compared
#: strategies: the studentized range statistic divided by sqrt(2) (Demšar 2006, table 5a).
Q_ALPHA_05 = {
    2: 1.960,
    3: 2.343,
    4: 2.569,
    5: 2.728,
    6: 2.850,
    7: 2.949,
    8: 3.031,
    9: 3.102,
    10: 3.164,
}


def _pd() -> Any:
    return require("pandas", "bench", "benchmark statistics")


def _check(frame: Any, columns: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {', '.join(missing)}; it has {', '.join(frame.columns)}. "
            "Pass the table activelab.bench.load_rounds(run_dir) returns."
        )


def _check_rounds(rounds: Any, metric: str) -> None:
    _check(rounds, [*RUN_KEYS, "n_labeled", metric], "the rounds table")
    duplicated = rounds.duplicated([*RUN_KEYS, "n_labeled"])
    if duplicated.any():
        row = rounds[duplicated].iloc[0]
        run = ", ".join(f"{key}={row[key]}" for key in RUN_KEYS)
        raise ValueError(
            f"the rounds table holds two rows for one run and label count ({run}, "
            f"n_labeled={row['n_labeled']}): two runs of the same cell were merged. Load "
            "one run directory at a time, or drop the stale rows."
        )


def mean_ci(values: Any, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and t-confidence half-width of a sample.

    Parameters
    ----------
    values : array-like of float
    confidence : float

    Returns
    -------
    (mean, half_width) : tuple of float
        ``half_width`` is ``t_{(1+c)/2, n-1} · s / sqrt(n)``; 0 when all values are
        equal, NaN for a single value.

    Examples
    --------
    >>> mean_ci([0.8, 0.8, 0.8])
    (0.8, 0.0)
    >>> mean, half = mean_ci([0.5, 0.7])
    >>> round(mean, 6), round(half, 4)
    (0.6, 1.2706)
    """
    from scipy import stats

    sample = np.asarray(values, dtype=np.float64)
    if sample.size == 0:
        raise ValueError("mean_ci needs at least one value.")
    mean = float(sample.mean()) if np.ptp(sample) > 0 else float(sample[0])
    if sample.size == 1:
        return mean, math.nan
    if np.ptp(sample) == 0:
        return mean, 0.0
    scale = float(sample.std(ddof=1)) / math.sqrt(sample.size)
    return mean, float(stats.t.ppf((1 + confidence) / 2, sample.size - 1)) * scale


def _mean_ci_frame(frame: Any, keys: list[str], column: str, confidence: float) -> Any:
    # mean_ci per group, vectorised: the same numbers, one pass of pandas' reductions.
    from scipy import stats

    grouped = frame.groupby(keys, sort=True)[column]
    result = grouped.agg(["mean", "std", "count", "min", "max"]).reset_index()
    count = result["count"].to_numpy(dtype=np.float64)
    constant = (result["min"] == result["max"]).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf((1 + confidence) / 2, count - 1)
        half = quantile * result["std"].to_numpy(dtype=np.float64) / np.sqrt(count)
    half = np.where(count < 2, np.nan, np.where(constant, 0.0, half))
    result["mean"] = np.where(constant, result["min"], result["mean"])
    result["half_width"] = half
    result["n_seeds"] = result["count"].astype(np.int64)
    result["low"] = result["mean"] - result["half_width"]
    result["high"] = result["mean"] + result["half_width"]
    return result[[*keys, "mean", "half_width", "low", "high", "n_seeds"]]


def run_aulc(rounds: Any, metric: str = "accuracy") -> Any:
    """Area under each run's learning curve of ``metric``, normalised to ``[0, 1]``.

    Uses :func:`activelab.loop.aulc`: the trapezoidal area over the label counts the run
    reached, divided by the width of that range.

    Parameters
    ----------
    rounds : pandas.DataFrame
        The rounds table (one row per round; columns of :data:`RUN_KEYS`, ``n_labeled``
        and ``metric``).
    metric : str

    Returns
    -------
    pandas.DataFrame
        One row per run: :data:`RUN_KEYS`, ``aulc``, ``final`` (the metric at the last
        round) and ``n_labeled`` (labels at the last round).
    """
    pd = _pd()
    _check_rounds(rounds, metric)
    rows = []
    ordered = rounds.sort_values([*RUN_KEYS, "n_labeled"])
    for key, run in ordered.groupby(list(RUN_KEYS), sort=True):
        counts = run["n_labeled"].to_numpy()
        values = run[metric].to_numpy(dtype=np.float64)
        rows.append((*key, _aulc(counts, values), float(values[-1]), int(counts[-1])))
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "aulc", "final", "n_labeled"])


def curve_ci(rounds: Any, metric: str = "accuracy", confidence: float = 0.95) -> Any:
    """Mean learning curves with t-confidence bands over seeds.

    Parameters
    ----------
    rounds : pandas.DataFrame
        The rounds table.
    metric : str
    confidence : float

    Returns
    -------
    pandas.DataFrame
        One row per (:data:`CURVE_KEYS`, ``n_labeled``): ``mean``, ``half_width``,
        ``low``, ``high``, ``n_seeds``. A label count only some seeds reached (a run that
        stopped early) is averaged over those seeds.
    """
    _check_rounds(rounds, metric)
    return _mean_ci_frame(rounds, [*CURVE_KEYS, "n_labeled"], metric, confidence)


def aulc_ci(aulcs: Any, confidence: float = 0.95) -> Any:
    """Mean AULC with a t-confidence half-width over seeds, per strategy and problem.

    Parameters
    ----------
    aulcs : pandas.DataFrame
        What :func:`run_aulc` returns.
    confidence : float

    Returns
    -------
    pandas.DataFrame
        One row per :data:`CURVE_KEYS`: ``mean``, ``half_width``, ``low``, ``high``,
        ``n_seeds``.
    """
    _check(aulcs, [*RUN_KEYS, "aulc"], "the AULC table")
    return _mean_ci_frame(aulcs, list(CURVE_KEYS), "aulc", confidence)


def labels_to_target(
    rounds: Any, reference: Any, fraction: float = 0.95, metric: str = "accuracy"
) -> Any:
    """Labels each run needed to reach ``fraction`` of the full-data score.

    Parameters
    ----------
    rounds : pandas.DataFrame
        The rounds table.
    reference : pandas.DataFrame
        Columns ``dataset``, ``model``, ``seed`` and ``metric``: the test score of the
        model trained on the whole pool of that seed's split (``reference.parquet``).
    fraction : float
        The target is ``fraction × reference``.
    metric : str
        A higher-is-better metric the reference holds.

    Returns
    -------
    pandas.DataFrame
        One row per run: :data:`RUN_KEYS`, ``target``, ``labels`` (the first label count
        whose score reaches the target; NaN when the run never did or the reference is
        missing) and ``reached`` (bool).

    Examples
    --------
    >>> import pandas as pd
    >>> rounds = pd.DataFrame({"dataset": "d", "model": "m", "initial_size": 10,
    ...     "batch_size": 10, "budget": 30, "strategy": "margin", "seed": 0,
    ...     "n_labeled": [10, 20, 30], "accuracy": [0.5, 0.86, 0.9]})
    >>> reference = pd.DataFrame({"dataset": ["d"], "model": ["m"], "seed": [0],
    ...     "accuracy": [0.9]})
    >>> labels_to_target(rounds, reference)[["target", "labels", "reached"]].to_dict("records")
    [{'target': 0.855, 'labels': 20.0, 'reached': True}]
    """
    if metric in LOWER_IS_BETTER:
        raise ValueError(f"labels_to_target needs a higher-is-better metric; got {metric!r}.")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction}.")
    _check_rounds(rounds, metric)
    _check(reference, ["dataset", "model", "seed", metric], "the reference table")
    keys = ["dataset", "model", "seed"]
    full = reference[[*keys, metric]].drop_duplicates(keys).rename(columns={metric: "_ref"})
    merged = rounds[[*RUN_KEYS, "n_labeled", metric]].merge(full, on=keys, how="left")
    merged["target"] = fraction * merged["_ref"]
    hit = merged[metric] >= merged["target"] - 1e-12
    merged["_hit_at"] = merged["n_labeled"].where(hit)
    result = merged.groupby(list(RUN_KEYS), sort=True).agg(
        target=("target", "first"), labels=("_hit_at", "min")
    )
    result = result.reset_index()
    result["labels"] = result["labels"].astype(np.float64)
    result["reached"] = result["labels"].notna()
    return result


def target_summary(per_run: Any) -> Any:
    """Median labels to the target per strategy and problem, unreached runs counted as ∞.

    Parameters
    ----------
    per_run : pandas.DataFrame
        What :func:`labels_to_target` returns.

    Returns
    -------
    pandas.DataFrame
        One row per :data:`CURVE_KEYS`: ``median_labels`` (inf when half the seeds or
        more never reached the target), ``reached`` (seeds that did) and ``n_seeds``.
    """
    _check(per_run, [*RUN_KEYS, "labels"], "the labels-to-target table")
    frame = per_run.assign(_labels=per_run["labels"].fillna(np.inf))
    grouped = frame.groupby(list(CURVE_KEYS), sort=True)
    result = grouped.agg(
        median_labels=("_labels", "median"),
        reached=("reached", "sum"),
        n_seeds=("seed", "size"),
    )
    result = result.reset_index()
    result["reached"] = result["reached"].astype(np.int64)
    return result


def _min_p(n_pairs: int, alternative: str) -> float:
    """The smallest p-value an exact signed-rank test of ``n_pairs`` pairs can give."""
    if n_pairs == 0:
        return 1.0
    return min(1.0, (2.0 if alternative == "two-sided" else 1.0) / 2.0**n_pairs)


def _holm(p_values: np.ndarray) -> np.ndarray:
    adjusted = np.full(p_values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p_values))
    if finite.size == 0:
        return adjusted
    order = finite[np.argsort(p_values[finite], kind="stable")]
    running = 0.0
    for position, index in enumerate(order):
        running = max(running, min(1.0, (finite.size - position) * p_values[index]))
        adjusted[index] = running
    return adjusted


def _signed_rank(differences: np.ndarray, alternative: str) -> tuple[float, float]:
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.wilcoxon(differences, zero_method="wilcox", alternative=alternative)
    return float(result.statistic), float(result.pvalue)


def wilcoxon_vs_baseline(
    aulcs: Any,
    baseline: str = "random",
    alpha: float = 0.05,
    alternative: str = "two-sided",
    metric: str = "accuracy",
) -> Any:
    """Paired Wilcoxon signed-rank test of each strategy against a baseline, per problem.

    Runs are paired by seed (same initial set, same test split); the test is
    :func:`scipy.stats.wilcoxon` on the per-seed AULC differences, zero differences
    dropped (Wilcoxon's convention). Where the test cannot say anything the row says why:

    - no paired seeds, or every difference zero (p-value 1: identical on every seed);
    - too few seeds: with n nonzero differences the exact two-sided test cannot give a
      p-value below ``2 / 2**n`` (0.0625 for 5 seeds), so a 0.05 test needs 6 or more.

    Parameters
    ----------
    aulcs : pandas.DataFrame
        What :func:`run_aulc` returns.
    baseline : str
        The strategy every other is compared with.
    alpha : float
        Level of the ``verdict`` column.
    alternative : {"two-sided", "greater", "less"}
        Passed to scipy, for ``strategy − baseline``.
    metric : str
        The metric the AULC integrates; for one in :data:`LOWER_IS_BETTER` a negative
        difference is "better".

    Returns
    -------
    pandas.DataFrame
        One row per problem and strategy other than the baseline: :data:`CURVE_KEYS`,
        ``n_pairs``, ``mean_difference`` (strategy − baseline), ``wins``, ``losses``,
        ``ties``, ``statistic``, ``p_value``, ``p_holm`` (Holm-adjusted over the
        strategies of the problem), ``min_p``, ``verdict`` ("better", "worse", "no
        significant difference" or "untestable", from ``p_value`` ≤ ``alpha``) and
        ``note``.
    """
    pd = _pd()
    _check(aulcs, [*RUN_KEYS, "aulc"], "the AULC table")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be two-sided, greater or less; got {alternative!r}.")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    columns = [
        *CURVE_KEYS,
        "n_pairs",
        "mean_difference",
        "wins",
        "losses",
        "ties",
        "statistic",
        "p_value",
        "p_holm",
        "min_p",
        "verdict",
        "note",
    ]
    rows: list[list[Any]] = []
    for problem, group in aulcs.groupby(list(PROBLEM_KEYS), sort=True):
        base = group[group["strategy"] == baseline].set_index("seed")["aulc"]
        first = len(rows)
        for strategy, runs in group[group["strategy"] != baseline].groupby("strategy"):
            paired = (
                runs.set_index("seed")["aulc"]
                .to_frame("aulc")
                .join(base.rename("base"), how="inner")
            )
            differences = (paired["aulc"] - paired["base"]).to_numpy(dtype=np.float64)
            nonzero = int(np.count_nonzero(differences))
            better = int(np.sum(sign * differences > 0))
            worse = int(np.sum(sign * differences < 0))
            min_p = _min_p(nonzero, alternative)
            statistic, p_value, note = math.nan, math.nan, ""
            if base.empty:
                note = f"no {baseline} runs on this problem"
            elif differences.size == 0:
                note = f"no seed in common with {baseline}"
            elif nonzero == 0:
                p_value = 1.0
                note = f"identical AULC to {baseline} on every seed"
            else:
                statistic, p_value = _signed_rank(differences, alternative)
                if min_p > alpha:
                    needed = math.ceil(math.log2((2 if alternative == "two-sided" else 1) / alpha))
                    note = (
                        f"{nonzero} nonzero differences: p cannot go below {min_p:.3g}; "
                        f"use at least {needed} seeds"
                    )
            if not math.isfinite(p_value):
                verdict = "untestable"
            elif p_value <= alpha:
                verdict = "better" if sign * np.mean(differences) > 0 else "worse"
            else:
                verdict = "no significant difference"
            mean_difference = float(np.mean(differences)) if differences.size else math.nan
            rows.append(
                [
                    *problem,
                    strategy,
                    int(differences.size),
                    mean_difference,
                    better,
                    worse,
                    int(differences.size) - nonzero,
                    statistic,
                    p_value,
                    math.nan,
                    min_p,
                    verdict,
                    note,
                ]
            )
        p_values = np.array([row[columns.index("p_value")] for row in rows[first:]])
        for row, adjusted in zip(rows[first:], _holm(p_values), strict=True):
            row[columns.index("p_holm")] = float(adjusted)
    return pd.DataFrame(rows, columns=columns)


def q_alpha(k: int, alpha: float = 0.05) -> float:
    """Critical value of the Nemenyi test for ``k`` strategies.

    Demšar's table for ``alpha = 0.05`` and ``k ≤ 10``; otherwise the studentized range
    quantile (infinite degrees of freedom) divided by sqrt(2), which the table rounds.

    Parameters
    ----------
    k : int
        Number of strategies compared, at least 2.
    alpha : float

    Returns
    -------
    float

    Examples
    --------
    >>> q_alpha(3)
    2.343
    """
    if k < 2:
        raise ValueError(f"a critical difference needs at least 2 strategies; got {k}.")
    if alpha == 0.05 and k in Q_ALPHA_05:
        return Q_ALPHA_05[k]
    from scipy import stats

    return float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def critical_difference(k: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks: ``q_alpha · sqrt(k (k+1) / (6 N))``.

    Two strategies whose average ranks over ``N`` data sets differ by more than this
    differ significantly at level ``alpha`` (Demšar 2006).

    Parameters
    ----------
    k : int
        Number of strategies.
    n_datasets : int
    alpha : float

    Returns
    -------
    float

    Examples
    --------
    >>> round(critical_difference(3, 4), 3)
    1.657
    """
    if n_datasets < 1:
        raise ValueError(f"a critical difference needs at least 1 data set; got {n_datasets}.")
    return q_alpha(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n_datasets))


def _friedman(scores: np.ndarray) -> float:
    from scipy import stats

    if scores.shape[1] < 3 or scores.shape[0] < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            return float(stats.friedmanchisquare(*scores.T).pvalue)
        except ValueError:
            return math.nan


def average_ranks(aulcs: Any, alpha: float = 0.05, metric: str = "accuracy") -> Any:
    """Average rank of each strategy over data sets, with the Nemenyi critical difference.

    Per model and setting: the strategies are ranked on each data set by mean AULC over
    seeds (1 = best; ties share the mean rank), and the ranks averaged over the data sets.
    Only strategies run on every data set of the group are ranked (the comparison needs
    complete blocks); the others are left out.

    Parameters
    ----------
    aulcs : pandas.DataFrame
        What :func:`run_aulc` returns.
    alpha : float
        Level of the critical difference.
    metric : str
        For one in :data:`LOWER_IS_BETTER` the lowest AULC ranks first.

    Returns
    -------
    pandas.DataFrame
        One row per model, setting and strategy, best first: ``model``,
        :data:`SETTING_KEYS`, ``strategy``, ``average_rank``, ``mean_aulc`` (over data
        sets), ``n_datasets``, ``cd`` (the critical difference of the group),
        ``within_cd`` (True when not significantly worse than the best strategy) and
        ``friedman_p`` (Friedman test over the group; NaN for fewer than 3 strategies
        or 2 data sets).
    """
    from scipy import stats

    pd = _pd()
    _check(aulcs, [*RUN_KEYS, "aulc"], "the AULC table")
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    group_keys = ["model", *SETTING_KEYS]
    means = aulcs.groupby(list(CURVE_KEYS), sort=True)["aulc"].mean().reset_index()
    frames = []
    for key, group in means.groupby(group_keys, sort=True):
        table = group.pivot(index="dataset", columns="strategy", values="aulc")
        table = table.dropna(axis="columns")
        if table.shape[1] == 0:
            continue
        scores = table.to_numpy(dtype=np.float64)
        ranks = np.vstack([stats.rankdata(-sign * row) for row in scores])
        k, n = scores.shape[1], scores.shape[0]
        cd = critical_difference(k, n, alpha) if k >= 2 else math.nan
        average = ranks.mean(axis=0)
        frame = pd.DataFrame(
            {
                "strategy": table.columns.astype(str),
                "average_rank": average,
                "mean_aulc": scores.mean(axis=0),
                "n_datasets": n,
                "cd": cd,
                "within_cd": average - average.min() <= cd if k >= 2 else True,
                "friedman_p": _friedman(scores),
            }
        )
        for name, value in zip(group_keys, key, strict=True):
            frame[name] = value
        frames.append(frame.sort_values(["average_rank", "strategy"], kind="stable"))
    columns = [
        *group_keys,
        "strategy",
        "average_rank",
        "mean_aulc",
        "n_datasets",
        "cd",
        "within_cd",
        "friedman_p",
    ]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def timings(rounds: Any) -> Any:
    """Mean seconds per round spent querying and fitting, per model and strategy.

    Parameters
    ----------
    rounds : pandas.DataFrame
        The rounds table (``query_seconds`` and ``fit_seconds`` columns).

    Returns
    -------
    pandas.DataFrame
        ``model``, ``strategy``, ``query_seconds`` (mean over rounds after the first,
        which has no query), ``fit_seconds`` (mean over all rounds), ``total_seconds``
        (query and fit time summed over every round of every run).
    """
    _check(rounds, ["model", "strategy", "round", "query_seconds", "fit_seconds"], "rounds")
    queried = rounds[rounds["round"] > 0].groupby(["model", "strategy"])["query_seconds"].mean()
    grouped = rounds.groupby(["model", "strategy"])
    result = grouped["fit_seconds"].mean().to_frame("fit_seconds")
    result["query_seconds"] = queried
    result["total_seconds"] = grouped["query_seconds"].sum() + grouped["fit_seconds"].sum()
    result = result.reset_index()
    return result[["model", "strategy", "query_seconds", "fit_seconds", "total_seconds"]]
