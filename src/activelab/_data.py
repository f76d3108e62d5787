"""Row operations on the input types activelab accepts: arrays, sparse, DataFrames, lists."""

from __future__ import annotations

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
