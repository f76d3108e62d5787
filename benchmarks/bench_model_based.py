"""Model-based strategies (EGL, EER, VOI): activelab against modAL and scikit-activeml.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_model_based.py`` from the repository root
(``--quick`` for a 300-item pool and 30 candidates). The peers are optional: a peer
that is not importable gets "not installed" in its cells and the rest still runs. The
run retrains a LogisticRegression about 3,500 times (every exact method, ours and the
peers', retrains once per candidate and label): two to four minutes on a quiet 2-core
machine; no data is downloaded.

What it measures
----------------
One seeded problem: ``make_classification`` with 10 features and 3 classes, 50
labelled rows and a pool of ``N_POOL = 1_000``; a ``LogisticRegression(max_iter=1000)``
fitted on the labelled rows, the same model for every library (scikit-activeml's
``SklearnClassifier`` is fitted once on the labelled rows and ours reads its inner
estimator, so the probabilities are bit-identical), called without refitting it.

Expected error reduction retrains the model once per candidate and label, so the
exact methods score ``N_CANDIDATES = 100`` candidates: ours picks the pool items with
the smallest top-two margin (``candidates=100, prescreen="margin"``) and
scikit-activeml gets the very same items as ``candidates``; both evaluate the loss on
the whole pool (scikit-activeml: ``X_eval`` = the pool). modAL cannot be given
candidates apart from its evaluation set: it scores the items its ``p_subsample``
coin flips keep (``p_subsample = 0.1``, numpy's global generator seeded, about 100
items) on the pool without the candidate. modAL 0.4.2.1 annotates ``p_subsample`` with
``np.float``, which NumPy 1.24 removed: this script sets ``np.float = float`` in its
own process before importing it.

Rows (one per utility): EER with the log loss (scikit-activeml ``MonteCarloEER(method=
"log_loss")``, modAL ``loss="log"``), EER with the 0/1 loss (``"misclassification_loss"``,
modAL ``"binary"``) and value of information (scikit-activeml ``ValueOfInformationEER``
with its defaults; modAL has none). EGL (no peer implements it) is timed on the whole
pool in a second table, against ``predict_proba`` of the pool as the floor.

Columns
-------
``exact s``, ``warm s``, ``fast s``, ``fast pool s``, ``skal s``, ``modAL s``
    Wall time in seconds (``time.perf_counter``), one BLAS thread for everyone
    (``threadpool_limits``). Ours: ``method="exact", warm_start=False`` (cold retraining,
    the peers' work); ``warm_start=True`` (the default: each retraining starts from the
    fitted weights); ``method="fast"`` (5 Newton steps) on the same 100 candidates, and
    on the whole pool (1,000 candidates). The retraining calls run once (seconds each,
    nothing to warm up); the fast calls race (a warm-up run, then the best of at least
    three).
``skal/fast``, ``modAL/fast``
    Peer time per candidate divided by ``fast`` time per candidate: above 1 means ours is
    faster. ``skal/exact``: the same against our cold exact method.
``ρ fast~exact``, ``ρ infl~exact``
    Spearman correlation of our fast (and influence-function) utilities with our exact
    ones over the 100 candidates.
``ρ exact~skal``, ``top10 = skal``
    Spearman correlation of our exact utilities with scikit-activeml's over the same
    candidates, and whether the ten best candidates are the same set (the definitions
    agree: they must).
``ρ fast~modAL``
    Spearman correlation of our fast utilities (the whole-pool run) with modAL's over
    the items modAL scored. modAL leaves the candidate out of its evaluation set, so its
    utilities differ from ours by the candidate's own term.

The script exits with status 1 when a ranking that must agree with scikit-activeml's
does not, or a peer call fails, after printing everything.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    NOT_INSTALLED,
    Outcome,
    fmt_ratio,
    fmt_seconds,
    load_peer,
    machine_lines,
    markdown_table,
    missing_activelab,
    race,
    verdict,
)

try:
    from activelab.strategies import (
        ExpectedErrorReduction,
        ExpectedGradientLength,
        ValueOfInformationEER,
    )
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0
N_LABELLED, N_FEATURES, N_CLASSES = 50, 10, 3
N_POOL, N_CANDIDATES = 1_000, 100
N_POOL_QUICK, N_CANDIDATES_QUICK = 300, 30
MODAL_KEEP = 0.1  # modAL's p_subsample: about N_CANDIDATES candidates
THREADS = 1
GOAL_SPEEDUP = 10.0  # fast EER: at least this many times faster than each peer
GOAL_SPEARMAN = 0.9  # fast EER ranks like exact EER


@dataclass
class Problem:
    """The shared inputs: data, the fitted model, and scikit-activeml's view of them."""

    X_lab: np.ndarray
    y_lab: np.ndarray
    X_pool: np.ndarray
    model: Any
    candidates: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    skal_clf: Any = None


