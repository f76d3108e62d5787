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
from contextlib import contextmanager
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
        The columns read, in model order (numeric or vector feature columns, one text
        column, or the id column).
    group_rows : tuple of int
        Rows in each of ``row_groups`` (lets a task read only the row groups that hold
        given rows).
    """

    fs: Any
    path: str
    row_groups: tuple[int, ...]
    columns: tuple[str, ...]
    group_rows: tuple[int, ...] = ()


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
    ids : object, optional
        The same rows of the id column (``id_column=``): a :class:`ParquetPart` of that
        column, a Dask Delayed Series, or a numpy array; None without an id column.
    """

    index: int
    offset: int
    n_rows: int
    where: str
    data: Any
    ids: Any = None


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
    id_column : str or None
        The column of row ids (``id_column=``), read apart from the features.
    """

    kind: str
    partitions: list[Partition]
    n_rows: int
    n_features: int
    columns: tuple[str, ...] | None
    files: tuple[str, ...] = ()
    file_offsets: np.ndarray | None = None
    resilient: bool = True
    id_column: str | None = None


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


def _vector_arrow(field_type: Any) -> bool:
    """A list or fixed-size list of numbers: an embedding stored in one column."""
    import pyarrow as pa

    listy = (
        pa.types.is_fixed_size_list(field_type)
        or pa.types.is_list(field_type)
        or pa.types.is_large_list(field_type)
    )
    return bool(listy and _numeric_arrow(field_type.value_type))


def _choose_columns(
    available: dict[str, str],
    columns: Sequence[str] | None,
    model_names: Sequence[str] | None,
    id_column: str | None = None,
) -> tuple[str, ...]:
    """Feature columns: the given ones, else the model's feature names, else every number.

    ``available`` maps each column to its kind: ``"number"``, ``"vector"`` (a list of
    numbers per row, Parquet only), ``"text"`` or ``"other"``. The features are numeric
    and vector columns, or a single text column (for a model that starts with a
    vectorizer, such as a TfidfVectorizer Pipeline). The default leaves out ``id_column``.
    """
    if columns is not None:
        chosen = (columns,) if isinstance(columns, str) else tuple(columns)
        if not chosen:
            raise ValueError("columns is empty; name the feature columns, or pass None.")
    elif model_names is not None:
        chosen = tuple(model_names)
    else:
        chosen = tuple(
            name
            for name, kind in available.items()
            if kind in ("number", "vector") and name != id_column
        )
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
    other = [name for name in chosen if available[name] not in ("number", "vector")]
    if other:
        raise ValueError(
            f"feature columns {other} are not numeric; pick numeric columns (or list / "
            "fixed_size_list columns of numbers) with columns=[...], or a single text "
            "column for a text model."
        )
    return chosen


def _arrow_kind(field_type: Any) -> str:
    import pyarrow as pa

    if _numeric_arrow(field_type):
        return "number"
    if _vector_arrow(field_type):
        return "vector"
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


def _is_local(fs: Any) -> bool:
    protocol = getattr(fs, "protocol", ())
    protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
    return "file" in protocols or "local" in protocols


@contextmanager
def parquet_file(fs: Any, path: str) -> Iterator[Any]:
    """A ``pyarrow.parquet.ParquetFile`` of ``path``: memory-mapped on a local disk.

    Local files are memory-mapped (pyarrow reads the pages straight from the page
    cache, no Python file object in between); other file systems go through their
    fsspec handle, read ahead in pyarrow's buffers (``pre_buffer``). A context manager:
    the file (and its handle) is closed on leaving it.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
    path : str

    Yields
    ------
    pyarrow.parquet.ParquetFile
    """
    import pyarrow.parquet as pq

    if _is_local(fs):
        with pq.ParquetFile(path, memory_map=True) as reader:
            yield reader
        return
    with fs.open(path, "rb") as handle, pq.ParquetFile(handle, pre_buffer=True) as reader:
        yield reader


def _vector_width(fs: Any, path: str, name: str, field_type: Any) -> int:
    """Values per row of a vector column: the fixed size, or the first row's length."""
    import pyarrow as pa

    if pa.types.is_fixed_size_list(field_type):
        return int(field_type.list_size)
    with parquet_file(fs, path) as reader:
        for batch in reader.iter_batches(batch_size=1, columns=[name], use_threads=False):
            if batch.num_rows:
                first = batch.column(0)[0]
                if first.is_valid:
                    return len(first)
    raise ValueError(
        f"the vector column {name!r} of {path} has no first row to take its width from; "
        "store it as fixed_size_list<float> (pyarrow.list_(pa.float32(), d))."
    )


