"""Batch strategies: activelab against scikit-activeml, small-text, ALiPy and modAL.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_batch.py`` from the repository root (the peers
are importable only in ``.venv-bench``; one that is missing gets "not installed" and the
rest still runs). ``--quick`` shrinks every size about tenfold for a smoke run (under a
minute); ``--full`` also runs the exact euclidean density at N = 100,000, which is O(N²)
and takes minutes on its own, and the scaling at N = 3,000,000. The default run takes
about four minutes on a 2-core machine; nothing is downloaded. Timings are only
meaningful on an otherwise idle machine: the header prints the load average before the
run.

Threads: our numba kernels use ``ACTIVELAB_NUM_THREADS`` threads (default the CPU count;
k-center greedy splits the pool only from 131,072 rows). BLAS is limited to one thread for
everyone (``--blas-threads`` changes it): on a small, busy machine a threaded OpenBLAS
makes the many small GEMVs of a greedy selector (one per pick) up to 16 times slower at
random, for us and for the peers alike, which swamps the differences being measured. The
BADGE table shows our query with all BLAS threads as well.

What it measures (all inputs seeded; every library gets the same arrays)
-----------------------------------------------------------------------
core-set, N x 128 float32 Gaussian embeddings (N = 100,000), k = 100
    Without and with 1,000 labeled points (the initial centres). Ours:
    ``select.k_center_greedy`` and the ``coreset`` strategy on the raw features
    (``model=None``). Peers: scikit-activeml ``CoreSet().query`` (its
    ``k_greedy_center``), ALiPy ``QueryInstanceCoresetGreedy.select``, small-text
    ``greedy_coreset`` (what ``GreedyCoreset`` calls, euclidean, not normalised, so that
    the picks are comparable). small-text recomputes the distances of the whole pool to
    every centre at every pick — O(N·(m+k)·d) per pick — so it is timed for one pick and
    the k-pick time is extrapolated as ``t₁ · Σᵢ (m+i)/m`` (marked "est."). ALiPy and
    small-text need a labeled set (ALiPy fails on an empty one, small-text computes a
    minimum over no centres). The floor is k passes over the embeddings (``emb @ v``, one
    GEMV per pick), plus, with labels, the distance GEMM ``emb @ labeled.T`` that every
    implementation needs for the initial centres.
BADGE, N = 10,000 x 128, 10 classes, LogisticRegression fitted on 500 labeled, k = 100
    Ours: ``strategies.get("badge").query``. scikit-activeml ``Badge().query`` with
    ``fit_clf=False`` and a ``SklearnClassifier`` around the same fitted
    LogisticRegression, subclassed to return the features with a bias column of ones as
    the embeddings (our ``grad_embed`` includes the bias; plain ``SklearnClassifier``
    would use the features alone). Both take the largest gradient norm first, so the
    first pick must agree; the rest is random D² sampling.
information density, N = 10,000 x 20, LogisticRegression fitted on 300 labeled, k = 100
    Ours: ``strategies._batch.density(X, "euclidean")`` against modAL's
    ``modAL.density.information_density(X, "euclidean")`` (checked equal to 1e-6); our
    default cosine density (mean cosine to the pool, O(N·d): a different similarity from
    modAL's ``1 / (1 + cosine distance)``); the ``information_density`` strategy with the
    euclidean and cosine metric against modAL's density-weighted query as a modAL user
    writes it (modAL has no such strategy): ``classifier_entropy × information_density``
    and ``multi_argmax``.
scaling, d = 64 float32, k = 100
    Time against N = 10k, 100k, 1M for k-center greedy and the cosine density (linear in
    N), each beside its floor raced with it — k GEMVs ``emb @ v`` for k-center, one for
    the density — because the time per item of any pass over the array rises once the
    array outgrows the CPU caches; linear growth means growing like the floor. Then the
    euclidean density with ``n_neighbors=10`` for N = 1k and 10k (O(N²): the ratio per
    tenfold N is about 100; N = 100k is extrapolated unless ``--full``).

Columns
-------
``time``: best wall time (``time.perf_counter``) over the timed runs; calls of one row group
race in turns after a warm-up (numba compiles or loads its cache on the first call). Peers
that take many seconds run once (no warm-up: they have nothing to compile). ``peak
memory``: extra bytes allocated during one separate call (tracemalloc sees numpy's
buffers). ``x ours``: the row's time over ours (above 1 means we are faster).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    NOT_INSTALLED,
    Outcome,
    as_index_set,
    fmt_bytes,
    fmt_ratio,
    fmt_seconds,
    load_peer,
    machine_lines,
    markdown_table,
    missing_activelab,
    peak_extra_bytes,
    race,
    verdict,
)

try:
    from activelab import select, strategies
    from activelab.strategies._batch import density
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0
K = 100

# Goals the owner set for this benchmark.
GOAL_CORESET_SPEEDUP = 5.0  # at least this many times faster than the fastest peer
GOAL_CORESET_FLOOR = 2.0  # at most this many times the floor
GOAL_CORESET_MEMORY = 2.0  # peak extra memory below this many times the embeddings
GOAL_BADGE_SPEEDUP = 3.0  # at least this many times faster than scikit-activeml
GOAL_DENSITY_SPEEDUP = 10.0  # at least this many times faster than modAL
GOAL_LINEAR_VS_FLOOR = 1.5  # growth per step in N at most this many times the floor's
#: A peer call slower than this (seconds) is not run a second time for its memory.
SLOW_PEER_S = 10.0


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of one run."""

    coreset_n: int
    coreset_d: int
    coreset_labeled: int
    badge_n: int
    badge_d: int
    badge_labeled: int
    density_n: int
    density_d: int
    density_labeled: int
    scaling_n: tuple[int, ...]
    scaling_d: int
    euclid_n: tuple[int, ...]
    euclid_extrapolate: int | None


