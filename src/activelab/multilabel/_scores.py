"""Multi-label acquisition scores: pure functions on per-label arrays.

Arrays in, arrays out, no model. ``proba`` is ``P(y_j = 1 | x)`` of shape ``(n, L)``;
``scores`` is a real-valued output of the same shape whose sign predicts the label (an
SVM's or a logistic model's ``decision_function``, or ``2p - 1``); ``predicted`` is a 0/1
indicator matrix. Every function returns one value per row, float64, higher meaning more
informative (``mmc`` and the losses: higher expected loss).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "audi_instance_scores",
    "avg_confidence",
    "avg_score",
    "binary_minimization",
    "category_vector_inconsistency",
    "cvirs",
    "label_cardinality_inconsistency",
    "margin_rank_scores",
    "max_loss",
    "max_score",
    "mean_max_loss",
    "min_confidence",
    "mmc",
    "predicted_label_vectors",
    "separation_margin_uncertainty",
]

#: Rows of the pool scored against the labeled set at a time (category inconsistency).
_BLOCK = 1024


def _matrix(values: Any, name: str, who: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(
            f"{who} needs {name} of shape (n, L), one column per label; got shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{who} needs a non-empty {name}; got shape {array.shape}.")
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise ValueError(f"{who}: {name} row {row} has NaN or inf; check the model's output.")
    return array


def _proba(proba: Any, who: str) -> np.ndarray:
    array = _matrix(proba, "per-label probabilities", who)
    if (array < 0).any() or (array > 1).any():
        raise ValueError(
            f"{who} needs per-label probabilities P(y_j = 1) in [0, 1]; got values in "
            f"[{array.min():.4g}, {array.max():.4g}]. Pass predict_proba of a multi-label "
            "model, not decision scores."
        )
    return array


def _indicator(predicted: Any, who: str, name: str = "predicted") -> np.ndarray:
    array = _matrix(predicted, name, who)
    if not np.isin(array, (0.0, 1.0)).all():
        raise ValueError(f"{who} needs {name} as a 0/1 indicator matrix.")
    return array


def predicted_label_vectors(scores: Any) -> np.ndarray:
    """Sign of each score as ±1, with the top-scoring label positive when none is.

    The labelling Li et al. (2004) read off the SVM outputs: every item has at least one
    label, so an item whose scores are all negative gets its largest-scoring label.

    Parameters
    ----------
    scores : array-like of shape (n, L)

    Returns
    -------
    numpy.ndarray of shape (n, L), values in {-1.0, +1.0}

    Examples
    --------
    >>> predicted_label_vectors([[0.5, -0.2], [-0.4, -0.1]]).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    f = _matrix(scores, "scores", "predicted_label_vectors")
    signs = np.where(f > 0, 1.0, -1.0)
    none = ~(f > 0).any(axis=1)
    signs[np.flatnonzero(none), np.argmax(f[none], axis=1)] = 1.0
    return signs


def binary_minimization(scores: Any) -> np.ndarray:
    r"""Brinker (2006): minus the smallest ``|f_j(x)|`` over the labels.

    .. math:: u(x) = -\min_j |f_j(x)|

    The item closest to some label's decision boundary scores highest.

    Parameters
    ----------
    scores : array-like of shape (n, L)
        Decision values (or ``2p - 1``).

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Brinker (2006), "On active learning in multi-label classification", From Data and
    Information Analysis to Knowledge Engineering, pp. 206–213.

    Examples
    --------
    >>> binary_minimization([[2.0, -0.1], [1.0, -1.0]]).tolist()
    [-0.1, -1.0]
    """
    f = _matrix(scores, "scores", "binary_minimization")
    return -np.abs(f).min(axis=1)


def _hinge_at_prediction(scores: Any, who: str) -> np.ndarray:
    f = _matrix(scores, "scores", who)
    return np.maximum(0.0, 1.0 - predicted_label_vectors(f) * f)


