"""``query``: score and select from a partitioned pool on Dask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from activelab._extras import require
from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.scale._execute import Progress, _map, _run, _run_sample, _split
from activelab.scale._plans import Plan, _resolve, plan_for
from activelab.scale._pool import PoolSpec, open_pool
from activelab.scale._result import Picks
from activelab.scale._tasks import Job, find_ids, take_ids
from activelab.scale._topk import Candidates


def _model_attribute(model: Any, name: str) -> Any:
    """``name`` of the model, of an adapter's estimator, or None."""
    for candidate in (model, getattr(model, "estimator", None)):
        value = getattr(candidate, name, None) if candidate is not None else None
        if value is not None:
            return value
    return None


def _client(client: Any) -> Any:
    """The given client, else the default distributed client, else None (local threads)."""
    if client is not None:
        return client
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _check_positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an int of at least 1; got {value!r}.")
    return int(value)


def _check_width(model: Any, spec: PoolSpec) -> None:
    expected = _model_attribute(model, "n_features_in_")
    if expected is not None and int(expected) != spec.n_features:
        what = f"columns {list(spec.columns)}" if spec.columns else f"{spec.n_features} columns"
        raise ValueError(
            f"the model was fitted on {int(expected)} features but the pool gives {what}; "
            "select the model's feature columns with columns=[...]."
        )


def _job(
    plan: Plan,
    model: Any,
    spec: PoolSpec,
    seed: int,
    batch_rows: int,
    X_labeled: Any,
    predict: bool,
    exclude: np.ndarray,
) -> Job:
    strategy = plan.strategy
    adapter = strategy._adapter(model)
    if plan.kind == "prefilter" and plan.utility is not None and plan.utility is not strategy:
        utility_adapter = plan.utility._adapter(model)
        adapter = adapter if adapter is not None else utility_adapter
    names = None
    fitted_names = _model_attribute(model, "feature_names_in_")
    if fitted_names is not None and spec.columns and len(spec.columns) == spec.n_features:
        names = spec.columns  # one name per feature (vector columns give several)
    payload: str | None = None
    predictions = False
    embed_only = bool(strategy.needs) and set(strategy.needs) <= {"embed"}
    if plan.kind == "score":
        predictions = predict and "predict_proba" in adapter.capabilities
    elif plan.kind == "prefilter":
        payload = "X"
    elif plan.kind == "sample":
        payload = None if not strategy.needs else ("embedding" if embed_only else "X")
        if payload != "embedding":
            adapter = None  # the workers only draw the sample; the model runs on the client
    job = Job(
        adapter,
        plan,
        seed,
        batch_rows,
        names,
        payload,
        predictions,
        predict=predict,
        exclude=exclude if exclude.size else None,
    )
    if plan.kind == "kcenter" and _labeled_rows(X_labeled) is not None:
        job.labeled = job.embed(_as_rows(X_labeled))
    return job


def _as_rows(X: Any) -> np.ndarray:
    return X.to_numpy() if hasattr(X, "iloc") else np.asarray(X)


def _exclusions(exclude: Any, id_column: str | None, spec: PoolSpec, client: Any) -> np.ndarray:
    """The excluded rows as sorted global positions (ids looked up on the workers)."""
    if exclude is None:
        return np.empty(0, np.int64)
    values = exclude.to_numpy() if hasattr(exclude, "to_numpy") else np.asarray(exclude)
    if values.ndim != 1:
        raise ValueError(f"exclude must be 1-D (positions or ids); got shape {values.shape}.")
    if not values.size:
        return np.empty(0, np.int64)
    if id_column is None:
        if not np.issubdtype(values.dtype, np.integer):
            raise TypeError(
                "exclude holds global row positions (ints) unless id_column= names the "
                f"column of row ids; got dtype {values.dtype}. Pass id_column='...' to "
                "exclude rows by id."
            )
        positions = np.unique(values.astype(np.int64))
        if positions[0] < 0 or positions[-1] >= spec.n_rows:
            bad = positions[0] if positions[0] < 0 else positions[-1]
            raise ValueError(
                f"exclude holds row positions in [0, {spec.n_rows}) of this pool; got {bad}. "
                "To exclude rows by id, pass id_column='...'."
            )
        return positions
    wanted = np.unique(values)
    calls = [(part.ids, part.offset, part.where) for part in spec.partitions if part.n_rows]
    found = _map(client, spec, find_ids, calls, wanted)
    positions = np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
    if not positions.size:
        raise ValueError(
            f"none of the {wanted.size} ids in exclude (such as {wanted[:3].tolist()}, dtype "
            f"{wanted.dtype}) is in the id column {id_column!r}; check that they are ids of "
            "this pool, of the column's type."
        )
    return positions.astype(np.int64)


