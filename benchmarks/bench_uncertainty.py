"""Uncertainty sampling: activelab against modAL and scikit-activeml, on identical inputs.

How to run
----------
``make bench`` (which runs ``.venv-bench/bin/python benchmarks/bench_uncertainty.py``), or
that command directly from the repository root. The peer libraries are optional: a peer
that is not importable gets "not installed" in its cells and the rest still runs. The
whole run takes one to two minutes on a 2-core machine; no data is downloaded.

Our score kernels split large arrays over threads (``ACTIVELAB_NUM_THREADS``, default the
CPU count); the peers' numpy code runs on one core. Run with ``ACTIVELAB_NUM_THREADS=1``
to compare one core against one core. Timings are only meaningful on an otherwise idle
machine: the header prints the load average before the run.

What it measures
----------------
Least confidence, margin and entropy, each picking a batch of ``K = 100`` items:

``proba`` path
    A seeded ``1_000_000 x 10`` float64 probability array ``P`` (normalised uniform rows,
    so no two scores tie). ``scores`` rows time the scores alone: ours
    ``scores.<measure>(P)``, modAL's ``classifier_uncertainty / _margin / _entropy`` and
    scikit-activeml's ``uncertainty_scores``. ``top-100`` rows time scores plus
    selection: ours ``select.top_k(scores.<measure>(P), 100)``; modAL's
    ``uncertainty_sampling / margin_sampling / entropy_sampling(..., n_instances=100)``
    called with a stand-in classifier whose ``predict_proba`` returns ``P``; and
    scikit-activeml's ``uncertainty_scores`` followed by its own batch selector,
    ``skactiveml.utils.simple_batch(..., batch_size=100)`` (what ``UncertaintySampling``
    calls). The floor rows time one contiguous read of ``P`` (``P.sum()``) and a
    row-wise reduction (``P.max(axis=1)``).
``model`` path
    A LogisticRegression fitted on 300 labelled rows of ``make_classification`` (20
    features, 10 classes) and an unlabelled pool of ``100_000 x 20``. ``query`` rows:
    ours ``strategies.get(name).query(model, X_pool, 100)``, modAL's sampling functions
    with the fitted classifier, scikit-activeml ``UncertaintySampling(method=...).query(
    X_pool, y, clf, fit_clf=False, batch_size=100)`` with every ``y`` missing and ``clf``
    a ``SklearnClassifier`` fitted on the same labelled rows. ``fit+query`` rows include
    refitting the model on the labelled rows: scikit-activeml with ``fit_clf=True`` on the
    labelled rows stacked over the pool, ours and modAL as ``clone(model).fit`` followed by
    the same query as above.

Columns
-------
``ours ms``, ``modAL ms``, ``skactiveml ms``
    Best (minimum) wall time in milliseconds (``time.perf_counter``). Each row races its
    calls: every call runs once to warm up (numba kernels compile or load from cache on
    the first call), then the calls take turns, one timed run each per round, so that load
    from other processes hits all of them alike; garbage collection is off while timing and
    BLAS is limited to one thread (see ``BLAS_THREADS``).
``modAL/ours``, ``skal/ours``
    Peer time divided by our time: above 1 means we are faster.
``ours/floor``
    Our time divided by the row's floor, raced alongside: ``P.sum()`` on the proba path,
    ``model.predict_proba(X_pool)`` on the model path's ``query`` rows and refit plus
    ``predict_proba`` on its ``fit+query`` rows (the work every library must do).
``same (modAL)``, ``same (skal)``
    Whether the peer's batch is the same set of 100 indices as ours (order ignored); a
    dash where there is no batch (``scores`` and floor rows).

After the table come the peak extra memory of our proba path as a multiple of
``P.nbytes`` (tracemalloc, which sees numpy's allocations), the peers' for comparison, and
a summary of the performance goals. The script exits with status 1 when any peer's batch
differs from ours or a peer call fails, after printing everything.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    NOT_INSTALLED,
    Outcome,
    as_index_set,
    fmt_ratio,
    load_peer,
    machine_lines,
    missing_activelab,
    peak_extra_bytes,
    race,
    verdict,
)

try:
    from activelab import scores, select, strategies
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0
K = 100
N_PROBA, N_CLASSES = 1_000_000, 10
N_LABELLED, N_POOL, N_FEATURES = 300, 100_000, 20
MAX_REPEATS = 50  # timed runs per call at most, after one warm-up run
MIN_REPEATS = 3  # timed runs per call at least
CELL_BUDGET_S = 1.0  # a call stops repeating once its timed runs took this long in all
# BLAS threads for predict_proba and fit (every library shares them). On a small machine a
# multi-threaded OpenBLAS makes a 300-row LogisticRegression fit take 20 ms or 750 ms at
# random, which swamps the differences being measured. Our kernels do not use BLAS; their
# threads are set by ACTIVELAB_NUM_THREADS.
BLAS_THREADS = 1
PEERS = ("modAL", "skactiveml")

# Goals the owner set for this benchmark.
GOAL_PEER_SPEEDUP = 5.0  # proba path: at least this many times faster than each peer
GOAL_FLOOR_RATIO = 3.0  # proba path: at most this many times P.sum()
GOAL_MODEL_SPEEDUP = 1.0  # model path: never slower than a peer
GOAL_MEMORY_RATIO = 2.0  # proba path: peak extra memory at most this many times P.nbytes


@dataclass(frozen=True)
class Measure:
    """One uncertainty measure, as each library names it."""

    label: str
    strategy: str
    ours: Callable[[np.ndarray], np.ndarray]
    modal_scores: str
    modal_query: str
    skal_method: str


MEASURES = (
    Measure(
        "least confidence",
        "least_confidence",
        scores.least_confidence,
        "classifier_uncertainty",
        "uncertainty_sampling",
        "least_confident",
    ),
    Measure(
        "margin", "margin", scores.margin, "classifier_margin", "margin_sampling", "margin_sampling"
    ),
    Measure(
        "entropy", "entropy", scores.entropy, "classifier_entropy", "entropy_sampling", "entropy"
    ),
)


@dataclass
class Row:
    """One line of the results table; a peer cell holds milliseconds or a reason string."""

    path: str
    measure: str
    what: str
    ours_ms: float | None
    floor_ms: float | None = None
    peer_ms: dict[str, float | str] = field(default_factory=dict)
    same: dict[str, str] = field(default_factory=dict)


class FixedProba:
    """Stand-in classifier whose ``predict_proba`` returns a precomputed array.

    Lets a library that only scores through a classifier score a given probability
    array, with nothing but one method call added to its own work.
    """

    def __init__(self, proba: np.ndarray) -> None:
        """Store the probabilities to return."""
        self.proba = proba

    def predict_proba(self, X: Any, **kwargs: Any) -> np.ndarray:
        """Return the stored probabilities, whatever ``X`` is."""
        return self.proba


def load_peers() -> dict[str, dict[str, Any] | None]:
    """Import each peer's entry points; None for a peer that is not importable."""

    def skactiveml() -> dict[str, Any]:
        pool = importlib.import_module("skactiveml.pool")
        classifier = importlib.import_module("skactiveml.classifier")
        utils = importlib.import_module("skactiveml.utils")
        return {
            "UncertaintySampling": pool.UncertaintySampling,
            "uncertainty_scores": pool.uncertainty_scores,
            "SklearnClassifier": classifier.SklearnClassifier,
            "MISSING_LABEL": utils.MISSING_LABEL,
            "simple_batch": utils.simple_batch,
        }

    return {
        "modAL": load_peer(lambda: {"uncertainty": importlib.import_module("modAL.uncertainty")}),
        "skactiveml": load_peer(skactiveml),
    }


