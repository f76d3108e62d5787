"""FALCUN: uncertainty plus diversity in class-probability space, sampled item by item.

Each pick is one fused pass over the ``(n, C)`` probabilities in compiled kernels, split
over threads for large pools (:func:`activelab._parallel.map_row_blocks`).
"""

from __future__ import annotations

from typing import ClassVar

import numba
import numpy as np

from activelab import scores
from activelab._parallel import map_row_blocks
from activelab._validation import check_number, check_probabilities
from activelab.strategies._base import Strategy

__all__ = ["Falcun"]

_JIT = {"cache": True, "nogil": True}


class Falcun(Strategy):
    r"""FALCUN: uncertainty plus diversity in class-probability space, sampled item by item.

    With :math:`u(x) = 1 - (p_{1}(x) - p_{2}(x))` the margin uncertainty and
    :math:`d(x)` a diversity term initialised to :math:`u(x)`, each of the ``k`` picks

    1. (after the first pick :math:`q`) updates
       :math:`d(x) \leftarrow \min\left(d(x), \lVert p(x) - p(q) \rVert_1\right)` and
       min-max normalises :math:`d` to ``[0, 1]`` over the pool,
    2. draws the next item with probability
       :math:`\propto (u(x) + d(x))^{\gamma}` among the items not yet picked
       (uniformly if every relevance is zero).

    ``gamma = 0`` is random sampling; large ``gamma`` approaches the arg-max. This is the
    definition of scikit-activeml's ``Falcun`` (Eqs. 1–6 of the paper), including that
    the running minimum is taken between the new raw L1 distance and the previously
    normalised distances. With the same random stream (one uniform number per pick) our
    picks equal theirs. Each pick is one fused pass over the ``(n, C)`` probabilities in
    a compiled kernel (split over threads for large pools); integer ``gamma`` is
    computed by repeated squaring instead of ``pow``. Where ``(u + d)^γ`` would under-
    or overflow float64 (very large ``gamma``), the relevances are rescaled by the
    largest one first, which leaves the distribution unchanged.

    Parameters
    ----------
    gamma : float, default=10
        Sharpness of the draw, ``>= 0``.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the items in the order they were drawn.

    References
    ----------
    Gilhuber, Beer, Ma & Seidl (2024), "FALCUN: A simple and efficient deep active
    learning strategy", ECML PKDD, pp. 421–439.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [0.5], [1.0], [1.5], [2.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1, 1])
    >>> Falcun(gamma=5).query(model, X, 3, random_state=0).shape
    (3,)
    """

    name: ClassVar[str] = "falcun"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)
    summary: ClassVar[str] = "margin + L1 diversity in probability space, sampled ∝ relevance^γ"
    reference: ClassVar[str] = "Gilhuber et al. 2024 (ECML PKDD)"

    def __init__(self, gamma: float = 10.0) -> None:
        self.gamma = gamma

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        gamma = check_number(self.gamma, "gamma", self.name, 0.0)
        proba = np.ascontiguousarray(check_probabilities(model.predict_proba(X_pool), self.name))
        return falcun_select(proba, k, gamma, rng)