def max_loss(scores: Any) -> np.ndarray:
    r"""Li, Wang & Sung (2004) Max Loss: the largest hinge loss at the predicted labels.

    With :math:`\hat y_j = \mathrm{sign} f_j(x)` (the top label positive when none is,
    :func:`predicted_label_vectors`), each label's loss if the prediction were the truth
    is :math:`\ell_j = \max(0, 1 - \hat y_j f_j(x))`, and

    .. math:: u(x) = \max_j \ell_j(x).

    Parameters
    ----------
    scores : array-like of shape (n, L)
        Decision values (or ``2p - 1``).

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Li, Wang & Sung (2004), "Multilabel SVM active learning for image classification",
    ICIP, pp. 2207–2210.

    Examples
    --------
    >>> max_loss([[2.0, -0.5], [-3.0, -2.0]]).tolist()
    [0.5, 3.0]
    """
    return _hinge_at_prediction(scores, "max_loss").max(axis=1)


def mean_max_loss(scores: Any) -> np.ndarray:
    r"""Li, Wang & Sung (2004) Mean Max Loss: the mean hinge loss at the predicted labels.

    .. math:: u(x) = \frac{1}{L} \sum_j \max(0, 1 - \hat y_j f_j(x))

    with :math:`\hat y` as in :func:`max_loss`.

    Parameters
    ----------
    scores : array-like of shape (n, L)

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Li, Wang & Sung (2004), "Multilabel SVM active learning for image classification",
    ICIP, pp. 2207–2210.

    Examples
    --------
    >>> mean_max_loss([[2.0, -0.5], [-3.0, -2.0]]).tolist()
    [0.25, 1.5]
    """
    return _hinge_at_prediction(scores, "mean_max_loss").mean(axis=1)


def mmc(scores: Any, proba: Any, n_labels: Any) -> np.ndarray:
    r"""Yang et al. (2009) MMC: expected loss reduction with the most confident labelling.

    The item's labelling :math:`\hat y` marks its ``n_labels`` most probable labels
    positive (+1) and the rest negative (-1); the score is the loss reduction estimate

    .. math:: u(x) = \sum_j \frac{1 - \hat y_j f_j(x)}{2}.

    Parameters
    ----------
    scores : array-like of shape (n, L)
        Decision values ``f`` (SVM outputs in the paper; ``2p - 1`` as libact and ALiPy
        use).
    proba : array-like of shape (n, L)
        Probabilities that rank the labels of each item.
    n_labels : array-like of int, shape (n,)
        The predicted number of labels of each item.

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Yang, Sun, Wang, Zha & Zhang (2009), "Effective multi-label active learning for text
    classification", KDD, pp. 917–926.

    Examples
    --------
    >>> mmc([[0.8, -0.6]], [[0.9, 0.2]], [2]).round(6).tolist()
    [0.9]
    """
    f = _matrix(scores, "scores", "mmc")
    p = _proba(proba, "mmc")
    counts = np.asarray(n_labels, dtype=np.int64).reshape(-1)
    if p.shape != f.shape or counts.shape[0] != f.shape[0]:
        raise ValueError(
            f"mmc needs scores and proba of one shape and one count per row; got "
            f"{f.shape}, {p.shape} and {counts.shape}."
        )
    order = np.argsort(-p, axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(p.shape[0])[:, None], order] = np.arange(p.shape[1])[None, :]
    labelling = np.where(rank < counts[:, None], 1.0, -1.0)
    return ((1.0 - labelling * f) / 2.0).sum(axis=1)


def label_cardinality_inconsistency(predicted: Any, mean_cardinality: float) -> np.ndarray:
    r"""Li & Guo (2013): distance of the predicted label count from the labeled mean.

    .. math:: c(x) = \left| \sum_j \hat y_j(x) - \bar c \right|, \qquad
              \bar c = \frac{1}{m} \sum_{i \le m} \sum_j y_{ij}

    Parameters
    ----------
    predicted : array-like of shape (n, L)
        0/1 predictions.
    mean_cardinality : float
        The mean number of labels per labeled item.

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Li & Guo (2013), "Active learning with multi-label SVM classification", IJCAI,
    pp. 1479–1485.

    Examples
    --------
    >>> label_cardinality_inconsistency([[1, 1, 0], [0, 0, 0]], 1.5).tolist()
    [0.5, 1.5]
    """
    y = _indicator(predicted, "label_cardinality_inconsistency")
    return np.abs(y.sum(axis=1) - float(mean_cardinality))


