"""Arrow columns: what kind of feature each type is, and record batches as numpy arrays.

:func:`_arrow_to_numpy` turns a batch of feature columns (numbers, lists of numbers, or
one text column) into the array the model reads: column-major, one copy per column.
"""

from __future__ import annotations

from typing import Any

import numpy as np


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


def _arrow_kind(field_type: Any) -> str:
    import pyarrow as pa

    if _numeric_arrow(field_type):
        return "number"
    if _vector_arrow(field_type):
        return "vector"
    if pa.types.is_string(field_type) or pa.types.is_large_string(field_type):
        return "text"
    return "other"


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
