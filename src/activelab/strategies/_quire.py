r"""QUIRE: querying informative and representative examples (Huang, Jin & Zhou 2010).

The min-max objective of the paper is evaluated in closed form. With ``L = (K + λI)⁻¹``
over the labeled set ``l``, the candidate ``s`` and the rest of the pool ``u``, the inner
minimum over the relaxed (real-valued) labels ``y_u`` is a Schur complement, and the
Schur complement of ``L_uu`` in ``L`` is the inverse of the ``(l ∪ s)`` block of
``L⁻¹ = K + λI``. So

.. math:: \min_{y_u} \hat y^\top L \hat y
          = y_f^\top (K_{ff} + \lambda I)^{-1} y_f, \quad f = l \cup \{s\},

and the block inverse of ``K_ff + λI`` splits this into a part shared by every candidate
and a part of the candidate alone (see :func:`quire_objective`). The rest of the pool
cancels out exactly: no ``n × n`` matrix and no per-candidate inverse is needed, only the
Cholesky factor of the ``m × m`` labeled block.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.linalg

from activelab._distances import as_embedding, block_rows, check_widths
from activelab._validation import check_labels, n_rows
from activelab.models import ModelAdapter
from activelab.select import top_k
from activelab.strategies._base import Strategy, embeddings

__all__ = ["Quire", "quire_objective"]

#: Kernels of scikit-learn's ``pairwise_kernels`` whose diagonal ``k(x, x)`` is 1.
_UNIT_DIAGONAL = frozenset({"rbf", "laplacian", "chi2"})
#: Rows per block when the kernel's diagonal is computed as small square blocks.
_DIAGONAL_BLOCK = 256


def _check_kernel(metric: Any, metric_params: Any, who: str) -> dict[str, Any]:
    from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS

    if not callable(metric) and metric not in PAIRWISE_KERNEL_FUNCTIONS:
        hint = ""
        if metric == "precomputed":
            hint = (
                " A precomputed kernel cannot be split into pool and labeled rows; pass "
                "a kernel name or a callable k(A, B) -> (len(A), len(B)) array."
            )
        raise ValueError(
            f"{who}: metric must be one of {sorted(PAIRWISE_KERNEL_FUNCTIONS)} or a "
            f"callable; got {metric!r}.{hint}"
        )
    if metric_params is None:
        return {}
    if not isinstance(metric_params, dict):
        raise TypeError(
            f"{who}: metric_params must be a dict of kernel parameters (e.g. "
            f"{{'gamma': 0.5}}) or None; got {type(metric_params).__name__}."
        )
    return dict(metric_params)


def _kernel(metric: str | Callable, params: dict[str, Any]) -> Callable:
    """``k(A, B)`` as a dense float64 array."""
    from sklearn.metrics.pairwise import pairwise_kernels

    def kernel(A: np.ndarray, B: np.ndarray) -> np.ndarray:
        return np.asarray(pairwise_kernels(A, B, metric=metric, **params), dtype=np.float64)

    return kernel


def _kernel_diagonal(kernel: Callable, metric: Any, points: np.ndarray) -> np.ndarray:
    """``k(x, x)`` of every row, in small square blocks (no ``n × n`` matrix)."""
    if isinstance(metric, str) and metric in _UNIT_DIAGONAL:
        return np.ones(points.shape[0])
    out = np.empty(points.shape[0])
    for start in range(0, points.shape[0], _DIAGONAL_BLOCK):
        block = points[start : start + _DIAGONAL_BLOCK]
        out[start : start + block.shape[0]] = np.diagonal(kernel(block, block))
    return out


def _one_vs_rest(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``(m, C)`` codes: +1 where ``y`` is the column's class, -1 elsewhere.

    With fewer than two classes a column of -1 ("another class") is added, so the
    adversary may still put the candidate outside the one class seen so far.
    """
    codes = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
    if classes.shape[0] < 2:
        codes = np.hstack([codes, -np.ones((y.shape[0], 1))])
    return codes


