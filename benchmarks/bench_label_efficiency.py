"""Label efficiency: how fast each registered strategy's learning curve rises.

How to run
----------
``.venv/bin/python benchmarks/bench_label_efficiency.py`` from the repository root (it needs
only activelab and scikit-learn). ``--quick`` runs two seeds on smaller budgets for a smoke
run; ``--committee`` adds the strategies that need posterior samples (``bald``,
``vote_entropy``, …) on a bagging committee of the same pipeline
(``activelab.models.Committee.bagging``, 10 members). ``--n-jobs`` sets the worker
processes (default 2). The default run takes a few minutes on a 2-core machine and writes
the table to ``benchmarks/results/label_efficiency.md`` as well. Nothing is downloaded.

Set-up
------
Model: ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``; embedding
strategies use the scaled features (the pipeline's features before its last step), BADGE
the logistic regression's gradient embeddings. Every cell is
``activelab.simulate(model, strategy, X, y, initial=..., batch_size=..., budget=...,
random_state=seed)`` with its automatic stratified 25 % test split; for a given seed the
test split, the initial set and the stop set are drawn before any query, so every
strategy of a seed starts from the same labeled rows and is scored on the same test rows.
Seeds 0–4. Cells run in ``--n-jobs`` processes, each with one BLAS and one activelab thread.

Data sets (all offline: bundled with scikit-learn or generated with a fixed seed)
--------------------------------------------------------------------------------
``digits``
    ``load_digits``: 1,797 8x8 images, 10 classes; pool 1,347 after the test split.
    Initial 50, batch 50, budget 500.
``breast_cancer``
    ``load_breast_cancer``: 569 rows, 30 features, 2 classes; pool 426. Batch 50 would
    spend the budget in a few rounds, so initial 20, batch 20, budget 200.
``synthetic``
    ``make_classification(n_samples=5000, n_features=20, n_informative=10,
    n_redundant=5, n_classes=5, n_clusters_per_class=1, random_state=0)``: a larger pool
    (3,750) with 5 classes (the default 2 informative features cannot hold 5 classes; one
    cluster per class keeps the task within reach of a linear model, so the curves
    separate). Initial 50, batch 50, budget 750.

Table
-----
Rows: strategies; per data set the mean ± standard deviation over seeds of the AULC
(area under the accuracy curve against labels bought, normalised to [0, 1]) and of the
final accuracy. The best mean per column is in bold. ``query ms``: mean seconds per query
round over all cells, in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_lines, markdown_table

RESULTS = Path(__file__).resolve().parent / "results" / "label_efficiency.md"
SEEDS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class DataSet:
    """One data set and its loop settings."""

    name: str
    initial: int
    batch_size: int
    budget: int


DATA_SETS = (
    DataSet("digits", 50, 50, 500),
    DataSet("breast_cancer", 20, 20, 200),
    DataSet("synthetic", 50, 50, 750),
)
QUICK_DATA_SETS = (
    DataSet("digits", 50, 50, 250),
    DataSet("breast_cancer", 20, 20, 100),
    DataSet("synthetic", 50, 50, 250),
)


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of a data set, without any download."""
    from sklearn.datasets import load_breast_cancer, load_digits, make_classification

    if name == "digits":
        return load_digits(return_X_y=True)
    if name == "breast_cancer":
        return load_breast_cancer(return_X_y=True)
    if name == "synthetic":
        return make_classification(
            n_samples=5000,
            n_features=20,
            n_informative=10,
            n_redundant=5,
            n_classes=5,
            n_clusters_per_class=1,
            random_state=0,
        )
    raise ValueError(f"unknown data set {name!r}")


