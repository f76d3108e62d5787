"""Density, batch, huge-pool and composition strategies: activelab against the peers.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_density.py`` from the repository root (about
a minute on a 2-core machine). A peer that is not importable gets "not installed" and
the rest still runs. No data is downloaded.

Everything runs on one BLAS thread (``threadpool_limits(1)``); timings are only
meaningful on an otherwise idle machine (the header prints the load average).

What it measures
----------------
Seeded Gaussian blobs (``make_blobs``), a LogisticRegression fitted on the labeled
part, the query time of a batch:

``graph_density``
    N = 2,000 pool + 100 labeled, d = 16, k = 50. Ours ``GraphDensity(damp_labeled=
    False)`` against ALiPy ``QueryInstanceGraphDensity`` (constructor, which builds the
    graph, plus ``select``); picks compared as sets.
``ranked_batch``
    N = 5,000, d = 32, |L| = 200, k = 50. Ours ``RankedBatch()`` against modAL
    ``uncertainty_batch_sampling`` (an ``ActiveLearner`` on the same data); picks
    compared in order.
``combine``
    N = 200,000, 10 classes. Ours ``Combine(["least_confidence", "entropy"],
    normalize="none")`` utilities against modAL ``make_linear_combination`` of
    ``classifier_uncertainty`` and ``classifier_entropy``; utilities compared.
``dwus``, ``hierarchical``, ``seals``, ``class_balance``
    Ours only (libact's DWUS and HierarchicalSampling do not install; small-text's
    SEALS needs hnswlib and its ClassBalancer is 2.0.dev only): N = 20,000 (5,000 for
    hierarchical), d = 32, k = 50; SEALS against an unwrapped margin query, same pool.
    hierarchical's Ward tree is built by the warm-up query and kept (``tree_``); the
    time is the replay of the labels and the sampling.

Columns
-------
``ours`` and ``peer``: best wall time of interleaved runs after a warm-up (a call whose
warm-up takes over 5 s is timed once, by its warm-up). ``peer/ours`` above 1 means we
are faster. ``same picks``: the comparison named above, "—" where no peer runs. Exits
with status 1 when a comparison that must agree does not.
"""

from __future__ import annotations

import collections
import collections.abc
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    NOT_INSTALLED,
    as_index_set,
    fmt_ratio,
    fmt_seconds,
    import_attrs,
    machine_lines,
    markdown_table,
    race,
)

try:
    import activelab as al
except ImportError as error:  # pragma: no cover - run from the wrong environment
    from _common import missing_activelab

    missing_activelab(error)

from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

K = 50
SLOW_S = 5.0


def blobs(n: int, d: int, n_labeled: int, centers: int = 10, seed: int = 0):
    X, y = make_blobs(
        n_samples=n + n_labeled, centers=centers, n_features=d, cluster_std=3.0, random_state=seed
    )
    X = X.astype(np.float64)
    model = LogisticRegression(max_iter=300).fit(X[n:], y[n:])
    return model, X[:n], X[n:], y[n:]


def timed(calls):
    return race(calls, budget_s=1.0, min_repeats=2, max_repeats=5, slow_s=SLOW_S)


def bench_graph_density(rows, failures):
    _, pool, labeled, _ = blobs(2000, 16, 100)
    ours = al.strategies.GraphDensity(damp_labeled=False)
    calls = {"ours": lambda: ours.query(None, pool, K, labeled, None, random_state=0)}
    peer = import_attrs("alipy.query_strategy", "QueryInstanceGraphDensity")
    if peer is not None:
        # ALiPy 1.2.5 checks collections.Iterable, gone since Python 3.10.
        collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]
        both = np.vstack([pool, labeled])
        everything = np.arange(len(both))

        def alipy_query():
            qs = peer["QueryInstanceGraphDensity"](both, np.zeros(len(both)), everything)
            return qs.select(everything[len(pool) :], everything[: len(pool)], batch_size=K)

        calls["peer"] = alipy_query
    out = timed(calls)
    same = "—"
    if "peer" in out and out["peer"].result is not None:
        ok = as_index_set(out["ours"].result) == as_index_set(out["peer"].result)
        same = "yes" if ok else "NO"
        if not ok:
            failures.append("graph_density")
    rows.append(row("graph_density", "ALiPy QueryInstanceGraphDensity", out, peer, same))


