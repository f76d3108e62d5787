"""Scale-out scoring on Dask: rows per second and memory per worker, 1 vs 2 workers.

How to run
----------
From the repository root, in the environment with the ``dask`` extra::

    .venv/bin/python benchmarks/bench_scale.py              # N = 20,000,000 rows × 32
    .venv/bin/python benchmarks/bench_scale.py --n 4000000  # a smaller pool

The pool is generated once as Parquet under ``--dir`` (default: a folder in the system
temporary directory named after N and d; reused by later runs; ``--clean`` removes it
at the end). 20 M × 32 float32 is 2.6 GB on disk. Nothing is downloaded.

What it measures
----------------
Margin sampling of ``k = 1000`` rows from an ``N × 32`` float32 pool with two models
fitted on 5,000 generated rows (3 classes): a LogisticRegression and a small MLP
(``MLPClassifier(hidden_layer_sizes=(64,))``).

``in-memory``
    The single-process numpy path on the largest pool that fits (``--in-memory-rows``,
    default ``min(N, 4,000,000)``): the first rows of the pool read into one array, then
    ``al.strategies.get("margin").query(model, X, k)`` with one BLAS thread and
    ``ACTIVELAB_NUM_THREADS=1`` (one core). Peak memory is the array plus what the query
    allocates (tracemalloc).
``modAL (in-memory)``
    ``modAL.uncertainty.margin_sampling(model, X, n_instances=k)`` on the same array,
    when modAL is importable (it has no out-of-core path).
``in-memory + read``
    The same, with reading the Parquet files into the array counted: what a single
    process pays end to end for a pool that fits.
``activelab.scale``
    :func:`activelab.scale.query` on the Parquet files, on a LocalCluster of 1 and then
    2 worker processes with one thread each; the model is scattered once. One untimed
    warm-up query on one file per cluster (workers import activelab and load the
    compiled kernels). Peak memory per worker is the peak resident set (``VmHWM``,
    reset before each query through ``/proc/self/clear_refs``) of the largest worker,
    with in brackets what it held just before the query (the interpreter, numpy,
    pandas, scikit-learn, numba and distributed: about 350 MB before any data).
``dask.array``
    The stock Dask way, what dask-ml's ``ParallelPostFit`` does: ``read_parquet(...).
    to_dask_array(lengths=True).map_blocks(model.predict_proba)``, the margin with dask
    array operations and ``da.argtopk``, on the same cluster (dask-ml's own wrapper
    when it is installed).

Columns: ``rows/s`` (the pool's rows over the wall time of the query), ``per core``
(rows/s over the cores used), ``per core / in-memory`` (goal: at least 1 / 1.5 =
0.67), ``scaling eff.`` (rows/s with 2 workers over twice the rows/s with 1), ``peak
RSS / worker`` (goal: below 1 GB, bounded by the partition size), ``same top-k``
(whether the picks equal the in-memory path's, up to exact ties; only when the
in-memory pool is the whole pool). Timings on a shared machine are noisy: the header
prints the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("ACTIVELAB_NUM_THREADS", "1")  # the in-memory path: one core

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    NOT_INSTALLED,
    fmt_bytes,
    fmt_ratio,
    import_attrs,
    machine_lines,
    markdown_table,
    missing_activelab,
    peak_extra_bytes,
)

try:
    import activelab as al
    from activelab import scale
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

K = 1000
N_FIT = 5000
N_CLASSES = 3
ROWS_PER_FILE = 1_000_000
ROW_GROUP = 131_072
GOAL_PER_CORE = 1 / 1.5
GOAL_WORKER_BYTES = 1e9
HEADERS = [
    "path",
    "model",
    "cores",
    "rows",
    "seconds",
    "rows/s",
    "per core",
    "per core / in-memory",
    "scaling eff.",
    "peak RSS / worker",
    "same top-k",
]


def make_rows(
    rng: np.random.Generator, n: int, d: int, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32) and string labels of a linear 3-class problem with noise."""
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = np.argmax(X @ weights + rng.normal(scale=2.0, size=(n, N_CLASSES)), axis=1)
    return X, np.array(["alpha", "beta", "gamma"])[y]


