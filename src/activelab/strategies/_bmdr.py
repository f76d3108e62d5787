r"""BMDR: querying discriminative and representative samples for batch mode active
learning (Wang & Ye 2013).

The batch :math:`Q` (``|Q| = b``) minimises an empirical risk bound: the loss of a kernel
least-squares model :math:`f(x) = \sum_{i \in L} \tau_i k(x, x_i)` on the labeled set,
the *worst-case* loss on the queried items (their labels are unknown, so the adversary
picks them) and the maximum mean discrepancy between the labeled-plus-queried set and
the rest of the pool (representativeness):

.. math:: \min_{f,\ \alpha \in \{0,1\}^u,\ 1^\top \alpha = b}
          \sum_{i \in L} (y_i - f(x_i))^2 + \gamma \lVert f \rVert^2
          + \sum_{j \in U} \alpha_j \max_{y = \pm 1} (y - f(x_j))^2
          + \beta\, \mathrm{MMD}^2(L \cup Q, U \setminus Q).

:math:`\max_{y=\pm1} (y - f)^2 = 1 + f^2 + 2|f|`. The paper relaxes
:math:`\alpha \in [0, 1]^u` and alternates: a quadratic program in :math:`\alpha` (solved
here to tolerance by :func:`activelab.strategies._qp.box_qp`), the ``b`` largest
:math:`\alpha` become the batch, and :math:`f` is refitted with the worst-case loss on
the batch by ADMM; until the batch no longer changes.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from activelab._validation import check_int, check_labels
from activelab.models import ModelAdapter
from activelab.select import top_k
from activelab.strategies._base import Strategy, embeddings
from activelab.strategies._qp import box_qp
from activelab.strategies._quire import _check_kernel, _kernel

__all__ = ["BMDR", "label_codes", "mmd_qp_terms", "worst_case_loss"]


def label_codes(y: Any, classes: Any = None) -> np.ndarray:
    r"""±1 codes of the labels: one column for two classes, one-vs-rest otherwise.

    Two classes (or fewer): :math:`+1` for the first class, :math:`-1` for the other
    (ALiPy's coding). More: column :math:`c` is :math:`+1` where the label is class
    :math:`c`, :math:`-1` elsewhere.

    Parameters
    ----------
    y : array-like of shape (m,)
    classes : array-like, optional
        All classes, sorted as the columns; by default the labels seen.

    Returns
    -------
    numpy.ndarray of shape (m, 1) or (m, C)

    Examples
    --------
    >>> label_codes(["a", "b", "a"]).ravel().tolist()
    [1.0, -1.0, 1.0]
    """
    labels = np.asarray(y)
    known = np.unique(labels) if classes is None else np.asarray(classes)
    if known.shape[0] <= 2:
        first = known[0] if known.shape[0] else None
        return np.where(labels == first, 1.0, -1.0)[:, None]
    return np.where(labels[:, None] == known[None, :], 1.0, -1.0)


def worst_case_loss(predictions: Any) -> np.ndarray:
    r"""The adversarial squared loss, :math:`\max_{y=\pm1}(y - f)^2 - 1 = f^2 + 2|f|`,
    averaged over the code columns.

    Parameters
    ----------
    predictions : array-like of shape (n, C')
        :math:`f` for each item and ±1 coding.

    Returns
    -------
    numpy.ndarray of shape (n,)

    Examples
    --------
    >>> worst_case_loss([[0.0], [0.5], [-1.0]]).tolist()
    [0.0, 1.25, 3.0]
    """
    f = np.asarray(predictions, dtype=np.float64)
    return (f * f + 2.0 * np.abs(f)).mean(axis=1)


def mmd_qp_terms(
    K_UU: np.ndarray, K_LU_sums: np.ndarray, n_labeled: int, b: int
) -> tuple[np.ndarray, np.ndarray]:
    r"""The quadratic and linear terms of :math:`\mathrm{MMD}^2(L \cup Q, U \setminus Q)`
    in the relaxed selection vector :math:`\alpha` (constants dropped).

    With :math:`l = |L|`, :math:`u = |U|`, :math:`n = l + u` and
    :math:`\mathbf 1^\top \alpha = b`, the mean embeddings give

    .. math:: \mathrm{MMD}^2 = c^2 \Big[\alpha^\top K_{UU} \alpha + 2 \alpha^\top
              \Big(\frac{u - b}{n} K_{UL} \mathbf 1 - \frac{l + b}{n} K_{UU} \mathbf 1
              \Big)\Big] + \text{const}, \qquad c = \frac{n}{(l + b)(u - b)},

    returned without the positive factor :math:`c^2` (a constant for given sizes) as
    ``(P, q)`` for :math:`\frac12 \alpha^\top P \alpha + q^\top \alpha`.

    Parameters
    ----------
    K_UU : numpy.ndarray of shape (u, u)
    K_LU_sums : numpy.ndarray of shape (u,)
        :math:`K_{UL} \mathbf 1`, each pool item's summed kernel to the labeled set.
    n_labeled, b : int

    Returns
    -------
    P : numpy.ndarray of shape (u, u)
    q : numpy.ndarray of shape (u,)

    Examples
    --------
    >>> P, q = mmd_qp_terms(np.eye(2), np.zeros(2), 0, 1)
    >>> P.tolist(), q.tolist()
    ([[2.0, 0.0], [0.0, 2.0]], [-1.0, -1.0])
    """
    u = K_UU.shape[0]
    n = n_labeled + u
    q = 2.0 * ((u - b) / n * K_LU_sums - (n_labeled + b) / n * K_UU.sum(axis=1))
    return 2.0 * K_UU, q


def _admm_refit(K_LL, Y, K_QL, weights, gamma, rho, tau, max_iter=1000, abstol=1e-6):
    r"""Refit :math:`\tau` with the weighted worst-case loss on the items ``Q`` (ADMM).

    Minimises, for every code column,
    :math:`\lVert y - K_{LL}\tau \rVert^2 + \gamma \tau^\top K_{LL} \tau
    + \sum_j w_j (z_j^2 + 2|z_j|)` subject to :math:`z = K_{QL} \tau`.
    """
    if K_QL.shape[0] == 0 or not (weights > 0).any():
        return tau
    system = 2.0 * K_LL @ K_LL + 2.0 * gamma * K_LL + rho * K_QL.T @ K_QL
    inverse = np.linalg.pinv(system, hermitian=True)
    target = 2.0 * K_LL @ Y
    z = K_QL @ tau
    dual = np.zeros_like(z)
    w = weights[:, None]
    for _ in range(max_iter):
        tau = inverse @ (target + K_QL.T @ dual + rho * K_QL.T @ z)
        fitted = K_QL @ tau
        previous = z
        shifted = (rho * fitted - dual) / (2.0 * w + rho)
        z = np.sign(shifted) * np.maximum(np.abs(shifted) - 2.0 * w / (2.0 * w + rho), 0.0)
        dual += rho * (z - fitted)
        primal = np.linalg.norm(fitted - z)
        change = np.linalg.norm(rho * (z - previous))
        scale = abstol * np.sqrt(z.size) * max(1.0, np.linalg.norm(fitted))
        if primal < scale and change < scale:
            break
    return tau


def _self_paced_qp(P, q, easiness, loss, k, alpha):
    r"""SPAL's QP: loss weighted by the easiness ``v`` and the budget :math:`v^\top \alpha = k`.

    Substituting :math:`\beta = v \odot \alpha` turns the budget into
    :math:`\mathbf 1^\top \beta = k` over :math:`0 \le \beta \le v`. Items with
    :math:`v = 0` cannot be queried; their :math:`\alpha` stays at 0. When
    :math:`\sum v < k` the budget cannot be met and is dropped (as ALiPy does).
    """
    alpha = np.zeros_like(loss)
    keep = np.flatnonzero(easiness > 1e-12)
    if keep.size == 0:
        return alpha
    v = easiness[keep]
    P_kept = P[np.ix_(keep, keep)]
    q_kept = q[keep] + v * loss[keep]
    if v.sum() < k:
        alpha[keep] = box_qp(P_kept, q_kept, np.ones(keep.size))
        return alpha
    scaled = P_kept / np.outer(v, v)
    start = k * v / v.sum()
    beta = box_qp(scaled, q_kept / v, v, np.ones(keep.size), start)
    alpha[keep] = beta / v
    return alpha


def _check_positive(value: Any, name: str, who: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (ok and np.isfinite(value) and value > 0):
        raise ValueError(f"{who}: {name} must be a positive number; got {value!r}.")
    return float(value)


class _KernelBatchQP(Strategy):
    """The alternating QP / refit scheme shared by BMDR and SPAL."""

    needs: ClassVar[tuple[str, ...]] = ("embed",)
    _self_paced: ClassVar[bool] = False

    def _mmd_weight(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _easiness(self, alpha, loss, n_labeled):  # pragma: no cover - abstract (SPAL)
        raise NotImplementedError

    def _select(self, model: ModelAdapter, X_pool, k, X_labeled, y_labeled, rng):
        who = self.name
        gamma = _check_positive(self.gamma, "gamma", who)
        rho = _check_positive(self.rho, "rho", who)
        weight = _check_positive(self._mmd_weight(), self._mmd_name, who)
        max_rounds = check_int(self.max_rounds, "max_rounds", who, 1)
        kernel = _kernel(self.metric, _check_kernel(self.metric, self.metric_params, who))
        pool, labeled = embeddings(model, X_pool, X_labeled, who, dtype=np.float64)
        n = pool.shape[0]
        if k == n:
            return rng.permutation(n).astype(np.int64)
        rows = np.arange(n)
        if self.candidates is not None:
            limit = check_int(self.candidates, "candidates", who, 1)
            if n > max(limit, k):
                rows = np.sort(rng.choice(n, size=max(limit, k), replace=False))
        X_U = pool[rows]
        u = X_U.shape[0]
        K_UU = kernel(X_U, X_U)
        if labeled is None:
            m, K_UL, Y = 0, np.zeros((u, 0)), np.zeros((0, 1))
            K_LL = np.zeros((0, 0))
        else:
            if y_labeled is None:
                raise ValueError(
                    f"{who} needs the labels of X_labeled; pass y_labeled: "
                    "query(model, X_pool, k, X_labeled, y_labeled)."
                )
            y = check_labels(y_labeled, labeled.shape[0], name="y_labeled")
            m = labeled.shape[0]
            K_LL, K_UL = kernel(labeled, labeled), kernel(X_U, labeled)
            Y = label_codes(y)
        tau = np.linalg.solve(K_LL + gamma * np.eye(m), Y) if m else np.zeros((0, Y.shape[1]))
        P_mmd, q_mmd = mmd_qp_terms(K_UU, K_UL.sum(axis=1), m, k)
        P = weight * P_mmd
        easiness = np.ones(u)
        chosen: np.ndarray | None = None
        alpha = np.full(u, k / u)
        for _ in range(max_rounds):
            loss = worst_case_loss(K_UL @ tau) if m else np.zeros(u)
            if self._self_paced:
                alpha = _self_paced_qp(P, weight * q_mmd, easiness, loss, k, alpha)
                easiness = self._easiness(alpha, loss, m)
                ranking = alpha * easiness
            else:
                alpha = box_qp(P, weight * q_mmd + loss, np.ones(u), np.ones(u), alpha)
                ranking = alpha
            picks = top_k(ranking, k, rng)
            if chosen is not None and set(picks.tolist()) == set(chosen.tolist()):
                break
            chosen = picks
            if not m:
                break  # no model to refit: the MMD alone decides
            if self._self_paced:
                mix = ranking.copy()
                keep = np.flatnonzero(mix > 1e-3)
                if keep.size == 0:
                    keep = picks[:1]
                tau = _admm_refit(K_LL, Y, K_UL[keep], mix[keep], gamma, rho, tau)
            else:
                tau = _admm_refit(K_LL, Y, K_UL[picks], np.ones(k), gamma, rho, tau)
        return rows[chosen].astype(np.int64)


class BMDR(_KernelBatchQP):
    r"""BMDR: a batch that is discriminative and representative (Wang & Ye 2013).

    Minimises the paper's risk bound over the batch (see the module docstring): the
    queried items' worst-case squared loss under a kernel least-squares model fitted to
    the labeled set (small :math:`|f(x)|`: near the decision boundary) plus ``beta``
    times the maximum mean discrepancy between labeled-plus-queried and the rest of the
    pool (:func:`mmd_qp_terms`). The relaxed QP over the pool is solved to tolerance by
    accelerated projected gradient (exact up to ``1e-7``, no QP package needed), its
    ``k`` largest weights form the batch, :math:`f` is refitted with the batch's
    worst-case loss by ADMM, and the two steps alternate until the batch is stable
    (at most ``max_rounds``).

    Several classes: the objective is averaged over one-vs-rest ±1 codings (all sharing
    the batch), which for two classes is the paper's binary objective. With no labeled
    set the MMD term alone picks the batch (representative cold start).

    Cost: the QP is over the pool (or ``candidates`` items drawn at random, an
    approximation for large pools: the MMD then compares with that sample of the pool):
    memory :math:`O(u^2)`, time :math:`O(u^2)` per gradient step.

    Differences from ALiPy's ``QueryInstanceBMDR`` (cvxpy): its QP weighs
    :math:`\alpha^\top K_{UU} \alpha` by :math:`\beta/4` against :math:`\beta` for the
    linear MMD term, where the expansion of the MMD gives :math:`\beta/2` (here:
    :func:`mmd_qp_terms`); it is binary only and uses ``gamma_ker=1`` for the RBF kernel
    (here scikit-learn's ``1/d`` unless ``metric_params`` says otherwise).

    Parameters
    ----------
    beta : float, default=1000.0
        Weight of the MMD (representativeness) term, as in ALiPy.
    gamma : float, default=0.1
        Ridge of the kernel least-squares model.
    rho : float, default=1.0
        ADMM penalty.
    metric : str or callable, default="rbf"
        Kernel for :func:`sklearn.metrics.pairwise.pairwise_kernels`, or ``k(A, B)``.
    metric_params : dict, optional
        Kernel parameters (e.g. ``{"gamma": 1.0}``).
    candidates : int or None, default=1000
        Largest pool the QP runs on; a larger pool is subsampled at random. None: all.
    max_rounds : int, default=15
        Most alternations of QP and refit (ALiPy: 15).

    References
    ----------
    Wang & Ye (2013), "Querying discriminative and representative samples for batch mode
    active learning", KDD, pp. 158–166 (extended in ACM TKDD 9(3), 2015).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [5.0], [5.1], [2.5]])
    >>> BMDR().query(None, X, 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "bmdr"
    summary: ClassVar[str] = "QP batch: worst-case loss near the boundary + MMD to the pool"
    reference: ClassVar[str] = "Wang & Ye 2013 (KDD)"
    _mmd_name: ClassVar[str] = "beta"

    def __init__(
        self,
        beta: float = 1000.0,
        gamma: float = 0.1,
        rho: float = 1.0,
        metric: str | Callable = "rbf",
        metric_params: dict[str, Any] | None = None,
        candidates: int | None = 1000,
        max_rounds: int = 15,
    ) -> None:
        self.beta = beta
        self.gamma = gamma
        self.rho = rho
        self.metric = metric
        self.metric_params = metric_params
        self.candidates = candidates
        self.max_rounds = max_rounds

    def _mmd_weight(self) -> float:
        return self.beta
