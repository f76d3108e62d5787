"""Membership query synthesis: oracle calls to map a feasible region vs random and grid designs.

How to run
----------
``nice -n 5 .venv/bin/python benchmarks/bench_synthesis.py`` from the repository root
(``--seeds 3`` for a shorter run, ``--jobs`` for worker processes). It prints the tables,
writes them to ``benchmarks/results/synthesis.md`` (``--out``) and draws
``docs/img/synthesis-calls.png`` (``--plot``). Nothing is downloaded: the "simulators"
are the functions below.

What it measures
----------------
A black-box simulator answers, for a point of a box, whether it is feasible (1) or not
(0); the feasible region is cut out by nonlinear constraints. The learner must map it:
its model's accuracy on a fixed test set (a 100 × 100 grid in 2-D, 5,000 uniform points
in 4-D) must reach a target. The model is the same RBF SVC for every design. Designs:

``bisection``, ``optimize``
    :func:`activelab.synthesis.learn` with that method: a Latin hypercube of ``2 d``
    points (at least 4), then one synthesised query at a time (boundary search by
    bisection; L-BFGS-B on the entropy of the model's probabilities, from 3 starts).
``random``
    ``learn(..., method="random")``: uniform random points, one at a time.
``grid``
    The full ``m^d`` grid (``m`` points per axis, corners included) for ``m = 2, 3, …``:
    the calls of the first grid whose model reaches the target. It does not depend on a
    seed.

The sequential designs are scored every ``eval_every`` calls (5 in 2-D, 10 in 4-D), so
their call counts are rounded up to that step. Every run goes on to the full budget (200
calls in 2-D, 300 in 4-D) so that the plot shows the whole curve; the calls to reach
the target are read off the curve (the first evaluation at or above it), which is what
``stop_at`` would have stopped at. A run that never reaches it is shown as ``> budget``.
10 seeds (the design's random draws; the test set is fixed).

Columns
-------
``median calls``
    Median over seeds of the oracle calls to reach the target, with the range.
``IQR``
    Interquartile range of those calls over the seeds (a run that never reached the
    target counts as ``budget + 1``, so a bound above the budget is shown as ``>``).
``reached``
    Seeds that reached it within the budget.
``vs random``
    Median calls of random over median calls of the design (above 1: fewer calls); "≥"
    when random's median run never reached the target, so its count is only a bound.
``seconds``
    Wall time of the design's runs over all seeds (model fits and test scoring
    included), each run to the full budget.

The plot
--------
One panel per problem: the median test accuracy of each design against oracle calls over
the seeds, the interquartile range shaded; the grid designs (``m^d`` calls for ``m = 2,
3, …``) as black squares, with the first one to reach the target circled; the target as
a dotted line. The call axis is logarithmic, as the grid needs far more calls.
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
    from sklearn.svm import SVC

    from activelab import synthesis
except ImportError as error:  # pragma: no cover - run from the wrong environment
    from _common import missing_activelab

    missing_activelab(error)


def band_2d(X: np.ndarray) -> np.ndarray:
    """Above a wavy parabola and inside a disc: two nonlinear constraints in 2-D."""
    X = np.atleast_2d(X)
    above = X[:, 1] >= X[:, 0] ** 2 - 1.2 + 0.4 * np.sin(3.0 * X[:, 0])
    inside = X[:, 0] ** 2 + X[:, 1] ** 2 <= 2.5
    return (above & inside).astype(int)


def lens_4d(X: np.ndarray) -> np.ndarray:
    """Inside an ellipsoid and on one side of a curved surface, in 4-D."""
    X = np.atleast_2d(X)
    inside = X[:, 0] ** 2 + 2.0 * X[:, 1] ** 2 + X[:, 2] ** 2 + X[:, 3] ** 2 <= 1.5
    side = X[:, 0] + 0.5 * np.sin(2.0 * X[:, 1]) + 0.3 * X[:, 2] * X[:, 3] >= -0.2
    return (inside & side).astype(int)


PROBLEMS = {
    "2-D band": {
        "region": band_2d,
        "bounds": [(-2.0, 2.0)] * 2,
        "gamma": 2.0,
        "target": 0.97,
        "budget": 200,
        "eval_every": 5,
    },
    "4-D lens": {
        "region": lens_4d,
        "bounds": [(-1.0, 1.0)] * 4,
        "gamma": 1.0,
        "target": 0.95,
        "budget": 300,
        "eval_every": 10,
    },
}
METHODS = ("bisection", "optimize", "random")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "synthesis.md"
PLOT = ROOT / "docs" / "img" / "synthesis-calls.png"


def test_set(problem: dict) -> tuple[np.ndarray, np.ndarray]:
    box = np.asarray(problem["bounds"])
    if len(box) == 2:
        axes = [np.linspace(low, high, 100) for low, high in box]
        X = np.array(np.meshgrid(*axes)).reshape(2, -1).T
    else:
        X = np.random.default_rng(12345).uniform(box[:, 0], box[:, 1], (5000, len(box)))
    return X, problem["region"](X)


def model(problem: dict) -> SVC:
    return SVC(C=100.0, gamma=problem["gamma"])


def grid_curve(problem: dict, X_test: np.ndarray, y_test: np.ndarray) -> list[tuple[int, float]]:
    """``(m^d, accuracy)`` of the full grid designs, ``m = 2, 3, …``, up to the first that
    reaches the target (or ``20 × budget`` calls); grids whose answers hold one class are
    left out (no classifier can be fitted)."""
    box = np.asarray(problem["bounds"])
    points = []
    for m in range(2, 100):
        calls = m ** len(box)
        if calls > problem["budget"] * 20:
            break
        axes = [np.linspace(low, high, m) for low, high in box]
        X = np.array(np.meshgrid(*axes)).reshape(len(box), -1).T
        y = problem["region"](X)
        if len(np.unique(y)) < 2:
            continue
        accuracy = float(np.mean(model(problem).fit(X, y).predict(X_test) == y_test))
        points.append((calls, accuracy))
        if accuracy >= problem["target"]:
            break
    return points


def grid_calls(points: list[tuple[int, float]], target: float) -> int | None:
    """Calls of the first grid design that reaches ``target``."""
    return next((calls for calls, accuracy in points if accuracy >= target), None)


def sequential_run(name: str, method: str, seed: int) -> dict:
    """One design run to the full budget: its accuracy curve and wall time."""
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore")
    problem = PROBLEMS[name]
    X_test, y_test = test_set(problem)
    region = problem["region"]
    clock = time.perf_counter()
    with threadpool_limits(limits=1):
        result = synthesis.learn(
            lambda x: int(region(x)[0]),
            problem["bounds"],
            model(problem),
            problem["budget"],
            method=method,
            X_test=X_test,
            y_test=y_test,
            eval_every=problem["eval_every"],
            n_restarts=3,
            n_candidates=256,
            random_state=seed,
        )
    return {
        "calls": result.calls_to_reach(problem["target"]),
        "n_evaluated": np.asarray(result.n_evaluated),
        "accuracy": np.asarray(result.accuracy),
        "seconds": time.perf_counter() - clock,
    }


def summary(calls: list[int | None], budget: int) -> tuple[str, str, str, float]:
    """``"median (range)"``, ``"q25–q75"``, ``"reached/seeds"`` and the median
    (``budget + 1`` when the median run did not reach the target: a lower bound)."""
    values = np.array([budget + 1 if c is None else c for c in calls], dtype=float)
    median = float(np.median(values))

    def shown(value: float) -> str:
        return f"> {budget}" if value > budget else f"{value:.0f}"

    low, high = values.min(), values.max()
    if low > budget:
        spread = f"all > {budget}"
    elif high > budget:
        spread = f"{low:.0f}–> {budget}"
    else:
        spread = f"{low:.0f}–{high:.0f}"
    q25, q75 = np.percentile(values, [25, 75])
    reached = sum(c is not None for c in calls)
    return (
        f"{shown(median)} ({spread})",
        f"{shown(q25)}–{shown(q75)}",
        f"{reached}/{len(calls)}",
        median,
    )


def versus_random(medians: dict, method: str, budget: int) -> str:
    """Median calls of random over the design's; "≥" when random's is a lower bound."""
    if not np.isfinite(medians[method]):
        return "—"
    ratio = medians["random"] / medians[method]
    bound = "≥ " if medians["random"] > budget and method != "random" else ""
    return f"{bound}{ratio:.1f}×"


def median_curve(runs: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calls, median and quartiles of the accuracy over the seeds, at common evaluations."""
    length = min(len(run["n_evaluated"]) for run in runs)
    calls = runs[0]["n_evaluated"][:length]
    stack = np.array([run["accuracy"][:length] for run in runs])
    low, median, high = np.percentile(stack, [25, 50, 75], axis=0)
    return calls, median, low, high


