r"""SPAL: self-paced active learning (Tang & Huang 2019).

BMDR's batch objective (:mod:`activelab.strategies._bmdr`) with a self-paced weight
:math:`v_j \in [0, 1]` on each pool item: the worst-case loss of item :math:`j` counts
:math:`v_j` times, the batch budget becomes :math:`v^\top \alpha = b`, and the self-paced
regulariser :math:`\lambda(\frac12 \lVert v \rVert^2 - \mathbf 1^\top v)` makes
:math:`v_j = \max(0, 1 - \alpha_j \ell_j / \lambda)`: items whose (selected) worst-case
loss exceeds the "age" :math:`\lambda` are too hard for now and are left out. As
:math:`\lambda` grows, harder items are admitted: the right thing at the right time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from activelab.strategies._bmdr import _check_positive, _KernelBatchQP

__all__ = ["SPAL", "self_paced_weights"]


def self_paced_weights(alpha: Any, loss: Any, age: float) -> np.ndarray:
    r"""The minimiser over :math:`v \in [0, 1]^u` of
    :math:`\sum_j v_j \alpha_j \ell_j + \lambda(\frac12 \lVert v \rVert^2 - \mathbf 1^\top v)`.

    .. math:: v_j = \max\big(0,\ 1 - \alpha_j \ell_j / \lambda\big)

    Parameters
    ----------
    alpha : array-like of shape (u,)
        Relaxed selection weights in [0, 1].
    loss : array-like of shape (u,)
        Worst-case losses, non-negative.
    age : float
        :math:`\lambda > 0`.

    Returns
    -------
    numpy.ndarray of shape (u,)

    Examples
    --------
    >>> self_paced_weights([1.0, 1.0, 0.5], [0.05, 0.2, 0.1], 0.1).tolist()
    [0.5, 0.0, 0.5]
    """
    weighted = np.asarray(alpha, dtype=np.float64) * np.asarray(loss, dtype=np.float64)
    return np.clip(1.0 - weighted / age, 0.0, 1.0)


class SPAL(_KernelBatchQP):
    r"""Self-paced active learning: informative, representative and *easy* items first.

    Alternates, as BMDR does, a QP over the relaxed batch weights :math:`\alpha` (the
    easiness-weighted worst-case loss of a kernel least-squares model plus ``mu`` times
    the MMD between labeled-plus-queried items and the rest of the pool, under the
    budget :math:`v^\top \alpha = k`), the closed-form easiness
    :func:`self_paced_weights`, and an ADMM refit of the model with the selected items'
    worst-case loss weighted by :math:`\alpha_j v_j`; the ``k`` largest
    :math:`\alpha_j v_j` are the batch. The QP is solved to tolerance by SMO after the
    substitution :math:`\beta = v \odot \alpha` (no QP package needed).

    The age :math:`\lambda` grows as learning proceeds (the paper raises it by a pace
    each round); the strategy is stateless, so it reads the progress from the labeled
    set: :math:`\lambda = \lambda_0 + \text{pace} \cdot |L|`. ALiPy's
    ``QueryInstanceSPAL`` (by the paper's first author) keeps :math:`\lambda =
    \lambda_0` (its ``lambda_pace`` is unused): pass ``lambda_pace=0`` for that. Its QP
    also weighs the quadratic MMD term by :math:`\mu/4` against :math:`\mu` for the
    linear term where the MMD expansion gives :math:`\mu/2` (see
    :func:`~activelab.strategies._bmdr.mmd_qp_terms`), so picks can differ.

    Several classes: averaged one-vs-rest codings (as BMDR). With no labeled set the MMD
    alone decides.

    Parameters
    ----------
    mu : float, default=0.1
        Weight of the MMD term (ALiPy's default).
    gamma : float, default=0.1
        Ridge of the kernel least-squares model.
    rho : float, default=1.0
        ADMM penalty.
    lambda_init : float, default=0.1
        Initial age :math:`\lambda_0`.
    lambda_pace : float, default=0.01
        Growth of the age per labeled item.
    metric : str or callable, default="rbf"
    metric_params : dict, optional
    candidates : int or None, default=1000
        Largest pool the QP runs on (a larger one is subsampled at random). None: all.
    max_rounds : int, default=15

    References
    ----------
    Tang & Huang (2019), "Self-paced active learning: query the right thing at the right
    time", AAAI 33, pp. 5117–5124.
    Wang & Ye (2013), "Querying discriminative and representative samples for batch mode
    active learning", KDD, pp. 158–166.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1], [2.5], [2.6]])
    >>> SPAL().query(None, X, 2, X[[0, 3]], [0, 1], random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "spal"
    summary: ClassVar[str] = "BMDR's QP batch with self-paced easiness weights"
    reference: ClassVar[str] = "Tang & Huang 2019 (AAAI)"
    _mmd_name: ClassVar[str] = "mu"
    _self_paced: ClassVar[bool] = True

    def __init__(
        self,
        mu: float = 0.1,
        gamma: float = 0.1,
        rho: float = 1.0,
        lambda_init: float = 0.1,
        lambda_pace: float = 0.01,
        metric: str | Callable = "rbf",
        metric_params: dict[str, Any] | None = None,
        candidates: int | None = 1000,
        max_rounds: int = 15,
    ) -> None:
        self.mu = mu
        self.gamma = gamma
        self.rho = rho
        self.lambda_init = lambda_init
        self.lambda_pace = lambda_pace
        self.metric = metric
        self.metric_params = metric_params
        self.candidates = candidates
        self.max_rounds = max_rounds

    def _mmd_weight(self) -> float:
        return self.mu

    def _easiness(self, alpha: np.ndarray, loss: np.ndarray, n_labeled: int) -> np.ndarray:
        age = _check_positive(self.lambda_init, "lambda_init", self.name)
        pace = self.lambda_pace
        if not (isinstance(pace, int | float) and np.isfinite(pace) and pace >= 0):
            raise ValueError(
                f"{self.name}: lambda_pace must be a non-negative number; got {pace!r}."
            )
        return self_paced_weights(alpha, loss, age + pace * n_labeled)
