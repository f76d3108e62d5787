"""MaxHerding: greedy maximisation of the Gaussian-kernel ("generalized") coverage."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from activelab._distances import (
    block_rows,
    centred,
    nearest_centres,
    squared_distances,
    squared_norms,
)
from activelab._diversity import argmax_random
from activelab.strategies._base import Strategy, embeddings

__all__ = ["MaxHerding"]


class MaxHerding(Strategy):
    r"""MaxHerding: greedy maximisation of the kernel ("generalized") coverage.

    The generalized coverage of a labeled set :math:`L` over the pool is

    .. math::
        C_k(L) = \frac{1}{N} \sum_{j=1}^{N} \max_{x \in L} k(z_j, x),
        \qquad k(z, z') = \exp(-\gamma \lVert z - z' \rVert^2),

    and MaxHerding adds, one at a time, the pool item with the largest gain
    :math:`\sum_j \max(k(z_j, z_c) - m_j, 0)`, where :math:`m_j = \max_{x \in L} k(z_j, x)`
    is item j's current coverage (0 before any label). ProbCover is the special case of
    a top-hat kernel. Before any label the first pick is the kernel-density mode.

    Parameters
    ----------
    gamma : float or None, default=None
        Kernel width :math:`\gamma = 1 / (2\sigma^2)`; None means ``1 / n_features``
        (scikit-learn's RBF default, which scikit-activeml uses).
    normalize : bool, default=True
        Scale each embedding to unit length first (as scikit-activeml does), so the
        default γ suits embeddings of any scale.

    Returns
    -------
    :meth:`query` returns ``k`` unique int64 pool indices in greedy order.

    Notes
    -----
    Nothing ``N × N`` is stored. The gains are computed once in blocks, then kept up to
    date: a new pick ``s`` changes only the terms of the items it now covers best
    (``k(z_j, z_s) > m_j``, its "Voronoi cell" among the picks), so a step costs a block
    pass over those items only: about ``2 + ln k`` passes of ``N²·d`` for a batch of
    ``k``, instead of ``k``. Kernel values are float32, gains float64. scikit-activeml's
    ``MaxHerding`` computes the same utilities from a dense ``N × N`` float64 kernel
    matrix; the picks agree unless two gains tie (exact ties occur by symmetry, e.g. for
    an isolated pair of items; each library breaks them at random).

    References
    ----------
    Bae, Noh & Sutherland (2024), "Generalized coverage for more robust low-budget active
    learning", ECCV. (Greedy kernel herding of Chen, Welling & Smola 2010 on the coverage
    objective; Bae et al. 2025, "Uncertainty herding", weight it by uncertainty.)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.99, 0.1], [0.0, 1.0], [0.1, 0.99], [0.05, 1.0]])
    >>> sorted((MaxHerding(gamma=5.0).query(None, X, 2, random_state=0) >= 2).tolist())
    [False, True]
    """

    name: ClassVar[str] = "maxherding"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "greedy max of Gaussian-kernel coverage (kernel herding)"
    reference: ClassVar[str] = "Bae, Noh & Sutherland 2024"

    def __init__(self, gamma: float | None = None, normalize: bool = True) -> None:
        self.gamma = gamma
        self.normalize = normalize

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        pool, labeled = centred(
            *embeddings(model, X_pool, X_labeled, self.name, dtype=None), normalize=self.normalize
        )
        gamma = 1.0 / pool.shape[1] if self.gamma is None else float(self.gamma)
        if not (math.isfinite(gamma) and gamma > 0):
            raise ValueError(f"maxherding: gamma must be a positive number; got {self.gamma!r}.")
        return _max_herding(pool, labeled, k, np.float32(gamma), rng)


def _kernel_block(rows, rows_sq, Z, Z_sq, gamma) -> np.ndarray:
    """``exp(−γ |r − z|²)`` for a block of rows against all of Z, float32."""
    block = squared_distances(rows, rows_sq, Z, Z_sq)
    block *= -gamma
    return np.exp(block, out=block)


def _max_herding(
    Z: np.ndarray,
    labeled: np.ndarray | None,
    k: int,
    gamma: np.float32,
    rng: np.random.Generator,
) -> np.ndarray:
    n = Z.shape[0]
    Z_sq = squared_norms(Z)
    coverage = np.zeros(n, dtype=np.float32)  # m_j
    if labeled is not None:
        coverage = np.exp(-gamma * nearest_centres(Z, Z_sq, labeled)[1])
    gains = np.zeros(n, dtype=np.float64)
    rows = block_rows(n)
    for start in range(0, n, rows):  # gains_c = sum_j max(K_jc - m_j, 0)
        stop = min(start + rows, n)
        block = _kernel_block(Z[start:stop], Z_sq[start:stop], Z, Z_sq, gamma)
        block -= coverage[start:stop, None]
        np.maximum(block, 0.0, out=block)
        gains += block.sum(axis=0, dtype=np.float64)
    picks = np.empty(k, dtype=np.int64)
    available = np.ones(n, dtype=np.bool_)
    for step in range(k):
        pick = argmax_random(np.where(available, gains, -np.inf), rng)
        picks[step] = pick
        available[pick] = False
        if step == k - 1:
            break
        to_pick = _kernel_block(Z[pick : pick + 1], Z_sq[pick : pick + 1], Z, Z_sq, gamma)[0]
        captured = np.flatnonzero(to_pick > coverage)
        for start in range(0, captured.shape[0], rows):
            items = captured[start : start + rows]
            old, new = coverage[items], to_pick[items]
            # Each captured item j lowers gain_c by max(K_jc − m_old, 0) − max(K_jc − m_new, 0).
            block = _kernel_block(Z[items], Z_sq[items], Z, Z_sq, gamma)
            block -= old[:, None]
            np.clip(block, 0.0, (new - old)[:, None], out=block)
            gains -= block.sum(axis=0, dtype=np.float64)
        coverage[captured] = to_pick[captured]
    return picks
