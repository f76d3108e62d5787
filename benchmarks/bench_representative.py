"""Representative strategies: activelab against scikit-activeml and small-text, same inputs.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_representative.py`` from the repository root.
The peers are optional: one that is not importable gets "not installed" in its cells and
the rest still runs. No data is downloaded. scikit-activeml's MaxHerding alone takes one
to two minutes (a dense ``N × N`` kernel, recomputed per pick); the whole run takes about
three minutes on a 2-core machine.

Everything runs on one BLAS/OpenMP thread (``threadpool_limits(1)``): our kernels are
serial, and on a small shared machine multi-threaded BLAS makes timings swing at random.
Timings are only meaningful on an otherwise idle machine: the header prints the load
average before the run.

What it measures
----------------
A seeded ``10_000 x 128`` float32 pool of 20 Gaussian blobs (``make_blobs``,
``cluster_std=2``), no labels (cold start), a batch of ``K = 100``.

``typiclust``
    ``end to end``: ours ``TypiClust()`` (our k-means, K = 20 neighbours) against
    scikit-activeml ``TypiClust(k=20)`` (scikit-learn KMeans). The two k-means runs draw
    different random seeds, so the picks are not compared. ``same clusters``: both
    select from our k-means clustering (handed to scikit-activeml as its
    ``cluster_algo``); ours times only the selection step, and the picks are compared as
    sets.
``probcover``
    ``δ given``: both with the δ our purity rule chooses. Coverage gains are integers
    and tie often, and each library breaks ties at random, so besides the set of picks we
    check that both sequences are greedy covers with the same gain at every step
    (recomputed with scikit-learn's ``radius_neighbors_graph``). ``δ by purity``: ours
    chooses δ exactly; scikit-activeml searches its default-sized grid of 10 values,
    rescaled to this data (its default grid, 0.2 … 2.0, suits unit-norm embeddings).
``maxherding``
    Ours ``MaxHerding()`` against scikit-activeml ``MaxHerding()`` (both: unit-normalised
    embeddings, RBF kernel with γ = 1/d); picks compared in order.
``kmeans``
    Ours ``KMeansSampling()`` against small-text ``EmbeddingKMeans(normalize=False)``
    (scikit-learn KMeans, then the item of highest cosine similarity to each centre: a
    different definition, so picks are not compared). ``clustering only`` compares our
    k-means with ``sklearn.cluster.KMeans(n_init=1)`` and reports the inertia ratio.

Columns
-------
``ours ms`` and ``peer ms``: best wall time (``time.perf_counter``) of interleaved runs
after a warm-up; a call whose warm-up takes over ``SLOW_S`` seconds is timed once, by
its warm-up. ``peer/ours`` above 1 means we are faster. ``ours peak MiB``: peak memory
our call allocates (tracemalloc, a separate run). ``same picks`` is "—" where the
definitions differ. The script exits with status 1 when a comparison that must agree
does not, or a call fails, after printing everything.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    NOT_INSTALLED,
    Outcome,
    as_index_set,
    import_attrs,
    machine_lines,
    missing_activelab,
    peak_extra_bytes,
    race,
)

try:
    from activelab import _distances
    from activelab._kmeans import kmeans
    from activelab.models import Features
    from activelab.strategies import KMeansSampling, MaxHerding, ProbCover, TypiClust
    from activelab.strategies._base import embeddings
    from activelab.strategies._probcover import _purity_delta
    from activelab.strategies._typiclust import _typiclust_picks
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0
N, D, N_BLOBS, K = 10_000, 128, 20, 100
N_NEIGHBORS = 20  # TypiClust's K, the paper's value
MAX_REPEATS = 10
MIN_REPEATS = 3
CELL_BUDGET_S = 3.0  # a call stops repeating once its timed runs took this long in all
SLOW_S = 10.0  # a warm-up longer than this is the measurement
GOAL_SPEEDUP = 3.0


@dataclass
class Row:
    """One line of the table."""

    strategy: str
    what: str
    ours: Outcome
    peer: str
    theirs: Outcome | None  # None: the peer is not installed
    same: str
    peak_mib: float | None = None
    must_agree: bool = False


def race_calls(calls: dict[str, Callable[[], Any]]) -> dict[str, Outcome]:
    """Time calls under the same conditions: warm-up each, then take turns; best time.

    A call whose warm-up takes ``SLOW_S`` seconds or more is timed by its warm-up alone.
    """
    return race(
        calls,
        min_repeats=MIN_REPEATS,
        max_repeats=MAX_REPEATS,
        budget_s=CELL_BUDGET_S,
        slow_s=SLOW_S,
        error_chars=70,
    )


def peak_mib(fn: Callable[[], Any]) -> float:
    """Peak memory ``fn`` allocates above what was live when it started, in MiB."""
    return peak_extra_bytes(fn)[0] / 2**20


class GivenClustering:
    """A stand-in clusterer for scikit-activeml's ``cluster_algo``: returns fixed labels."""

    labels: np.ndarray | None = None

    def __init__(self, n_clusters: int | None = None, random_state: Any = None) -> None:
        """Accept the parameters scikit-activeml passes; nothing to store."""
        self.n_clusters = n_clusters

    def fit_predict(self, X: Any) -> np.ndarray:
        """The labels set on the class before the query."""
        assert GivenClustering.labels is not None
        return GivenClustering.labels