FULL = Sizes(100_000, 128, 1000, 10_000, 128, 500, 10_000, 20, 300,
             (10_000, 100_000, 1_000_000), 64, (1_000, 10_000), 100_000)  # fmt: skip
QUICK = Sizes(10_000, 128, 200, 2_000, 128, 500, 2_000, 20, 300,
              (1_000, 10_000, 100_000), 64, (300, 3_000), 30_000)  # fmt: skip


@dataclass
class Row:
    """One line of a results table."""

    cells: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """Everything the goal summary needs, filled in by the sections."""

    goals: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_peers() -> dict[str, Any]:
    """Import each peer's entry points; a peer that is not importable maps to None."""

    def skactiveml() -> dict[str, Any]:
        pool = importlib.import_module("skactiveml.pool")
        classifier = importlib.import_module("skactiveml.classifier")
        return {
            "CoreSet": pool.CoreSet,
            "Badge": pool.Badge,
            "SklearnClassifier": classifier.SklearnClassifier,
        }

    def small_text() -> Any:
        return importlib.import_module("small_text.query_strategies.coresets").greedy_coreset

    def alipy() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module("alipy.query_strategy")
        return module.QueryInstanceCoresetGreedy

    def modal() -> dict[str, Any]:
        return {
            "information_density": importlib.import_module("modAL.density").information_density,
            "classifier_entropy": importlib.import_module("modAL.uncertainty").classifier_entropy,
            "multi_argmax": importlib.import_module("modAL.utils.selection").multi_argmax,
        }

    return {
        "skactiveml": load_peer(skactiveml),
        "small-text": load_peer(small_text),
        "ALiPy": load_peer(alipy),
        "modAL": load_peer(modal),
    }


def best(outcome: Outcome | None) -> float | str | None:
    """The best time of an outcome, its error, or None."""
    if outcome is None:
        return None
    if outcome.error:
        return outcome.error
    return outcome.best


# --------------------------------------------------------------------------- core-set


