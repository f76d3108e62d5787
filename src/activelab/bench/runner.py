"""The grid runner: expand a configuration into cells and run them in parallel processes.

A *cell* is one learning curve: data set × model × strategy × seed × initial size ×
batch size × budget. The cells of one *group* (the same data set, seed and initial
size) share the test split (``load_split(dataset, seed)``) and the initial labeled set
(drawn from the seed and the initial size), so strategies differ only in what they
query. Each cell runs :func:`activelab.simulate` on the split's training rows (the
pool) with a :class:`~activelab.bench.metrics.ProbabilityMetrics` hook for log loss and
ECE, and its rows are written atomically to ``runs/NAME/cells/ID.parquet``.

Resume: a cell's id is a hash of everything that defines it (data set, test fraction,
model and its parameters, strategy and its parameters, seed, initial size, batch size,
budget in labels, and :data:`HARNESS_VERSION`), not of the activelab version. A re-run
skips every cell whose file exists; a changed configuration runs only the cells that
are new. Bump :data:`HARNESS_VERSION` when a change to the harness changes its results.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from activelab.bench import config as _config
from activelab.bench import models as _models
from activelab.bench import peers, store
from activelab.bench.config import Config, ConfigError, FileSpec, ModelSpec, StrategySpec

__all__ = [
    "HARNESS_VERSION",
    "BenchError",
    "Cell",
    "Reference",
    "expand",
    "resolve_budget",
    "run",
    "run_cell",
    "run_reference",
]

#: Part of every cell id: bump it when the harness changes what a cell computes, so that
#: old results are recomputed rather than mixed with new ones.
HARNESS_VERSION = 1


class BenchError(RuntimeError):
    """A run that did not finish every cell; the finished ones are kept."""


@dataclass(frozen=True)
class Cell:
    """One learning curve of the grid.

    Attributes
    ----------
    dataset : str
    test_size : float or None
    model : ModelSpec
    strategy : StrategySpec
    seed, initial_size, batch_size : int
    budget : int
        Labels in total, the initial set included.
    file : FileSpec or None
        The user's file when the data set is one.
    """

    dataset: str
    test_size: float | None
    model: ModelSpec
    strategy: StrategySpec
    seed: int
    initial_size: int
    batch_size: int
    budget: int
    file: FileSpec | None = None

    def spec(self) -> dict[str, Any]:
        """Everything that defines the cell, as JSON-able data (hashed into :attr:`id`)."""
        return {
            "harness": HARNESS_VERSION,
            "dataset": self.dataset,
            "test_size": self.test_size,
            "model": {
                "label": self.model.label,
                "kind": self.model.kind,
                "params": self.model.params,
            },
            "strategy": self.strategy.to_dict(),
            "seed": self.seed,
            "initial_size": self.initial_size,
            "batch_size": self.batch_size,
            "budget": self.budget,
            **_file_spec(self.file),
        }

    @property
    def id(self) -> str:
        """The cell's id: 16 hex digits of the SHA-256 of :meth:`spec`."""
        return store.make_id(self.spec())

    def describe(self) -> str:
        """``strategy / dataset / model / seed N`` for messages."""
        return f"{self.strategy.label} / {self.dataset} / {self.model.label} / seed {self.seed}"


@dataclass(frozen=True)
class Reference:
    """The model fitted on the whole pool of a (data set, model, seed)."""

    dataset: str
    test_size: float | None
    model: ModelSpec
    seed: int
    file: FileSpec | None = None

    def spec(self) -> dict[str, Any]:
        """Everything that defines it, as JSON-able data."""
        return {
            "harness": HARNESS_VERSION,
            "reference": True,
            "dataset": self.dataset,
            "test_size": self.test_size,
            "model": {
                "label": self.model.label,
                "kind": self.model.kind,
                "params": self.model.params,
            },
            "seed": self.seed,
            **_file_spec(self.file),
        }

    @property
    def id(self) -> str:
        """16 hex digits of the SHA-256 of :meth:`spec`."""
        return store.make_id(self.spec())

    def describe(self) -> str:
        """``reference / dataset / model / seed N`` for messages."""
        return f"reference / {self.dataset} / {self.model.label} / seed {self.seed}"


