r"""BatchBALD: greedy batch selection by joint mutual information (Kirsch et al. 2019).

The public function is :func:`batchbald_greedy` (re-exported by :mod:`activelab.select`).

How it is computed
------------------
Write ``p_j(y | x)`` for member (posterior draw) ``j`` of ``m``, ``S`` for the items
picked so far and ``y_S`` for a configuration of their labels. Greedy BatchBALD adds the
item with the largest marginal gain

.. math:: \Delta(x \mid S) = I(y_S, y_x; \omega) - I(y_S; \omega)
    = H(y_x \mid y_S) - \frac1m \sum_j H[p_j(\cdot \mid x)].

With ``w(j | y_S)`` the posterior over members given a configuration and
``r(. | y_S, x) = sum_j w(j | y_S) p_j(. | x)``,

.. math:: H(y_x \mid y_S) = \sum_{y_S} p(y_S)\, H[r(\cdot \mid y_S, x)].

A *table* holds one row per configuration: its posterior ``w`` (float32, rows sum to
one) and its weight ``p(y_S)``. The term for a block of candidates is one BLAS product
``W @ P_x`` of shape ``(rows, m) x (m, candidates * C)``, numpy's SIMD ``log``, and a
compiled weighted ``r log r`` sum in float64. Normalised posteriors (rather than joint
probabilities, which are products of ``b`` probabilities) keep long batches free of
underflow.

*Exact table*: every configuration with non-zero probability, extended by one item at
a time, while their number fits ``n_joint_samples`` (memory: ``n_joint_samples * m``
floats). *Sampled table*: ``n_joint_samples`` configurations drawn from the members
(stratified: member ``j`` draws ``n_joint_samples / m`` of them), weighted by importance
``q(y_S) / q~(y_S)`` where ``q~`` is the stratified proposal; equal draws are merged.
This is batchbald-redux's importance-sampled estimator, except that the draws are
extended by one label per pick (common random numbers) instead of redrawn.

Why it is fast: bounds
----------------------
Entropy is concave, so merging rows of a table (adding their weights, averaging their
posteriors) can only raise :math:`\sum p\, H[r]` (Jensen): a coarse table of merged rows
gives an upper bound on every candidate's gain at a fraction of the cost. The bound is
tight when the merged posteriors are alike, so rows are merged by their most likely
member, how concentrated the posterior is on it, and the runner-up (see
:func:`_coarse_tables`). On the exact path, a candidate's earlier gains are bounds too
(the table of a step refines the previous one: submodularity). Each pick refines bounds
best-first, one level at a time, until the best exact value beats every remaining
bound: the pick is the one a full evaluation of every candidate would make. With 10,000
items, 20 members, 10 classes and ``k = 10``, this evaluates 2.9e8 table entries instead
of 6.1e9.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from activelab import _kernels
from activelab._parallel import n_threads
from activelab._validation import RandomStateLike, check_k, check_random_state
from activelab.scores import _per_item, _samples

__all__ = ["batchbald_greedy"]

_JIT = {"cache": True, "nogil": True}

#: Gains within this many nats of the best are ties, broken at random. Products and logs in
#: float32 with float64 sums give gains good to about 1e-8 nats (measured against float64).
TIE_TOLERANCE = 1e-7
#: Elements (float32) of one ``rows x (candidates * C)`` working block: two such blocks
#: (values and logs) stay in a core's L2 cache.
_BLOCK_ELEMENTS = 1 << 17
#: Columns (candidates x classes) of one working block: at least the first (for an
#: efficient product), more for small tables (fewer, larger tasks), at most the second.
_CHUNK_COLUMNS = (2048, 16384)
#: Below this many element operations a gains call runs in the calling thread.
_PARALLEL_ELEMENTS = 1 << 20
#: Element operations per bound-refinement round: sets how many candidates one round
#: evaluates at a level (more per round for cheap coarse tables, fewer for the full one).
_ROUND_ELEMENTS = 1 << 23
#: Coarse tables are built when the full one has at least this many rows.
_MIN_ROWS_FOR_COARSE = 256


@numba.njit(**_JIT)
def weighted_xlogx(values, logs, weights, out):  # pragma: no cover - compiled
    """``out[c] += sum_r weights[r] * values[r, c] * logs[r, c]``, with ``0 log 0 = 0``."""
    rows, cols = values.shape
    for r in range(rows):
        weight = weights[r]
        for c in range(cols):
            value = values[r, c]
            term = np.float64(value) * np.float64(logs[r, c])
            out[c] += weight * (term if value > 0.0 else 0.0)


@numba.njit(**_JIT)
def draw_labels(proba, members, uniforms, out):  # pragma: no cover - compiled
    """Label of each sample drawn from its member's row: ``proba`` is ``(m, C)``."""
    n_classes = proba.shape[1]
    for s in range(members.shape[0]):
        row = members[s]
        target = uniforms[s]
        cumulative = 0.0
        label = -1
        last_positive = 0
        for c in range(n_classes):
            value = proba[row, c]
            if value > 0.0:
                last_positive = c
                cumulative += value
                if target < cumulative:
                    label = c
                    break
        out[s] = label if label >= 0 else last_positive  # rounding: u >= sum(row)


