"""BatchBALD: activelab against batchbald-redux, scikit-activeml and Baal, on identical inputs.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_batchbald.py`` from the repository root
(``--quick`` runs a 2,000-item pool instead of 10,000, for a smoke test). The peers are
optional: a peer that is not importable gets "not installed" in its cells and the rest
still runs. No data is downloaded. The full run takes 3 to 10 minutes on a loaded 2-core
machine, nearly all of it batchbald-redux's.

What it measures
----------------
Seeded posterior draws: ``M = 20`` members for a pool of ``N = 10_000`` items and
``C = 10`` classes. Each item gets a mean from a flat Dirichlet and each member a
Dirichlet draw around it (``Dirichlet(5 * mean + 0.05)``), so members disagree and no two
gains tie. Every library picks a BatchBALD batch from the same array:

``redux``
    ``batchbald_redux.batchbald.get_batchbald_batch(log_probs, k, num_samples)`` on the
    log-probabilities as a float64 torch tensor (its tables are float32, as by default).
    It enumerates configurations exactly while ``C**b <= num_samples`` and samples
    ``num_samples`` of them beyond, as ours does with ``n_joint_samples``: with
    ``10_000`` both are exact for the first 5 picks (``10**4`` configurations) and
    sample for picks 6 to 10. Compared on the full pool, ``k = 10``.
``skactiveml``
    ``skactiveml.pool.batch_bald(probas, k, n_MC_samples)`` (the function behind
    ``skactiveml.pool.BatchBALD``, without the classifier round trip); picks are the
    argmax of each row of its utilities. It is redux's algorithm in numpy, but it scores
    every candidate at once: an ``(N, 10**4, C)`` float64 array (8 GB, three times over,
    at ``N = 10_000``). So it runs on the first 1,000 items with ``n_MC_samples =
    10_000`` and ``k = 5`` (all exact), and on the full pool with its default
    ``n_MC_samples`` (= the number of members, 20: exact for 2 picks, then 20 sampled
    configurations), against ours with the same settings.
``baal``
    ``baal.active.heuristics.BatchBALD(num_samples=k, num_draw=50)`` on the
    ``(N, C, M)`` array; its batch is the top ``k`` of the ranking it returns. Baal always
    samples (``num_draw`` configurations per member, ``M * num_draw`` in all, redrawn
    each step), even where exact enumeration is cheap, and scores every candidate at once
    (``(N, M * num_draw, C)`` float64): its default ``num_draw = 500`` would need 8 GB
    here, so it runs with ``num_draw = 50`` (1,000 configurations) against ours with
    ``n_joint_samples = 1_000``.

Columns
-------
``ours s``, ``peer s``
    Best wall time in seconds over up to ``MAX_REPEATS`` runs (a call stops repeating
    once its runs took ``CALL_BUDGET_S``). Ours runs once beforehand on a small input so
    that the numba kernels are compiled or loaded from cache.
``peer/ours``
    Above 1 means we are faster.
``ours cpu s``, ``peer cpu s``, ``cpu peer/ours``
    Process CPU time of the same runs (best), all threads together: the work done, which
    load from other processes disturbs less than wall time.
``exact picks``
    How many leading picks both libraries computed exactly, and whether they are
    identical, in order (``5/5 same``). A dash where the peer samples from the second
    pick (Baal).
``overlap``
    Items in both batches, out of ``k`` (sampled picks may differ: the estimates differ).

Threads: ours uses ``ACTIVELAB_NUM_THREADS`` (default the CPU count) and one BLAS
thread; torch and numpy use their defaults. Timings are only meaningful on an otherwise
idle machine: the header prints the load average. The script exits with status 1 when an
exact prefix differs from ours or a peer call fails, after printing everything.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TQDM_DISABLE", "1")  # batchbald-redux draws progress bars

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import NOT_INSTALLED, import_module, machine_lines, missing_activelab

try:
    try:
        from activelab.select import batchbald_greedy
    except ImportError:  # before activelab.select re-exports it
        from activelab._batchbald import batchbald_greedy
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0
N_POOL, N_MEMBERS, N_CLASSES = 10_000, 20, 10
N_POOL_QUICK = 2_000
K = 10
N_JOINT = 10_000
SKAL_POOL, SKAL_K = 1_000, 5
BAAL_DRAWS = 50
MAX_REPEATS = 3
CALL_BUDGET_S = 30.0
GOAL_SPEEDUP = 5.0  # at least this many times faster than each peer


def posterior_draws(n: int, m: int = N_MEMBERS, c: int = N_CLASSES) -> np.ndarray:
    """Seeded ``(m, n, c)`` member probabilities that disagree around a mean per item."""
    rng = np.random.default_rng(SEED)
    mean = rng.dirichlet(np.ones(c), size=n)
    draws = rng.gamma(mean[None] * 5.0 + 0.05, size=(m, n, c))
    return draws / draws.sum(axis=2, keepdims=True)


@dataclass
class Row:
    """One line of the table: a peer against ours on one setting."""

    peer: str
    setting: str
    k: int
    ours_s: float | None = None
    peer_s: float | str | None = None
    ours_cpu: float | None = None
    peer_cpu: float | None = None
    exact: str = "—"
    overlap: str = "—"
    problems: list[str] = field(default_factory=list)


def best_time(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Best wall and CPU time (s) of ``fn`` and its last result: up to MAX_REPEATS runs.

    CPU time is the process's, all threads together: on a loaded machine it says more
    about the work done than wall time does.
    """
    walls: list[float] = []
    cpus: list[float] = []
    result = None
    gc.collect()
    while len(walls) < MAX_REPEATS and sum(walls) < CALL_BUDGET_S:
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def compare(row: Row, ours: np.ndarray, theirs: list[int], n_exact: int | None) -> None:
    """Fill the agreement cells: the exact prefix in order, and the overlap of the batch."""
    theirs = [int(i) for i in theirs]
    if n_exact:
        same = ours[:n_exact].tolist() == theirs[:n_exact]
        row.exact = f"{n_exact}/{n_exact} {'same' if same else 'DIFFERENT'}"
        if not same:
            row.problems.append(
                f"{row.peer} {row.setting}: exact picks differ: ours {ours[:n_exact].tolist()} "
                f"theirs {theirs[:n_exact]}"
            )
    row.overlap = f"{len(set(ours.tolist()) & set(theirs))}/{row.k}"


