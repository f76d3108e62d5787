"""Multi-label strategies that query whole instances (all labels of an item at once).

Each reads a multi-label model (:class:`~activelab.models.MultiLabelAdapter`: per-label
probabilities ``(n, L)``, and ``decision_function`` where the base model has one) and
scores the pool with a pure function of :mod:`activelab.multilabel`. ``task`` is
``"multilabel"``: given a single-label classifier they raise a TypeError that says
which model to pass.

The SVM-based methods (Brinker's binary minimisation, Li et al.'s max loss and mean max
loss, MMC, the adaptive method) are defined on real-valued outputs ``f_j(x)`` whose sign
predicts label ``j``. ``output="auto"`` uses the model's ``decision_function`` when it
has one and ``2 p - 1`` otherwise (as libact and ALiPy do with probabilistic models);
``"decision"`` requires the decision function, ``"proba"`` always uses ``2 p - 1``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._data import concat_rows, take_rows
from activelab._validation import n_rows
from activelab.models import Features, ModelAdapter, wrap
from activelab.models._multilabel import check_indicator, is_multilabel_adapter
from activelab.multilabel import _scores
from activelab.select import top_k
from activelab.strategies._base import ScoreStrategy

__all__ = [
    "CVIRS",
    "MMC",
    "AdaptiveMultiLabel",
    "AvgConfidence",
    "AvgScore",
    "BinaryMinimization",
    "LabelCardinalityInconsistency",
    "MaxLoss",
    "MaxScore",
    "MeanMaxLoss",
    "MinConfidence",
    "MultiLabelStrategy",
]

_OUTPUTS = ("auto", "decision", "proba")


def labeled_indicator(X_labeled: Any, Y_labeled: Any, who: str, L: int | None = None) -> Any:
    """The labeled set's indicator matrix (checked), or a ValueError when there is none.

    Parameters
    ----------
    X_labeled : array-like or None
    Y_labeled : array-like of shape (m, L) or None
    who : str
        The strategy, for messages.
    L : int, optional
        The expected number of label columns.

    Returns
    -------
    numpy.ndarray of shape (m, L), float64 of 0/1
    """
    if X_labeled is None or Y_labeled is None or n_rows(X_labeled) == 0:
        raise ValueError(
            f"{who} needs the labeled set: pass X_labeled and Y_labeled (an indicator "
            "matrix of shape (m, L)) to query."
        )
    Y = check_indicator(Y_labeled, n_rows(X_labeled), who, name="Y_labeled")
    if L is not None and Y.shape[1] != L:
        raise ValueError(
            f"{who}: Y_labeled has {Y.shape[1]} label columns and the model predicts {L}; "
            "fit the model on the same label columns."
        )
    return Y


class MultiLabelStrategy(ScoreStrategy):
    """Base of the multi-label strategies: ``task = "multilabel"`` and the model check.

    The model must be multi-label (per-label probabilities ``(n, L)``, see
    :class:`~activelab.models.MultiLabelAdapter`); a single-label classifier or a
    regressor is refused with a TypeError saying what to pass. Strategies that need only
    ``embed`` accept ``model=None`` (the raw features).
    """

    task: ClassVar[str] = "multilabel"
    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)

    def _requirements(self, adapter: ModelAdapter) -> tuple[str, ...]:
        return self.needs

    def _adapter(self, model: Any) -> ModelAdapter | None:
        if model is None:
            if set(self.needs) <= {"embed"}:
                return Features()
            raise TypeError(
                f"{self.name} needs a fitted multi-label model ({', '.join(self.needs)}); "
                "got model=None."
            )
        adapter = wrap(model)
        if set(self.needs) <= {"embed"}:
            adapter.require("embed", self.name)
            return adapter
        if not is_multilabel_adapter(adapter):
            raise TypeError(
                f"{self.name} is a multi-label strategy and needs per-label probabilities "
                f"predict_proba of shape (n, L); {adapter.describe()} is not a multi-label "
                "model. Fit OneVsRestClassifier(LogisticRegression()), MultiOutputClassifier"
                "(...), ClassifierChain(...) or a RandomForestClassifier on an indicator "
                "matrix Y (n, L) and pass it, or al.models.MultiLabelAdapter(estimator)."
            )
        for capability in self._requirements(adapter):
            adapter.require(capability, self.name)
        return adapter


class _OutputStrategy(MultiLabelStrategy):
    """A strategy on real-valued outputs ``f`` (decision function or ``2p - 1``)."""

    def __init__(self, output: str = "auto", sampling: str = "top", temperature: float = 1.0):
        self.output = output
        self.sampling = sampling
        self.temperature = temperature

    def _requirements(self, adapter: ModelAdapter) -> tuple[str, ...]:
        if self.output not in _OUTPUTS:
            raise ValueError(f"{self.name}: output must be one of {_OUTPUTS}; got {self.output!r}.")
        if self.output == "decision":
            return ("decision_function",)
        if self.output == "auto" and "decision_function" in adapter.capabilities:
            return ()
        return ("predict_proba",)

    def _scores(self, model: ModelAdapter, X: Any) -> np.ndarray:
        if self.output == "decision" or (
            self.output == "auto" and "decision_function" in model.capabilities
        ):
            return np.asarray(model.decision_function(X), dtype=np.float64)
        return 2.0 * np.asarray(model.predict_proba(X), dtype=np.float64) - 1.0


class BinaryMinimization(_OutputStrategy):
    r"""Brinker (2006): the item closest to some label's decision boundary.

    :math:`u(x) = -\min_j |f_j(x)|` (:func:`activelab.multilabel.binary_minimization`).

    Parameters
    ----------
    output : {"auto", "decision", "proba"}, default="auto"
        The outputs ``f``: the decision function when the model has one (the paper's SVM
        distances), else ``2p - 1``.
    sampling, temperature
        As for every score strategy (``"top"``: the k best).

    References
    ----------
    Brinker (2006), "On active learning in multi-label classification", From Data and
    Information Analysis to Knowledge Engineering, pp. 206–213.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multiclass import OneVsRestClassifier
    >>> X, Y = [[0.0], [1.0], [2.0], [3.0]], [[1, 0], [1, 0], [0, 1], [0, 1]]
    >>> model = OneVsRestClassifier(LogisticRegression()).fit(X, Y)
    >>> BinaryMinimization().query(model, [[0.0], [1.5], [3.0]], 1).tolist()
    [1]
    """

    name: ClassVar[str] = "binary_minimization"
    summary: ClassVar[str] = "multi-label: smallest |f_j(x)| over the labels (SVM BinMin)"
    reference: ClassVar[str] = "Brinker 2006"

    def _utilities(self, model, X_pool):
        return _scores.binary_minimization(self._scores(model, X_pool))


class MaxLoss(_OutputStrategy):
    r"""Li, Wang & Sung (2004) Max Loss: the largest hinge loss at the predicted labels.

    :func:`activelab.multilabel.max_loss`: with :math:`\hat y_j = \mathrm{sign} f_j(x)`
    (the top label positive when none is), :math:`u(x) = \max_j \max(0, 1 - \hat y_j
    f_j(x))`.

    modAL's ``max_loss`` differs: it puts hard predictions ``2·predict - 1`` in place of
    ``f`` (so each loss is 0 or 2) and makes only the most probable label positive; its
    picks differ from the paper's continuous loss.

    Parameters
    ----------
    output : {"auto", "decision", "proba"}, default="auto"
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Li, Wang & Sung (2004), "Multilabel SVM active learning for image classification",
    ICIP, pp. 2207–2210.
    """

    name: ClassVar[str] = "max_loss"
    summary: ClassVar[str] = "multi-label: largest hinge loss at the predicted label vector"
    reference: ClassVar[str] = "Li, Wang & Sung 2004 (ICIP)"

    def _utilities(self, model, X_pool):
        return _scores.max_loss(self._scores(model, X_pool))


class MeanMaxLoss(_OutputStrategy):
    r"""Li, Wang & Sung (2004) Mean Max Loss: the mean hinge loss at the predicted labels.

    :func:`activelab.multilabel.mean_max_loss`: :math:`u(x) = \frac1L \sum_j \max(0, 1 -
    \hat y_j f_j(x))`. modAL's ``mean_max_loss`` differs as for :class:`MaxLoss`.

    Parameters
    ----------
    output : {"auto", "decision", "proba"}, default="auto"
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Li, Wang & Sung (2004), "Multilabel SVM active learning for image classification",
    ICIP, pp. 2207–2210.
    """

    name: ClassVar[str] = "mean_max_loss"
    summary: ClassVar[str] = "multi-label: mean hinge loss at the predicted label vector"
    reference: ClassVar[str] = "Li, Wang & Sung 2004 (ICIP)"

    def _utilities(self, model, X_pool):
        return _scores.mean_max_loss(self._scores(model, X_pool))


class MMC(_OutputStrategy):
    r"""Maximum loss reduction with maximal confidence (Yang et al. 2009).

    A logistic regression, trained on the labeled items' probability vectors sorted in
    decreasing order and normalised to sum 1, predicts how many labels each pool item
    has; its most probable labels up to that number form the labelling :math:`\hat y`,
    and :math:`u(x) = \sum_j (1 - \hat y_j f_j(x)) / 2`
    (:func:`activelab.multilabel.mmc`). When every labeled item has the same number of
    labels that number is used.

    libact's and ALiPy's ``MMC`` fit their own binary-relevance SVMs inside the query and
    use ``f = 2p - 1``; with ``output="proba"`` and the same model our scores are theirs
    (ALiPy's batch mode retrains on the true labels of the items it has just picked;
    ours scores the pool once).

    Parameters
    ----------
    output : {"auto", "decision", "proba"}, default="auto"
    C : float, default=1.0
        Inverse regularisation of the label-count logistic regression.
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Yang, Sun, Wang, Zha & Zhang (2009), "Effective multi-label active learning for text
    classification", KDD, pp. 917–926.
    """

    name: ClassVar[str] = "mmc"
    summary: ClassVar[str] = "multi-label: expected loss reduction, most confident labelling"
    reference: ClassVar[str] = "Yang et al. 2009 (KDD)"

    def __init__(
        self, output: str = "auto", C: float = 1.0, sampling: str = "top", temperature: float = 1.0
    ):
        super().__init__(output, sampling, temperature)
        self.C = C

    def _requirements(self, adapter):
        return tuple(sorted(set(super()._requirements(adapter)) | {"predict_proba"}))

    def label_counts(
        self, model: ModelAdapter, X_pool: Any, X_labeled: Any, Y_labeled: Any
    ) -> np.ndarray:
        """The predicted number of labels of every pool item.

        Parameters
        ----------
        model : MultiLabelAdapter
        X_pool, X_labeled : array-like
        Y_labeled : array-like of shape (m, L)

        Returns
        -------
        numpy.ndarray of shape (n,), int64
        """
        from sklearn.linear_model import LogisticRegression

        pool = np.asarray(model.predict_proba(X_pool), dtype=np.float64)
        Y = labeled_indicator(X_labeled, Y_labeled, self.name, pool.shape[1])
        counts = Y.sum(axis=1).astype(np.int64)
        if np.unique(counts).shape[0] == 1:
            return np.full(pool.shape[0], counts[0], dtype=np.int64)
        labeled = np.asarray(model.predict_proba(X_labeled), dtype=np.float64)
        regression = LogisticRegression(C=self.C, max_iter=1000)
        regression.fit(_sorted_normalised(labeled), counts)
        return regression.predict(_sorted_normalised(pool)).astype(np.int64)

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        counts = self.label_counts(model, X_pool, X_labeled, y_labeled)
        utilities = _scores.mmc(self._scores(model, X_pool), model.predict_proba(X_pool), counts)
        from activelab.select import sample

        return sample(utilities, k, self.sampling, self.temperature, rng)


def _sorted_normalised(proba: np.ndarray) -> np.ndarray:
    ordered = -np.sort(-proba, axis=1)
    total = ordered.sum(axis=1, keepdims=True)
    return ordered / np.where(total > 0, total, 1.0)


class _ProbaMultiLabel(MultiLabelStrategy):
    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)


class MinConfidence(_ProbaMultiLabel):
    r"""modAL's ``min_confidence``: the items whose smallest label probability is lowest.

    :math:`u(x) = -\min_j p_j(x)` (:func:`activelab.multilabel.min_confidence`), as modAL
    computes it on a one-vs-rest model's ``predict_proba``; same picks as modAL (ties at
    random here, by index there).

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Esuli & Sebastiani (2009), "Active learning strategies for multi-label text
    classification", ECIR, pp. 102–113.
    """

    name: ClassVar[str] = "min_confidence"
    summary: ClassVar[str] = "multi-label: lowest smallest per-label probability (modAL)"
    reference: ClassVar[str] = "Esuli & Sebastiani 2009 (ECIR)"

    def _utilities(self, model, X_pool):
        return _scores.min_confidence(model.predict_proba(X_pool))


class AvgConfidence(_ProbaMultiLabel):
    r"""modAL's ``avg_confidence``: the items with the highest mean label probability.

    :math:`u(x) = \frac1L \sum_j p_j(x)` (:func:`activelab.multilabel.avg_confidence`);
    same picks as modAL.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Esuli & Sebastiani (2009), "Active learning strategies for multi-label text
    classification", ECIR, pp. 102–113.
    """

    name: ClassVar[str] = "avg_confidence"
    summary: ClassVar[str] = "multi-label: highest mean per-label probability (modAL)"
    reference: ClassVar[str] = "Esuli & Sebastiani 2009 (ECIR)"

    def _utilities(self, model, X_pool):
        return _scores.avg_confidence(model.predict_proba(X_pool))


class MaxScore(_ProbaMultiLabel):
    r"""modAL's ``max_score``: the largest ``p_j (ŷ_j - 1/2)`` over the labels.

    :func:`activelab.multilabel.max_score`, with the model's own 0/1 predictions
    :math:`\hat y`; same picks as modAL.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Esuli & Sebastiani (2009), "Active learning strategies for multi-label text
    classification", ECIR, pp. 102–113.
    """

    name: ClassVar[str] = "max_score"
    summary: ClassVar[str] = "multi-label: largest p_j·(ŷ_j − ½) over the labels (modAL)"
    reference: ClassVar[str] = "Esuli & Sebastiani 2009 (ECIR)"

    def _utilities(self, model, X_pool):
        return _scores.max_score(model.predict_proba(X_pool), model.predict(X_pool))


class AvgScore(_ProbaMultiLabel):
    r"""modAL's ``avg_score``: the mean of ``p_j (ŷ_j - 1/2)`` over the labels.

    :func:`activelab.multilabel.avg_score`; same picks as modAL.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Esuli & Sebastiani (2009), "Active learning strategies for multi-label text
    classification", ECIR, pp. 102–113.
    """

    name: ClassVar[str] = "avg_score"
    summary: ClassVar[str] = "multi-label: mean p_j·(ŷ_j − ½) over the labels (modAL)"
    reference: ClassVar[str] = "Esuli & Sebastiani 2009 (ECIR)"

    def _utilities(self, model, X_pool):
        return _scores.avg_score(model.predict_proba(X_pool), model.predict(X_pool))


class LabelCardinalityInconsistency(MultiLabelStrategy):
    r"""Li & Guo (2013): the items whose predicted label count is furthest from the mean.

    :math:`u(x) = |\sum_j \hat y_j(x) - \bar c|` with :math:`\bar c` the labeled items'
    mean number of labels (:func:`activelab.multilabel.label_cardinality_inconsistency`),
    :math:`\hat y` the model's predictions. Same scores as small-text's
    ``LabelCardinalityInconsistency``. Its values are few distinct integers plus a
    shift, so ties are many; they are broken at random.

    Parameters
    ----------
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Li & Guo (2013), "Active learning with multi-label SVM classification", IJCAI,
    pp. 1479–1485.
    """

    name: ClassVar[str] = "label_cardinality_inconsistency"
    summary: ClassVar[str] = "multi-label: |predicted label count − labeled mean count|"
    reference: ClassVar[str] = "Li & Guo 2013 (IJCAI)"

    def _requirements(self, adapter):
        return () if "decision_function" in adapter.capabilities else self.needs

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        predicted = model.predict(X_pool)
        Y = labeled_indicator(X_labeled, y_labeled, self.name, predicted.shape[1])
        utilities = _scores.label_cardinality_inconsistency(predicted, Y.sum(axis=1).mean())
        from activelab.select import sample

        return sample(utilities, k, self.sampling, self.temperature, rng)


class CVIRS(MultiLabelStrategy):
    r"""Category vector inconsistency and ranking of scores (Reyes, Morell & Ventura 2018).

    :math:`u(x) = s(x) \cdot v(x)`: :math:`s` the Borda count of the item's ranks by
    per-label margin :math:`|2p_j - 1|` over the pool
    (:func:`activelab.multilabel.margin_rank_scores`), :math:`v` the mean normalised
    entropy distance between its predicted label vector (:math:`p_j >` ``threshold``)
    and the labeled items' label vectors
    (:func:`activelab.multilabel.category_vector_inconsistency`).

    small-text's ``CategoryVectorInconsistencyAndRanking`` differs in three places, so
    its picks differ: it computes the entropy distance but returns the Hamming
    distance; its margin is :math:`|p_j - \sum_k p_k|` rather than :math:`|2p_j - 1|`;
    and it reads ``argsort`` output as ranks and divides the distance sum by the batch
    size instead of the number of labeled items.

    Parameters
    ----------
    threshold : float, default=0.5
        Probability above which a label is predicted.
    distance : {"entropy", "hamming"}, default="entropy"
        The paper's normalised entropy distance, or the Hamming distance.
    sampling, temperature
        As for every score strategy.

    References
    ----------
    Reyes, Morell & Ventura (2018), "Effective active learning strategy for multi-label
    learning", Neurocomputing 273, pp. 494–508.
    """

    name: ClassVar[str] = "cvirs"
    summary: ClassVar[str] = "multi-label: margin-rank uncertainty × label-vector inconsistency"
    reference: ClassVar[str] = "Reyes, Morell & Ventura 2018"

    def __init__(
        self,
        threshold: float = 0.5,
        distance: str = "entropy",
        sampling: str = "top",
        temperature: float = 1.0,
    ):
        self.threshold = threshold
        self.distance = distance
        self.sampling = sampling
        self.temperature = temperature

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        proba = np.asarray(model.predict_proba(X_pool), dtype=np.float64)
        Y = labeled_indicator(X_labeled, y_labeled, self.name, proba.shape[1])
        predicted = (proba > self.threshold).astype(np.float64)
        utilities = _scores.cvirs(proba, predicted, Y, self.distance)
        from activelab.select import sample

        return sample(utilities, k, self.sampling, self.temperature, rng)


def _approximate_error(scores: np.ndarray) -> float:
    """Li & Guo's error estimate: hinge losses of the smallest positive and largest negative."""
    positive = np.where(scores >= 0, scores, np.inf).min(axis=1)
    negative = np.where(scores <= 0, scores, -np.inf).max(axis=1)
    pos_loss = np.where(np.isfinite(positive), np.maximum(0.0, 1.0 - positive), 0.0)
    neg_loss = np.where(np.isfinite(negative), np.maximum(0.0, 1.0 + negative), 0.0)
    return float((pos_loss + neg_loss).sum())


