"""Compiled single-pass kernels behind :mod:`activelab.scores` and :mod:`activelab.select`.

Each kernel reads its input once, row by row, and fuses the validation (finite,
non-negative, rows summing to one) with the score, so a query over an ``(n, C)`` array
costs one pass over memory instead of the five or six that a chain of numpy reductions
takes. Kernels are serial and release the GIL (``nogil``): they are safe to call from
many threads at once, which a web server or a Dask worker does.

Kernels report problems as ``(bad_row, problem)`` with the codes of
:mod:`activelab._validation`; turning them into messages is the caller's job.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = {"cache": True, "nogil": True}

TOLERANCE = 1e-4  # == _validation.ROW_SUM_TOLERANCE (numba needs a literal here)


@numba.njit(**_JIT)
def _row_problem(total: float, smallest: float, finite: bool) -> int:
    if not finite:
        return 1
    if smallest < 0.0:
        return 2
    if abs(total - 1.0) > TOLERANCE:
        return 3
    return 0


@numba.njit(**_JIT)
def least_confidence(proba, out):  # pragma: no cover - compiled
    """``1 - max_c p_c`` of each row, validated; tracks only the largest value."""
    n, n_classes = proba.shape
    for i in range(n):
        first = -np.inf
        total = 0.0
        smallest = np.inf
        for j in range(n_classes):
            value = proba[i, j]
            total += value
            smallest = min(smallest, value)
            first = max(first, value)
        problem = _row_problem(total, smallest, np.isfinite(total))
        if problem:
            return i, problem
        out[i] = 1.0 - first
    return -1, 0


@numba.njit(**_JIT)
def top2_scores(proba, mode, out):  # pragma: no cover - compiled
    """Margin (mode 1) or ratio (mode 2) of each row, validated."""
    n, n_classes = proba.shape
    for i in range(n):
        first = -np.inf
        second = -np.inf
        total = 0.0
        smallest = np.inf
        for j in range(n_classes):
            value = proba[i, j]
            total += value
            smallest = min(smallest, value)
            second = max(second, min(first, value))
            first = max(first, value)
        problem = _row_problem(total, smallest, np.isfinite(total))
        if problem:
            return i, problem
        if mode == 1:
            out[i] = 1.0 - (first - second)
        else:
            out[i] = second / first
    return -1, 0


@numba.njit(**_JIT)
def entropy_from_logs(proba, logs, out):  # pragma: no cover - compiled
    """``-sum p log p`` per row given ``logs = log(proba)`` (vectorised by numpy), validated."""
    n, n_classes = proba.shape
    for i in range(n):
        total = 0.0
        smallest = np.inf
        entropy = 0.0
        for j in range(n_classes):
            value = proba[i, j]
            total += value
            smallest = min(smallest, value)
            if value > 0.0:
                entropy -= value * logs[i, j]
        problem = _row_problem(total, smallest, np.isfinite(total))
        if problem:
            return i, problem
        out[i] = max(entropy, 0.0)
    return -1, 0


@numba.njit(**_JIT)
def check_rows(proba):  # pragma: no cover - compiled
    """First row that is not a probability vector, as ``(row, problem)``; ``(-1, 0)`` if none."""
    n, n_classes = proba.shape
    for i in range(n):
        total = 0.0
        smallest = np.inf
        for j in range(n_classes):
            value = proba[i, j]
            total += value
            smallest = min(smallest, value)
        problem = _row_problem(total, smallest, np.isfinite(total))
        if problem:
            return i, problem
    return -1, 0


@numba.njit(**_JIT)
def _xlogx(value):
    return value * np.log(value) if value > 0.0 else 0.0


@numba.njit(**_JIT)
def vote_scores(samples, mode, out):  # pragma: no cover - compiled
    """Vote entropy (mode 0) or variation ratio (1) from each member's argmax."""
    n_members, n, n_classes = samples.shape
    counts = np.zeros(n_classes, dtype=np.int64)
    for i in range(n):
        counts[:] = 0
        for m in range(n_members):
            best = 0
            best_value = samples[m, i, 0]
            for j in range(1, n_classes):
                if samples[m, i, j] > best_value:
                    best_value = samples[m, i, j]
                    best = j
            counts[best] += 1
        if mode == 0:
            entropy = 0.0
            for j in range(n_classes):
                entropy -= _xlogx(counts[j] / n_members)
            out[i] = max(entropy, 0.0)
        else:
            out[i] = 1.0 - counts.max() / n_members


