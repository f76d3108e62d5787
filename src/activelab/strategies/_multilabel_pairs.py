"""Multi-label strategies that can query instance-label pairs: AUDI and multi-label QUIRE.

Besides :meth:`~activelab.strategies.Strategy.query` (whole instances), each has
``query_pairs(model, X, Y, k)``: ``X`` holds every item, ``Y`` its partial indicator
matrix (0/1 known, NaN or -1 unknown), and the answer is ``k`` unknown ``(row, label)``
pairs, most informative first. A :class:`~activelab.models.MultiLabelAdapter` trains on
such a partial ``Y`` by masking, and :func:`activelab.multilabel.simulate_pairs` runs the
whole loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.linalg

from activelab._distances import as_embedding, block_rows
from activelab._validation import RandomStateLike, check_k, check_random_state, n_rows
from activelab.models import ModelAdapter
from activelab.models._multilabel import check_indicator
from activelab.multilabel import _scores
from activelab.select import top_k
from activelab.strategies._base import embeddings
from activelab.strategies._multilabel import MultiLabelStrategy, labeled_indicator
from activelab.strategies._quire import (
    _check_kernel,
    _check_lambda,
    _check_variance,
    _kernel,
    _kernel_diagonal,
)

__all__ = ["AUDI", "MultiLabelQuire", "order_pairs", "partial_mean_cardinality"]


def partial_mean_cardinality(Y: np.ndarray) -> float:
    """Mean number of positive labels per item, from a partial indicator matrix.

    The fully labeled rows' mean when there are any (as ALiPy's AUDI); otherwise the
    known entries' positive rate times the number of labels.

    Parameters
    ----------
    Y : numpy.ndarray of shape (n, L)
        0/1 with NaN for unknown entries.

    Returns
    -------
    float
    """
    known = ~np.isnan(Y)
    full = known.all(axis=1)
    if full.any():
        return float(Y[full].sum(axis=1).mean())
    if not known.any():
        return 0.0
    return float(np.nanmean(Y) * Y.shape[1])


def order_pairs(
    instance_scores: np.ndarray,
    label_scores: np.ndarray,
    unknown: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The ``k`` best unknown pairs: each row's best label first, rows by their score.

    Pairs are taken in rounds: the best unknown label of every row (rows in decreasing
    ``instance_scores``), then every row's second best, and so on, so a batch spreads
    over rows before it asks a second label of one. Ties are broken at random.

    Parameters
    ----------
    instance_scores : array of shape (n,)
    label_scores : array of shape (n, L)
        Higher is asked first within a row.
    unknown : bool array of shape (n, L)
    k : int
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of shape (k, 2), int64
        ``(row, label)`` pairs.
    """
    rows, labels = np.nonzero(unknown)
    k = check_k(k, rows.shape[0])
    jitter = rng.random(rows.shape[0])
    # Rank of each pair among its row's unknown labels (0 = best), ties at random.
    within = np.lexsort((jitter, -label_scores[rows, labels], rows))
    position = np.empty(rows.shape[0], dtype=np.int64)
    starts = np.searchsorted(rows[within], rows[within], side="left")
    position[within] = np.arange(rows.shape[0]) - starts
    row_jitter = rng.random(instance_scores.shape[0])
    order = np.lexsort((row_jitter[rows], -instance_scores[rows], position))
    chosen = order[:k]
    return np.column_stack([rows[chosen], labels[chosen]]).astype(np.int64)