class AdaptiveMultiLabel(_OutputStrategy):
    r"""Adaptive active learning (Li & Guo 2013): uncertainty and cardinality, β chosen.

    For each trade-off :math:`\beta` in ``betas`` the score is

    .. math:: q_\beta(x) = u(x)^\beta \, c(x)^{1 - \beta}

    with :math:`u` the max-margin uncertainty (one over the separation margin,
    :func:`activelab.multilabel.separation_margin_uncertainty`) and :math:`c` the label
    cardinality inconsistency. Each :math:`\beta` nominates its best item; the model is
    refitted with that item added under its predicted labels, and the nominee whose
    refit model has the smallest approximate error on the pool (for every item, the
    hinge losses :math:`\max(0, 1 - \min_{f_j \ge 0} f_j) + \max(0, 1 + \max_{f_j \le
    0} f_j)`) wins. For a batch of ``k``, the winning :math:`\beta`'s ``k`` best items
    are taken (its nominee first). Ties for a nominee are broken at random; libact and
    ALiPy refit for every tied item, which with the integer-valued cardinality term can
    mean hundreds of refits.

    ALiPy's ``QueryMultiLabelAdaptive`` (after libact) fits its own binary-relevance
    models inside the query; with the same base model, ``output="decision"`` and ``k = 1``
    the nominees and errors are the same. Its batch mode refits on the true labels of
    the items already picked; ours chooses :math:`\beta` once per batch.

    Parameters
    ----------
    betas : sequence of float, optional
        Trade-offs in ``[0, 1]``; default ``0, 0.1, …, 1``.
    output : {"auto", "decision", "proba"}, default="auto"
    sampling, temperature
        As for every score strategy (the batch under the chosen β).

    References
    ----------
    Li & Guo (2013), "Active learning with multi-label SVM classification", IJCAI,
    pp. 1479–1485.
    """

    name: ClassVar[str] = "adaptive_multilabel"
    summary: ClassVar[str] = "multi-label: uncertainty^β × cardinality^(1−β), β by refit error"
    reference: ClassVar[str] = "Li & Guo 2013 (IJCAI)"

    def __init__(
        self,
        betas: Any = None,
        output: str = "auto",
        sampling: str = "top",
        temperature: float = 1.0,
    ):
        super().__init__(output, sampling, temperature)
        self.betas = betas

    def _betas(self) -> np.ndarray:
        if self.betas is None:
            return np.linspace(0.0, 1.0, 11)
        betas = np.asarray(self.betas, dtype=np.float64).reshape(-1)
        if (
            betas.size == 0
            or not np.isfinite(betas).all()
            or (betas < 0).any()
            or (betas > 1).any()
        ):
            raise ValueError(f"{self.name}: betas must be numbers in [0, 1]; got {self.betas!r}.")
        return betas

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        from activelab.select import sample

        betas = self._betas()
        f = self._scores(model, X_pool)
        Y = labeled_indicator(X_labeled, y_labeled, self.name, f.shape[1])
        predicted = model.predict(X_pool)
        uncertainty = _scores.separation_margin_uncertainty(f)
        cardinality = _scores.label_cardinality_inconsistency(predicted, Y.sum(axis=1).mean())
        with np.errstate(divide="ignore", invalid="ignore"):
            table = np.power(uncertainty[None, :], betas[:, None]) * np.power(
                cardinality[None, :], 1.0 - betas[:, None]
            )
        nominees = np.array([int(top_k(row, 1, rng)[0]) for row in table])
        errors: dict[int, float] = {}
        for nominee in np.unique(nominees):
            refit = model.clone()
            refit.fit(
                concat_rows(X_labeled, take_rows(X_pool, [nominee])),
                np.vstack([Y, predicted[[nominee]]]),
            )
            errors[int(nominee)] = _approximate_error(self._scores(refit, X_pool))
        best = min(errors.values())
        winners = [int(i) for i in errors if errors[i] == best]
        winner = winners[int(rng.integers(len(winners)))]
        chosen = int(np.flatnonzero(nominees == winner)[0])
        utilities = table[chosen]
        if k == 1:
            return np.array([winner], dtype=np.int64)
        rest = np.delete(np.arange(n_rows(X_pool)), winner)
        picks = sample(utilities[rest], k - 1, self.sampling, self.temperature, rng)
        return np.concatenate([[winner], rest[picks]]).astype(np.int64)