def separation_margin_uncertainty(scores: Any) -> np.ndarray:
    r"""Li & Guo (2013) max-margin uncertainty: one over the separation margin.

    .. math:: u(x) = \frac{1}{\min_{j: f_j > 0} f_j(x) - \max_{j: f_j \le 0} f_j(x)}

    An item with no positive or no negative label has an infinite margin: 0.

    Parameters
    ----------
    scores : array-like of shape (n, L)

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Li & Guo (2013), "Active learning with multi-label SVM classification", IJCAI.

    Examples
    --------
    >>> separation_margin_uncertainty([[1.0, -1.0], [2.0, 1.0]]).tolist()
    [0.5, 0.0]
    """
    f = _matrix(scores, "scores", "separation_margin_uncertainty")
    positive = np.where(f > 0, f, np.inf).min(axis=1)
    negative = np.where(f <= 0, f, -np.inf).max(axis=1)
    margin = positive - negative
    out = np.zeros(f.shape[0])
    finite = np.isfinite(margin) & (margin > 0)
    out[finite] = 1.0 / margin[finite]
    return out


def min_confidence(proba: Any) -> np.ndarray:
    r"""modAL's ``min_confidence``: minus the smallest per-label probability.

    .. math:: u(x) = -\min_j p_j(x)

    Parameters
    ----------
    proba : array-like of shape (n, L)

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Esuli & Sebastiani (2009), "Active learning strategies for multi-label text
    classification", ECIR, pp. 102–113 (as modAL's ``multilabel.min_confidence``).

    Examples
    --------
    >>> min_confidence([[0.9, 0.2], [0.6, 0.5]]).tolist()
    [-0.2, -0.5]
    """
    return -_proba(proba, "min_confidence").min(axis=1)


def avg_confidence(proba: Any) -> np.ndarray:
    r"""modAL's ``avg_confidence``: the mean per-label probability.

    .. math:: u(x) = \frac{1}{L} \sum_j p_j(x)

    Parameters
    ----------
    proba : array-like of shape (n, L)

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Esuli & Sebastiani (2009), ECIR (as modAL's ``multilabel.avg_confidence``).

    Examples
    --------
    >>> avg_confidence([[0.9, 0.2]]).tolist()
    [0.55]
    """
    return _proba(proba, "avg_confidence").mean(axis=1)


def _signed(proba: Any, predicted: Any, who: str) -> np.ndarray:
    p = _proba(proba, who)
    y = _indicator(predicted, who)
    if y.shape != p.shape:
        raise ValueError(f"{who} needs proba and predicted of one shape; got {p.shape}, {y.shape}.")
    return p * (y - 0.5)


def max_score(proba: Any, predicted: Any) -> np.ndarray:
    r"""modAL's ``max_score``: the largest ``p_j (ŷ_j - 1/2)`` over the labels.

    .. math:: u(x) = \max_j p_j(x) \left(\hat y_j(x) - \tfrac12\right)

    Parameters
    ----------
    proba : array-like of shape (n, L)
    predicted : array-like of shape (n, L)
        The model's 0/1 predictions.

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Esuli & Sebastiani (2009), ECIR (as modAL's ``multilabel.max_score``).

    Examples
    --------
    >>> max_score([[0.9, 0.2]], [[1, 0]]).tolist()
    [0.45]
    """
    return _signed(proba, predicted, "max_score").max(axis=1)


def avg_score(proba: Any, predicted: Any) -> np.ndarray:
    r"""modAL's ``avg_score``: the mean of ``p_j (ŷ_j - 1/2)`` over the labels.

    .. math:: u(x) = \frac{1}{L} \sum_j p_j(x) \left(\hat y_j(x) - \tfrac12\right)

    Parameters
    ----------
    proba : array-like of shape (n, L)
    predicted : array-like of shape (n, L)

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Esuli & Sebastiani (2009), ECIR (as modAL's ``multilabel.avg_score``).

    Examples
    --------
    >>> avg_score([[0.9, 0.2]], [[1, 0]]).tolist()
    [0.175]
    """
    return _signed(proba, predicted, "avg_score").mean(axis=1)