# --------------------------------------------------------------------------- tables


class _Table:
    """Configurations of the chosen points' labels: posterior rows and weights.

    ``posteriors`` is ``(rows, m)`` float32 (rows sum to one), ``weights`` ``(rows,)``
    float64 with ``sum(weights * H[posteriors @ P_x])`` estimating :math:`H(y_x | y_S)`.
    """

    __slots__ = ("posteriors", "weights")

    def __init__(self, posteriors: np.ndarray, weights: np.ndarray) -> None:
        self.posteriors = np.ascontiguousarray(posteriors, dtype=np.float32)
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)

    @property
    def rows(self) -> int:
        return self.weights.shape[0]


def _entropy_terms(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BALD and the members' mean entropy ``mean_j H[p_j(. | x)]`` of every item (float64).

    numpy's vectorised log on cache-sized blocks of items (several times faster than a
    scalar log in a compiled loop), blocks on threads; ``0 log 0 = 0``.
    """
    n_members, n, n_classes = proba.shape
    bald = np.empty(n)
    member = np.empty(n)
    step = max(1, (1 << 15) // (n_members * n_classes))

    def blocks(span: tuple[int, int]) -> None:
        logs = np.empty((n_members, step, n_classes))
        mean_logs = np.empty((step, n_classes))
        for start in range(span[0], span[1], step):
            block = np.asarray(proba[:, start : min(start + step, span[1]), :], dtype=np.float64)
            size = block.shape[1]
            block_logs, block_mean_logs = logs[:, :size], mean_logs[:size]
            np.log(np.maximum(block, 1e-300, out=block_logs), out=block_logs)
            member_entropy = np.einsum("mnc,mnc->n", block, block_logs) / -n_members
            mean = block.mean(axis=0)
            np.log(np.maximum(mean, 1e-300, out=block_mean_logs), out=block_mean_logs)
            entropy_of_mean = -np.einsum("nc,nc->n", mean, block_mean_logs)
            member[start : start + size] = member_entropy
            bald[start : start + size] = entropy_of_mean - member_entropy

    parts = n_threads() if proba.size >= _PARALLEL_ELEMENTS else 1
    bounds = [n * part // parts for part in range(parts + 1)]
    _map(blocks, list(itertools.pairwise(bounds)))
    return bald, member


def _softmax_rows(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior over members per row and ``log sum_j J_j`` (rows with all -inf excluded)."""
    peak = log_joint.max(axis=1, keepdims=True)
    posterior = np.exp(log_joint - peak)
    total = posterior.sum(axis=1, keepdims=True)
    posterior /= total
    return posterior, (np.log(total) + peak)[:, 0]