def resolve_budget(budget: int | float | str, pool: int) -> int:
    """A configured budget in labels: an int as is, a fraction of the pool, or the pool.

    Parameters
    ----------
    budget : int, float in (0, 1], or "pool"
    pool : int
        Rows of the training split.

    Returns
    -------
    int

    Examples
    --------
    >>> resolve_budget("pool", 341), resolve_budget(0.5, 341), resolve_budget(100, 341)
    (341, 170, 100)
    """
    if budget == "pool":
        return int(pool)
    if isinstance(budget, float):
        return int(np.floor(budget * pool))
    return int(budget)


def _file_spec(file: FileSpec | None) -> dict[str, Any]:
    """What of a user's file defines a cell: its content, label and dropped columns."""
    if file is None:
        return {}
    return {"file": {"sha256": file.sha256, "label": file.label, "drop": list(file.drop)}}


@functools.lru_cache(maxsize=8)
def _cached_split(
    name: str, seed: int, test_size: float | None, file: FileSpec | None = None
) -> Any:
    from activelab.bench import datasets

    target: Any = name
    if file is not None:
        target = datasets.from_file(file.path, file.label, name=name, drop=file.drop)
    return datasets.load_split(target, seed, test_size=test_size)


def _pool_sizes(config: Config) -> dict[str, int]:
    sizes = {}
    for name in config.dataset_names():
        split = _cached_split(name, config.seeds[0], config.test_size, config.file(name))
        sizes[name] = int(np.asarray(split.y_train).shape[0])
    return sizes


def _labels(budget: int | float | str, dataset: str, pool: int) -> int:
    labels = resolve_budget(budget, pool)
    if labels > pool:
        raise ConfigError(
            f"budget {budget} asks for {labels} labels but {dataset} has {pool} training "
            'rows; lower it or write "pool".'
        )
    return labels


def expand(config: Config, pool_sizes: Mapping[str, int]) -> tuple[list[Cell], list[str]]:
    """The cells of a configuration, grouped (data set, seed, model …), and notes.

    Strategies that a model cannot serve (BALD needs posterior samples, which logistic
    regression does not give) and (initial size, budget) pairs where the budget leaves
    nothing to query are left out, each with a note.

    Parameters
    ----------
    config : Config
    pool_sizes : mapping of str to int
        Training rows of each data set.

    Returns
    -------
    cells : list of Cell
    notes : list of str

    Raises
    ------
    ConfigError
        When a budget exceeds a pool, or nothing is left to run.
    """
    notes: list[str] = []
    fitting = {model.label: config.strategies_for(model) for model in config.models}
    if config.strategies != _config.ALL:
        from activelab.bench import peers

        for model in config.models:
            has = _models.capabilities(model.kind, **model.params)
            names = {s.label for s in fitting[model.label]}
            for spec in config.strategies:
                if isinstance(spec, StrategySpec) and spec.label not in names:
                    lacks = sorted(set(peers.needs(spec.name)) - has)
                    notes.append(
                        f"{spec.label} needs {', '.join(lacks)}, which {model.label} does not "
                        "give; those cells are left out."
                    )
    cells = []
    for dataset in config.dataset_names():
        budgets = [_labels(budget, dataset, pool_sizes[dataset]) for budget in config.budgets]
        settings = itertools.product(
            config.seeds, config.initial_sizes, config.models, config.batch_sizes, budgets
        )
        for seed, initial, model, batch, budget in settings:
            if budget <= initial:
                note = (
                    f"budget {budget} on {dataset} leaves nothing to query after {initial} "
                    "initial labels; skipped."
                )
                notes.extend([] if note in notes else [note])
                continue
            cells.extend(
                Cell(
                    dataset,
                    config.test_size,
                    model,
                    strategy,
                    seed,
                    initial,
                    batch,
                    budget,
                    config.file(dataset),
                )
                for strategy in fitting[model.label]
            )
    if not cells:
        raise ConfigError("the grid has no cell to run: " + " ".join(notes))
    return cells, notes