def _open_parquet(
    pool: Any,
    columns: Sequence[str] | None,
    model_names: Any,
    partition_rows: int | None,
    id_column: str | None,
) -> PoolSpec:
    import pyarrow.parquet as pq

    fs, paths = _expand_paths(pool)
    with parquet_file(fs, paths[0]) as reader:
        schema = reader.schema_arrow
    available = {field.name: _arrow_kind(field.type) for field in schema}
    if id_column is not None and id_column not in available:
        raise ValueError(
            f"id_column={id_column!r} is not a column of {paths[0]}; it has {list(available)}."
        )
    chosen = _choose_columns(available, columns, model_names, id_column)
    if available[chosen[0]] == "text":
        row_bytes, width = 256, 1  # a guess at the bytes of a text, for the partition size
    else:
        row_bytes = width = 0
        for name in chosen:
            field_type = schema.field(name).type
            values = 1
            if available[name] == "vector":
                values = _vector_width(fs, paths[0], name, field_type)
                field_type = field_type.value_type
            width += values
            row_bytes += values * np.dtype(field_type.to_pandas_dtype()).itemsize
    target = partition_rows or default_partition_rows(1, row_bytes)
    partitions: list[Partition] = []
    file_offsets = []
    offset = 0
    id_columns = (id_column,) if id_column is not None else ()

    def part(path: str, groups: Sequence[int], sizes: Sequence[int], rows: int, start: int) -> None:
        span = (
            f"{_span(start, rows)} of {path} (row groups {groups[0]}–{groups[-1]})"
            if groups
            else f"no rows of {path}"
        )
        data = ParquetPart(fs, path, tuple(groups), chosen, tuple(sizes))
        ids = ParquetPart(fs, path, tuple(groups), id_columns, tuple(sizes)) if id_columns else None
        partitions.append(Partition(len(partitions), offset, rows, span, data, ids))

    for path in paths:
        with fs.open(path, "rb") as handle:
            meta = pq.read_metadata(handle)
        file_offsets.append(offset)
        group_rows = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        start, groups, sizes, rows = 0, [], [], 0
        for group, n in enumerate(group_rows):
            groups.append(group)
            sizes.append(n)
            rows += n
            if rows >= target or group == len(group_rows) - 1:
                part(path, groups, sizes, rows, start)
                offset += rows
                start += rows
                groups, sizes, rows = [], [], 0
        if not group_rows:  # a file without row groups: keep its place, no rows
            part(path, (), (), 0, 0)
    return PoolSpec(
        "parquet",
        partitions,
        offset,
        width,
        chosen,
        tuple(paths),
        np.asarray(file_offsets, dtype=np.int64),
        id_column=id_column,
    )


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


