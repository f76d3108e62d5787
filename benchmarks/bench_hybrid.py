"""Hybrid strategies: activelab against scikit-activeml and small-text, on identical inputs.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_hybrid.py`` from the repository root. The peers
are optional: a peer that is not importable gets "not installed" in its cells and the rest
still runs. The run takes two to four minutes on a 2-core machine (scikit-activeml's
per-pick DAL refits its discriminator 100 times); no data is downloaded.

What it measures
----------------
One seeded problem: ``make_classification`` with 64 features and 10 classes, 300 labelled
rows and a pool of ``10_000 x 64`` (the features are the embedding), a
LogisticRegression fitted on the labelled rows, and a batch of ``K = 100``. Every library
gets the same fitted model (scikit-activeml's ``SklearnClassifier`` wrapper is fitted
once and ours is its inner estimator, so the probabilities are bit-identical) and is
called without refitting it (``fit_clf=False``).

Rows: ``clue``, ``falcun``, ``dropquery``, ``contrastive`` and ``discriminative``, in the
settings where definitions agree (so the batches can be compared) and with each library's
defaults. scikit-activeml's FALCUN draws from a ``RandomState``; ours draws from a
``numpy.random.Generator`` built on the very same bit generator and state, so the two
see the same uniform numbers and must draw the same batch, in the same order.

Columns
-------
``ours ms``, ``skactiveml ms``, ``small-text ms``
    Best wall time in milliseconds (``time.perf_counter``). Calls race: each runs once
    to warm up (numba kernels compile or load from cache; its batch is kept for the
    comparison), then the calls take turns, one timed run each per round, so load from
    other processes hits them alike. Slow rows (the discriminative rows that refit
    many times) take the best of two runs, the first included. One BLAS/OpenMP thread
    for everyone (``threadpool_limits``): scikit-learn's KMeans would otherwise use
    OpenMP threads that ours does not.
``skal/ours``, ``st/ours``
    Peer time divided by ours; above 1 means we are faster.
``same (skal)``, ``same (st)``
    Whether the peer's batch is the same set as ours (``yes (order)``: the same sequence);
    ``n/a`` where the definitions differ or the result depends on a random start we
    cannot share (k-means seeding), with the overlap ``|ours ∩ peer|`` in brackets.
``quality``
    For the clustering strategies, the (entropy-weighted for CLUE) k-means cost of the
    batch over the pool, ``Σ w_i min_j ‖x_i − x_pick_j‖²``, ours divided by the peer's:
    below 1 means our batch covers the pool better.

The script exits with status 1 when a batch that must agree with a peer's does not, or
a peer call fails, after printing everything.
"""

from __future__ import annotations

import importlib
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
    fmt_ratio,
    load_peer,
    machine_lines,
    missing_activelab,
    race,
)

try:
    from activelab import scores
    from activelab.strategies import CLUE, Contrastive, Discriminative, DropQuery, Falcun
except ImportError as import_error:  # pragma: no cover - environment problem
    missing_activelab(import_error)

SEED = 0
K = 100
N_LABELLED, N_POOL, N_FEATURES, N_CLASSES = 300, 10_000, 64, 10
MAX_REPEATS = 20
MIN_REPEATS = 3
CELL_BUDGET_S = 2.0
THREADS = 1
PEERS = ("skactiveml", "small-text")


@dataclass
class Row:
    """One line of the table; peer cells hold milliseconds or a reason string."""

    strategy: str
    setting: str
    ours_ms: float
    peer_ms: dict[str, float | str] = field(default_factory=dict)
    same: dict[str, str] = field(default_factory=dict)
    quality: str = "—"


@dataclass
class Problem:
    """The shared inputs: data, the fitted model, and each peer's view of them."""

    X_all: np.ndarray
    y_all: np.ndarray  # NaN for the pool rows (scikit-activeml's missing label)
    X_lab: np.ndarray
    y_lab: np.ndarray
    X_pool: np.ndarray
    model: Any  # the fitted LogisticRegression every library reads
    skal_clf: Any = None  # scikit-activeml's fitted SklearnClassifier around ``model``


def load_peers() -> dict[str, dict[str, Any] | None]:
    """Each peer's entry points; None for a peer that is not importable."""

    def skactiveml() -> dict[str, Any]:
        pool = importlib.import_module("skactiveml.pool")
        return {
            "Clue": pool.Clue,
            "Falcun": pool.Falcun,
            "DropQuery": pool.DropQuery,
            "ContrastiveAL": pool.ContrastiveAL,
            "DiscriminativeAL": pool.DiscriminativeAL,
            "SklearnClassifier": importlib.import_module("skactiveml.classifier").SklearnClassifier,
        }

    def small_text() -> dict[str, Any]:
        strategies = importlib.import_module("small_text.query_strategies")
        return {
            "CAL": strategies.ContrastiveActiveLearning,
            "DAL": strategies.DiscriminativeActiveLearning,
            "SklearnDataset": importlib.import_module("small_text.data").SklearnDataset,
            "SklearnClassifierFactory": importlib.import_module(
                "small_text.classifiers.factories"
            ).SklearnClassifierFactory,
        }

    return {"skactiveml": load_peer(skactiveml), "small-text": load_peer(small_text)}