def race_calls(calls: dict[str, Callable[[], Any]]) -> dict[str, Outcome]:
    """Time several calls under the same conditions; best milliseconds in ``Outcome.ms``.

    Every call runs once to warm up (its result is kept for the agreement check; an
    exception there is recorded, not raised), then the calls take turns, one timed run
    each per round, so that load from other processes hits all of them alike. A call stops
    after ``MAX_REPEATS`` timed runs, or once it has ``MIN_REPEATS`` and has spent
    ``CELL_BUDGET_S``. Garbage collection is off while timing.
    """
    return race(
        calls,
        min_repeats=MIN_REPEATS,
        max_repeats=MAX_REPEATS,
        budget_s=CELL_BUDGET_S,
        error_chars=60,
    )


def tie_free_at_k(utilities: np.ndarray, k: int) -> bool:
    """Whether the k-th and (k+1)-th highest utilities differ, so the top-k set is unique."""
    top = -np.partition(-utilities, [k - 1, k])[: k + 1]
    return bool(top[k - 1] > top[k])


def measure_row(
    where: tuple[str, str, str],
    ours: Callable[[], Any],
    floor: Callable[[], Any],
    peer_calls: dict[str, Callable[[], Any] | None],
    compare: bool,
) -> Row:
    """Race ours, the floor and the installed peers; one table row.

    ``where`` is (path, measure, what); a peer call of None means "not installed". With
    ``compare``, each peer's batch is checked against ours as a set of indices.
    """
    calls = {"ours": ours, "floor": floor}
    calls.update({name: fn for name, fn in peer_calls.items() if fn is not None})
    outcomes = race_calls(calls)
    for name in ("ours", "floor"):
        if outcomes[name].error:
            raise RuntimeError(f"{'/'.join(where)}: {name} failed: {outcomes[name].error}")
    row = Row(*where, ours_ms=outcomes["ours"].ms, floor_ms=outcomes["floor"].ms)
    ours_set = as_index_set(outcomes["ours"].result) if compare else None
    for name in PEERS:
        outcome = outcomes.get(name)
        if outcome is None:
            row.peer_ms[name] = NOT_INSTALLED
            row.same[name] = NOT_INSTALLED if compare else "—"
        elif outcome.error:
            row.peer_ms[name] = outcome.error
            row.same[name] = "error" if compare else "—"
        else:
            row.peer_ms[name] = outcome.ms if outcome.ms is not None else "—"
            if not compare:
                row.same[name] = "—"
            else:
                row.same[name] = "yes" if as_index_set(outcome.result) == ours_set else "no"
    return row