def plot(curves: dict, grids: dict, seeds: int, path: Path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PROBLEMS), figsize=(5.4 * len(PROBLEMS), 4.0), squeeze=False)
    for ax, (name, problem) in zip(axes[0], PROBLEMS.items(), strict=True):
        target = problem["target"]
        for index, method in enumerate(METHODS):
            calls, median, low, high = median_curve(curves[(name, method)])
            ax.plot(calls, median, color=f"C{index}", lw=1.5, label=method)
            ax.fill_between(calls, low, high, color=f"C{index}", alpha=0.15)
        points = grids[name]
        if points:
            grid_x, grid_y = zip(*points, strict=True)
            ax.plot(grid_x, grid_y, "ks:", ms=5, lw=0.8, label="grid m^d")
            reached = grid_calls(points, target)
            if reached is not None:
                accuracy = dict(points)[reached]
                ax.plot([reached], [accuracy], "o", ms=12, mfc="none", mec="k")
                ax.annotate(
                    f"grid reaches it: {reached:,} calls",
                    (reached, accuracy),
                    textcoords="offset points",
                    xytext=(-8, -22),
                    ha="right",
                    fontsize=8,
                )
        ax.axhline(target, color="grey", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("oracle calls (log scale)")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0.5, 1.0)
        ax.set_title(f"{name}: target {target}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"Membership query synthesis: median of {seeds} seeds (IQR shaded) vs grid designs",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--out", type=Path, default=OUT, help="markdown file to write")
    parser.add_argument("--plot", type=Path, default=PLOT, help="PNG to draw")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    header = machine_lines(["numpy", "scipy", "scikit-learn"])
    print("\n".join(header))
    started = time.perf_counter()
    jobs = [(n, m, s) for n in PROBLEMS for m in METHODS for s in range(args.seeds)]
    if args.jobs == 1:
        found = [sequential_run(*job) for job in jobs]
    else:
        from joblib import Parallel, delayed

        found = Parallel(n_jobs=args.jobs)(delayed(sequential_run)(*job) for job in jobs)
    runs = dict(zip(jobs, found, strict=True))
    curves = {
        (n, m): [runs[(n, m, s)] for s in range(args.seeds)] for n in PROBLEMS for m in METHODS
    }
    sections, grids = [], {}
    for name, problem in PROBLEMS.items():
        X_test, y_test = test_set(problem)
        budget = problem["budget"]
        rows, medians = [], {}
        for method in METHODS:
            calls = [run["calls"] for run in curves[(name, method)]]
            shown, iqr, reached, medians[method] = summary(calls, budget)
            seconds = sum(run["seconds"] for run in curves[(name, method)])
            rows.append([method, shown, iqr, reached, seconds])
            print(f"  {name} {method}: {calls}", file=sys.stderr)
        clock = time.perf_counter()
        grids[name] = grid_curve(problem, X_test, y_test)
        grid = grid_calls(grids[name], problem["target"])
        rows.append(
            [
                "grid",
                "—" if grid is None else f"{grid:,}",
                "—",
                "—" if grid is None else "1/1",
                time.perf_counter() - clock,
            ]
        )
        medians["grid"] = np.inf if grid is None else grid
        table = [
            [method, shown, iqr, reached, versus_random(medians, method, budget), f"{sec:.0f}"]
            for (method, shown, iqr, reached, sec) in rows
        ]
        grid_line = ", ".join(f"{calls:,} calls → {acc:.3f}" for calls, acc in grids[name])
        sections += [
            f"### {name}: target accuracy {problem['target']}, {y_test.mean():.0%} of the "
            f"test points feasible, budget {budget}, scored every {problem['eval_every']} calls",
            "",
            markdown_table(
                ["design", "median calls (range)", "IQR", "reached", "vs random", "seconds"],
                table,
                right=[1, 2, 3, 4, 5],
            ),
            "",
            f"Grid designs (calls → test accuracy): {grid_line}.",
            "",
        ]
    wall = time.perf_counter() - started
    picture = plot(curves, grids, args.seeds, args.plot)
    command = "nice -n 5 .venv/bin/python benchmarks/bench_synthesis.py" + (
        " " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else ""
    )
    text = "\n".join(
        [
            "# Membership query synthesis: oracle calls to map a feasible region",
            "",
            f"Command: `{command}`. Seeds 0–{args.seeds - 1} (the designs' random draws; "
            "the test sets are fixed), the same RBF SVC for every design; see the script's "
            f"docstring for exactly what runs. Plot: `{picture}`.",
            "",
            *[f"    {line}" for line in header],
            "",
            *sections,
            f"{len(jobs)} runs in {wall / 60:.1f} min on {args.jobs} worker process(es); "
            "the machine's 2 cores were shared with other jobs.",
            "",
        ]
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} and {picture}", file=sys.stderr)


if __name__ == "__main__":
    main()
