"""What a pool is, partition by partition: Parquet files, Dask collections, arrays.

:func:`open_pool` turns any supported pool into a :class:`PoolSpec`: the list of
partitions with their global row offsets (known before any task runs, so every row's
tie key and Gumbel noise depend only on its global position), the feature columns and
how to read them. :func:`iter_batches` reads one partition in bounded row batches on a
worker; :func:`take_rows` and :func:`read_ids` read some rows, or the ids, of one.

Each kind of pool lives in its own module: Parquet files in :mod:`._parquet` (Arrow to
numpy in :mod:`._arrow`), Dask collections, DataFrames and arrays in
:mod:`._collections`; what they all produce in :mod:`._spec`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from activelab.scale._collections import (
    _open_array,
    _open_dask_array,
    _open_dask_dataframe,
    iter_block_batches,
    read_block_ids,
    take_block_rows,
)
from activelab.scale._parquet import (
    ParquetPart,
    _open_parquet,
    iter_parquet_batches,
    parquet_file,
    read_parquet_ids,
    take_parquet_rows,
)
from activelab.scale._spec import PARTITION_BYTES, Partition, PoolSpec, default_partition_rows

__all__ = [
    "PARTITION_BYTES",
    "ParquetPart",
    "Partition",
    "PoolSpec",
    "default_partition_rows",
    "iter_batches",
    "open_pool",
    "parquet_file",
    "read_ids",
    "take_rows",
]


def _is_path_like(pool: Any) -> bool:
    if isinstance(pool, str | os.PathLike):
        return True
    return (
        isinstance(pool, list | tuple)
        and len(pool) > 0
        and all(isinstance(p, str | os.PathLike) for p in pool)
    )


def open_pool(
    pool: Any,
    *,
    columns: Sequence[str] | None = None,
    model_names: Sequence[str] | None = None,
    partition_rows: int | None = None,
    compute: Any = None,
    id_column: str | None = None,
) -> PoolSpec:
    """Partition a pool: Parquet path(s), Dask DataFrame / Array, DataFrame or array.

    Parameters
    ----------
    pool : str, PathLike, list of them, dask DataFrame, dask Array, DataFrame or array
    columns : sequence of str, optional
        Feature columns of a named pool, in the model's order.
    model_names : sequence of str, optional
        The model's ``feature_names_in_``: the default ``columns``.
    partition_rows : int, optional
        Rows per partition (Parquet: row groups are gathered up to this many rows;
        arrays: blocks of this many rows). Default: about 64 MiB of features.
    compute : callable, optional
        Computes a Dask collection (``client.compute(x).result`` or ``dask.compute``);
        used for the partition lengths of a Dask DataFrame.
    id_column : str, optional
        A column of row ids (Parquet, DataFrame and Dask DataFrame pools), read apart
        from the features; left out of the default feature columns.

    Returns
    -------
    PoolSpec
    """
    if partition_rows is not None and (
        isinstance(partition_rows, bool) or not isinstance(partition_rows, int | np.integer)
    ):
        raise TypeError(f"partition_rows must be an int; got {partition_rows!r}.")
    if partition_rows is not None and partition_rows < 1:
        raise ValueError(f"partition_rows must be at least 1; got {partition_rows}.")
    if id_column is not None and not isinstance(id_column, str):
        raise TypeError(f"id_column must be a column name (str); got {id_column!r}.")
    if _is_path_like(pool):
        return _open_parquet(pool, columns, model_names, partition_rows, id_column)
    module = type(pool).__module__
    if module.startswith("dask"):
        import dask.array as da
        import dask.dataframe as dd

        if isinstance(pool, dd.DataFrame):
            return _open_dask_dataframe(pool, columns, model_names, compute, id_column)
        if isinstance(pool, da.Array):
            if columns is not None:
                raise ValueError("columns selects named columns; a Dask Array has no names.")
            if id_column is not None:
                raise ValueError(
                    "id_column names a column; a Dask Array has none. Pass exclude= as row "
                    "positions, or use a Dask DataFrame with the id column."
                )
            return _open_dask_array(pool)
        raise TypeError(
            f"a Dask pool must be a dask DataFrame or a dask Array; got {type(pool).__name__}."
        )
    return _open_array(pool, columns, model_names, partition_rows, id_column)


def iter_batches(data: Any, batch_rows: int, where: str) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, X)`` row batches of one partition, ``X`` a 2-D numeric array.

    Parameters
    ----------
    data : ParquetPart, numpy.ndarray or pandas.DataFrame
        What the partition task received.
    batch_rows : int
        Rows per batch.
    where : str
        The partition, for messages.

    Yields
    ------
    start : int
        Position of the batch's first row within the partition.
    X : numpy.ndarray of shape (rows, features), or (rows,) of texts
        Parquet batches are column-major (``order="F"``).
    """
    if isinstance(data, ParquetPart):
        return iter_parquet_batches(data, batch_rows, where)
    return iter_block_batches(data, batch_rows, where)


def take_rows(data: Any, positions: np.ndarray, where: str, *, ids: bool = False) -> np.ndarray:
    """The rows at sorted ``positions`` (within the partition) of one partition.

    A Parquet partition reads only the row groups that hold those rows.

    Parameters
    ----------
    data : ParquetPart, numpy.ndarray, pandas.DataFrame or pandas.Series
    positions : numpy.ndarray of int64
        Sorted positions within the partition.
    where : str
    ids : bool, default=False
        ``data`` is the id column: return its values, 1-D.

    Returns
    -------
    numpy.ndarray
        ``(len(positions), features)``, or 1-D for texts and ids.
    """
    positions = np.asarray(positions, dtype=np.int64)
    if isinstance(data, ParquetPart):
        return take_parquet_rows(data, positions, where, ids=ids)
    return take_block_rows(data, positions, where, ids=ids)


def read_ids(ids: Any, where: str) -> np.ndarray:
    """Every id of one partition, in row order.

    Parameters
    ----------
    ids : ParquetPart (of the id column), pandas.Series or numpy.ndarray
    where : str

    Returns
    -------
    numpy.ndarray of shape (rows,)
    """
    if isinstance(ids, ParquetPart):
        return read_parquet_ids(ids, where)
    return read_block_ids(ids)