def exact_picks(n_classes: int, budget: int, k: int) -> int:
    """Leading picks made with exact joint entropies when ``C**b <= budget`` (b chosen)."""
    picks = 0
    while picks < k and n_classes**picks <= budget:
        picks += 1
    return picks


def run_ours(row: Row, samples: np.ndarray, k: int, n_joint: int) -> np.ndarray:
    """Time our selector for ``row`` and return its batch."""
    row.ours_s, row.ours_cpu, picks = best_time(
        lambda: batchbald_greedy(samples, k, n_joint, random_state=SEED)
    )
    return picks


def time_peer(row: Row, name: str, call: Callable[[], list[int]]) -> list[int] | None:
    """Time a peer's call into ``row``; its batch, or None once its error is recorded."""
    try:
        row.peer_s, row.peer_cpu, theirs = best_time(call)
    except Exception as error:  # a peer's API changed: report it, keep going
        row.peer_s = f"error: {type(error).__name__}"
        row.problems.append(f"{name} failed: {error}")
        return None
    return theirs


def bench_redux(samples: np.ndarray, rows: list[Row]) -> None:
    row = Row("batchbald-redux", f"N={samples.shape[1]:,}, num_samples={N_JOINT:,}", K)
    rows.append(row)
    redux, torch = import_module("batchbald_redux.batchbald"), import_module("torch")
    ours = run_ours(row, samples, K, N_JOINT)
    if redux is None or torch is None:
        row.peer_s = NOT_INSTALLED
        return
    log_probs = torch.from_numpy(np.log(samples.transpose(1, 0, 2)).copy())

    def call() -> list[int]:
        torch.manual_seed(SEED)
        return redux.get_batchbald_batch(log_probs, K, N_JOINT).indices

    theirs = time_peer(row, "batchbald-redux", call)
    if theirs is None:
        return
    compare(row, ours, theirs, exact_picks(N_CLASSES, N_JOINT, K))


