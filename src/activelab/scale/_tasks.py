"""What runs on the workers: one partition in, its best candidates out.

The :class:`Job` (model adapter, plan, seed, …) is scattered to the workers once per
query; every partition task receives it by reference. A task reads its partition in row
batches (:func:`activelab.scale._pool.iter_batches`), applies the model to each batch
(the strategy's own utility function, or the adapter's ``embed``/``grad_embed``), keeps
the best rows in a running :class:`~activelab.scale._topk.Candidates` and returns it.
Rows excluded by the query (``exclude=``) never enter a batch's candidates. Memory per
task: one batch of features and model outputs, plus the candidates; for k-center, the
embeddings of at most :data:`KCENTER_BLOCK_BYTES` of rows at a time.

The sample plan runs in two passes: :func:`run_partition` draws the sample from the
row positions alone (no reading), then :func:`take_payload` reads only the sampled rows
and embeds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from activelab._distances import as_embedding
from activelab._validation import check_scores
from activelab.models import ModelAdapter
from activelab.scale._keys import (
    STREAM_GUMBEL,
    STREAM_SAMPLE,
    STREAM_TIES,
    gumbel_keys,
    stream_seed,
    tie_keys,
    uniform_keys,
)
from activelab.scale._plans import Plan
from activelab.scale._pool import iter_batches, read_ids, take_rows
from activelab.scale._topk import Candidates, best_positions, merge

#: Bytes of embeddings a k-center task holds before it runs a first-round greedy on them
#: (a partition whose embeddings are larger is split into blocks of about this size).
KCENTER_BLOCK_BYTES = 256 * 2**20
#: Rows whose sample keys a keys-only task computes at a time.
_KEY_ROWS = 1 << 20


@dataclass
class Job:
    """Everything a partition task needs besides its data; scattered once per query.

    Parameters
    ----------
    adapter : ModelAdapter or None
        None for plans that need no model on the workers.
    plan : Plan
    seed : int
        The query seed; ties, Gumbel noise and samples use sub-streams of it.
    batch_rows : int
        Rows read and scored at a time.
    feature_names : tuple of str or None
        When set, the model receives DataFrames with these column names.
    payload : {"X", "embedding", None}
        What each candidate carries for the in-memory step.
    predictions : bool
        Attach the model's predicted label of each candidate on the workers.
    labeled : numpy.ndarray or None
        Embeddings of the labeled set (initial centres of k-center).
    predict : bool
        Whether the query returns predicted labels at all.
    exclude : numpy.ndarray of int64 or None
        Sorted global row positions that are never picked (labelled or picked before).
    keys_only : bool
        The first pass of the sample plan: draw the sample from row positions, read
        nothing.
    """

    adapter: ModelAdapter | None
    plan: Plan
    seed: int
    batch_rows: int
    feature_names: tuple[str, ...] | None = None
    payload: str | None = None
    predictions: bool = False
    labeled: np.ndarray | None = None
    predict: bool = True
    exclude: np.ndarray | None = None
    keys_only: bool = False

    def excluded(self, first_row: int, n: int) -> np.ndarray:
        """Positions within ``[first_row, first_row + n)`` that are excluded, local to it.

        Parameters
        ----------
        first_row : int
        n : int

        Returns
        -------
        numpy.ndarray of int64
        """
        if self.exclude is None or not self.exclude.size:
            return np.empty(0, np.int64)
        lo, hi = np.searchsorted(self.exclude, [first_row, first_row + n])
        return self.exclude[lo:hi] - first_row

    def model_input(self, X: np.ndarray) -> Any:
        """``X`` as the model expects it: a DataFrame when it was fitted with names."""
        if self.feature_names is None:
            return X
        import pandas as pd

        return pd.DataFrame(X, columns=list(self.feature_names), copy=False)

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Dense float embeddings of rows: the adapter's ``embed``, else the features.

        Float32 and float64 stay as they are (as the in-memory strategies keep them).
        """
        name = self.plan.strategy.name
        if self.adapter is None:
            return as_embedding(X, name, dtype=None, what="the pool features")
        embedded = self.adapter.embed(self.model_input(X))
        return as_embedding(embedded, name, dtype=None, what="the embeddings of the pool")


class _KeepProba:
    """An adapter that keeps its last ``predict_proba`` output (for the predicted labels)."""

    def __init__(self, adapter: ModelAdapter) -> None:
        self._adapter = adapter
        self.proba: np.ndarray | None = None

    def predict_proba(self, X: Any) -> np.ndarray:
        self.proba = np.asarray(self._adapter.predict_proba(X))
        return self.proba

    def __getattr__(self, name: str) -> Any:
        return getattr(self._adapter, name)