def _ids_of(client: Any, spec: PoolSpec, rows: np.ndarray) -> np.ndarray:
    """The id of each of ``rows`` (global positions), in the order of ``rows``."""
    order = np.argsort(rows, kind="stable")
    groups = _split(spec, rows[order])
    calls = [(part.ids, positions, part.where) for part, positions in groups]
    values = np.concatenate(_map(client, spec, take_ids, calls))
    out = np.empty_like(values)
    out[order] = values
    return out


def _labeled_rows(X_labeled: Any) -> Any:
    return None if X_labeled is None or n_rows(X_labeled) == 0 else X_labeled


def _finish(
    plan: Plan,
    found: Candidates,
    k: int,
    model: Any,
    job: Job,
    X_labeled: Any,
    y_labeled: Any,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The in-memory step on the gathered candidates: rows, scores, predictions."""
    from activelab.strategies import RandomSampling

    if plan.kind == "score" or isinstance(plan.strategy, RandomSampling):
        return found.rows[:k], found.score[:k], found.payload.get("prediction")
    canonical = found.take(np.argsort(found.rows, kind="stable"))  # independent of partitioning
    if plan.kind == "kcenter":
        from activelab.select import k_center_greedy

        local = k_center_greedy(
            canonical.payload["embedding"], k, labeled=job.labeled, random_state=rng
        )
        return canonical.rows[local], np.full(k, np.nan), None
    if "embedding" in canonical.payload:
        labeled = _labeled_rows(X_labeled)
        if labeled is not None:
            labeled = job.embed(_as_rows(labeled))
        local = plan.strategy.query(
            None, canonical.payload["embedding"], k, labeled, y_labeled, random_state=rng
        )
        return canonical.rows[local], canonical.score[local], None
    X = job.model_input(canonical.payload["X"])
    local = plan.strategy.query(model, X, k, X_labeled, y_labeled, random_state=rng)
    predictions = None
    if model is not None and job.predict:
        from activelab.models import wrap

        adapter = wrap(model)
        if "predict_proba" in adapter.capabilities:
            rows = canonical.payload["X"][local]
            predictions = np.asarray(adapter.predict(job.model_input(rows)))
    return canonical.rows[local], canonical.score[local], predictions


def query(
    model: Any,
    pool: Any,
    k: int,
    strategy: Any = "margin",
    client: Any = None,
    *,
    columns: Sequence[str] | None = None,
    X_labeled: Any = None,
    y_labeled: Any = None,
    random_state: RandomStateLike = None,
    plan: str | None = None,
    candidates: int | None = None,
    prefilter_by: Any = None,
    partition_rows: int | None = None,
    batch_rows: int = 131_072,
    split_every: int = 8,
    progress: Progress | None = None,
    predictions: bool = True,
    exclude: Any = None,
    id_column: str | None = None,
) -> Picks:
    """Pick the ``k`` rows of a pool larger than memory to label next, on Dask.

    The pool is read partition by partition on the workers; each partition task applies
    the model to its rows in batches and keeps its best candidates; partial results are
    merged by a tree (``split_every`` at a time) into the global answer. The model is
    scattered to the workers once per query (``client.scatter(..., broadcast=True)``)
    and every task refers to it, so it is never shipped per task.

    How a strategy runs is its *plan* (:func:`plan_for`):

    - **score** (margin, entropy, least_confidence, ratio, BALD, vote entropy, …):
      exact. The global top-``k`` by utility, ties broken by a random key that depends
      only on ``random_state`` and the row's global position (:func:`tie_keys`), so the
      same seed gives the same picks on any partitioning and any number of workers.
      ``sampling="softmax"``/``"power"`` draw the stochastic batch exactly (Gumbel-top-k
      with per-row Gumbel noise).
    - **prefilter** (diverse mini-batch and other ``Diverse`` strategies, BADGE, or any
      strategy with ``prefilter_by=``): the ``candidates`` rows of highest utility (an
      exact tree top-k) are gathered, and the in-memory strategy selects among them.
      Exact for ``Diverse`` (its own first step is that prefilter).
    - **kcenter** (core-set): greedy k-center within each partition (``candidates``
      centres, default ``k``, the labeled set as fixed centres), then greedy k-center on
      the union. Each round's greedy is within 2× of the optimal radius OPT of the whole
      pool (the Gonzalez argument: ``k + 1`` points pairwise farther apart than the
      radius cannot all sit in different optimal clusters, and the union's points are
      pool points), so every row is within ``2·OPT`` of a first-round centre, which is
      within ``2·OPT`` of a final centre: a **4-approximation** of the k-center radius
      (Malkomes et al. 2015), against 2 for the in-memory greedy.
    - **sample** (random, k-means, TypiClust, ProbCover, MaxHerding, facility location,
      ``SubSample(s, M)``, or any strategy with ``plan="sample"``): the in-memory
      strategy on a uniform random sample of ``candidates`` rows (exact for random).

    Embedding-based strategies get their embeddings from the model's ``embed`` (the
    features themselves when ``model`` is None): on the workers for the sample plan
    (which draws its sample from row positions, then reads and embeds only the sampled
    rows) and for k-center's first round; on this machine for the ``candidates`` rows
    of a prefilter plan, where the in-memory selector runs.

    Parameters
    ----------
    model : fitted estimator, ModelAdapter or None
        As for :meth:`activelab.strategies.Strategy.query`. String class labels work.
    pool : str, PathLike, list of them, dask DataFrame, dask Array, DataFrame or array
        Parquet file(s): a path, a glob (``"data/*.parquet"``), a folder, or a list, on
        any fsspec file system (every worker must reach it). Rows are numbered across
        the files in sorted path order (the given order for a list).
    k : int
        Batch size, ``1 <= k <= rows``.
    strategy : str or Strategy, default="margin"
    client : distributed.Client, optional
        Default: the current Dask client if there is one, else dask's local threaded
        scheduler in this process.
    columns : sequence of str, optional
        Feature columns of a Parquet or DataFrame pool, in the model's order. Default:
        the model's ``feature_names_in_`` when it has them, else every numeric column.
    X_labeled, y_labeled : optional
        The labeled set (in memory), for strategies that use it.
    random_state : int, numpy.random.Generator or None
    plan : {"score", "prefilter", "kcenter", "sample"}, optional
        Force a plan (default: the strategy's own).
    candidates : int, optional
        Rows gathered for the in-memory step (see :func:`plan_for`).
    prefilter_by : str or ScoreStrategy, optional
        The utility of ``plan="prefilter"`` for a strategy without its own.
    partition_rows : int, optional
        Rows per partition of Parquet and array pools (default: about 64 MiB of
        features). Dask collections keep their own partitions.
    batch_rows : int, default=131072
        Rows a task reads and scores at a time: bounds its memory.
    split_every : int, default=8
        Fan-in of the reduction tree.
    progress : callable, optional
        Called as ``progress(done, total)`` after each partition finishes.
    predictions : bool, default=True
        Return the model's predicted label of each pick (when it has probabilities):
        the class of highest probability, taken from the probabilities the utility was
        computed from (no second pass of the model). That is ``predict`` for most
        classifiers; not for ``SVC(probability=True)``, whose ``predict`` follows its
        decision function. Prefilter plans call ``predict`` on the picks.
    exclude : array-like, optional
        Rows never to pick: those labelled (or picked) in earlier rounds. Global row
        positions (ints, as in :attr:`Picks.rows`), or ids of the ``id_column`` when it
        is given. Excluded rows are dropped inside each batch, before its top-k, so every
        plan picks among the other rows only.
    id_column : str, optional
        A column of row ids (Parquet, DataFrame and Dask DataFrame pools). ``exclude``
        then holds ids, and :attr:`Picks.ids` gives the id of each pick. It is left out
        of the default feature columns.

    Returns
    -------
    Picks
        ``rows`` (global row positions, int64, most informative first), ``scores``,
        ``predictions``, ``ids`` (with ``id_column``), and what the plan guarantees.

    References
    ----------
    Gonzalez (1985), "Clustering to minimize the maximum intercluster distance",
    Theoretical Computer Science. Malkomes, Kusner, Chen, Weinberger & Moseley (2015),
    "Fast distributed k-center clustering with outliers on massive data", NeurIPS.
    Kool, van Hoof & Welling (2019), "Stochastic beams and where to find them: the
    Gumbel-top-k trick", ICML.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.random.default_rng(0).normal(size=(1000, 3))
    >>> model = LogisticRegression().fit(X, X[:, 0] > 0)
    >>> picks = query(model, X, 5, "margin", partition_rows=300, random_state=0)
    >>> picks.rows.shape, picks.plan
    ((5,), 'score')
    """
    require("dask", "dask", "activelab.scale")
    batch_rows = _check_positive(batch_rows, "batch_rows")
    split_every = _check_positive(split_every, "split_every")
    if split_every < 2:
        raise ValueError(f"split_every must be at least 2; got {split_every}.")
    chosen = _resolve(strategy)
    client = _client(client)

    def compute(collection: Any) -> Any:
        return client.compute(collection).result() if client is not None else collection.compute()

    spec = open_pool(
        pool,
        columns=columns,
        model_names=_model_attribute(model, "feature_names_in_"),
        partition_rows=partition_rows,
        compute=compute,
        id_column=id_column,
    )
    k = check_k(k, spec.n_rows)
    if model is not None:
        _check_width(model, spec)
    excluded = _exclusions(exclude, id_column, spec, client)
    available = spec.n_rows - excluded.shape[0]
    if k > available:
        raise ValueError(
            f"k={k} but only {available} rows of the pool's {spec.n_rows} are left after "
            f"excluding {excluded.shape[0]}; ask for at most {available}."
        )
    found_plan = plan_for(
        chosen, k, available, plan=plan, candidates=candidates, prefilter_by=prefilter_by
    )
    rng = check_random_state(random_state)
    seed = int(rng.integers(2**63))
    job = _job(found_plan, model, spec, seed, batch_rows, X_labeled, predictions, excluded)
    if found_plan.kind == "sample":
        found = _run_sample(client, job, spec, split_every, progress)
    else:
        found = _run(client, job, spec, split_every, progress)
    rows, scores, labels = _finish(found_plan, found, k, model, job, X_labeled, y_labeled, rng)
    rows = np.asarray(rows, dtype=np.int64)
    ids = _ids_of(client, spec, rows) if id_column is not None else None
    return Picks(
        rows=rows,
        scores=np.asarray(scores, dtype=np.float64),
        predictions=labels,
        strategy=found_plan.strategy.name,
        plan=found_plan.kind,
        exact=found_plan.exact,
        note=found_plan.note,
        n_rows=spec.n_rows,
        seed=seed,
        files=spec.files,
        file_offsets=spec.file_offsets,
        ids=ids,
        excluded=int(excluded.shape[0]),
    )


__all__ = ["Progress", "query"]