def coreset_section(peers: dict[str, Any], sizes: Sizes, report: Report) -> str:
    """Core-set timings, memory and agreement, with and without a labeled set."""
    rng = np.random.default_rng(SEED)
    n, d, m = sizes.coreset_n, sizes.coreset_d, sizes.coreset_labeled
    emb = rng.standard_normal((n, d), dtype=np.float32)
    labeled_emb = rng.standard_normal((m, d), dtype=np.float32)
    # Peers take the labeled rows inside X: the pool first, so pool positions are rows of X.
    X_all = np.vstack([emb, labeled_emb])
    centres_for_floor = rng.integers(n, size=K)
    coreset = strategies.get("coreset")
    skal, small_text, alipy = peers["skactiveml"], peers["small-text"], peers["ALiPy"]
    lines: list[str] = []
    table_rows: list[list[str]] = []
    goal_speedups: list[tuple[float, str]] = []
    goal_floor: list[tuple[float, str]] = []
    goal_memory: list[tuple[float, str]] = []

    for with_labels in (False, True):
        label = f"{m:,} labeled" if with_labels else "no labels"
        labeled = labeled_emb if with_labels else None

        def ours(labeled: np.ndarray | None = labeled) -> np.ndarray:
            return select.k_center_greedy(emb, K, labeled=labeled, random_state=SEED)

        def ours_strategy(labeled: np.ndarray | None = labeled) -> np.ndarray:
            return coreset.query(None, emb, K, X_labeled=labeled, random_state=SEED)

        def floor(with_labels: bool = with_labels) -> None:
            if with_labels:  # the initial distances, in blocks as any chunked code does
                rows = max(1, 32 * 2**20 // (4 * m))
                for start in range(0, n, rows):
                    emb[start : start + rows] @ labeled_emb.T
            for centre in centres_for_floor:
                emb @ emb[centre]

        fast = race(
            {"ours": ours, "ours (strategy)": ours_strategy, "floor": floor},
            min_repeats=3,
            budget_s=4.0,
        )
        for name in ("ours", "ours (strategy)", "floor"):
            if fast[name].error:
                raise RuntimeError(f"core-set {label}: {name} failed: {fast[name].error}")
        ours_s = fast["ours"].best
        floor_s = fast["floor"].best
        ours_picks = fast["ours"].result

        slow: dict[str, Callable[[], Any]] = {}
        reasons: dict[str, str] = {}
        if skal is None:
            reasons["skactiveml"] = NOT_INSTALLED
        else:
            if with_labels:
                y_all = np.full(n + m, np.nan)
                y_all[n:] = 0.0
                slow["skactiveml"] = lambda y_all=y_all: skal["CoreSet"](random_state=SEED).query(
                    X_all, y_all, batch_size=K
                )
            else:
                y_pool = np.full(n, np.nan)
                slow["skactiveml"] = lambda y_pool=y_pool: skal["CoreSet"](random_state=SEED).query(
                    emb, y_pool, batch_size=K
                )
        if alipy is None:
            reasons["ALiPy"] = NOT_INSTALLED
        elif not with_labels:
            reasons["ALiPy"] = "needs a labeled set"
        else:

            def alipy_query() -> list[int]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    strategy = alipy(X_all, np.zeros(n + m), np.arange(n + m))
                    return strategy.select(np.arange(n, n + m), np.arange(n), batch_size=K)

            slow["ALiPy"] = alipy_query
        if small_text is None:
            reasons["small-text"] = NOT_INSTALLED
        elif not with_labels:
            reasons["small-text"] = "needs a labeled set"
        else:
            slow["small-text"] = lambda: small_text(
                X_all, np.arange(n), np.arange(n, n + m), 1, distance_metric="euclidean"
            )
        peer_out = race(slow, warmup=False, min_repeats=1, max_repeats=1)

        memory: dict[str, float | str] = {}
        for name, fn in (("ours", ours), ("ours (strategy)", ours_strategy), *slow.items()):
            if name in peer_out and peer_out[name].error:
                memory[name] = "—"
            elif name == "small-text" and (peer_out[name].best or 0.0) > SLOW_PEER_S:
                # Not rerun: it copies the pool, x[indices_unlabeled], at every pick.
                memory[name] = f">= {n * d * 4 / 1e6:.1f} MB"
            else:
                memory[name] = float(peak_extra_bytes(fn)[0])
        memory["floor"] = "—"

        times: dict[str, float | str | None] = {
            "ours": ours_s,
            "ours (strategy)": fast["ours (strategy)"].best,
            "floor": floor_s,
        }
        same: dict[str, str] = {"ours": "—", "ours (strategy)": "—", "floor": "—"}
        same["ours (strategy)"] = (
            "yes" if np.array_equal(fast["ours (strategy)"].result, ours_picks) else "no"
        )
        notes: dict[str, str] = {}
        for name in ("skactiveml", "ALiPy", "small-text"):
            if name in reasons:
                times[name] = reasons[name]
                same[name] = "—"
                continue
            outcome = peer_out[name]
            if outcome.error:
                times[name] = outcome.error
                same[name] = "error"
                report.problems.append(f"core-set {label}: {name} {outcome.error}")
                continue
            picks = [int(i) for i in np.asarray(outcome.result).ravel()]
            if name == "small-text":
                one_pick = outcome.best
                assert one_pick is not None
                factor = sum((m + i) / m for i in range(K))
                times[name] = one_pick * factor
                notes[name] = f"est. from 1 pick ({fmt_seconds(one_pick)}) x {factor:.1f}"
                same[name] = "yes (1st pick)" if picks[0] == int(ours_picks[0]) else "no (1st)"
            else:
                times[name] = outcome.best
                same[name] = (
                    "yes"
                    if picks == [int(i) for i in ours_picks]
                    else ("same set" if set(picks) == set(ours_picks.tolist()) else "no")
                )
        if not with_labels and same.get("skactiveml") == "no":
            notes["skactiveml"] = "first centre drawn at random by each library"

        for name in ("ours", "ours (strategy)", "floor", "skactiveml", "ALiPy", "small-text"):
            value = times.get(name)
            mem = memory.get(name, "—")
            table_rows.append(
                [
                    label,
                    name,
                    fmt_seconds(value),
                    fmt_ratio(value, ours_s) if name != "ours" else "1x",
                    fmt_bytes(mem),
                    fmt_ratio(mem, float(emb.nbytes)),
                    same.get(name, "—"),
                    notes.get(name, ""),
                ]
            )
        peer_times = [
            (t, name)
            for name, t in times.items()
            if name in ("skactiveml", "ALiPy", "small-text") and isinstance(t, float)
        ]
        if peer_times:
            fastest = min(peer_times)
            goal_speedups.append((fastest[0] / ours_s, f"{label}, vs {fastest[1]}"))
        goal_floor.append((ours_s / floor_s, label))
        ours_memory = memory["ours"]
        assert isinstance(ours_memory, float)
        goal_memory.append((ours_memory / emb.nbytes, label))
        strategy_memory = memory["ours (strategy)"]
        if isinstance(strategy_memory, float) and strategy_memory > 2 * emb.nbytes:
            report.problems.append(
                f"core-set {label}: the coreset strategy on float32 features allocates "
                f"{strategy_memory / emb.nbytes:.1f}x the embeddings (select.k_center_greedy: "
                f"{ours_memory / emb.nbytes:.2f}x): models.numeric_features casts to float64 "
                "and as_embedding back to float32."
            )

    lines.append(
        f"## core-set: {n:,} x {d} float32, k = {K}; embeddings {emb.nbytes / 1e6:.1f} MB\n"
    )
    lines.append(
        markdown_table(
            ["labels", "who", "time", "x ours", "peak memory", "x emb", "same picks", "note"],
            table_rows,
            right=[2, 3, 4, 5],
        )
    )
    lines.append(
        "\nfloor: k passes over the embeddings (one GEMV `emb @ v` per pick), plus the "
        "GEMM `emb @ labeled.T` when there are labels."
    )

    worst = min(goal_speedups, default=None)
    report.goals.append(
        f"{verdict(None if worst is None else worst[0] >= GOAL_CORESET_SPEEDUP)}  core-set >= "
        f"{GOAL_CORESET_SPEEDUP:g}x faster than the fastest peer: worst "
        + ("—" if worst is None else f"{worst[0]:.2f}x ({worst[1]})")
    )
    worst_floor = max(goal_floor)
    report.goals.append(
        f"{verdict(worst_floor[0] <= GOAL_CORESET_FLOOR)}  core-set within "
        f"{GOAL_CORESET_FLOOR:g}x of the floor: worst {worst_floor[0]:.2f}x ({worst_floor[1]})"
    )
    worst_memory = max(goal_memory)
    report.goals.append(
        f"{verdict(worst_memory[0] < GOAL_CORESET_MEMORY)}  core-set peak memory < "
        f"{GOAL_CORESET_MEMORY:g}x the embeddings: worst {worst_memory[0]:.2f}x "
        f"({worst_memory[1]})"
    )
    return "\n".join(lines)


# --------------------------------------------------------------------------- BADGE


def badge_section(peers: dict[str, Any], sizes: Sizes, report: Report) -> str:
    """BADGE on a fitted LogisticRegression: ours against scikit-activeml's Badge."""
    n, d, m, classes = sizes.badge_n, sizes.badge_d, sizes.badge_labeled, 10
    X, y = make_classification(
        n_samples=m + n,
        n_features=d,
        n_informative=20,
        n_redundant=10,
        n_classes=classes,
        n_clusters_per_class=1,
        random_state=SEED,
    )
    X_lab, y_lab, X_pool = X[:m], y[:m], X[m:]
    model = LogisticRegression(max_iter=1000).fit(X_lab, y_lab)
    badge = strategies.get("badge")
    skal = peers["skactiveml"]

    calls: dict[str, Callable[[], Any]] = {
        "ours": lambda: badge.query(model, X_pool, K, random_state=SEED)
    }
    if skal is not None:

        class WithBiasEmbeddings(skal["SklearnClassifier"]):  # type: ignore[misc, valid-type]
            """SklearnClassifier that can also return the features plus a bias column."""

            def predict_proba(self, X: Any, return_embeddings: bool = False, **kwargs: Any):
                proba = super().predict_proba(X, **kwargs)
                if not return_embeddings:
                    return proba
                return proba, np.hstack([X, np.ones((X.shape[0], 1))])

        wrapped = WithBiasEmbeddings(
            LogisticRegression(max_iter=1000), classes=np.arange(classes), random_state=SEED
        ).fit(X_lab, y_lab)
        if not np.allclose(wrapped.estimator_.coef_, model.coef_):
            report.problems.append("BADGE: scikit-activeml's fitted model differs from ours.")
        y_pool = np.full(n, np.nan)
        calls["skactiveml"] = lambda: skal["Badge"](
            clf_embedding_flag_name="return_embeddings", random_state=SEED
        ).query(X_pool, y_pool, wrapped, fit_clf=False, batch_size=K)

    def ours_all_blas_threads() -> np.ndarray:
        with threadpool_limits(limits=os.cpu_count() or 1):
            return badge.query(model, X_pool, K, random_state=SEED)

    ours_label = f"ours, BLAS {os.cpu_count()} threads"
    outcomes = race(
        {"ours": calls["ours"], ours_label: ours_all_blas_threads}, min_repeats=3, budget_s=3.0
    )
    if outcomes["ours"].error:
        raise RuntimeError(f"BADGE: ours failed: {outcomes['ours'].error}")
    if "skactiveml" in calls:  # seconds per call: one timed run
        outcomes.update(race({"skactiveml": calls["skactiveml"]}, warmup=False, min_repeats=1))
    ours_s = outcomes["ours"].best
    rows = []
    memory = {name: float(peak_extra_bytes(fn)[0]) for name, fn in calls.items()}
    ours_first = int(outcomes["ours"].result[0])
    for name in ("ours", ours_label, "skactiveml"):
        if name not in outcomes:
            rows.append([name, NOT_INSTALLED, "—", "—", "—"])
            continue
        value = best(outcomes[name])
        first = "—"
        if name != "ours" and not outcomes[name].error:
            first = "yes" if int(outcomes[name].result[0]) == ours_first else "no"
        rows.append(
            [
                name,
                fmt_seconds(value),
                fmt_ratio(value, ours_s) if name != "ours" else "1x",
                fmt_bytes(memory.get(name)),
                first,
            ]
        )
    slowdown = best(outcomes[ours_label])
    if isinstance(slowdown, float) and slowdown > 2 * ours_s:
        report.problems.append(
            f"BADGE: with {os.cpu_count()} BLAS threads our query takes {slowdown / ours_s:.1f}x "
            "as long as with 1: each D² step is two small GEMVs (residual @ r_j, hidden @ h_j) "
            "that a threaded OpenBLAS runs slower on a busy machine."
        )
    skal_s = best(outcomes.get("skactiveml"))
    speedup = skal_s / ours_s if isinstance(skal_s, float) else None
    report.goals.append(
        f"{verdict(None if speedup is None else speedup >= GOAL_BADGE_SPEEDUP)}  BADGE >= "
        f"{GOAL_BADGE_SPEEDUP:g}x faster than scikit-activeml: "
        + (f"{speedup:.2f}x" if speedup is not None else str(skal_s))
    )
    return "\n".join(
        [
            f"## BADGE: {n:,} x {d}, {classes} classes, LogisticRegression on {m} labeled, "
            f"k = {K}\n",
            markdown_table(
                ["who", "time", "x ours", "peak memory", "same first pick"], rows, right=[1, 2, 3]
            ),
            f"\nscikit-activeml builds the (n, C·(d+1)) gradient embeddings: "
            f"{n * classes * (d + 1) * 8 / 1e6:.0f} MB in float64; ours keeps the factors "
            f"(n, C) and (n, d+1).",
        ]
    )


# --------------------------------------------------------------------------- density


def density_section(peers: dict[str, Any], sizes: Sizes, report: Report) -> str:
    """Information density: our densities and strategy against modAL's."""
    n, d, m = sizes.density_n, sizes.density_d, sizes.density_labeled
    X, y = make_classification(
        n_samples=m + n,
        n_features=d,
        n_informative=10,
        n_redundant=5,
        n_classes=10,
        n_clusters_per_class=1,
        random_state=SEED,
    )
    X_lab, y_lab, X_pool = X[:m], y[:m], X[m:]
    model = LogisticRegression(max_iter=1000).fit(X_lab, y_lab)
    euclidean = strategies.get("information_density", metric="euclidean")
    cosine = strategies.get("information_density")
    modal = peers["modAL"]

    density_calls: dict[str, Callable[[], Any]] = {
        "ours density (euclidean)": lambda: density(X_pool, "euclidean"),
        "ours density (cosine)": lambda: density(X_pool, "cosine"),
    }
    query_calls: dict[str, Callable[[], Any]] = {
        "ours query (euclidean)": lambda: euclidean.query(model, X_pool, K, random_state=SEED),
        "ours query (cosine)": lambda: cosine.query(model, X_pool, K, random_state=SEED),
    }
    if modal is not None:
        density_calls["modAL information_density (euclidean)"] = lambda: modal[
            "information_density"
        ](X_pool, "euclidean")

        def modal_query() -> Any:
            utility = modal["classifier_entropy"](model, X_pool) * modal["information_density"](
                X_pool, "euclidean"
            )
            return modal["multi_argmax"](utility, n_instances=K)

        query_calls["modAL entropy x information_density"] = modal_query
    outcomes = race({**density_calls, **query_calls}, min_repeats=3, budget_s=4.0)
    for name, outcome in outcomes.items():
        if outcome.error and name.startswith("ours"):
            raise RuntimeError(f"information density: {name} failed: {outcome.error}")
    every_call = {**density_calls, **query_calls}
    memory = {name: float(peak_extra_bytes(fn)[0]) for name, fn in every_call.items()}

    equal_note = "modAL not installed"
    if modal is not None and not outcomes["modAL information_density (euclidean)"].error:
        difference = float(
            np.max(
                np.abs(
                    outcomes["ours density (euclidean)"].result
                    - outcomes["modAL information_density (euclidean)"].result
                )
            )
        )
        equal_note = f"max |ours − modAL| = {difference:.2e}"
        report.goals.append(
            f"{verdict(difference <= 1e-6)}  euclidean density equals modAL's to 1e-6: "
            f"{difference:.2e}"
        )

    rows = []
    base_density = outcomes["ours density (euclidean)"].best
    base_query = outcomes["ours query (euclidean)"].best
    ours_query_set = as_index_set(outcomes["ours query (euclidean)"].result)
    for group, calls, base in (
        ("density", density_calls, base_density),
        ("query", query_calls, base_query),
    ):
        for name in calls:
            value = best(outcomes[name])
            same = "—"
            if name == "ours query (cosine)":
                same = "n/a (other similarity)"
            elif group == "query" and name != "ours query (euclidean)":
                if not outcomes[name].error:
                    same = "yes" if as_index_set(outcomes[name].result) == ours_query_set else "no"
            rows.append(
                [
                    group,
                    name,
                    fmt_seconds(value),
                    fmt_ratio(value, base),
                    fmt_bytes(memory.get(name)),
                    same,
                ]
            )
        if modal is None:
            rows.append([group, "modAL", NOT_INSTALLED, "—", "—", "—"])

    if modal is not None:
        for label, ours_name, peer_name in (
            (
                "density (euclidean)",
                "ours density (euclidean)",
                "modAL information_density (euclidean)",
            ),
            ("query (euclidean)", "ours query (euclidean)", "modAL entropy x information_density"),
            (
                "query (cosine) vs modAL euclidean",
                "ours query (cosine)",
                "modAL entropy x information_density",
            ),
        ):
            peer_s, ours_s = best(outcomes[peer_name]), best(outcomes[ours_name])
            if isinstance(peer_s, float) and isinstance(ours_s, float):
                report.goals.append(
                    f"{verdict(peer_s / ours_s >= GOAL_DENSITY_SPEEDUP)}  information density "
                    f">= {GOAL_DENSITY_SPEEDUP:g}x faster than modAL, {label}: "
                    f"{peer_s / ours_s:.2f}x"
                )
    return "\n".join(
        [
            f"## information density: {n:,} x {d}, entropy x density, k = {K}\n",
            markdown_table(
                ["what", "who", "time", "x ours euclidean", "peak memory", "same set as ours"],
                rows,
                right=[2, 3, 4],
            ),
            f"\n{equal_note}. modAL's information_density builds the N x N distance matrix "
            f"and its 1/(1+D) copy: {2 * n * n * 8 / 1e6:,.0f} MB in float64. "
            "The cosine rows compute a different similarity (mean cosine to the pool, "
            "O(N·d)); 'same set' compares each query with our euclidean query.",
        ]
    )


# --------------------------------------------------------------------------- scaling


def scaling_section(sizes: Sizes, full: bool, report: Report) -> str:
    """Time against N for k-center greedy and the densities, beside the memory floors."""
    rng = np.random.default_rng(SEED)
    d = sizes.scaling_d
    floor_of = {
        "k_center_greedy": "floor: k x emb @ v",
        "k_center_greedy, 1 thread": "floor: k x emb @ v",
        "density cosine": "floor: 1 x emb @ v",
    }
    results: dict[str, dict[int, float]] = {
        name: {} for name in ("floor: k x emb @ v", "floor: 1 x emb @ v", *floor_of)
    }

    def one_thread(emb: np.ndarray) -> np.ndarray:
        """k-center greedy with ACTIVELAB_NUM_THREADS=1 (read at every call)."""
        saved = os.environ.get("ACTIVELAB_NUM_THREADS")
        os.environ["ACTIVELAB_NUM_THREADS"] = "1"
        try:
            return select.k_center_greedy(emb, K, random_state=SEED)
        finally:
            if saved is None:
                del os.environ["ACTIVELAB_NUM_THREADS"]
            else:
                os.environ["ACTIVELAB_NUM_THREADS"] = saved

    scaling_n = list(sizes.scaling_n) + ([3 * sizes.scaling_n[-1]] if full else [])
    for n in scaling_n:
        emb = rng.standard_normal((n, d), dtype=np.float32)
        centres = rng.integers(n, size=K)
        big = n >= 1_000_000
        outcomes = race(
            {
                "floor: k x emb @ v": lambda emb=emb, centres=centres: [
                    emb @ emb[centre] for centre in centres
                ],
                "floor: 1 x emb @ v": lambda emb=emb: emb @ emb[0],
                "k_center_greedy": lambda emb=emb: select.k_center_greedy(
                    emb, K, random_state=SEED
                ),
                "k_center_greedy, 1 thread": lambda emb=emb: one_thread(emb),
                "density cosine": lambda emb=emb: density(emb, "cosine"),
            },
            min_repeats=2 if big else 3,
            max_repeats=2 if big else 20,
            budget_s=2.0,
        )
        for name, outcome in outcomes.items():
            if outcome.error:
                raise RuntimeError(f"scaling {name} N={n}: {outcome.error}")
            results[name][n] = outcome.best  # type: ignore[assignment]
        del emb
    euclid_n = list(sizes.euclid_n)
    if full and sizes.euclid_extrapolate:
        euclid_n.append(sizes.euclid_extrapolate)
    results["density euclidean, n_neighbors=10"] = {}
    for n in euclid_n:
        emb = rng.standard_normal((n, d), dtype=np.float32)
        outcome = race(
            {"e": lambda emb=emb: density(emb, "euclidean", n_neighbors=10)},
            min_repeats=1 if n >= 100_000 else 3,
            max_repeats=1 if n >= 100_000 else 20,
            budget_s=2.0,
        )["e"]
        if outcome.error:
            raise RuntimeError(f"scaling euclidean density N={n}: {outcome.error}")
        results["density euclidean, n_neighbors=10"][n] = outcome.best  # type: ignore[assignment]

    rows: list[list[str]] = []
    for name, by_n in results.items():
        floor = results.get(floor_of.get(name, ""), {})
        previous: tuple[int, float] | None = None
        for n, seconds in sorted(by_n.items()):
            ratio = "—"
            if previous is not None:
                ratio = f"{seconds / previous[1]:.3g} (N x{n / previous[0]:.3g})"
            rows.append(
                [
                    name,
                    f"{n:,}",
                    fmt_seconds(seconds),
                    f"{seconds / n * 1e9:.3g}",
                    ratio,
                    fmt_ratio(seconds, floor.get(n)),
                ]
            )
            previous = (n, seconds)
        if name.startswith("density euclidean") and not full:
            target = sizes.euclid_extrapolate
            if target and previous is not None:
                estimate = previous[1] * (target / previous[0]) ** 2
                rows.append(
                    [name, f"{target:,}", f"est. {fmt_seconds(estimate)}", "—", "O(N²)", "—"]
                )
    for name, floor_name in floor_of.items():
        by_n, floor = results[name], results[floor_name]
        ns = sorted(by_n)
        steps = [(by_n[b] / by_n[a], floor[b] / floor[a], b) for a, b in itertools.pairwise(ns)]
        worst = max(steps, key=lambda step: step[0] / step[1])
        report.goals.append(
            f"{verdict(worst[0] / worst[1] <= GOAL_LINEAR_VS_FLOOR)}  {name} grows like its "
            f"floor (linear): worst step to N={worst[2]:,}: x{worst[0]:.2f} against the "
            f"floor's x{worst[1]:.2f} (goal: at most {GOAL_LINEAR_VS_FLOOR:g} times the "
            "floor's growth)"
        )
    return "\n".join(
        [
            f"## scaling: N x {d} float32 Gaussian, k = {K}\n",
            markdown_table(
                ["method", "N", "time", "ns per item", "t(N)/t(prev N)", "x floor"],
                rows,
                right=[1, 2, 3, 5],
            ),
            "\nThe floors are passes over the embeddings (BLAS GEMV): their time per item "
            "rises once the array outgrows the CPU caches, so growth is judged against "
            "theirs. k_center_greedy splits the pool over threads only from 2 x 65,536 rows "
            "(activelab._parallel.MIN_ROWS_PER_THREAD); the 1-thread rows isolate the growth "
            "in N. The exact euclidean density (with or without n_neighbors) is O(N²·d): "
            "every item's distances to the whole pool; n_neighbors only changes which of "
            "them are averaged.",
        ]
    )


def main() -> int:
    """Run the benchmark, print the tables and the goal summary; exit status 1 on problems."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="sizes about 10x smaller")
    parser.add_argument(
        "--full",
        action="store_true",
        help="also run the O(N²) euclidean density at 100k and the scaling at 3M",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads for everyone (default 1, see the module docstring)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    for line in machine_lines(
        (
            "numpy",
            "numba",
            "scikit-learn",
            "activelab",
            "scikit-activeml",
            "small-text",
            "alipy",
            "modAL-python",
        )
    ):
        print(line)
    print(
        f"mode: {'quick' if args.quick else 'full' if args.full else 'default'} | "
        f"BLAS threads {args.blas_threads}\n"
    )
    peers = load_peers()
    select.k_center_greedy(np.ones((4, 2), dtype=np.float32), 2, random_state=0)  # compile
    report = Report()
    with threadpool_limits(limits=args.blas_threads):
        for section in (
            lambda: coreset_section(peers, sizes, report),
            lambda: badge_section(peers, sizes, report),
            lambda: density_section(peers, sizes, report),
            lambda: scaling_section(sizes, args.full, report),
        ):
            print(section(), end="\n\n", flush=True)
    print("## goals\n")
    for line in report.goals:
        print(line)
    for problem in dict.fromkeys(report.problems):
        print(f"problem: {problem}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