@dataclass
class Row:
    """One utility: times in seconds (or a reason string) and the agreement measures."""

    utility: str
    seconds: dict[str, float | str] = field(default_factory=dict)
    n_scored: dict[str, int] = field(default_factory=dict)
    rho: dict[str, float | str] = field(default_factory=dict)
    top10: str = "—"


def load_peers() -> dict[str, dict[str, Any] | None]:
    """Each peer's entry points; None for a peer that is not importable."""

    def skactiveml() -> dict[str, Any]:
        pool = importlib.import_module("skactiveml.pool")
        return {
            "MonteCarloEER": pool.MonteCarloEER,
            "ValueOfInformationEER": pool.ValueOfInformationEER,
            "SklearnClassifier": importlib.import_module("skactiveml.classifier").SklearnClassifier,
        }

    def modal() -> dict[str, Any]:
        if not hasattr(np, "float"):
            np.float = float  # noqa: NPY001 - modAL 0.4.2.1 annotates with the removed alias
        return {
            "eer": importlib.import_module("modAL.expected_error").expected_error_reduction,
            "ActiveLearner": importlib.import_module("modAL.models").ActiveLearner,
        }

    return {"skactiveml": load_peer(skactiveml), "modAL": load_peer(modal)}


def make_problem(peers: dict[str, dict[str, Any] | None], n_pool: int) -> Problem:
    """The seeded data set and the one fitted model every library reads."""
    X, y = make_classification(
        n_samples=N_LABELLED + n_pool,
        n_features=N_FEATURES,
        n_informative=6,
        n_redundant=2,
        n_classes=N_CLASSES,
        n_clusters_per_class=1,
        random_state=SEED,
    )
    X_lab, y_lab, X_pool = X[:N_LABELLED], y[:N_LABELLED], X[N_LABELLED:]
    skal = peers["skactiveml"]
    if skal is not None:
        y_all = np.concatenate([y_lab.astype(float), np.full(n_pool, np.nan)])
        clf = skal["SklearnClassifier"](
            LogisticRegression(max_iter=1000), classes=np.arange(N_CLASSES), random_state=SEED
        ).fit(np.vstack([X_lab, X_pool]), y_all)
        return Problem(X_lab, y_lab, X_pool, clf.estimator_, skal_clf=clf)
    return Problem(X_lab, y_lab, X_pool, LogisticRegression(max_iter=1000).fit(X_lab, y_lab))


def once(call: Callable[[], Any]) -> Outcome:
    """One timed run (retraining calls take seconds and have nothing to warm up)."""
    return race({"call": call}, warmup=False, min_repeats=1, max_repeats=1, budget_s=0.0)["call"]


