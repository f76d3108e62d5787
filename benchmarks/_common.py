"""Shared helpers for the benchmark scripts: timing, peak memory, versions and tables.

Nothing here imports activelab or a peer library, so every benchmark script (run from
``.venv`` or ``.venv-bench``) can use it. Import it as ``from _common import ...``: the
scripts put their own folder on ``sys.path`` when run as ``python benchmarks/<name>.py``.

- :func:`race` times several calls under the same conditions: optional warm-up, then the
  calls take turns so that load from other processes hits all of them alike; best time.
- :func:`peak_extra_bytes` measures what a call allocates above what was live before it
  (tracemalloc, which sees numpy's buffers).
- :func:`markdown_table` renders rows as a GitHub-flavoured markdown table, which reads
  well in a terminal and pastes into docs unchanged.
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import platform
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

NOT_INSTALLED = "not installed"


@dataclass
class Outcome:
    """What :func:`race` learned about one call.

    ``seconds`` holds every timed run; ``result`` the value of the first run (kept for
    agreement checks); ``error`` a short message when the call raised.
    """

    seconds: list[float] = field(default_factory=list)
    result: Any = None
    error: str | None = None

    @property
    def best(self) -> float | None:
        """The fastest timed run in seconds, or None when the call never completed."""
        return min(self.seconds) if self.seconds else None


def race(
    calls: dict[str, Callable[[], Any]],
    *,
    warmup: bool = True,
    min_repeats: int = 3,
    max_repeats: int = 20,
    budget_s: float = 2.0,
) -> dict[str, Outcome]:
    """Time several calls under the same conditions; every timed run is kept.

    With ``warmup`` each call first runs once untimed (numba kernels compile or load from
    their cache; caches fill). Without it, the first run is a timed one — use that for
    slow calls with nothing to warm. Then the calls take turns, one timed run each per
    round, until each has ``min_repeats`` runs and has spent ``budget_s`` seconds, or has
    ``max_repeats`` runs. Garbage collection is off while timing. An exception in a call is
    recorded in its :class:`Outcome` and the call leaves the race; the others go on.

    Parameters
    ----------
    calls : dict of str to callable
        Zero-argument callables, by name.
    warmup : bool
    min_repeats, max_repeats : int
    budget_s : float

    Returns
    -------
    dict of str to Outcome
    """
    outcomes = {name: Outcome() for name in calls}
    live = dict(calls)

    def run(name: str, timed: bool) -> None:
        started = time.perf_counter()
        try:
            result = live[name]()
        except Exception as error:  # a peer's API changed or it ran out of memory
            outcomes[name].error = f"error: {type(error).__name__}: {error}"[:80]
            del live[name]
            return
        if timed:
            outcomes[name].seconds.append(time.perf_counter() - started)
        if outcomes[name].result is None:
            outcomes[name].result = result

    if warmup:
        for name in list(live):
            run(name, timed=False)
    gc.collect()
    gc.disable()
    try:
        for _ in range(max_repeats):
            due = [
                name
                for name in live
                if len(outcomes[name].seconds) < min_repeats
                or sum(outcomes[name].seconds) < budget_s
            ]
            if not due:
                break
            for name in due:
                run(name, timed=True)
    finally:
        gc.enable()
    return outcomes


def peak_extra_bytes(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak memory ``fn`` allocates above what was live when it started, and its result.

    tracemalloc sees numpy's data buffers (numpy reports them to it) as well as Python
    objects; memory allocated by BLAS or numba internally is not seen.

    Returns
    -------
    (int, object)
        Peak extra bytes, and what ``fn`` returned.
    """
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - baseline, result


def version_of(distribution: str) -> str:
    """Installed version of a distribution, or :data:`NOT_INSTALLED`."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return NOT_INSTALLED


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), or what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def machine_lines(distributions: Sequence[str] = ()) -> list[str]:
    """Header lines: versions of Python and ``distributions``, the machine, the load."""
    versions = " | ".join(f"{name} {version_of(name)}" for name in distributions)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    lines = [
        f"python {platform.python_version()}" + (f" | {versions}" if versions else ""),
        f"machine: {platform.platform()} | {cpu_model()} | cpu_count {os.cpu_count()} | "
        f"usable cpus {usable} | ACTIVELAB_NUM_THREADS "
        f"{os.environ.get('ACTIVELAB_NUM_THREADS', 'unset')}",
    ]
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        note = " (other processes are busy: expect noisy timings)" if load > 0.5 else ""
        lines.append(f"load average (1 min) before the run: {load:.2f}{note}")
    return lines


def fmt_seconds(value: float | str | None) -> str:
    """A time cell: ``12.3 ms`` / ``4.56 s``, a reason string, or a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if value < 1.0:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def fmt_bytes(value: float | str | None) -> str:
    """A memory cell in MB (10⁶ bytes), a reason string, or a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value / 1e6:,.1f} MB"


def fmt_ratio(numerator: float | str | None, denominator: float | str | None) -> str:
    """``numerator / denominator`` as ``12.3x``; a dash when either is missing."""
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float):
        return "—"
    if denominator == 0:
        return "—"
    ratio = numerator / denominator
    return f"{ratio:.3g}x"


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()
) -> str:
    """Rows as a GitHub-flavoured markdown table, columns padded to line up.

    Parameters
    ----------
    headers : sequence of str
    rows : sequence of sequences
        Cells are turned into strings with ``str``.
    right : sequence of int
        Columns to align right (numbers).

    Returns
    -------
    str
    """
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for column, cell in enumerate(row):
            widths[column] = max(widths[column], len(cell))

    def line(values: Sequence[str]) -> str:
        padded = [
            value.rjust(widths[column]) if column in right else value.ljust(widths[column])
            for column, value in enumerate(values)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * (widths[column] - 1) + ":" if column in right else "-" * widths[column]
        for column in range(len(headers))
    ]
    return "\n".join([line(headers), line(rule), *(line(row) for row in cells)])
