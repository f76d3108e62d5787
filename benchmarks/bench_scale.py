"""Scale-out scoring on Dask: rows per second and memory per worker, 1 vs 2 workers.

How to run
----------
From the repository root, in the environment with the ``dask`` extra::

    .venv/bin/python benchmarks/bench_scale.py              # N = 20,000,000 rows × 32
    .venv/bin/python benchmarks/bench_scale.py --n 4000000  # a smaller pool
    .venv/bin/python benchmarks/bench_scale.py --scheduler tcp://host:8786  # a cluster

The pool is generated once as Parquet under ``--dir`` (default: a folder in the system
temporary directory named after N and d; reused by later runs when its files have the
rows, encoding and compression asked for; ``--clean`` removes it at the end). 20 M × 32
float32 is 2.6 GB of values, 3.9 GB on disk with pyarrow's defaults (dictionary encoding,
snappy), 2.6 GB with ``--encoding plain``. Nothing is downloaded. The table is printed and
written to ``--out`` (default ``benchmarks/results/scale.md``).

What it measures
----------------
Margin sampling of ``k = 1000`` rows from an ``N × 32`` float32 pool with two models
fitted on 5,000 generated rows (3 classes): a LogisticRegression and a small MLP
(``MLPClassifier(hidden_layer_sizes=(64,))``). Every file of the pool is read once before
any timing (the page cache holds it, as a warm pool would be); each timed query runs
``--repeat`` times (default 3), the models taking turns in alternating order, and the
table gives the median.

``in-memory``
    The single-process numpy path on the largest pool that fits (``--in-memory-rows``,
    default: the whole pool when the array and what the query allocates, estimated from
    a 200,000-row probe, take at most half the available memory; else the most rows
    that do): ``al.strategies.get("margin").query(model, X, k)`` with one BLAS thread
    and ``ACTIVELAB_NUM_THREADS=1`` (one core). Peak memory is the array plus what the
    query allocates (tracemalloc).
``in-memory + read Parquet``
    The same, with reading the Parquet files into the array counted, the way a user
    would: ``pq.read_table(path).to_pandas().to_numpy()`` per file (pyarrow's threads
    off: one core), copied into one array.
``modAL (in-memory)``
    ``modAL.uncertainty.margin_sampling(model, X, n_instances=k)`` on the same array,
    when modAL and Dask both import in this environment (it has no out-of-core path);
    otherwise the row says why it is left out.
``read only``
    Reading the Parquet pool and laying each batch out as a 2-D array on the workers
    (:func:`activelab.scale._pool.iter_batches`), no model: what every query pays.
``activelab.scale``
    :func:`activelab.scale.query` on the Parquet files, on a LocalCluster of 1 and then
    2 worker processes with one thread each; the model is scattered once. One untimed
    warm-up query on one file per cluster (workers import activelab and load the
    compiled kernels). Peak memory per worker is the peak resident set (``VmHWM``,
    reset before each query through ``/proc/self/clear_refs``) of the largest worker
    over the repeats, with in brackets what it held just before the query (the
    interpreter, numpy, pandas, scikit-learn, numba and distributed: about 350 MB
    before any data).
``dask.array``
    The stock Dask way, what dask-ml's ``ParallelPostFit`` does: ``read_parquet(...).
    to_dask_array(lengths=True).map_blocks(model.predict_proba)``, the margin with dask
    array operations and ``da.argtopk``, on the same cluster (dask-ml's own wrapper
    when it is installed).

``--kcenter N`` (core-set at scale)
    A separate run: on an ``N × d`` float32 pool (generated as above, default 200,000
    rows), core-set picks ``k`` in (100, 1000) rows with :func:`activelab.scale.query`
    (two-round k-center: greedy per partition, then greedy on the union) on a
    LocalCluster of 2 workers with one thread each, and with the in-memory ``coreset``
    strategy on the same rows, the features being the embedding (``model=None``). It
    prints the covering radius of each pick set over the whole pool (the largest
    distance from a row to its nearest pick, computed in blocks of rows), their ratio
    (at most 4: two-round k-center is within 4·OPT, and OPT is at most any radius), the
    seconds of each, and the peak memory (per worker for the cluster: ``VmHWM``, as
    above; the array plus what the query allocates, by tracemalloc, in memory). The
    table is written to ``benchmarks/results/scale_kcenter.md`` unless ``--out`` says
    otherwise.

Columns: ``rows/s`` (the pool's rows over the median wall time of the query), ``per
core`` (rows/s over the cores used), ``per core / in-memory`` (goal: at least 1 / 1.5 =
0.67), ``scaling eff.`` (rows/s with 2 workers over twice the rows/s with 1), ``peak RSS
/ worker`` (goal: below 1 GB, bounded by the partition size), ``same top-k`` (whether
the picks equal the in-memory path's, up to exact ties; only when the in-memory pool is
the whole pool). Timings on a shared machine are noisy: the header prints the load
average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
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


def write_pool(
    folder: Path, n: int, d: int, weights: np.ndarray, encoding: str, compression: str
) -> list[str]:
    """N × d float32 rows as Parquet files of ROWS_PER_FILE rows (reused when they match)."""
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
            if pool_format(str(path)) == (encoding, compression):
                continue
        X, _ = make_rows(np.random.default_rng(1000 + index), rows, d, weights)
        table = pa.table({name: X[:, j] for j, name in enumerate(names)})
        pq.write_table(
            table,
            path,
            row_group_size=ROW_GROUP,
            use_dictionary=encoding == "dictionary",
            compression=compression,
        )
    return paths


def pool_format(path: str) -> tuple[str, str]:
    """The encoding ("dictionary" or "plain") and compression of a file's first column."""
    import pyarrow.parquet as pq

    column = pq.read_metadata(path).row_group(0).column(0)
    encoding = "dictionary" if "RLE_DICTIONARY" in column.encodings else "plain"
    return encoding, column.compression.lower()


