"""What a pool is, partition by partition: Parquet files, Dask collections, arrays.

:func:`open_pool` turns any supported pool into a :class:`PoolSpec`: the list of
partitions with their global row offsets (known before any task runs, so every row's
tie key and Gumbel noise depend only on its global position), the feature columns and
how to read them. :func:`iter_batches` reads one partition in bounded row batches on a
worker. Parquet pools are read with pyarrow directly: row counts come from the file
footers, a partition is a run of consecutive row groups of one file, and only the
feature columns are read.

Global row positions follow the pool's own order: for Parquet, the files sorted by path
(a glob or a folder) or in the order given (a list), then the rows of each file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Bytes of features a partition holds by default (before the batches inside it).
PARTITION_BYTES = 64 * 2**20
#: Rows converted from Arrow columns to a row-major array at a time.
_BLOCK_ROWS = 4096


@dataclass(frozen=True)
class ParquetPart:
    """Consecutive row groups of one Parquet file: what a worker reads for one partition.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
        The file system the path lives on (local, S3, GCS, …).
    path : str
    row_groups : tuple of int
    columns : tuple of str
        The feature columns, in model order.
    """

    fs: Any
    path: str
    row_groups: tuple[int, ...]
    columns: tuple[str, ...]


@dataclass
class Partition:
    """One partition of the pool.

    Parameters
    ----------
    index : int
        Position in the pool's partition list.
    offset : int
        Global row position of its first row.
    n_rows : int
    where : str
        Human description for messages ("rows 0–9 of a.parquet").
    data : object
        What the worker task receives: a :class:`ParquetPart`, a numpy block, a Dask
        Delayed partition, or a Future of a scattered block.
    """

    index: int
    offset: int
    n_rows: int
    where: str
    data: Any


@dataclass
class PoolSpec:
    """A pool, partitioned.

    Parameters
    ----------
    kind : {"parquet", "dask-dataframe", "dask-array", "array"}
    partitions : list of Partition
    n_rows : int
    n_features : int
    columns : tuple of str or None
        Feature column names (None for unnamed arrays).
    files : tuple of str
        Parquet files in pool order (empty for other pools).
    file_offsets : numpy.ndarray of int64
        Global row position of each file's first row.
    resilient : bool
        True when a partition can be re-read after its worker dies (Parquet, Dask
        collections); False for arrays scattered into worker memory.
    """

    kind: str
    partitions: list[Partition]
    n_rows: int
    n_features: int
    columns: tuple[str, ...] | None
    files: tuple[str, ...] = ()
    file_offsets: np.ndarray | None = None
    resilient: bool = True


def _span(start: int, n_rows: int) -> str:
    return f"rows {start}–{start + n_rows - 1}" if n_rows else f"no rows (at {start})"


def default_partition_rows(n_features: int, itemsize: int) -> int:
    """Rows per partition so that its features take about :data:`PARTITION_BYTES`.

    Parameters
    ----------
    n_features : int
    itemsize : int
        Bytes per value.

    Returns
    -------
    int
    """
    return max(1024, PARTITION_BYTES // max(1, n_features * itemsize))


def _is_path_like(pool: Any) -> bool:
    if isinstance(pool, str | os.PathLike):
        return True
    return (
        isinstance(pool, list | tuple)
        and len(pool) > 0
        and all(isinstance(p, str | os.PathLike) for p in pool)
    )


def _expand_paths(pool: Any) -> tuple[Any, list[str]]:
    from fsspec.core import url_to_fs

    items = [os.fspath(p) for p in (pool if isinstance(pool, list | tuple) else [pool])]
    fs, _ = url_to_fs(items[0])
    paths: list[str] = []
    for item in items:
        _, path = url_to_fs(item)
        if any(char in path for char in "*?["):
            found = sorted(fs.glob(path))
        elif fs.isdir(path):
            found = sorted(p for p in fs.find(path) if p.endswith((".parquet", ".parq", ".pq")))
        elif fs.exists(path):
            found = [path]
        else:
            raise FileNotFoundError(f"the pool {item!r} does not exist.")
        if not found:
            raise FileNotFoundError(
                f"the pool {item!r} matches no Parquet files; pass a glob such as "
                "'data/*.parquet', a folder of .parquet files, or a list of files."
            )
        paths.extend(found)
    return fs, paths


def _numeric_arrow(field_type: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(field_type)
        or pa.types.is_floating(field_type)
        or pa.types.is_boolean(field_type)
    )


def _choose_columns(
    available: dict[str, str], columns: Sequence[str] | None, model_names: Sequence[str] | None
) -> tuple[str, ...]:
    """Feature columns: the given ones, else the model's feature names, else every number.

    ``available`` maps each column to its kind: ``"number"``, ``"text"`` or ``"other"``.
    The features are numeric columns, or a single text column (for a model that starts
    with a vectorizer, such as a TfidfVectorizer Pipeline).
    """
    if columns is not None:
        chosen = (columns,) if isinstance(columns, str) else tuple(columns)
        if not chosen:
            raise ValueError("columns is empty; name the feature columns, or pass None.")
    elif model_names is not None:
        chosen = tuple(model_names)
    else:
        chosen = tuple(name for name, kind in available.items() if kind == "number")
        if not chosen:
            raise ValueError(
                f"the pool has no numeric columns (it has {list(available)}); pass "
                "columns=[...] (numeric columns, or one text column for a text model)."
            )
        return chosen
    missing = [name for name in chosen if name not in available]
    if missing:
        source = "columns" if columns is not None else "the model's feature_names_in_"
        raise ValueError(
            f"{source} names {missing}, which the pool lacks; it has {list(available)}."
        )
    if len(chosen) == 1 and available[chosen[0]] == "text":
        return chosen
    other = [name for name in chosen if available[name] != "number"]
    if other:
        raise ValueError(
            f"feature columns {other} are not numeric; pick numeric columns with "
            "columns=[...], or a single text column for a text model."
        )
    return chosen


def _arrow_kind(field_type: Any) -> str:
    import pyarrow as pa

    if _numeric_arrow(field_type):
        return "number"
    if pa.types.is_string(field_type) or pa.types.is_large_string(field_type):
        return "text"
    return "other"


def _pandas_kind(dtype: Any) -> str:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_object_dtype, is_string_dtype

    if is_numeric_dtype(dtype) or is_bool_dtype(dtype):
        return "number"
    if is_string_dtype(dtype) or is_object_dtype(dtype):
        return "text"
    return "other"


def _open_parquet(
    pool: Any, columns: Sequence[str] | None, model_names: Any, partition_rows: int | None
) -> PoolSpec:
    import pyarrow.parquet as pq

    fs, paths = _expand_paths(pool)
    with fs.open(paths[0], "rb") as handle:
        schema = pq.read_schema(handle)
    available = {field.name: _arrow_kind(field.type) for field in schema}
    chosen = _choose_columns(available, columns, model_names)
    if available[chosen[0]] == "text":
        itemsize = 256  # a guess at the bytes of a text, for the partition size
    else:
        itemsize = max(
            np.dtype(schema.field(name).type.to_pandas_dtype()).itemsize for name in chosen
        )
    target = partition_rows or default_partition_rows(len(chosen), itemsize)
    partitions: list[Partition] = []
    file_offsets = []
    offset = 0
    for path in paths:
        with fs.open(path, "rb") as handle:
            meta = pq.read_metadata(handle)
        file_offsets.append(offset)
        group_rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        start, groups, rows = 0, [], 0
        for group, n in enumerate(group_rows):
            groups.append(group)
            rows += n
            if rows >= target or group == len(group_rows) - 1:
                where = f"{_span(start, rows)} of {path} (row groups {groups[0]}–{groups[-1]})"
                part = ParquetPart(fs, path, tuple(groups), chosen)
                partitions.append(Partition(len(partitions), offset, rows, where, part))
                offset += rows
                start += rows
                groups, rows = [], 0
        if not group_rows:  # a file without row groups: keep its place, no rows
            part = ParquetPart(fs, path, (), chosen)
            partitions.append(Partition(len(partitions), offset, 0, f"no rows of {path}", part))
    return PoolSpec(
        "parquet",
        partitions,
        offset,
        len(chosen),
        chosen,
        tuple(paths),
        np.asarray(file_offsets, dtype=np.int64),
    )


def _open_dask_dataframe(pool: Any, columns: Any, model_names: Any, compute: Any) -> PoolSpec:
    available = {str(name): _pandas_kind(dtype) for name, dtype in pool.dtypes.items()}
    chosen = _choose_columns(available, columns, model_names)
    frame = pool[list(chosen)]
    lengths = [int(n) for n in compute(frame.map_partitions(len))]
    blocks = frame.to_delayed()
    partitions, offset = [], 0
    for index, (block, n) in enumerate(zip(blocks, lengths, strict=True)):
        where = f"partition {index} ({_span(offset, n)}) of the Dask DataFrame"
        partitions.append(Partition(index, offset, n, where, block))
        offset += n
    return PoolSpec("dask-dataframe", partitions, offset, len(chosen), chosen)


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


def _open_array(pool: Any, columns: Any, model_names: Any, partition_rows: int | None) -> PoolSpec:
    import scipy.sparse as sp

    if sp.issparse(pool):
        raise TypeError(
            "a sparse matrix pool is not supported; write the raw rows (or texts) to Parquet "
            "and let the model's Pipeline vectorise them per partition."
        )
    names = None
    if hasattr(pool, "columns") and hasattr(pool, "to_numpy"):  # pandas DataFrame
        available = {str(name): _pandas_kind(dtype) for name, dtype in pool.dtypes.items()}
        names = _choose_columns(available, columns, model_names)
        if available[names[0]] == "text":
            array = pool[names[0]].to_numpy(dtype=object)
        else:
            array = pool[list(names)].to_numpy()
    else:
        if columns is not None:
            raise ValueError("columns selects named columns; an array pool has no names.")
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
        partitions.append(Partition(index, start, block.shape[0], where, block))
    return PoolSpec("array", partitions, array.shape[0], width, names, resilient=False)


def open_pool(
    pool: Any,
    *,
    columns: Sequence[str] | None = None,
    model_names: Sequence[str] | None = None,
    partition_rows: int | None = None,
    compute: Any = None,
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
    if _is_path_like(pool):
        return _open_parquet(pool, columns, model_names, partition_rows)
    module = type(pool).__module__
    if module.startswith("dask"):
        import dask.array as da
        import dask.dataframe as dd

        if isinstance(pool, dd.DataFrame):
            return _open_dask_dataframe(pool, columns, model_names, compute)
        if isinstance(pool, da.Array):
            if columns is not None:
                raise ValueError("columns selects named columns; a Dask Array has no names.")
            return _open_dask_array(pool)
        raise TypeError(
            f"a Dask pool must be a dask DataFrame or a dask Array; got {type(pool).__name__}."
        )
    return _open_array(pool, columns, model_names, partition_rows)


def _arrow_to_numpy(batch: Any, where: str) -> np.ndarray:
    """A record batch as a 2-D numeric array, or a 1-D array of texts (one text column)."""
    arrays = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if column.null_count:
            raise ValueError(
                f"column {name!r} of {where} has {column.null_count} missing values; the "
                "model needs numbers in every row: impute or drop them before scoring."
            )
        arrays.append(column.to_numpy(zero_copy_only=False))
    if len(arrays) == 1 and arrays[0].dtype == object:  # one text column
        return arrays[0]
    dtype = np.result_type(*arrays)
    if dtype.kind == "b":
        dtype = np.dtype(np.float64)
    # Row blocks that fit in cache, each stacked column by column: about three times
    # faster than writing each whole column into a strided view of the result.
    out = np.empty((batch.num_rows, len(arrays)), dtype=dtype)
    for start in range(0, batch.num_rows, _BLOCK_ROWS):
        stop = start + _BLOCK_ROWS
        out[start:stop] = np.stack([values[start:stop] for values in arrays], axis=1)
    return out


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
    """
    if isinstance(data, ParquetPart):
        if not data.row_groups:
            return
        import pyarrow.parquet as pq

        with data.fs.open(data.path, "rb") as handle:
            reader = pq.ParquetFile(handle)
            missing = [name for name in data.columns if name not in reader.schema_arrow.names]
            if missing:
                raise ValueError(
                    f"{data.path} lacks the feature columns {missing}; every file of the "
                    "pool needs the same feature columns."
                )
            start = 0
            # No pyarrow threads: a worker runs one task per thread already, and splitting
            # row groups into batches on the thread pool is several times slower.
            for batch in reader.iter_batches(
                batch_size=batch_rows,
                row_groups=list(data.row_groups),
                columns=list(data.columns),
                use_threads=False,
            ):
                yield start, _arrow_to_numpy(batch, where)
                start += batch.num_rows
        return
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
