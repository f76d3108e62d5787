"""``query``: score and select from a partitioned pool on Dask."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from activelab._extras import require
from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.scale._plans import Plan, _resolve, plan_for
from activelab.scale._pool import PoolSpec, open_pool
from activelab.scale._result import Picks
from activelab.scale._tasks import Job, find_ids, run_partition, take_ids, take_payload
from activelab.scale._topk import Candidates, merge

Progress = Callable[[int, int], None]


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


def _graph(
    job_ref: Any, datas: Sequence[Any], spec: PoolSpec, plan: Plan, split_every: int, token: str
) -> tuple[list[Any], Any, str]:
    """Delayed partition tasks and the root of their reduction tree."""
    from dask import delayed

    name = f"activelab-partition-{token}"
    partials = [
        delayed(run_partition, pure=True)(
            job_ref,
            data,
            part.offset,
            part.index,
            part.where,
            part.n_rows,
            dask_key_name=(name, part.index),
        )
        for part, data in zip(spec.partitions, datas, strict=True)
    ]
    if plan.kind == "kcenter":
        root = delayed(Candidates.concat, pure=True)(
            partials, dask_key_name=f"activelab-union-{token}"
        )
        return partials, root, name
    level, depth = partials, 0
    while len(level) > 1:
        level = [
            delayed(merge, pure=True)(
                level[i : i + split_every],
                plan.candidates,
                dask_key_name=(f"activelab-merge-{token}", depth, i // split_every),
            )
            for i in range(0, len(level), split_every)
        ]
        depth += 1
    return partials, level[0], name


def _where(spec: PoolSpec, key: Any, name: str) -> str:
    if isinstance(key, tuple) and len(key) == 2 and key[0] == name:
        return spec.partitions[int(key[1])].where
    return "merging the partial results"


@contextmanager
def _explained(spec: PoolSpec, name: str = "") -> Any:
    """Dask's errors for dead workers and cancelled futures, as messages that say why."""
    from distributed.scheduler import KilledWorker

    try:
        yield
    except KilledWorker as error:
        where = _where(spec, error.task, name)
        raise RuntimeError(
            f"Dask gave up on {where}: the workers it was given to died "
            f"{error.allowed_failures + 1} time(s) (out of memory, a crash in native code, or "
            "an exit in the model). The partition that kills them is this one or one that "
            "was queued beside it on the same workers. Nothing was returned. Give the "
            "workers more memory, lower partition_rows / batch_rows, or run the model on "
            "that part of the pool alone to see what kills it."
        ) from None
    except Exception as error:
        if type(error).__name__ not in ("CancelledError", "FutureCancelledError"):
            raise
        lost = "the scattered model"
        advice = ""
        if spec.kind == "array":
            lost = "the scattered model or blocks of the array pool"
            advice = (
                " An array pool lives only in the memory of the workers it was scattered to: "
                "write it to Parquet (or pass a Dask collection) so that partitions can be "
                "read again after a worker dies."
            )
        raise RuntimeError(
            f"Dask cancelled the query: every worker holding {lost} died, so what depended "
            "on it cannot be computed again. A partition may be killing its workers (out of "
            "memory, a crash in native code, an exit in the model); the workers' logs say "
            f"why they died. Nothing was returned.{advice} ({type(error).__name__}: {error})"
        ) from None


def _run_distributed(
    client: Any, job: Job, spec: PoolSpec, split_every: int, progress: Progress | None
) -> Candidates:
    from distributed import as_completed

    token = uuid.uuid4().hex[:12]
    job_ref = client.scatter(job, broadcast=True, hash=False)
    held: list[Any] = [job_ref]  # released at the end, whatever happens
    datas: list[Any] = [None if job.keys_only else part.data for part in spec.partitions]
    if spec.kind == "array" and not job.keys_only:
        datas = client.scatter(datas, hash=False)
        held.extend(datas)
    partials, root, name = _graph(job_ref, datas, spec, job.plan, split_every, token)
    # One future per partition (for the progress bar) and one for the root of the tree,
    # which is the only partition itself when there is one.
    futures = client.compute(partials if root is partials[-1] else [*partials, root])
    held.extend(futures)
    total = len(partials)
    try:
        with _explained(spec, name):
            for done, future in enumerate(as_completed(futures[: len(partials)]), start=1):
                if future.status == "error":
                    future.result()  # raises the partition's error
                if progress is not None:
                    progress(done, total)
            return futures[-1].result()
    finally:
        # Dropping the last references releases the model, the blocks and the results on
        # the workers (cancelling finished futures upsets some versions of the scheduler).
        held.clear()
        futures.clear()


