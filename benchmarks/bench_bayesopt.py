"""Batched Bayesian optimisation: simple regret vs evaluations, against random search and peers.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_bayesopt.py`` from the repository root (the peers
scikit-optimize and BoTorch live in ``.venv-bench``; a peer that is not importable is
reported as such). ``--seeds``/``--peer-seeds`` change the number of seeds (10 each),
``--jobs`` the worker processes, ``--quick`` runs 2 seeds (1 for the peers). Nothing is
downloaded: the test functions are formulas and the molecule library ships inside
activelab.

Every finished run is appended to ``benchmarks/results/bayesopt_runs.jsonl`` (``--results``)
and a run already there is not repeated, so a long run can be split and resumed:
``--methods skopt,botorch --jobs 1`` runs only the peers, ``--tasks``/``--batch-sizes``
narrow it further, and ``--report-only`` prints the tables and draws the plot from the
log without running anything.

What it measures
----------------
Three problems, each minimised at batch size 1 and at batch size 96 (a well plate):

``branin`` (2-D box) and ``hartmann6`` (6-D box)
    Known global minima (0.397887 and −3.32237).
``solubility`` (candidate library)
    1,282 molecules as 1024-bit Morgan fingerprints with measured aqueous solubility
    (Huuskonen 2000, shipped with activelab); find the most soluble, i.e. minimise
    ``−log S``. Picked without replacement.

Budgets: batch 1, 60 evaluations (an initial design of ``min(2 d + 2, 20)`` points, then
one at a time); batch 96, an initial plate of 96 then 4 plates on the boxes (480
evaluations) and 2 plates on the library (288 evaluations: with 960 of 1,282 molecules
random search would find the best three times in four).

Methods
-------
``activelab <batch>-<acquisition>``
    :func:`activelab.bayesopt.minimize` with its defaults (GP with Matérn 5/2 ARD, or the
    Tanimoto kernel on fingerprints): EI at batch 1; at batch 96 Kriging believer (KB),
    local penalisation (LP), greedy Monte-Carlo q-EI and Thompson sampling (TS).
``random``
    Uniform random points of the box, or random molecules without replacement.
``skopt``
    scikit-optimize: ``gp_minimize(acq_func="EI")`` at batch 1; at batch 96
    ``Optimizer(...).ask(n_points=96)`` (constant liar ``cl_min``, a GP refit per lie).
    Boxes only (it has no candidate-library search).
``botorch``
    BoTorch: ``SingleTaskGP`` (its default kernel and priors, standardised outcomes),
    ``fit_gpytorch_mll``, ``qLogExpectedImprovement``; ``optimize_acqf`` on the unit box
    (sequential greedy at q = 96; ``num_restarts=4``, ``raw_samples=256``) and
    ``optimize_acqf_discrete`` on the library.

Columns
-------
``median regret``
    Median over seeds of the final simple regret (best value found minus the optimum),
    with the interquartile range.
``vs random``
    Median regret of random search over the method's (above 1: better than random);
    ``∞`` when the method's median regret is 0 (optimum found).
``s / batch``
    Median seconds to propose one batch (surrogate fit plus selection; the objective is
    free here), initial design excluded.
``seeds``
    Seeds run (10 by default for every method). At batch 96 the peers cost minutes per
    plate — skopt refits its GP for each of the 96 lies, BoTorch optimises a growing
    q-batch 96 times — so they run only with ``--peers-96`` (over an hour on two cores).

The library table (the drug-discovery view: simple regret stops moving once the single
best molecule is found) counts the molecules of the library's top 1 % (16 of 1,282: the
13 best and three more tied with the 13th) and top 5 % (65) measured after n evaluations
(:func:`activelab.bayesopt.top_fraction_found`);
``EF`` (enrichment factor) is the mean share of the top 1 % found over the share of the
library measured, 1 for random screening in expectation.

The PNG (``docs/img/bayesopt-regret.png``) shows the median simple regret against the
number of evaluations, with the interquartile range shaded, and (last column) the share of
the library's top 1 % found.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import NOT_INSTALLED, machine_lines, markdown_table, version_of

try:
    from activelab import bayesopt
except ImportError as error:  # pragma: no cover - run from the wrong environment
    from _common import missing_activelab

    missing_activelab(error)

ROOT = Path(__file__).resolve().parents[1]
PLOT = ROOT / "docs" / "img" / "bayesopt-regret.png"
RESULTS = ROOT / "benchmarks" / "results" / "bayesopt_runs.jsonl"
TOP = 0.01  # the library's top 1 %: the drug-discovery hit list
TASKS = ("branin", "hartmann6", "solubility")
BATCH_SIZES = (1, 96)
BUDGETS = {(1, "box"): 60, (1, "library"): 60, (96, "box"): 480, (96, "library"): 288}
OURS = {
    1: {"activelab EI": ("ei", "kriging_believer")},
    96: {
        "activelab KB-EI": ("ei", "kriging_believer"),
        "activelab LP-EI": ("ei", "local_penalization"),
        "activelab q-EI": ("ei", "qei"),
        "activelab TS": ("thompson", None),
    },
}
PEERS = ("skopt", "botorch")


# --- problems -----------------------------------------------------------------------------


class Task:
    """One problem: a box with a test function, or the molecule library."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "solubility":
            data = bayesopt.load_solubility()
            self.kind = "library"
            self.X = data.fingerprints
            self.values = -data.values
            self.optimum = float(self.values.min())
            self.dim = self.X.shape[1]
        else:
            function = bayesopt.BRANIN if name == "branin" else bayesopt.HARTMANN6
            self.kind = "box"
            self.function = function
            self.bounds = np.asarray(function.bounds, dtype=np.float64)
            self.optimum = function.minimum
            self.dim = function.dim

    def budget(self, q: int) -> int:
        return BUDGETS[(q, self.kind)]

    def n_initial(self, q: int) -> int:
        return max(q, min(2 * self.dim + 2, 20))

    def box_values(self, X: np.ndarray) -> np.ndarray:
        return self.function(X)