def proba_path(P: np.ndarray, peers: dict[str, dict[str, Any] | None]) -> list[Row]:
    """Rows of the probability path: floors, then scores alone and top-100 per measure."""
    modal, skal = peers["modAL"], peers["skactiveml"]
    floors = race_calls({"sum": P.sum, "max": lambda: P.max(axis=1)})
    sum_ms = floors["sum"].ms
    rows = [
        Row("proba", "floor", "P.sum()", sum_ms, sum_ms),
        Row("proba", "floor", "P.max(axis=1)", floors["max"].ms, sum_ms),
    ]
    stand_in = FixedProba(P)
    for measure in MEASURES:
        rows.append(
            measure_row(
                ("proba", measure.label, "scores"),
                lambda m=measure: m.ours(P),
                P.sum,
                {
                    "modAL": None
                    if modal is None
                    else lambda m=measure: getattr(modal["uncertainty"], m.modal_scores)(
                        stand_in, P
                    ),
                    "skactiveml": None
                    if skal is None
                    else lambda m=measure: skal["uncertainty_scores"](
                        probas=P, method=m.skal_method
                    ),
                },
                compare=False,
            )
        )
        rows.append(
            measure_row(
                ("proba", measure.label, f"top-{K}"),
                lambda m=measure: select.top_k(m.ours(P), K),
                P.sum,
                {
                    "modAL": None
                    if modal is None
                    else lambda m=measure: getattr(modal["uncertainty"], m.modal_query)(
                        stand_in, P, n_instances=K
                    ),
                    "skactiveml": None
                    if skal is None
                    else lambda m=measure: skal["simple_batch"](
                        skal["uncertainty_scores"](probas=P, method=m.skal_method),
                        random_state=SEED,
                        batch_size=K,
                    ),
                },
                compare=True,
            )
        )
    return rows


