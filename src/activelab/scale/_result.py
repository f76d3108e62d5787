"""The answer of a distributed query: global row positions, scores, and where rows live."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Picks:
    """The rows a distributed query picked, most informative (or first picked) first.

    Parameters
    ----------
    rows : numpy.ndarray of int64, shape (k,)
        Global row positions into the pool: for Parquet pools, rows counted across the
        files in pool order (see :attr:`files`); for arrays and Dask collections, the
        row's position in the whole collection.
    scores : numpy.ndarray of float64, shape (k,)
        The utility of each pick (score and prefilter plans); NaN where the plan has no
        per-row utility (k-center, samples).
    predictions : numpy.ndarray or None
        The model's predicted label of each pick (labels as the model gives them,
        strings included): for the score plan, the class of highest probability, from
        the probabilities the utility was computed from; otherwise the model's
        ``predict``. None when the model has no class probabilities or the plan does not
        keep the rows' features.
    strategy : str
        The strategy's registry name.
    plan : str
        ``"score"``, ``"prefilter"``, ``"kcenter"`` or ``"sample"``.
    exact : bool
        True when the picks are the in-memory strategy's up to random tie-breaking.
    note : str
        What the plan guarantees.
    n_rows : int
        Rows in the pool.
    seed : int
        The query seed (tie keys: :func:`activelab.scale.tie_keys` with
        ``stream_seed(seed, 0)``).
    files : tuple of str
        Parquet files in pool order (empty for other pools).
    file_offsets : numpy.ndarray of int64 or None
        Global row position of each file's first row.
    ids : numpy.ndarray or None
        The id of each pick, from the query's ``id_column`` (None without one).
    excluded : int
        Rows of the pool the query was told never to pick (``exclude=``).
    """

    rows: np.ndarray
    scores: np.ndarray
    predictions: np.ndarray | None
    strategy: str
    plan: str
    exact: bool
    note: str
    n_rows: int
    seed: int
    files: tuple[str, ...] = ()
    file_offsets: np.ndarray | None = None
    ids: np.ndarray | None = None
    excluded: int = 0

    def __len__(self) -> int:
        """Number of picks."""
        return int(self.rows.shape[0])

    def locate(self) -> tuple[np.ndarray, np.ndarray]:
        """The Parquet file and the row within that file of each pick.

        Returns
        -------
        files : numpy.ndarray of str, shape (k,)
        file_rows : numpy.ndarray of int64, shape (k,)

        Raises
        ------
        ValueError
            When the pool was not Parquet files.
        """
        if not self.files or self.file_offsets is None:
            raise ValueError(
                "locate() maps rows to Parquet files; this pool was not read from Parquet "
                "(rows are positions in the array or Dask collection)."
            )
        which = np.searchsorted(self.file_offsets, self.rows, side="right") - 1
        files = np.asarray(self.files, dtype=object)[which]
        return files, self.rows - self.file_offsets[which]

    def to_frame(self) -> Any:
        """The picks as a pandas DataFrame, one row per pick in pick order.

        Columns: ``rank`` (0 = first), ``row`` (global position), ``id`` with an
        ``id_column``, ``score``, then ``prediction`` when known, and ``file``,
        ``file_row`` for Parquet pools.

        Returns
        -------
        pandas.DataFrame
        """
        import pandas as pd

        columns: dict[str, Any] = {
            "rank": np.arange(len(self), dtype=np.int64),
            "row": self.rows,
        }
        if self.ids is not None:
            columns["id"] = self.ids
        columns["score"] = self.scores
        if self.predictions is not None:
            columns["prediction"] = self.predictions
        if self.files:
            files, file_rows = self.locate()
            columns["file"] = files.astype(str)
            columns["file_row"] = file_rows
        return pd.DataFrame(columns)