def quire_objective(
    X_pool: Any,
    X_labeled: Any = None,
    y_labeled: Any = None,
    *,
    lmbda: float = 1.0,
    metric: str | Callable = "rbf",
    metric_params: dict[str, Any] | None = None,
    classes: Any = None,
) -> np.ndarray:
    r"""QUIRE's min-max objective of every pool item; QUIRE queries the smallest.

    Huang, Jin & Zhou (2010) pick the unlabeled :math:`x_s` that minimises, over its
    unknown label :math:`y_s = \pm 1` taken adversarially, the best value of the
    regularised least-squares objective over the labels :math:`y_u` of the rest of the
    pool (relaxed to real numbers):

    .. math:: \min_s \max_{y_s = \pm 1} \min_{y_u \in \mathbb{R}^{|u|}}
              \hat y^\top L \hat y, \qquad L = (K + \lambda I)^{-1},

    with :math:`K` the kernel over the labeled items, the candidate and the pool, and
    :math:`\hat y = (y_l, y_s, y_u)`. The inner minimum is a Schur complement of
    :math:`L`, which equals the inverse of the :math:`(l \cup s)` block of
    :math:`L^{-1} = K + \lambda I`; by the block inverse of that matrix,

    .. math:: J(s, y_s) = y_l^\top P^{-1} y_l + \frac{(y_s - f_s)^2}{\sigma_s},
              \quad P = K_{ll} + \lambda I, \quad f_s = k_s^\top P^{-1} y_l, \quad
              \sigma_s = k(x_s, x_s) + \lambda - k_s^\top P^{-1} k_s,

    where :math:`k_s = K_{l,s}`: :math:`f_s` is the kernel ridge prediction at
    :math:`x_s` (small :math:`|f_s|`: informative) and :math:`\sigma_s \ge \lambda` is
    its posterior variance plus :math:`\lambda` (large: far from the labeled data). The
    maximum over :math:`y_s = \pm 1` is :math:`y_l^\top P^{-1} y_l + (1 + |f_s|)^2 /
    \sigma_s`. The unlabeled items other than :math:`s` cancel out exactly, so each
    item's objective depends only on the labeled set and on itself.

    Several classes (as scikit-activeml's ``Quire`` does): the labels are coded one
    versus rest, :math:`y_l^{(c)} = \pm 1`, and the adversary chooses the class of
    :math:`x_s`, i.e. :math:`\max_c J^{(c)}(s, y_s = +1)`. For two classes the two
    codes are each other's negation and this is the paper's binary objective.

    Cost: one Cholesky factorisation of the ``m × m`` labeled block, then O(n·m·(d + m))
    in row blocks of the pool; memory O(m² + block·m).

    Parameters
    ----------
    X_pool : array-like or sparse matrix of shape (n, d)
        Numeric features (or embeddings) of the unlabeled pool.
    X_labeled : array-like or sparse matrix of shape (m, d), optional
    y_labeled : array-like of shape (m,), optional
        Labels of ``X_labeled`` (any hashable type).
    lmbda : float, default=1.0
        Regularisation :math:`\lambda > 0`; large values weigh informativeness, small
        ones representativeness.
    metric : str or callable, default="rbf"
        A kernel of :func:`sklearn.metrics.pairwise.pairwise_kernels` ("rbf",
        "laplacian", "poly", "linear", "cosine", …) or a callable ``k(A, B)``. It must
        be positive semi-definite.
    metric_params : dict, optional
        Passed to the kernel (e.g. ``{"gamma": 0.5}``); scikit-learn's defaults
        otherwise (``gamma = 1 / d`` for "rbf").
    classes : array-like, optional
        All class labels; by default those in ``y_labeled``. Classes without a labeled
        item are coded -1 everywhere.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Lower is queried first. With no labeled set every item scores
        :math:`1 / (k(x, x) + \lambda)`: the same for kernels with a constant diagonal
        such as "rbf", so the query is uniformly random.

    References
    ----------
    Huang, Jin & Zhou (2010), "Active learning by querying informative and representative
    examples", NeurIPS 23, pp. 892–900 (extended in IEEE TPAMI 36(10), 2014).

    Examples
    --------
    >>> X_labeled, y_labeled = [[0.0], [4.0]], [0, 1]
    >>> int(quire_objective([[0.1], [2.0], [3.9]], X_labeled, y_labeled).argmin())
    1
    """
    who = "quire"
    lmbda = _check_lambda(lmbda, who)
    kernel = _kernel(metric, _check_kernel(metric, metric_params, who))
    pool = as_embedding(X_pool, who, dtype=np.float64, what="X_pool")
    labeled = None
    if X_labeled is not None and n_rows(X_labeled) > 0:
        labeled = as_embedding(X_labeled, who, dtype=np.float64, what="X_labeled")
        check_widths(pool, labeled, who)
    return _objective(pool, labeled, y_labeled, lmbda, kernel, metric, classes, who)