def race_calls(calls: dict[str, Callable[[], Any]], slow: bool = False) -> dict[str, Outcome]:
    """Time calls under the same conditions; best milliseconds in ``Outcome.ms``.

    Every call runs once (warm-up; its result is kept and its error recorded, not
    raised), then the calls take turns, one timed run each per round, until each has
    ``MIN_REPEATS`` runs and ``CELL_BUDGET_S`` spent (``MAX_REPEATS`` at most). For
    ``slow`` calls (no compilation to warm up, seconds per run) the warm-up run is timed
    too and one more round follows: the best of two.
    """
    if slow:
        return race(calls, time_warmup=True, min_repeats=2, max_repeats=1, error_chars=60)
    return race(
        calls,
        min_repeats=MIN_REPEATS,
        max_repeats=MAX_REPEATS,
        budget_s=CELL_BUDGET_S,
        error_chars=60,
    )


def index_list(result: Any, offset: int = 0) -> list[int]:
    """A library's batch as a list of pool indices."""
    return [int(i) - offset for i in np.asarray(result).ravel()]


def coverage_cost(X: np.ndarray, picks: list[int], weights: np.ndarray) -> float:
    """``Σ w_i min_j ‖x_i − x_pick_j‖²`` over the pool, in blocks."""
    centres = X[picks]
    centre_norms = (centres**2).sum(axis=1)
    total = 0.0
    for start in range(0, X.shape[0], 2048):
        block = X[start : start + 2048]
        d = (block**2).sum(axis=1)[:, None] + centre_norms[None, :] - 2.0 * block @ centres.T
        total += float(weights[start : start + 2048] @ np.maximum(d, 0.0).min(axis=1))
    return total


def make_problem(peers: dict[str, dict[str, Any] | None]) -> Problem:
    """The seeded data set and the one fitted model every library reads."""
    X, y = make_classification(
        n_samples=N_LABELLED + N_POOL,
        n_features=N_FEATURES,
        n_informative=20,
        n_redundant=10,
        n_classes=N_CLASSES,
        n_clusters_per_class=1,
        random_state=SEED,
    )
    X_lab, y_lab, X_pool = X[:N_LABELLED], y[:N_LABELLED], X[N_LABELLED:]
    y_all = np.concatenate([y_lab.astype(float), np.full(N_POOL, np.nan)])
    skal = peers["skactiveml"]
    if skal is not None:
        clf = skal["SklearnClassifier"](
            LogisticRegression(max_iter=1000), classes=np.arange(N_CLASSES), random_state=SEED
        ).fit(X, y_all)
        return Problem(X, y_all, X_lab, y_lab, X_pool, clf.estimator_, clf)
    model = LogisticRegression(max_iter=1000).fit(X_lab, y_lab)
    return Problem(X, y_all, X_lab, y_lab, X_pool, model)


def skal_generator() -> np.random.Generator:
    """A Generator on the bit stream scikit-activeml's ``Falcun(random_state=SEED)`` draws.

    scikit-activeml reseeds per query: ``RandomState(SEED).randint(1, 2**31)`` times the
    number of unlabelled rows plus one, modulo ``2**31``, seeds a new ``RandomState``.
    """
    multiplier = N_POOL + 1
    seed = (np.random.RandomState(SEED).randint(1, 2**31) * multiplier) % (2**31)
    return np.random.Generator(np.random.RandomState(seed)._bit_generator)


class EmbedWithProba:
    """small-text's view of our model: ``embed(dataset, return_proba=True)``."""

    def __init__(self, model: Any) -> None:
        """Wrap a fitted scikit-learn classifier whose input is the embedding."""
        self.model = model

    def embed(self, data_set: Any, return_proba: bool = False, **kwargs: Any) -> Any:
        """The features as embeddings, with the model's probabilities if asked."""
        x = np.asarray(data_set.x)
        return (x, self.model.predict_proba(x)) if return_proba else x


def compare(ours: list[int], theirs: list[int], *, must_agree: bool) -> str:
    """The ``same`` cell: yes/no where definitions agree, n/a with the overlap elsewhere."""
    overlap = len(set(ours) & set(theirs))
    if not must_agree:
        return f"n/a ({overlap})"
    if ours == theirs:
        return "yes (order)"
    return "yes" if set(ours) == set(theirs) else f"no ({overlap})"


