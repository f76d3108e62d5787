"""Tests of activelab.bench.stats on synthetic learning curves with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from activelab.bench import stats
from activelab.loop import aulc


def _rounds(curves: dict[tuple[str, str, int], list[float]], model: str = "m") -> pd.DataFrame:
    """A rounds table: (dataset, strategy, seed) → accuracy after 10, 20, 30 … labels."""
    rows = []
    for (dataset, strategy, seed), values in curves.items():
        for position, value in enumerate(values):
            rows.append(
                {
                    "cell": f"{dataset}-{strategy}-{seed}",
                    "dataset": dataset,
                    "model": model,
                    "strategy": strategy,
                    "seed": seed,
                    "initial_size": 10,
                    "batch_size": 10,
                    "budget": 10 * len(values),
                    "round": position,
                    "n_labeled": 10 * (position + 1),
                    "accuracy": value,
                    "ece": 1.0 - value,
                    "query_seconds": 0.0 if position == 0 else 0.01,
                    "fit_seconds": 0.02,
                }
            )
    return pd.DataFrame(rows)


def _aulcs(table: dict[tuple[str, str, int], float], model: str = "m") -> pd.DataFrame:
    """A run_aulc-style table: (dataset, strategy, seed) → AULC."""
    return pd.DataFrame(
        [
            {
                "dataset": dataset,
                "model": model,
                "initial_size": 10,
                "batch_size": 10,
                "budget": 100,
                "strategy": strategy,
                "seed": seed,
                "aulc": value,
            }
            for (dataset, strategy, seed), value in table.items()
        ]
    )


def test_run_aulc_is_the_normalised_area_of_each_run() -> None:
    rounds = _rounds({("d", "margin", 0): [0.5, 0.7, 0.9], ("d", "random", 0): [0.5, 0.6, 0.6]})
    result = stats.run_aulc(rounds).set_index("strategy")
    assert result.loc["margin", "aulc"] == pytest.approx(aulc([10, 20, 30], [0.5, 0.7, 0.9]))
    assert result.loc["margin", "aulc"] == pytest.approx(0.7)
    assert result.loc["random", "aulc"] == pytest.approx(0.575)
    assert result.loc["random", "final"] == pytest.approx(0.6)
    assert result.loc["random", "n_labeled"] == 30


def test_run_aulc_sorts_the_rounds_of_a_run() -> None:
    rounds = _rounds({("d", "margin", 0): [0.5, 0.7, 0.9]})
    shuffled = rounds.iloc[[2, 0, 1]]
    assert stats.run_aulc(shuffled)["aulc"].item() == pytest.approx(0.7)


def test_confidence_band_of_constant_runs_has_zero_width() -> None:
    curve = [0.3, 0.7, 0.7, 0.9]
    rounds = _rounds({("d", "margin", seed): curve for seed in range(5)})
    result = stats.curve_ci(rounds)
    assert (result["half_width"] == 0.0).all()
    np.testing.assert_array_equal(result["mean"], curve)
    np.testing.assert_array_equal(result["low"], result["high"])
    assert (result["n_seeds"] == 5).all()
    band = stats.aulc_ci(stats.run_aulc(rounds))
    assert band["half_width"].item() == 0.0


def test_confidence_band_is_the_t_interval() -> None:
    rounds = _rounds({("d", "margin", 0): [0.5, 0.6], ("d", "margin", 1): [0.7, 0.9]})
    result = stats.curve_ci(rounds).set_index("n_labeled")
    low, high = scipy_stats.t.interval(0.95, 1, loc=0.6, scale=scipy_stats.sem([0.5, 0.7]))
    assert result.loc[10, "mean"] == pytest.approx(0.6)
    assert result.loc[10, "low"] == pytest.approx(low)
    assert result.loc[10, "high"] == pytest.approx(high)
    assert result.loc[20, "half_width"] == pytest.approx(12.7062 * 0.15, rel=1e-4)


def test_one_seed_has_no_confidence_band() -> None:
    mean, half = stats.mean_ci([0.4])
    assert mean == 0.4
    assert math.isnan(half)
    with pytest.raises(ValueError, match="at least one value"):
        stats.mean_ci([])


def test_wilcoxon_detects_a_strategy_better_on_every_seed() -> None:
    rng = np.random.default_rng(0)
    table = {}
    for seed in range(8):
        base = 0.7 + 0.05 * rng.random()
        table["d", "random", seed] = base
        table["d", "good", seed] = base + 0.02 + 0.01 * rng.random()
        table["d", "bad", seed] = base - 0.03
    result = stats.wilcoxon_vs_baseline(_aulcs(table)).set_index("strategy")
    assert set(result.index) == {"good", "bad"}
    good, bad = result.loc["good"], result.loc["bad"]
    assert good["n_pairs"] == 8
    assert (good["wins"], good["losses"], good["ties"]) == (8, 0, 0)
    # The exact two-sided p of 8 positive differences out of 8.
    assert good["p_value"] == pytest.approx(2 / 2**8)
    assert good["verdict"] == "better"
    assert good["mean_difference"] > 0.02
    assert bad["verdict"] == "worse"
    assert (bad["wins"], bad["losses"]) == (0, 8)
    # Holm over the two strategies of the data set: the smaller p doubled.
    assert good["p_holm"] == pytest.approx(2 * 2 / 2**8)
    assert good["note"] == ""


def test_wilcoxon_says_when_every_difference_is_zero() -> None:
    table = {("d", s, seed): 0.8 for s in ("random", "same") for seed in range(6)}
    row = stats.wilcoxon_vs_baseline(_aulcs(table)).iloc[0]
    assert row["p_value"] == 1.0
    assert row["ties"] == 6
    assert row["verdict"] == "no significant difference"
    assert "identical AULC to random on every seed" in row["note"]


def test_wilcoxon_says_when_there_are_too_few_seeds() -> None:
    table = {}
    for seed in range(5):
        table["d", "random", seed] = 0.7
        table["d", "good", seed] = 0.8 + 0.001 * seed
    row = stats.wilcoxon_vs_baseline(_aulcs(table)).iloc[0]
    # Better on all five seeds, yet a two-sided test cannot go below 2 / 2**5.
    assert row["p_value"] == pytest.approx(0.0625)
    assert row["min_p"] == pytest.approx(0.0625)
    assert row["verdict"] == "no significant difference"
    assert "use at least 6 seeds" in row["note"]
    one_sided = stats.wilcoxon_vs_baseline(_aulcs(table), alternative="greater").iloc[0]
    assert one_sided["p_value"] == pytest.approx(1 / 2**5)
    assert one_sided["verdict"] == "better"


def test_wilcoxon_without_the_baseline_is_untestable() -> None:
    table = {("d", "margin", seed): 0.8 for seed in range(6)}
    row = stats.wilcoxon_vs_baseline(_aulcs(table)).iloc[0]
    assert row["verdict"] == "untestable"
    assert "no random runs" in row["note"]
    assert math.isnan(row["p_value"])


def test_wilcoxon_pairs_runs_by_seed() -> None:
    table = {("d", "random", seed): 0.5 + 0.01 * seed for seed in range(8)}
    # Better than random on each seed, though worse than random's best seed.
    table.update({("d", "good", seed): 0.51 + 0.01 * seed for seed in range(8)})
    row = stats.wilcoxon_vs_baseline(_aulcs(table)).iloc[0]
    assert row["wins"] == 8
    assert row["verdict"] == "better"


def _ordered_aulcs(n_datasets: int = 4) -> pd.DataFrame:
    table = {}
    for index in range(n_datasets):
        for seed in range(3):
            level = 0.6 + 0.05 * index
            table[f"d{index}", "a", seed] = level + 0.2
            table[f"d{index}", "b", seed] = level + 0.1
            table[f"d{index}", "c", seed] = level
    return _aulcs(table)


def test_average_ranks_of_a_known_ordering() -> None:
    ranks = stats.average_ranks(_ordered_aulcs())
    assert ranks["strategy"].tolist() == ["a", "b", "c"]
    assert ranks["average_rank"].tolist() == [1.0, 2.0, 3.0]
    assert (ranks["n_datasets"] == 4).all()
    cd = 2.343 * math.sqrt(3 * 4 / (6 * 4))
    assert ranks["cd"].iloc[0] == pytest.approx(cd)
    # b is one rank behind a (< CD 1.66); c two ranks behind (> CD).
    assert ranks["within_cd"].tolist() == [True, True, False]
    assert ranks["friedman_p"].iloc[0] < 0.05


def test_average_ranks_share_ties_and_flip_for_lower_is_better() -> None:
    table = {(d, s, 0): 0.5 for d in ("x", "y") for s in ("p", "q")}
    ranks = stats.average_ranks(_aulcs(table))
    assert ranks["average_rank"].tolist() == [1.5, 1.5]
    lower = stats.average_ranks(_ordered_aulcs(), metric="ece")
    assert lower["strategy"].tolist() == ["c", "b", "a"]


def test_average_ranks_leave_out_strategies_missing_on_a_data_set() -> None:
    aulcs = _ordered_aulcs()
    aulcs = aulcs[~((aulcs["strategy"] == "b") & (aulcs["dataset"] == "d0"))]
    ranks = stats.average_ranks(aulcs)
    assert ranks["strategy"].tolist() == ["a", "c"]
    assert ranks["cd"].iloc[0] == pytest.approx(1.960 * math.sqrt(2 * 3 / (6 * 4)))


def test_average_ranks_are_per_model() -> None:
    both = pd.concat([_ordered_aulcs(), _ordered_aulcs().assign(model="other")])
    ranks = stats.average_ranks(both)
    assert ranks.groupby("model").size().to_dict() == {"m": 3, "other": 3}


def test_q_alpha_table_agrees_with_the_studentized_range() -> None:
    for k, value in stats.Q_ALPHA_05.items():
        exact = scipy_stats.studentized_range.ppf(0.95, k, np.inf) / math.sqrt(2)
        assert value == pytest.approx(exact, abs=1e-3)
    assert stats.q_alpha(12) == pytest.approx(
        scipy_stats.studentized_range.ppf(0.95, 12, np.inf) / math.sqrt(2)
    )
    assert stats.critical_difference(3, 4) == pytest.approx(1.6567, abs=1e-4)
    with pytest.raises(ValueError, match="at least 2 strategies"):
        stats.q_alpha(1)


def test_labels_to_target_finds_the_first_label_count_that_reaches_it() -> None:
    rounds = _rounds(
        {
            ("d", "fast", 0): [0.5, 0.86, 0.8, 0.9],
            ("d", "slow", 0): [0.5, 0.6, 0.7, 0.855],
            ("d", "never", 0): [0.5, 0.6, 0.7, 0.8],
            ("e", "fast", 0): [0.5, 0.9, 0.9, 0.9],
        }
    )
    reference = pd.DataFrame({"dataset": ["d"], "model": ["m"], "seed": [0], "accuracy": [0.9]})
    result = stats.labels_to_target(rounds, reference, fraction=0.95)
    result = result.set_index(["dataset", "strategy"])
    assert result.loc[("d", "fast"), "labels"] == 20
    assert result.loc[("d", "slow"), "labels"] == 40
    assert result.loc[("d", "fast"), "target"] == pytest.approx(0.855)
    assert math.isnan(result.loc[("d", "never"), "labels"])
    assert not result.loc[("d", "never"), "reached"]
    # No reference for data set e: no target.
    assert math.isnan(result.loc[("e", "fast"), "labels"])


def test_target_summary_counts_unreached_runs_as_infinite() -> None:
    curves = {("d", "s", 0): [0.9, 0.9], ("d", "s", 1): [0.1, 0.1], ("d", "s", 2): [0.1, 0.1]}
    reference = pd.DataFrame(
        {"dataset": "d", "model": "m", "seed": [0, 1, 2], "accuracy": [0.9, 0.9, 0.9]}
    )
    summary = stats.target_summary(stats.labels_to_target(_rounds(curves), reference))
    assert summary["reached"].item() == 1
    assert summary["n_seeds"].item() == 3
    assert summary["median_labels"].item() == math.inf


def test_two_rows_for_one_round_are_refused() -> None:
    rounds = _rounds({("d", "margin", 0): [0.5, 0.7]})
    with pytest.raises(ValueError, match="two rows for one run"):
        stats.run_aulc(pd.concat([rounds, rounds]))


def test_missing_columns_are_named() -> None:
    rounds = _rounds({("d", "margin", 0): [0.5, 0.7]}).drop(columns="seed")
    with pytest.raises(ValueError, match=r"lacks column.*seed"):
        stats.curve_ci(rounds)


def test_timings_average_query_time_over_rounds_that_query() -> None:
    rounds = _rounds({("d", "margin", 0): [0.5, 0.7, 0.8]})
    row = stats.timings(rounds).iloc[0]
    assert row["query_seconds"] == pytest.approx(0.01)
    assert row["fit_seconds"] == pytest.approx(0.02)
    assert row["total_seconds"] == pytest.approx(0.08)
