"""What runs on the workers: one partition in, its best candidates out.

The :class:`Job` (model adapter, plan, seed, …) is scattered to the workers once per
query; every partition task receives it by reference. A task reads its partition in row
batches (:func:`activelab.scale._pool.iter_batches`), applies the model to each batch
(the strategy's own utility function, or the adapter's ``embed``/``grad_embed``), keeps
the best rows in a running :class:`~activelab.scale._topk.Candidates` and returns it.
Memory per task: one batch of features and model outputs, plus the candidates; for
k-center, the embeddings of the whole partition.
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
from activelab.scale._pool import iter_batches
from activelab.scale._topk import Candidates, best_positions, merge


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


def _utilities(job: Job, X: np.ndarray) -> np.ndarray:
    plan = job.plan
    inputs = job.model_input(X)
    if plan.kind == "score":
        values = plan.strategy._utilities(job.adapter, inputs)
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


def _batch_candidates(job: Job, X: np.ndarray, first_row: int) -> Candidates:
    """The ``job.plan.candidates`` best rows of one batch whose first row is ``first_row``."""
    from activelab.select import _score_log_weights

    plan = job.plan
    n = X.shape[0]
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    if plan.kind == "sample":
        key = uniform_keys(rows, stream_seed(job.seed, STREAM_SAMPLE))
        score = np.full(n, np.nan)
    else:
        score = _utilities(job, X)
        key = score
        sampling = getattr(plan.strategy, "sampling", "top")
        if plan.kind == "score" and sampling != "top":
            key = _score_log_weights(score, sampling, plan.strategy.temperature)
            key = key + gumbel_keys(rows, stream_seed(job.seed, STREAM_GUMBEL))
    ties = stream_seed(job.seed, STREAM_TIES)
    positions = best_positions(key, plan.candidates, lambda p: tie_keys(first_row + p, ties))
    chosen = rows[positions]
    payload: dict[str, np.ndarray] = {}
    if job.payload == "X":
        payload["X"] = np.ascontiguousarray(X[positions])
    elif job.payload == "embedding":
        payload["embedding"] = job.embed(X[positions])
    if job.predictions and positions.shape[0]:
        payload["prediction"] = np.asarray(job.adapter.predict(job.model_input(X[positions])))
    return Candidates(chosen, key[positions], tie_keys(chosen, ties), score[positions], payload)


def _kcenter_candidates(job: Job, data: Any, offset: int, index: int, where: str) -> Candidates:
    """Round one of two-round k-center: greedy k-center within one partition."""
    from activelab.select import k_center_greedy

    blocks = [job.embed(X) for _, X in iter_batches(data, job.batch_rows, where)]
    if not blocks or sum(block.shape[0] for block in blocks) == 0:
        return Candidates.empty()
    embeddings = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    m = min(job.plan.candidates, embeddings.shape[0])
    rng = np.random.default_rng([job.seed, index])
    picks = k_center_greedy(embeddings, m, labeled=job.labeled, random_state=rng)
    rows = offset + picks
    return Candidates(
        rows,
        -np.arange(m, dtype=np.float64),
        tie_keys(rows, stream_seed(job.seed, STREAM_TIES)),
        np.full(m, np.nan),
        {"embedding": embeddings[picks]},
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


def run_partition(job: Job, data: Any, offset: int, index: int, where: str) -> Candidates:
    """The best candidates of one partition (a worker task).

    Parameters
    ----------
    job : Job
    data : ParquetPart, numpy.ndarray or pandas.DataFrame
        The partition (a Parquet part is read here).
    offset : int
        Global row position of the partition's first row.
    index : int
        Partition number (seeds k-center's first centre).
    where : str
        The partition in words, put in front of any error's message.

    Returns
    -------
    Candidates
        At most ``job.plan.candidates`` rows, best first.
    """
    try:
        if job.plan.kind == "kcenter":
            return _kcenter_candidates(job, data, offset, index, where)
        found = Candidates.empty()
        for start, X in iter_batches(data, job.batch_rows, where):
            batch = _batch_candidates(job, X, offset + start)
            found = batch if not len(found) else merge([found, batch], job.plan.candidates)
        return found
    except Exception as error:
        raise _in_context(error, where) from None