def bench_skactiveml(samples: np.ndarray, rows: list[Row]) -> None:
    pool = import_module("skactiveml.pool")
    settings = [
        (samples[:, :SKAL_POOL], SKAL_K, N_JOINT, f"N={SKAL_POOL:,}, n_MC_samples={N_JOINT:,}"),
        (samples, K, N_MEMBERS, f"N={samples.shape[1]:,}, n_MC_samples={N_MEMBERS} (default)"),
    ]
    for data, k, n_joint, setting in settings:
        data = np.ascontiguousarray(data)
        row = Row("scikit-activeml", setting, k)
        rows.append(row)
        ours = run_ours(row, data, k, n_joint)
        if pool is None:
            row.peer_s = NOT_INSTALLED
            continue

        def call(data=data, k=k, n_joint=n_joint) -> list[int]:
            # batch_bald clips its input in place: give it a copy.
            utilities = pool.batch_bald(data.copy(), k, n_MC_samples=n_joint, random_state=SEED)
            return [int(np.nanargmax(step)) for step in utilities]

        theirs = time_peer(row, "scikit-activeml", call)
        if theirs is None:
            continue
        compare(row, ours, theirs, exact_picks(N_CLASSES, n_joint, k))


def bench_baal(samples: np.ndarray, rows: list[Row]) -> None:
    n_joint = N_MEMBERS * BAAL_DRAWS
    row = Row("baal", f"N={samples.shape[1]:,}, num_draw={BAAL_DRAWS} ({n_joint:,} draws)", K)
    rows.append(row)
    heuristics, torch = import_module("baal.active.heuristics"), import_module("torch")
    ours = run_ours(row, samples, K, n_joint)
    if heuristics is None or torch is None:
        row.peer_s = NOT_INSTALLED
        return
    predictions = np.ascontiguousarray(samples.transpose(1, 2, 0))  # (N, C, M)

    def call() -> list[int]:
        torch.manual_seed(SEED)
        ranks = heuristics.BatchBALD(num_samples=K, num_draw=BAAL_DRAWS)(predictions)
        return [int(i) for i in ranks[:K]]

    theirs = time_peer(row, "baal", call)
    if theirs is None:
        return
    compare(row, ours, theirs, None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"pool of {N_POOL_QUICK:,}")
    args = parser.parse_args()
    console = Console(width=200)
    n_pool = N_POOL_QUICK if args.quick else N_POOL
    samples = posterior_draws(n_pool)
    console.print(f"BatchBALD: pool {n_pool:,} x {N_MEMBERS} members x {N_CLASSES} classes, k={K}")
    for line in machine_lines(
        (
            "activelab",
            "numpy",
            "numba",
            "torch",
            "batchbald_redux",
            "scikit-activeml",
            "baal",
        )
    ):
        console.print(line, markup=False, highlight=False)
    batchbald_greedy(posterior_draws(50), 3, random_state=SEED)  # compile or load kernels
    rows: list[Row] = []
    for bench in (bench_redux, bench_skactiveml, bench_baal):
        bench(samples, rows)
        console.print(f"  done: {rows[-1].peer}")

    table = Table(title="BatchBALD: seconds (best of up to 3), same seed and input")
    columns = ("peer", "setting", "k", "ours s", "peer s", "peer/ours", "ours cpu s")
    for column in (*columns, "peer cpu s", "cpu peer/ours", "exact picks", "overlap"):
        table.add_column(column, justify="left" if column in ("peer", "setting") else "right")
    problems: list[str] = []
    speedups: list[tuple[str, float]] = []
    for row in rows:
        ratio = cpu_ratio = peer_cpu = "—"
        if isinstance(row.peer_s, float) and row.ours_s and row.ours_cpu and row.peer_cpu:
            speedups.append((f"{row.peer} ({row.setting})", row.peer_s / row.ours_s))
            ratio = f"{row.peer_s / row.ours_s:.1f}x"
            cpu_ratio = f"{row.peer_cpu / row.ours_cpu:.1f}x"
            peer_cpu = f"{row.peer_cpu:.2f}"
        peer = f"{row.peer_s:.2f}" if isinstance(row.peer_s, float) else str(row.peer_s)
        table.add_row(
            row.peer,
            row.setting,
            str(row.k),
            f"{row.ours_s:.2f}",
            peer,
            ratio,
            f"{row.ours_cpu:.2f}",
            peer_cpu,
            cpu_ratio,
            row.exact,
            row.overlap,
        )
        problems.extend(row.problems)
    console.print(table)
    for name, speedup in speedups:
        verdict = "met" if speedup >= GOAL_SPEEDUP else "NOT met"
        console.print(f"goal ≥{GOAL_SPEEDUP:.0f}x vs {name}: {speedup:.1f}x — {verdict}")
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