def cover_trace(graph: Any, picks: np.ndarray) -> list[tuple[int, int]]:
    """Per pick: its coverage gain and the best gain of any item (``graph``: adjacency)."""
    uncovered = np.ones(graph.shape[0], dtype=np.float64)
    trace = []
    for pick in picks:
        gains = graph @ uncovered
        trace.append((int(gains[pick]), int(gains.max())))
        uncovered[graph[pick].indices] = 0.0
    return trace


def same_cover(graph: Any, ours: np.ndarray, theirs: np.ndarray) -> str:
    """ "yes" when both are greedy covers with equal gains at every step."""
    mine, peer = cover_trace(graph, ours), cover_trace(graph, theirs)
    greedy = all(a == b for a, b in mine) and all(a == b for a, b in peer)
    equal = [a for a, _ in mine] == [a for a, _ in peer]
    return "yes" if greedy and equal else "no"


def typiclust_rows(X: np.ndarray, skal: dict[str, Any] | None) -> list[Row]:
    missing = np.full(N, np.nan)
    ours = TypiClust(n_neighbors=N_NEIGHBORS)
    calls = {"ours": lambda: ours.query(None, X, K, random_state=SEED)}
    if skal is not None:
        peer = skal["TypiClust"](random_state=SEED, k=N_NEIGHBORS)
        calls["peer"] = lambda: peer.query(X, missing, batch_size=K)
    outcome = race_calls(calls)
    rows = [
        Row(
            "typiclust",
            "end to end",
            outcome["ours"],
            "skactiveml",
            outcome.get("peer"),
            "—",
            peak_mib(calls["ours"]),
        )
    ]
    # Selection only, from one clustering (ours, exactly as the query above computes it).
    pool, _ = _distances.centred(*embeddings(Features(), X, None, "typiclust", dtype=None))
    clusters = kmeans(pool, K, np.random.default_rng(SEED))
    GivenClustering.labels = clusters.labels
    labeled_counts = np.zeros(K, dtype=np.int64)

    def select() -> np.ndarray:
        rng = np.random.default_rng(SEED)
        return _typiclust_picks(
            pool, clusters.labels, labeled_counts, clusters.mass, K, N_NEIGHBORS, 5, rng
        )

    calls = {"ours": select}
    if skal is not None:
        peer_given = skal["TypiClust"](
            random_state=SEED, k=N_NEIGHBORS, cluster_algo=GivenClustering
        )
        calls["peer"] = lambda: peer_given.query(X, missing, batch_size=K)
    outcome = race_calls(calls)
    same = NOT_INSTALLED
    if skal is not None and outcome["peer"].error is None:
        mine, theirs = as_index_set(outcome["ours"].result), as_index_set(outcome["peer"].result)
        differing = sorted(mine ^ theirs)
        # K = min(20, m // 2) for us, min(20, m - 1) for scikit-activeml: equal above 40.
        small = all(clusters.mass[clusters.labels[i]] <= 2 * N_NEIGHBORS for i in differing)
        where = "all in clusters of ≤ 40, where K differs" if small else "not explained"
        same = "yes" if not differing else f"no: {len(mine - theirs)} of {K}, {where}"
    rows.append(
        Row("typiclust", "same clusters", outcome["ours"], "skactiveml", outcome.get("peer"), same)
    )
    return rows


