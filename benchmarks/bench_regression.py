"""Regression active learning: speed against scikit-activeml, and AULC of RMSE against random.

How to run
----------
``.venv-bench/bin/python benchmarks/bench_regression.py`` from the repository root (the
peer comparison needs scikit-activeml, which lives in ``.venv-bench``; from ``.venv`` the
peer columns say "not installed"). ``--quick`` runs 2 seeds and smaller pools;
``--seeds`` sets the seeds of part 2 (10), ``--datasets`` picks some of the sets,
``--batch1`` adds the batch-size-1 check of part 3. The tables go to stdout
(``benchmarks/results/regression.md`` is that output); every learning curve goes to
``benchmarks/results/regression_runs.csv`` and is drawn in
``docs/img/regression-curves.png``. No data is
downloaded: ``diabetes`` ships with scikit-learn, ``autompg`` (Auto MPG, UCI) with mlxtend
and ``trump_approval`` (FiveThirtyEight's approval rating against the pollsters' numbers)
with river — both in activelab's ``bench`` extra.

Part 1 — speed, same model and pool
-----------------------------------
Friedman #1 (5 features), a labeled set of ``LABELED`` rows and a pool of ``POOL`` rows;
each strategy picks ``K`` items from the same fitted model: a Gaussian process with a
fixed kernel (``optimizer=None``, so refitting it gives the same hyperparameters and
scikit-activeml's refit-per-candidate strategies compute exactly what activelab's closed
form does), a random forest, or a single regression tree. scikit-activeml is called with
``fit_reg=False`` on the fitted model (no refit of its own before the query), candidates
given as indices of the pool rows. ``same picks`` compares the batches (in order, or as
sets); rt_al draws at random, so only its allocation is compared. GSy and iGS run on the
GP: a forest's piecewise-constant predictions tie, and both libraries break ties at
random. scikit-activeml ranks query-by-committee by the members' standard deviation,
activelab by their variance: the same order.
Best of several runs (``_common.race``); a slow peer is timed once.

Part 2 — label efficiency
-------------------------
Each data set: features standardised; ``simulate`` holds out 25 % as the test set (a new
split per seed), starts from 10 random labels, batches of 10, up to ``BUDGET`` labels.
AULC is the mean test RMSE over the learning curve (trapezoid over labels, divided by
the label range; lower is better), mean ± std over the seeds. ``vs random`` is the ratio
to random sampling with the same model and seeds (below 1 = fewer errors for the same
labels). Models: a GP (constant × RBF + white noise, ``normalize_y``) for the
GP-based strategies and the greedy rules; a random forest of 50 trees for the ensemble
ones (``variance`` on a forest is the same utility as ``qbc_regression``: the trees'
spread, so it is not run twice); a regression tree (``min_samples_leaf=5``) for rt_al in
its three modes (random, diversity and representativity picks inside the leaves).
``batch spread`` is the mean pairwise distance between the items of a queried batch over
that between random pairs of the data set (1: as spread out as random picks; well below 1:
the batch crowds one region), averaged over the rounds after the initial set.

Part 3 — batch size 1 (``--batch1``)
------------------------------------
EMOC, EMVR and KL score each item alone and take the top 10. To see whether a batch of
near-duplicates is what costs them on Trump approval, the GP strategies run again there
with batches of 1 (the model refitted after every label), same seeds and budget.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    NOT_INSTALLED,
    fmt_ratio,
    fmt_seconds,
    machine_lines,
    markdown_table,
    race,
)

try:
    from sklearn.datasets import load_diabetes, make_friedman1
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    import activelab as al
    from activelab.strategies._regression import (
        IntervalWidth,
        PredictiveVariance,
        QueryByCommitteeRegression,
    )
    from activelab.strategies._regression_expected import (
        ExpectedModelOutputChange,
        ExpectedModelVarianceReduction,
        KLDivergenceMaximization,
    )
    from activelab.strategies._regression_greedy import (
        GreedySamplingTarget,
        GreedySamplingX,
        ImprovedGreedySampling,
    )
    from activelab.strategies._regression_tree import RegressionTreeBasedAL, leaf_shares
except ImportError as error:  # pragma: no cover - run from the wrong environment
    from _common import missing_activelab

    missing_activelab(error)

ROOT = Path(__file__).resolve().parents[1]
LABELED, POOL, K = 30, 300, 10
BUDGET, INITIAL, BATCH = 100, 10, 10


def _skactiveml():
    try:
        import skactiveml.pool as pool
        import skactiveml.regressor as regressor

        return pool, regressor
    except ImportError:
        return None


# ------------------------------------------------------------------------ models


def fixed_gp(kernel=None) -> GaussianProcessRegressor:
    kernel = kernel or ConstantKernel(2.0) * RBF(0.6) + WhiteKernel(0.2)
    return GaussianProcessRegressor(kernel, optimizer=None)


def tuned_gp(seed: int = 0) -> GaussianProcessRegressor:
    kernel = ConstantKernel(1.0) * RBF(1.0, length_scale_bounds=(1e-2, 1e3)) + WhiteKernel(
        0.1, noise_level_bounds=(1e-5, 10.0)
    )
    return GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)


def forest(seed: int = 0) -> RandomForestRegressor:
    return RandomForestRegressor(n_estimators=50, min_samples_leaf=2, random_state=seed)


def tree(seed: int = 0) -> DecisionTreeRegressor:
    return DecisionTreeRegressor(min_samples_leaf=5, random_state=seed)


# ------------------------------------------------------------------ part 1: speed


def peer_calls(sk, X_lab, y_lab, X_pool, models):
    """scikit-activeml's query for each strategy it has, as zero-argument callables."""
    pool_mod, reg_mod = sk
    X_all = np.vstack([X_lab, X_pool])
    y_all = np.concatenate([y_lab, np.full(len(X_pool), np.nan)])
    candidates = np.arange(len(X_lab), len(X_all))
    normal = getattr(reg_mod, "SklearnNormalRegressor", None)
    plain = reg_mod.SklearnRegressor
    gp = normal(models["gp"]).fit(X_all, y_all) if normal else None
    gp_plain = plain(models["gp"]).fit(X_all, y_all)
    rf = plain(models["forest"]).fit(X_all, y_all)
    dt = plain(models["tree"]).fit(X_all, y_all)
    offset = len(X_lab)

    def run(strategy, **kwargs):
        def call():
            picks = strategy.query(X_all, y_all, candidates=candidates, batch_size=K, **kwargs)
            return np.asarray(picks) - offset

        return call

    calls = {
        "gsx": run(pool_mod.GreedySamplingX()),
        "gsy": run(pool_mod.GreedySamplingTarget(method="GSy"), reg=gp_plain, fit_reg=False),
        "igs": run(pool_mod.GreedySamplingTarget(method="GSi"), reg=gp_plain, fit_reg=False),
        "qbc_regression": run(pool_mod.QueryByCommittee(), ensemble=rf, fit_ensemble=False),
        "rt_al": run(pool_mod.RegressionTreeBasedAL(random_state=0), reg=dt, fit_reg=False),
    }
    if gp is not None:
        calls["emoc"] = run(
            pool_mod.ExpectedModelOutputChange(
                integration_dict={"method": "gauss_hermite", "n_integration_samples": 10}
            ),
            reg=gp,
            fit_reg=False,
        )
        calls["emvr"] = run(pool_mod.ExpectedModelVarianceReduction(), reg=gp, fit_reg=False)
        calls["kl_max"] = run(
            pool_mod.KLDivergenceMaximization(
                integration_dict_target_val={
                    "method": "gauss_hermite",
                    "n_integration_samples": 10,
                }
            ),
            reg=gp,
            fit_reg=False,
        )
    return calls


