"""The ``activelab`` command line: strategies, simulated experiments, benchmarks, a demo.

``activelab strategies`` prints the registry; ``activelab simulate`` runs every strategy
with every seed on a data set that scikit-learn ships and writes a learning-curve plot
and a CSV of every round; ``activelab bench CONFIG.toml`` runs a benchmark grid (resuming
what an earlier run finished) and ``activelab report runs/NAME`` writes its plots, HTML
report and Markdown summary; ``activelab score`` scores a pool larger than memory on
Dask (:mod:`activelab.scale`); ``activelab demo`` is what ``make run`` calls.

Every strategy of one seed calls :func:`activelab.simulate` with ``random_state=seed``,
so they start from the same initial set and are scored on the same test split; runs
spread over processes (``--n-jobs``) give the same results as a serial run.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

import activelab as al
from activelab import datasets
from activelab.bench import models as bench_models
from activelab.scale.cli import score as scale_score
from activelab.studio.cli import app as studio_app

__all__ = ["app", "bench", "demo", "main", "report", "simulate", "strategies"]

app = typer.Typer(
    name="activelab",
    help="Active learning: every query strategy, with a loop, stopping criteria and plots.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(studio_app, name="studio")
app.command(name="score")(scale_score)

#: Strategies and committee size of ``activelab demo``.
DEMO_STRATEGIES = ("margin", "entropy", "bald", "random")
DEMO_MEMBERS = 10


def _estimator(model: str, seed: int) -> Any:
    """A registered model (:mod:`activelab.bench.models`) behind a StandardScaler.

    The CLI's data sets come unscaled (the benchmark harness scales its own splits).
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from activelab.bench import models

    return Pipeline([("scale", StandardScaler()), (model, models.make(model, seed))])


@dataclass(frozen=True)
class _Run:
    """One simulation: a strategy, a seed, and the committee size (None: the bare model)."""

    strategy: str
    seed: int
    members: int | None


def _console(stderr: bool = False) -> Console:
    # Made per command so that the width follows the environment (COLUMNS) of each call.
    return Console(stderr=stderr, highlight=False)


def _fail(message: str) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=2)


def _model_label(model: str, members: int | None) -> str:
    return model if members is None else f"bagging({members} × {model})"


def _needs_committee(strategy: str, model: str) -> bool:
    """True when ``strategy`` needs posterior samples that ``model`` cannot give."""
    needs = al.strategies.get(strategy).needs
    return "sample_proba" in needs and (
        "sample_proba" not in al.models.wrap(_estimator(model, 0)).capabilities
    )


def _run_one(
    run: _Run,
    model: str,
    X: np.ndarray,
    y: np.ndarray,
    budget: int,
    initial: int,
    batch_size: int,
) -> al.Result:
    estimator = _estimator(model, run.seed)
    if run.members is not None:
        estimator = al.models.Committee.bagging(
            estimator, n_members=run.members, random_state=run.seed
        )
    return al.simulate(
        estimator,
        run.strategy,
        X,
        y,
        initial=initial,
        batch_size=batch_size,
        budget=budget,
        random_state=run.seed,
    )


def _check_choices(dataset: str, model: str, names: Sequence[str]) -> None:
    if dataset not in datasets.available():
        raise _fail(
            f"unknown data set {dataset!r}; choose one of {', '.join(datasets.available())} "
            "with --dataset."
        )
    if model not in bench_models.available():
        choices = ", ".join(bench_models.available())
        raise _fail(f"unknown model {model!r}; choose one of {choices} with --model.")
    for name in names:
        try:
            al.strategies.get(name)
        except ValueError as error:
            raise _fail(f"{error} Pick them with --strategy NAME (repeatable).") from None
    from activelab._extras import require

    try:
        require("pandas", "bench", "writing the rounds CSV")
        require("matplotlib", "bench", "drawing the learning curves")
    except ImportError as error:
        raise _fail(str(error)) from None