class AUDI(MultiLabelStrategy):
    r"""AUDI: active query driven by uncertainty and diversity (Huang & Zhou 2013).

    The instance is chosen by label-space diversity, the label by uncertainty:

    - instance: :math:`\left|\sum_j \hat y_j(x) - \bar c\right| / \max(|U_x|,
      \varepsilon)` (:func:`activelab.multilabel.audi_instance_scores`), the label
      cardinality inconsistency per unknown label of :math:`x`;
    - label: among the unknown labels of that instance, the one whose output is closest
      to the threshold (the paper's dummy label; ``|f_j(x)|`` on the decision function,
      or ``|2 p_j - 1|``).

    :meth:`query_pairs` asks instance-label pairs (the paper's setting);
    :meth:`query` asks whole instances and ranks them by the instance criterion with
    every label unknown (then the cardinality inconsistency divided by ``L``).

    The paper (and ALiPy's ``QueryMultiLabelAUDI``) couples this with its own label
    ranking model with a dummy threshold label, trained by SGD; here any multi-label
    model gives the outputs and its decision threshold plays the dummy label. A batch
    of ``k`` pairs takes the best label of the ``k`` best instances (then second labels,
    see :func:`order_pairs`); ALiPy returns one pair per call.

    Parameters
    ----------
    epsilon : float, default=0.5
        Floor of the denominator :math:`|U_x|`.
    output : {"auto", "decision", "proba"}, default="auto"
        Outputs for the label choice: the decision function when the model has one,
        else ``2p - 1``.

    References
    ----------
    Huang & Zhou (2013), "Active query driven by uncertainty and diversity for incremental
    multi-label learning", ICDM, pp. 1079–1084.
    """

    name: ClassVar[str] = "audi"
    summary: ClassVar[str] = "multi-label pairs: cardinality inconsistency, label nearest threshold"
    reference: ClassVar[str] = "Huang & Zhou 2013 (ICDM)"

    def __init__(self, epsilon: float = 0.5, output: str = "auto") -> None:
        self.epsilon = epsilon
        self.output = output

    def _requirements(self, adapter):
        if self.output not in ("auto", "decision", "proba"):
            raise ValueError(
                f"{self.name}: output must be 'auto', 'decision' or 'proba'; got {self.output!r}."
            )
        if self.output == "decision":
            return ("decision_function",)
        if self.output == "auto" and "decision_function" in adapter.capabilities:
            return ()
        return ("predict_proba",)

    def _outputs(self, model: ModelAdapter, X: Any) -> np.ndarray:
        if self.output == "decision" or (
            self.output == "auto" and "decision_function" in model.capabilities
        ):
            return np.asarray(model.decision_function(X), dtype=np.float64)
        return 2.0 * np.asarray(model.predict_proba(X), dtype=np.float64) - 1.0

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        predicted = model.predict(X_pool)
        Y = labeled_indicator(X_labeled, y_labeled, self.name, predicted.shape[1])
        scores = _scores.audi_instance_scores(
            predicted,
            Y.sum(axis=1).mean(),
            np.full(predicted.shape[0], predicted.shape[1]),
            self.epsilon,
        )
        return top_k(scores, k, rng)

    def query_pairs(
        self, model: Any, X: Any, Y: Any, k: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """The ``k`` unknown instance-label pairs to ask next, most informative first.

        Parameters
        ----------
        model : fitted multi-label model or MultiLabelAdapter
            Fitted on the known part of ``Y`` (a MultiLabelAdapter masks the unknowns).
        X : array-like, sparse matrix or DataFrame of shape (n, d)
            Every item, labeled or not.
        Y : array-like of shape (n, L)
            0/1 known, NaN or -1 unknown.
        k : int
            Pairs to ask, at most the number of unknown entries.
        random_state : int, numpy.random.Generator or None

        Returns
        -------
        numpy.ndarray of shape (k, 2), int64
            ``(row, label)`` pairs.
        """
        adapter = self._adapter(model)
        rng = check_random_state(random_state)
        labels = check_indicator(Y, n_rows(X), self.name, allow_unknown=True)
        unknown = np.isnan(labels)
        predicted = adapter.predict(X)
        instance = _scores.audi_instance_scores(
            predicted, partial_mean_cardinality(labels), unknown.sum(axis=1), self.epsilon
        )
        closeness = -np.abs(self._outputs(adapter, X))
        return order_pairs(instance, closeness, unknown, k, rng)


class MultiLabelQuire(MultiLabelStrategy):
    r"""QUIRE for multi-label data (Huang, Jin & Zhou 2014), instances or instance-label pairs.

    The label-wise QUIRE of the paper's multi-label extension (as ALiPy's
    ``QueryMultiLabelQUIRE``: kernel :math:`k` on the instances, the labels independent,
    i.e. the pair kernel :math:`I_L \otimes K`) minimises over the pair :math:`(s, j)`
    the worst case, over its unknown label :math:`y_{sj} = \pm 1`, of
    :math:`\min_{y_u} \hat y^\top L \hat y`. By the Schur-complement identity of
    :func:`activelab.strategies._quire.quire_objective`, label by label, that equals a
    constant shared by every pair plus

    .. math:: J(s, j) = \frac{(1 + |f_{sj}|)^2}{\sigma_{sj}}, \quad
              f_{sj} = k_s^\top P_j^{-1} y_j, \quad
              \sigma_{sj} = k(x_s, x_s) + \lambda - k_s^\top P_j^{-1} k_s,

    with :math:`P_j = K_{l_j l_j} + \lambda I` over the items :math:`l_j` whose label
    :math:`j` is known (coded ±1). :meth:`query_pairs` takes the smallest :math:`J`;
    :meth:`query` (whole instances, a shared labeled set) the smallest
    :math:`\sum_j J(s, j)`, the adversary choosing all labels of :math:`s`.

    ALiPy builds the full kernel over every item, its pseudo-inverse, the ``nL × nL``
    Kronecker matrix, and per candidate an inverse of the rest: O((nL)³) per candidate.
    The same objective here costs one Cholesky per label of the known rows and
    O(n·m·(d + m)) for the rest, with no ``n × n`` matrix. ALiPy's picks differ: its
    rank-one downdate of the inverse uses ``b.T.dot(b)`` on 1-D arrays (an inner product
    where the update needs the outer product), and it pairs the known labels, in set
    order, with the known pairs sorted column-major.

    Parameters
    ----------
    lmbda : float, default=1.0
        Regularisation :math:`\lambda > 0`.
    metric : str or callable, default="rbf"
        Kernel for :func:`sklearn.metrics.pairwise.pairwise_kernels`, or ``k(A, B)``.
    metric_params : dict, optional
        Kernel parameters, e.g. ``{"gamma": 0.5}`` (scikit-learn's defaults otherwise).

    References
    ----------
    Huang, Jin & Zhou (2014), "Active learning by querying informative and representative
    examples", IEEE TPAMI 36(10), pp. 1936–1949.

    Examples
    --------
    >>> X_labeled, Y_labeled = [[0.0], [4.0]], [[1, 0], [0, 1]]
    >>> MultiLabelQuire().query(None, [[0.1], [2.0], [3.9]], 1, X_labeled, Y_labeled).tolist()
    [1]
    """

    name: ClassVar[str] = "quire_multilabel"
    needs: ClassVar[tuple[str, ...]] = ("embed",)
    summary: ClassVar[str] = "multi-label QUIRE: min-max kernel objective, instances or pairs"
    reference: ClassVar[str] = "Huang, Jin & Zhou 2014 (TPAMI)"

    def __init__(
        self,
        lmbda: float = 1.0,
        metric: str | Callable = "rbf",
        metric_params: dict[str, Any] | None = None,
    ) -> None:
        self.lmbda = lmbda
        self.metric = metric
        self.metric_params = metric_params

    def _kernel(self) -> tuple[float, Callable]:
        lmbda = _check_lambda(self.lmbda, self.name)
        kernel = _kernel(self.metric, _check_kernel(self.metric, self.metric_params, self.name))
        return lmbda, kernel

    def _terms(
        self,
        pool: np.ndarray,
        labeled: np.ndarray | None,
        codes: np.ndarray,
        lmbda: float,
        kernel: Callable,
    ) -> np.ndarray:
        """``(1 + |f|)² / σ`` of every pool row and code column, ``(n, c)``."""
        diagonal = _kernel_diagonal(kernel, self.metric, pool)
        if labeled is None or labeled.shape[0] == 0:
            sigma = diagonal + lmbda
            _check_variance(sigma, self.name)
            return np.repeat((1.0 / sigma)[:, None], codes.shape[1], axis=1)
        gram = kernel(labeled, labeled)
        gram[np.diag_indices_from(gram)] += lmbda
        try:
            factor = scipy.linalg.cholesky(gram, lower=True)
        except np.linalg.LinAlgError:
            raise ValueError(
                f"{self.name}: the kernel matrix of the labeled set plus λI is not positive "
                "definite; use a PSD kernel (rbf, laplacian, poly, linear, cosine) or a "
                "larger lmbda."
            ) from None
        weights = scipy.linalg.cho_solve((factor, True), codes)
        out = np.empty((pool.shape[0], codes.shape[1]))
        step = block_rows(labeled.shape[0] + codes.shape[1], itemsize=8)
        for start in range(0, pool.shape[0], step):
            stop = min(pool.shape[0], start + step)
            cross = kernel(pool[start:stop], labeled)
            prediction = cross @ weights
            whitened = scipy.linalg.solve_triangular(factor, cross.T, lower=True)
            sigma = diagonal[start:stop] + lmbda - np.einsum("ij,ij->j", whitened, whitened)
            _check_variance(sigma, self.name)
            out[start:stop] = (1.0 + np.abs(prediction)) ** 2 / sigma[:, None]
        return out

    def objective(
        self, model: Any, X_pool: Any, X_labeled: Any = None, Y_labeled: Any = None
    ) -> np.ndarray:
        r"""The whole-instance objective :math:`\sum_j J(s, j)` of every pool item (lowest first).

        Parameters
        ----------
        model : fitted estimator, ModelAdapter or None
            Only ``embed`` is used; None: the numeric features.
        X_pool, X_labeled : array-like
        Y_labeled : array-like of shape (m, L)

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        return self._objective(self._adapter(model), X_pool, X_labeled, Y_labeled)

    def _objective(self, model, X_pool, X_labeled, Y_labeled) -> np.ndarray:
        lmbda, kernel = self._kernel()
        pool, labeled = embeddings(model, X_pool, X_labeled, self.name, dtype=np.float64)
        if labeled is None:
            return self._terms(pool, None, np.zeros((0, 1)), lmbda, kernel)[:, 0]
        Y = labeled_indicator(X_labeled, Y_labeled, self.name)
        return self._terms(pool, labeled, 2.0 * Y - 1.0, lmbda, kernel).sum(axis=1)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return top_k(-self._objective(model, X_pool, X_labeled, y_labeled), k, rng)

    def pair_objective(self, model: Any, X: Any, Y: Any) -> np.ndarray:
        """:math:`J(s, j)` of every item and label, ``(n, L)``; NaN where ``Y`` is known.

        Parameters
        ----------
        model : fitted estimator, ModelAdapter or None
        X : array-like of shape (n, d)
            Every item.
        Y : array-like of shape (n, L)
            0/1 known, NaN or -1 unknown.

        Returns
        -------
        numpy.ndarray of shape (n, L)
        """
        adapter = self._adapter(model)
        lmbda, kernel = self._kernel()
        features = as_embedding(adapter.embed(X), self.name, dtype=np.float64, what="X")
        labels = check_indicator(Y, n_rows(X), self.name, allow_unknown=True)
        out = np.full(labels.shape, np.nan)
        for j in range(labels.shape[1]):
            known = ~np.isnan(labels[:, j])
            rows = np.flatnonzero(~known)
            if rows.size == 0:
                continue
            codes = (2.0 * labels[known, j] - 1.0)[:, None]
            labeled = features[known] if known.any() else None
            out[rows, j] = self._terms(features[rows], labeled, codes, lmbda, kernel)[:, 0]
        return out

    def query_pairs(
        self, model: Any, X: Any, Y: Any, k: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """The ``k`` unknown pairs with the smallest :math:`J(s, j)`, smallest first.

        Parameters
        ----------
        model : fitted estimator, ModelAdapter or None
            Only ``embed`` is used.
        X : array-like of shape (n, d)
        Y : array-like of shape (n, L)
            0/1 known, NaN or -1 unknown.
        k : int
        random_state : int, numpy.random.Generator or None
            Breaks ties.

        Returns
        -------
        numpy.ndarray of shape (k, 2), int64
        """
        rng = check_random_state(random_state)
        values = self.pair_objective(model, X, Y)
        rows, labels = np.nonzero(~np.isnan(values))
        k = check_k(k, rows.shape[0])
        picks = top_k(-values[rows, labels], k, rng)
        return np.column_stack([rows[picks], labels[picks]]).astype(np.int64)