def speed_table(quick: bool) -> str:
    n_pool = 120 if quick else POOL
    X, y = make_friedman1(LABELED + n_pool, n_features=5, noise=0.5, random_state=0)
    X_lab, y_lab, X_pool = X[:LABELED], y[:LABELED], X[LABELED:]
    models = {
        "gp": fixed_gp(),
        "forest": RandomForestRegressor(n_estimators=20, random_state=0),
        "tree": DecisionTreeRegressor(min_samples_leaf=3, random_state=0),
    }
    fitted = {name: model.fit(X_lab, y_lab) for name, model in models.items()}
    ours = {
        "variance": (PredictiveVariance(), "gp"),
        "qbc_regression": (QueryByCommitteeRegression(), "forest"),
        "interval_width": (IntervalWidth(), "forest"),
        "gsx": (GreedySamplingX(), "gp"),
        "gsy": (GreedySamplingTarget(), "gp"),
        "igs": (ImprovedGreedySampling(), "gp"),
        "emoc": (ExpectedModelOutputChange(), "gp"),
        "emvr": (ExpectedModelVarianceReduction(), "gp"),
        "kl_max": (KLDivergenceMaximization(), "gp"),
        "rt_al": (RegressionTreeBasedAL(), "tree"),
    }
    our_calls = {
        name: (lambda s=s, m=fitted[key]: s.query(m, X_pool, K, X_lab, y_lab, random_state=0))
        for name, (s, key) in ours.items()
    }
    sk = _skactiveml()
    peers = {}
    if sk is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the peer clones its regressors; give it unfitted copies of the same settings
            from sklearn.base import clone

            peers = peer_calls(sk, X_lab, y_lab, X_pool, {k: clone(v) for k, v in models.items()})
    rows = []
    for name, (strategy, key) in ours.items():
        calls = {"activelab": our_calls[name]}
        if name in peers:
            calls["skactiveml"] = peers[name]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcomes = race(calls, budget_s=0.5 if quick else 1.5, slow_s=2.0)
        mine = outcomes["activelab"]
        peer = outcomes.get("skactiveml")
        same = "—"
        if peer is not None and peer.result is not None and mine.result is not None:
            if name == "rt_al":
                same = rt_al_allocation_agrees(fitted["tree"], X_lab, y_lab, X_pool, sk)
            else:
                ordered = list(mine.result) == list(peer.result)
                as_set = set(mine.result.tolist()) == set(np.asarray(peer.result).tolist())
                same = "yes (order too)" if ordered else ("yes (as a set)" if as_set else "no")
        peer_cell = NOT_INSTALLED if sk is None else ("no peer" if peer is None else None)
        rows.append(
            [
                name,
                f"{type(strategy).__name__} on {type(fitted[key]).__name__}",
                fmt_seconds(mine.best),
                peer_cell or (peer.error or fmt_seconds(peer.best)),
                fmt_ratio(peer.best if peer else None, mine.best),
                same,
            ]
        )
    header = [
        "strategy",
        "model",
        "activelab",
        "skactiveml",
        "skactiveml / activelab",
        "same picks",
    ]
    title = f"Speed: pool of {n_pool}, {LABELED} labeled, batch of {K} (best of runs)"
    return f"### {title}\n\n" + markdown_table(header, rows, right=[2, 3, 4])