def warm(paths: list[str]) -> float:
    """Read every byte of every file once (into the page cache); seconds taken."""
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
    return time.perf_counter() - start


def read_rows(paths: list[str], n: int, d: int) -> np.ndarray:
    """The first n rows of the pool in one array, read as a user would.

    ``pq.read_table(path).to_pandas().to_numpy()`` per file, one core (pyarrow's threads
    off), each file's block copied once into a column-major array of the pool's size.
    """
    import pyarrow.parquet as pq

    X = np.empty((n, d), dtype=np.float32, order="F")
    have = 0
    for path in paths:
        if have >= n:
            break
        table = pq.read_table(path, use_threads=False)
        block = table.to_pandas(use_threads=False).to_numpy()[: n - have]
        X[have : have + block.shape[0]] = block
        have += block.shape[0]
    return X


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


def available_bytes() -> int:
    """MemAvailable of /proc/meminfo (Linux), else a quarter of the physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4


def rows_that_fit(models: dict[str, Any], n: int, d: int) -> tuple[int, float]:
    """The most rows (at most n) whose array and in-memory query fit in half the memory.

    Bytes per row: the float32 row plus what the query allocates per row, measured by
    tracemalloc on a 200,000-row probe with the most demanding model.
    """
    probe = np.random.default_rng(0).normal(size=(200_000, d)).astype(np.float32)
    margin = al.strategies.get("margin")
    extra = max(
        peak_extra_bytes(lambda m=model: margin.query(m, probe, K, random_state=0))[0]
        for model in models.values()
    )
    per_row = 4 * d + extra / probe.shape[0]
    budget = available_bytes() / 2
    return int(min(n, budget // per_row)), per_row


def in_memory(model: Any, X: np.ndarray) -> tuple[float, int, np.ndarray]:
    """Seconds, peak bytes (the array included) and picks of the one-core numpy path."""
    margin = al.strategies.get("margin")
    start = time.perf_counter()
    peak, picks = peak_extra_bytes(lambda: margin.query(model, X, K, random_state=0))
    return time.perf_counter() - start, peak + X.nbytes, picks


def modal_reason() -> str | None:
    """Why modAL's row is left out, or None when modAL and Dask both import here."""
    if import_attrs("modAL.uncertainty", "margin_sampling") is None:
        return (
            "modAL is not installed in this environment; the peers' environment "
            "(.venv-bench) lacks Dask, so the modAL row runs in neither"
        )
    return None


def modal_in_memory(model: Any, X: np.ndarray) -> float:
    """Seconds of modAL's margin_sampling on the same array."""
    found = import_attrs("modAL.uncertainty", "margin_sampling")
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