def _vector_values(name: str, column: Any, n: int, where: str) -> np.ndarray:
    """A list / fixed-size-list column of one batch as an ``(n, width)`` array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
    else:
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
        width = int(lengths[0]) if n else 0
        if n and (lengths != width).any():
            bad = int(np.flatnonzero(lengths != width)[0])
            raise ValueError(
                f"the vector column {name!r} of {where} has rows of different lengths "
                f"({width} and {int(lengths[bad])}); every row needs the same number of "
                "values (store it as fixed_size_list)."
            )
    values = column.flatten()
    if values.null_count:
        raise ValueError(
            f"the vector column {name!r} of {where} has {values.null_count} missing values "
            "inside its lists; the model needs numbers everywhere."
        )
    return values.to_numpy(zero_copy_only=False).reshape(n, width)


def _arrow_to_numpy(batch: Any, where: str) -> np.ndarray:
    """A record batch as a 2-D numeric array, or a 1-D array of texts (one text column).

    Numeric columns are copied, each in one contiguous pass, into the columns of a
    column-major (``order="F"``) array: one copy per column and no transpose. Vector
    columns (lists of numbers) give their values as consecutive features; a single
    vector column comes back row-major, as it is stored.
    """
    pieces = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if column.null_count:
            raise ValueError(
                f"column {name!r} of {where} has {column.null_count} missing values; the "
                "model needs numbers in every row: impute or drop them before scoring."
            )
        if _vector_arrow(column.type):
            pieces.append(_vector_values(name, column, batch.num_rows, where))
        else:
            pieces.append(column.to_numpy(zero_copy_only=False))
    if len(pieces) == 1 and pieces[0].dtype == object:  # one text column
        return pieces[0]
    dtype = np.result_type(*pieces)
    if dtype.kind == "b":
        dtype = np.dtype(np.float64)
    if len(pieces) == 1 and pieces[0].ndim == 2:  # one vector column: rows as stored
        return np.array(pieces[0], dtype=dtype, order="C")
    width = sum(1 if piece.ndim == 1 else piece.shape[1] for piece in pieces)
    out = np.empty((batch.num_rows, width), dtype=dtype, order="F")
    j = 0
    for piece in pieces:
        if piece.ndim == 1:
            out[:, j] = piece
            j += 1
        else:
            out[:, j : j + piece.shape[1]] = piece
            j += piece.shape[1]
    return out


def _check_columns(reader: Any, data: ParquetPart) -> None:
    missing = [name for name in data.columns if name not in reader.schema_arrow.names]
    if missing:
        raise ValueError(
            f"{data.path} lacks the columns {missing}; every file of the pool needs the "
            "same feature (and id) columns."
        )


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
        if not data.row_groups:
            return
        with parquet_file(data.fs, data.path) as reader:
            _check_columns(reader, data)
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
        if not positions.size:
            return np.empty((0, len(data.columns)))
        starts = np.concatenate([[0], np.cumsum(data.group_rows)]).astype(np.int64)
        which = np.searchsorted(starts, positions, side="right") - 1
        pieces = []
        with parquet_file(data.fs, data.path) as reader:
            _check_columns(reader, data)
            for group in np.unique(which):
                table = reader.read_row_group(
                    data.row_groups[group], columns=list(data.columns), use_threads=False
                )
                local = positions[which == group] - starts[group]
                taken = table.take(local).combine_chunks()
                if ids:
                    pieces.append(taken.column(0).to_numpy())
                    continue
                pieces.extend(_arrow_to_numpy(batch, where) for batch in taken.to_batches())
        return np.concatenate(pieces)
    if hasattr(data, "iloc"):
        taken = data.iloc[positions]
        if ids or getattr(taken, "ndim", 2) == 1:
            return taken.to_numpy()
        return next(iter_batches(taken, max(1, positions.shape[0]), where))[1]
    return np.asarray(data)[positions]


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
        if not ids.row_groups:
            return np.empty(0)
        with parquet_file(ids.fs, ids.path) as reader:
            _check_columns(reader, ids)
            table = reader.read_row_groups(
                list(ids.row_groups), columns=list(ids.columns), use_threads=False
            )
        column = table.column(0)
        if column.null_count:
            raise ValueError(
                f"the id column {ids.columns[0]!r} of {where} has {column.null_count} missing "
                "ids; every row needs an id."
            )
        return column.to_numpy()
    if hasattr(ids, "to_numpy"):
        return ids.to_numpy()
    return np.asarray(ids)