def _references(cells: Sequence[Cell]) -> list[Reference]:
    seen: dict[str, Reference] = {}
    for c in cells:
        reference = Reference(c.dataset, c.test_size, c.model, c.seed, c.file)
        seen.setdefault(reference.id, reference)
    return list(seen.values())


@contextlib.contextmanager
def _known_warnings_silenced() -> Iterator[None]:
    """Silence the one warning every svm-rbf fit gives on scikit-learn 1.9 and 1.10.

    scikit-learn 1.9 deprecates ``SVC(probability=True)`` (removal in 1.11), which the
    Lu et al. (2023) protocol uses; a run would print it once per fit.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The `probability` parameter was deprecated", category=FutureWarning
        )
        yield


def _initial_set(y_train: np.ndarray, seed: int, size: int) -> np.ndarray:
    """The group's initial set: stratified, from the seed and the size only."""
    from activelab.loop import stratified_initial

    return stratified_initial(y_train, size, np.random.default_rng([seed, size]))


def run_cell(cell: Cell, run_dir: str | Path) -> dict[str, Any]:
    """Run one cell and store its rounds; never raises for a failing strategy.

    Parameters
    ----------
    cell : Cell
    run_dir : str or pathlib.Path

    Returns
    -------
    dict
        ``id``, ``aulc`` (of accuracy), ``seconds``, and ``error`` (a traceback, or None).
    """
    from threadpoolctl import threadpool_limits

    import activelab as al
    from activelab.bench.metrics import ProbabilityMetrics
    from activelab.loop import aulc

    started = time.perf_counter()
    try:
        with threadpool_limits(limits=1), _known_warnings_silenced():
            split = _cached_split(cell.dataset, cell.seed, cell.test_size, cell.file)
            y_train = np.asarray(split.y_train)
            hook = ProbabilityMetrics(split.X_test, split.y_test)
            result = al.simulate(
                _models.make(cell.model.kind, cell.seed, **cell.model.params),
                peers.get(cell.strategy.name, **cell.strategy.params),
                split.X_train,
                y_train,
                X_test=split.X_test,
                y_test=split.y_test,
                initial=_initial_set(y_train, cell.seed, cell.initial_size),
                batch_size=cell.batch_size,
                budget=cell.budget,
                stopping=hook,
                metrics=("accuracy", "f1_macro"),
                random_state=cell.seed,
                training=_config.make_training(cell.strategy.training),
            )
        identity = {
            "cell": cell.id,
            "dataset": cell.dataset,
            "model": cell.model.label,
            "strategy": cell.strategy.label,
            "seed": cell.seed,
            "initial_size": cell.initial_size,
            "batch_size": cell.batch_size,
            "budget": cell.budget,
        }
        rows = [
            {
                **identity,
                "round": r.round,
                "n_labeled": r.n_labeled,
                "accuracy": r.metrics["accuracy"],
                "f1_macro": r.metrics["f1_macro"],
                **extra,
                "query_seconds": r.query_seconds,
                "fit_seconds": r.fit_seconds,
                "indices": json.dumps(r.indices.tolist()),
            }
            for r, extra in zip(result.history, hook.records, strict=True)
        ]
        store.write_cell(
            run_dir,
            cell.id,
            rows,
            {"activelab_version": al.__version__, "spec": json.dumps(cell.spec())},
        )
        curve = aulc([r["n_labeled"] for r in rows], [r["accuracy"] for r in rows])
        return {
            "id": cell.id,
            "aulc": curve,
            "seconds": time.perf_counter() - started,
            "error": None,
        }
    except Exception:  # a strategy failing on one data set must not stop the grid
        return {
            "id": cell.id,
            "aulc": None,
            "seconds": time.perf_counter() - started,
            "error": traceback.format_exc(),
        }