def make_row(
    strategy: str,
    setting: str,
    ours: Callable[[], Any],
    peer_calls: dict[str, tuple[Callable[[], Any], int, bool] | None],
    slow: bool = False,
    quality: Callable[[list[int], list[int]], str] | None = None,
) -> Row:
    """Race ours and the peers; ``peer_calls[name] = (call, index offset, must_agree)``."""
    calls: dict[str, Callable[[], Any]] = {"ours": ours}
    calls.update({name: spec[0] for name, spec in peer_calls.items() if spec is not None})
    outcomes = race_calls(calls, slow=slow)
    if outcomes["ours"].error:
        raise RuntimeError(f"{strategy}/{setting}: ours failed: {outcomes['ours'].error}")
    row = Row(strategy, setting, outcomes["ours"].ms or 0.0)
    ours_picks = index_list(outcomes["ours"].result)
    for name in PEERS:
        spec = peer_calls.get(name, "absent")
        if spec == "absent":
            row.peer_ms[name] = row.same[name] = "—"
            continue
        if spec is None:
            row.peer_ms[name] = row.same[name] = NOT_INSTALLED
            continue
        outcome = outcomes[name]
        if outcome.error:
            row.peer_ms[name], row.same[name] = outcome.error, "error"
            continue
        theirs = index_list(outcome.result, spec[1])
        row.peer_ms[name] = outcome.ms if outcome.ms is not None else "—"
        row.same[name] = compare(ours_picks, theirs, must_agree=spec[2])
        if quality is not None and name == "skactiveml":
            row.quality = quality(ours_picks, theirs)
    return row


def rows_for(problem: Problem, peers: dict[str, dict[str, Any] | None]) -> list[Row]:
    """Every table row."""
    skal, small = peers["skactiveml"], peers["small-text"]
    p = problem
    model, X_pool, X_lab, y_lab = p.model, p.X_pool, p.X_lab, p.y_lab
    offset = N_LABELLED

    def skal_query(strategy: Any, **kwargs: Any) -> Any:
        return strategy.query(p.X_all, p.y_all, batch_size=K, **kwargs)

    def sk(make: Callable[[], Any], must_agree: bool) -> tuple[Callable[[], Any], int, bool] | None:
        return None if skal is None else (make, offset, must_agree)

    entropy = scores.entropy(model.predict_proba(X_pool))
    ones = np.ones(N_POOL)

    def cost_ratio(weights: np.ndarray) -> Callable[[list[int], list[int]], str]:
        def ratio(ours: list[int], theirs: list[int]) -> str:
            value = coverage_cost(X_pool, ours, weights) / coverage_cost(X_pool, theirs, weights)
            return f"cost {value:.3f}"

        return ratio

    rows = [
        make_row(
            "clue",
            "defaults",
            lambda: CLUE().query(model, X_pool, K, random_state=SEED),
            {
                "skactiveml": sk(
                    lambda: skal_query(
                        skal["Clue"](random_state=SEED), estimator=p.skal_clf, fit_estimator=False
                    ),
                    must_agree=False,
                )
            },
            quality=cost_ratio(entropy),
        ),
        make_row(
            "falcun",
            "gamma=10, shared stream",
            lambda: Falcun(gamma=10).query(model, X_pool, K, random_state=skal_generator()),
            {
                "skactiveml": sk(
                    lambda: skal_query(
                        skal["Falcun"](gamma=10, random_state=SEED), clf=p.skal_clf, fit_clf=False
                    ),
                    must_agree=True,
                )
            },
        ),
        make_row(
            "dropquery",
            "3 masks, r=0.75, no rescale",
            lambda: DropQuery(n_masks=3, rescale=False).query(model, X_pool, K, random_state=SEED),
            {
                "skactiveml": sk(
                    lambda: skal_query(
                        skal["DropQuery"](n_dropout_samples=3, random_state=SEED),
                        clf=p.skal_clf,
                        fit_clf=False,
                    ),
                    must_agree=False,
                )
            },
            quality=cost_ratio(ones),
        ),
    ]

    small_cal = None
    if small is not None:
        dataset = small["SklearnDataset"](p.X_all, np.concatenate([y_lab, np.zeros(N_POOL, int)]))
        unlabelled = np.arange(N_LABELLED, N_LABELLED + N_POOL)
        labelled = np.arange(N_LABELLED)
        stand_in = EmbedWithProba(model)

        def small_cal_call() -> Any:
            strategy = small["CAL"](k=10, normalize=False, pbar=None)
            return strategy.query(stand_in, dataset, unlabelled, labelled, y_lab, n=K)

        small_cal = (small_cal_call, offset, False)
    rows.append(
        make_row(
            "contrastive",
            "K=10",
            lambda: Contrastive(n_neighbors=10).query(model, X_pool, K, X_lab, y_lab, SEED),
            {
                "skactiveml": sk(
                    lambda: skal_query(
                        skal["ContrastiveAL"](
                            nearest_neighbors_dict={"n_neighbors": 10}, random_state=SEED
                        ),
                        clf=p.skal_clf,
                        fit_clf=False,
                    ),
                    must_agree=True,
                ),
                "small-text": small_cal,
            },
        )
    )

    def discriminator() -> Any:
        return skal["SklearnClassifier"](LogisticRegression(max_iter=1000), classes=[0, 1])

    def plain_dal(n_subrounds: int) -> Callable[[], Any]:
        strategy = Discriminative(
            discriminator=LogisticRegression(max_iter=1000),
            n_subrounds=n_subrounds,
            unlabeled_factor=None,
        )
        return lambda: strategy.query(None, X_pool, K, X_lab, y_lab, SEED)

    rows.append(
        make_row(
            "discriminative",
            "one fit, whole pool",
            plain_dal(1),
            {
                "skactiveml": sk(
                    lambda: skal_query(
                        skal["DiscriminativeAL"](greedy_selection=True, random_state=SEED),
                        discriminator=discriminator(),
                    ),
                    must_agree=True,
                )
            },
        )
    )
    small_dal = None
    if small is not None:

        def small_dal_call() -> Any:
            np.random.seed(SEED)  # noqa: NPY002 - small-text draws from the global generator
            factory = small["SklearnClassifierFactory"](LogisticRegression(max_iter=1000), 2)
            strategy = small["DAL"](factory, num_iterations=10, unlabeled_factor=10**6, pbar=None)
            return strategy.query(None, dataset, unlabelled, labelled, y_lab, n=K)

        small_dal = (small_dal_call, offset, True)
    rows.append(
        make_row(
            "discriminative",
            "10 sub-rounds, whole pool",
            plain_dal(10),
            {"small-text": small_dal},
        )
    )
    rows.append(
        make_row(
            "discriminative",
            f"refit per pick ({K} fits)",
            plain_dal(K),
            {
                "skactiveml": sk(
                    lambda: skal_query(
                        skal["DiscriminativeAL"](random_state=SEED), discriminator=discriminator()
                    ),
                    must_agree=True,
                )
            },
            slow=True,
        )
    )
    rows.append(
        make_row(
            "discriminative",
            "defaults (ours: 10 sub-rounds, 10x subsample, balanced)",
            lambda: Discriminative().query(None, X_pool, K, X_lab, y_lab, SEED),
            {
                "skactiveml": sk(
                    lambda: skal_query(
                        skal["DiscriminativeAL"](random_state=SEED), discriminator=discriminator()
                    ),
                    must_agree=False,
                )
            },
            slow=True,
        )
    )
    return rows