def read_only(client: Any, paths: list[str], columns: list[str], batch_rows: int) -> float:
    """Seconds to read the pool and lay out its batches on the workers, no model."""
    from dask import delayed

    from activelab.scale._pool import iter_batches, open_pool

    def rows_of(data: Any, where: str) -> int:
        return sum(X.shape[0] for _, X in iter_batches(data, batch_rows, where))

    spec = open_pool(paths, columns=columns)
    start = time.perf_counter()
    tasks = [delayed(rows_of, pure=False)(part.data, part.where) for part in spec.partitions]
    total = sum(client.compute(tasks, sync=True))
    assert total == spec.n_rows
    return time.perf_counter() - start


def same_top_k(picks: Any, expected: np.ndarray, theirs: np.ndarray) -> str:
    """Whether the picks are the in-memory picks, up to ties at the k-th utility.

    ``theirs``: the in-memory utilities of the ``expected`` rows. The picks carry the
    utilities the workers computed (``picks.scores``). The model's float32 arithmetic
    rounds differently on batches of other shapes (about 1e-7 relative), so a row that
    differs counts as a tie when its utility is within 1e-6 of the k-th.
    """
    if set(picks.rows.tolist()) == set(expected.tolist()):
        return "yes"
    kth = theirs.min()
    ours = set(picks.rows.tolist())
    differ = np.array([row not in set(expected.tolist()) for row in picks.rows])
    near = np.abs(picks.scores[differ] - kth) <= 1e-6
    others = theirs[[row not in ours for row in expected.tolist()]]
    if near.all() and (np.abs(others - kth) <= 1e-6).all():
        return f"yes ({int(differ.sum())} tied rows differ)"
    return "NO"


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


def profile(paths: list[str], models: dict[str, Any], d: int, batch_rows: int) -> list[str]:
    """Where one partition task's time goes, in one process on a warm pool: ns per row.

    Decoding the Parquet pages alone (pyarrow), decoding and laying out each batch as a
    2-D array (activelab's reader), the model's utilities on in-memory batches, the whole
    partition task (read, model, margin, top-k), and the in-memory query; then decoding
    the same rows written with plain encoding and no compression.
    """
    import pyarrow.parquet as pq

    from activelab.scale._plans import plan_for
    from activelab.scale._pool import iter_batches, open_pool, parquet_file
    from activelab.scale._query import _job
    from activelab.scale._tasks import _utilities, run_partition

    columns = [f"x{j}" for j in range(d)]
    spec = open_pool(paths, columns=columns)
    n = spec.n_rows
    warm(paths)

    def best_of(fn: Any, repeat: int = 3) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times) / n * 1e9

    def decode(files: list[str]) -> None:
        for path in files:
            with parquet_file(spec.partitions[0].data.fs, path) as reader:
                for _ in reader.iter_batches(batch_size=batch_rows, use_threads=False):
                    pass

    def layout() -> None:
        for part in spec.partitions:
            for _ in iter_batches(part.data, batch_rows, part.where):
                pass

    lines = [
        f"decode only (pyarrow, {pool_format(paths[0])[0]}, {pool_format(paths[0])[1]}): "
        f"{best_of(lambda: decode(paths)):.0f} ns/row",
        f"decode + layout as 2-D array (activelab reader): {best_of(layout):.0f} ns/row",
    ]
    X = read_rows(paths, n, d)
    margin = al.strategies.get("margin")
    for name, model in models.items():
        job = _job(
            plan_for("margin", K, n), model, spec, 0, batch_rows, None, True, np.empty(0, np.int64)
        )
        blocks = [X[i : i + batch_rows] for i in range(0, n, batch_rows)]
        model_ns = best_of(lambda job=job, blocks=blocks: [_utilities(job, b) for b in blocks])
        task_ns = best_of(
            lambda job=job: [
                run_partition(job, p.data, p.offset, p.index, p.where, p.n_rows)
                for p in spec.partitions
            ]
        )
        memory_ns = best_of(lambda model=model: margin.query(model, X, K, random_state=0))
        lines.append(
            f"{name}: model utilities on in-memory batches {model_ns:.0f} ns/row; whole "
            f"partition task {task_ns:.0f} ns/row; in-memory margin.query {memory_ns:.0f} ns/row"
        )
    with tempfile.TemporaryDirectory() as folder:
        plain = []
        for index, path in enumerate(paths):
            plain.append(str(Path(folder) / f"plain-{index}.parquet"))
            pq.write_table(
                pq.read_table(path),
                plain[-1],
                row_group_size=ROW_GROUP,
                use_dictionary=False,
                compression="none",
            )
        lines.append(
            "decode only, the same rows with plain encoding, no compression: "
            f"{best_of(lambda: decode(plain)):.0f} ns/row"
        )
    return lines