def _check_lambda(lmbda: Any, who: str) -> float:
    ok = isinstance(lmbda, numbers.Real) and not isinstance(lmbda, bool)
    if not (ok and np.isfinite(lmbda) and lmbda > 0):
        raise ValueError(
            f"{who}: lmbda must be a positive number (the regularisation λ; 1.0 is the "
            f"usual choice); got {lmbda!r}."
        )
    return float(lmbda)


def _objective(pool, labeled, y_labeled, lmbda, kernel, metric, classes, who) -> np.ndarray:
    n = pool.shape[0]
    diagonal = _kernel_diagonal(kernel, metric, pool)
    if labeled is None:
        sigma = diagonal + lmbda
        _check_variance(sigma, who)
        return 1.0 / sigma
    if y_labeled is None:
        raise ValueError(
            f"{who} needs the labels of X_labeled; got y_labeled=None. Pass them: "
            "query(model, X_pool, k, X_labeled, y_labeled)."
        )
    y = check_labels(y_labeled, labeled.shape[0], name="y_labeled")
    known = np.unique(y) if classes is None else np.asarray(classes)
    missing = np.setdiff1d(np.unique(y), known)
    if missing.size:
        raise ValueError(
            f"{who}: y_labeled holds labels {missing.tolist()} that are not in classes "
            f"{known.tolist()}; list every class in classes (or leave it None)."
        )
    codes = _one_vs_rest(y, known)
    gram = kernel(labeled, labeled)
    gram[np.diag_indices_from(gram)] += lmbda
    try:
        factor = scipy.linalg.cholesky(gram, lower=True)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{who}: the kernel matrix of the labeled set plus λI is not positive definite, "
            "so the kernel is not positive semi-definite. Use a PSD kernel (rbf, laplacian, "
            "poly, linear, cosine) or a larger lmbda."
        ) from None
    weights = scipy.linalg.cho_solve((factor, True), codes)  # P⁻¹ y_l, one column per class
    shared = np.einsum("ic,ic->c", codes, weights)  # y_lᵀ P⁻¹ y_l
    objective = np.empty(n, dtype=np.float64)
    step = block_rows(labeled.shape[0] + codes.shape[1], itemsize=8)
    for start in range(0, n, step):
        stop = min(n, start + step)
        cross = kernel(pool[start:stop], labeled)  # (b, m)
        prediction = cross @ weights  # f_s for every class code
        whitened = scipy.linalg.solve_triangular(factor, cross.T, lower=True)
        sigma = diagonal[start:stop] + lmbda - np.einsum("ij,ij->j", whitened, whitened)
        _check_variance(sigma, who)
        values = shared[None, :] + (1.0 - prediction) ** 2 / sigma[:, None]
        objective[start:stop] = values.max(axis=1)
    return objective


def _check_variance(sigma: np.ndarray, who: str) -> None:
    if not (sigma > 0).all():
        raise ValueError(
            f"{who}: k(x, x) + λ - k_sᵀ(K + λI)⁻¹k_s is not positive for some pool item, so "
            "the kernel is not positive semi-definite. Use a PSD kernel (rbf, laplacian, "
            "poly, linear, cosine) or a larger lmbda."
        )