def model_path(peers: dict[str, dict[str, Any] | None]) -> list[Row]:
    """Rows of the model path: query with a fitted model, and refit plus query."""
    modal, skal = peers["modAL"], peers["skactiveml"]
    X, y = make_classification(
        n_samples=N_LABELLED + N_POOL,
        n_features=N_FEATURES,
        n_informative=10,
        n_redundant=5,
        n_classes=N_CLASSES,
        n_clusters_per_class=1,
        random_state=SEED,
    )
    X_lab, y_lab, X_pool = X[:N_LABELLED], y[:N_LABELLED], X[N_LABELLED:]
    if np.unique(y_lab).shape[0] != N_CLASSES:
        raise RuntimeError("the labelled rows miss a class; change SEED or N_LABELLED.")
    base = LogisticRegression(max_iter=1000)
    model = clone(base).fit(X_lab, y_lab)

    def refit() -> LogisticRegression:
        """A clone of the model fitted again on the labelled rows (what fit+query pays)."""
        return clone(base).fit(X_lab, y_lab)

    def skal_query(method: str, fit_clf: bool) -> np.ndarray:
        """scikit-activeml's UncertaintySampling on the pool (after the labelled rows if fit)."""
        assert skal is not None
        strategy = skal["UncertaintySampling"](
            method=method, missing_label=skal["MISSING_LABEL"], random_state=SEED
        )
        if fit_clf:
            return strategy.query(X_all, y_all, wrapped, fit_clf=True, batch_size=K) - N_LABELLED
        return strategy.query(X_pool, y_pool, wrapped, fit_clf=False, batch_size=K)

    if skal is not None:
        missing = skal["MISSING_LABEL"]
        wrapped = skal["SklearnClassifier"](
            clone(base), classes=np.arange(N_CLASSES), missing_label=missing, random_state=SEED
        ).fit(X_lab, y_lab)
        y_pool = np.full(N_POOL, missing, dtype=float)
        X_all = np.vstack([X_lab, X_pool])
        y_all = np.concatenate([y_lab.astype(float), y_pool])

    rows: list[Row] = []
    for measure in MEASURES:
        utilities = measure.ours(model.predict_proba(X_pool))
        if not tie_free_at_k(utilities, K):
            print(f"warning: model-path {measure.label} ties at rank {K}; sets may differ.")
        rows.append(
            measure_row(
                ("model", measure.label, "query"),
                lambda m=measure: strategies.get(m.strategy).query(
                    model, X_pool, K, random_state=SEED
                ),
                lambda: model.predict_proba(X_pool),
                {
                    "modAL": None
                    if modal is None
                    else lambda m=measure: getattr(modal["uncertainty"], m.modal_query)(
                        model, X_pool, n_instances=K
                    ),
                    "skactiveml": None
                    if skal is None
                    else lambda m=measure: skal_query(m.skal_method, fit_clf=False),
                },
                compare=True,
            )
        )
        rows.append(
            measure_row(
                ("model", measure.label, "fit+query"),
                lambda m=measure: strategies.get(m.strategy).query(
                    refit(), X_pool, K, random_state=SEED
                ),
                lambda: refit().predict_proba(X_pool),
                {
                    "modAL": None
                    if modal is None
                    else lambda m=measure: getattr(modal["uncertainty"], m.modal_query)(
                        refit(), X_pool, n_instances=K
                    ),
                    "skactiveml": None
                    if skal is None
                    else lambda m=measure: skal_query(m.skal_method, fit_clf=True),
                },
                compare=True,
            )
        )
    return rows


