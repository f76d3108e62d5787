"""Row-block parallelism for the GIL-free kernels.

The kernels in :mod:`activelab._kernels` release the GIL, so a large pool is split into
one contiguous block of rows per thread and the blocks run at once. Small inputs run in
the calling thread. ``ACTIVELAB_NUM_THREADS`` caps the threads (default: the CPU count,
at most 8); set it to 1 inside processes that already run one task per core.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: A block gets at least about this many rows; smaller splits cost more than they save.
MIN_ROWS_PER_THREAD = 32_768

_executor: ThreadPoolExecutor | None = None


def n_threads() -> int:
    """Threads the kernels may use: ``ACTIVELAB_NUM_THREADS`` or the usable CPUs (≤ 8).

    Returns
    -------
    int
    """
    configured = os.environ.get("ACTIVELAB_NUM_THREADS")
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            raise ValueError(
                f"ACTIVELAB_NUM_THREADS must be a positive integer; got {configured!r}."
            ) from None
    try:
        available = len(os.sched_getaffinity(0))  # respects taskset / cgroup cpusets
    except AttributeError:  # pragma: no cover - not on Linux
        available = os.cpu_count() or 1
    return max(1, min(8, available))


def map_row_blocks(function: Callable[[int, int], T], n: int) -> list[T]:
    """Call ``function(start, stop)`` on contiguous row blocks covering ``range(n)``.

    Blocks run on a shared thread pool when ``n`` is large; results come back in block
    order, so the first block reporting a problem holds the first bad row.

    Parameters
    ----------
    function : callable
        Works on rows ``start:stop`` and returns a result.
    n : int
        Number of rows.

    Returns
    -------
    list
        One result per block, in row order.
    """
    threads = min(n_threads(), max(1, -(-n // MIN_ROWS_PER_THREAD)))
    if threads == 1:
        return [function(0, n)]
    global _executor
    if _executor is None or _executor._max_workers < threads:
        _executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activelab")
    bounds = [n * block // threads for block in range(threads + 1)]
    futures = [
        _executor.submit(function, bounds[block], bounds[block + 1]) for block in range(threads)
    ]
    return [future.result() for future in futures]
