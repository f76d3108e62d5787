r"""Sub-sequence and token queries: the most uncertain spans of the pool under a budget.

Radmard, Fathullah & Lipani (2021) observed that in a sentence chosen for its
uncertainty most tokens are easy, so asking for the whole sentence wastes effort; they
query the most uncertain *sub-sequences* instead and let the model fill in the rest of
the sentence. :func:`select_spans` implements that query: every window of
``min_length..max_length`` unlabelled tokens inside a sentence is scored by the mean of
its tokens' utilities (length-normalised, as MNLP normalises a sentence), and windows
are taken best first, never overlapping each other or a labelled token, until the
round's budget is spent. Single-token queries are windows of length 1.

All windows of all lengths are scored at once from cumulative sums over the pool's
tokens; only the greedy pass over the best candidates is a Python loop, and it stops as
soon as the budget is spent.
"""

from __future__ import annotations

import numpy as np

from activelab._validation import RandomStateLike, check_random_state
from activelab.sequence._ragged import Ragged

__all__ = ["select_spans"]


def select_spans(
    token_utilities: Ragged,
    budget: float,
    min_length: int = 1,
    max_length: int = 1,
    labelled: Ragged | None = None,
    cost_per_query: float = 0.0,
    cost_per_token: float = 1.0,
    random_state: RandomStateLike = None,
) -> list[tuple[int, int, int]]:
    """The most uncertain non-overlapping spans whose total cost reaches ``budget``.

    Parameters
    ----------
    token_utilities : Ragged of shape (n_tokens,)
        Per-token utility (higher = more informative), e.g.
        :meth:`TaggerStrategy.token_utilities`.
    budget : float
        Spans are added, best first, until their total cost is at least ``budget`` (the
        last one may overshoot) or no window is left.
    min_length, max_length : int
        Span lengths considered; a stretch of unlabelled tokens shorter than
        ``min_length`` is offered whole (see Notes).
    labelled : Ragged of bool, shape (n_tokens,), optional
        Tokens already labelled; no span covers one.
    cost_per_query, cost_per_token : float
        A span of ``l`` tokens costs ``cost_per_query + cost_per_token · l`` (tokens:
        0 and 1; queries: 1 and 0; seconds: a fitted :class:`CostModel`).
    random_state : int, Generator or None
        Breaks ties between equal scores at random.

    Returns
    -------
    list of (sentence, start, end)
        Best first; ``end`` exclusive.

    Notes
    -----
    Windows never cross sentence boundaries or labelled tokens; a run of unlabelled
    tokens shorter than ``min_length`` is offered as one window of its own length, so
    every unlabelled token stays reachable. When the best windows are exhausted before
    the budget is (every other window overlaps a pick), the free runs are recomputed
    and another pass offers what the picks left, short stretches included.

    References
    ----------
    Radmard, Fathullah & Lipani (2021), "Subsequence based deep active learning for
    named entity recognition", ACL-IJCNLP.

    Examples
    --------
    >>> u = Ragged.from_list([[0.1, 0.9, 0.8, 0.1], [0.2, 0.3]])
    >>> select_spans(u, budget=2, min_length=2, max_length=2, random_state=0)
    [(0, 1, 3)]
    """
    values = np.asarray(token_utilities.values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"token utilities must have one value per token; got {values.shape}.")
    if not np.isfinite(values).all():
        raise ValueError("token utilities must be finite.")
    min_length, max_length = int(min_length), int(max_length)
    if min_length < 1 or max_length < min_length:
        raise ValueError(
            f"span lengths need 1 <= min_length <= max_length; got {min_length}, {max_length}."
        )
    if cost_per_query < 0 or cost_per_token < 0 or cost_per_query + cost_per_token <= 0:
        raise ValueError("span costs must be non-negative and not both zero.")
    rng = check_random_state(random_state)
    n = values.shape[0]
    taken_mask = np.zeros(n, dtype=bool)
    if labelled is not None:
        mask = np.asarray(labelled.values, dtype=bool)
        if mask.shape != (n,):
            raise ValueError("labelled needs one flag per token of the same sentences.")
        taken_mask |= mask
    sentence = token_utilities.sentence_ids()
    chosen: list[tuple[int, int, int]] = []
    spent = 0.0
    while spent < budget:
        # A pick can leave a stretch shorter than min_length between itself and a
        # labelled token; the next pass offers such stretches whole.
        found, cost = _greedy_pass(
            values,
            sentence,
            token_utilities.offsets,
            taken_mask,
            budget - spent,
            min_length,
            max_length,
            cost_per_query,
            cost_per_token,
            rng,
        )
        if not found:
            break
        chosen += found
        spent += cost
    return chosen