def bench_ranked_batch(rows, failures):
    model, pool, labeled, y_lab = blobs(5000, 32, 200)
    ours = al.strategies.RankedBatch()
    calls = {"ours": lambda: ours.query(model, pool, K, labeled, y_lab, random_state=0)}
    peer = import_attrs("modAL.batch", "uncertainty_batch_sampling")
    learner_cls = import_attrs("modAL.models", "ActiveLearner")
    if peer is not None and learner_cls is not None:
        learner = learner_cls["ActiveLearner"](
            estimator=LogisticRegression(max_iter=300), X_training=labeled, y_training=y_lab
        )
        learner.estimator = model  # the same fitted model as ours
        calls["peer"] = lambda: peer["uncertainty_batch_sampling"](learner, pool, n_instances=K)
    out = timed(calls)
    same = "—"
    if "peer" in out and out["peer"].result is not None:
        theirs = np.asarray(
            out["peer"].result[0] if isinstance(out["peer"].result, tuple) else out["peer"].result
        ).ravel()
        ok = out["ours"].result.tolist() == theirs.tolist()
        same = "yes (in order)" if ok else "NO"
        if not ok:
            failures.append("ranked_batch")
    rows.append(row("ranked_batch", "modAL uncertainty_batch_sampling", out, peer, same))


def bench_combine(rows, failures):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200_000, 10))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    class Fixed:
        classes_ = np.arange(10)

        def predict_proba(self, X):
            return proba

    pool = np.zeros((len(proba), 1))
    ours = al.strategies.Combine(["least_confidence", "entropy"], normalize="none")
    calls = {"ours": lambda: ours.utilities(Fixed(), pool)}
    peer = import_attrs("modAL.utils.combination", "make_linear_combination")
    unc = import_attrs("modAL.uncertainty", "classifier_uncertainty", "classifier_entropy")
    if peer is not None and unc is not None:
        fused = peer["make_linear_combination"](
            unc["classifier_uncertainty"], unc["classifier_entropy"]
        )
        calls["peer"] = lambda: fused(Fixed(), pool)
    out = timed(calls)
    same = "—"
    if "peer" in out and out["peer"].result is not None:
        ok = np.allclose(out["ours"].result, out["peer"].result)
        same = "yes (utilities)" if ok else "NO"
        if not ok:
            failures.append("combine")
    rows.append(row("combine (sum)", "modAL make_linear_combination", out, peer, same))


def bench_ours_only(rows):
    model, pool, labeled, y_lab = blobs(20_000, 32, 200)
    cases = {
        "dwus": (al.strategies.DWUS(), pool),
        "seals (margin)": (al.strategies.SEALS("margin", n_neighbors=50), pool),
        "margin, unwrapped": (al.strategies.Margin(), pool),
        "anchor_subsampling": (al.strategies.AnchorSubsampling("margin"), pool),
        "class_balance": (al.strategies.ClassBalance("margin"), pool),
        "hierarchical (N=5,000)": (al.strategies.HierarchicalSampling(), pool[:5000]),
    }
    for name, (strategy, X) in cases.items():
        out = timed({"ours": lambda s=strategy, X=X: s.query(model, X, K, labeled, y_lab, 0)})
        rows.append([name, "— (no installable peer)", fmt_seconds(out["ours"].best), "—", "—", "—"])


def row(name, peer_name, out, peer, same):
    ours_s = out["ours"].best
    if peer is None:
        return [name, peer_name, fmt_seconds(ours_s), NOT_INSTALLED, "—", same]
    peer_s = out["peer"].best if "peer" in out else None
    cell = (
        fmt_seconds(peer_s)
        if out.get("peer") and not out["peer"].error
        else (out["peer"].error if "peer" in out else "—")
    )
    return [name, peer_name, fmt_seconds(ours_s), cell, fmt_ratio(peer_s, ours_s), same]


def main() -> int:
    print(
        "\n".join(
            machine_lines(
                ["scikit-learn", ("modAL", "modAL-python"), "alipy"], threads="BLAS threads 1"
            )
        )
    )
    rows: list[list[str]] = []
    failures: list[str] = []
    with threadpool_limits(1):
        bench_graph_density(rows, failures)
        bench_ranked_batch(rows, failures)
        bench_combine(rows, failures)
        bench_ours_only(rows)
    print()
    print(
        markdown_table(
            ["strategy", "peer", "ours", "peer", "peer/ours", "same picks"], rows, right=(2, 3, 4)
        )
    )
    if failures:
        print(f"\nDISAGREEMENT: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