def rt_al_allocation_agrees(model, X_lab, y_lab, X_pool, sk) -> str:
    """The per-leaf real-valued allocation of skactiveml's RT-AL against ours."""
    try:
        from skactiveml.pool._regression_tree_based_al import _calc_acquisitions_per_leaf
    except ImportError:
        return "n/a"
    X_all = np.vstack([X_lab, X_pool])
    y_all = np.concatenate([y_lab, np.full(len(X_pool), np.nan)])
    reg = sk[1].SklearnRegressor(model).fit(X_all, y_all)
    theirs = _calc_acquisitions_per_leaf(X_all, y_all, reg, np.nan, batch_size=K)
    mine = leaf_shares(model.apply(X_pool), model.apply(X_lab), y_lab, K, model.tree_.node_count)
    return "allocation equal" if np.allclose(theirs, mine) else "allocation differs"


# ------------------------------------------------------------- part 2: efficiency


def load_datasets() -> dict[str, tuple[np.ndarray, np.ndarray] | str]:
    """Offline regression sets, or the reason one is missing."""
    found: dict[str, tuple[np.ndarray, np.ndarray] | str] = {}
    X, y = load_diabetes(return_X_y=True)
    found["diabetes"] = (X, y)
    try:
        from mlxtend.data import autompg_data

        X, y = autompg_data()
        found["autompg"] = (np.asarray(X, dtype=float)[:, :7], np.asarray(y, dtype=float))
    except ImportError:
        found["autompg"] = "mlxtend not installed (pip install 'activelab[bench]')"
    try:
        from river.datasets import TrumpApproval

        rows = list(TrumpApproval())
        keys = sorted(rows[0][0])
        X = np.array([[features[key] for key in keys] for features, _ in rows], dtype=float)
        y = np.array([target for _, target in rows], dtype=float)
        found["trump_approval"] = (X, y)
    except ImportError:
        found["trump_approval"] = "river not installed (pip install 'activelab[bench]')"
    return found