def median_time(fn: Any, repeat: int) -> tuple[float, Any]:
    """The median seconds of ``repeat`` calls of ``fn`` (which returns seconds, result)."""
    times, result = [], None
    for _ in range(repeat):
        seconds, result = fn()
        times.append(seconds)
    return float(np.median(times)), result


KCENTER_KS = (100, 1000)
KCENTER_HEADERS = [
    "k",
    "path",
    "cores",
    "seconds",
    "covering radius",
    "radius / in-memory",
    "peak memory",
]


def covering_radius(X: np.ndarray, centres: np.ndarray, block_rows: int = 16_384) -> float:
    """The largest distance from a row of ``X`` to its nearest centre (float64, in blocks).

    Squared distances of each block of rows to all centres through
    ``|x|² - 2 x·c + |c|²`` (clipped at 0), so at most ``block_rows × len(centres)``
    doubles are held at once.
    """
    C = np.asarray(centres, dtype=np.float64)
    c_sq = np.einsum("ij,ij->i", C, C)
    worst = 0.0
    for start in range(0, X.shape[0], block_rows):
        B = np.asarray(X[start : start + block_rows], dtype=np.float64)
        gaps = np.einsum("ij,ij->i", B, B)[:, None] - 2.0 * (B @ C.T) + c_sq[None, :]
        worst = max(worst, float(np.maximum(gaps.min(axis=1), 0.0).max()))
    return float(np.sqrt(worst))


def kcenter_run(args: argparse.Namespace, header: list[str]) -> None:
    """Two-round k-center (activelab.scale) against the in-memory greedy: radius, time, memory."""
    import dask
    from distributed import Client
    from threadpoolctl import threadpool_limits

    from activelab.scale._pool import open_pool

    n, d = args.kcenter, args.d
    folder = args.dir or Path(tempfile.gettempdir()) / f"activelab-bench-kcenter-{n}x{d}"
    weights = np.random.default_rng(3).normal(size=(d, N_CLASSES))
    started = time.perf_counter()
    paths = write_pool(folder, n, d, weights, args.encoding, args.compression)
    columns = [f"x{j}" for j in range(d)]
    options = {"columns": columns, "partition_rows": args.partition_rows}
    n_parts = len(open_pool(paths, **options).partitions)
    warm(paths)
    header.append(
        f"pool: {n:,} × {d} float32 in {len(paths)} Parquet file(s) at {folder} (ready in "
        f"{time.perf_counter() - started:.1f} s), {n_parts} partition(s); the features are "
        "the embedding (model=None); random_state=0"
    )
    print("\n".join(header), flush=True)
    X = read_rows(paths, n, d)
    coreset = al.strategies.get("coreset")
    rows: list[list[str]] = []
    loads = [os.getloadavg()[0]] if hasattr(os, "getloadavg") else []
    memory_picks: dict[int, tuple[float, int, float]] = {}
    with threadpool_limits(1):
        coreset.query(None, X[:2000], 10, random_state=0)  # warm-up: kernels load
        for k in KCENTER_KS:
            start = time.perf_counter()
            peak, picks = peak_extra_bytes(lambda k=k: coreset.query(None, X, k, random_state=0))
            seconds = time.perf_counter() - start
            memory_picks[k] = (seconds, peak + X.nbytes, covering_radius(X, X[picks]))
            print(f"in-memory k={k}: {seconds:.2f} s", flush=True)
    no_spill = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False}
    with dask.config.set(no_spill):
        cluster = scale.local_cluster(2, memory_limit=None, dashboard_address=None)
    with cluster, Client(cluster) as client:
        scale.query(None, paths[0], 10, "coreset", client, random_state=0, **options)  # warm-up
        for k in KCENTER_KS:
            client.run(_reset_peak)
            idle = max(client.run(_idle_bytes).values())
            start = time.perf_counter()
            picks = scale.query(None, paths, k, "coreset", client, random_state=0, **options)
            seconds = time.perf_counter() - start
            peak = max(client.run(_peak_bytes).values())
            print(f"activelab.scale k={k}: {seconds:.2f} s", flush=True)
            with threadpool_limits(1):
                radius = covering_radius(X, X[picks.rows])
            mem_seconds, mem_peak, mem_radius = memory_picks[k]
            rows.append(
                [
                    f"{k:,}",
                    "in-memory coreset (greedy)",
                    "1 core",
                    f"{mem_seconds:.2f}",
                    f"{mem_radius:.4f}",
                    "1.000x",
                    fmt_bytes(mem_peak),
                ]
            )
            rows.append(
                [
                    f"{k:,}",
                    "activelab.scale (2 workers, two-round)",
                    "2 cores",
                    f"{seconds:.2f}",
                    f"{radius:.4f}",
                    fmt_ratio(radius, mem_radius, ".3f"),
                    f"{fmt_bytes(peak)} / worker (idle {idle / 1e6:,.0f})",
                ]
            )
    if loads:
        loads.append(os.getloadavg()[0])
    table = markdown_table(KCENTER_HEADERS, rows, right=[0, 3, 4, 5])
    footer = [
        "covering radius: the largest Euclidean distance from a row of the whole pool to its "
        "nearest pick (float64, blocks of 16,384 rows). Guarantees: the in-memory greedy is "
        "within 2·OPT and two-round k-center within 4·OPT, and OPT is at most any radius, so "
        "the ratio is at most 4; the in-memory radius over 2 is a lower bound on OPT.",
        "one run per row (no repeats); the in-memory query with one BLAS thread, "
        "tracemalloc peak plus the array; the cluster's peak is the largest worker's VmHWM "
        "(reset before each query), with what it held before the query in brackets (MB).",
    ]
    if loads:
        footer.append(
            "load average (1 min) before the runs and after: "
            + ", ".join(f"{load:.2f}" for load in loads)
        )
    print()
    print(table)
    print("\n" + "\n".join(footer))
    out = args.out or Path(__file__).resolve().parent / "results" / "scale_kcenter.md"
    write_results(out, "Two-round k-center against the in-memory greedy", header, table, footer)
    if args.clean:
        shutil.rmtree(folder, ignore_errors=True)