def _coarse_tables(posteriors: np.ndarray, weights: np.ndarray) -> list[_Table]:
    """Coarser tables whose rows merge the full table's rows: upper bounds by Jensen.

    The bound is tight when the merged posteriors are alike, so rows are grouped by their
    most likely member, then by how concentrated the posterior is on it (16 buckets of
    ``log(1 - w_max)``), then by the second most likely member and the share it has of
    the rest (4 buckets); each level refines the one before, while it has at most half
    the full table's rows.
    """
    rows, n_members = posteriors.shape
    if rows < _MIN_ROWS_FOR_COARSE or n_members < 2:
        return []
    top = np.argpartition(-posteriors, 1, axis=1)[:, :2]
    top_weights = np.take_along_axis(posteriors, top, axis=1)
    swap = top_weights[:, 1] > top_weights[:, 0]
    top[swap] = top[swap, ::-1]
    top_weights[swap] = top_weights[swap, ::-1]
    rest = np.maximum(1.0 - top_weights[:, 0], 0.0)
    edges = np.linspace(math.log(1e-6), math.log(1.0 - 1.0 / n_members), 15)
    concentration = np.digitize(np.log(np.maximum(rest, 1e-300)), edges)
    share = np.digitize(top_weights[:, 1] / np.maximum(rest, 1e-300), [0.25, 0.5, 0.75])
    keys = np.column_stack([top[:, 0], concentration, top[:, 1], share])
    order = np.lexsort(keys.T[::-1])
    keys, posteriors, weights = keys[order], posteriors[order], weights[order]
    weighted = posteriors * weights[:, None]
    tables: list[_Table] = []
    previous = 0
    change = np.zeros(rows - 1, dtype=bool)
    for depth in range(keys.shape[1]):
        change |= keys[1:, depth] != keys[:-1, depth]
        starts = np.concatenate([[0], np.flatnonzero(change) + 1])
        groups = starts.shape[0]
        if groups * 2 > rows:
            break
        if groups * 2 >= previous * 3:
            group_weights = np.add.reduceat(weights, starts)
            group_posteriors = np.add.reduceat(weighted, starts, axis=0)
            positive = group_weights > 0
            group_posteriors[positive] /= group_weights[positive, None]
            tables.append(_Table(group_posteriors, group_weights))
            previous = groups
    return tables


