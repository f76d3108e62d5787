"""Parquet pools: the files, their footers, and reading row groups on a worker.

Parquet pools are read with pyarrow directly: row counts come from the file footers
(read on the client, :data:`FOOTER_THREADS` files at a time), a partition is a run of
consecutive row groups of one file, and only the feature columns are read. Global row
positions follow the files sorted by path (a glob or a folder) or in the order given (a
list), then the rows of each file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from activelab.scale._arrow import _arrow_kind, _arrow_to_numpy
from activelab.scale._spec import (
    Partition,
    PoolSpec,
    _choose_columns,
    _span,
    default_partition_rows,
)

#: Parquet footers read at once (threads on the client) when a pool is opened: on an
#: object store each footer is a round trip or two, so 10k files read one by one take
#: minutes.
FOOTER_THREADS = 16


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


def _footer_error(path: str, error: Exception) -> Exception:
    """``error`` of reading ``path``'s footer, as an error that names the file."""
    message = (
        f"could not read the Parquet footer of {path} ({type(error).__name__}: {error}); "
        "the file is corrupt, not Parquet, or unreachable: fix it or leave it out of the pool."
    )
    if isinstance(error, FileNotFoundError):
        return FileNotFoundError(message)
    return OSError(message) if isinstance(error, OSError) else ValueError(message)


def _row_group_rows(fs: Any, path: str) -> list[int]:
    """Rows in each row group of ``path``, from its footer."""
    import pyarrow.parquet as pq

    try:
        with fs.open(path, "rb") as handle:
            meta = pq.read_metadata(handle)
    except Exception as error:
        raise _footer_error(path, error) from error
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def read_row_group_rows(fs: Any, paths: Sequence[str]) -> list[list[int]]:
    """Rows in each row group of each file, from the footers, in the order of ``paths``.

    The footers are read by up to :data:`FOOTER_THREADS` threads at once. The first file
    (in ``paths`` order) whose footer cannot be read raises, naming the file; the footers
    not yet read are then left unread.

    Parameters
    ----------
    fs : fsspec.AbstractFileSystem
    paths : sequence of str

    Returns
    -------
    list of list of int
        ``rows[i][g]``: rows in row group ``g`` of ``paths[i]``.
    """
    if len(paths) <= 1:
        return [_row_group_rows(fs, path) for path in paths]
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(
        max_workers=min(FOOTER_THREADS, len(paths)), thread_name_prefix="activelab-footer"
    )
    try:
        return list(executor.map(lambda path: _row_group_rows(fs, path), paths))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _open_parquet(
    pool: Any,
    columns: Sequence[str] | None,
    model_names: Any,
    partition_rows: int | None,
    id_column: str | None,
) -> PoolSpec:
    fs, paths = _expand_paths(pool)
    try:
        with parquet_file(fs, paths[0]) as reader:
            schema = reader.schema_arrow
    except Exception as error:
        raise _footer_error(paths[0], error) from error
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

    for path, group_rows in zip(paths, read_row_group_rows(fs, paths), strict=True):
        file_offsets.append(offset)
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


def _check_columns(reader: Any, data: ParquetPart) -> None:
    missing = [name for name in data.columns if name not in reader.schema_arrow.names]
    if missing:
        raise ValueError(
            f"{data.path} lacks the columns {missing}; every file of the pool needs the "
            "same feature (and id) columns."
        )


def iter_parquet_batches(
    data: ParquetPart, batch_rows: int, where: str
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, X)`` row batches of one Parquet partition (see ``iter_batches``)."""
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


def take_parquet_rows(
    data: ParquetPart, positions: np.ndarray, where: str, *, ids: bool = False
) -> np.ndarray:
    """The rows at sorted ``positions`` of one Parquet partition (see ``take_rows``).

    Reads only the row groups that hold those rows.
    """
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


def read_parquet_ids(ids: ParquetPart, where: str) -> np.ndarray:
    """Every id of one Parquet partition of the id column (see ``read_ids``)."""
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
