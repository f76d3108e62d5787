r"""Acquisition scores for taggers: pure functions of tagger outputs, higher = more informative.

Sentence-level scores read path probabilities (Viterbi, N-best) or posterior samples of
paths; token-level scores read per-token marginals and are aggregated over a sentence
(total, mean or max) with :func:`aggregate`. Per-token class-probability scores reuse
:mod:`activelab.scores` on the ``(n_tokens, L)`` marginals, so the maths of entropy,
least confidence, margin, KL-to-consensus and BALD lives in one place.

References
----------
Settles & Craven (2008), "An analysis of active learning strategies for sequence
labeling tasks", EMNLP. Shen, Yun, Lipton, Kronrod & Anandkumar (2018), "Deep active
learning for named entity recognition", ICLR. Siddhant & Lipton (2018), "Deep Bayesian
active learning for natural language processing: results of a large-scale empirical
study", EMNLP.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from activelab import scores
from activelab.sequence._ragged import Ragged

__all__ = [
    "AGGREGATES",
    "aggregate",
    "mnlp",
    "nbest_entropy",
    "nbest_margin",
    "path_disagreement",
    "token_bald",
    "token_kl",
    "token_uncertainty",
    "token_vote_entropy",
    "viterbi_least_confidence",
]

#: How per-token scores become one score per sentence.
AGGREGATES: tuple[str, ...] = ("total", "mean", "max")


def _log_proba(log_proba: Any, ndim: int, who: str) -> np.ndarray:
    array = np.asarray(log_proba, dtype=np.float64)
    if array.ndim != ndim:
        shape = "(n_sentences,)" if ndim == 1 else "(n_sentences, n_best)"
        raise ValueError(f"{who} needs log-probabilities of shape {shape}; got {array.shape}.")
    if np.isnan(array).any() or (array > 1e-9).any():
        raise ValueError(
            f"{who} needs log-probabilities (<= 0, no NaN); got values up to "
            f"{np.nanmax(array):.4g}. Pass log P(y|x), not scores or probabilities."
        )
    return np.minimum(array, 0.0)


def aggregate(token_scores: Ragged, how: str = "total") -> np.ndarray:
    """One score per sentence from per-token scores.

    Parameters
    ----------
    token_scores : Ragged of shape (n_tokens,)
    how : {"total", "mean", "max"}
        Sum over tokens (favours long sentences), length-normalised mean, or the single
        most uncertain token. An empty sentence scores 0.

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    Examples
    --------
    >>> aggregate(Ragged.from_list([[0.5, 0.1], [0.2]]), "mean").tolist()
    [0.3, 0.2]
    """
    if how == "total":
        out = token_scores.sum()
    elif how == "mean":
        out = token_scores.mean()
    elif how == "max":
        out = token_scores.max()
    else:
        raise ValueError(f"aggregate must be one of {AGGREGATES}; got {how!r}.")
    out[token_scores.lengths == 0] = 0.0
    return out


def viterbi_least_confidence(log_proba: Any) -> np.ndarray:
    r"""Least confidence of the best path: :math:`1 - P(y^* \mid x)`.

    Parameters
    ----------
    log_proba : array of shape (n_sentences,)
        :math:`\log P(y^* \mid x)` of each sentence's Viterbi path.

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    References
    ----------
    Culotta & McCallum (2005), "Reducing labeling effort for structured prediction
    tasks", AAAI; Settles & Craven (2008), "least confidence".

    Examples
    --------
    >>> viterbi_least_confidence(np.log([0.9, 0.2])).round(3)
    array([0.1, 0.8])
    """
    return 1.0 - np.exp(_log_proba(log_proba, 1, "viterbi_least_confidence"))


def mnlp(log_proba: Any, lengths: Any) -> np.ndarray:
    r"""Maximum normalised log-probability (MNLP), as a utility: :math:`-\frac1T \log P(y^*)`.

    Shen et al. (2018) query the sentences with the smallest
    :math:`\max_y \frac1T \log P(y \mid x)`; the negation here keeps "higher = more
    informative". Dividing by the length :math:`T` removes least confidence's preference
    for long sentences. An empty sentence scores 0.

    Parameters
    ----------
    log_proba : array of shape (n_sentences,)
        :math:`\log P(y^* \mid x)` of the Viterbi path.
    lengths : array of int of shape (n_sentences,)

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    References
    ----------
    Shen, Yun, Lipton, Kronrod & Anandkumar (2018), "Deep active learning for named
    entity recognition", ICLR.

    Examples
    --------
    >>> mnlp(np.log([0.5, 0.5]), [1, 4]).round(4)
    array([0.6931, 0.1733])
    """
    values = _log_proba(log_proba, 1, "mnlp")
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape != values.shape or (lengths < 0).any():
        raise ValueError("mnlp needs one non-negative length per log-probability.")
    out = np.zeros_like(values)
    np.divide(-values, lengths, out=out, where=lengths > 0)
    return out


def nbest_margin(log_proba: Any) -> np.ndarray:
    r"""Margin of the two best paths: :math:`1 - (P(y_1 \mid x) - P(y_2 \mid x))`.

    Parameters
    ----------
    log_proba : array of shape (n_sentences, n_best)
        Log-probabilities of the N best paths, best first (``-inf`` where missing).

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    References
    ----------
    Scheffer, Decomain & Wrobel (2001), "Active hidden Markov models for information
    extraction", IDA; Settles & Craven (2008), "margin".

    Examples
    --------
    >>> nbest_margin(np.log([[0.6, 0.3], [0.9, 0.05]])).round(3)
    array([0.7 , 0.15])
    """
    values = _log_proba(log_proba, 2, "nbest_margin")
    if values.shape[1] < 2:
        raise ValueError("nbest_margin needs at least the two best paths (n_best >= 2).")
    proba = np.exp(values)
    return 1.0 - (proba[:, 0] - proba[:, 1])


def nbest_entropy(log_proba: Any, normalize: bool = True) -> np.ndarray:
    r"""Entropy of the distribution over the N best paths.

    .. math:: H_N(x) = -\sum_{y \in \mathcal{N}} \tilde P(y) \log \tilde P(y)

    with :math:`\tilde P = P(y \mid x) / \sum_{y' \in \mathcal{N}} P(y' \mid x)` when
    ``normalize`` (the N-best list taken as the support, as Settles & Craven 2008 and
    Kim et al. 2006 do), else the unnormalised probabilities.

    Parameters
    ----------
    log_proba : array of shape (n_sentences, n_best)
        ``-inf`` where a sentence has fewer paths.
    normalize : bool

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    References
    ----------
    Settles & Craven (2008), "N-best sequence entropy"; Kim, Song, Kim, Cha & Lee
    (2006), "MMR-based active machine learning for bio named entity recognition",
    HLT-NAACL.

    Examples
    --------
    >>> nbest_entropy(np.array([[np.log(0.25), np.log(0.25)], [np.log(0.5), -np.inf]])).round(4)
    array([0.6931, 0.    ])
    """
    values = _log_proba(log_proba, 2, "nbest_entropy")
    if normalize:
        top = values.max(axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        shifted = np.exp(values - top)
        total = shifted.sum(axis=1, keepdims=True)
        proba = np.divide(shifted, total, out=np.zeros_like(shifted), where=total > 0)
    else:
        proba = np.exp(values)
    logs = np.log(np.where(proba > 0, proba, 1.0))
    return -(proba * logs).sum(axis=1) + 0.0  # + 0.0 turns -0.0 into 0.0


def token_uncertainty(marginals: Ragged, kind: str = "entropy") -> Ragged:
    r"""A per-token uncertainty of the marginals, by :mod:`activelab.scores`.

    Parameters
    ----------
    marginals : Ragged of shape (n_tokens, L)
    kind : {"entropy", "least_confidence", "margin", "neg_log_max"}
        ``"neg_log_max"`` is :math:`-\log \max_j P(y_t = j)`, the per-token term of
        MNLP.

    Returns
    -------
    Ragged of shape (n_tokens,)

    Examples
    --------
    >>> token_uncertainty(Ragged.from_list([[[0.5, 0.5], [1.0, 0.0]]])).values.round(4)
    array([0.6931, 0.    ])
    """
    values = marginals.values
    if values.shape[0] == 0:  # only empty sentences
        if kind not in ("entropy", "least_confidence", "margin", "ratio", "neg_log_max"):
            scores.uncertainty(kind, "token_uncertainty")  # raises the usual message
        return marginals.with_values(np.zeros(0))
    if kind == "neg_log_max":
        scores.least_confidence(values)  # validates the rows
        out = -np.log(np.maximum(values.max(axis=1), np.finfo(np.float64).tiny))
    else:
        out = scores.uncertainty(kind, "token_uncertainty")(values)
    return marginals.with_values(out)


def _vote_counts(paths: Ragged, n_labels: int) -> tuple[np.ndarray, int]:
    labels = np.asarray(paths.values, dtype=np.int64)
    if labels.ndim != 2:
        raise ValueError(
            f"sample paths need shape (n_tokens, m); got {labels.shape}. Each column is "
            "one member's (or posterior draw's) path."
        )
    n_tokens, m = labels.shape
    if labels.size and (labels.min() < 0 or labels.max() >= n_labels):
        raise ValueError(f"sample path labels must be in [0, {n_labels}).")
    cells = (np.arange(n_tokens)[:, None] * n_labels + labels).ravel()
    counts = np.bincount(cells, minlength=n_tokens * n_labels).reshape(n_tokens, n_labels)
    return counts.astype(np.float64), m


def token_vote_entropy(paths: Ragged, n_labels: int) -> Ragged:
    r"""Vote entropy of each token over the members' paths.

    .. math:: VE_t = -\sum_j \frac{V(j, t)}{m} \log \frac{V(j, t)}{m}

    where :math:`V(j, t)` counts the members whose (Viterbi) path gives token :math:`t`
    label :math:`j`. Settles & Craven's sentence score is the mean over tokens.

    Parameters
    ----------
    paths : Ragged of int, shape (n_tokens, m)
    n_labels : int

    Returns
    -------
    Ragged of shape (n_tokens,)

    References
    ----------
    Dagan & Engelson (1995); Settles & Craven (2008), "vote entropy".

    Examples
    --------
    >>> token_vote_entropy(Ragged.from_list([[[0, 1], [1, 1]]]), 2).values.round(4)
    array([0.6931, 0.    ])
    """
    counts, m = _vote_counts(paths, n_labels)
    share = counts / m
    logs = np.log(np.where(share > 0, share, 1.0))
    return paths.with_values(-(share * logs).sum(axis=1) + 0.0)


def _member_first(samples: Ragged) -> np.ndarray:
    values = np.asarray(samples.values)
    if values.ndim != 3:
        raise ValueError(
            f"sample marginals need shape (n_tokens, m, L); got {values.shape}. Stack the "
            "members' marginals on axis 1."
        )
    return np.ascontiguousarray(values.transpose(1, 0, 2))


def token_kl(samples: Ragged) -> Ragged:
    r"""Mean KL divergence of each member's token marginal from the consensus.

    .. math:: KL_t = \frac1m \sum_i D\big(P_i(y_t) \,\|\, \bar P(y_t)\big)

    computed by :func:`activelab.scores.kl_consensus`.

    Parameters
    ----------
    samples : Ragged of shape (n_tokens, m, L)

    Returns
    -------
    Ragged of shape (n_tokens,)

    References
    ----------
    McCallum & Nigam (1998); Settles & Craven (2008), "Kullback-Leibler".

    Examples
    --------
    >>> token_kl(Ragged.from_list([[[[1.0, 0.0], [0.0, 1.0]]]])).values.round(4)
    array([0.6931])
    """
    members = _member_first(samples)
    if members.shape[1] == 0:
        return samples.with_values(np.zeros(0))
    return samples.with_values(scores.kl_consensus(members))


def token_bald(samples: Ragged) -> Ragged:
    r"""Mutual information between each token's label and the model (BALD).

    .. math:: I_t = H\big[\bar P(y_t)\big] - \frac1m \sum_i H\big[P_i(y_t)\big]

    computed by :func:`activelab.scores.bald` on the posterior samples' marginals.

    Parameters
    ----------
    samples : Ragged of shape (n_tokens, m, L)

    Returns
    -------
    Ragged of shape (n_tokens,)

    References
    ----------
    Houlsby et al. (2011); Shelmanov et al. (2021), "Active learning for sequence
    tagging with deep pre-trained models and Bayesian uncertainty estimates", EACL.

    Examples
    --------
    >>> token_bald(Ragged.from_list([[[[1.0, 0.0], [0.0, 1.0]]]])).values.round(4)
    array([0.6931])
    """
    members = _member_first(samples)
    if members.shape[1] == 0:
        return samples.with_values(np.zeros(0))
    return samples.with_values(scores.bald(members))


def token_variation_ratio(paths: Ragged, n_labels: int) -> Ragged:
    r"""Share of members that disagree with each token's modal label, :math:`1 - f_t/m`.

    Parameters
    ----------
    paths : Ragged of int, shape (n_tokens, m)
    n_labels : int

    Returns
    -------
    Ragged of shape (n_tokens,)

    Examples
    --------
    >>> token_variation_ratio(Ragged.from_list([[[0, 1, 1]]]), 2).values.round(4)
    array([0.3333])
    """
    counts, m = _vote_counts(paths, n_labels)
    return paths.with_values(1.0 - counts.max(axis=1) / m)


def path_disagreement(paths: Ragged) -> np.ndarray:
    r"""BALD for taggers as Siddhant & Lipton (2018) define it: :math:`1 - f_s / m`.

    :math:`f_s` is the number of the ``m`` posterior samples (MC dropout passes,
    committee members) whose whole tag path equals the most frequent path. 0 when every
    sample agrees on the sentence; an empty sentence scores 0.

    Parameters
    ----------
    paths : Ragged of int, shape (n_tokens, m)

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    References
    ----------
    Siddhant & Lipton (2018), "Deep Bayesian active learning for natural language
    processing: results of a large-scale empirical study", EMNLP.

    Examples
    --------
    >>> path_disagreement(Ragged.from_list([[[0, 0, 1], [1, 1, 1]]])).round(4)
    array([0.3333])
    """
    labels = np.asarray(paths.values, dtype=np.int64)
    if labels.ndim != 2:
        raise ValueError(f"sample paths need shape (n_tokens, m); got {labels.shape}.")
    m = labels.shape[1]
    # Two paths of a sentence are equal when they agree at every token: compare every
    # pair of samples token by token and reduce per sentence.
    equal = labels[:, :, None] == labels[:, None, :]  # (n_tokens, m, m)
    disagreements = paths.with_values((~equal).reshape(labels.shape[0], m * m)).sum()
    same = (disagreements == 0).reshape(len(paths), m, m)
    modal = same.sum(axis=2).max(axis=1)
    out = 1.0 - modal / m
    out[paths.lengths == 0] = 0.0
    return out