class Quire(Strategy):
    r"""QUIRE: the pool items that are both informative and representative (min-max view).

    Queries the items with the smallest min-max objective of Huang, Jin & Zhou (2010),
    evaluated exactly in closed form (see :func:`quire_objective`): with kernel
    :math:`k`, :math:`P = K_{ll} + \lambda I` and the kernel ridge prediction
    :math:`f_s = k_s^\top P^{-1} y_l`,

    .. math:: J(s) = \max_{y_s = \pm 1} \; y_l^\top P^{-1} y_l
              + \frac{(y_s - f_s)^2}{k(x_s, x_s) + \lambda - k_s^\top P^{-1} k_s},

    one versus rest with the worst class for several classes. QUIRE is defined for one
    query at a time; for ``k > 1`` the ``k`` smallest objectives are taken (as
    scikit-activeml does), ties at random. It needs no classifier: the kernel works on
    ``model.embed`` (the features before a Pipeline's last step, or numeric
    ``X_pool`` itself; with ``model=None`` the raw features).

    It needs the labeled set. With none (``X_labeled`` None or empty) every item scores
    :math:`1 / (k(x, x) + \lambda)`; for "rbf" and other kernels with a constant
    diagonal that is a tie, so the batch is uniformly random.

    Cost: the objective of an item depends only on the labeled set and on the item, so
    the pool is scored in O(n·m·(d + m)) after one ``m × m`` Cholesky factorisation,
    with no ``n × n`` kernel. The peers build the full kernel over labeled and pool items
    and invert it (O((n + m)³) time, O((n + m)²) memory).

    Differences from the peers: scikit-activeml's ``Quire`` evaluates the same objective
    through the blocks of :math:`L = (K + \lambda I)^{-1}` (same picks, up to rounding
    of that inverse). ALiPy's ``QueryInstanceQUIRE`` (from libact) is binary only, uses
    :math:`(\lambda I)^{-1}` where the Schur complement needs
    :math:`(K_{ll} + \lambda I)^{-1}`, and scores :math:`L_{ss} - |L_{aa}| / L_{ss} +
    2 |\cdot|` without the :math:`y_l` terms, so its picks differ. ALiPy's default
    ``gamma`` is 1; ours is scikit-learn's ``1 / d``.

    Parameters
    ----------
    lmbda : float, default=1.0
        Regularisation :math:`\lambda > 0`.
    metric : str or callable, default="rbf"
        Kernel name for :func:`sklearn.metrics.pairwise.pairwise_kernels` or a
        callable ``k(A, B)``; positive semi-definite.
    metric_params : dict, optional
        Kernel parameters, e.g. ``{"gamma": 0.5}``.
    classes : array-like, optional
        All class labels (default: those in ``y_labeled``).

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        From :meth:`query`: the smallest objective first.

    References
    ----------
    Huang, Jin & Zhou (2010), "Active learning by querying informative and representative
    examples", NeurIPS 23, pp. 892–900.

    Examples
    --------
    >>> X_labeled, y_labeled = [[0.0], [4.0]], [0, 1]
    >>> Quire().query(None, [[0.1], [2.0], [3.9]], 1, X_labeled, y_labeled).tolist()
    [1]
    """

    name: ClassVar[str] = "quire"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "min-max kernel objective: informative and representative"
    reference: ClassVar[str] = "Huang, Jin & Zhou 2010 (NeurIPS)"

    def __init__(
        self,
        lmbda: float = 1.0,
        metric: str | Callable = "rbf",
        metric_params: dict[str, Any] | None = None,
        classes: Any = None,
    ) -> None:
        self.lmbda = lmbda
        self.metric = metric
        self.metric_params = metric_params
        self.classes = classes

    def utilities(
        self, model: Any, X_pool: Any, X_labeled: Any = None, y_labeled: Any = None
    ) -> np.ndarray:
        """Minus the QUIRE objective of every pool item (higher is queried first).

        Parameters
        ----------
        model : fitted estimator, ModelAdapter or None
            Only its ``embed`` is used; None uses the numeric features.
        X_pool, X_labeled : array-like, sparse matrix or DataFrame
        y_labeled : array-like of shape (m,)

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return -self._objective(self._adapter(model), X_pool, X_labeled, y_labeled)

    def _objective(
        self, model: ModelAdapter, X_pool: Any, X_labeled: Any, y_labeled: Any
    ) -> np.ndarray:
        lmbda = _check_lambda(self.lmbda, self.name)
        kernel = _kernel(self.metric, _check_kernel(self.metric, self.metric_params, self.name))
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        return _objective(
            pool, labeled, y_labeled, lmbda, kernel, self.metric, self.classes, self.name
        )

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(-self._objective(model, X_pool, X_labeled, y_labeled), k, rng)