def run_reference(reference: Reference, run_dir: str | Path) -> dict[str, Any]:
    """Fit the model on the whole pool, store its test accuracy.

    Parameters
    ----------
    reference : Reference
    run_dir : str or pathlib.Path

    Returns
    -------
    dict
        ``id``, ``accuracy``, ``seconds`` and ``error``.
    """
    from threadpoolctl import threadpool_limits

    from activelab.loop import METRICS
    from activelab.models import wrap

    started = time.perf_counter()
    try:
        with threadpool_limits(limits=1), _known_warnings_silenced():
            split = _cached_split(
                reference.dataset, reference.seed, reference.test_size, reference.file
            )
            model = wrap(
                _models.make(reference.model.kind, reference.seed, **reference.model.params)
            )
            model.fit(split.X_train, np.asarray(split.y_train))
            accuracy = METRICS["accuracy"](np.asarray(split.y_test), model.predict(split.X_test))
        row = {
            "dataset": reference.dataset,
            "model": reference.model.label,
            "seed": reference.seed,
            "accuracy": accuracy,
        }
        store.write_reference(run_dir, reference.id, row)
        return {
            "id": reference.id,
            "accuracy": accuracy,
            "seconds": time.perf_counter() - started,
            "error": None,
        }
    except Exception:
        return {
            "id": reference.id,
            "accuracy": None,
            "seconds": time.perf_counter() - started,
            "error": traceback.format_exc(),
        }


def _execute(task: Cell | Reference, run_dir: str) -> tuple[Cell | Reference, dict[str, Any]]:
    if isinstance(task, Cell):
        return task, run_cell(task, run_dir)
    return task, run_reference(task, run_dir)


def _as_config(config_or_path: Config | Mapping[str, Any] | str | Path) -> Config:
    if isinstance(config_or_path, Config):
        return config_or_path
    if isinstance(config_or_path, Mapping):
        return _config.parse(config_or_path)
    return _config.load(config_or_path)


def _write_config(config: Config, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(
        json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8"
    )
    if config.source is not None:
        (out / "config.toml").write_text(config.source, encoding="utf-8")


def _tasks(cells: Sequence[Cell], references: Sequence[Reference]) -> list[Cell | Reference]:
    """References first within each (data set, seed), then its cells: splits stay cached."""
    ordered: list[Cell | Reference] = []
    pending: dict[tuple[str, int], list[Reference]] = {(r.dataset, r.seed): [] for r in references}
    for r in references:
        pending[(r.dataset, r.seed)].append(r)
    for cell in cells:
        ordered.extend(pending.pop((cell.dataset, cell.seed), []))
        ordered.append(cell)
    for rest in pending.values():
        ordered.extend(rest)
    return ordered


class _Display:
    """The rich progress bar: cells done, ETA and the best AULC so far."""

    def __init__(self, total: int, console: Any, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[best]}"),
            console=console,
            disable=not enabled,
        )
        self.task = self.progress.add_task("cells", total=total, best="")
        self.best: tuple[float, str] | None = None

    def __enter__(self) -> _Display:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def done(self, cell: Cell, summary: Mapping[str, Any]) -> None:
        value = summary.get("aulc")
        if value is not None and (self.best is None or value > self.best[0]):
            self.best = (value, cell.describe())
        best = "" if self.best is None else f"best AULC {self.best[0]:.4f} ({self.best[1]})"
        self.progress.update(self.task, advance=1, best=best)


def _parallel(tasks: Sequence[Cell | Reference], run_dir: Path, jobs: int) -> Iterator[Any]:
    from joblib import Parallel, delayed

    if not tasks:
        return iter(())
    return Parallel(n_jobs=jobs, backend="loky", batch_size=1, return_as="generator_unordered")(
        delayed(_execute)(task, str(run_dir)) for task in tasks
    )