def best(call: Callable[[], Any]) -> Outcome:
    """A warm-up run, then the best of at least three."""
    return race({"call": call}, min_repeats=3, max_repeats=10, budget_s=2.0)["call"]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ over the entries finite in both."""
    both = np.isfinite(a) & np.isfinite(b)
    return float(spearmanr(a[both], b[both])[0])


def bench_utility(
    problem: Problem,
    peers: dict[str, dict[str, Any] | None],
    utility: str,
    n_candidates: int,
) -> Row:
    """Time and compare every method for one utility ("log", "zero_one" or "voi")."""
    p = problem
    n_pool = p.X_pool.shape[0]
    row = Row(utility)

    def ours(**params: Any) -> Any:
        if utility == "voi":
            return ValueOfInformationEER(**params)
        return ExpectedErrorReduction(loss=utility, **params)

    def utilities(strategy: Any) -> Callable[[], np.ndarray]:
        return lambda: strategy.utilities(p.model, p.X_pool, p.X_lab, p.y_lab, random_state=SEED)

    subset = {"candidates": n_candidates}
    outcomes = {
        "exact": once(utilities(ours(method="exact", warm_start=False, **subset))),
        "warm": once(utilities(ours(method="exact", **subset))),
        "fast": best(utilities(ours(method="fast", **subset))),
        "influence": best(utilities(ours(method="influence", **subset))),
        "fast pool": best(utilities(ours(method="fast"))),
    }
    for name, outcome in outcomes.items():
        if outcome.error:
            raise RuntimeError(f"{utility}/{name}: ours failed: {outcome.error}")
        row.seconds[name] = outcome.best or 0.0
        row.n_scored[name] = n_pool if name == "fast pool" else n_candidates
    exact = outcomes["exact"].result
    candidates = np.flatnonzero(np.isfinite(exact))
    row.rho["fast~exact"] = spearman(outcomes["fast"].result, exact)
    row.rho["infl~exact"] = spearman(outcomes["influence"].result, exact)

    skal = peers["skactiveml"]
    if skal is None:
        row.seconds["skal"] = NOT_INSTALLED
    else:
        X_all = np.vstack([p.X_lab, p.X_pool])
        y_all = np.concatenate([p.y_lab.astype(float), np.full(n_pool, np.nan)])
        if utility == "voi":
            strategy = skal["ValueOfInformationEER"](random_state=SEED)
            extra: dict[str, Any] = {}
        else:
            method = "log_loss" if utility == "log" else "misclassification_loss"
            strategy = skal["MonteCarloEER"](method=method, random_state=SEED)
            extra = {"X_eval": p.X_pool}

        def skal_call() -> np.ndarray:
            _, scores = strategy.query(
                X_all,
                y_all,
                p.skal_clf,
                fit_clf=True,  # its retraining needs the training rows, known only after fit
                candidates=candidates + N_LABELLED,
                return_utilities=True,
                **extra,
            )
            return scores[0, N_LABELLED:]

        outcome = once(skal_call)
        if outcome.error:
            row.seconds["skal"] = outcome.error
        else:
            row.seconds["skal"] = outcome.best or 0.0
            row.n_scored["skal"] = candidates.size
            theirs = outcome.result
            row.rho["exact~skal"] = spearman(exact, theirs)
            top_ours = set(candidates[np.argsort(-exact[candidates])[:10]])
            top_theirs = set(candidates[np.argsort(-theirs[candidates])[:10]])
            row.top10 = "yes" if top_ours == top_theirs else f"no ({len(top_ours & top_theirs)})"

    modal = peers["modAL"]
    if utility == "voi":
        row.seconds["modAL"] = "—"
    elif modal is None:
        row.seconds["modAL"] = NOT_INSTALLED
    else:

        def modal_call() -> np.ndarray:
            np.random.seed(SEED)  # noqa: NPY002 - modAL flips its coins with the global generator
            learner = modal["ActiveLearner"](
                estimator=LogisticRegression(max_iter=1000), X_training=p.X_lab, y_training=p.y_lab
            )
            indices, errors = modal["eer"](
                learner,
                p.X_pool,
                loss="log" if utility == "log" else "binary",
                p_subsample=MODAL_KEEP,
                n_instances=n_pool,
            )
            expected = np.empty(n_pool)
            expected[indices] = errors
            return -expected  # utilities: minus the expected error; -inf where not scored

        outcome = once(modal_call)
        if outcome.error:
            row.seconds["modAL"] = outcome.error
        else:
            row.seconds["modAL"] = outcome.best or 0.0
            row.n_scored["modAL"] = int(np.isfinite(outcome.result).sum())
            row.rho["fast~modAL"] = spearman(outcomes["fast pool"].result, outcome.result)
    return row


def per_candidate(row: Row, name: str) -> float | str | None:
    """Seconds per scored candidate, or the cell's reason string."""
    value = row.seconds.get(name)
    if not isinstance(value, float):
        return value
    return value / max(row.n_scored.get(name, 1), 1)