def memory_ratios(
    P: np.ndarray, peers: dict[str, dict[str, Any] | None]
) -> dict[str, dict[str, float | str]]:
    """Peak extra memory of each library's proba-path top-100, as a multiple of P.nbytes."""
    modal, skal = peers["modAL"], peers["skactiveml"]
    stand_in = FixedProba(P)
    ratios: dict[str, dict[str, float | str]] = {}
    for measure in MEASURES:
        cell: dict[str, float | str] = {
            "ours": peak_extra_bytes(lambda m=measure: select.top_k(m.ours(P), K))[0] / P.nbytes
        }
        if modal is None:
            cell["modAL"] = NOT_INSTALLED
        else:
            cell["modAL"] = (
                peak_extra_bytes(
                    lambda m=measure: getattr(modal["uncertainty"], m.modal_query)(
                        stand_in, P, n_instances=K
                    )
                )[0]
                / P.nbytes
            )
        if skal is None:
            cell["skactiveml"] = NOT_INSTALLED
        else:
            cell["skactiveml"] = (
                peak_extra_bytes(
                    lambda m=measure: skal["simple_batch"](
                        skal["uncertainty_scores"](probas=P, method=m.skal_method),
                        random_state=SEED,
                        batch_size=K,
                    )
                )[0]
                / P.nbytes
            )
        ratios[measure.label] = cell
    return ratios