def _utilities(job: Job, X: np.ndarray, keep: _KeepProba | None = None) -> np.ndarray:
    plan = job.plan
    inputs = job.model_input(X)
    if plan.kind == "score":
        values = plan.strategy._utilities(keep if keep is not None else job.adapter, inputs)
    elif plan.grad_norm:
        residual, hidden = job.adapter.grad_embed(inputs, factored=True)
        residual = np.asarray(residual, dtype=np.float64)
        hidden = np.asarray(hidden, dtype=np.float64)
        values = np.einsum("ij,ij->i", residual, residual) * np.einsum("ij,ij->i", hidden, hidden)
    else:
        values = plan.utility._utilities(job.adapter, inputs)
    values = check_scores(values, name=f"{plan.strategy.name} utilities")
    if values.shape[0] != X.shape[0]:
        raise ValueError(
            f"{plan.strategy.name} gave {values.shape[0]} utilities for {X.shape[0]} rows; "
            "utilities must be one number per row."
        )
    return values


def _labels(job: Job, X: np.ndarray, positions: np.ndarray, keep: _KeepProba | None) -> Any:
    """Predicted labels of the rows at ``positions``: the class of highest probability.

    From the probabilities the utility was computed from when there are any (no second
    pass of the model), else the adapter's ``predict`` on those rows.
    """
    proba = keep.proba if keep is not None else None
    classes = getattr(job.adapter, "classes_", None) if proba is not None else None
    if proba is not None and classes is not None and proba.shape[0] == X.shape[0]:
        return np.asarray(classes)[np.argmax(proba[positions], axis=1)]
    return np.asarray(job.adapter.predict(job.model_input(X[positions])))


def _best(job: Job, key: np.ndarray, first_row: int) -> np.ndarray:
    """Positions of the ``candidates`` best keys of a batch, excluded rows left out."""
    ties = stream_seed(job.seed, STREAM_TIES)
    m = job.plan.candidates
    dropped = job.excluded(first_row, key.shape[0])
    if not dropped.size:
        return best_positions(key, m, lambda p: tie_keys(first_row + p, ties))
    allowed = np.ones(key.shape[0], dtype=bool)
    allowed[dropped] = False
    index = np.flatnonzero(allowed)
    return index[best_positions(key[index], m, lambda p: tie_keys(first_row + index[p], ties))]


def _batch_candidates(job: Job, X: np.ndarray, first_row: int) -> Candidates:
    """The ``job.plan.candidates`` best rows of one batch whose first row is ``first_row``."""
    from activelab.select import _score_log_weights

    plan = job.plan
    n = X.shape[0]
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    keep = _KeepProba(job.adapter) if job.predictions and plan.kind == "score" else None
    if plan.kind == "sample":
        key = uniform_keys(rows, stream_seed(job.seed, STREAM_SAMPLE))
        score = np.full(n, np.nan)
    else:
        score = _utilities(job, X, keep)
        key = score
        sampling = getattr(plan.strategy, "sampling", "top")
        if plan.kind == "score" and sampling != "top":
            key = _score_log_weights(score, sampling, plan.strategy.temperature)
            key = key + gumbel_keys(rows, stream_seed(job.seed, STREAM_GUMBEL))
    ties = stream_seed(job.seed, STREAM_TIES)
    positions = _best(job, key, first_row)
    chosen = rows[positions]
    payload: dict[str, np.ndarray] = {}
    if job.payload == "X":
        payload["X"] = np.ascontiguousarray(X[positions])
    elif job.payload == "embedding":
        payload["embedding"] = job.embed(X[positions])
    if job.predictions and positions.shape[0]:
        payload["prediction"] = _labels(job, X, positions, keep)
    return Candidates(chosen, key[positions], tie_keys(chosen, ties), score[positions], payload)


def _sample_candidates(job: Job, offset: int, n_rows: int) -> Candidates:
    """The sample plan's first pass: the best uniform keys of a partition, read nothing."""
    found = Candidates.empty()
    ties = stream_seed(job.seed, STREAM_TIES)
    for start in range(0, n_rows, _KEY_ROWS):
        rows = np.arange(offset + start, offset + min(n_rows, start + _KEY_ROWS), dtype=np.int64)
        key = uniform_keys(rows, stream_seed(job.seed, STREAM_SAMPLE))
        positions = _best(job, key, int(rows[0]))
        chosen = rows[positions]
        batch = Candidates(
            chosen, key[positions], tie_keys(chosen, ties), np.full(chosen.shape[0], np.nan)
        )
        found = batch if not len(found) else merge([found, batch], job.plan.candidates)
    return found