def _map(
    client: Any,
    spec: PoolSpec,
    fn: Callable[..., Any],
    calls: list[tuple[Any, ...]],
    shared: Any = None,
) -> list[Any]:
    """``fn(shared, *call)`` (``fn(*call)`` without ``shared``) for each call, on the workers.

    ``shared`` (the job, or the ids to find) goes to the workers once, by reference.
    Array pools run here: their partitions live in this process already.
    """
    if not calls:
        return []
    lead = () if shared is None else (shared,)
    if spec.kind == "array":
        return [fn(*lead, *call) for call in calls]
    from dask import delayed

    token = uuid.uuid4().hex[:12]
    if client is None:
        import dask

        if shared is not None:
            lead = (delayed(shared, name=f"activelab-shared-{token}", traverse=False),)
        tasks = [delayed(fn, pure=True)(*lead, *call) for call in calls]
        return list(dask.compute(*tasks, scheduler="threads"))
    if shared is not None:
        lead = (client.scatter(shared, broadcast=True, hash=False),)
    tasks = [delayed(fn, pure=True)(*lead, *call) for call in calls]
    futures = client.compute(tasks)
    try:
        with _explained(spec):
            return client.gather(futures)
    finally:
        lead = ()
        futures.clear()


def _split(spec: PoolSpec, rows: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """Sorted global rows grouped by partition: ``(partition, positions within it)``."""
    offsets = np.array([part.offset for part in spec.partitions], dtype=np.int64)
    which = np.searchsorted(offsets, rows, side="right") - 1
    groups = []
    for index in np.unique(which):
        part = spec.partitions[int(index)]
        groups.append((part, rows[which == index] - part.offset))
    return groups


def _run_local(job: Job, spec: PoolSpec, split_every: int, progress: Progress | None) -> Candidates:
    import dask
    from dask import delayed
    from dask.callbacks import Callback

    token = uuid.uuid4().hex[:12]
    job_ref = delayed(job, name=f"activelab-job-{token}", traverse=False)
    datas = [None if job.keys_only else part.data for part in spec.partitions]
    partials, root, name = _graph(job_ref, datas, spec, job.plan, split_every, token)
    total = len(partials)
    done = 0

    def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        nonlocal done
        if isinstance(key, tuple) and key and key[0] == name:
            done += 1
            if progress is not None:
                progress(done, total)

    with Callback(posttask=posttask):
        (result,) = dask.compute(root, scheduler="threads")
    return result


def _run(
    client: Any, job: Job, spec: PoolSpec, split_every: int, progress: Progress | None
) -> Candidates:
    if client is not None:
        return _run_distributed(client, job, spec, split_every, progress)
    return _run_local(job, spec, split_every, progress)


def _run_sample(
    client: Any, job: Job, spec: PoolSpec, split_every: int, progress: Progress | None
) -> Candidates:
    """The sample plan: draw the sample from row positions, then read only its rows.

    The first pass computes each row's uniform key from its global position (no I/O, no
    model) and merges the partitions' best keys into the global sample; the second reads
    and embeds only the sampled rows, partition by partition, on the workers.
    """
    light = dataclasses.replace(
        job, adapter=None, payload=None, predictions=False, labeled=None, keys_only=True
    )
    found = _run(client, light, spec, split_every, progress)
    if job.payload is None or not len(found):
        return found
    found = found.take(np.argsort(found.rows, kind="stable"))
    calls = [(part.data, positions, part.where) for part, positions in _split(spec, found.rows)]
    payloads = _map(client, spec, take_payload, calls, job)
    found.payload = {
        name: np.concatenate([payload[name] for payload in payloads]) for name in payloads[0]
    }
    return found


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