def margin_rank_scores(proba: Any) -> np.ndarray:
    r"""Reyes et al. (2018): Borda count of the items' per-label margin ranks.

    The margin of label :math:`j` is :math:`m_j(x) = |P(y_j = 1|x) - P(y_j = 0|x)| =
    |2 p_j - 1|`. Per label, the :math:`N` pool items are ranked by increasing margin
    (rank 1 the most uncertain; ties share their mean rank), and

    .. math:: s(x) = \frac{1}{L (N - 1)} \sum_j \left(N - r_j(x)\right) \in [0, 1].

    Parameters
    ----------
    proba : array-like of shape (N, L)

    Returns
    -------
    numpy.ndarray of shape (N,)
        1 for an item first on every label's ranking; all 1 when ``N = 1``.

    References
    ----------
    Reyes, Morell & Ventura (2018), "Effective active learning strategy for multi-label
    learning", Neurocomputing 273, pp. 494–508.

    Examples
    --------
    >>> margin_rank_scores([[0.5, 0.5], [0.9, 0.1]]).tolist()
    [1.0, 0.0]
    """
    from scipy.stats import rankdata

    p = _proba(proba, "margin_rank_scores")
    n, labels = p.shape
    if n == 1:
        return np.ones(1)
    ranks = rankdata(np.abs(2.0 * p - 1.0), method="average", axis=0)
    return (n - ranks).sum(axis=1) / (labels * (n - 1.0))


def _binary_entropy(count: np.ndarray, total: float) -> np.ndarray:
    """``-t log2 t - (1 - t) log2 (1 - t)`` with ``t = count / total`` (0 log 0 = 0)."""
    t = count / total
    out = np.zeros_like(t)
    for part in (t, 1.0 - t):
        inside = part > 0
        out[inside] -= part[inside] * np.log2(part[inside])
    return out


def _plogp(count: np.ndarray, total: float) -> np.ndarray:
    t = count / total
    out = np.zeros_like(t)
    inside = t > 0
    out[inside] = -t[inside] * np.log2(t[inside])
    return out


def category_vector_inconsistency(
    predicted: Any, Y_labeled: Any, distance: str = "entropy"
) -> np.ndarray:
    r"""Reyes et al. (2018): mean distance of an item's predicted label vector to the labeled ones.

    For binary vectors :math:`u` (predicted) and :math:`v` (a labeled item's labels) of
    length :math:`L`, with the counts :math:`a` (both 1), :math:`b` (only :math:`v`),
    :math:`c` (only :math:`u`), :math:`d` (both 0), the normalised entropy distance is

    .. math:: D(u, v) = \frac{2 H(u, v) - H(u) - H(v)}{H(u, v)},

    with :math:`H(u, v)` the entropy of :math:`(a, b, c, d) / L` and :math:`H(u)`,
    :math:`H(v)` those of the vectors' own 0/1 frequencies (base 2); :math:`D = 1` when
    the vectors are complementary (Hamming distance 1) and :math:`D = 0` when
    :math:`H(u, v) = 0` (equal constant vectors). The score is the mean of :math:`D`
    over the labeled items. ``distance="hamming"`` uses :math:`(b + c) / L` instead.

    Cost: O(N·m·L) in blocks of pool rows (no ``N × m`` matrix held beyond a block).

    Parameters
    ----------
    predicted : array-like of shape (N, L)
        0/1 predictions of the pool.
    Y_labeled : array-like of shape (m, L)
        0/1 labels of the labeled set.
    distance : {"entropy", "hamming"}, default="entropy"

    Returns
    -------
    numpy.ndarray of shape (N,), values in [0, 1]

    References
    ----------
    Reyes, Morell & Ventura (2018), "Effective active learning strategy for multi-label
    learning", Neurocomputing 273, pp. 494–508.

    Examples
    --------
    >>> category_vector_inconsistency([[1, 0], [0, 1]], [[1, 0]]).tolist()
    [0.0, 1.0]
    """
    who = "category_vector_inconsistency"
    u = _indicator(predicted, who)
    v = _indicator(Y_labeled, who, "Y_labeled")
    if u.shape[1] != v.shape[1]:
        raise ValueError(
            f"{who}: predicted has {u.shape[1]} labels and Y_labeled {v.shape[1]}; they "
            "must be the same label columns."
        )
    if distance not in ("entropy", "hamming"):
        raise ValueError(f"{who}: distance must be 'entropy' or 'hamming'; got {distance!r}.")
    q = float(u.shape[1])
    v_ones = v.sum(axis=1)
    h_v = _binary_entropy(v_ones, q)
    out = np.empty(u.shape[0])
    for start in range(0, u.shape[0], _BLOCK):
        block = u[start : start + _BLOCK]
        a = block @ v.T
        u_ones = block.sum(axis=1)
        c = u_ones[:, None] - a
        b = v_ones[None, :] - a
        d = q - a - b - c
        hamming = (b + c) / q
        if distance == "hamming":
            out[start : start + block.shape[0]] = hamming.mean(axis=1)
            continue
        joint = _plogp(a, q) + _plogp(b, q) + _plogp(c, q) + _plogp(d, q)
        h_u = _binary_entropy(u_ones, q)
        numerator = 2.0 * joint - h_u[:, None] - h_v[None, :]
        values = np.zeros_like(joint)
        positive = joint > 1e-12
        values[positive] = numerator[positive] / joint[positive]
        values[hamming == 1.0] = 1.0
        out[start : start + block.shape[0]] = np.clip(values, 0.0, 1.0).mean(axis=1)
    return out


