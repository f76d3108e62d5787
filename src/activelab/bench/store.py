"""The results store of a benchmark run: Parquet files under ``runs/NAME/``.

Layout::

    runs/NAME/
      config.toml         the configuration as given (when it came from a file)
      config.json         the checked configuration
      cells.parquet       the manifest: one row per cell of the current configuration
      cells/ID.parquet    the rounds of one finished cell; its existence marks it done
      reference/ID.parquet  the full-data accuracy of one (data set, model, seed)
      rounds.parquet      every round of the manifest's finished cells, merged
      reference.parquet   dataset, model, seed, accuracy

A worker writes each cell's file under a temporary name and renames it when complete,
so a killed or interrupted cell leaves no rows, and a finished one is never half
written. :func:`load_rounds` reads the cells the manifest lists, so results of cells
that a changed configuration no longer has stay on disk (and are reused if the cell
comes back) but are not reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from activelab._extras import require

__all__ = [
    "MANIFEST_COLUMNS",
    "REFERENCE_COLUMNS",
    "ROUND_COLUMNS",
    "cell_path",
    "finished_cells",
    "load_reference",
    "load_rounds",
    "make_id",
    "merge",
    "remove_partial",
    "write_cell",
    "write_manifest",
    "write_reference",
]

#: Columns of ``rounds.parquet`` and of :func:`load_rounds`, with their Arrow types.
ROUND_COLUMNS: dict[str, str] = {
    "cell": "string",
    "dataset": "string",
    "model": "string",
    "strategy": "string",
    "seed": "int64",
    "initial_size": "int64",
    "batch_size": "int64",
    "budget": "int64",
    "round": "int64",
    "n_labeled": "int64",
    "accuracy": "float64",
    "f1_macro": "float64",
    "log_loss": "float64",
    "ece": "float64",
    "query_seconds": "float64",
    "fit_seconds": "float64",
    "indices": "string",
}

#: Columns of ``cells.parquet``: what defines each cell (``spec`` is its JSON).
MANIFEST_COLUMNS: dict[str, str] = {
    "cell": "string",
    "dataset": "string",
    "model": "string",
    "strategy": "string",
    "seed": "int64",
    "initial_size": "int64",
    "batch_size": "int64",
    "budget": "int64",
    "spec": "string",
}

#: Columns of ``reference.parquet``: test accuracy of the model fitted on the whole pool.
REFERENCE_COLUMNS: dict[str, str] = {
    "dataset": "string",
    "model": "string",
    "seed": "int64",
    "accuracy": "float64",
}

_CELLS = "cells"
_REFERENCE = "reference"
_TMP_SUFFIX = ".tmp"


def _pa() -> Any:
    return require("pyarrow", "bench", "the benchmark's results store")


def _pq() -> Any:
    require("pyarrow", "bench", "the benchmark's results store")
    import pyarrow.parquet as pq

    return pq


def _schema(columns: Mapping[str, str]) -> Any:
    pa = _pa()
    return pa.schema([(name, getattr(pa, kind)()) for name, kind in columns.items()])


def make_id(spec: Mapping[str, Any]) -> str:
    """A short, stable id of a cell: the SHA-256 of its canonical JSON, 16 hex digits.

    Parameters
    ----------
    spec : mapping
        Everything that defines the cell (plain JSON-able values).

    Returns
    -------
    str

    Examples
    --------
    >>> make_id({"b": 1, "a": [2, 3]}) == make_id({"a": [2, 3], "b": 1})
    True
    >>> len(make_id({}))
    16
    """
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _atomic_write(table: Any, path: Path, metadata: Mapping[str, str] | None = None) -> None:
    """Write a Parquet file under a temporary name, then rename it into place."""
    if metadata:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), **{k: v.encode() for k, v in metadata.items()}}
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}")
    try:
        _pq().write_table(table, temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _table(rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str]) -> Any:
    pa = _pa()
    schema = _schema(columns)
    return pa.Table.from_pylist([{name: row[name] for name in columns} for row in rows], schema)


def cell_path(run_dir: str | Path, cell: str) -> Path:
    """Where a finished cell's rounds live.

    Parameters
    ----------
    run_dir : str or pathlib.Path
    cell : str
        The cell's id.

    Returns
    -------
    pathlib.Path
    """
    return Path(run_dir) / _CELLS / f"{cell}.parquet"


def write_cell(
    run_dir: str | Path,
    cell: str,
    rows: Sequence[Mapping[str, Any]],
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Store a finished cell's rounds atomically (the file's existence marks it done).

    Parameters
    ----------
    run_dir : str or pathlib.Path
    cell : str
    rows : sequence of mappings
        One per round, with every column of :data:`ROUND_COLUMNS`.
    metadata : mapping of str to str, optional
        Kept in the Parquet file's key-value metadata (activelab version, spec).

    Returns
    -------
    pathlib.Path
    """
    path = cell_path(run_dir, cell)
    _atomic_write(_table(rows, ROUND_COLUMNS), path, metadata)
    return path


def finished_cells(run_dir: str | Path) -> set[str]:
    """Ids of the cells with a complete file under ``cells/``.

    Parameters
    ----------
    run_dir : str or pathlib.Path

    Returns
    -------
    set of str
    """
    folder = Path(run_dir) / _CELLS
    if not folder.is_dir():
        return set()
    return {p.stem for p in folder.glob("*.parquet") if not p.name.startswith(".")}


