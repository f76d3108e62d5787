"""Pools that are Dask collections, pandas DataFrames or numpy arrays.

A Dask DataFrame or Array keeps its own partitions (each a Delayed block that a worker
computes); a DataFrame or array in memory is cut into blocks of ``partition_rows`` rows.
A worker reads a DataFrame or array block in row batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from activelab.scale._spec import (
    Partition,
    PoolSpec,
    _choose_columns,
    _span,
    default_partition_rows,
)


def _pandas_kind(dtype: Any) -> str:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_object_dtype, is_string_dtype

    if is_numeric_dtype(dtype) or is_bool_dtype(dtype):
        return "number"
    if is_string_dtype(dtype) or is_object_dtype(dtype):
        return "text"
    return "other"


def _open_dask_dataframe(
    pool: Any, columns: Any, model_names: Any, compute: Any, id_column: str | None
) -> PoolSpec:
    available = {str(name): _pandas_kind(dtype) for name, dtype in pool.dtypes.items()}
    if id_column is not None and id_column not in available:
        raise ValueError(
            f"id_column={id_column!r} is not a column of the Dask DataFrame; it has "
            f"{list(available)}."
        )
    chosen = _choose_columns(available, columns, model_names, id_column)
    frame = pool[list(chosen)]
    lengths = [int(n) for n in compute(frame.map_partitions(len))]
    blocks = frame.to_delayed()
    id_blocks = pool[id_column].to_delayed() if id_column is not None else [None] * len(blocks)
    partitions, offset = [], 0
    for index, (block, n, ids) in enumerate(zip(blocks, lengths, id_blocks, strict=True)):
        where = f"partition {index} ({_span(offset, n)}) of the Dask DataFrame"
        partitions.append(Partition(index, offset, n, where, block, ids))
        offset += n
    return PoolSpec("dask-dataframe", partitions, offset, len(chosen), chosen, id_column=id_column)


def _open_dask_array(pool: Any) -> PoolSpec:
    if pool.ndim != 2:
        raise ValueError(f"a Dask Array pool must be 2-D (rows, features); got shape {pool.shape}.")
    if not np.issubdtype(pool.dtype, np.number) and pool.dtype != bool:
        raise ValueError(f"the Dask Array pool must hold numbers; got dtype {pool.dtype}.")
    if any(np.isnan(c) for c in pool.chunks[0]):
        raise ValueError(
            "the Dask Array pool has unknown chunk sizes; call pool.compute_chunk_sizes() first."
        )
    array = pool.rechunk({1: -1}) if len(pool.chunks[1]) > 1 else pool
    blocks = array.to_delayed().ravel()
    partitions, offset = [], 0
    for index, (block, n) in enumerate(zip(blocks, array.chunks[0], strict=True)):
        where = f"block {index} ({_span(offset, int(n))}) of the Dask Array"
        partitions.append(Partition(index, offset, int(n), where, block))
        offset += int(n)
    return PoolSpec("dask-array", partitions, offset, int(array.shape[1]), None)


def _open_array(
    pool: Any,
    columns: Any,
    model_names: Any,
    partition_rows: int | None,
    id_column: str | None,
) -> PoolSpec:
    import scipy.sparse as sp

    if sp.issparse(pool):
        raise TypeError(
            "a sparse matrix pool is not supported; write the raw rows (or texts) to Parquet "
            "and let the model's Pipeline vectorise them per partition."
        )
    names = None
    ids = None
    if hasattr(pool, "columns") and hasattr(pool, "to_numpy"):  # pandas DataFrame
        available = {str(name): _pandas_kind(dtype) for name, dtype in pool.dtypes.items()}
        if id_column is not None:
            if id_column not in available:
                raise ValueError(
                    f"id_column={id_column!r} is not a column of the DataFrame; it has "
                    f"{list(available)}."
                )
            ids = pool[id_column].to_numpy()
        names = _choose_columns(available, columns, model_names, id_column)
        if available[names[0]] == "text":
            array = pool[names[0]].to_numpy(dtype=object)
        else:
            array = pool[list(names)].to_numpy()
    else:
        if columns is not None:
            raise ValueError("columns selects named columns; an array pool has no names.")
        if id_column is not None:
            raise ValueError(
                "id_column names a column; an array pool has none. Pass exclude= as row "
                "positions, or pass a DataFrame (or Parquet) with the id column."
            )
        array = np.asarray(pool)
    text = array.ndim == 1 and array.dtype.kind in "OUS"
    if not text and array.ndim != 2:
        raise ValueError(
            f"the pool must be 2-D (rows, features), or 1-D texts; got shape {array.shape}."
        )
    if not text and not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"the pool must hold numbers (or texts); got dtype {array.dtype}.")
    width = 1 if text else array.shape[1]
    step = partition_rows or default_partition_rows(width, 256 if text else array.dtype.itemsize)
    partitions = []
    for index, start in enumerate(range(0, array.shape[0], step)):
        block = array[start : start + step]
        where = f"{_span(start, block.shape[0])} of the array"
        part_ids = None if ids is None else ids[start : start + step]
        partitions.append(Partition(index, start, block.shape[0], where, block, part_ids))
    return PoolSpec(
        "array", partitions, array.shape[0], width, names, resilient=False, id_column=id_column
    )


def iter_block_batches(data: Any, batch_rows: int, where: str) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, X)`` row batches of a DataFrame or array block (see ``iter_batches``)."""
    if hasattr(data, "to_numpy") and hasattr(data, "columns"):
        text = data.shape[1] == 1 and _pandas_kind(data.dtypes.iloc[0]) == "text"
        for start in range(0, data.shape[0], batch_rows):
            frame = data.iloc[start : start + batch_rows]
            if text:
                yield start, frame.iloc[:, 0].to_numpy(dtype=object)
                continue
            block = frame.to_numpy()
            if block.dtype == object or block.dtype == bool:  # nullable or boolean columns
                block = frame.to_numpy(dtype=np.float64, na_value=np.nan)
            yield start, block
        return
    array = np.asarray(data)
    if array.ndim != 2 and not (array.ndim == 1 and array.dtype.kind in "OUS"):
        raise ValueError(f"{where}: a partition must be 2-D, or 1-D texts; got {array.shape}.")
    for start in range(0, array.shape[0], batch_rows):
        yield start, array[start : start + batch_rows]


def take_block_rows(
    data: Any, positions: np.ndarray, where: str, *, ids: bool = False
) -> np.ndarray:
    """The rows at sorted ``positions`` of a DataFrame, Series or array block."""
    if hasattr(data, "iloc"):
        taken = data.iloc[positions]
        if ids or getattr(taken, "ndim", 2) == 1:
            return taken.to_numpy()
        return next(iter_block_batches(taken, max(1, positions.shape[0]), where))[1]
    return np.asarray(data)[positions]


def read_block_ids(ids: Any) -> np.ndarray:
    """Every id of a Series or array block of the id column."""
    if hasattr(ids, "to_numpy"):
        return ids.to_numpy()
    return np.asarray(ids)
