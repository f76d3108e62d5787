"""A Dask LocalCluster sized to this machine, for one-machine scale-out."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from activelab._extras import require


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one).

    Returns
    -------
    int
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def local_cluster(
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
    **kwargs: Any,
) -> Any:
    """Start a ``distributed.LocalCluster`` sized to this machine.

    One worker process per usable core with one thread each by default: scoring is
    numpy and BLAS work, which processes run in parallel without the GIL (distributed
    sets one BLAS thread per worker, and the workers' ``ACTIVELAB_NUM_THREADS`` is set
    to ``threads_per_worker`` so activelab's score kernels do not start threads of
    their own). ``memory_limit="auto"`` splits the machine's memory
    evenly between the workers; a worker that passes it is restarted by its nanny, and
    its partitions are computed again elsewhere.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes (default: the usable cores).
    threads_per_worker : int, default=1
    memory_limit : str, float or None, default="auto"
        Per worker, as distributed takes it (``"4GiB"``, bytes, ``"auto"``, None).
    **kwargs
        Passed on to ``LocalCluster`` (e.g. ``dashboard_address``).

    Returns
    -------
    distributed.LocalCluster
        Use it as a context manager, and connect with ``distributed.Client(cluster)``.

    Examples
    --------
    >>> from distributed import Client                      # doctest: +SKIP
    >>> with local_cluster(2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     picks = al.scale.query(model, "pool/*.parquet", 100, client=client)
    """
    distributed = require("distributed", "dask", "a local Dask cluster")
    workers = usable_cores() if n_workers is None else int(n_workers)
    if workers < 1 or threads_per_worker < 1:
        raise ValueError(
            f"n_workers and threads_per_worker must be at least 1; got {workers} and "
            f"{threads_per_worker}."
        )
    env = {"ACTIVELAB_NUM_THREADS": str(threads_per_worker), **kwargs.pop("env", {})}
    if "dashboard_address" not in kwargs and importlib.util.find_spec("bokeh") is None:
        kwargs["dashboard_address"] = None  # the dashboard needs bokeh
    return distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        memory_limit=memory_limit,
        env=env,
        **kwargs,
    )