def _summary_table(runs: dict[str, list[al.Result]], labels: dict[str, str], caption: str) -> Table:
    table = Table(title="Summary: mean over seeds", caption=caption)
    table.add_column("strategy", style="bold", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("AULC ± std", justify="right", no_wrap=True)
    table.add_column("final acc", justify="right")
    table.add_column("query s", justify="right")
    table.add_column("fit s", justify="right")
    best = max(float(np.mean([r.aulc for r in results])) for results in runs.values())
    for name, results in runs.items():
        aulcs = np.array([r.aulc for r in results])
        spread = float(np.std(aulcs, ddof=1)) if aulcs.size > 1 else 0.0
        final = float(np.mean([r.final["accuracy"] for r in results]))
        queried = [r.query_seconds for res in results for r in res.history if r.round > 0]
        fitted = [r.fit_seconds for res in results for r in res.history]
        mean_aulc = float(aulcs.mean())
        aulc_text = f"{mean_aulc:.4f} ± {spread:.4f}"
        table.add_row(
            Text(name),
            Text(labels[name]),
            Text(aulc_text, style="green" if mean_aulc == best else ""),
            f"{final:.4f}",
            f"{np.mean(queried):.4f}" if queried else "—",
            f"{np.mean(fitted):.4f}",
        )
    return table


def _check_budget(n_items: int, budget: int, initial: int) -> None:
    # simulate holds out ceil(25 %) of the data as the test set; the rest is the pool.
    pool = n_items - int(np.ceil(0.25 * n_items))
    if budget > pool:
        raise _fail(
            f"--budget {budget} exceeds the pool: {pool} of the {n_items} items remain after "
            f"the 25 % test split. Lower --budget to at most {pool}."
        )
    if initial > budget:
        raise _fail(
            f"--initial {initial} is larger than --budget {budget} (the budget counts the "
            "initial labels too). Lower --initial or raise --budget."
        )


def _write_outputs(
    runs: dict[str, list[al.Result]], labels: dict[str, str], seeds: int, dataset: str, out: Path
) -> tuple[Path, Path]:
    import pandas as pd

    from activelab.plot import learning_curves

    out.mkdir(parents=True, exist_ok=True)
    plot_path = out / "learning_curves.png"
    csv_path = out / "rounds.csv"
    learning_curves(runs, path=str(plot_path), metric="accuracy")
    frames = []
    for name, results in runs.items():
        for seed, result in zip(range(seeds), results, strict=True):
            frame = result.to_frame()
            frame["model"] = labels[name]
            frame.insert(0, "seed", seed)
            frame.insert(0, "dataset", dataset)
            frames.append(frame)
    pd.concat(frames, ignore_index=True).to_csv(csv_path, index=False)
    return plot_path, csv_path


def _experiment(
    dataset: str,
    model: str,
    names: Sequence[str],
    budget: int,
    initial: int,
    batch_size: int,
    seeds: int,
    members: int,
    n_jobs: int,
    out: Path,
) -> dict[str, list[al.Result]]:
    """Check the choices, run every strategy × seed, print the summary, write the files."""
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    names = list(dict.fromkeys(names))
    _check_choices(dataset, model, names)
    console = _console()
    X, y = datasets.load(dataset)
    _check_budget(X.shape[0], budget, initial)
    committees = {name: members if _needs_committee(name, model) else None for name in names}
    labels = {name: _model_label(model, committees[name]) for name in names}
    for name in names:
        if committees[name] is not None:
            console.print(
                f"{name} needs posterior samples (sample_proba), which {model} does not give: "
                f"it runs on a query-by-bagging committee, {labels[name]}."
            )
    plan = [_Run(name, seed, committees[name]) for seed in range(seeds) for name in names]
    console.print(
        f"{len(plan)} runs: {dataset} ({X.shape[0]} × {X.shape[1]}, "
        f"{np.unique(y).shape[0]} classes), {model}, strategies {', '.join(names)}, "
        f"seeds 0–{seeds - 1}, budget {budget}, initial {initial}, batch {batch_size}, "
        f"n_jobs {n_jobs}."
    )
    results: list[al.Result | None] = [None] * len(plan)
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    try:
        # One BLAS/OpenMP thread per run, as joblib gives its workers: the models are small,
        # and threads fighting over the cores made a serial run several times slower.
        with progress, threadpool_limits(limits=1):
            task = progress.add_task("simulating", total=len(plan))
            jobs = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_indexed)(position, run, model, X, y, budget, initial, batch_size)
                for position, run in enumerate(plan)
            )
            for position, result in jobs:
                results[position] = result
                run = plan[position]
                progress.update(task, advance=1, description=f"{run.strategy} seed {run.seed}")
    except ValueError as error:
        raise _fail(str(error)) from None
    elapsed = time.perf_counter() - start
    runs: dict[str, list[al.Result]] = {name: [] for name in names}
    for run, result in zip(plan, results, strict=True):
        runs[run.strategy].append(result)
    caption = (
        f"{dataset}, {seeds} seeds, {initial} → {budget} labels. AULC: area under the test "
        "accuracy curve (std over seeds); final acc: at the budget; query s, fit s: seconds "
        f"per round. {elapsed:.1f} s wall."
    )
    console.print(_summary_table(runs, labels, caption))
    try:
        plot_path, csv_path = _write_outputs(runs, labels, seeds, dataset, out)
    except OSError as error:
        raise _fail(f"could not write to {out}: {error}. Pass a writable --out.") from None
    console.print(f"Learning curves: {plot_path}", soft_wrap=True)
    console.print(f"Rounds (CSV):    {csv_path}", soft_wrap=True)
    return runs