def write_pool(folder: Path, n: int, d: int, weights: np.ndarray) -> list[str]:
    """N × d float32 rows as Parquet files of ROWS_PER_FILE rows (reused when present)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    names = [f"x{j}" for j in range(d)]
    paths = []
    for index, start in enumerate(range(0, n, ROWS_PER_FILE)):
        path = folder / f"part-{index:04d}.parquet"
        paths.append(str(path))
        rows = min(ROWS_PER_FILE, n - start)
        if path.exists() and pq.read_metadata(path).num_rows == rows:
            continue
        X, _ = make_rows(np.random.default_rng(1000 + index), rows, d, weights)
        table = pa.table({name: X[:, j] for j, name in enumerate(names)})
        pq.write_table(table, path, row_group_size=ROW_GROUP)
    return paths


def read_rows(paths: list[str], n: int) -> np.ndarray:
    """The first n rows of the pool as one C-ordered float32 array."""
    import pyarrow.parquet as pq

    blocks, have = [], 0
    for path in paths:
        if have >= n:
            break
        table = pq.read_table(path)
        columns = [column.to_numpy() for column in table.columns]
        blocks.append(np.stack(columns).T[: n - have])
        have += blocks[-1].shape[0]
    return np.ascontiguousarray(np.concatenate(blocks))


def fit_models(d: int, weights: np.ndarray, names: list[str]) -> dict[str, Any]:
    """The LogisticRegression and the small MLP, fitted on N_FIT generated rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    X, y = make_rows(np.random.default_rng(7), N_FIT, d, weights)
    made = {
        "logreg": lambda: LogisticRegression(max_iter=500),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=0),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an MLP that stops at max_iter is fine for timing
        return {name: made[name]().fit(X, y) for name in names}


def in_memory(model: Any, X: np.ndarray) -> tuple[float, int, np.ndarray]:
    """Seconds, peak bytes (the array included) and picks of the one-core numpy path."""
    margin = al.strategies.get("margin")
    margin.query(model, X[:100_000], K, random_state=0)  # warm-up: kernels load
    start = time.perf_counter()
    peak, picks = peak_extra_bytes(lambda: margin.query(model, X, K, random_state=0))
    return time.perf_counter() - start, peak + X.nbytes, picks


def modal_in_memory(model: Any, X: np.ndarray) -> float | str:
    """Seconds of modAL's margin_sampling on the same array, or why it did not run."""
    found = import_attrs("modAL.uncertainty", "margin_sampling")
    if found is None:
        return NOT_INSTALLED
    start = time.perf_counter()
    found["margin_sampling"](model, X, n_instances=K)
    return time.perf_counter() - start


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:  # Linux: reset VmHWM
        handle.write("5")


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def _peak_bytes() -> int:
    return _status_bytes("VmHWM")


def _idle_bytes() -> int:
    return _status_bytes("VmRSS")


def worker_memory(client: Any, idle: int) -> str:
    """The largest worker's peak resident set, and what it held before the query."""
    peak = max(client.run(_peak_bytes).values())
    return f"{fmt_bytes(peak)} (idle {idle / 1e6:,.0f})"


def dask_array_peer(client: Any, model: Any, glob: str, columns: list[str]) -> float:
    """Seconds of the stock dask.array path: map_blocks(predict_proba), margin, argtopk."""
    import dask.array as da
    import dask.dataframe as dd

    start = time.perf_counter()
    X = dd.read_parquet(glob, columns=columns).to_dask_array(lengths=True)
    wrapper = import_attrs("dask_ml.wrappers", "ParallelPostFit")
    if wrapper is not None:
        proba = wrapper["ParallelPostFit"](model).predict_proba(X)
    else:
        proba = X.map_blocks(
            model.predict_proba, dtype=np.float64, chunks=(X.chunks[0], (len(model.classes_),))
        )
    top2 = da.topk(proba, 2, axis=1)
    margin = 1.0 - (top2[:, 0] - top2[:, 1])
    client.compute(da.argtopk(margin, K)).result()
    return time.perf_counter() - start


def same_top_k(rows: np.ndarray, expected: np.ndarray, utilities: np.ndarray) -> str:
    """Whether the picks equal the in-memory picks, up to exact ties of the utility."""
    kth = utilities[expected[-1]]
    same = np.array_equal(utilities[rows], utilities[expected]) and set(
        rows[utilities[rows] > kth].tolist()
    ) == set(expected[utilities[expected] > kth].tolist())
    return "yes" if same else "NO"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n > 1 else ''}"


def scaling(first: dict, key: tuple[str, str], n_workers: int, rate: float) -> str:
    """Scaling efficiency: ``rate`` over ``n_workers`` times the one-worker rate."""
    if n_workers == 1:
        first[key] = rate
        return "—"
    return fmt_ratio(rate, n_workers * first[key], ".2f") if key in first else "—"