def efficiency_runs():
    return [
        ("random", "random", tuned_gp, "GP"),
        ("variance", PredictiveVariance(), tuned_gp, "GP"),
        ("emoc", ExpectedModelOutputChange(), tuned_gp, "GP"),
        ("emvr", ExpectedModelVarianceReduction(), tuned_gp, "GP"),
        ("kl_max", KLDivergenceMaximization(), tuned_gp, "GP"),
        ("gsx", GreedySamplingX(), tuned_gp, "GP"),
        ("gsy", GreedySamplingTarget(), tuned_gp, "GP"),
        ("igs", ImprovedGreedySampling(), tuned_gp, "GP"),
        ("random", "random", forest, "forest"),
        ("qbc_regression", QueryByCommitteeRegression(), forest, "forest"),
        ("interval_width", IntervalWidth(), forest, "forest"),
        ("random", "random", tree, "tree"),
        ("rt_al", RegressionTreeBasedAL(), tree, "tree"),
        ("rt_al (diversity)", RegressionTreeBasedAL(method="diversity"), tree, "tree"),
        (
            "rt_al (representativity)",
            RegressionTreeBasedAL(method="representativity"),
            tree,
            "tree",
        ),
    ]


def batch_spread(X: np.ndarray, history: list, rng: np.random.Generator) -> float:
    """Mean pairwise distance inside the queried batches over that of random pairs of ``X``.

    1 means a batch is as spread out as random picks; well below 1, it crowds one region.
    The initial (random) set is left out.
    """
    a, b = rng.integers(0, X.shape[0], (2, 4000))
    keep = a != b
    reference = float(np.linalg.norm(X[a[keep]] - X[b[keep]], axis=1).mean())
    inside = []
    for record in history[1:]:
        rows = X[np.asarray(record.indices)]
        if rows.shape[0] > 1:
            distances = np.linalg.norm(rows[:, None] - rows[None, :], axis=2)
            inside.append(distances[np.triu_indices(rows.shape[0], 1)].mean())
    return float(np.mean(inside)) / reference if inside else float("nan")


def efficiency_table(
    name, X, y, seeds, budget, *, batch_size=BATCH, runs=None, curves=None
) -> tuple[str, float]:
    """AULC of RMSE per strategy against random; appends learning curves to ``curves``."""
    X = StandardScaler().fit_transform(X)
    results: dict[tuple[str, str], list[float]] = {}
    finals: dict[tuple[str, str], list[float]] = {}
    seconds: dict[tuple[str, str], float] = {}
    spread: dict[tuple[str, str], list[float]] = {}
    started = time.perf_counter()
    for label, strategy, make_model, model_name in runs or efficiency_runs():
        key = (label, model_name)
        results[key], finals[key], seconds[key], spread[key] = [], [], 0.0, []
        for seed in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = al.simulate(
                    make_model(seed),
                    strategy,
                    X,
                    y,
                    initial=INITIAL,
                    batch_size=batch_size,
                    budget=budget,
                    random_state=seed,
                )
            results[key].append(res.aulc)
            finals[key].append(res.final["rmse"])
            seconds[key] += sum(r.query_seconds for r in res.history)
            if batch_size > 1:
                spread[key].append(batch_spread(X, res.history, np.random.default_rng(seed)))
            if curves is not None:
                curves.extend(
                    (name, batch_size, label, model_name, seed, r.n_labeled, r.metrics["rmse"])
                    for r in res.history
                )
    rows = []
    for (label, model_name), values in results.items():
        base = np.mean(results[("random", model_name)])
        mean = float(np.mean(values))
        wins = sum(v < r for v, r in zip(values, results[("random", model_name)], strict=True))
        rows.append(
            [
                label,
                model_name,
                f"{mean:.2f} ± {np.std(values):.2f}",
                "1 (baseline)" if label == "random" else f"{mean / base:.3f}",
                "—" if label == "random" else f"{wins}/{len(values)}",
                f"{np.mean(finals[(label, model_name)]):.2f}",
                f"{np.mean(spread[(label, model_name)]):.2f}" if batch_size > 1 else "—",
                fmt_seconds(seconds[(label, model_name)] / len(seeds)),
            ]
        )
    header = [
        "strategy",
        "model",
        "AULC RMSE",
        "vs random",
        "seeds won",
        f"RMSE at {budget}",
        "batch spread",
        "query time / run",
    ]
    n = X.shape[0]
    title = (
        f"{name} ({n} rows, {X.shape[1]} features): AULC of RMSE, {len(seeds)} seeds, "
        f"batches of {batch_size}"
    )
    table = f"### {title}\n\n" + markdown_table(header, rows, right=[2, 3, 4, 5, 6, 7])
    return table, time.perf_counter() - started