class _ExactJoint:
    """Every label configuration of the chosen points with non-zero probability."""

    def __init__(self, n_members: int) -> None:
        self.log_joint = np.zeros((1, n_members))  # log prod_i p_j(y_i | x_i), (rows, m)

    def extend(self, proba: np.ndarray, budget: int | None = None) -> bool:
        """Add a point with member probabilities ``proba`` ``(m, C)``.

        Returns False, and changes nothing, when the configurations with non-zero
        probability would be more than ``budget``. Only those are ever built: memory
        stays ``budget * m`` floats even with many classes.
        """
        rows = self.log_joint.shape[0]
        n_classes = proba.shape[1]
        with np.errstate(divide="ignore"):
            log_proba = np.log(proba.astype(np.float64))  # (m, C); log 0 = -inf
        if np.isfinite(log_proba).all() and np.isfinite(self.log_joint).all():
            if budget is not None and rows * n_classes > budget:
                return False
            parents = np.repeat(np.arange(rows), n_classes)
            classes = np.tile(np.arange(n_classes), rows)
        else:  # hard zeros: keep the pairs (row, class) that some member allows
            allowed = np.isfinite(log_proba).astype(np.float32)
            step = max(1, (1 << 20) // n_classes)
            found_parents, found_classes, count = [], [], 0
            for start in range(0, rows, step):
                support = np.isfinite(self.log_joint[start : start + step]).astype(np.float32)
                parent, label = np.nonzero(support @ allowed)
                count += parent.shape[0]
                if budget is not None and count > budget:
                    return False
                found_parents.append(parent + start)
                found_classes.append(label)
            parents, classes = np.concatenate(found_parents), np.concatenate(found_classes)
        self.log_joint = self.log_joint[parents] + log_proba.T[classes]
        return True

    def tables(self) -> list[_Table]:
        posteriors, log_total = _softmax_rows(self.log_joint)
        weights = np.exp(log_total - math.log(self.log_joint.shape[1]))
        return [*_coarse_tables(posteriors, weights), _Table(posteriors, weights)]

    def entropy(self) -> float:
        """Joint entropy of the chosen points' labels, :math:`-\\sum_y p(y) \\log p(y)`."""
        _, log_total = _softmax_rows(self.log_joint)
        log_p = log_total - math.log(self.log_joint.shape[1])
        return float(-(np.exp(log_p) * log_p).sum())


class _SampledJoint:
    """``n_samples`` label configurations drawn from the members (stratified).

    Each draw keeps its member and gets one more label per pick. ``config`` numbers the
    distinct configurations in lexicographic order of their labels, so equal draws merge.
    """

    def __init__(self, n_members: int, n_samples: int, rng: np.random.Generator) -> None:
        counts = np.full(n_members, n_samples // n_members, dtype=np.int64)
        counts[rng.choice(n_members, size=n_samples % n_members, replace=False)] += 1
        self.members = np.repeat(np.arange(n_members), counts)
        self.proposal = counts / n_samples  # pi_j: share of the draws from member j
        self.log_joint = np.zeros((n_samples, n_members))
        self.config = np.zeros(n_samples, dtype=np.int64)
        self.rng = rng

    def extend(self, proba: np.ndarray) -> None:
        proba = np.ascontiguousarray(proba, dtype=np.float64)
        drawn = np.empty(self.members.shape[0], dtype=np.int64)
        draw_labels(proba, self.members, self.rng.random(self.members.shape[0]), drawn)
        with np.errstate(divide="ignore"):
            self.log_joint += np.log(proba[:, drawn]).T
        _, self.config = np.unique(self.config * proba.shape[1] + drawn, return_inverse=True)

    def tables(self) -> list[_Table]:
        _, first, counts = np.unique(self.config, return_index=True, return_counts=True)
        posteriors, _ = _softmax_rows(self.log_joint[first])
        # Importance weight q(y) / q~(y): the members' mean over the stratified proposal's.
        ratio = (1.0 / posteriors.shape[1]) / (posteriors @ self.proposal)
        weights = counts / self.members.shape[0] * ratio
        return [*_coarse_tables(posteriors, weights), _Table(posteriors, weights)]

    def entropy(self) -> float:
        """Importance-sampled joint entropy, :math:`\\frac1M \\sum_s -\\log p(y_s)\\,
        p(y_s) / \\tilde q(y_s)` (unbiased)."""
        posteriors, log_total = _softmax_rows(self.log_joint)
        log_p = log_total - math.log(posteriors.shape[1])
        ratio = (1.0 / posteriors.shape[1]) / (posteriors @ self.proposal)
        return float((ratio * -log_p).mean())


# ---------------------------------------------------------------------- evaluation

_executor: ThreadPoolExecutor | None = None


_blas_controller: object | None = None


def _single_threaded_blas():
    """BLAS on one thread while we run: the products are small and run on our own threads.

    A multi-threaded BLAS wakes its workers for every small product and leaves them
    spinning while numpy takes the logs, which made each step several times slower. The
    controller (which inspects the loaded libraries, a few milliseconds) is made once.
    """
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
            return contextlib.nullcontext()
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def _map(function, items: list) -> list:
    """``[function(item) for item in items]``, on threads when there are several items."""
    threads = min(n_threads(), len(items))
    if threads <= 1:
        return [function(item) for item in items]
    global _executor
    if _executor is None or _executor._max_workers < threads:
        _executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="activelab-bb")
    return list(_executor.map(function, items))


class _Evaluator:
    """Gains of candidates on a table: ``H(y_x | y_S) - mean_j H[p_j(. | x)]``."""

    def __init__(self, proba: np.ndarray, member_entropies: np.ndarray) -> None:
        # (n, C, m) float32: a chunk of candidates is a block of whole rows, and
        # ``block.T`` is the ``(m, b * C)`` operand of the product, without a copy.
        self.proba_t = np.ascontiguousarray(proba.transpose(1, 2, 0), dtype=np.float32)
        self.member_entropies = member_entropies

    def gains(self, table: _Table, candidates: np.ndarray) -> np.ndarray:
        """Gains of ``candidates`` on ``table``.

        Work is cut into tasks of (a chunk of candidates) x (a block of table rows), each
        small enough for the L2 cache; tasks run on threads and their partial sums are
        added in a fixed order, so the result does not depend on the number of threads.
        A few chunks are in flight at a time, so memory stays bounded for any pool.
        """
        _, n_classes, _ = self.proba_t.shape
        fewest, most = _CHUNK_COLUMNS
        columns = min(most, max(fewest, _BLOCK_ELEMENTS // table.rows))
        per_chunk = max(1, columns // n_classes)
        parallel = table.rows * len(candidates) * n_classes >= _PARALLEL_ELEMENTS
        in_flight = 4 * n_threads() if parallel else 1
        terms = []
        group_size = per_chunk * in_flight
        for group in range(0, len(candidates), group_size):
            stop = min(group + group_size, len(candidates))
            chunks = [candidates[i : i + per_chunk] for i in range(group, stop, per_chunk)]
            blocks = [self._rows(chunk).T for chunk in chunks]
            tasks = []
            for number, block in enumerate(blocks):
                step = max(8, _BLOCK_ELEMENTS // block.shape[1])
                tasks.extend((number, start, start + step) for start in range(0, table.rows, step))

            def run(task: tuple[int, int, int], blocks: list = blocks) -> np.ndarray:
                number, start, stop = task
                values = table.posteriors[start:stop] @ blocks[number]
                logs = np.empty_like(values)
                with np.errstate(divide="ignore"):
                    np.log(values, out=logs)
                partial = np.zeros(values.shape[1])
                weighted_xlogx(values, logs, table.weights[start:stop], partial)
                return partial

            partials = _map(run, tasks) if parallel else [run(task) for task in tasks]
            sums = [np.zeros(block.shape[1]) for block in blocks]
            for (number, _, _), partial in zip(tasks, partials, strict=True):
                sums[number] += partial
            terms.extend(sums)
        term = -np.concatenate(terms).reshape(-1, n_classes).sum(axis=1)
        return term - self.member_entropies[candidates]

    def _rows(self, chunk: np.ndarray) -> np.ndarray:
        """``(b * C, m)`` probabilities of a chunk of candidates (a view when contiguous)."""
        n_members = self.proba_t.shape[2]
        if chunk[-1] - chunk[0] == chunk.shape[0] - 1 and (np.diff(chunk) == 1).all():
            return self.proba_t[chunk[0] : chunk[-1] + 1].reshape(-1, n_members)
        return self.proba_t[chunk].reshape(-1, n_members)


# ------------------------------------------------------------------------- selection


def _check_n_joint_samples(n_joint_samples: object) -> int:
    if isinstance(n_joint_samples, bool) or not isinstance(n_joint_samples, numbers.Integral):
        raise TypeError(
            "n_joint_samples must be an int (label configurations to sample once exact "
            f"enumeration is too large); got {type(n_joint_samples).__name__} "
            f"{n_joint_samples!r}."
        )
    if n_joint_samples < 1:
        raise ValueError(
            f"n_joint_samples must be at least 1; got {n_joint_samples}. The paper uses "
            "thousands (default 10_000)."
        )
    return int(n_joint_samples)


def _pick(values: np.ndarray, candidates: np.ndarray, rng: np.random.Generator) -> int:
    """The candidate with the largest value; values within TIE_TOLERANCE tie (random)."""
    best = values.max()
    tied = candidates[values >= best - TIE_TOLERANCE]
    return int(tied[0] if tied.shape[0] == 1 else rng.choice(tied))


def _lazy_step(
    evaluator: _Evaluator,
    tables: list[_Table],
    bound: np.ndarray,
    rng: np.random.Generator,
) -> int:
    """One greedy pick: refine upper bounds level by level, highest first.

    ``bound`` holds an upper bound on every candidate's gain (``-inf`` for chosen points,
    ``+inf`` when none is known) and is updated in place with the tightest value found:
    the gain itself for the candidates evaluated on the full table.
    """
    n_levels = len(tables)
    n_classes = evaluator.proba_t.shape[1]
    level = np.zeros(bound.shape[0], dtype=np.int64)  # 0: stale bound; n_levels: exact
    level[np.isneginf(bound)] = n_levels
    best = -np.inf
    margin = 2 * TIE_TOLERANCE
    while True:
        open_ = np.flatnonzero((level < n_levels) & (bound >= best - margin))
        if open_.shape[0] == 0:
            break
        # The highest bounds first, as many as fit a round's work: refining a candidate at
        # level lv costs rows(tables[lv]) * C.
        rows = np.array([table.rows for table in tables])
        size = max(1, _ROUND_ELEMENTS // max(1, int(rows[level[open_]].min()) * n_classes))
        if open_.shape[0] > size:
            open_ = open_[np.argpartition(-bound[open_], size - 1)[:size]]
        open_ = open_[np.argsort(-bound[open_], kind="stable")]
        cost = np.cumsum(rows[level[open_]] * n_classes)
        open_ = open_[: max(1, int(np.searchsorted(cost, _ROUND_ELEMENTS, side="right")))]
        levels = level[open_]
        for lv in np.unique(levels):
            chosen = open_[levels == lv]
            values = evaluator.gains(tables[lv], chosen)
            # Jensen: a finer table never exceeds a coarser one; keep the tighter value.
            bound[chosen] = np.minimum(bound[chosen], values) if lv < n_levels - 1 else values
            level[chosen] = lv + 1
            if lv == n_levels - 1:
                best = max(best, float(values.max()))
    exact = np.flatnonzero((level == n_levels) & ~np.isneginf(bound))
    return _pick(bound[exact], exact, rng)


def batchbald_greedy(
    samples: np.ndarray,
    k: int,
    n_joint_samples: int = 10_000,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    r"""BatchBALD: a batch with the most joint mutual information, chosen greedily.

    BALD scores points one by one, so a batch of its top scores is often full of
    near-copies. BatchBALD scores the batch as a whole: the mutual information between
    the labels of all its points and the model parameters,

    .. math:: I(y_1, \dots, y_b; \omega) = H(y_1, \dots, y_b)
        - \sum_{i=1}^{b} \mathbb{E}_{\omega} H(y_i \mid \omega),

    with the joint predictive
    :math:`p(y_1, \dots, y_b) = \frac1m \sum_j \prod_i p_j(y_i \mid x_i)` over the ``m``
    posterior draws :math:`p_j`. The batch grows one point at a time, adding the point
    :math:`x` with the largest gain :math:`I(y_{1..b}, y_x; \omega) - I(y_{1..b};
    \omega)` (the objective is submodular, so greedy is within :math:`1 - 1/e` of the
    best batch). The first pick is the BALD argmax. As in the paper, the labels of
    different pool items are independent given :math:`\omega`, even for exact copies: a
    copy of a chosen item adds :math:`I(y'; \omega \mid y_S)`, which is zero when the
    members are certain of their labels and never more than the copy's own BALD score
    (the batchbald-redux and scikit-activeml code computes the same).

    The joint entropy is exact (every label configuration of the chosen points with
    non-zero probability is enumerated) while those configurations number at most
    ``n_joint_samples``; beyond, it is estimated from ``n_joint_samples`` configurations
    drawn from the members, importance-weighted as in the paper's reference code
    (batchbald-redux). Candidates are evaluated lazily under exact upper bounds (earlier
    gains, and coarse merges of the configurations by Jensen's inequality), which gives
    the same picks as evaluating every candidate at every step.

    Parameters
    ----------
    samples : array of shape (m, n, C)
        Class probabilities of ``m`` posterior draws (MC dropout passes, ensemble or
        committee members) for the ``n`` pool items; rows sum to one.
    k : int
        Batch size, ``1 <= k <= n``.
    n_joint_samples : int, default=10_000
        Most label configurations enumerated exactly, and the number sampled once there
        are more (the estimate's cost and memory grow with it: ``n_joint_samples * m``
        floats).
    random_state : int, numpy.random.Generator or None
        Seeds the sampled configurations and the tie-breaking (gains within
        ``1e-7`` nats of the best tie and are drawn at random).

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        Unique indices into the pool, in pick order.

    Notes
    -----
    The sampled estimate draws configurations :math:`\hat y_s`, :math:`s = 1..M`, from
    the mixture :math:`\tilde q = \sum_j \pi_j \prod_i p_j(y_i \mid x_i)` of the
    members (:math:`\pi_j` the share of draws from member ``j``, :math:`1/m` when ``m``
    divides ``M``) and estimates, without bias,

    .. math:: \hat H(y_S, y_x) = \frac1M \sum_{s=1}^{M} \frac{-\sum_c p(\hat y_s, c)
        \log p(\hat y_s, c)}{\tilde q(\hat y_s)}.

    Differences from batchbald-redux and scikit-activeml (which port its code): the
    exact path enumerates only configurations of non-zero probability, so it stays exact
    longer when members give hard zeros (forests); once sampling, the draws are extended
    by one label per pick rather than redrawn; draws are stratified over the members
    for any ``n_joint_samples`` (redux draws ``n_joint_samples // m`` per member and drops
    the remainder); ties are broken at random, not by index; scikit-activeml clips
    probabilities at ``1e-7`` first, we do not. The products run in float32 with float64
    sums. Where both are exact and nothing ties, the picks are the peers' (checked by
    ``benchmarks/bench_batchbald.py``). Baal's ``BatchBALD`` samples from the second
    pick on, even when enumeration is cheap.

    References
    ----------
    Kirsch, van Amersfoort & Gal (2019), "BatchBALD: Efficient and diverse batch
    acquisition for deep Bayesian active learning", NeurIPS.
    Houlsby, Huszár, Ghahramani & Lengyel (2011), "Bayesian active learning for
    classification and preference learning", arXiv:1112.5745.

    Examples
    --------
    Items 0 and 1 are copies (BALD ties them, and would take both); item 2 splits the
    members the other way:

    >>> import numpy as np
    >>> members = np.array([[[1.0, 0.0], [1.0, 0.0], [0.9, 0.1]],
    ...                     [[1.0, 0.0], [1.0, 0.0], [0.1, 0.9]],
    ...                     [[0.0, 1.0], [0.0, 1.0], [0.9, 0.1]],
    ...                     [[0.0, 1.0], [0.0, 1.0], [0.1, 0.9]]])
    >>> batchbald_greedy(members, 2, random_state=0)
    array([1, 2])
    """
    proba = _samples(samples, "batchbald_greedy")
    k = check_k(k, proba.shape[1])
    n_joint_samples = _check_n_joint_samples(n_joint_samples)
    rng = check_random_state(random_state)
    with _single_threaded_blas():
        return _greedy(proba, k, n_joint_samples, rng)


def _bald_argmax(proba: np.ndarray, bald: np.ndarray, rng: np.random.Generator) -> int:
    """The argmax of :func:`activelab.scores.bald`, exact ties broken at random.

    ``bald`` (from numpy's fast log) is within 1e-12 of the scores kernel, which is
    re-run on the items within 1e-9 of the best only.
    """
    near = np.flatnonzero(bald >= bald.max() - 1e-9)
    exact = _per_item(_kernels.mutual_information, np.ascontiguousarray(proba[:, near, :]))
    tied = near[exact == exact.max()]  # exact ties, as select.top_k breaks them
    return int(tied[0] if tied.shape[0] == 1 else rng.choice(tied))


def _greedy(
    proba: np.ndarray, k: int, n_joint_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """The greedy loop on validated ``(m, n, C)`` probabilities."""
    n_members = proba.shape[0]
    bald, member_entropies = _entropy_terms(proba)
    first = _bald_argmax(proba, bald, rng)
    picks = [first]
    if k == 1:
        return np.array(picks, dtype=np.int64)
    evaluator = _Evaluator(proba, member_entropies)
    bound = bald.copy()
    bound[first] = -np.inf
    joint: _ExactJoint | _SampledJoint = _ExactJoint(n_members)
    for _ in range(1, k):
        point = proba[:, picks[-1], :]
        if isinstance(joint, _SampledJoint):
            joint.extend(point)
        elif not joint.extend(point, n_joint_samples):  # too many configurations: sample
            joint = _SampledJoint(n_members, n_joint_samples, rng)
            for chosen in picks:
                joint.extend(proba[:, chosen, :])
        if isinstance(joint, _SampledJoint):
            # Earlier values bound the true gain, not this step's estimate: start afresh.
            bound[~np.isneginf(bound)] = np.inf
        pick = _lazy_step(evaluator, joint.tables(), bound, rng)
        picks.append(pick)
        bound[pick] = -np.inf
    return np.array(picks, dtype=np.int64)


def _joint(
    proba: np.ndarray, points: list[int], n_joint_samples: int | None, random_state: RandomStateLike
) -> _ExactJoint | _SampledJoint:
    """The exact (``n_joint_samples=None``) or sampled joint of ``points``' labels."""
    if n_joint_samples is None:
        joint: _ExactJoint | _SampledJoint = _ExactJoint(proba.shape[0])
    else:
        joint = _SampledJoint(proba.shape[0], n_joint_samples, check_random_state(random_state))
    for point in points:
        joint.extend(proba[:, point, :])
    return joint


def _joint_entropy(
    samples: np.ndarray,
    points: list[int],
    n_joint_samples: int | None = None,
    random_state: RandomStateLike = None,
) -> float:
    """Joint entropy of the labels of ``points``: exact, or estimated from samples (testing)."""
    proba = _samples(samples, "batchbald_greedy")
    return _joint(proba, points, n_joint_samples, random_state).entropy()


def _joint_gains(
    samples: np.ndarray,
    chosen: list[int],
    candidates: np.ndarray,
    n_joint_samples: int | None = None,
    random_state: RandomStateLike = None,
    level: int = -1,
) -> np.ndarray:
    """Marginal gains of ``candidates`` given ``chosen`` (testing aid).

    Exact when ``n_joint_samples`` is None, else from that many sampled configurations;
    ``level`` picks a coarse table (an upper bound) instead of the full one (-1).
    """
    proba = _samples(samples, "batchbald_greedy")
    _, member_entropies = _entropy_terms(proba)
    tables = _joint(proba, chosen, n_joint_samples, random_state).tables()
    evaluator = _Evaluator(proba, member_entropies)
    with _single_threaded_blas():
        return evaluator.gains(tables[level], np.asarray(candidates, dtype=np.int64))