def rate_row(
    path: str, model: str, cores: int, n: int, seconds: float, base: dict, *rest: str
) -> list[str]:
    """A table row: rows/s, per core, and per core against the in-memory rate of ``model``."""
    rate = n / seconds
    return [
        path,
        model,
        plural(cores, "core"),
        f"{n:,}",
        f"{seconds:.2f}",
        f"{rate:,.0f}",
        f"{rate / cores:,.0f}",
        fmt_ratio(rate / cores, base[model], ".2f"),
        *rest,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000_000, help="rows in the pool")
    parser.add_argument("--d", type=int, default=32, help="features per row")
    parser.add_argument("--workers", default="1,2", help="cluster sizes, comma-separated")
    parser.add_argument("--models", default="logreg,mlp", help="logreg and/or mlp")
    parser.add_argument("--partition-rows", type=int, default=None)
    parser.add_argument("--in-memory-rows", type=int, default=4_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="where the pool is written")
    parser.add_argument("--clean", action="store_true", help="remove the pool at the end")
    parser.add_argument("--no-peer", action="store_true", help="skip the dask.array path")
    args = parser.parse_args()

    import dask
    from distributed import Client
    from threadpoolctl import threadpool_limits

    folder = args.dir or Path(tempfile.gettempdir()) / f"activelab-bench-scale-{args.n}x{args.d}"
    weights = np.random.default_rng(3).normal(size=(args.d, N_CLASSES))
    versions = ["numpy", "scikit-learn", "dask", "distributed", "pyarrow"]
    print("\n".join(machine_lines(versions)))
    started = time.perf_counter()
    paths = write_pool(folder, args.n, args.d, weights)
    glob = str(folder / "part-*.parquet")
    columns = [f"x{j}" for j in range(args.d)]
    print(
        f"pool: {args.n:,} × {args.d} float32 in {len(paths)} Parquet files at {folder} "
        f"(ready in {time.perf_counter() - started:.1f} s)"
    )
    models = fit_models(args.d, weights, args.models.split(","))
    mem_rows = min(args.n, args.in_memory_rows)
    start = time.perf_counter()
    X = read_rows(paths, mem_rows)
    read_seconds = time.perf_counter() - start
    rows: list[list[str]] = []
    base: dict[str, float] = {}
    expected: dict[str, np.ndarray] = {}
    utilities: dict[str, np.ndarray] = {}
    with threadpool_limits(1):
        for name, model in models.items():
            seconds, peak, expected[name] = in_memory(model, X)
            base[name] = mem_rows / seconds
            memory = ("—", fmt_bytes(peak), "—")
            rows.append(rate_row("in-memory numpy", name, 1, mem_rows, seconds, base, *memory))
            total = seconds + read_seconds
            rows.append(rate_row("in-memory + read Parquet", name, 1, mem_rows, total, base))
            peer = modal_in_memory(model, X)
            if isinstance(peer, str):
                rows.append(["modAL margin_sampling", name, "1 core", f"{mem_rows:,}", peer])
            else:
                rows.append(rate_row("modAL margin_sampling", name, 1, mem_rows, peer, base))
            if mem_rows == args.n:
                utilities[name] = al.strategies.get("margin").utilities(model, X)
    del X
    first: dict[tuple[str, str], float] = {}  # rows/s of one worker, per path and model
    for n_workers in [int(w) for w in args.workers.split(",")]:
        # Memory is measured, not managed: no spilling, no pausing.
        no_spill = {
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
        }
        with dask.config.set(no_spill):
            cluster = scale.local_cluster(n_workers, memory_limit=None, dashboard_address=None)
        with cluster, Client(cluster) as client:
            label = plural(n_workers, "worker")
            for name, model in models.items():
                options = {"columns": columns, "partition_rows": args.partition_rows}
                scale.query(model, paths[0], K, "margin", client, **options)  # warm-up
                client.run(_reset_peak)
                idle = max(client.run(_idle_bytes).values())
                start = time.perf_counter()
                picks = scale.query(model, glob, K, "margin", client, random_state=0, **options)
                seconds = time.perf_counter() - start
                memory = worker_memory(client, idle)
                same = "—"
                if name in utilities:
                    same = same_top_k(picks.rows, expected[name], utilities[name])
                efficiency = scaling(first, ("ours", name), n_workers, args.n / seconds)
                rows.append(
                    rate_row(
                        f"activelab.scale ({label})",
                        name,
                        n_workers,
                        args.n,
                        seconds,
                        base,
                        efficiency,
                        memory,
                        same,
                    )
                )
                if args.no_peer:
                    continue
                try:
                    dask_array_peer(client, model, paths[0], columns)  # warm-up
                    client.run(_reset_peak)
                    idle = max(client.run(_idle_bytes).values())
                    seconds = dask_array_peer(client, model, glob, columns)
                    memory = worker_memory(client, idle)
                except Exception as error:  # a Dask version without these paths
                    rows.append([f"dask.array ({label})", name, "", "", f"error: {error}"[:60]])
                    continue
                efficiency = scaling(first, ("dask", name), n_workers, args.n / seconds)
                rows.append(
                    rate_row(
                        f"dask.array map_blocks ({label})",
                        name,
                        n_workers,
                        args.n,
                        seconds,
                        base,
                        efficiency,
                        memory,
                        "—",
                    )
                )
    rows = [row + ["—"] * (len(HEADERS) - len(row)) for row in rows]
    print()
    print(markdown_table(HEADERS, rows, right=[3, 4, 5, 6, 7, 8, 9]))
    whole = "the whole pool" if mem_rows == args.n else "the first rows of the pool"
    print(
        f"\nGoals: per core / in-memory >= {GOAL_PER_CORE:.2f}; peak RSS per worker < "
        f"{fmt_bytes(GOAL_WORKER_BYTES)}. In-memory pool: {mem_rows:,} rows ({whole}); "
        f"reading it from Parquet took {read_seconds:.2f} s."
    )
    if args.clean:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