def fmt_ms(value: float | str) -> str:
    """A time cell."""
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def print_table(rows: list[Row]) -> None:
    """The results as a Markdown table."""
    header = (
        "| strategy | setting | ours ms | skactiveml ms | skal/ours | small-text ms | st/ours "
        "| same (skal) | same (st) | quality |"
    )
    print(header)
    print("|" + "---|" * 10)
    for row in rows:
        skal, small = row.peer_ms["skactiveml"], row.peer_ms["small-text"]
        cells = [
            row.strategy,
            row.setting,
            fmt_ms(row.ours_ms),
            fmt_ms(skal),
            fmt_ratio(skal, row.ours_ms, ".1f"),
            fmt_ms(small),
            fmt_ratio(small, row.ours_ms, ".1f"),
            row.same["skactiveml"],
            row.same["small-text"],
            row.quality,
        ]
        print("| " + " | ".join(cells) + " |")


def main() -> int:
    """Run the benchmark, print the table, return the exit status."""
    warnings.filterwarnings("ignore", category=UserWarning)  # peers' feature-name warnings
    peers = load_peers()
    for line in machine_lines(
        (
            "numpy",
            "scikit-learn",
            "activelab",
            ("skactiveml", "scikit-activeml"),
            "small-text",
        ),
        threads=f"BLAS/OpenMP threads {THREADS} | pool {N_POOL} x {N_FEATURES}, "
        f"{N_LABELLED} labelled, {N_CLASSES} classes, K={K}",
    ):
        print(line)
    problem = make_problem(peers)
    with threadpool_limits(limits=THREADS):
        rows = rows_for(problem, peers)
    print()
    print_table(rows)
    problems = [
        f"{row.strategy}/{row.setting}: {peer} {row.same[peer]} {row.peer_ms[peer]}"
        for row in rows
        for peer in PEERS
        if row.same[peer].startswith("no") or row.same[peer] == "error"
    ]
    for line in problems:
        print(f"problem: {line}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
