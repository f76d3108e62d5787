"""Shared helpers for the benchmark scripts: timing, peak memory, versions and tables.

Nothing here imports activelab or a peer library (only numpy), so every benchmark script (run from
``.venv`` or ``.venv-bench``) can use it. Import it as ``from _common import ...``: the
scripts put their own folder on ``sys.path`` when run as ``python benchmarks/<name>.py``.

- :func:`race` times several calls under the same conditions: optional warm-up, then the
  calls take turns so that load from other processes hits all of them alike; best time.
- :func:`peak_extra_bytes` measures what a call allocates above what was live before it
  (tracemalloc, which sees numpy's buffers).
- :func:`markdown_table` renders rows as a GitHub-flavoured markdown table, which reads
  well in a terminal and pastes into docs unchanged.
- :func:`load_peer` and :func:`import_attrs` import an optional peer library, giving None
  (reported as :data:`NOT_INSTALLED`) when it is not importable.
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import numpy as np

T = TypeVar("T")

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

    @property
    def ms(self) -> float | None:
        """The fastest timed run in milliseconds, or None when the call never completed."""
        return min(self.seconds) * 1e3 if self.seconds else None


def race(
    calls: dict[str, Callable[[], Any]],
    *,
    warmup: bool = True,
    min_repeats: int = 3,
    max_repeats: int = 20,
    budget_s: float = 2.0,
    time_warmup: bool = False,
    slow_s: float | None = None,
    error_chars: int = 80,
) -> dict[str, Outcome]:
    """Time several calls under the same conditions; every timed run is kept.

    With ``warmup`` each call first runs once (numba kernels compile or load from their
    cache; caches fill), untimed unless ``time_warmup``. Without it, the first run is a
    timed one — use that for slow calls with nothing to warm. Then the calls take turns,
    one timed run each per round, until each has ``min_repeats`` runs and has spent
    ``budget_s`` seconds, or ``max_repeats`` rounds have run. Garbage collection is off
    while the rounds run. An exception in a call is recorded in its :class:`Outcome`
    (its message cut to ``error_chars`` characters) and the call leaves the race; the
    others go on.

    Parameters
    ----------
    calls : dict of str to callable
        Zero-argument callables, by name.
    warmup : bool
    min_repeats, max_repeats : int
    budget_s : float
    time_warmup : bool
        Keep the warm-up run's time as a timed run.
    slow_s : float, optional
        A call whose warm-up takes at least this long is timed by its warm-up alone and
        leaves the race.
    error_chars : int

    Returns
    -------
    dict of str to Outcome
    """
    outcomes = {name: Outcome() for name in calls}
    live = dict(calls)

    def run(name: str, timed: bool) -> float | None:
        started = time.perf_counter()
        try:
            result = live[name]()
        except Exception as error:  # a peer's API changed or it ran out of memory
            outcomes[name].error = f"error: {type(error).__name__}: {error}"[:error_chars]
            del live[name]
            return None
        taken = time.perf_counter() - started
        if timed:
            outcomes[name].seconds.append(taken)
        if outcomes[name].result is None:
            outcomes[name].result = result
        return taken

    if warmup:
        for name in list(live):
            taken = run(name, timed=time_warmup)
            if slow_s is not None and taken is not None and taken >= slow_s:
                if not time_warmup:
                    outcomes[name].seconds.append(taken)
                del live[name]
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


def machine_lines(
    distributions: Sequence[str | tuple[str, str]] = (), threads: str | None = None
) -> list[str]:
    """Header lines: versions of Python and ``distributions``, the machine, the load.

    Parameters
    ----------
    distributions : sequence of str or (label, distribution) pairs
        Distributions whose installed versions to print, optionally under a shorter label.
    threads : str, optional
        What to say about threads at the end of the machine line; by default the value of
        ``ACTIVELAB_NUM_THREADS``.

    Returns
    -------
    list of str
    """
    pairs = [(name, name) if isinstance(name, str) else name for name in distributions]
    versions = " | ".join(f"{label} {version_of(name)}" for label, name in pairs)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    if threads is None:
        threads = f"ACTIVELAB_NUM_THREADS {os.environ.get('ACTIVELAB_NUM_THREADS', 'unset')}"
    lines = [
        f"python {platform.python_version()}" + (f" | {versions}" if versions else ""),
        f"machine: {platform.platform()} | {cpu_model()} | cpu_count {os.cpu_count()} | "
        f"usable cpus {usable} | {threads}",
    ]
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        note = " (other processes are busy: expect noisy timings)" if load > 0.5 else ""
        lines.append(f"load average (1 min) before the run: {load:.2f}{note}")
    return lines


def missing_activelab(error: ImportError) -> NoReturn:
    """Exit with the reason activelab cannot be imported and how to install it."""
    sys.exit(
        f"cannot import activelab: {error}\n"
        "Install it into this environment: .venv-bench/bin/pip install --no-deps -e ."
    )


def load_peer(loader: Callable[[], T]) -> T | None:
    """What ``loader`` returns (a peer's entry points), or None when the peer is not
    importable (an ImportError, or an AttributeError where its API moved)."""
    try:
        return loader()
    except (ImportError, AttributeError):
        return None


def import_attrs(module: str, *names: str) -> dict[str, Any] | None:
    """The named attributes of a peer's module, or None when it is not importable."""

    def attributes() -> dict[str, Any]:
        imported = importlib.import_module(module)
        return {name: getattr(imported, name) for name in names}

    return load_peer(attributes)


def import_module(module: str) -> Any | None:
    """A peer's module, or None when it is not importable."""
    return load_peer(lambda: importlib.import_module(module))


def as_index_set(result: Any) -> set[int]:
    """A batch as a set of ints (modAL returns (indices, values))."""
    if isinstance(result, tuple):
        result = result[0]
    return {int(i) for i in np.asarray(result).ravel()}


def verdict(ok: bool | None) -> str:
    """A goal's verdict: PASS / FAIL / n/a."""
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


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


def fmt_ratio(
    numerator: float | str | None, denominator: float | str | None, spec: str = ".3g"
) -> str:
    """``numerator / denominator`` as ``12.3x`` (``spec`` formats the number); a dash when
    either is missing or the denominator is zero."""
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float):
        return "—"
    if denominator == 0:
        return "—"
    ratio = numerator / denominator
    return f"{ratio:{spec}}x"


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
