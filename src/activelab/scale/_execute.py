"""Running partition tasks on Dask: the reduction tree, maps over partitions, errors.

:func:`_run` applies a :class:`~activelab.scale._tasks.Job` to every partition and
merges the partial results by a tree (on a ``distributed.Client``, or on dask's local
threads without one); :func:`_run_sample` is the two passes of the sample plan;
:func:`_map` runs one small function per partition (ids, sampled rows). Dask's errors
for dead workers and cancelled futures come back as messages that say why.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from activelab.scale._plans import Plan
from activelab.scale._pool import PoolSpec
from activelab.scale._tasks import Job, run_partition, take_payload
from activelab.scale._topk import Candidates, merge

Progress = Callable[[int, int], None]


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