def model(committee: bool) -> Any:
    """The pipeline every cell uses, or a bagging committee of it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if not committee:
        return pipeline
    from activelab.models import Committee

    return Committee.bagging(pipeline, n_members=10, random_state=0)


def run_cell(
    data: DataSet, strategy: str, seed: int, committee: bool
) -> tuple[str, str, int, float, float, float]:
    """One simulate run: (data set, strategy, seed, AULC, final accuracy, mean query s)."""
    os.environ["ACTIVELAB_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    import activelab as al

    X, y = load(data.name)
    with threadpool_limits(limits=1):
        result = al.simulate(
            model(committee),
            strategy,
            X,
            y,
            initial=data.initial,
            batch_size=data.batch_size,
            budget=data.budget,
            random_state=seed,
        )
    query_seconds = [r.query_seconds for r in result.history[1:]]
    return (
        data.name,
        strategy,
        seed,
        float(result.aulc),
        float(result.final["accuracy"]),
        float(np.mean(query_seconds)) if query_seconds else 0.0,
    )


def strategy_list(include_committee: bool) -> list[tuple[str, bool]]:
    """Registered strategies, with whether each runs on the bagging committee."""
    import activelab as al

    chosen = []
    for name in al.strategies.available():
        needs = al.strategies.get(name).needs
        if "sample_proba" in needs:
            if include_committee:
                chosen.append((name, True))
        else:
            chosen.append((name, False))
    return chosen


def table(
    results: list[tuple[str, str, int, float, float, float]],
    data_sets: tuple[DataSet, ...],
    strategies: list[tuple[str, bool]],
) -> str:
    """The markdown table: strategies by data set, mean ± std AULC and final accuracy."""
    cells: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    query: dict[str, list[float]] = {}
    for data_name, strategy, _seed, aulc, final, query_s in results:
        aulcs, finals = cells.setdefault((data_name, strategy), ([], []))
        aulcs.append(aulc)
        finals.append(final)
        query.setdefault(strategy, []).append(query_s)
    best: dict[tuple[str, int], float] = {}
    for data in data_sets:
        for position in (0, 1):
            best[data.name, position] = max(
                float(np.mean(cells[data.name, name][position]))
                for name, _ in strategies
                if (data.name, name) in cells
            )
    headers = ["strategy"]
    for data in data_sets:
        headers += [f"{data.name} AULC", f"{data.name} final acc"]
    headers.append("query ms")
    rows = []
    for name, on_committee in strategies:
        row = [name + (" (committee)" if on_committee else "")]
        for data in data_sets:
            for position in (0, 1):
                values = cells.get((data.name, name), ([], []))[position]
                if not values:
                    row.append("—")
                    continue
                mean = float(np.mean(values))
                text = f"{mean:.3f} ± {float(np.std(values)):.3f}"
                row.append(f"**{text}**" if mean == best[data.name, position] else text)
        row.append(f"{np.mean(query[name]) * 1e3:.1f}")
        rows.append(row)
    right = list(range(1, len(headers)))
    return markdown_table(headers, rows, right=right)


def main() -> int:
    """Run every (data set, strategy, seed) cell, print and write the table."""
    from joblib import Parallel, delayed

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, smaller budgets")
    parser.add_argument(
        "--committee", action="store_true", help="add sample_proba strategies on a committee"
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args()
    data_sets = QUICK_DATA_SETS if args.quick else DATA_SETS
    seeds = SEEDS[:2] if args.quick else SEEDS
    strategies = strategy_list(args.committee)
    header = machine_lines(("numpy", "numba", "scikit-learn", "activelab"))
    for line in header:
        print(line)
    print(f"strategies: {', '.join(name for name, _ in strategies)}")
    started = time.perf_counter()
    jobs = [
        delayed(run_cell)(data, name, seed, on_committee)
        for data in data_sets
        for name, on_committee in strategies
        for seed in seeds
    ]
    results = Parallel(n_jobs=args.n_jobs)(jobs)
    elapsed = time.perf_counter() - started
    settings = ", ".join(
        f"{d.name}: initial {d.initial}, batch {d.batch_size}, budget {d.budget}" for d in data_sets
    )
    text = "\n".join(
        [
            "# Label efficiency: AULC and final accuracy, mean ± std over seeds "
            f"{', '.join(map(str, seeds))}",
            "",
            "Model: StandardScaler + LogisticRegression(max_iter=1000); accuracy on the "
            "automatic stratified 25 % test split of `activelab.simulate` (the same rows "
            "for every strategy of a seed). Best mean per column in bold.",
            f"Settings: {settings}.",
            "",
            table(results, data_sets, strategies),
            "",
            f"{len(jobs)} runs in {elapsed:.0f} s with {args.n_jobs} worker processes.",
            "Generated by `benchmarks/bench_label_efficiency.py`"
            + (" --quick" if args.quick else "")
            + (" --committee" if args.committee else "")
            + f" on: {header[1].removeprefix('machine: ')}",
        ]
    )
    print()
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
