r"""HintSVM: active learning with a hinted support vector machine (Li, Ferng & Lin 2012).

Uncertainty sampling with an SVM queries near its boundary, but a boundary fitted to a
few labels can sit far from where the unlabeled data are. HintSVM adds *hints*:
unlabeled pool items that the boundary is asked to pass close to (an
:math:`\epsilon`-insensitive penalty on :math:`|f(h)|`), so the queried region follows
the data. The primal is

.. math:: \min_{w, b} \tfrac12 \lVert w \rVert^2 + C_l \sum_{i \in L} \xi_i
          + C_h \sum_{h \in H} (\xi_h + \xi_h^*) \quad \text{s.t.} \quad
          y_i f(x_i) \ge 1 - \xi_i, \quad -\epsilon - \xi_h^* \le f(h) \le \epsilon + \xi_h,

with :math:`f(x) = w^\top \phi(x) + b`, and the query is the pool item closest to the
hinted boundary, :math:`\arg\min |f(x)|`.
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

__all__ = ["HintSVM", "hint_svm_decision"]


def _check_positive(value: Any, name: str, who: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not (ok and (value >= 0 if allow_zero else value > 0)):
        expected = "a non-negative number" if allow_zero else "a positive number"
        raise ValueError(f"{who}: {name} must be {expected}; got {value!r}.")
    return float(value)


def hint_svm_decision(
    K_train: np.ndarray,
    K_eval: np.ndarray,
    signs: np.ndarray,
    n_hints: int,
    C_labeled: float = 0.1,
    C_hint: float = 0.1,
    epsilon: float = 0.1,
) -> np.ndarray:
    r"""Solve the HintSVM dual and return :math:`f` on evaluation points.

    The training rows are the ``m`` labeled items (``signs`` ±1) followed by
    ``n_hints`` hints. Every constraint reads :math:`s_j f(x_j) \ge t_j - \xi_j`: a
    labeled item has :math:`s_j = y_j`, :math:`t_j = 1`, bound :math:`C_l`; a hint
    :math:`h` gives two, :math:`-f(h) \ge -\epsilon - \xi_h` and
    :math:`f(h) \ge -\epsilon - \xi^*_h`, bound :math:`C_h`. The dual is LIBSVM's form

    .. math:: \min_\alpha \tfrac12 \alpha^\top Q \alpha - t^\top \alpha \quad
              \text{s.t.} \quad 0 \le \alpha_j \le C_j,\ s^\top \alpha = 0, \qquad
              Q_{ij} = s_i s_j k(x_i, x_j),

    solved by SMO (:func:`~activelab.strategies._qp.box_qp`); then
    :math:`f(x) = \sum_j \alpha_j s_j k(x_j, x) + b`, with :math:`b` from the free
    multipliers (the middle of its KKT interval when there are none, as LIBSVM does).
    Without hints this is the standard soft-margin SVM (scikit-learn's ``SVC``).

    Parameters
    ----------
    K_train : numpy.ndarray of shape (m + n_hints, m + n_hints)
        Kernel between the training rows (labeled first, then hints).
    K_eval : numpy.ndarray of shape (n, m + n_hints)
        Kernel between evaluation points and the training rows.
    signs : numpy.ndarray of shape (m,)
        ±1 labels of the labeled rows.
    n_hints : int
    C_labeled, C_hint, epsilon : float

    Returns
    -------
    numpy.ndarray of shape (n,)
        :math:`f(x)`.

    Examples
    --------
    >>> from sklearn.metrics.pairwise import linear_kernel
    >>> X = np.array([[-1.0], [1.0], [0.2]])
    >>> f = hint_svm_decision(linear_kernel(X), linear_kernel(X), np.array([-1.0, 1.0]), 1)
    >>> bool(abs(f[2]) < abs(f[0]))
    True
    """
    m = signs.shape[0]
    labeled = np.arange(m)
    hints = np.arange(m, m + n_hints)
    rows = np.concatenate([labeled, hints, hints])  # each hint twice: upper and lower side
    s = np.concatenate([signs, -np.ones(n_hints), np.ones(n_hints)])
    targets = np.concatenate([np.ones(m), -epsilon * np.ones(2 * n_hints)])
    upper = np.concatenate([np.full(m, C_labeled), np.full(2 * n_hints, C_hint)])
    Q = s[:, None] * s[None, :] * K_train[np.ix_(rows, rows)]
    alpha = box_qp(Q, -targets, upper, s, np.zeros(rows.shape[0]))
    weights = alpha * s  # coefficients of k(x_j, ·)
    fitted = K_train[np.ix_(rows, rows)] @ weights  # f(x_j) - b
    bias = _bias(alpha, s, targets, upper, fitted)
    # Sum the two copies of each hint into one coefficient per training row.
    coefficients = np.zeros(m + n_hints)
    np.add.at(coefficients, rows, weights)
    return K_eval @ coefficients + bias


def _bias(alpha, s, targets, upper, fitted) -> float:
    """``b`` from the KKT conditions ``s_j (g_j + b) = t_j`` on free multipliers."""
    tolerance = 1e-8 * max(1.0, float(upper.max(initial=1.0)))
    values = s * targets - fitted
    free = (alpha > tolerance) & (alpha < upper - tolerance)
    if free.any():
        return float(values[free].mean())
    at_zero, at_upper = alpha <= tolerance, ~(alpha <= tolerance)
    lower_bounds = values[(at_zero & (s > 0)) | (at_upper & (s < 0))]
    upper_bounds = values[(at_zero & (s < 0)) | (at_upper & (s > 0))]
    low = lower_bounds.max() if lower_bounds.size else -np.inf
    high = upper_bounds.min() if upper_bounds.size else np.inf
    if np.isfinite(low) and np.isfinite(high):
        return float(0.5 * (low + high))
    return float(low if np.isfinite(low) else (high if np.isfinite(high) else 0.0))


class HintSVM(Strategy):
    r"""HintSVM: query the pool item closest to a boundary hinted by unlabeled data.

    Trains the hinted SVM of Li, Ferng & Lin (2012) on the labeled set plus *hints* (a
    random ``hint_fraction`` of the pool, at most ``max_hints``) and queries the items
    with the smallest :math:`|f(x)|` (see :func:`hint_svm_decision`; the dual is solved
    by SMO, the algorithm of LIBSVM). Two classes: one SVM, ``+1`` for the second
    class. More classes: one versus rest, one hinted SVM per class, and an item's
    distance is its smallest :math:`|f_c(x)|` (closest to any boundary). With fewer
    than two labeled classes the SVM still trains (the hints and one class) and with
    no labeled set every :math:`f` is zero, so the pick is random. For ``k > 1`` the
    ``k`` smallest distances are taken (the paper queries one at a time); ties at
    random.

    The kernel works on ``model.embed`` (a Pipeline's features before its last step, or
    numeric ``X_pool``; with ``model=None`` the raw features): no classifier is read.
    Cost: one QP over ``m + 2·hints`` variables per class, memory
    :math:`O((m + 2h)^2)`.

    Differences from libact's ``HintSVM`` (a C extension around a modified LIBSVM that
    does not build here): it draws hints *with* replacement and its query code takes
    the *largest* :math:`|f(x)|`; this one draws without replacement and takes the
    smallest, the paper's query rule.

    Parameters
    ----------
    C_labeled : float, default=0.1
        Weight of the labeled items' hinge losses (libact's ``Cl``).
    C_hint : float, default=0.1
        Weight of the hints' :math:`\epsilon`-insensitive losses (libact's ``Ch``).
    hint_fraction : float, default=0.5
        Share of the pool drawn as hints (libact's ``p``), in [0, 1].
    max_hints : int or None, default=500
        Most hints (bounds the QP); None: no limit.
    epsilon : float, default=0.1
        Width of the hints' insensitive zone.
    metric : str or callable, default="linear"
        Kernel for :func:`sklearn.metrics.pairwise.pairwise_kernels` (libact's default
        kernel is linear), or ``k(A, B)``.
    metric_params : dict, optional
        Kernel parameters, e.g. ``{"gamma": 0.1}``.

    References
    ----------
    Li, Ferng & Lin (2012), "Active learning with hinted support vector machine", ACML,
    PMLR 25, pp. 221–235.
    Li, Ferng & Lin (2015), "Active learning using hint information", Neural
    Computation 27(8), pp. 1738–1765.

    Examples
    --------
    >>> import numpy as np
    >>> X_labeled, y_labeled = np.array([[-2.0], [2.0]]), [0, 1]
    >>> pool = np.array([[-3.0], [0.1], [3.0]])
    >>> HintSVM(hint_fraction=1.0).query(None, pool, 1, X_labeled, y_labeled, 0).tolist()
    [1]
    """

    name: ClassVar[str] = "hintsvm"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "closest to an SVM boundary hinted through unlabeled items"
    reference: ClassVar[str] = "Li, Ferng & Lin 2012 (ACML)"

    def __init__(
        self,
        C_labeled: float = 0.1,
        C_hint: float = 0.1,
        hint_fraction: float = 0.5,
        max_hints: int | None = 500,
        epsilon: float = 0.1,
        metric: str | Callable = "linear",
        metric_params: dict[str, Any] | None = None,
    ) -> None:
        self.C_labeled = C_labeled
        self.C_hint = C_hint
        self.hint_fraction = hint_fraction
        self.max_hints = max_hints
        self.epsilon = epsilon
        self.metric = metric
        self.metric_params = metric_params

    def distances(
        self,
        model: Any,
        X_pool: Any,
        X_labeled: Any = None,
        y_labeled: Any = None,
        random_state: Any = None,
    ) -> np.ndarray:
        """:math:`\\min_c |f_c(x)|` of every pool item (smaller is queried first).

        Parameters
        ----------
        model : ModelAdapter, fitted estimator or None
        X_pool, X_labeled, y_labeled
            As for :meth:`query`.
        random_state : int, numpy.random.Generator or None
            Draws the hints.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        from activelab._validation import check_random_state

        return self._distances(
            self._adapter(model), X_pool, X_labeled, y_labeled, check_random_state(random_state)
        )

    def _distances(self, model: ModelAdapter, X_pool, X_labeled, y_labeled, rng) -> np.ndarray:
        who = self.name
        C_labeled = _check_positive(self.C_labeled, "C_labeled", who)
        C_hint = _check_positive(self.C_hint, "C_hint", who)
        epsilon = _check_positive(self.epsilon, "epsilon", who, allow_zero=True)
        fraction = _check_positive(self.hint_fraction, "hint_fraction", who, allow_zero=True)
        if fraction > 1:
            raise ValueError(f"{who}: hint_fraction must be in [0, 1]; got {fraction!r}.")
        kernel = _kernel(self.metric, _check_kernel(self.metric, self.metric_params, who))
        pool, labeled = embeddings(model, X_pool, X_labeled, who, dtype=np.float64)
        n = pool.shape[0]
        n_hints = int(n * fraction)
        if self.max_hints is not None:
            n_hints = min(n_hints, check_int(self.max_hints, "max_hints", who, 0))
        hints = pool[np.sort(rng.choice(n, size=n_hints, replace=False))]
        if labeled is None:
            labeled, labels = np.zeros((0, pool.shape[1])), np.zeros(0)
        else:
            if y_labeled is None:
                raise ValueError(
                    f"{who} needs the labels of X_labeled; pass y_labeled: "
                    "query(model, X_pool, k, X_labeled, y_labeled)."
                )
            labels = check_labels(y_labeled, labeled.shape[0], name="y_labeled")
        train = np.vstack([labeled, hints])
        if train.shape[0] == 0:
            return np.zeros(n)  # nothing to fit: every item ties
        K_train, K_eval = kernel(train, train), kernel(pool, train)
        classes = np.unique(labels)
        codings = [classes[1:2]] if classes.shape[0] == 2 else [[c] for c in classes]
        if classes.shape[0] < 2:
            codings = [classes[:1]]
        distance = np.full(n, np.inf)
        for positive in codings:
            signs = np.where(np.isin(labels, positive), 1.0, -1.0)
            f = hint_svm_decision(K_train, K_eval, signs, n_hints, C_labeled, C_hint, epsilon)
            np.minimum(distance, np.abs(f), out=distance)
        return distance

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        distance = self._distances(model, X_pool, X_labeled, y_labeled, rng)
        return top_k(-distance, k, rng)