def fmt_rho(value: float | str | None) -> str:
    """A correlation cell."""
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def eer_table(rows: list[Row]) -> str:
    """The EER/VOI results as a markdown table."""
    headers = [
        "utility",
        "exact s",
        "warm s",
        "fast s",
        "fast pool s",
        "skal s",
        "modAL s (n)",
        "skal/exact",
        "skal/fast",
        "modAL/fast",
        "ρ fast~exact",
        "ρ infl~exact",
        "ρ exact~skal",
        "top10 = skal",
        "ρ fast~modAL",
    ]
    body = []
    for row in rows:
        modal = fmt_seconds(row.seconds.get("modAL"))
        if "modAL" in row.n_scored:
            modal += f" ({row.n_scored['modAL']})"
        body.append(
            [
                row.utility,
                *(
                    fmt_seconds(row.seconds.get(name))
                    for name in ("exact", "warm", "fast", "fast pool", "skal")
                ),
                modal,
                fmt_ratio(per_candidate(row, "skal"), per_candidate(row, "exact"), ".1f"),
                fmt_ratio(per_candidate(row, "skal"), per_candidate(row, "fast"), ".0f"),
                fmt_ratio(per_candidate(row, "modAL"), per_candidate(row, "fast"), ".0f"),
                *(
                    fmt_rho(row.rho.get(name))
                    for name in ("fast~exact", "infl~exact", "exact~skal")
                ),
                row.top10,
                fmt_rho(row.rho.get("fast~modAL")),
            ]
        )
    return markdown_table(headers, body, right=range(1, len(headers)))


def egl_table(problem: Problem) -> str:
    """EGL on the whole pool against predict_proba of the pool."""
    p = problem
    outcomes = race(
        {
            "egl": lambda: ExpectedGradientLength().query(p.model, p.X_pool, 10, random_state=0),
            "floor": lambda: p.model.predict_proba(p.X_pool),
        },
        min_repeats=5,
        max_repeats=200,
        budget_s=1.0,
    )
    egl, floor = outcomes["egl"].best, outcomes["floor"].best
    row = [
        f"egl (pool {p.X_pool.shape[0]:,}, k=10)",
        fmt_seconds(egl),
        fmt_seconds(floor),
        fmt_ratio(egl, floor, ".1f"),
    ]
    return markdown_table(["strategy", "ours", "predict_proba", "ours/floor"], [row], [1, 2, 3])


def main() -> int:
    """Run the benchmark, print the tables, return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"pool of {N_POOL_QUICK}")
    args = parser.parse_args()
    n_pool = N_POOL_QUICK if args.quick else N_POOL
    n_candidates = N_CANDIDATES_QUICK if args.quick else N_CANDIDATES
    warnings.filterwarnings("ignore", category=UserWarning)  # peers' feature-name warnings
    warnings.filterwarnings("ignore", category=SyntaxWarning)  # modAL's `is 'binary'`
    peers = load_peers()
    for line in machine_lines(
        (
            "numpy",
            "scikit-learn",
            "activelab",
            ("skactiveml", "scikit-activeml"),
            ("modAL", "modAL-python"),
        ),
        threads=f"BLAS/OpenMP threads {THREADS} | pool {n_pool} x {N_FEATURES}, "
        f"{N_LABELLED} labelled, {N_CLASSES} classes, {n_candidates} candidates",
    ):
        print(line)
    problem = make_problem(peers, n_pool)
    with threadpool_limits(limits=THREADS):
        rows = []
        for utility in ("log", "zero_one", "voi"):
            rows.append(bench_utility(problem, peers, utility, n_candidates))
            print(f"  done: {utility}", flush=True)
        egl = egl_table(problem)
    print()
    print(eer_table(rows))
    print()
    print(egl)
    print()
    problems = []
    for row in rows:
        for peer in ("skal", "modAL"):
            cell = row.seconds.get(peer)
            if isinstance(cell, str) and cell.startswith("error"):
                problems.append(f"{row.utility}: {peer} {cell}")
        if row.top10.startswith("no"):
            problems.append(f"{row.utility}: top-10 differs from scikit-activeml's {row.top10}")
    speedups = [
        value / fast
        for row in rows
        for peer in ("skal", "modAL")
        if isinstance(value := per_candidate(row, peer), float)
        and isinstance(fast := per_candidate(row, "fast"), float)
    ]
    rhos = [row.rho["fast~exact"] for row in rows]
    print(
        f"goal: fast EER >= {GOAL_SPEEDUP:.0f}x faster than each peer per candidate: "
        f"{verdict(min(speedups) >= GOAL_SPEEDUP if speedups else None)} "
        f"(smallest {min(speedups, default=float('nan')):.0f}x)"
    )
    print(
        f"goal: Spearman(fast, exact) >= {GOAL_SPEARMAN}: "
        f"{verdict(min(rhos) >= GOAL_SPEARMAN)} (smallest {min(rhos):.3f})"
    )
    for line in problems:
        print(f"problem: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