@numba.njit(**_JIT)
def mutual_information(samples, out):  # pragma: no cover - compiled
    """``H[mean_m p_m] - mean_m H[p_m]`` per row (BALD), clipped at 0 for rounding."""
    n_members, n, n_classes = samples.shape
    mean = np.empty(n_classes)
    for i in range(n):
        mean[:] = 0.0
        member_entropy = 0.0
        for m in range(n_members):
            for j in range(n_classes):
                value = samples[m, i, j]
                mean[j] += value
                member_entropy -= _xlogx(value)
        entropy_of_mean = 0.0
        for j in range(n_classes):
            entropy_of_mean -= _xlogx(mean[j] / n_members)
        out[i] = max(entropy_of_mean - member_entropy / n_members, 0.0)


@numba.njit(**_JIT)
def mean_kl_to_consensus(samples, out):  # pragma: no cover - compiled
    """``mean_m KL(p_m || mean p)`` per row, summed term by term."""
    n_members, n, n_classes = samples.shape
    log_mean = np.empty(n_classes)
    for i in range(n):
        log_mean[:] = 0.0
        for m in range(n_members):
            for j in range(n_classes):
                log_mean[j] += samples[m, i, j]
        for j in range(n_classes):
            log_mean[j] = np.log(log_mean[j] / n_members) if log_mean[j] > 0.0 else 0.0
        divergence = 0.0
        for m in range(n_members):
            for j in range(n_classes):
                value = samples[m, i, j]
                if value > 0.0:
                    divergence += value * (np.log(value) - log_mean[j])
        out[i] = max(divergence / n_members, 0.0)


@numba.njit(**_JIT)
def mean_std(samples, out):  # pragma: no cover - compiled
    """``mean_c std_m(p_mc)`` per row (Kampffmeyer et al. 2016), two-pass in float64."""
    n_members, n, n_classes = samples.shape
    for i in range(n):
        total = 0.0
        for j in range(n_classes):
            mean = 0.0
            for m in range(n_members):
                mean += np.float64(samples[m, i, j])
            mean /= n_members
            squares = 0.0
            for m in range(n_members):
                deviation = np.float64(samples[m, i, j]) - mean
                squares += deviation * deviation
            total += np.sqrt(squares / n_members)
        out[i] = total / n_classes


@numba.njit(**_JIT)
def _sift_down(heap, start, size):
    position = start
    value = heap[position]
    while True:
        child = 2 * position + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= value:
            break
        heap[position] = heap[child]
        position = child
    heap[position] = value


@numba.njit(**_JIT)
def kth_largest(values, k):  # pragma: no cover - compiled
    """The k-th largest value in one pass with a size-k min-heap: O(n log k), no copy of n."""
    heap = values[:k].copy()
    for start in range(k // 2 - 1, -1, -1):
        _sift_down(heap, start, k)
    for i in range(k, values.shape[0]):
        value = values[i]
        if value > heap[0]:
            heap[0] = value
            _sift_down(heap, 0, k)
    return heap[0]


@numba.njit(**_JIT)
def split_at(values, threshold, above, equal):  # pragma: no cover - compiled
    """Indices of values above and equal to ``threshold``, in one pass.

    ``above`` receives every index with a larger value (there are fewer than its length
    when ``threshold`` is the k-th largest); ``equal`` receives the tied indices while
    they fit. Returns ``(n_above, n_equal)``; ``n_equal > len(equal)`` means the ties
    overflowed and the caller must collect them itself.
    """
    n_above = 0
    n_equal = 0
    capacity = equal.shape[0]
    for i in range(values.shape[0]):
        value = values[i]
        if value > threshold:
            above[n_above] = i
            n_above += 1
        elif value == threshold:
            if n_equal < capacity:
                equal[n_equal] = i
            n_equal += 1
    return n_above, n_equal