def remove_partial(run_dir: str | Path) -> int:
    """Delete temporary files left by cells that were killed while writing.

    Run only when no other run writes to ``run_dir``.

    Parameters
    ----------
    run_dir : str or pathlib.Path

    Returns
    -------
    int
        How many files were removed.
    """
    removed = 0
    for folder in (Path(run_dir), Path(run_dir) / _CELLS, Path(run_dir) / _REFERENCE):
        if folder.is_dir():
            for path in folder.glob(f".*{_TMP_SUFFIX}"):
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def write_manifest(run_dir: str | Path, cells: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``cells.parquet``: the cells of the current configuration.

    Parameters
    ----------
    run_dir : str or pathlib.Path
    cells : sequence of mappings
        With every column of :data:`MANIFEST_COLUMNS`.

    Returns
    -------
    pathlib.Path
    """
    path = Path(run_dir) / "cells.parquet"
    _atomic_write(_table(cells, MANIFEST_COLUMNS), path)
    return path


def write_reference(run_dir: str | Path, reference: str, row: Mapping[str, Any]) -> Path:
    """Store the full-data accuracy of one (data set, model, seed) atomically.

    Parameters
    ----------
    run_dir : str or pathlib.Path
    reference : str
        Its id.
    row : mapping
        With every column of :data:`REFERENCE_COLUMNS`.

    Returns
    -------
    pathlib.Path
    """
    path = Path(run_dir) / _REFERENCE / f"{reference}.parquet"
    _atomic_write(_table([row], REFERENCE_COLUMNS), path)
    return path


def _read_many(paths: Iterable[Path], columns: Mapping[str, str]) -> Any:
    pa, pq = _pa(), _pq()
    schema = _schema(columns)
    tables = [pq.read_table(path).select(list(columns)).cast(schema) for path in paths]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def _frame(table: Any, sort: Sequence[str]) -> Any:
    frame = table.to_pandas()
    return frame.sort_values(list(sort), kind="stable").reset_index(drop=True)


_ROUND_ORDER = (
    "dataset",
    "model",
    "strategy",
    "seed",
    "initial_size",
    "batch_size",
    "budget",
    "round",
)


def load_rounds(run_dir: str | Path) -> Any:
    """Every round of a benchmark run, one row each.

    Reads the finished cells of the run's current configuration (``cells.parquet``);
    a folder holding only ``rounds.parquet`` (copied elsewhere) works too. Cells still
    running or never finished are absent.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        The folder ``activelab bench`` wrote (``runs/NAME``).

    Returns
    -------
    pandas.DataFrame
        Exactly the columns of :data:`ROUND_COLUMNS`, sorted by data set, model,
        strategy, seed, initial size, batch size, budget and round. ``indices`` holds
        the JSON list of the training-set rows labeled in that round.

    Raises
    ------
    FileNotFoundError
        When the folder holds no results.
    """
    require("pandas", "bench", "loading benchmark results")
    folder = Path(run_dir)
    manifest = folder / "cells.parquet"
    merged = folder / "rounds.parquet"
    if manifest.is_file():
        wanted = _pq().read_table(manifest, columns=["cell"]).column("cell").to_pylist()
        done = finished_cells(folder)
        table = _read_many((cell_path(folder, c) for c in wanted if c in done), ROUND_COLUMNS)
    elif merged.is_file():
        table = _read_many([merged], ROUND_COLUMNS)
    else:
        raise FileNotFoundError(
            f"no benchmark results in {folder}: expected cells.parquet or rounds.parquet. "
            "Run `activelab bench CONFIG.toml --out DIR` first."
        )
    return _frame(table, _ROUND_ORDER)


def load_reference(run_dir: str | Path) -> Any:
    """The full-data test accuracy per (data set, model, seed) of a run.

    Parameters
    ----------
    run_dir : str or pathlib.Path

    Returns
    -------
    pandas.DataFrame
        Columns dataset, model, seed, accuracy (empty when none was stored).
    """
    require("pandas", "bench", "loading benchmark results")
    path = Path(run_dir) / "reference.parquet"
    table = _read_many([path] if path.is_file() else [], REFERENCE_COLUMNS)
    return _frame(table, ("dataset", "model", "seed"))


def merge(run_dir: str | Path, references: Iterable[str] = ()) -> tuple[Path, Path]:
    """Write ``rounds.parquet`` and ``reference.parquet`` from the per-cell files.

    Parameters
    ----------
    run_dir : str or pathlib.Path
    references : iterable of str
        Ids of the reference files of the current configuration.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The two files.
    """
    folder = Path(run_dir)
    rounds = load_rounds(folder)
    pa = _pa()
    rounds_path = folder / "rounds.parquet"
    _atomic_write(
        pa.Table.from_pandas(rounds, schema=_schema(ROUND_COLUMNS), preserve_index=False),
        rounds_path,
    )
    present = [
        folder / _REFERENCE / f"{r}.parquet"
        for r in references
        if (folder / _REFERENCE / f"{r}.parquet").is_file()
    ]
    reference_path = folder / "reference.parquet"
    _atomic_write(_read_many(present, REFERENCE_COLUMNS), reference_path)
    return rounds_path, reference_path