def _greedy_pass(
    values: np.ndarray,
    sentence: np.ndarray,
    offsets: np.ndarray,
    taken_mask: np.ndarray,
    budget: float,
    min_length: int,
    max_length: int,
    cost_per_query: float,
    cost_per_token: float,
    rng: np.random.Generator,
) -> tuple[list[tuple[int, int, int]], float]:
    """Best windows first among the current free runs; updates ``taken_mask``."""
    n = values.shape[0]
    # Runs of unlabelled tokens: a window must lie inside one run.
    run_start = np.ones(n, dtype=bool)
    if n:
        run_start[1:] = (sentence[1:] != sentence[:-1]) | taken_mask[:-1]
    run_id = np.cumsum(run_start) - 1
    run_first = np.flatnonzero(run_start)
    run_length = np.bincount(run_id, weights=~taken_mask, minlength=run_first.shape[0])
    run_length = run_length.astype(np.int64)
    free = ~taken_mask
    cumulative = np.concatenate([[0.0], np.cumsum(np.where(free, values, 0.0))])
    cumulative_free = np.concatenate([[0], np.cumsum(free)])
    starts, lengths, means = [], [], []
    for length in range(min_length, max_length + 1):
        first = np.arange(max(n - length + 1, 0))
        last = first + length - 1
        ok = (run_id[first] == run_id[last]) & (
            cumulative_free[last + 1] - cumulative_free[first] == length
        )
        first = first[ok]
        starts.append(first)
        lengths.append(np.full(first.shape[0], length))
        means.append((cumulative[first + length] - cumulative[first]) / length)
    # Runs shorter than min_length: one window covering the whole run.
    short = np.flatnonzero((run_length > 0) & (run_length < min_length))
    if short.size:
        first = run_first[short]
        size = run_length[short]
        starts.append(first)
        lengths.append(size)
        means.append((cumulative[first + size] - cumulative[first]) / size)
    start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    length = np.concatenate(lengths).astype(np.int64) if lengths else np.zeros(0, np.int64)
    mean = np.concatenate(means) if means else np.zeros(0)
    keys = rng.random(mean.shape[0])
    # The greedy pass reads candidates best first; sort only as many as it is likely to
    # need (each pick can block the windows around it), and the rest if it runs out.
    n_spans = int(np.ceil(budget / (cost_per_query + cost_per_token * min_length))) + 1
    head = min(mean.shape[0], max(4096, 16 * n_spans * max_length * (max_length - min_length + 1)))
    if head < mean.shape[0]:
        top = np.argpartition(-mean, head - 1)[:head]
        threshold = mean[top].min()
        top = np.flatnonzero(mean >= threshold)  # keep every tie of the cut-off score
    else:
        top = np.arange(mean.shape[0])
    chosen: list[tuple[int, int, int]] = []
    spent = 0.0
    for batch in (top, None):
        if batch is None:
            if spent >= budget or top.shape[0] == mean.shape[0]:
                break
            batch = np.setdiff1d(np.arange(mean.shape[0]), top, assume_unique=True)
        order = batch[np.lexsort((keys[batch], -mean[batch]))]
        for index in order:
            if spent >= budget:
                break
            a = int(start[index])
            b = a + int(length[index])
            if taken_mask[a:b].any():
                continue
            taken_mask[a:b] = True
            s = int(sentence[a])
            chosen.append((s, a - int(offsets[s]), b - int(offsets[s])))
            spent += cost_per_query + cost_per_token * (b - a)
    return chosen, spent