def batch1_runs():
    """The GP strategies whose batches are a top-k of one-at-a-time scores, and a baseline."""
    wanted = ("random", "variance", "emoc", "emvr", "kl_max")
    return [run for run in efficiency_runs() if run[0] in wanted and run[3] == "GP"]


def write_curves(rows: list[tuple], path: Path) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["dataset", "batch_size", "strategy", "model", "seed", "n_labeled", "rmse"])
        for row in rows:
            writer.writerow([*row[:-1], f"{row[-1]:.6g}"])


def plot_curves(rows: list[tuple], path: Path) -> str:
    """Mean test RMSE against labels: one panel per data set and model, random in black."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot"
    rows = [row for row in rows if row[1] == BATCH]
    if not rows:
        return f"no learning curves at batch size {BATCH}: no plot"
    datasets = list(dict.fromkeys(row[0] for row in rows))
    models = list(dict.fromkeys(row[3] for row in rows))
    fig, axes = plt.subplots(
        len(models), len(datasets), figsize=(4.4 * len(datasets), 3.2 * len(models)), squeeze=False
    )
    for column, dataset in enumerate(datasets):
        for row_index, model in enumerate(models):
            ax = axes[row_index][column]
            mine = [row for row in rows if row[0] == dataset and row[3] == model]
            labels = list(dict.fromkeys(row[2] for row in mine))
            for label in labels:
                points: dict[int, list[float]] = {}
                seeds = {row[4] for row in mine if row[2] == label}
                for row in mine:
                    if row[2] == label:
                        points.setdefault(row[5], []).append(row[6])
                x = np.array(sorted(points))
                mean = np.array([np.mean(points[n]) for n in x])
                style = {"color": "black", "linewidth": 2} if label == "random" else {}
                ax.plot(x, mean, label=f"{label} ({len(seeds)})", **style)
            ax.set_title(f"{dataset}, {model}", fontsize=9)
            ax.set_xlabel("labels")
            if column == 0:
                ax.set_ylabel("test RMSE (mean over seeds)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6.5)
    fig.suptitle("Regression active learning: test RMSE against labels (seeds in brackets)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return f"plot written to {path}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, smaller pools")
    parser.add_argument("--seeds", type=int, default=10, help="seeds for label efficiency")
    parser.add_argument("--datasets", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-efficiency", action="store_true")
    parser.add_argument(
        "--batch1",
        action="store_true",
        help="also run the GP strategies at batch size 1 on trump_approval (the crowding check)",
    )
    parser.add_argument(
        "--curves", type=Path, default=ROOT / "benchmarks/results/regression_runs.csv"
    )
    parser.add_argument("--plot", type=Path, default=ROOT / "docs/img/regression-curves.png")
    args = parser.parse_args()
    print("## Regression active learning\n")
    for line in machine_lines(["scikit-learn", "scikit-activeml", "numpy"]):
        print(line + "  ")
    print()
    if not args.skip_speed:
        print(speed_table(args.quick))
        print()
    curves: list[tuple] = []
    seeds = tuple(range(2 if args.quick else args.seeds))
    budget = 50 if args.quick else BUDGET
    wanted = set(args.datasets.split(",")) if args.datasets else None
    datasets = {
        name: data for name, data in load_datasets().items() if wanted is None or name in wanted
    }
    if not args.skip_efficiency:
        for name, data in datasets.items():
            if isinstance(data, str):
                print(f"### {name}: skipped — {data}\n")
                continue
            table, seconds = efficiency_table(name, *data, seeds, budget, curves=curves)
            print(table)
            print(f"\n({seconds:.0f} s)\n", flush=True)
    if args.batch1:
        data = datasets.get("trump_approval") or load_datasets()["trump_approval"]
        if isinstance(data, str):
            print(f"### batch-1 check skipped — {data}\n")
        else:
            table, seconds = efficiency_table(
                "trump_approval",
                *data,
                seeds,
                budget,
                batch_size=1,
                runs=batch1_runs(),
                curves=curves,
            )
            print(table)
            print(f"\n({seconds:.0f} s)\n", flush=True)
    if curves:
        write_curves(curves, args.curves)
        print(f"learning curves written to {args.curves}")
        print(plot_curves(curves, args.plot))


if __name__ == "__main__":
    main()