def probcover_rows(X: np.ndarray, skal: dict[str, Any] | None) -> tuple[list[Row], float]:
    missing = np.full(N, np.nan)
    pool, _ = _distances.centred(*embeddings(Features(), X, None, "probcover", dtype=None))
    rng = np.random.default_rng(SEED)
    delta = _purity_delta(pool, kmeans(pool, 2, rng).labels, 0.95)
    ours_given = ProbCover(delta=delta)
    calls = {"ours": lambda: ours_given.query(None, X, K, random_state=SEED)}
    if skal is not None:
        calls["peer"] = lambda: skal["ProbCover"](random_state=SEED, deltas=[delta]).query(
            X, missing, batch_size=K
        )
    outcome = race_calls(calls)
    same = NOT_INSTALLED
    if skal is not None and outcome["peer"].error is None:
        graph = (
            NearestNeighbors(radius=delta)
            .fit(X.astype(np.float64))
            .radius_neighbors_graph(X.astype(np.float64), mode="connectivity")
            .tocsr()
        )
        ours_picks, peer_picks = outcome["ours"].result, outcome["peer"].result
        cover = same_cover(graph, ours_picks, peer_picks)
        identical = "yes" if as_index_set(ours_picks) == as_index_set(peer_picks) else "no"
        same = f"set: {identical}; cover: {cover}"
    rows = [
        Row(
            "probcover",
            f"δ given ({delta:.1f})",
            outcome["ours"],
            "skactiveml",
            outcome.get("peer"),
            same,
            peak_mib(calls["ours"]),
            must_agree=True,
        )
    ]
    ours_purity = ProbCover()
    calls = {"ours": lambda: ours_purity.query(None, X, K, random_state=SEED)}
    if skal is not None:
        grid = delta * np.arange(0.2, 2.2, 0.2)
        calls["peer"] = lambda: skal["ProbCover"](random_state=SEED, deltas=grid).query(
            X, missing, batch_size=K
        )
    outcome = race_calls(calls)
    rows.append(
        Row("probcover", "δ by purity", outcome["ours"], "skactiveml", outcome.get("peer"), "—")
    )
    return rows, delta


def maxherding_rows(X: np.ndarray, skal: dict[str, Any] | None) -> list[Row]:
    missing = np.full(N, np.nan)
    ours = MaxHerding()
    calls = {"ours": lambda: ours.query(None, X, K, random_state=SEED)}
    if skal is not None:
        calls["peer"] = lambda: skal["MaxHerding"](random_state=SEED).query(
            X, missing, batch_size=K
        )
    outcome = race_calls(calls)
    same = NOT_INSTALLED
    if skal is not None and outcome["peer"].error is None:
        ours_picks, peer_picks = outcome["ours"].result, outcome["peer"].result
        same = "yes (in order)" if np.array_equal(ours_picks, peer_picks) else "no"
        if same == "no" and as_index_set(ours_picks) == as_index_set(peer_picks):
            same = "set yes, order no"
    return [
        Row(
            "maxherding",
            "end to end",
            outcome["ours"],
            "skactiveml",
            outcome.get("peer"),
            same,
            peak_mib(calls["ours"]),
            must_agree=True,
        )
    ]