def falcun_select(proba: np.ndarray, k: int, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """FALCUN's ``k`` draws from validated probabilities (see :class:`Falcun`).

    Parameters
    ----------
    proba : array of shape (n, C), float64, C-contiguous
    k : int
    gamma : float
    rng : numpy.random.Generator
        One ``rng.random()`` per pick.

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        In order of the draws.
    """
    n = proba.shape[0]
    uncertainty = scores.margin(proba)
    distances = uncertainty.copy()
    relevance = np.empty(n)
    taken = np.zeros(n, dtype=np.bool_)
    integer = int(gamma) if float(gamma).is_integer() and gamma <= 4096 else -1
    picks = np.empty(k, dtype=np.int64)

    def relevance_blocks(low: float, span: float, scale: float) -> list[tuple]:
        """Relevance of every row in row blocks: ``(total, largest, start, stop)`` each."""

        def block(start: int, stop: int) -> tuple:
            total, largest = _falcun_relevance(
                uncertainty,
                distances,
                taken,
                low,
                span,
                gamma,
                integer,
                scale,
                relevance,
                start,
                stop,
            )
            return total, largest, start, stop

        return map_row_blocks(block, n)

    def distance_bounds(query: np.ndarray) -> tuple[float, float]:
        bounds = map_row_blocks(
            lambda start, stop: _falcun_distances(proba, query, distances, start, stop), n
        )
        return min(b[0] for b in bounds), max(b[1] for b in bounds)

    for position in range(k):
        low, span = 0.0, -1.0  # the first pick sees d = u, not normalised
        if position > 0:
            low, high = distance_bounds(proba[picks[position - 1]])
            span = high - low
        blocks = relevance_blocks(low, span, 1.0)
        total = sum(b[0] for b in blocks)
        if not 0.0 < total < np.inf:
            # under- or overflow of (u + d)^γ: rescale by the largest u + d (the same
            # distribution), or draw uniformly when every relevance is zero
            largest = max(b[1] for b in blocks)
            blocks = relevance_blocks(0.0, -1.0, 1.0 / largest if largest > 0.0 else 0.0)
            total = sum(b[0] for b in blocks)
        chosen = _locate(relevance, blocks, rng.random() * total)
        picks[position] = chosen
        taken[chosen] = True
    return picks


def _locate(relevance: np.ndarray, blocks: list[tuple], target: float) -> int:
    """The row where the running relevance first exceeds ``target`` (inverse-CDF draw)."""
    running = 0.0
    last = -1
    for total, _, start, stop in blocks:
        if total > 0.0:
            if running + total > target:
                row = _draw_in_block(relevance, target - running, start, stop)
                if row >= 0:
                    return int(row)
            last = int(_draw_in_block(relevance, np.inf, start, stop))
        running += total
    return last  # rounding put the target past the end: the last row that can be drawn


@numba.njit(**_JIT)
def _falcun_distances(proba, query, distances, start, stop):  # pragma: no cover - compiled
    """``d_i = min(d_i, ‖p_i − p_q‖₁)`` on rows ``start:stop``; returns their min and max."""
    low = np.inf
    high = -np.inf
    for i in range(start, stop):
        total = 0.0
        for c in range(proba.shape[1]):
            total += abs(proba[i, c] - query[c])
        if total < distances[i]:
            distances[i] = total
        low = min(low, distances[i])
        high = max(high, distances[i])
    return low, high


@numba.njit(**_JIT)
def _power(value, gamma, integer):  # pragma: no cover - compiled
    if integer < 0:
        return value**gamma
    result = 1.0
    base = value
    exponent = integer
    while exponent > 0:
        if exponent & 1:
            result *= base
        base *= base
        exponent >>= 1
    return result


@numba.njit(**_JIT)
def _falcun_relevance(  # pragma: no cover - compiled
    uncertainty, distances, taken, low, span, gamma, integer, scale, relevance, start, stop
):
    """Relevance ``((u_i + d_i) · scale)^γ`` of rows ``start:stop``, 0 for taken rows.

    With ``span >= 0`` the distances are first min-max normalised in place,
    ``d_i ← (d_i − low) / span`` (no division when ``span == 0``). ``scale == 0`` means
    uniform: relevance 1 for every untaken row. Returns the rows' total relevance and
    the largest ``u_i + d_i`` among untaken rows.
    """
    total = 0.0
    largest = 0.0
    for i in range(start, stop):
        if span >= 0.0:
            distances[i] -= low
            if span > 0.0:
                distances[i] /= span
        if taken[i]:
            relevance[i] = 0.0
            continue
        value = uncertainty[i] + distances[i]
        largest = max(largest, value)
        if scale == 0.0:
            relevance[i] = 1.0
        else:
            relevance[i] = _power(value * scale, gamma, integer)
        total += relevance[i]
    return total, largest


@numba.njit(**_JIT)
def _draw_in_block(relevance, target, start, stop):  # pragma: no cover - compiled
    """First row whose running relevance exceeds ``target``; the last positive row if none."""
    running = 0.0
    last = -1
    for i in range(start, stop):
        if relevance[i] > 0.0:
            running += relevance[i]
            last = i
            if running > target:
                return i
    return last
