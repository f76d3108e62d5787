r"""Variance reduction for logistic regression (Schein & Ungar 2007), A-optimal design.

The output variance of a logistic or softmax regression at an input :math:`v` is, to
first order in the weights, :math:`\mathrm{tr}(J_v F^{-1} J_v^\top)` with :math:`F` the
Fisher information of the labeled set (the Hessian of the regularised log loss at the
fitted weights) and :math:`J_v` the Jacobian of the outputs in the weights. Labeling
:math:`x` adds :math:`x`'s own Fisher information, which for these models does not
depend on the label, so the expected variance over the pool after the query is known in
closed form: the strategy queries the item that lowers it most.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np

from activelab._distances import block_rows
from activelab._validation import n_rows
from activelab.models import ModelAdapter
from activelab.strategies._base import ScoreStrategy
from activelab.strategies._egl import LinearHead, linear_head

__all__ = ["VarianceReduction", "fisher_information", "variance_reduction"]


def _dense(rows: Any) -> np.ndarray:
    return np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows, dtype=np.float64)


def _check_design(features: Any, curvature: Any, who: str) -> tuple[np.ndarray, np.ndarray]:
    X = _dense(features)
    A = np.asarray(curvature, dtype=np.float64)
    if X.ndim != 2 or A.ndim != 3 or A.shape[0] != X.shape[0] or A.shape[1] != A.shape[2]:
        raise ValueError(
            f"{who} needs features of shape (n, D) and curvatures of shape (n, K, K); got "
            f"{X.shape} and {A.shape}."
        )
    if not (np.isfinite(X).all() and np.isfinite(A).all()):
        raise ValueError(f"{who}: the features or curvatures hold NaN or infinite values.")
    return X, A


def fisher_information(features: Any, curvature: Any, regularization: Any = 0.0) -> np.ndarray:
    r"""Fisher information :math:`\sum_i A_i \otimes \tilde x_i \tilde x_i^\top + \Lambda`.

    For a model with logits :math:`z = W \tilde x` (``W`` of shape ``(K, D)``, flattened
    row by row) and a log loss whose Hessian in the logits is :math:`A_i` (for softmax
    regression :math:`\mathrm{diag}(p) - p p^\top`, for sigmoids
    :math:`\mathrm{diag}(s(1 - s))`), this is the Hessian of the loss summed over the
    rows, plus the regulariser's Hessian :math:`\Lambda`.

    Parameters
    ----------
    features : array-like of shape (m, D)
        The inputs :math:`\tilde x_i` of the last linear layer (with the bias feature).
    curvature : array-like of shape (m, K, K)
        :math:`A_i`, symmetric positive semi-definite.
    regularization : float or array-like of shape (K·D,), default=0.0
        The diagonal of :math:`\Lambda` (a scalar for the same L2 strength everywhere).

    Returns
    -------
    numpy.ndarray of shape (K·D, K·D), float64

    Examples
    --------
    >>> fisher_information([[1.0, 2.0]], [[[0.25]]], 1.0)
    array([[1.25, 0.5 ],
           [0.5 , 2.  ]])
    """
    X, A = _check_design(features, curvature, "fisher_information")
    n_outputs, width = A.shape[1], X.shape[1]
    fisher = np.einsum("iab,id,ie->adbe", A, X, X, optimize=True)
    fisher = fisher.reshape(n_outputs * width, n_outputs * width)
    fisher[np.diag_indices_from(fisher)] += np.broadcast_to(
        np.asarray(regularization, dtype=np.float64), fisher.shape[0]
    )
    return fisher


def _pinv_psd(matrix: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of a symmetric PSD matrix (flat directions, e.g. a softmax's
    shared bias shift, are left out; the Jacobians are orthogonal to them)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    keep = values > max(values.max(), 0.0) * 1e-10
    return (vectors[:, keep] / values[keep]) @ vectors[:, keep].T


def _quadratic_blocks(X: np.ndarray, matrix: np.ndarray, n_outputs: int) -> np.ndarray:
    r"""``Q[i, a, b] = x̃_iᵀ M_{ab} x̃_i`` for the ``D × D`` blocks ``M_{ab}`` of ``matrix``."""
    n, width = X.shape
    blocks = matrix.reshape(n_outputs, width, n_outputs, width).transpose(1, 0, 2, 3)
    columns = blocks.reshape(width, n_outputs * n_outputs * width)
    out = np.empty((n, n_outputs, n_outputs))
    step = block_rows(n_outputs * n_outputs * width, itemsize=8)
    for start in range(0, n, step):
        rows = X[start : start + step]
        products = (rows @ columns).reshape(-1, n_outputs, n_outputs, width)
        out[start : start + step] = np.einsum("iabe,ie->iab", products, rows)
    return out


def variance_reduction(
    features: Any,
    curvature: Any,
    fisher: Any,
    evaluation_features: Any = None,
    evaluation_curvature: Any = None,
) -> np.ndarray:
    r"""How much labeling each item lowers the summed output variance over a pool.

    Schein & Ungar (2007) estimate the variance of a logistic regression's outputs at
    :math:`v` by :math:`\mathrm{tr}(J_v F^{-1} J_v^\top)`, where :math:`F` is the Fisher
    information (:func:`fisher_information`) and :math:`J_v = A_v \otimes \tilde v^\top`
    the Jacobian of the outputs (softmax probabilities, or each sigmoid) in the weights.
    Summed over the evaluation pool this is :math:`\mathrm{tr}(F^{-1} B)` with
    :math:`B = \sum_v A_v^2 \otimes \tilde v \tilde v^\top` (A-optimality). Labeling
    :math:`x` adds :math:`A_x \otimes \tilde x \tilde x^\top` to :math:`F` whatever its
    label, and by the Woodbury identity the drop in variance is

    .. math:: \Delta(x) = \mathrm{tr}(F^{-1} B) - \mathrm{tr}\big((F + A_x \otimes
              \tilde x \tilde x^\top)^{-1} B\big) = \mathrm{tr}\big(H_x (I + A_x G_x)^{-1}
              A_x\big),

    with the ``K × K`` matrices :math:`G_x = (I \otimes \tilde x)^\top F^{-1}
    (I \otimes \tilde x)` and :math:`H_x = (I \otimes \tilde x)^\top F^{-1} B F^{-1}
    (I \otimes \tilde x)`. So every item costs a ``K × K`` solve after one
    :math:`(KD)^3` factorisation, instead of one :math:`(KD)^3` inverse per item.
    A pseudo-inverse stands in for :math:`F^{-1}` where :math:`F` is singular (a
    softmax's unpenalised intercepts).

    Parameters
    ----------
    features : array-like of shape (n, D)
        :math:`\tilde x` of the candidates (inputs of the last linear layer).
    curvature : array-like of shape (n, K, K)
        :math:`A_x` of the candidates.
    fisher : array-like of shape (K·D, K·D)
        Fisher information of the labeled set, regulariser included.
    evaluation_features, evaluation_curvature : array-like, optional
        The pool whose output variance is measured; by default the candidates.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Non-negative; larger is a larger reduction.

    References
    ----------
    Schein & Ungar (2007), "Active learning for logistic regression: an evaluation",
    Machine Learning 68(3), pp. 235–265.

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [3.0, 1.0]])
    >>> A = np.array([[[0.25]], [[0.05]]])
    >>> F = fisher_information(X, A, 1.0)
    >>> variance_reduction(X, A, F).round(4)
    array([0.0081, 0.0047])
    """
    X, A = _check_design(features, curvature, "variance_reduction")
    if evaluation_features is None:
        E, B_curv = X, A
    else:
        E, B_curv = _check_design(evaluation_features, evaluation_curvature, "variance_reduction")
    n_outputs, width = A.shape[1], X.shape[1]
    size = n_outputs * width
    F = np.asarray(fisher, dtype=np.float64)
    if F.shape != (size, size) or E.shape[1] != width or B_curv.shape[1] != n_outputs:
        raise ValueError(
            f"variance_reduction: features of width {width} and {n_outputs} outputs need a "
            f"Fisher matrix of shape {(size, size)} and evaluation rows of the same width; got "
            f"{F.shape} and {E.shape}."
        )
    inverse = _pinv_psd(F)
    squared = np.einsum("vab,vbc->vac", B_curv, B_curv)
    B = fisher_information(E, squared)
    sandwich = inverse @ B @ inverse
    G = _quadratic_blocks(X, inverse, n_outputs)
    H = _quadratic_blocks(X, sandwich, n_outputs)
    system = np.eye(n_outputs)[None] + A @ G  # I + A_x G_x
    solved = np.linalg.solve(system, A)  # (I + A G)⁻¹ A
    out = np.einsum("iab,iba->i", H, solved)
    return np.maximum(out, 0.0)


class VarianceReduction(ScoreStrategy):
    r"""A-optimal variance reduction for logistic and softmax regression.

    Queries the pool items whose labels most reduce the model's output variance summed
    over the pool (Schein & Ungar 2007; see :func:`variance_reduction` for the closed
    form). The Fisher information is the Hessian of the objective the model minimised:
    :math:`\sum_{i \in L} A_i \otimes \tilde x_i \tilde x_i^\top + \lambda I`, with
    :math:`\lambda = 1/C` for LogisticRegression (``alpha · n`` for SGDClassifier) unless
    ``regularization`` is given; the intercept is not penalised (except with liblinear,
    which penalises it).

    Works on LogisticRegression and SGDClassifier(loss="log_loss"), alone or as the last
    step of a Pipeline (the pool goes through the earlier steps); a binary model has one
    weight vector, a multinomial one ``C``, a one-vs-rest one ``C`` sigmoids. The
    Jacobians are those of the link outputs (the softmax probabilities, or each sigmoid).
    ``k > 1`` takes the ``k`` largest reductions (the paper queries one at a time).

    Cost: :math:`O(n K^2 D^2 + (KD)^3)` for ``n`` pool items, ``K`` weight vectors of
    width ``D``, in row blocks; no model is retrained.

    Peers: libact's ``VarianceReduction`` (a C extension that does not build here)
    retrains the model once per candidate and label, takes the Fisher information of the
    candidate alone with a ``1/σ`` ridge, and measures the variance on the labeled rows;
    this implementation follows the paper (labeled Fisher information plus the candidate,
    variance over the pool), so its picks differ.

    Parameters
    ----------
    regularization : float or None, default=None
        :math:`\lambda`, the prior precision added to the Fisher information. None: the
        model's own L2 strength (a model without a penalty gets ``1e-6``, so that
        :math:`F` stays invertible).
    sampling : {"top", "softmax", "power", "softrank"}, default="top"
    temperature : float, default=1.0

    References
    ----------
    Schein & Ungar (2007), "Active learning for logistic regression: an evaluation",
    Machine Learning 68(3), pp. 235–265.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> VarianceReduction().query(model, np.array([[2.0], [30.0]]), 1, X, [0, 0, 1, 1]).tolist()
    [0]
    """

    name: ClassVar[str] = "variance_reduction"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "logistic_head")
    summary: ClassVar[str] = "largest drop in the pool's output variance (Fisher, A-optimal)"
    reference: ClassVar[str] = "Schein & Ungar 2007"

    def __init__(
        self,
        regularization: float | None = None,
        sampling: str = "top",
        temperature: float = 1.0,
    ) -> None:
        self.regularization = regularization
        self.sampling = sampling
        self.temperature = temperature

    def utilities(
        self, model: Any, X_pool: Any, X_labeled: Any = None, y_labeled: Any = None
    ) -> np.ndarray:
        """The reduction in the pool's summed output variance for each pool item.

        Parameters
        ----------
        model : fitted LogisticRegression or SGDClassifier(loss="log_loss") (or Pipeline)
        X_pool : array-like or sparse matrix
        X_labeled : array-like, optional
            The labeled rows the model was fitted on (their Fisher information); None or
            empty: the prior alone.
        y_labeled : ignored
            The Fisher information of these models does not depend on the labels.

        Returns
        -------
        numpy.ndarray of shape (n,), float64
        """
        return self._scores(self._adapter(model), X_pool, X_labeled)

    def _regularization(self, head: LinearHead, n_labeled: int) -> np.ndarray:
        from activelab.strategies._eer import _l2_strength

        width = head.weights.shape[1]
        diagonal = np.ones((head.n_outputs, width))
        if self.regularization is not None:
            value = self.regularization
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not (ok and np.isfinite(value) and value > 0):
                raise ValueError(
                    f"{self.name}: regularization must be a positive number or None (the "
                    f"model's own L2 strength); got {value!r}."
                )
            strength, penalise_bias = float(value), False
        else:
            strength, _, penalise_bias = _l2_strength(head, n_labeled, self.name)
            strength = strength or 1e-6
        diagonal *= strength
        if head.bias is not None and not penalise_bias:
            diagonal[:, -1] = 1e-6 * strength
        return diagonal.ravel()

    def _scores(self, model: ModelAdapter, X_pool: Any, X_labeled: Any) -> np.ndarray:
        head = linear_head(
            model,
            self.name,
            "Variance reduction needs the Fisher information of a logistic model; use "
            "'eer' or 'bald' for other models.",
        )
        pool = head.augmented(head.features(X_pool, self.name))
        pool_curvature = head.curvature(head.outputs(head.logits(pool)))
        n_labeled = 0 if X_labeled is None else n_rows(X_labeled)
        regularization = self._regularization(head, n_labeled)
        if n_labeled:
            labeled = head.augmented(head.features(X_labeled, self.name))
            curvature = head.curvature(head.outputs(head.logits(labeled)))
            fisher = fisher_information(_dense(labeled), curvature, regularization)
        else:
            size = regularization.shape[0]
            fisher = np.diag(regularization) + np.zeros((size, size))
        return variance_reduction(_dense(pool), pool_curvature, fisher)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        from activelab.select import SAMPLING_MODES, sample

        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{self.name}: sampling must be one of {SAMPLING_MODES}; got {self.sampling!r}."
            )
        utilities = self._scores(model, X_pool, X_labeled)
        return sample(utilities, k, self.sampling, self.temperature, rng)