def _kcenter_candidates(job: Job, data: Any, offset: int, index: int, where: str) -> Candidates:
    """Round one of two-round k-center: greedy k-center within one partition.

    The partition's embeddings are gathered batch by batch; whenever they reach
    :data:`KCENTER_BLOCK_BYTES` (wide embeddings of a large partition), greedy runs on
    that block and keeps its centres. Each block is a part of the pool's partitioning,
    so the 4-approximation holds as it does for partitions.
    """
    from activelab.select import k_center_greedy

    kept_rows: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    block_rows: list[np.ndarray] = []
    held = 0

    def centres() -> None:
        embeddings = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        rows = np.concatenate(block_rows) if len(block_rows) > 1 else block_rows[0]
        m = min(job.plan.candidates, embeddings.shape[0])
        seed = [job.seed, index] if not kept else [job.seed, index, len(kept)]
        picks = k_center_greedy(
            embeddings, m, labeled=job.labeled, random_state=np.random.default_rng(seed)
        )
        kept_rows.append(rows[picks])
        kept.append(embeddings[picks])
        blocks.clear()
        block_rows.clear()

    for start, X in iter_batches(data, job.batch_rows, where):
        embedding = job.embed(X)
        rows = np.arange(offset + start, offset + start + X.shape[0], dtype=np.int64)
        dropped = job.excluded(offset + start, X.shape[0])
        if dropped.size:
            allowed = np.ones(X.shape[0], dtype=bool)
            allowed[dropped] = False
            embedding, rows = embedding[allowed], rows[allowed]
        if not rows.shape[0]:
            continue
        blocks.append(embedding)
        block_rows.append(rows)
        held += embedding.nbytes
        if held >= KCENTER_BLOCK_BYTES:
            centres()
            held = 0
    if blocks:
        centres()
    if not kept:
        return Candidates.empty()
    rows = np.concatenate(kept_rows)
    m = rows.shape[0]
    return Candidates(
        rows,
        -np.arange(m, dtype=np.float64),
        tie_keys(rows, stream_seed(job.seed, STREAM_TIES)),
        np.full(m, np.nan),
        {"embedding": np.concatenate(kept)},
    )


def _in_context(error: Exception, where: str) -> Exception:
    """``error`` with the partition named in front of its message, same type if it can."""
    message = f"{where}: {error}"
    try:
        wrapped = type(error)(message)
    except Exception:  # exception types with other constructors
        wrapped = None
    if wrapped is None or str(wrapped) != message:
        wrapped = RuntimeError(f"{where}: {type(error).__name__}: {error}")
    return wrapped


def run_partition(
    job: Job, data: Any, offset: int, index: int, where: str, n_rows: int = 0
) -> Candidates:
    """The best candidates of one partition (a worker task).

    Parameters
    ----------
    job : Job
    data : ParquetPart, numpy.ndarray or pandas.DataFrame
        The partition (a Parquet part is read here; not read at all by a keys-only job).
    offset : int
        Global row position of the partition's first row.
    index : int
        Partition number (seeds k-center's first centre).
    where : str
        The partition in words, put in front of any error's message.
    n_rows : int, default=0
        Rows in the partition (used by keys-only jobs, which read nothing).

    Returns
    -------
    Candidates
        At most ``job.plan.candidates`` rows, best first (k-center: the centres of each
        block of the partition).
    """
    try:
        if job.keys_only:
            return _sample_candidates(job, offset, n_rows)
        if job.plan.kind == "kcenter":
            return _kcenter_candidates(job, data, offset, index, where)
        found = Candidates.empty()
        for start, X in iter_batches(data, job.batch_rows, where):
            batch = _batch_candidates(job, X, offset + start)
            found = batch if not len(found) else merge([found, batch], job.plan.candidates)
        return found
    except Exception as error:
        raise _in_context(error, where) from None


def take_payload(job: Job, data: Any, positions: np.ndarray, where: str) -> dict[str, np.ndarray]:
    """What the in-memory step needs of the rows at ``positions`` of one partition.

    The sample plan's second pass: read only those rows (for Parquet, the row groups
    that hold them) and embed them on the worker, or return their features.

    Parameters
    ----------
    job : Job
    data : ParquetPart, numpy.ndarray or pandas.DataFrame
    positions : numpy.ndarray of int64
        Sorted positions within the partition.
    where : str

    Returns
    -------
    dict
        ``{"embedding": ...}`` or ``{"X": ...}``, rows in the order of ``positions``.
    """
    try:
        X = take_rows(data, positions, where)
        if job.payload == "embedding":
            return {"embedding": job.embed(X)}
        return {"X": np.ascontiguousarray(X)}
    except Exception as error:
        raise _in_context(error, where) from None


def find_ids(wanted: np.ndarray, ids: Any, offset: int, where: str) -> np.ndarray:
    """Global row positions of one partition whose id is in ``wanted``.

    Parameters
    ----------
    wanted : numpy.ndarray
        Sorted ids to find.
    ids : ParquetPart, pandas.Series or numpy.ndarray
        The partition's id column.
    offset : int
    where : str

    Returns
    -------
    numpy.ndarray of int64
    """
    try:
        values = read_ids(ids, where)
        return offset + np.flatnonzero(np.isin(values, wanted)).astype(np.int64)
    except Exception as error:
        raise _in_context(error, where) from None


def take_ids(ids: Any, positions: np.ndarray, where: str) -> np.ndarray:
    """The ids of the rows at sorted ``positions`` of one partition.

    Parameters
    ----------
    ids : ParquetPart, pandas.Series or numpy.ndarray
    positions : numpy.ndarray of int64
    where : str

    Returns
    -------
    numpy.ndarray
    """
    try:
        return take_rows(ids, positions, where, ids=True)
    except Exception as error:
        raise _in_context(error, where) from None