def run(
    config_or_path: Config | Mapping[str, Any] | str | Path,
    jobs: int | None = None,
    out: str | Path | None = None,
    *,
    progress: bool = True,
    console: Any = None,
) -> Path:
    """Run a benchmark grid, resuming from what an earlier run finished.

    Parameters
    ----------
    config_or_path : Config, mapping, str or pathlib.Path
        A TOML file, its parsed contents, or a :class:`~activelab.bench.config.Config`.
    jobs : int, optional
        Worker processes (joblib's loky); -1 or None: every core. Results do not depend
        on it.
    out : str or pathlib.Path, optional
        The run's folder; ``runs/NAME`` (NAME from the config) by default.
    progress : bool
        Show the progress bar (cells done, ETA, best AULC so far).
    console : rich.console.Console, optional
        Where the progress bar and messages go.

    Returns
    -------
    pathlib.Path
        The run's folder; read it with :func:`activelab.bench.load_rounds`.

    Raises
    ------
    ConfigError
        For a configuration that cannot run.
    BenchError
        When a cell failed or a worker died; the finished cells are kept, and running
        the same configuration again runs only the rest.
    KeyboardInterrupt
        On Ctrl-C, after the finished cells are merged.

    Examples
    --------
    >>> import activelab.bench as bench                      # doctest: +SKIP
    >>> folder = bench.run("benchmarks/suite.toml", jobs=2)  # doctest: +SKIP
    >>> bench.load_rounds(folder).groupby("strategy").accuracy.mean()  # doctest: +SKIP
    """
    from rich.console import Console

    config = _as_config(config_or_path)
    console = console or Console(highlight=False)
    folder = Path(out) if out is not None else Path("runs") / config.name
    workers = -1 if jobs is None else int(jobs)
    if workers == 0:
        raise ValueError("jobs must be a positive number of processes, or -1 for every core.")
    cells, notes = expand(config, _pool_sizes(config))
    references = _references(cells)
    _write_config(config, folder)
    store.remove_partial(folder)
    store.write_manifest(
        folder,
        [
            {
                "cell": c.id,
                "dataset": c.dataset,
                "model": c.model.label,
                "strategy": c.strategy.label,
                "seed": c.seed,
                "initial_size": c.initial_size,
                "batch_size": c.batch_size,
                "budget": c.budget,
                "spec": json.dumps(c.spec()),
            }
            for c in cells
        ],
    )
    for note in notes:
        console.print(f"Note: {note}", soft_wrap=True)
    finished = store.finished_cells(folder)
    todo_cells = [c for c in cells if c.id not in finished]
    todo_refs = [r for r in references if not (folder / "reference" / f"{r.id}.parquet").is_file()]
    console.print(
        f"{config.name}: {len(cells)} cells; {len(cells) - len(todo_cells)} done already, "
        f"{len(todo_cells)} to run. Results: {folder}",
        soft_wrap=True,
    )
    failures: list[tuple[Cell | Reference, str]] = []
    try:
        with _Display(len(todo_cells), console, progress and bool(todo_cells)) as display:
            for task, summary in _parallel(_tasks(todo_cells, todo_refs), folder, workers):
                if summary["error"]:
                    failures.append((task, summary["error"]))
                if isinstance(task, Cell):
                    display.done(task, summary)
    except KeyboardInterrupt:
        store.merge(folder, [r.id for r in references])
        done = len(store.finished_cells(folder) & {c.id for c in cells})
        console.print(
            f"Interrupted: {done} of {len(cells)} cells are finished and kept in {folder}; "
            "run the same command again to finish the rest.",
            soft_wrap=True,
        )
        raise
    except BrokenExecutor as error:  # loky's TerminatedWorkerError: a worker was killed
        store.merge(folder, [r.id for r in references])
        done = len(store.finished_cells(folder) & {c.id for c in cells})
        raise BenchError(
            f"a worker process died ({error.__class__.__name__}); {done} of {len(cells)} "
            f"cells are finished and kept in {folder}. Run the same command again to finish "
            "the rest (a cell that kills its worker every time may need more memory)."
        ) from None
    store.merge(folder, [r.id for r in references])
    if failures:
        names = "; ".join(task.describe() for task, _ in failures[:10])
        more = f" and {len(failures) - 10} more" if len(failures) > 10 else ""
        raise BenchError(
            f"{len(failures)} of {len(todo_cells) + len(todo_refs)} tasks failed ({names}{more}); "
            f"the others are kept in {folder}, and the next run retries only the failed ones. "
            f"The first failure:\n{failures[0][1]}"
        )
    return folder
