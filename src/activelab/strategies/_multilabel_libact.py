"""libact's auxiliary-learner and cost-sensitive reference pair encoding multi-label queries.

Both compare two views of every pool item's label vector and ask for the item where they
disagree most: :class:`MultiLabelAuxiliary` the main model against a second, auxiliary
model (Hung & Lin 2011); :class:`CSRPE` the main model's prediction against a code
predicted by binary classifiers on random pairs of reference label vectors (Yang et al.
2018). libact does not install here (it needs a C compiler and LAPACK headers), so the
tests compare against plain loops written from libact's definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from activelab.models import ModelAdapter
from activelab.models._multilabel import MultiLabelAdapter, check_indicator
from activelab.select import SAMPLING_MODES, sample
from activelab.strategies._multilabel import MultiLabelStrategy, labeled_indicator

__all__ = [
    "CSRPE",
    "MultiLabelAuxiliary",
    "auxiliary_disagreement",
    "pairwise_label_scores",
    "reference_pair_distance",
]

_CRITERIA = ("hlr", "shlr", "mmr")
_COSTS = ("hamming", "rank_loss", "f1")
_CHUNK = 4096


def auxiliary_disagreement(
    major: np.ndarray, auxiliary: np.ndarray, criterion: str = "hlr", b: float = 1.0
) -> np.ndarray:
    r"""Hung & Lin's disagreement between a main and an auxiliary multi-label learner.

    With :math:`\hat y \in \{0, 1\}^L` the main learner's prediction and
    :math:`m_j = 2 \hat y_j - 1`:

    - ``"hlr"`` (Hamming loss reduction): ``auxiliary`` holds 0/1 predictions
      :math:`\tilde y`; :math:`u = \frac1L \sum_j |\hat y_j - \tilde y_j|`.
    - ``"mmr"`` (maximum margin reduction): ``auxiliary`` holds real outputs :math:`g_j`
      (positive predicts the label); :math:`u = \sum_j (1 - m_j g_j) / 2`.
    - ``"shlr"`` (soft Hamming loss reduction): :math:`u = \sum_j (b - \mathrm{clip}(m_j
      g_j, -b, b)) / (2b)`.

    Parameters
    ----------
    major : array of shape (n, L)
        The main learner's 0/1 predictions.
    auxiliary : array of shape (n, L)
        The auxiliary learner's 0/1 predictions (``"hlr"``) or real outputs.
    criterion : {"hlr", "shlr", "mmr"}, default="hlr"
    b : float, default=1.0
        Clip bound of ``"shlr"``, ``b > 0``.

    Returns
    -------
    numpy.ndarray of shape (n,), float64
        Higher is more disagreement.

    References
    ----------
    Hung & Lin (2011), "Multi-label active learning with auxiliary learner", ACML,
    PMLR 20, pp. 315–332.

    Examples
    --------
    >>> auxiliary_disagreement([[1, 0], [1, 1]], [[1, 1], [1, 1]]).tolist()
    [0.5, 0.0]
    """
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be one of {_CRITERIA}; got {criterion!r}.")
    major = np.asarray(major, dtype=np.float64)
    auxiliary = np.asarray(auxiliary, dtype=np.float64)
    if major.ndim != 2 or major.shape != auxiliary.shape:
        raise ValueError(
            "auxiliary_disagreement needs two (n, L) arrays of the same shape; got "
            f"{major.shape} and {auxiliary.shape}."
        )
    if not (np.isfinite(major).all() and np.isfinite(auxiliary).all()):
        raise ValueError("auxiliary_disagreement: the predictions hold NaN or inf.")
    if criterion == "hlr":
        return np.abs(major - auxiliary).mean(axis=1)
    product = (2.0 * major - 1.0) * auxiliary
    if criterion == "mmr":
        return ((1.0 - product) / 2.0).sum(axis=1)
    if not (np.isfinite(b) and b > 0):
        raise ValueError(f"b must be a positive number; got {b!r}.")
    return ((b - np.clip(product, -b, b)) / (2.0 * b)).sum(axis=1)


def pairwise_label_scores(
    Y: np.ndarray, R: np.ndarray, cost: str | Callable[..., Any] = "hamming"
) -> np.ndarray:
    r"""Score of every label vector against every reference vector, higher is better.

    ``S[i, r] = score(Y[i], R[r])`` with ``Y`` the truth and ``R`` the prediction:

    - ``"hamming"``: :math:`-\frac1L \sum_j [y_j \ne r_j]`;
    - ``"rank_loss"``: minus libact's rank loss of a 0/1 prediction, :math:`-(ab +
      \frac12 cb + \frac12 ad)` with :math:`a = |\{y_j = 0, r_j = 1\}|`,
      :math:`b = |\{y_j = 1, r_j = 0\}|`, :math:`c = |\{y_j = 0, r_j = 0\}|`,
      :math:`d = |\{y_j = 1, r_j = 1\}|` (ties counted one half);
    - ``"f1"``: :math:`2 |y \wedge r| / (|y| + |r|)`, 1 when both are empty;
    - a callable ``score(Y_true, Y_pred) -> (n,)`` on row-aligned ``(n, L)`` arrays,
      called once per reference vector.

    Each named cost is matrix products (no loop over the references).

    Parameters
    ----------
    Y : array of shape (m, L), 0/1
    R : array of shape (M, L), 0/1
    cost : {"hamming", "rank_loss", "f1"} or callable, default="hamming"

    Returns
    -------
    numpy.ndarray of shape (m, M), float64

    Examples
    --------
    >>> pairwise_label_scores([[1, 0]], [[1, 0], [0, 1]]).tolist()
    [[-0.0, -1.0]]
    """
    Y = np.asarray(Y, dtype=np.float64)
    R = np.asarray(R, dtype=np.float64)
    if callable(cost):
        columns = []
        for reference in R:
            values = np.asarray(cost(Y, np.tile(reference, (Y.shape[0], 1))), dtype=np.float64)
            if values.shape != (Y.shape[0],) or not np.isfinite(values).all():
                raise ValueError(
                    "the cost callable must return one finite score per row, shape "
                    f"({Y.shape[0]},); got {values.shape}."
                )
            columns.append(values)
        return np.stack(columns, axis=1) if columns else np.empty((Y.shape[0], 0))
    if cost not in _COSTS:
        raise ValueError(f"cost must be one of {_COSTS} or a callable; got {cost!r}.")
    both = Y @ R.T  # y = 1, r = 1
    y_only = Y @ (1.0 - R).T  # y = 1, r = 0
    r_only = (1.0 - Y) @ R.T  # y = 0, r = 1
    if cost == "hamming":
        return -(y_only + r_only) / Y.shape[1]
    if cost == "rank_loss":
        neither = (1.0 - Y) @ (1.0 - R).T
        return -(r_only * y_only + 0.5 * neither * y_only + 0.5 * r_only * both)
    total = Y.sum(axis=1)[:, None] + R.sum(axis=1)[None, :]
    return np.where(total > 0, 2.0 * both / np.where(total > 0, total, 1.0), 1.0)


def reference_pair_distance(codes: np.ndarray, model_codes: np.ndarray, labeled_codes: Any):
    r"""CSRPE's query score: code disagreement plus distance to the nearest labeled code.

    :math:`u(x) = \frac1M \sum_t [z_t(x) \ne e_t(\hat y(x))] + \min_i \lVert z(x) -
    z(x_i) \rVert_2`: the Hamming distance between the code the binary classifiers
    predict for ``x`` and the encoding of the main model's prediction, plus the
    Euclidean distance from that code to the closest code predicted for a labeled item.
    Codes are 0/1, so the Euclidean distance is the square root of a count of differing
    bits, computed by matrix products in chunks of the pool.

    Parameters
    ----------
    codes : array of shape (n, M)
        Predicted codes of the pool.
    model_codes : array of shape (n, M)
        Encodings of the main model's predicted label vectors.
    labeled_codes : array of shape (m, M)
        Predicted codes of the labeled items, ``m >= 1``.

    Returns
    -------
    numpy.ndarray of shape (n,), float64

    Examples
    --------
    >>> reference_pair_distance([[1, 0, 1, 1]], [[1, 0, 0, 1]], [[0, 0, 0, 0]]).tolist()
    [1.9820508075688772]
    """
    codes = np.asarray(codes, dtype=np.float64)
    model_codes = np.asarray(model_codes, dtype=np.float64)
    labeled = np.asarray(labeled_codes, dtype=np.float64)
    if codes.shape != model_codes.shape or labeled.ndim != 2 or labeled.shape[0] == 0:
        raise ValueError(
            "reference_pair_distance needs codes and model_codes of one shape (n, M) and "
            f"at least one labeled code; got {codes.shape}, {model_codes.shape}, "
            f"{labeled.shape}."
        )
    if labeled.shape[1] != codes.shape[1]:
        raise ValueError(
            f"the labeled codes have {labeled.shape[1]} bits and the pool's {codes.shape[1]}."
        )
    width = max(codes.shape[1], 1)
    disagreement = (codes != model_codes).sum(axis=1) / width
    nearest = np.empty(codes.shape[0], dtype=np.float64)
    ones = labeled.sum(axis=1)
    for start in range(0, codes.shape[0], _CHUNK):
        block = codes[start : start + _CHUNK]
        # bits differing = |z| + |z_i| - 2 z·z_i
        differing = block.sum(axis=1)[:, None] + ones[None, :] - 2.0 * (block @ labeled.T)
        nearest[start : start + _CHUNK] = np.sqrt(np.maximum(differing.min(axis=1), 0.0))
    return disagreement + nearest


class _SampledMultiLabel(MultiLabelStrategy):
    def _check_sampling(self) -> None:
        if self.sampling not in SAMPLING_MODES:
            raise ValueError(
                f"{self.name}: sampling must be one of {SAMPLING_MODES}; got {self.sampling!r}."
            )


class MultiLabelAuxiliary(_SampledMultiLabel):
    r"""Multi-label active learning with an auxiliary learner (Hung & Lin 2011).

    The main learner is the model passed to :meth:`query` (fitted by the loop); the
    auxiliary learner is a second multi-label model, ``auxiliary``, cloned and fitted on
    the labeled set ``(X_labeled, Y_labeled)`` at every query through
    :class:`~activelab.models.MultiLabelAdapter`. By default it is binary relevance
    with a linear SVM, ``OneVsRestClassifier(LinearSVC())`` (libact's example pairs a
    logistic-regression main learner with an SVM auxiliary one); its real outputs are
    its decision function, or ``2p - 1`` when it has none. The items where the two
    disagree most are asked (:func:`auxiliary_disagreement`): ``"hlr"`` the fraction of
    labels they predict differently, ``"mmr"`` :math:`\sum_j (1 - m_j g_j)/2` and
    ``"shlr"`` the same with :math:`m_j g_j` clipped to :math:`[-b, b]`, :math:`m =
    2\hat y - 1` the main prediction and :math:`g` the auxiliary outputs.

    Same scores as libact's ``MultilabelWithAuxiliaryLearner`` with the same two models
    (libact retrains both inside the query and asks one item; here the main model is
    read, and a batch is the ``k`` best). libact does not install here, so the tests
    compare with a plain loop of its formulas.

    Parameters
    ----------
    auxiliary : estimator, optional
        An unfitted scikit-learn multi-label estimator (anything
        :class:`~activelab.models.MultiLabelAdapter` wraps); default
        ``OneVsRestClassifier(LinearSVC())``.
    criterion : {"hlr", "shlr", "mmr"}, default="hlr"
    b : float, default=1.0
        Clip bound of ``"shlr"``.
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Hung & Lin (2011), "Multi-label active learning with auxiliary learner", ACML,
    PMLR 20, pp. 315–332.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> X, Y = make_multilabel_classification(60, 4, n_classes=3, random_state=0)
    >>> model = OneVsRestClassifier(LogisticRegression()).fit(X[:20], Y[:20])
    >>> MultiLabelAuxiliary().query(model, X[20:], 3, X[:20], Y[:20], 0).shape
    (3,)
    """

    name: ClassVar[str] = "multilabel_auxiliary"
    summary: ClassVar[str] = "multi-label: disagreement of the model with an auxiliary learner"
    reference: ClassVar[str] = "Hung & Lin 2011 (ACML)"

    def __init__(
        self,
        auxiliary: Any = None,
        criterion: str = "hlr",
        b: float = 1.0,
        sampling: str = "top",
        temperature: float = 1.0,
    ):
        self.auxiliary = auxiliary
        self.criterion = criterion
        self.b = b
        self.sampling = sampling
        self.temperature = temperature

    def _requirements(self, adapter: ModelAdapter) -> tuple[str, ...]:
        return ("embed",)  # the main learner's predict, and its features for our learners

    def fit_auxiliary(self, X_labeled: Any, Y_labeled: Any) -> MultiLabelAdapter:
        """The auxiliary learner, fitted on the labeled set.

        Parameters
        ----------
        X_labeled : array-like
        Y_labeled : array-like of shape (m, L)

        Returns
        -------
        MultiLabelAdapter
        """
        from sklearn.base import clone

        if self.auxiliary is None:
            from sklearn.multiclass import OneVsRestClassifier
            from sklearn.svm import LinearSVC

            estimator = OneVsRestClassifier(LinearSVC())
        else:
            estimator = clone(self.auxiliary)
        Y = labeled_indicator(X_labeled, Y_labeled, self.name)
        return MultiLabelAdapter(estimator).fit(X_labeled, Y)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        if self.criterion not in _CRITERIA:
            raise ValueError(
                f"{self.name}: criterion must be one of {_CRITERIA}; got {self.criterion!r}."
            )
        self._check_sampling()
        major = np.asarray(model.predict(X_pool), dtype=np.float64)
        labeled_indicator(X_labeled, y_labeled, self.name, major.shape[1])
        # The auxiliary learner reads the features the main model sees (a Pipeline's
        # transformed input, the studio's item features), not the raw input.
        pool = model.embed(X_pool)
        auxiliary = self.fit_auxiliary(model.embed(X_labeled), y_labeled)
        if self.criterion == "hlr":
            outputs = auxiliary.predict(pool)
        elif "decision_function" in auxiliary.capabilities:
            outputs = auxiliary.decision_function(pool)
        else:
            auxiliary.require("predict_proba", self.name)
            outputs = 2.0 * auxiliary.predict_proba(pool) - 1.0
        utilities = auxiliary_disagreement(major, outputs, self.criterion, self.b)
        return sample(utilities, k, self.sampling, self.temperature, rng)


class CSRPE(_SampledMultiLabel):
    r"""Cost-sensitive reference pair encoding query (Yang et al. 2018; libact's CSRPE).

    ``n_codes`` pairs of reference label vectors :math:`(r^0_t, r^1_t)` are drawn
    uniformly from :math:`\{0, 1\}^L`. Bit :math:`t` of a label vector :math:`y` is
    :math:`e_t(y) = [s(y, r^1_t) > s(y, r^0_t)]`, with :math:`s` the score of the
    ``cost`` (:func:`pairwise_label_scores`): which reference is cheaper for :math:`y`.
    For each bit a clone of ``base_estimator`` is fitted on the labeled items with
    targets :math:`e_t(y_i)` and sample weights :math:`|s(y_i, r^1_t) - s(y_i, r^0_t)|`
    (normalised to sum to the number of items; a bit with one value in the labeled set
    is that constant). The pool item asked is the one maximising
    (:func:`reference_pair_distance`) the Hamming distance between its predicted code
    :math:`z(x)` and the encoding :math:`e(\hat y(x))` of the main model's prediction,
    plus the Euclidean distance from :math:`z(x)` to the nearest code predicted for a
    labeled item.

    libact's ``CostSensitiveReferencePairEncoding`` computes the same quantity; it
    refits the main model inside the query and asks one item (here the model is read and
    a batch is the ``k`` best). Its ``pairwise_f1_score`` gives 0 for two empty label
    vectors (the guard for a zero denominator sets the numerator after the
    denominator was changed); here F1 of two empty vectors is 1. libact does not
    install here, so the tests compare with a plain loop of its definitions.

    Parameters
    ----------
    cost : {"hamming", "rank_loss", "f1"} or callable, default="hamming"
        The cost the code is sensitive to; a callable ``score(Y_true, Y_pred)``
        returns one score per row, higher is better (as libact's ``scoring_fn``).
    n_codes : int, default=100
        Number of reference pairs (binary classifiers), libact's ``n_models``.
    base_estimator : estimator, optional
        Binary classifier accepting ``sample_weight``; default
        ``LogisticRegression(solver="liblinear")`` (libact's example).
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Yang, Huang, Chiu & Lin (2018), "Cost-sensitive reference pair encoding for
    multi-label learning", PAKDD, LNCS 10937, pp. 143–155.

    Examples
    --------
    >>> from sklearn.datasets import make_multilabel_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> X, Y = make_multilabel_classification(60, 4, n_classes=3, random_state=0)
    >>> model = OneVsRestClassifier(LogisticRegression()).fit(X[:20], Y[:20])
    >>> CSRPE(n_codes=10).query(model, X[20:], 3, X[:20], Y[:20], 0).shape
    (3,)
    """

    name: ClassVar[str] = "csrpe"
    summary: ClassVar[str] = "multi-label: cost-sensitive reference pair code disagreement"
    reference: ClassVar[str] = "Yang et al. 2018 (PAKDD)"

    def __init__(
        self,
        cost: str | Callable[..., Any] = "hamming",
        n_codes: int = 100,
        base_estimator: Any = None,
        sampling: str = "top",
        temperature: float = 1.0,
    ):
        self.cost = cost
        self.n_codes = n_codes
        self.base_estimator = base_estimator
        self.sampling = sampling
        self.temperature = temperature

    def _requirements(self, adapter: ModelAdapter) -> tuple[str, ...]:
        return ("embed",)  # the main learner's predict, and its features for our learners

    def references(self, L: int, rng: np.random.Generator) -> np.ndarray:
        """Random reference pairs, ``(2, n_codes, L)`` of 0/1.

        Parameters
        ----------
        L : int
            Number of labels.
        rng : numpy.random.Generator

        Returns
        -------
        numpy.ndarray of shape (2, n_codes, L), float64
        """
        if isinstance(self.n_codes, bool) or not isinstance(self.n_codes, (int, np.integer)):
            raise ValueError(f"{self.name}: n_codes must be a positive int; got {self.n_codes!r}.")
        if self.n_codes < 1:
            raise ValueError(f"{self.name}: n_codes must be at least 1; got {self.n_codes}.")
        return rng.integers(0, 2, size=(2, int(self.n_codes), L)).astype(np.float64)

    def encode(self, Y: Any, references: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Codes of label vectors and the weight of each bit.

        Parameters
        ----------
        Y : array-like of shape (m, L)
        references : array of shape (2, M, L)

        Returns
        -------
        codes : numpy.ndarray of shape (m, M), float64 of 0/1
        weights : numpy.ndarray of shape (m, M), ``|s(y, r^1) - s(y, r^0)|``
        """
        Y = check_indicator(Y, None, self.name)
        gain = pairwise_label_scores(Y, references[1], self.cost) - pairwise_label_scores(
            Y, references[0], self.cost
        )
        return (gain > 0).astype(np.float64), np.abs(gain)

    def _base(self) -> Any:
        if self.base_estimator is not None:
            from sklearn.base import clone

            return clone(self.base_estimator)
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(solver="liblinear")

    def predicted_codes(
        self, X_labeled: Any, Y_labeled: Any, X: list[Any], references: np.ndarray
    ) -> list[np.ndarray]:
        """Fit one binary classifier per reference pair and predict the codes of ``X``.

        Parameters
        ----------
        X_labeled : array-like
        Y_labeled : array-like of shape (m, L)
        X : list of array-like
            The sets to predict codes for.
        references : array of shape (2, M, L)

        Returns
        -------
        list of numpy.ndarray of shape (len(X[i]), M)
        """
        from activelab._validation import n_rows

        codes, weights = self.encode(Y_labeled, references)
        out = [np.empty((n_rows(part), codes.shape[1]), dtype=np.float64) for part in X]
        for t in range(codes.shape[1]):
            target = codes[:, t]
            if np.all(target == target[0]):
                for array in out:
                    array[:, t] = target[0]
                continue
            weight = weights[:, t] / weights[:, t].sum() * target.shape[0]
            classifier = self._base().fit(X_labeled, target, sample_weight=weight)
            for array, part in zip(out, X, strict=True):
                array[:, t] = np.asarray(classifier.predict(part), dtype=np.float64)
        return out

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        self._check_sampling()
        predicted = np.asarray(model.predict(X_pool), dtype=np.float64)
        labeled_indicator(X_labeled, y_labeled, self.name, predicted.shape[1])
        references = self.references(predicted.shape[1], rng)
        labeled = model.embed(X_labeled)  # the code classifiers read the model's features
        pool_codes, labeled_codes = self.predicted_codes(
            labeled, y_labeled, [model.embed(X_pool), labeled], references
        )
        model_codes, _ = self.encode(predicted, references)
        utilities = reference_pair_distance(pool_codes, model_codes, labeled_codes)
        return sample(utilities, k, self.sampling, self.temperature, rng)