def _indexed(position: int, run: _Run, *args: Any) -> tuple[int, al.Result]:
    return position, _run_one(run, *args)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"activelab {al.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Active learning: every query strategy, with a loop, stopping criteria and plots.

    Parameters
    ----------
    version : bool
        Print ``activelab <version>`` and exit.
    """


@app.command()
def strategies() -> None:
    """List every registered query strategy: what it needs, what it does, the paper.

    Examples
    --------
    ``activelab strategies``
    """
    table = Table(title="Query strategies (al.strategies.get(name))")
    for column in ("name", "needs", "summary", "reference"):
        table.add_column(column, style="bold" if column == "name" else None)
    for name in al.strategies.available():
        row = al.strategies.describe(name)
        table.add_row(*(Text(row[key]) for key in ("name", "needs", "summary", "reference")))
    _console().print(table)


@app.command()
def simulate(
    dataset: Annotated[
        str,
        typer.Option(
            help=f"Data set shipped with scikit-learn: {', '.join(datasets.available())}."
        ),
    ] = "digits",
    model: Annotated[
        str, typer.Option(help=f"Model: {', '.join(bench_models.available())}.")
    ] = "logreg",
    strategy: Annotated[
        list[str] | None,
        typer.Option(
            "--strategy",
            "-s",
            help="Strategy (repeat for several); `activelab strategies` lists them. "
            "Default: margin and random.",
        ),
    ] = None,
    budget: Annotated[
        int, typer.Option(min=2, help="Labels in total, initial set included.")
    ] = 300,
    initial: Annotated[int, typer.Option(min=2, help="Size of the stratified initial set.")] = 10,
    batch_size: Annotated[int, typer.Option(min=1, help="Items queried per round.")] = 10,
    seeds: Annotated[int, typer.Option(min=1, help="Runs per strategy, seeds 0 … n−1.")] = 5,
    members: Annotated[
        int,
        typer.Option(
            min=2, help="Committee size for strategies that need sample_proba the model lacks."
        ),
    ] = 10,
    n_jobs: Annotated[
        int, typer.Option(help="Processes for the runs (joblib; -1: all cores). Same results.")
    ] = 1,
    out: Annotated[Path, typer.Option(help="Folder for the plot and the CSV.")] = Path(
        "runs/simulate"
    ),
) -> None:
    """Simulate active learning: every strategy × seed, then a summary, a plot and a CSV.

    Parameters
    ----------
    dataset : str
        One of :func:`activelab.datasets.available`.
    model : str
        One of ``logreg``, ``forest``, ``nb``.
    strategy : list of str, optional
        Registry names; ``margin`` and ``random`` when omitted.
    budget, initial, batch_size : int
        Passed to :func:`activelab.simulate`.
    seeds : int
        Seeds ``0 … seeds−1``; every strategy of a seed starts from the same initial set.
    members : int
        Size of the bagging committee used when a strategy needs posterior samples.
    n_jobs : int
        Processes (joblib); results equal a serial run's.
    out : pathlib.Path
        Where ``learning_curves.png`` and ``rounds.csv`` go.

    Examples
    --------
    ``activelab simulate --dataset iris -s margin -s bald --budget 60 --seeds 3``
    """
    _experiment(
        dataset,
        model,
        strategy or ["margin", "random"],
        budget,
        initial,
        batch_size,
        seeds,
        members,
        n_jobs,
        out,
    )


@app.command()
def demo(
    n_jobs: Annotated[
        int, typer.Option(help="Processes for the runs (joblib; -1: all cores).")
    ] = -1,
    members: Annotated[
        int, typer.Option(min=2, help="Size of the bagging committee BALD runs on.")
    ] = DEMO_MEMBERS,
    out: Annotated[Path, typer.Option(help="Folder for the plot and the CSV.")] = Path("runs/demo"),
) -> None:
    """Margin, entropy, BALD and random on digits with logistic regression, 5 seeds.

    BALD needs posterior samples, so it runs on a query-by-bagging committee of
    ``members`` logistic regressions. The whole demo takes about a minute on two cores.

    Parameters
    ----------
    n_jobs : int
        Processes (joblib; -1: all cores).
    members : int
        Committee size for BALD.
    out : pathlib.Path
        Where ``learning_curves.png`` and ``rounds.csv`` go.

    Examples
    --------
    ``activelab demo``
    """
    console = _console()
    console.print(
        f"Demo: digits, logreg, {', '.join(DEMO_STRATEGIES)}; budget 300, 5 seeds; bald on a "
        f"bagging committee of {members} logistic regressions."
    )
    _experiment("digits", "logreg", DEMO_STRATEGIES, 300, 10, 10, 5, members, n_jobs, out)
    console.print(f"Open {out / 'learning_curves.png'} to see the curves.", soft_wrap=True)


def _aulc_table(run_dir: Path) -> Table:
    """Mean AULC (accuracy) per model and strategy over data sets and seeds."""
    import pandas as pd

    from activelab.bench import load_rounds
    from activelab.loop import aulc

    rounds = load_rounds(run_dir)
    per_cell = pd.DataFrame(
        [
            (model, strategy, aulc(cell["n_labeled"], cell["accuracy"]))
            for (_, model, strategy), cell in rounds.groupby(["cell", "model", "strategy"])
        ],
        columns=["model", "strategy", "aulc"],
    )
    summary = per_cell.groupby(["model", "strategy"])["aulc"].agg(["mean", "count"]).reset_index()
    table = Table(
        title="Mean AULC of accuracy over data sets, seeds and settings",
        caption=f"Details: activelab report {run_dir}",
    )
    for column in ("model", "strategy", "AULC", "cells"):
        table.add_column(column, justify="right" if column in ("AULC", "cells") else "left")
    for model, rows in summary.groupby("model", sort=True):
        best = rows["mean"].max()
        for row in rows.sort_values("mean", ascending=False).itertuples():
            table.add_row(
                Text(str(model)),
                Text(str(row.strategy)),
                Text(f"{row.mean:.4f}", style="green" if row.mean == best else ""),
                str(row.count),
            )
    return table


@app.command()
def bench(
    config: Annotated[
        Path, typer.Argument(help="Benchmark configuration (TOML); see docs/benchmarks.md.")
    ],
    jobs: Annotated[
        int | None,
        typer.Option("--jobs", "-j", help="Worker processes (-1 or omitted: every core)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="The run's folder (default: runs/NAME from the config).")
    ] = None,
) -> None:
    """Run a benchmark grid; a re-run skips the cells an earlier run finished.

    Every strategy of a (data set, model, seed, initial size) starts from the same
    initial set and is scored on the same test split; random is always included. One
    row per round goes to ``OUT/cells/*.parquet``, merged into ``OUT/rounds.parquet``.
    Ctrl-C keeps the finished cells; run the same command again to finish the rest.

    Parameters
    ----------
    config : pathlib.Path
        The TOML configuration.
    jobs : int, optional
        Worker processes; results do not depend on it.
    out : pathlib.Path, optional
        Defaults to ``runs/NAME``.

    Examples
    --------
    ``activelab bench benchmarks/suite.toml --jobs 2``
    """
    from activelab import bench as harness

    console = _console()
    if jobs == 0:
        raise _fail("--jobs 0 runs nothing; give a number of processes, or -1 for every core.")
    try:
        folder = harness.run(config, jobs=jobs, out=out, console=console)
    except harness.ConfigError as error:
        raise _fail(str(error)) from None
    except harness.BenchError as error:
        _console(stderr=True).print(f"[bold red]Error:[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
    console.print(_aulc_table(folder))
    console.print(f"Rounds: {folder / 'rounds.parquet'}", soft_wrap=True)
    console.print(f"Report: activelab report {folder}", soft_wrap=True)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run's folder, as written by `bench`.")],
    out: Annotated[
        Path | None, typer.Option(help="Where the report goes (default: RUN_DIR/report).")
    ] = None,
) -> None:
    """Write learning curves (PNG, SVG), an HTML report and a Markdown summary of a run.

    Parameters
    ----------
    run_dir : pathlib.Path
        The folder ``activelab bench`` wrote.
    out : pathlib.Path, optional
        Where the files go.

    Examples
    --------
    ``activelab report runs/suite``
    """
    from activelab import bench as harness

    if not run_dir.is_dir():
        raise _fail(f"{run_dir} is not a folder; pass the folder `activelab bench` wrote.")
    try:
        written = harness.report(run_dir, out_dir=out)
    except (FileNotFoundError, ValueError) as error:
        raise _fail(str(error)) from None
    _console().print(f"Report: {written}", soft_wrap=True)