def fmt_ms(value: float | str | None) -> str:
    """A time cell: milliseconds, a reason string, or a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def results_table(rows: list[Row]) -> Table:
    """The timing table: one row per (path, measure, what)."""
    table = Table(title=f"Uncertainty sampling, batch of {K}: best of up to {MAX_REPEATS} runs")
    for header in ("path", "measure", "what", "ours ms", "modAL ms", "skactiveml ms"):
        table.add_column(header, justify="right" if header.endswith("ms") else "left")
    for header in ("modAL/ours", "skal/ours", "ours/floor", "same (modAL)", "same (skal)"):
        table.add_column(header, justify="right")
    previous = None
    for row in rows:
        if previous is not None and row.path != previous:
            table.add_section()
        previous = row.path
        table.add_row(
            row.path,
            row.measure,
            row.what,
            fmt_ms(row.ours_ms),
            fmt_ms(row.peer_ms.get("modAL")),
            fmt_ms(row.peer_ms.get("skactiveml")),
            fmt_ratio(row.peer_ms.get("modAL"), row.ours_ms, ".2f"),
            fmt_ratio(row.peer_ms.get("skactiveml"), row.ours_ms, ".2f"),
            fmt_ratio(row.ours_ms, row.floor_ms, ".2f"),
            row.same.get("modAL", "—"),
            row.same.get("skactiveml", "—"),
        )
    return table


def memory_table(ratios: dict[str, dict[str, float | str]], nbytes: int) -> Table:
    """Peak extra memory of the proba-path top-100 per library, in multiples of P."""
    table = Table(
        title=f"Peak extra memory, proba path top-{K}, / P.nbytes ({nbytes / 1e6:.0f} MB)"
    )
    for header in ("measure", "ours", "modAL", "skactiveml"):
        table.add_column(header, justify="left" if header == "measure" else "right")
    for label, cell in ratios.items():
        table.add_row(
            label,
            *(
                f"{value:.3f}x" if isinstance(value, float) else value
                for value in (cell["ours"], cell["modAL"], cell["skactiveml"])
            ),
        )
    return table


def goal_lines(rows: list[Row], ratios: dict[str, dict[str, float | str]]) -> list[str]:
    """One PASS/FAIL/n/a line per goal, with the worst measured value."""
    lines: list[str] = []
    top_rows = [r for r in rows if r.path == "proba" and r.what == f"top-{K}"]
    model_rows = [r for r in rows if r.path == "model"]

    speedups = [
        (row.peer_ms[p] / row.ours_ms, f"{p}, {row.measure}")
        for row in top_rows
        for p in PEERS
        if isinstance(row.peer_ms.get(p), float) and row.ours_ms
    ]
    worst = min(speedups, default=None)
    lines.append(
        f"{verdict(None if worst is None else worst[0] >= GOAL_PEER_SPEEDUP)}  proba top-{K} "
        f">= {GOAL_PEER_SPEEDUP:g}x faster than each peer: worst "
        + ("—" if worst is None else f"{worst[0]:.2f}x ({worst[1]})")
    )
    floors = [(row.ours_ms / row.floor_ms, row.measure) for row in top_rows if row.floor_ms]
    worst_floor = max(floors, default=None)
    lines.append(
        f"{verdict(None if worst_floor is None else worst_floor[0] <= GOAL_FLOOR_RATIO)}  "
        f"proba top-{K} within {GOAL_FLOOR_RATIO:g}x of P.sum(): worst "
        + ("—" if worst_floor is None else f"{worst_floor[0]:.2f}x ({worst_floor[1]})")
    )
    model_speedups = [
        (row.peer_ms[p] / row.ours_ms, f"{p}, {row.measure}, {row.what}")
        for row in model_rows
        for p in PEERS
        if isinstance(row.peer_ms.get(p), float) and row.ours_ms
    ]
    worst_model = min(model_speedups, default=None)
    lines.append(
        f"{verdict(None if worst_model is None else worst_model[0] >= GOAL_MODEL_SPEEDUP)}  "
        "model path never slower than a peer: worst "
        + ("—" if worst_model is None else f"{worst_model[0]:.2f}x ({worst_model[1]})")
    )
    ours_memory = max((cell["ours"], label) for label, cell in ratios.items())
    lines.append(
        f"{verdict(ours_memory[0] <= GOAL_MEMORY_RATIO)}  proba peak extra memory "
        f"<= {GOAL_MEMORY_RATIO:g}x P: worst {ours_memory[0]:.3f}x ({ours_memory[1]})"
    )
    cells = [row.same[p] for row in rows for p in PEERS if row.same.get(p) in ("yes", "no")]
    lines.append(
        f"{verdict(None if not cells else all(c == 'yes' for c in cells))}  same top-{K} sets: "
        f"{cells.count('yes')}/{len(cells)} cells agree"
    )
    return lines


def activelab_threads() -> str:
    """Threads our kernels use (``ACTIVELAB_NUM_THREADS`` or the CPU count), if exposed."""
    try:
        return str(importlib.import_module("activelab._parallel").n_threads())
    except (ImportError, AttributeError):
        return "1 (no activelab._parallel)"


def main() -> int:
    """Run the benchmark, print the tables, return the exit status."""
    console = Console() if sys.stdout.isatty() else Console(width=170)
    peers = load_peers()
    for line in machine_lines(
        (
            "numpy",
            "numba",
            "scikit-learn",
            "activelab",
            ("modAL", "modAL-python"),
            ("skactiveml", "scikit-activeml"),
        ),
        threads=f"activelab threads {activelab_threads()} | BLAS threads {BLAS_THREADS}",
    ):
        console.print(line)

    rng = np.random.default_rng(SEED)
    P = rng.random((N_PROBA, N_CLASSES))
    P /= P.sum(axis=1, keepdims=True)
    tied = [m.label for m in MEASURES if not tie_free_at_k(m.ours(P), K)]
    if tied:
        console.print(f"warning: proba-path ties at rank {K} for {tied}; sets may differ.")
    select.top_k(np.arange(N_CLASSES, dtype=np.float64), 1)  # compile/load the kernels

    with threadpool_limits(limits=BLAS_THREADS):
        rows = proba_path(P, peers) + model_path(peers)
        ratios = memory_ratios(P, peers)

    console.print(results_table(rows))
    console.print(memory_table(ratios, P.nbytes))
    for line in goal_lines(rows, ratios):
        console.print(line, markup=False, highlight=False)

    failed = [
        f"{row.path}/{row.measure}/{row.what}: {p} {row.same[p]}"
        for row in rows
        for p in PEERS
        if row.same.get(p) in ("no", "error")
    ]
    errors = [
        f"{row.path}/{row.measure}/{row.what}: {p} {row.peer_ms[p]}"
        for row in rows
        for p in PEERS
        if isinstance(row.peer_ms.get(p), str) and row.peer_ms[p].startswith("error")
    ]
    for line in dict.fromkeys(failed + errors):
        console.print(f"problem: {line}", markup=False, highlight=False)
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
