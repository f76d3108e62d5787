"""What a partitioned pool is: its partitions, their global row offsets, its columns.

:class:`PoolSpec` is what :func:`activelab.scale._pool.open_pool` makes of any pool;
:class:`Partition` is one part of it, with what a worker task receives to read it.
:func:`_choose_columns` picks the feature columns the same way for every pool kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Bytes of features a partition holds by default (before the batches inside it).
PARTITION_BYTES = 64 * 2**20


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
