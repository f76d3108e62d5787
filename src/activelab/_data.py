"""Row operations on the input types activelab accepts: arrays, sparse, DataFrames, lists."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np


def take_rows(X: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` of ``X``, in the same container type.

    Parameters
    ----------
    X : numpy array, scipy sparse matrix, pandas DataFrame or list
    rows : array of int

    Returns
    -------
    The same kind of container as ``X``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if hasattr(X, "iloc"):
        return X.iloc[rows]
    if isinstance(X, list | tuple):
        return [X[i] for i in rows]
    return X[rows]


def concat_rows(first: Any, second: Any) -> Any:
    """Rows of ``first`` followed by rows of ``second``, in ``first``'s container type.

    Parameters
    ----------
    first, second : numpy arrays, sparse matrices, DataFrames or lists

    Returns
    -------
    The same kind of container as ``first``.
    """
    if hasattr(first, "iloc"):
        import pandas as pd

        return pd.concat([first, second], ignore_index=True)
    if isinstance(first, list | tuple):
        return [*first, *second]
    import scipy.sparse as sp

    if sp.issparse(first):
        return sp.vstack([first, second], format="csr")
    return np.concatenate([np.asarray(first), np.asarray(second)])


def row_keys(X: Any) -> list[Hashable]:
    """A hashable key per row, equal for rows with equal content.

    Numbers are compared as float64 (an int row matches its float copy); sparse rows by
    their non-zero entries; texts and other items by value.

    Parameters
    ----------
    X : numpy array, scipy sparse matrix, pandas DataFrame or list

    Returns
    -------
    list
        One key per row.

    Examples
    --------
    >>> keys = row_keys(np.array([[1, 2], [3, 4], [1, 2]]))
    >>> keys[0] == keys[2] != keys[1]
    True
    """
    import scipy.sparse as sp

    if sp.issparse(X):
        rows = sp.csr_matrix(X, dtype=np.float64, copy=True)
        rows.sum_duplicates()
        rows.eliminate_zeros()
        rows.sort_indices()
        return [
            (
                rows.indices[start:end].tobytes(),
                rows.data[start:end].tobytes(),
            )
            for start, end in zip(rows.indptr[:-1], rows.indptr[1:], strict=True)
        ]
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    if isinstance(X, np.ndarray) and X.ndim == 2:
        if np.issubdtype(X.dtype, np.number) or X.dtype == bool:
            array = np.ascontiguousarray(X, dtype=np.float64) + 0.0  # -0.0 == 0.0
            return [row.tobytes() for row in array]
        return [tuple(map(repr, row)) for row in X]
    return [item if isinstance(item, Hashable) else repr(item) for item in X]