def cvirs(proba: Any, predicted: Any, Y_labeled: Any, distance: str = "entropy") -> np.ndarray:
    r"""Reyes et al. (2018) CVIRS: margin-rank uncertainty times category vector inconsistency.

    .. math:: u(x) = s(x) \cdot v(x)

    with :math:`s` from :func:`margin_rank_scores` (over the pool) and :math:`v` from
    :func:`category_vector_inconsistency`.

    Parameters
    ----------
    proba : array-like of shape (N, L)
    predicted : array-like of shape (N, L)
    Y_labeled : array-like of shape (m, L)
    distance : {"entropy", "hamming"}, default="entropy"

    Returns
    -------
    numpy.ndarray of shape (N,)

    References
    ----------
    Reyes, Morell & Ventura (2018), "Effective active learning strategy for multi-label
    learning", Neurocomputing 273, pp. 494–508.

    Examples
    --------
    >>> cvirs([[0.5, 0.5], [0.9, 0.1]], [[1, 1], [1, 0]], [[1, 0]]).round(3).tolist()
    [1.0, 0.0]
    """
    return margin_rank_scores(proba) * category_vector_inconsistency(predicted, Y_labeled, distance)


def audi_instance_scores(
    predicted: Any, mean_cardinality: float, n_unknown: Any, epsilon: float = 0.5
) -> np.ndarray:
    r"""AUDI's instance criterion (Huang & Zhou 2013): cardinality inconsistency per unknown label.

    .. math:: u(x) = \frac{\left| \sum_j \hat y_j(x) - \bar c \right|}
                          {\max(|U_x|, \varepsilon)}

    with :math:`|U_x|` the number of labels of :math:`x` still unknown (ALiPy's
    ``QueryMultiLabelAUDI`` reading of the paper).

    Parameters
    ----------
    predicted : array-like of shape (n, L)
    mean_cardinality : float
        Mean number of positive labels of the fully labeled items.
    n_unknown : array-like of shape (n,)
    epsilon : float, default=0.5
        Floor of the denominator.

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Huang & Zhou (2013), "Active query driven by uncertainty and diversity for incremental
    multi-label learning", ICDM, pp. 1079–1084.

    Examples
    --------
    >>> audi_instance_scores([[1, 1, 0]], 1.0, [2]).tolist()
    [0.5]
    """
    inconsistency = label_cardinality_inconsistency(predicted, mean_cardinality)
    unknown = np.asarray(n_unknown, dtype=np.float64).reshape(-1)
    return inconsistency / np.maximum(unknown, float(epsilon))
