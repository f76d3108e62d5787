"""``activelab score``: pick the rows of a huge Parquet pool to label next, on Dask.

    activelab score --pool 'data/*.parquet' --model model.joblib --strategy margin \\
        -k 1000 [--scheduler tcp://host:8786] --out picks.parquet
    activelab score ... --id-column id --exclude round1.parquet --out round2.parquet

Without ``--scheduler`` it starts a LocalCluster sized to the machine (one worker
process per core, or ``--workers N``) and closes it afterwards. A progress bar counts
the partitions scored. The picks are written as Parquet with the columns of
:meth:`activelab.scale.Picks.to_frame` (``rank``, ``row``, ``score``, ``prediction``,
``file``, ``file_row``).

The command is mounted in :mod:`activelab.cli`; ``python -m activelab.scale.cli`` runs
it alone. Dask is imported only when the command runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app", "parse_params", "score"]

app = typer.Typer(
    name="score",
    help="Pick the rows of a Parquet pool to label next, scored on a Dask cluster.",
    add_completion=False,
)


def _fail(message: str) -> typer.Exit:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False).print(
        f"[bold red]Error:[/] {escape(message)}", soft_wrap=True
    )
    return typer.Exit(code=2)


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """Strategy parameters from ``KEY=VALUE`` strings; values are JSON when they parse.

    Parameters
    ----------
    items : list of str or None
        E.g. ``["sampling=softmax", "temperature=0.5"]``.

    Returns
    -------
    dict

    Examples
    --------
    >>> parse_params(["temperature=0.5", "sampling=softmax"])
    {'temperature': 0.5, 'sampling': 'softmax'}
    """
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--param takes KEY=VALUE (e.g. temperature=0.5); got {item!r}.")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def _load_model(path: Path) -> Any:
    import joblib

    if not path.is_file():
        raise _fail(f"--model {path} does not exist; save a fitted model with joblib.dump.")
    try:
        return joblib.load(path)
    except Exception as error:
        raise _fail(f"could not load --model {path} with joblib: {error}") from None


def _load_labeled(path: Path | None, columns: list[str] | None, label: str | None) -> Any:
    if path is None:
        return None, None
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as error:
        raise _fail(f"could not read --labeled {path}: {error}") from None
    y = None
    if label is not None:
        if label not in frame.columns:
            raise _fail(f"--label-column {label!r} is not a column of {path}.")
        y = frame.pop(label).to_numpy()
    if columns:
        frame = frame[columns]
    else:
        frame = frame.select_dtypes("number")
    return frame, y


def _load_exclude(paths: list[Path] | None, id_column: str | None) -> Any:
    """The rows (``row`` column) or ids (``id_column``, else ``id``) of earlier picks files."""
    if not paths:
        return None
    import numpy as np
    import pandas as pd

    wanted = [id_column, "id"] if id_column is not None else ["row"]
    values = []
    for path in paths:
        try:
            frame = pd.read_parquet(path)
        except Exception as error:
            raise _fail(f"could not read --exclude {path}: {error}") from None
        column = next((name for name in wanted if name in frame.columns), None)
        if column is None:
            raise _fail(
                f"--exclude {path} has no column {' or '.join(map(repr, wanted))}; give it "
                "the picks file of an earlier round (or a Parquet file with that column)."
            )
        values.append(frame[column].to_numpy())
    return np.concatenate(values)


@app.command()
def score(
    pool: Annotated[
        str,
        typer.Option(
            help="Parquet files: a glob (quote it), a folder, or one file; any fsspec URL."
        ),
    ],
    model: Annotated[Path, typer.Option(help="A fitted model saved with joblib.dump.")],
    out: Annotated[Path, typer.Option(help="Where the picks go (Parquet).")],
    strategy: Annotated[str, typer.Option(help="Registry name (activelab strategies).")] = "margin",
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Rows to pick.")] = 1000,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Address of a running Dask scheduler, e.g. tcp://host:8786."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="LocalCluster worker processes (default: one per core)."),
    ] = None,
    memory_limit: Annotated[
        str, typer.Option(help="LocalCluster memory per worker ('auto', '4GiB', …).")
    ] = "auto",
    columns: Annotated[
        str | None,
        typer.Option(help="Feature columns, comma-separated (default: the model's or all)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(help="Strategy parameter KEY=VALUE (repeatable), e.g. sampling=softmax."),
    ] = None,
    plan: Annotated[
        str | None, typer.Option(help="Force a plan: score, prefilter, kcenter or sample.")
    ] = None,
    candidates: Annotated[
        int | None, typer.Option(min=1, help="Rows gathered for prefilter/sample plans.")
    ] = None,
    prefilter_by: Annotated[
        str | None, typer.Option(help="Utility that ranks rows for plan=prefilter.")
    ] = None,
    labeled: Annotated[
        Path | None, typer.Option(help="Parquet file of the labeled set (same features).")
    ] = None,
    label_column: Annotated[str | None, typer.Option(help="The label column of --labeled.")] = None,
    id_column: Annotated[
        str | None,
        typer.Option(help="Column of row ids: written with the picks, matched by --exclude."),
    ] = None,
    exclude: Annotated[
        list[Path] | None,
        typer.Option(
            help="Parquet file of rows never to pick (repeatable), such as an earlier round's "
            "picks: its id column with --id-column (else its row column)."
        ),
    ] = None,
    partition_rows: Annotated[
        int | None, typer.Option(min=1, help="Rows per partition (default: ~64 MiB).")
    ] = None,
    batch_rows: Annotated[int, typer.Option(min=1, help="Rows scored at a time.")] = 131_072,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed of ties and sampling.")] = None,
) -> None:
    """Score a Parquet pool with a saved model and write the k rows to label next.

    Parameters
    ----------
    pool, model, out, strategy, k, scheduler, workers, memory_limit, columns, param,
    plan, candidates, prefilter_by, labeled, label_column, id_column, exclude,
    partition_rows, batch_rows, seed
        See ``activelab score --help``.

    Examples
    --------
    ``activelab score --pool 'data/*.parquet' --model model.joblib -k 1000 --out picks.parquet``
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from activelab import strategies
    from activelab._extras import require
    from activelab.scale import local_cluster, query

    try:
        require("distributed", "dask", "activelab score")
    except ImportError as error:
        raise _fail(str(error)) from None
    from distributed import Client

    try:
        chosen = strategies.get(strategy, **parse_params(param))
    except (TypeError, ValueError) as error:
        raise _fail(str(error)) from None
    estimator = _load_model(model)
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    X_labeled, y_labeled = _load_labeled(labeled, names, label_column)
    excluded = _load_exclude(exclude, id_column)
    console = Console(stderr=True, highlight=False)
    cluster = None
    try:
        if scheduler is None:
            console.print("Starting a LocalCluster …")
            cluster = local_cluster(workers, memory_limit=memory_limit)
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="30s")
    except Exception as error:
        if cluster is not None:
            cluster.close()
        where = scheduler or "a LocalCluster"
        raise _fail(f"could not start or reach {where}: {error}") from None
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    start = time.perf_counter()
    try:
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        console.print(f"Dask: {n_workers} workers at {client.scheduler.address}")
        with progress:
            task = progress.add_task("scoring partitions", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            picks = query(
                estimator,
                pool,
                k,
                chosen,
                client,
                columns=names,
                X_labeled=X_labeled,
                y_labeled=y_labeled,
                random_state=seed,
                plan=plan,
                candidates=candidates,
                prefilter_by=prefilter_by,
                partition_rows=partition_rows,
                batch_rows=batch_rows,
                progress=advance,
                exclude=excluded,
                id_column=id_column,
            )
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, ImportError) as error:
        raise _fail(str(error)) from None
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    elapsed = time.perf_counter() - start
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        picks.to_frame().to_parquet(out, index=False)
    except OSError as error:
        raise _fail(f"could not write --out {out}: {error}") from None
    Console(highlight=False).print(
        f"{len(picks)} picks of {picks.n_rows:,} rows ({picks.strategy}, plan {picks.plan}: "
        f"{picks.note}) in {elapsed:.1f} s, {picks.n_rows / max(elapsed, 1e-9):,.0f} rows/s "
        f"→ {out}",
        soft_wrap=True,
    )


if __name__ == "__main__":  # pragma: no cover
    app()
