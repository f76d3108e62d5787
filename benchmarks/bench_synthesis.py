"""Membership query synthesis: oracle calls to map a feasible region vs random and grid designs.

How to run
----------
``.venv/bin/python benchmarks/bench_synthesis.py`` from the repository root (``--seeds 3``
for a shorter run). Nothing is downloaded: the "simulators" are the functions below.

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

The sequential designs are scored every ``EVAL_EVERY`` calls, so their call counts are
rounded up to that step; a run stops at the target or at ``BUDGET`` calls (shown as
``> BUDGET``). 10 seeds (the design's random draws; the test set is fixed).

Columns
-------
``median calls``
    Median over seeds of the oracle calls to reach the target, with the range.
``reached``
    Seeds that reached it within the budget.
``vs random``
    Median calls of random over median calls of the design (above 1: fewer calls); "≥"
    when random's median run never reached the target, so its count is only a bound.
``seconds``
    Wall time of the design's runs over all seeds (model fits and test scoring
    included).
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


def grid_calls(problem: dict, X_test: np.ndarray, y_test: np.ndarray) -> int | None:
    box = np.asarray(problem["bounds"])
    for m in range(2, 100):
        calls = m ** len(box)
        if calls > problem["budget"] * 20:
            return None
        axes = [np.linspace(low, high, m) for low, high in box]
        X = np.array(np.meshgrid(*axes)).reshape(len(box), -1).T
        y = problem["region"](X)
        if len(np.unique(y)) < 2:
            continue
        if np.mean(model(problem).fit(X, y).predict(X_test) == y_test) >= problem["target"]:
            return calls
    return None


def sequential_calls(problem: dict, method: str, seed: int, X_test, y_test) -> int | None:
    region = problem["region"]
    result = synthesis.learn(
        lambda x: int(region(x)[0]),
        problem["bounds"],
        model(problem),
        problem["budget"],
        method=method,
        X_test=X_test,
        y_test=y_test,
        eval_every=problem["eval_every"],
        stop_at=problem["target"],
        n_restarts=3,
        n_candidates=256,
        random_state=seed,
    )
    return result.calls_to_reach(problem["target"])


def summary(calls: list[int | None], budget: int) -> tuple[str, str, float]:
    """``"median (range)"``, ``"reached/seeds"`` and the median (``budget + 1`` when the
    median run did not reach the target: a lower bound)."""
    values = np.array([budget + 1 if c is None else c for c in calls], dtype=float)
    median = float(np.median(values))
    shown = f"> {budget}" if median > budget else f"{median:.0f}"
    low, high = values.min(), values.max()
    if low > budget:
        spread = f"all > {budget}"
    elif high > budget:
        spread = f"{low:.0f}–> {budget}"
    else:
        spread = f"{low:.0f}–{high:.0f}"
    reached = sum(c is not None for c in calls)
    return f"{shown} ({spread})", f"{reached}/{len(calls)}", median


def versus_random(medians: dict, method: str, budget: int) -> str:
    """Median calls of random over the design's; "≥" when random's is a lower bound."""
    if not np.isfinite(medians[method]):
        return "—"
    ratio = medians["random"] / medians[method]
    bound = "≥ " if medians["random"] > budget and method != "random" else ""
    return f"{bound}{ratio:.1f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print("\n".join(machine_lines(["numpy", "scipy", "scikit-learn"])))
    started = time.perf_counter()
    for name, problem in PROBLEMS.items():
        X_test, y_test = test_set(problem)
        print(
            f"\n### {name}: target accuracy {problem['target']}, "
            f"{y_test.mean():.0%} of the test points feasible, budget {problem['budget']}\n"
        )
        rows, medians = [], {}
        for method in METHODS:
            clock = time.perf_counter()
            calls = [
                sequential_calls(problem, method, seed, X_test, y_test)
                for seed in range(args.seeds)
            ]
            shown, reached, medians[method] = summary(calls, problem["budget"])
            rows.append([method, shown, reached, time.perf_counter() - clock])
            print(f"  {method}: {calls}", file=sys.stderr)
        clock = time.perf_counter()
        grid = grid_calls(problem, X_test, y_test)
        rows.append(
            [
                "grid",
                "—" if grid is None else str(grid),
                "—" if grid is None else "1/1",
                time.perf_counter() - clock,
            ]
        )
        medians["grid"] = np.inf if grid is None else grid
        table = [
            [
                method,
                shown,
                reached,
                versus_random(medians, method, problem["budget"]),
                f"{seconds:.0f}",
            ]
            for (method, shown, reached, seconds) in rows
        ]
        print(
            markdown_table(
                ["design", "median calls (range)", "reached", "vs random", "seconds"],
                table,
                right=[1, 2, 3, 4],
            )
        )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