def kmeans_rows(X: np.ndarray, small_text: dict[str, Any] | None) -> list[Row]:
    ours = KMeansSampling()
    calls = {"ours": lambda: ours.query(None, X, K, random_state=SEED)}
    if small_text is not None:
        peer = small_text["EmbeddingKMeans"](normalize=False)
        unlabeled, none = np.arange(N), np.empty(0, dtype=np.int64)

        def peer_call() -> np.ndarray:
            # Its KMeans takes no seed; it draws from numpy's global generator.
            np.random.seed(SEED)  # noqa: NPY002
            return peer.sample(None, None, unlabeled, none, none, K, X)

        calls["peer"] = peer_call
    outcome = race_calls(calls)
    rows = [
        Row(
            "kmeans",
            "end to end",
            outcome["ours"],
            "small-text",
            outcome.get("peer"),
            "—",
            peak_mib(calls["ours"]),
        )
    ]
    pool, _ = _distances.centred(*embeddings(Features(), X, None, "kmeans", dtype=None))
    calls = {
        "ours": lambda: kmeans(pool, K, np.random.default_rng(SEED)),
        "peer": lambda: KMeans(K, n_init=1, random_state=SEED).fit(pool),
    }
    outcome = race_calls(calls)
    ratio = (
        float(outcome["ours"].result.sq_dist.sum(dtype=np.float64))
        / outcome["peer"].result.inertia_
    )
    rows.append(
        Row(
            "kmeans",
            "clustering only",
            outcome["ours"],
            "scikit-learn",
            outcome["peer"],
            f"— (inertia ours/theirs {ratio:.4f})",
        )
    )
    return rows


def cell(outcome: Outcome | None) -> str:
    if outcome is None:
        return NOT_INSTALLED
    if outcome.error:
        return outcome.error
    return f"{outcome.ms:,.0f}"


def main() -> int:
    console = Console(width=160)
    console.print(
        f"[bold]Representative strategies[/] — {N:,} x {D} float32 blobs, k={K}, one thread"
    )
    for line in machine_lines(
        (
            "numpy",
            "scikit-learn",
            "activelab",
            "scikit-activeml",
            "small-text",
        )
    ):
        console.print(line, markup=False, highlight=False)
    X, _ = make_blobs(
        n_samples=N, n_features=D, centers=N_BLOBS, cluster_std=2.0, random_state=SEED
    )
    X = X.astype(np.float32)
    # scikit-activeml warns when a one-value δ grid leaves its purity search nothing to do.
    warnings.filterwarnings("ignore", message="The maximum purity", category=UserWarning)
    skal = import_attrs("skactiveml.pool", "TypiClust", "ProbCover", "MaxHerding")
    small_text = import_attrs("small_text.query_strategies", "EmbeddingKMeans")
    with threadpool_limits(1):
        rows = typiclust_rows(X, skal)
        probcover, delta = probcover_rows(X, skal)
        rows += probcover
        rows += maxherding_rows(X, skal)
        rows += kmeans_rows(X, small_text)
    table = Table(show_lines=False)
    for column in (
        "strategy",
        "what",
        "ours ms",
        "peer",
        "peer ms",
        "peer/ours",
        "ours peak MiB",
        "same picks",
    ):
        table.add_column(column, justify="right" if "ms" in column or "/" in column else "left")
    failed = False
    speedups: list[tuple[str, float]] = []
    for row in rows:
        ratio = "—"
        if row.theirs is not None and row.theirs.ms is not None and row.ours.ms:
            value = row.theirs.ms / row.ours.ms
            ratio = f"{value:.1f}x"
            if row.what in ("end to end", "δ by purity") and row.peer == "skactiveml":
                speedups.append((f"{row.strategy} ({row.what})", value))
        if row.ours.error or (row.theirs is not None and row.theirs.error):
            failed = True
        if row.must_agree and ("no" in row.same.replace("set: no", "")):
            failed = True
        peak = "—" if row.peak_mib is None else f"{row.peak_mib:,.0f}"
        table.add_row(
            row.strategy,
            row.what,
            cell(row.ours),
            row.peer,
            cell(row.theirs),
            ratio,
            peak,
            row.same,
        )
    console.print(table)
    console.print(f"ProbCover δ (our purity rule, 2 pseudo-classes, α = 0.95): {delta:.3f}")
    if speedups:
        worst = min(value for _, value in speedups)
        verdict = "met" if worst >= GOAL_SPEEDUP else "NOT met"
        listed = ", ".join(f"{name} {value:.1f}x" for name, value in speedups)
        console.print(
            f"Goal ≥ {GOAL_SPEEDUP:.0f}x faster than scikit-activeml: {verdict} ({listed})."
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
