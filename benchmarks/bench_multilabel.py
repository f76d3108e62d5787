"""Multi-label active learning: AULC of every strategy vs random, and query time vs peers.

Run: .venv-bench/bin/python benchmarks/bench_multilabel.py [--seeds 5] [--quick]

Data: sklearn's make_multilabel_classification, and "digits-properties": scikit-learn's
bundled digits images with four label columns read off the true digit (even, >= 5,
prime, has a closed loop: 0 6 8 9). No PyPI package was found that ships a standard
multi-label set (yeast, emotions, scene) for offline use, so this second set is real
images with derived labels, not a benchmark set from the literature.

Model: OneVsRestClassifier(LogisticRegression). AULC of micro-F1 (higher is better)
over labels bought, initial 20 random items, batches of 10, budget 120; mean over seeds.
Query-time ratios: one query of k=10 on the same fitted model and pool, peer / ours.
"""

from __future__ import annotations

import argparse
import collections
import collections.abc
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

import activelab as al

warnings.filterwarnings("ignore")
collections.Iterable = collections.abc.Iterable  # ALiPy still reads it

STRATEGIES = [
    "random",
    "mmc",
    "binary_minimization",
    "max_loss",
    "mean_max_loss",
    "min_confidence",
    "avg_confidence",
    "max_score",
    "avg_score",
    "adaptive_multilabel",
    "label_cardinality_inconsistency",
    "cvirs",
    "audi",
    "quire_multilabel",
]


def datasets():
    X, Y = make_multilabel_classification(
        n_samples=800, n_features=20, n_classes=6, n_labels=2, random_state=0
    )
    yield "make_multilabel", StandardScaler().fit_transform(X), Y
    digits = load_digits()
    d = digits.target
    Y = np.column_stack([d % 2 == 0, d >= 5, np.isin(d, [2, 3, 5, 7]), np.isin(d, [0, 6, 8, 9])])
    yield "digits-properties", StandardScaler().fit_transform(digits.data), Y.astype(int)


def model():
    return OneVsRestClassifier(LogisticRegression(max_iter=300))


def query_seconds(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peer_timings(X, Y):
    """Query time of one k=10 query (k=1 for ALiPy's sequential ones), peer / ours."""
    rows = []
    labeled, pool = np.arange(40), np.arange(40, X.shape[0])
    fitted = model().fit(X[labeled], Y[labeled])
    try:
        import modAL.multilabel as modal

        for name in ("min_confidence", "avg_confidence", "max_score", "avg_score"):
            ours = query_seconds(
                lambda n=name: al.strategies.get(n).query(fitted, X[pool], 10, random_state=0)
            )
            theirs = query_seconds(
                lambda n=name: getattr(modal, n)(fitted, X[pool], n_instances=10)
            )
            rows.append(("modAL", name, ours, theirs))
    except ImportError:
        pass
    try:
        from alipy.query_strategy.multi_label import QueryMultiLabelAdaptive, QueryMultiLabelMMC

        base = LogisticRegression(max_iter=300)
        alipy = QueryMultiLabelMMC(
            X, Y, br_base=base, logreg_param={"solver": "newton-cg"}, random_state=0
        )
        theirs = query_seconds(lambda: alipy.select(list(labeled), list(pool), batch_size=1), 1)
        ours = query_seconds(
            lambda: al.strategies.get("mmc", output="proba").query(
                model().fit(X[labeled], Y[labeled]), X[pool], 1, X[labeled], Y[labeled], 0
            ),
            1,
        )
        rows.append(("ALiPy", "mmc (incl. fit)", ours, theirs))
        alipy = QueryMultiLabelAdaptive(X, Y, base_clf=base, random_state=0)
        theirs = query_seconds(lambda: alipy.select(list(labeled), list(pool), batch_size=1), 1)
        ours = query_seconds(
            lambda: al.strategies.get("adaptive_multilabel").query(
                model().fit(X[labeled], Y[labeled]), X[pool], 1, X[labeled], Y[labeled], 0
            ),
            1,
        )
        rows.append(("ALiPy", "adaptive (incl. fit)", ours, theirs))
    except ImportError:
        pass
    try:
        from scipy.sparse import csr_matrix
        from small_text.query_strategies import CategoryVectorInconsistencyAndRanking

        strategy = CategoryVectorInconsistencyAndRanking(pbar=None)
        proba = fitted.predict_proba(X[pool])
        theirs = query_seconds(
            lambda: strategy._compute_scores(pool, csr_matrix(Y[labeled]), proba)
        )
        ours = query_seconds(
            lambda: al.strategies.get("cvirs").query(fitted, X[pool], 10, X[labeled], Y[labeled], 0)
        )
        rows.append(("small-text", "cvirs (scores)", ours, theirs))
    except ImportError:
        pass
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    budget = 60 if args.quick else 120
    lines = ["# Multi-label active learning", ""]
    for data_name, X, Y in datasets():
        aulcs = {s: [] for s in STRATEGIES}
        seconds = {s: [] for s in STRATEGIES}
        for seed in range(args.seeds):
            for name in STRATEGIES:
                result = al.simulate(
                    model(),
                    name,
                    X,
                    Y,
                    initial=20,
                    batch_size=10,
                    budget=budget,
                    random_state=seed,
                )
                aulcs[name].append(result.aulc)
                seconds[name].append(np.mean([r.query_seconds for r in result.history[1:]]))
        base = np.mean(aulcs["random"])
        lines += [
            f"## {data_name} (n={X.shape[0]}, L={Y.shape[1]}, {args.seeds} seeds, budget {budget})",
            "",
            "| strategy | AULC micro-F1 (mean ± sd) | vs random | query s/round |",
            "| --- | --- | --- | --- |",
        ]
        for name in STRATEGIES:
            values = np.asarray(aulcs[name])
            lines.append(
                f"| `{name}` | {values.mean():.4f} ± {values.std():.4f} | "
                f"{values.mean() - base:+.4f} | {np.mean(seconds[name]):.4f} |"
            )
        lines += ["", "Query time, one query on the same fitted model and pool (peer / ours):", ""]
        lines += [
            "| peer | strategy | ours s | peer s | ratio |",
            "| --- | --- | --- | --- | --- |",
        ]
        for peer, name, ours, theirs in peer_timings(X, Y):
            lines.append(f"| {peer} | {name} | {ours:.5f} | {theirs:.5f} | {theirs / ours:.1f}× |")
        lines.append("")
        print("\n".join(lines[-(len(STRATEGIES) + 12) :]), flush=True)
    out = Path(__file__).parent / "results" / "multilabel.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