def regret_curve(task: Task, y: np.ndarray) -> np.ndarray:
    return np.minimum.accumulate(np.asarray(y, dtype=np.float64)) - task.optimum


# --- methods ------------------------------------------------------------------------------


def run_activelab(task: Task, q: int, method: str, seed: int) -> dict:
    acquisition, batch = OURS[q][method]
    budget = task.budget(q)
    if task.kind == "library":
        result = bayesopt.minimize(
            lambda idx: task.values[idx],
            bayesopt.CandidateLibrary(task.X),
            budget=budget,
            batch_size=q,
            acquisition=acquisition,
            batch=batch,
            initial=task.n_initial(q),
            pass_indices=True,
            random_state=seed,
        )
    else:
        result = bayesopt.minimize(
            task.function,
            [tuple(row) for row in task.bounds],
            budget=budget,
            batch_size=q,
            acquisition=acquisition,
            batch=batch,
            initial=task.n_initial(q),
            random_state=seed,
        )
    return {"y": result.y, "batch_seconds": result.seconds[1:], "index": result.index}


def run_random(task: Task, q: int, method: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    budget = task.budget(q)
    if task.kind == "library":
        index = rng.permutation(task.values.shape[0])[:budget]
        return {"y": task.values[index], "batch_seconds": [], "index": index}
    low, high = task.bounds.T
    y = task.box_values(rng.uniform(low, high, (budget, task.dim)))
    return {"y": y, "batch_seconds": [], "index": None}


def run_skopt(task: Task, q: int, method: str, seed: int) -> dict:
    import skopt

    if task.kind == "library":
        raise NotImplementedError("no candidate-library search")
    dimensions = [(float(low), float(high)) for low, high in task.bounds]
    budget, n0 = task.budget(q), task.n_initial(q)
    if q == 1:
        started = time.perf_counter()
        result = skopt.gp_minimize(
            lambda x: float(task.box_values(np.asarray(x))[0]),
            dimensions,
            n_calls=budget,
            n_initial_points=n0,
            initial_point_generator="sobol",
            acq_func="EI",
            random_state=seed,
        )
        per_batch = (time.perf_counter() - started) / max(budget - n0, 1)
        return {"y": np.asarray(result.func_vals), "batch_seconds": [per_batch], "index": None}
    optimizer = skopt.Optimizer(
        dimensions,
        base_estimator="GP",
        acq_func="EI",
        n_initial_points=n0,
        initial_point_generator="sobol",
        random_state=seed,
    )
    ys, seconds = [], []
    while sum(len(v) for v in ys) < budget:
        started = time.perf_counter()
        X = optimizer.ask(n_points=min(q, budget - sum(len(v) for v in ys)), strategy="cl_min")
        if ys:
            seconds.append(time.perf_counter() - started)
        y = task.box_values(np.asarray(X))
        optimizer.tell([list(map(float, x)) for x in X], [float(v) for v in y])
        ys.append(y)
    return {"y": np.concatenate(ys), "batch_seconds": seconds, "index": None}


def run_botorch(task: Task, q: int, method: str, seed: int) -> dict:
    import torch
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.optim import optimize_acqf, optimize_acqf_discrete
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    budget, n0 = task.budget(q), task.n_initial(q)
    dtype = torch.float64
    if task.kind == "library":
        features = task.X.astype(np.float64)
        chosen = list(rng.permutation(features.shape[0])[:n0])
        U = features[chosen]
        y = task.values[chosen]
    else:
        low, high = task.bounds.T
        from scipy.stats import qmc

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # n0 is not a power of 2
            U = qmc.Sobol(task.dim, scramble=True, seed=rng).random(n0)
        y = task.box_values(low + U * (high - low))
    seconds = []
    while y.shape[0] < budget:
        started = time.perf_counter()
        k = min(q, budget - y.shape[0])
        train_X = torch.as_tensor(U, dtype=dtype)
        train_Y = torch.as_tensor(-y, dtype=dtype)[:, None]  # BoTorch maximises
        covar = None
        if task.kind == "library":
            # one length scale: ARD over 1,024 bits cost 15 s a step to fit
            covar = ScaleKernel(MaternKernel(nu=2.5))
        model = SingleTaskGP(
            train_X, train_Y, covar_module=covar, outcome_transform=Standardize(m=1)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acquisition = qLogExpectedImprovement(model, best_f=train_Y.max())
            if task.kind == "library":
                remaining = np.setdiff1d(np.arange(features.shape[0]), chosen)
                choices = torch.as_tensor(features[remaining], dtype=dtype)
                picked, _ = optimize_acqf_discrete(
                    acquisition, q=k, choices=choices, max_batch_size=512, unique=True
                )
                new = _rows_to_indices(picked.numpy(), features, remaining)
                chosen.extend(new)
                U_new = features[new]
                y_new = task.values[new]
            else:
                bounds = torch.stack([torch.zeros(task.dim), torch.ones(task.dim)]).to(dtype)
                picked, _ = optimize_acqf(
                    acquisition,
                    bounds=bounds,
                    q=k,
                    num_restarts=4,
                    raw_samples=256,
                    sequential=k > 1,
                )
                U_new = picked.detach().numpy()
                y_new = task.box_values(low + U_new * (high - low))
        seconds.append(time.perf_counter() - started)
        U = np.vstack([U, U_new])
        y = np.concatenate([y, y_new])
    index = np.asarray(chosen) if task.kind == "library" else None
    return {"y": y, "batch_seconds": seconds, "index": index}


def _rows_to_indices(rows: np.ndarray, features: np.ndarray, remaining: np.ndarray) -> list[int]:
    """Library indices of picked rows, each a distinct member of ``remaining``."""
    free = list(remaining)
    out = []
    for row in rows:
        match = next(i for i in free if np.array_equal(features[i], row))
        free.remove(match)
        out.append(int(match))
    return out


RUNNERS: dict[str, Callable[[Task, int, str, int], dict]] = {
    "random": run_random,
    "skopt": run_skopt,
    "botorch": run_botorch,
}


def peer_available(name: str) -> str | None:
    """None when the peer imports, else the reason."""
    module = {"skopt": "skopt", "botorch": "botorch"}[name]
    try:
        __import__(module)
    except Exception as error:  # an old peer can fail with more than ImportError
        return f"{NOT_INSTALLED} ({type(error).__name__})"
    return None


def run_job(task_name: str, q: int, method: str, seed: int) -> dict:
    """One (task, batch size, method, seed) run in a worker process."""
    from threadpoolctl import threadpool_limits

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    task = Task(task_name)
    runner = run_activelab if method.startswith("activelab") else RUNNERS[method]
    key = {"task": task_name, "q": q, "method": method, "seed": seed}
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        try:
            out = runner(task, q, method, seed)
        except NotImplementedError as reason:
            return key | {"na": str(reason)}
        except Exception as error:  # a peer's API changed: report, keep going
            return key | {"na": f"error: {type(error).__name__}: {error}"[:100]}
    record = key | {
        "regret": regret_curve(task, out["y"]).tolist(),
        "batch_seconds": [float(s) for s in out["batch_seconds"]],
        "wall": time.perf_counter() - started,
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    if out.get("index") is not None:
        record["index"] = np.asarray(out["index"]).astype(int).tolist()
    return record


# --- records ------------------------------------------------------------------------------


def read_records(path: Path) -> list[dict]:
    """Every record of a results file (one JSON object a line); the last one of a key wins."""
    if not path.exists():
        return []
    by_key: dict[tuple, dict] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                by_key[(record["task"], record["q"], record["method"], record["seed"])] = record
    for record in by_key.values():
        if "regret" in record:
            record["regret"] = np.asarray(record["regret"], dtype=np.float64)
    return list(by_key.values())


def top_found_curve(record: dict, top: float) -> np.ndarray | None:
    """Fraction of the library's top ``top`` found after each evaluation, or None."""
    if "index" not in record or record["task"] != "solubility":
        return None
    return bayesopt.top_fraction_found(record["index"], _library_values(), top=top)


@functools.cache
def _library_values() -> np.ndarray:
    return Task("solubility").values


# --- report -------------------------------------------------------------------------------

NOT_RUN_96 = "not run: minutes per plate (--peers-96)"


def summarise(records: list[dict], methods: dict, tasks: tuple[str, ...]) -> list[list[str]]:
    rows = []
    for q in BATCH_SIZES:
        for task in tasks:
            by_method: dict[str, list[dict]] = {}
            for record in records:
                if record["task"] == task and record["q"] == q:
                    by_method.setdefault(record["method"], []).append(record)
            random_runs = [r for r in by_method.get("random", []) if "regret" in r]
            random_median = (
                float(np.median([r["regret"][-1] for r in random_runs])) if random_runs else None
            )
            for method in methods[q]:
                runs = by_method.get(method, [])
                done = [r for r in runs if "regret" in r]
                if not done:
                    reason = runs[0]["na"] if runs else methods["skip"].get((q, method))
                    reason = reason or "not run"
                    rows.append([task, q, method, "—", reason, "—", "—"])
                    continue
                finals = np.array([r["regret"][-1] for r in done])
                median = float(np.median(finals))
                low, high = np.percentile(finals, [25, 75])
                if method == "random":
                    ratio = "1x"
                elif median == 0:
                    ratio = "∞"
                elif random_median is None:
                    ratio = "—"
                else:
                    ratio = f"{random_median / median:.3g}x"
                seconds = [s for r in done for s in r["batch_seconds"]]
                per_batch = f"{np.median(seconds):.3g}" if seconds else "—"
                rows.append(
                    [
                        task,
                        q,
                        method,
                        len(done),
                        f"{median:.4g} [{low:.3g}, {high:.3g}]",
                        ratio,
                        per_batch,
                    ]
                )
    return rows


def checkpoints(q: int, budget: int) -> list[int]:
    """Evaluation counts at which the library table reports the top-found fraction."""
    return [budget // 2, (3 * budget) // 4, budget] if q == 1 else [2 * q, budget]


def top_count(top: float, size: int) -> int:
    """Molecules in the library's top ``top``: ``ceil(top N)`` and those tied at the cut-off."""
    values = _library_values()
    k = max(1, int(np.ceil(top * size - 1e-9)))
    return int(np.count_nonzero(values <= np.sort(values)[k - 1]))


def summarise_library(
    records: list[dict], methods: dict, q: int, size: int
) -> tuple[list[str], list[list[str]]]:
    """One batch size's enrichment table: top 1 % found at a few counts, top 5 % at the end."""
    budget = BUDGETS[(q, "library")]
    marks = checkpoints(q, budget)
    k1, k5 = top_count(TOP, size), top_count(0.05, size)
    rows = []
    for method in methods[q]:
        runs = [
            r
            for r in records
            if r["task"] == "solubility" and r["q"] == q and r["method"] == method
        ]
        done = [r for r in runs if "index" in r]
        if not done:
            reason = runs[0].get("na", "not run") if runs else methods["skip"].get((q, method))
            rows.append([method, "—", reason or "not run"] + ["—"] * (len(marks) + 1))
            continue
        cells = []
        top1 = np.vstack([top_found_curve(r, TOP) for r in done]) * k1  # molecules found
        for n in marks:
            low, high = np.percentile(top1[:, n - 1], [25, 75])
            cells.append(f"{np.median(top1[:, n - 1]):.3g} [{low:.3g}, {high:.3g}]")
        top5 = np.array([top_found_curve(r, 0.05)[-1] for r in done]) * k5
        low, high = np.percentile(top5, [25, 75])
        cells.append(f"{np.median(top5):.3g} [{low:.3g}, {high:.3g}]")
        enrichment = (np.mean(top1[:, -1]) / k1) / (budget / size)
        rows.append([method, str(len(done)), *cells, f"{enrichment:.2f}"])
    header = [
        "method",
        "seeds",
        *[f"top 1 % at {n}" for n in marks],
        f"top 5 % at {budget}",
        f"EF at {budget}",
    ]
    return header, rows


def plot(records: list[dict], methods: dict, tasks: tuple[str, ...], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot"
    panels = [(task, "regret") for task in tasks]
    if "solubility" in tasks:
        panels.append(("solubility", "top"))
    fig, axes = plt.subplots(
        len(BATCH_SIZES), len(panels), figsize=(4.1 * len(panels), 6.8), squeeze=False
    )
    floor = 1e-6
    size = Task("solubility").values.shape[0] if "solubility" in tasks else 0
    for row, q in enumerate(BATCH_SIZES):
        for column, (task, kind) in enumerate(panels):
            ax = axes[row][column]
            for method in methods[q]:
                runs = [
                    r
                    for r in records
                    if r["task"] == task and r["q"] == q and r["method"] == method and "regret" in r
                ]
                if kind == "regret":
                    curves = [np.maximum(r["regret"], floor) for r in runs]
                else:
                    curves = [c for c in (top_found_curve(r, TOP) for r in runs) if c is not None]
                if not curves:
                    continue
                stack = np.vstack(curves)
                evaluations = np.arange(1, stack.shape[1] + 1)
                median = np.median(stack, axis=0)
                (line,) = ax.plot(evaluations, median, label=f"{method} ({len(curves)})")
                if len(curves) > 2:
                    low, high = np.percentile(stack, [25, 75], axis=0)
                    ax.fill_between(evaluations, low, high, color=line.get_color(), alpha=0.15)
            ax.set_xlabel("evaluations")
            ax.grid(alpha=0.3)
            if kind == "regret":
                ax.set_yscale("log")
                ax.set_title(f"{task}, batch {q}: simple regret", fontsize=9)
                if column == 0:
                    ax.set_ylabel(f"simple regret (floor {floor:g})")
            else:
                k = top_count(TOP, size)
                ax.set_title(f"solubility, batch {q}: top 1 % ({k}) found", fontsize=9)
                ax.set_ylabel("fraction of the top 1 % found")
                ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=6.5)
    fig.suptitle(
        "Median over seeds (IQR shaded; seeds in brackets); last column: share of the "
        "library's 1 % most soluble molecules measured",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"plot written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"


def plan_jobs(args: argparse.Namespace, methods: dict, done: set) -> list[tuple]:
    """The runs still to do, seed-major (so that a cut-short run has even seed counts)."""
    wanted = set(args.methods.split(",")) if args.methods else None
    jobs = []
    for q in args.batch_sizes:
        for task in args.tasks:
            for method in methods[q]:
                if wanted is not None and method not in wanted:
                    continue
                if method in PEERS:
                    if methods["skip"][(q, method)]:
                        continue
                    if method == "skopt" and task == "solubility":
                        jobs.append((task, q, method, 0))  # reports "no library search"
                        continue
                    seeds = range(args.peer_seeds)
                else:
                    seeds = range(args.seeds)
                jobs.extend((task, q, method, seed) for seed in seeds)
    jobs = [job for job in jobs if job not in done]
    jobs.sort(key=lambda job: (job[3], TASKS.index(job[0]), job[1], job[2]))
    return jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--peer-seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1 for the peers")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--batch-sizes", default="1,96")
    parser.add_argument("--methods", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON-lines run log")
    parser.add_argument("--report-only", action="store_true", help="no runs: report the log")
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument(
        "--peers-96",
        action="store_true",
        help="also run the peers at batch 96 (minutes per plate each: over an hour)",
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.peer_seeds = 2, 1
    args.tasks = tuple(name for name in args.tasks.split(",") if name)
    args.batch_sizes = tuple(int(q) for q in args.batch_sizes.split(",") if q)
    available = {peer: peer_available(peer) for peer in PEERS}
    skip: dict = {(q, peer): available[peer] for q in BATCH_SIZES for peer in PEERS}
    if not args.peers_96:
        for peer in PEERS:
            skip[(96, peer)] = skip[(96, peer)] or NOT_RUN_96
    methods = {q: [*OURS[q], "random", *PEERS] for q in BATCH_SIZES} | {"skip": skip}
    print("\n".join(machine_lines(["numpy", "scikit-learn", "scikit-optimize", "botorch"])))
    records = read_records(args.results)
    if not args.report_only:
        done = {(r["task"], r["q"], r["method"], r["seed"]) for r in records}
        jobs = plan_jobs(args, methods, done)
        print(f"{len(jobs)} runs to do ({len(done)} already in {args.results.name})", flush=True)
        started = time.perf_counter()
        from joblib import Parallel, delayed

        args.results.parent.mkdir(parents=True, exist_ok=True)
        runs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
            delayed(run_job)(*job) for job in jobs
        )
        with args.results.open("a", encoding="utf-8") as log:
            for record in runs:
                plain = {
                    k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in record.items()
                }
                log.write(json.dumps(plain) + "\n")
                log.flush()
                print(
                    f"  {record['task']} q={record['q']} {record['method']} seed {record['seed']}: "
                    + (f"{record['wall']:.0f} s" if "wall" in record else record["na"]),
                    flush=True,
                )
        wall = time.perf_counter() - started
        print(
            f"{len(jobs)} runs in {wall / 60:.1f} min on {args.jobs} worker processes "
            "(BLAS and torch at 1 thread each)"
        )
        records = read_records(args.results)
    print()
    print(
        markdown_table(
            ["task", "batch", "method", "seeds", "median regret [IQR]", "vs random", "s / batch"],
            summarise(records, methods, args.tasks),
            right=(1, 3, 4, 5, 6),
        )
    )
    if "solubility" in args.tasks:
        size = Task("solubility").values.shape[0]
        print(
            f"\nSolubility library: molecules of the top 1 % ({top_count(TOP, size)} of {size}, "
            f"ties at the cut-off included) and top 5 % ({top_count(0.05, size)}) measured after "
            "n evaluations, median [IQR] "
            "over seeds; EF = mean share of the top 1 % found over the share of the library "
            "measured (random screening: 1 in expectation)."
        )
        for q in BATCH_SIZES:
            header, rows = summarise_library(records, methods, q, size)
            print(f"\nBatch {q}:\n")
            print(markdown_table(header, rows, right=tuple(range(1, len(header)))))
    loads = [r["load"] for r in records if r.get("load") is not None]
    if loads:
        print(f"\nload average (1 min) at the end of each run: {min(loads):.1f}–{max(loads):.1f}")
    for peer in PEERS:
        version = version_of({"skopt": "scikit-optimize", "botorch": "botorch"}[peer])
        print(f"{peer}: {available[peer] or version}")
    print(plot(records, methods, args.tasks, args.plot))


if __name__ == "__main__":
    os.environ.setdefault("ACTIVELAB_NUM_THREADS", "1")
    main()
