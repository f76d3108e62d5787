"""Batched Bayesian optimisation: simple regret vs evaluations, against random search and peers.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_bayesopt.py`` from the repository root (the peers
scikit-optimize and BoTorch live in ``.venv-bench``; a peer that is not importable is
reported as such). ``--seeds``/``--peer-seeds`` change the number of seeds, ``--jobs`` the
worker processes, ``--quick`` runs 2 seeds (1 for the peers). Nothing is downloaded: the
test functions are formulas and the molecule library ships inside activelab.

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
    Seeds run: 10 for activelab and random search, 3 for the peers at batch 1
    (``--peer-seeds``; BoTorch takes seconds per step on the library). At batch 96 the
    peers cost minutes per plate — skopt refits its GP for each of the 96 lies, BoTorch
    optimises a growing q-batch 96 times — so they run only with ``--peers-96`` (1 seed
    unless ``--peer-seeds`` says otherwise; over an hour on two cores).

The PNG (``docs/img/bayesopt-regret.png``) shows the median simple regret against the
number of evaluations, with the interquartile range shaded.
"""

from __future__ import annotations

import argparse
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
    return {"y": result.y, "batch_seconds": result.seconds[1:]}


def run_random(task: Task, q: int, method: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    budget = task.budget(q)
    if task.kind == "library":
        y = task.values[rng.permutation(task.values.shape[0])[:budget]]
    else:
        low, high = task.bounds.T
        y = task.box_values(rng.uniform(low, high, (budget, task.dim)))
    return {"y": y, "batch_seconds": []}


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
        return {"y": np.asarray(result.func_vals), "batch_seconds": [per_batch]}
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
    return {"y": np.concatenate(ys), "batch_seconds": seconds}


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
    return {"y": y, "batch_seconds": seconds}


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
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        try:
            out = runner(task, q, method, seed)
        except NotImplementedError as reason:
            return {"task": task_name, "q": q, "method": method, "seed": seed, "na": str(reason)}
        except Exception as error:  # a peer's API changed: report, keep going
            message = f"error: {type(error).__name__}: {error}"[:100]
            return {"task": task_name, "q": q, "method": method, "seed": seed, "na": message}
    return {
        "task": task_name,
        "q": q,
        "method": method,
        "seed": seed,
        "regret": regret_curve(task, out["y"]),
        "batch_seconds": out["batch_seconds"],
        "wall": time.perf_counter() - started,
    }


# --- report -------------------------------------------------------------------------------


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
                reason = methods["skip"].get((q, method))
                if method in PEERS and reason:
                    rows.append([task, q, method, "—", reason, "—", "—"])
                    continue
                done = [r for r in runs if "regret" in r]
                if not done:
                    reason = runs[0]["na"] if runs else "not run"
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


def plot(records: list[dict], methods: dict, tasks: tuple[str, ...], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot"
    fig, axes = plt.subplots(
        len(BATCH_SIZES), len(tasks), figsize=(4.2 * len(tasks), 6.6), squeeze=False
    )
    floor = 1e-6
    for row, q in enumerate(BATCH_SIZES):
        for column, task in enumerate(tasks):
            ax = axes[row][column]
            for method in methods[q]:
                curves = [
                    r["regret"]
                    for r in records
                    if r["task"] == task and r["q"] == q and r["method"] == method and "regret" in r
                ]
                if not curves:
                    continue
                stack = np.maximum(np.vstack(curves), floor)
                evaluations = np.arange(1, stack.shape[1] + 1)
                median = np.median(stack, axis=0)
                (line,) = ax.plot(evaluations, median, label=f"{method} ({len(curves)})")
                if len(curves) > 2:
                    low, high = np.percentile(stack, [25, 75], axis=0)
                    ax.fill_between(evaluations, low, high, color=line.get_color(), alpha=0.15)
            ax.set_yscale("log")
            ax.set_title(f"{task}, batch {q}")
            ax.set_xlabel("evaluations")
            if column == 0:
                ax.set_ylabel(f"simple regret (floor {floor:g})")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle("Median simple regret (IQR shaded); seeds in brackets", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--peer-seeds", type=int, default=None, help="default: see --help text")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 1 for the peers")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument(
        "--peers-96",
        action="store_true",
        help="also run the peers at batch 96 (minutes per plate each: over an hour)",
    )
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds
    tasks = tuple(name for name in args.tasks.split(",") if name)
    available = {peer: peer_available(peer) for peer in PEERS}
    skip: dict = {(q, peer): available[peer] for q in BATCH_SIZES for peer in PEERS}
    if not args.peers_96:
        for peer in PEERS:
            skip[(96, peer)] = skip[(96, peer)] or "not run: minutes per plate (--peers-96)"
    methods = {q: [*OURS[q], "random", *PEERS] for q in BATCH_SIZES} | {"skip": skip}

    def peer_seeds(q: int) -> int:
        if args.quick:
            return 1
        if args.peer_seeds is not None:
            return args.peer_seeds
        return 3 if q == 1 else 1

    jobs = []
    for q in BATCH_SIZES:
        for task in tasks:
            for method in methods[q]:
                if method in PEERS:
                    if skip[(q, method)]:
                        continue
                    if method == "skopt" and task == "solubility":
                        jobs.append((task, q, method, 0))  # reports "no library search"
                        continue
                    jobs.extend((task, q, method, seed) for seed in range(peer_seeds(q)))
                else:
                    jobs.extend((task, q, method, seed) for seed in range(seeds))
    # the slowest jobs first, so that the workers finish together
    jobs.sort(key=lambda job: (job[1] != 96, job[2] not in PEERS, job[0] == "branin"))
    print("\n".join(machine_lines(["numpy", "scikit-learn", "scikit-optimize", "botorch"])))
    started = time.perf_counter()
    from joblib import Parallel, delayed

    records = Parallel(n_jobs=args.jobs, verbose=0)(delayed(run_job)(*job) for job in jobs)
    wall = time.perf_counter() - started
    print()
    print(
        markdown_table(
            ["task", "batch", "method", "seeds", "median regret [IQR]", "vs random", "s / batch"],
            summarise(records, methods, tasks),
            right=(1, 3, 4, 5, 6),
        )
    )
    print()
    print(
        f"{len(jobs)} runs in {wall / 60:.1f} min on {args.jobs} worker processes "
        f"(BLAS and torch at 1 thread each); ours and random {seeds} seeds, peers "
        f"{peer_seeds(1)} at batch 1"
        + (f" and {peer_seeds(96)} at batch 96." if args.peers_96 else " (not run at batch 96).")
    )
    for peer in PEERS:
        version = version_of({"skopt": "scikit-optimize", "botorch": "botorch"}[peer])
        print(f"{peer}: {available[peer] or version}")
    print(plot(records, methods, tasks, args.plot))


if __name__ == "__main__":
    os.environ.setdefault("ACTIVELAB_NUM_THREADS", "1")
    main()
