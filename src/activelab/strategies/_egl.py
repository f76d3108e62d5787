"""Expected gradient length (EGL), and the view of a logistic/softmax model it works on.

:class:`LinearHead` reads the weights of a fitted logistic or softmax regression
(LogisticRegression, SGDClassifier with the log loss, alone or as the last step of a
Pipeline): the closed forms here and in the fast expected error reduction
(:mod:`activelab.strategies._eer`) are written against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from activelab.models import ModelAdapter, SklearnAdapter, numeric_features
from activelab.strategies._base import ScoreStrategy

__all__ = [
    "ExpectedGradientLength",
    "LinearHead",
    "expected_gradient_length",
    "expected_length",
    "linear_gradient_lengths",
    "linear_head",
]

_SUPPORTED = (
    "LogisticRegression or SGDClassifier(loss='log_loss'), alone or as the last step of a Pipeline"
)


@dataclass
class LinearHead:
    r"""A fitted logistic or softmax regression, seen as weights and a link.

    The model computes logits :math:`z = W \tilde x` with :math:`\tilde x = [x, b]` (the
    features through a Pipeline's earlier steps, then the bias feature ``b``; no bias
    feature without an intercept) and ``W`` of shape ``(K, D)``. ``link="softmax"``:
    ``K = C`` and :math:`p = \mathrm{softmax}(z)` (multinomial logistic regression).
    ``link="sigmoid"``: one sigmoid per weight vector, :math:`s = \sigma(z)`; ``K = 1``
    for two classes (:math:`p = [1 - s, s]`), ``K = C`` one-vs-rest otherwise
    (:math:`p = s / \sum s`, scikit-learn's normalisation).

    Attributes
    ----------
    estimator : object
        The fitted Pipeline or estimator.
    final : object
        Its last step, the linear model.
    weights : numpy.ndarray of shape (K, D)
        Coefficients, with the intercept (divided by ``bias``) as the last column.
    bias : float or None
        The value of the bias feature (1, or liblinear's ``intercept_scaling``); None
        without an intercept.
    link : {"softmax", "sigmoid"}
    classes : numpy.ndarray of shape (C,)
    """

    estimator: Any
    final: Any
    weights: np.ndarray
    bias: float | None
    link: str
    classes: np.ndarray

    @property
    def n_outputs(self) -> int:
        """``K``, the number of weight vectors."""
        return int(self.weights.shape[0])

    def features(self, X: Any, who: str) -> Any:
        """``X`` through the Pipeline's earlier steps, as a float array or CSR matrix.

        Parameters
        ----------
        X : array-like, sparse matrix, DataFrame or list of texts
        who : str
            The caller, for messages.

        Returns
        -------
        numpy.ndarray or scipy.sparse.csr_matrix of shape (n, d), float64
        """
        steps = getattr(self.estimator, "steps", None)
        if steps and len(steps) > 1:
            X = self.estimator[:-1].transform(X)
        features = numeric_features(X)
        features = (
            sp.csr_matrix(features, dtype=np.float64)
            if sp.issparse(features)
            else np.asarray(features, dtype=np.float64)
        )
        width = self.weights.shape[1] - (self.bias is not None)
        if features.shape[1] != width:
            raise ValueError(
                f"{who}: the features have {features.shape[1]} columns but "
                f"{type(self.final).__name__} was fitted on {width}; pass rows with the "
                "columns the model was trained on."
            )
        return features

    def augmented(self, features: Any) -> Any:
        """``[features, bias]``: the input of the last linear layer, ``(n, D)``.

        Parameters
        ----------
        features : numpy.ndarray or sparse matrix of shape (n, d)

        Returns
        -------
        numpy.ndarray or scipy.sparse.csr_matrix of shape (n, D)
        """
        if self.bias is None:
            return features
        column = np.full((features.shape[0], 1), self.bias)
        if sp.issparse(features):
            return sp.hstack([features, sp.csr_matrix(column)], format="csr")
        return np.hstack([features, column])

    def logits(self, augmented: Any) -> np.ndarray:
        """``z = W x̃`` for each row, ``(n, K)``."""
        return np.asarray(augmented @ self.weights.T, dtype=np.float64)

    def outputs(self, logits: np.ndarray, axis: int = -1) -> np.ndarray:
        """The link outputs ``s``: softmax or per-vector sigmoid of the logits (on ``axis``)."""
        if self.link == "softmax":
            shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
            return shifted / shifted.sum(axis=axis, keepdims=True)
        return _sigmoid(logits)

    def proba(self, outputs: np.ndarray, axis: int = -1) -> np.ndarray:
        """Class probabilities from the link outputs (classes on ``axis``), as ``predict_proba``."""
        if self.link == "softmax":
            return outputs
        if outputs.shape[axis] == 1:
            return np.concatenate([1.0 - outputs, outputs], axis=axis)
        total = outputs.sum(axis=axis, keepdims=True)
        empty = total == 0
        if empty.any():  # scikit-learn's convention: all-zero rows become uniform
            outputs = np.where(empty, 1.0, outputs)
            total = np.where(empty, outputs.shape[axis], total)
        return outputs / total

    def log_loss(self, logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
        r"""The log loss the model minimises, from logits ``(..., K)`` and targets ``e_y``.

        :math:`\log \sum_k e^{z_k} - z_y` for the softmax;
        :math:`\sum_k \log(1 + e^{z_k}) - t_k z_k` (binary cross-entropy per sigmoid)
        otherwise. ``targets`` broadcasts against ``logits``.
        """
        if self.link == "softmax":
            top = logits.max(axis=-1, keepdims=True)
            potential = np.log(np.exp(logits - top).sum(axis=-1)) + top[..., 0]
        else:
            potential = np.logaddexp(0.0, logits).sum(axis=-1)
        return potential - (logits * targets).sum(axis=-1)

    def residuals(self, outputs: np.ndarray) -> np.ndarray:
        r"""``s - e_y`` for every label ``y``: the loss gradient's class factor, ``(n, K, C)``.

        For two classes with one weight vector the factor of label ``y`` is
        :math:`s - [y = \text{classes}_1]`.
        """
        n_outputs, n_classes = outputs.shape[-1], self.classes.shape[0]
        targets = np.eye(n_classes) if n_outputs == n_classes else np.array([[0.0, 1.0]])
        return outputs[..., :, None] - targets

    def curvature(self, outputs: np.ndarray) -> np.ndarray:
        r"""The loss Hessian's class factor ``A``, ``(n, K, K)``: the Hessian of the log
        loss with respect to ``W`` is :math:`A \otimes \tilde x \tilde x^\top`, whatever
        the label; :math:`A = \mathrm{diag}(p) - p p^\top` for the softmax,
        :math:`\mathrm{diag}(s (1 - s))` for sigmoids."""
        if self.link == "softmax":
            return outputs[..., :, None] * (np.eye(outputs.shape[-1]) - outputs[..., None, :])
        spread = outputs * (1.0 - outputs)
        return spread[..., :, None] * np.eye(outputs.shape[-1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large ``|z|``."""
    out = np.empty_like(z, dtype=np.float64)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def _is_log_loss_sgd(final: Any) -> bool:
    from sklearn.linear_model import SGDClassifier

    return isinstance(final, SGDClassifier) and final.loss in ("log_loss", "log")


def linear_head(model: ModelAdapter, who: str, hint: str = "") -> LinearHead:
    """The :class:`LinearHead` of a fitted logistic or softmax regression, or a TypeError.

    Parameters
    ----------
    model : ModelAdapter
        Wrapping LogisticRegression or SGDClassifier(loss="log_loss"), alone or as a
        Pipeline's last step, fitted.
    who : str
        The caller, for messages.
    hint : str
        What to do instead, appended to the TypeError for other models.

    Returns
    -------
    LinearHead
    """
    from sklearn.linear_model import LogisticRegression

    estimator = model.estimator if isinstance(model, SklearnAdapter) else None
    steps = getattr(estimator, "steps", None)
    final = steps[-1][1] if steps else estimator
    if not (isinstance(final, LogisticRegression) or _is_log_loss_sgd(final)):
        raise TypeError(
            f"{who} has a closed form for logistic and softmax regression only: {_SUPPORTED}; "
            f"got {model.describe()}.{(' ' + hint) if hint else ''}"
        )
    if not hasattr(final, "coef_"):
        raise ValueError(f"{who}: {type(final).__name__} is not fitted; fit it first.")
    classes = np.asarray(final.classes_)
    coef = final.coef_.toarray() if sp.issparse(final.coef_) else final.coef_  # .sparsify()
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    link = "sigmoid"
    if isinstance(final, LogisticRegression) and classes.shape[0] > 2:
        multi_class = getattr(final, "multi_class", "auto")
        ovr = multi_class in ("ovr", "warn") or (
            multi_class in ("auto", "deprecated")
            and getattr(final, "solver", "lbfgs") == "liblinear"
        )
        link = "sigmoid" if ovr else "softmax"
    elif classes.shape[0] == 2 and getattr(final, "multi_class", "auto") == "multinomial":
        raise TypeError(
            f"{who}: a two-class LogisticRegression with the deprecated "
            "multi_class='multinomial' is not supported; use the default multi_class."
        )
    bias: float | None = None
    if final.fit_intercept:
        bias = 1.0
        if isinstance(final, LogisticRegression) and final.solver == "liblinear":
            bias = float(final.intercept_scaling)
        intercept = np.asarray(final.intercept_, dtype=np.float64).reshape(-1, 1)
        coef = np.hstack([coef, intercept / bias])
    return LinearHead(estimator, final, coef, bias, link, classes)


def expected_length(proba: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    r"""The expectation of per-label gradient lengths under the model's own predictions.

    .. math:: \mathrm{EGL}(x_i) = \sum_y p(y \mid x_i)\, L_{iy},
              \qquad L_{iy} = \lVert \nabla_\theta\, \ell(x_i, y) \rVert

    The one place the expectation of EGL is computed: :func:`expected_gradient_length`
    gives it the closed-form lengths of a linear head, and
    :class:`ExpectedGradientLength` the per-sample gradient lengths of a model that
    provides them (``gradient_lengths``, e.g. :class:`~activelab.models.TorchClassifier`).

    Parameters
    ----------
    proba : array of shape (n, C)
        :math:`p(y \mid x)`.
    lengths : array of shape (n, C)
        :math:`L_{iy}`, non-negative.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Settles, Craven & Ray (2008), "Multiple-instance active learning", NIPS.

    Examples
    --------
    >>> expected_length(np.array([[0.25, 0.75]]), np.array([[4.0, 0.0]]))
    array([1.])
    """
    proba = np.asarray(proba, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    if proba.ndim != 2 or proba.shape != lengths.shape:
        raise ValueError(
            f"expected_length needs probabilities and gradient lengths of the same shape "
            f"(n, C); got {proba.shape} and {lengths.shape}."
        )
    return np.einsum("ij,ij->i", proba, lengths)


def expected_gradient_length(
    proba: np.ndarray, outputs: np.ndarray, feature_norms: np.ndarray
) -> np.ndarray:
    r"""Expected length of the log-loss gradient of a logistic or softmax regression.

    .. math:: \mathrm{EGL}(x) = \sum_y p(y \mid x)\,
              \lVert \nabla_W \ell(x, y) \rVert
              = \lVert \tilde x \rVert \sum_y p(y \mid x)\, \lVert s - e_y \rVert

    The gradient of :math:`\ell = -\log p(y \mid x)` with respect to the weights ``W``
    (one row per class, the bias in the last column) is the outer product
    :math:`(s - e_y) \otimes \tilde x`, whose Frobenius norm factorises as
    :math:`\lVert s - e_y \rVert \, \lVert \tilde x \rVert`, and
    :math:`\lVert s - e_y \rVert^2 = \sum_{c \ne y} s_c^2 + (1 - s_y)^2`. With one weight
    vector (two classes) the gradient is :math:`(s - y)\,\tilde x`, so
    :math:`\mathrm{EGL} = 2\, s (1 - s) \lVert \tilde x \rVert`.

    Parameters
    ----------
    proba : array of shape (n, C)
        :math:`p(y \mid x)`, the weights of the expectation.
    outputs : array of shape (n, K)
        The link outputs ``s`` (``K = C`` for softmax or one-vs-rest, ``K = 1`` for a
        binary model's positive class).
    feature_norms : array of shape (n,)
        :math:`\lVert \tilde x \rVert`, the norm of the last layer's input with its bias.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    References
    ----------
    Settles, Craven & Ray (2008), "Multiple-instance active learning", NIPS.
    Settles & Craven (2008), "An analysis of active learning strategies for sequence
    labeling tasks", EMNLP.

    Examples
    --------
    >>> expected_gradient_length(np.array([[0.5, 0.5]]), np.array([[0.5]]), np.array([2.0]))
    array([1.])
    """
    return expected_length(proba, _link_lengths(outputs, feature_norms))


def _link_lengths(outputs: np.ndarray, feature_norms: np.ndarray) -> np.ndarray:
    """``(n, C)`` gradient norms ``||s - e_y|| · ||x̃||`` of a linear head, one per label."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if outputs.shape[1] == 1:
        positive = outputs[:, 0]
        lengths = np.stack([positive, 1.0 - positive], axis=1)  # |s - 0|, |s - 1|
    else:
        # ||s - e_y||² = Σ_{c≠y} s_c² + (1 - s_y)²; the sum over the other classes comes
        # from exclusive prefix and suffix sums, so no cancellation when s_y ≈ 1.
        squares = outputs**2
        others = np.zeros_like(squares)
        np.cumsum(squares[:, :-1], axis=1, out=others[:, 1:])
        others[:, :-1] += np.cumsum(squares[:, :0:-1], axis=1)[:, ::-1]
        lengths = np.sqrt(others + (1.0 - outputs) ** 2)
    return np.asarray(feature_norms, dtype=np.float64)[:, None] * lengths


def linear_gradient_lengths(model: ModelAdapter, X: Any, who: str = "egl") -> np.ndarray:
    r"""Per-label gradient norms :math:`\lVert \nabla_W \ell(x, y) \rVert` of a linear head.

    The closed form behind :meth:`activelab.models.SklearnAdapter.gradient_lengths`:
    :math:`\lVert s - e_y \rVert \cdot \lVert \tilde x \rVert` for every row and label (see
    :func:`expected_gradient_length`), computed for the whole pool in a few array
    operations.

    Parameters
    ----------
    model : ModelAdapter
        A fitted LogisticRegression or SGDClassifier(loss="log_loss"), alone or as the last
        step of a Pipeline, wrapped.
    X : array-like
        The rows, in the model's input space.
    who : str, default="egl"
        The caller, for messages.

    Returns
    -------
    numpy.ndarray of shape (n, C), float64
        Columns in the order of the model's ``classes_``.
    """
    head = linear_head(
        model,
        who,
        "Per-sample gradient lengths of neural networks come with al.models.TorchClassifier.",
    )
    features = head.augmented(head.features(X, who))
    if sp.issparse(features):
        squared = np.asarray(features.multiply(features).sum(axis=1)).ravel()
    else:
        squared = np.einsum("ij,ij->i", features, features)
    outputs = head.outputs(head.logits(features))
    return _link_lengths(outputs, np.sqrt(squared))


class ExpectedGradientLength(ScoreStrategy):
    r"""Expected gradient length (EGL): query what would change the model the most.

    For each pool item the expected norm, over the model's own predicted labels, of the
    gradient that training on it would add to the log-likelihood's gradient:

    .. math:: u(x) = \sum_y p(y \mid x)\, \lVert \nabla_\theta \ell(x, y; \theta) \rVert

    At the fitted weights the gradient of the labeled objective (regularisation
    included) is zero, so this is the length of the whole new gradient. For softmax
    regression the gradient for label ``y`` is :math:`(p - e_y) \otimes [x, 1]` and its
    norm factorises as :math:`\lVert p - e_y \rVert \cdot \lVert [x, 1] \rVert`; a binary
    LogisticRegression has one weight vector and gradient :math:`(p_1 - y)\,[x, 1]`
    (see :func:`expected_gradient_length`). SGDClassifier's multi-class model is
    one-vs-rest: its gradient factor is :math:`\sigma(z) - e_y`. The whole pool is
    scored in a few array operations (no loop over items).

    Supported models: LogisticRegression and SGDClassifier(loss="log_loss"), alone or as
    the last step of a Pipeline (the pool goes through the earlier steps first), in
    closed form; and any adapter with the ``gradient_lengths`` capability, which gives
    :math:`\lVert \nabla_\theta \ell(x, y) \rVert` for every label over all its
    parameters (:class:`~activelab.models.TorchClassifier`, per-sample gradients with
    ``torch.func``); both go through :func:`expected_length`. Other models get a
    TypeError. Class weights are not applied: the gradient is that of the plain log loss.

    Parameters
    ----------
    sampling : {"top", "softmax", "power", "softrank"}, default="top"
        How the batch is drawn from the utilities (see :class:`ScoreStrategy`).
    temperature : float, default=1.0
        Temperature of the stochastic modes.

    References
    ----------
    Settles, Craven & Ray (2008), "Multiple-instance active learning", NIPS.
    Settles & Craven (2008), "An analysis of active learning strategies for sequence
    labeling tasks", EMNLP.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> ExpectedGradientLength().query(model, np.array([[1.5], [9.0]]), 1).tolist()
    [0]
    """

    name: ClassVar[str] = "egl"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba", "gradient_lengths")
    summary: ClassVar[str] = "expected norm of the log-loss gradient over the predicted labels"
    reference: ClassVar[str] = "Settles & Craven 2008"

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        model.require("gradient_lengths", self.name)
        lengths = model.gradient_lengths(X_pool)  # checks the features first
        return expected_length(model.predict_proba(X_pool), lengths)