def write_results(out: Path, title: str, header: list[str], table: str, footer: list[str]) -> None:
    """The Markdown results file: the title, the command, the header lines, the table."""
    command = "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        f"# {title}\n\n`{command.strip()}`\n\n"
        + "\n".join(f"- {line}" for line in header)
        + "\n\n"
        + table
        + "\n\n"
        + "\n".join(f"- {line}" for line in footer)
        + "\n"
    )
    print(f"\nwritten to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000_000, help="rows in the pool")
    parser.add_argument("--d", type=int, default=32, help="features per row")
    parser.add_argument("--workers", default="1,2", help="cluster sizes, comma-separated")
    parser.add_argument("--models", default="logreg,mlp", help="logreg and/or mlp")
    parser.add_argument("--partition-rows", type=int, default=None)
    parser.add_argument("--batch-rows", type=int, default=131_072)
    parser.add_argument(
        "--in-memory-rows",
        type=int,
        default=None,
        help="rows of the in-memory baseline (default: the whole pool if it fits in half "
        "the available memory, else the most rows that do)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query (median)")
    parser.add_argument("--encoding", choices=["dictionary", "plain"], default="dictionary")
    parser.add_argument("--compression", default="snappy", help="snappy, zstd, none, …")
    parser.add_argument("--dir", type=Path, default=None, help="where the pool is written")
    parser.add_argument("--clean", action="store_true", help="remove the pool at the end")
    parser.add_argument("--no-peer", action="store_true", help="skip the dask.array path")
    parser.add_argument(
        "--scheduler", default=None, help="a running Dask scheduler (tcp://host:8786)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="FILES",
        help="only profile one process on the first FILES files of the pool (ns per row)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the table is written (markdown; default benchmarks/results/scale.md, "
        "or scale_kcenter.md with --kcenter)",
    )
    parser.add_argument(
        "--kcenter",
        type=int,
        nargs="?",
        const=200_000,
        default=None,
        metavar="N",
        help="only compare two-round k-center (core-set, 2 workers) with the in-memory "
        "greedy on an N-row pool (default N: 200000): covering radius, seconds, peak memory",
    )
    args = parser.parse_args()
    if args.kcenter is not None:
        versions = ["numpy", "dask", "distributed", "pyarrow"]
        kcenter_run(args, machine_lines(versions))
        return
    if args.out is None:
        args.out = Path(__file__).resolve().parent / "results" / "scale.md"

    import dask
    from distributed import Client
    from threadpoolctl import threadpool_limits

    folder = args.dir or Path(tempfile.gettempdir()) / f"activelab-bench-scale-{args.n}x{args.d}"
    weights = np.random.default_rng(3).normal(size=(args.d, N_CLASSES))
    versions = ["numpy", "scikit-learn", "dask", "distributed", "pyarrow"]
    header = machine_lines(versions)
    started = time.perf_counter()
    paths = write_pool(folder, args.n, args.d, weights, args.encoding, args.compression)
    glob = str(folder / "part-*.parquet")
    columns = [f"x{j}" for j in range(args.d)]
    size = sum(os.path.getsize(path) for path in paths)
    encoding, compression = pool_format(paths[0])
    warmed = warm(paths)
    header.append(
        f"pool: {args.n:,} × {args.d} float32 in {len(paths)} Parquet files at {folder} "
        f"(ready in {time.perf_counter() - started:.1f} s): {size / 1e9:.2f} GB on disk "
        f"({size / (args.n * args.d * 4):.2f}× the raw values), {encoding} encoding, "
        f"{compression} compression, row groups of {ROW_GROUP:,} rows; every file read once "
        f"before timing ({warmed:.1f} s)"
    )
    header.append(
        f"each timed query: median of {args.repeat} runs, the models taking turns in "
        "alternating order"
    )
    print("\n".join(header), flush=True)
    models = fit_models(args.d, weights, args.models.split(","))
    if args.profile:
        with threadpool_limits(1):
            found = profile(paths[: args.profile], models, args.d, args.batch_rows)
        rows_profiled = min(args.n, args.profile * ROWS_PER_FILE)
        print(f"\nprofile: one process, {rows_profiled:,} rows, batches of {args.batch_rows:,}")
        print("\n".join(found))
        return
    if args.in_memory_rows is None:
        mem_rows, per_row = rows_that_fit(models, args.n, args.d)
        fit_note = f"in-memory bytes per row (array + query, probed): {per_row:,.0f}"
    else:
        mem_rows, fit_note = min(args.n, args.in_memory_rows), "in-memory rows: --in-memory-rows"
    start = time.perf_counter()
    X = read_rows(paths, mem_rows, args.d)
    read_seconds = time.perf_counter() - start
    rows: list[list[str]] = []
    base: dict[str, float] = {}
    expected: dict[str, np.ndarray] = {}
    theirs: dict[str, np.ndarray] = {}
    names = list(models)
    margin = al.strategies.get("margin")
    modal_missing = modal_reason()
    with threadpool_limits(1):
        for model in models.values():
            margin.query(model, X[:100_000], K, random_state=0)  # warm-up: kernels load
        times: dict[str, list[float]] = {name: [] for name in names}
        peaks: dict[str, int] = {}
        for rep in range(args.repeat):
            for name in names if rep % 2 == 0 else names[::-1]:
                seconds, peak, expected[name] = in_memory(models[name], X)
                times[name].append(seconds)
                peaks[name] = max(peaks.get(name, 0), peak)
        for name in names:
            seconds = float(np.median(times[name]))
            base[name] = mem_rows / seconds
            memory = ("—", fmt_bytes(peaks[name]), "—")
            rows.append(rate_row("in-memory numpy", name, 1, mem_rows, seconds, base, *memory))
            total = seconds + read_seconds
            rows.append(rate_row("in-memory + read Parquet", name, 1, mem_rows, total, base))
            if modal_missing is None:
                peer = float(
                    np.median([modal_in_memory(models[name], X) for _ in range(args.repeat)])
                )
                rows.append(rate_row("modAL margin_sampling", name, 1, mem_rows, peer, base))
            if mem_rows == args.n:
                theirs[name] = margin.utilities(models[name], X[expected[name]])
    del X
    first: dict[tuple[str, str], float] = {}  # rows/s of one worker, per path and model
    loads = [os.getloadavg()[0]] if hasattr(os, "getloadavg") else []
    sizes = [int(w) for w in args.workers.split(",")] if args.scheduler is None else [0]
    for n_workers in sizes:
        # Memory is measured, not managed: no spilling, no pausing.
        no_spill = {
            "distributed.worker.memory.target": False,
            "distributed.worker.memory.spill": False,
        }
        if args.scheduler is None:
            with dask.config.set(no_spill):
                cluster = scale.local_cluster(n_workers, memory_limit=None, dashboard_address=None)
        else:
            cluster = contextlib.nullcontext()
        with cluster, Client(cluster if args.scheduler is None else args.scheduler) as client:
            if args.scheduler is not None:
                n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
            label = plural(n_workers, "worker")
            options = {
                "columns": columns,
                "partition_rows": args.partition_rows,
                "batch_rows": args.batch_rows,
            }
            for model in models.values():
                scale.query(model, paths[0], K, "margin", client, **options)  # warm-up
            seconds, _ = median_time(
                lambda: (read_only(client, paths, columns, args.batch_rows), None), args.repeat
            )
            rate = args.n / seconds
            efficiency = scaling(first, ("read", "—"), n_workers, rate)
            read_row = rate_row(f"read only ({label})", "—", n_workers, args.n, seconds, {"—": 1})
            rows.append([*read_row[:7], "—", efficiency])
            ours: dict[str, list[float]] = {name: [] for name in names}
            memory_of: dict[str, int] = {}
            idle_of: dict[str, int] = {}
            picks_of: dict[str, Any] = {}
            for rep in range(args.repeat):
                for name in names if (rep + n_workers) % 2 == 0 else names[::-1]:
                    client.run(_reset_peak)
                    idle = max(client.run(_idle_bytes).values())
                    start = time.perf_counter()
                    picks_of[name] = scale.query(
                        models[name], glob, K, "margin", client, random_state=0, **options
                    )
                    ours[name].append(time.perf_counter() - start)
                    memory_of[name] = max(memory_of.get(name, 0), *client.run(_peak_bytes).values())
                    idle_of[name] = max(idle_of.get(name, 0), idle)
            for name in names:
                seconds = float(np.median(ours[name]))
                same = "—"
                if name in theirs:
                    same = same_top_k(picks_of[name], expected[name], theirs[name])
                efficiency = scaling(first, ("ours", name), n_workers, args.n / seconds)
                memory = f"{fmt_bytes(memory_of[name])} (idle {idle_of[name] / 1e6:,.0f})"
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
            for name in names:
                model = models[name]
                try:
                    dask_array_peer(client, model, paths[0], columns)  # warm-up
                    peer_times, peak, idle = [], 0, 0
                    for _ in range(args.repeat):
                        client.run(_reset_peak)
                        idle = max(idle, *client.run(_idle_bytes).values())
                        peer_times.append(dask_array_peer(client, model, glob, columns))
                        peak = max(peak, *client.run(_peak_bytes).values())
                except Exception as error:  # a Dask version without these paths
                    rows.append([f"dask.array ({label})", name, "", "", f"error: {error}"[:60]])
                    continue
                seconds = float(np.median(peer_times))
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
                        f"{fmt_bytes(peak)} (idle {idle / 1e6:,.0f})",
                        "—",
                    )
                )
        if loads:
            loads.append(os.getloadavg()[0])
    rows = [row + ["—"] * (len(HEADERS) - len(row)) for row in rows]
    table = markdown_table(HEADERS, rows, right=[3, 4, 5, 6, 7, 8, 9])
    whole = "the whole pool" if mem_rows == args.n else "the first rows of the pool"
    footer = [
        f"Goals: per core / in-memory >= {GOAL_PER_CORE:.2f}; peak RSS per worker < "
        f"{fmt_bytes(GOAL_WORKER_BYTES)}. In-memory pool: {mem_rows:,} rows ({whole}; "
        f"{fit_note}); reading it from Parquet took {read_seconds:.2f} s. The read-only "
        "rows' `per core / in-memory` column is left blank (no model).",
    ]
    if loads:
        footer.append(
            "load average (1 min) at the start of the cluster runs and after each cluster: "
            + ", ".join(f"{load:.2f}" for load in loads)
        )
    if modal_missing is not None:
        footer.append(f"modAL row left out: {modal_missing}.")
    print()
    print(table)
    print("\n" + "\n".join(footer))
    write_results(args.out, "Scale-out benchmark", header, table, footer)
    if args.clean:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
