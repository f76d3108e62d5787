r"""Linear-chain CRF inference in numpy, from emission scores and a transition matrix.

A first-order linear-chain CRF over labels :math:`1..L` scores a tag sequence
:math:`y_{1..T}` of a sentence as

.. math:: s(y) = \sum_{t=1}^{T} e_{t, y_t} + \sum_{t=2}^{T} A_{y_{t-1}, y_t},
          \qquad P(y \mid x) = \exp(s(y)) / Z(x),

with emission scores :math:`e` (for crfsuite: the sum of the state-feature weights of
the token's attributes) and transition scores :math:`A`; there is no start or end
transition (crfsuite has none). Every function here takes the emissions of many
sentences as one :class:`~activelab.sequence._ragged.Ragged` ``(n_tokens, L)`` array and
runs position by position over all sentences at once: sentences are sorted by length, so
the sentences still running at position ``t`` are a prefix of that order and each step is
one vectorised numpy operation. Nothing loops over sentences in Python.

- :func:`forward_backward`: :math:`\log Z`, per-token marginals and (optionally) the
  expected transition counts, with the scaled forward-backward recursions in probability
  space (Rabiner 1989), so each step is a small matrix product.
- :func:`viterbi`: the most likely path and its score.
- :func:`nbest`: the ``n`` most likely paths, exactly, by list Viterbi (each state keeps
  its ``n`` best partial paths; Nilsson & Goldberger 2001, Seshadri & Sundberg 1994).
- :func:`sequence_scores`, :func:`log_likelihood`: :math:`s(y)` and :math:`\log P(y)`.
- :func:`partial_label_nll`: the loss of a partly labelled sentence, marginalising the
  unlabelled tokens (Tsuboi et al. 2008), and its gradient.
- :func:`entropy`: the exact entropy of :math:`P(y \mid x)` (Mann & McCallum 2007).

References
----------
Lafferty, McCallum & Pereira (2001), "Conditional random fields: probabilistic models for
segmenting and labeling sequence data", ICML.
Rabiner (1989), "A tutorial on hidden Markov models and selected applications in speech
recognition", Proc. IEEE 77(2).
Tsuboi, Kashima, Mori, Oda & Matsumoto (2008), "Training conditional random fields using
incomplete annotations", COLING.
Mann & McCallum (2007), "Efficient computation of entropy gradient for semi-supervised
conditional random fields", NAACL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from activelab.sequence._ragged import Ragged

__all__ = [
    "entropy",
    "forward_backward",
    "log_likelihood",
    "nbest",
    "partial_label_nll",
    "sequence_scores",
    "viterbi",
]


@dataclass
class _Schedule:
    """Sentences sorted by length, longest first: the ones running at ``t`` are a prefix."""

    order: np.ndarray  # sentence indices, longest first
    starts: np.ndarray  # first token row of each, in that order
    lengths: np.ndarray  # their lengths
    active: np.ndarray  # active[t] = number of sentences longer than t

    @classmethod
    def of(cls, offsets: np.ndarray) -> _Schedule:
        lengths = np.diff(offsets)
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order]
        longest = int(sorted_lengths[0]) if sorted_lengths.size else 0
        active = np.searchsorted(-sorted_lengths, -np.arange(longest), side="left")
        return cls(order, offsets[:-1][order], sorted_lengths, active)


def _check(emissions: Ragged, transitions: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(emissions, Ragged):
        raise TypeError(
            "emissions must be a Ragged array of shape (n_tokens, L); build one with "
            "Ragged.from_list([...]) from per-sentence (length, L) arrays."
        )
    values = np.asarray(emissions.values, dtype=np.float64)
    trans = np.asarray(transitions, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"emissions need shape (n_tokens, L); got {values.shape}.")
    n_labels = values.shape[1]
    if trans.shape != (n_labels, n_labels):
        raise ValueError(
            f"transitions need shape ({n_labels}, {n_labels}) for {n_labels} labels; "
            f"got {trans.shape}."
        )
    if not np.isfinite(trans).all():
        raise ValueError("transitions must be finite.")
    if np.isnan(values).any() or np.isposinf(values).any():
        raise ValueError("emissions must not contain NaN or +inf (-inf forbids a label).")
    return values, trans


def forward_backward(
    emissions: Ragged, transitions: Any, pairwise: bool = False
) -> tuple[np.ndarray, Ragged, np.ndarray | None]:
    r"""Log-partition, per-token marginals and expected transition counts of each sentence.

    Scaled recursions in probability space: with :math:`M = \exp(A - \max A)` and
    per-step normalisers :math:`c_t`, :math:`\hat\alpha_t = (\hat\alpha_{t-1} M) \odot
    \exp(e_t - \max e_t) / c_t`, :math:`\log Z = \sum_t (\log c_t + \max e_t) + (T - 1)
    \max A`, and :math:`P(y_t = j) = \hat\alpha_t(j) \hat\beta_t(j)`.

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
        Emission scores; ``-inf`` forbids a label at a token (used for constrained
        inference). At least one label per token must stay allowed.
    transitions : array of shape (L, L)
        ``transitions[i, j]`` scores label ``i`` followed by label ``j``.
    pairwise : bool
        Also return each sentence's expected transition counts
        :math:`\sum_t P(y_{t-1} = i, y_t = j)`.

    Returns
    -------
    log_z : numpy.ndarray of shape (n_sentences,)
        0 for an empty sentence.
    marginals : Ragged of shape (n_tokens, L)
        Rows sum to 1.
    pairwise : numpy.ndarray of shape (n_sentences, L, L) or None

    Examples
    --------
    >>> e = Ragged.from_list([np.zeros((3, 2))])
    >>> log_z, marginals, _ = forward_backward(e, np.zeros((2, 2)))
    >>> round(float(np.exp(log_z[0])), 9), marginals[0][0].tolist()
    (8.0, [0.5, 0.5])
    """
    values, trans = _check(emissions, transitions)
    n_tokens, n_labels = values.shape
    n_sentences = len(emissions)
    plan = _Schedule.of(emissions.offsets)
    shift = float(trans.max()) if trans.size else 0.0
    M = np.exp(trans - shift)
    alpha = np.empty_like(values)
    scale = np.empty(n_tokens)  # c_t of each token row
    emit = np.empty_like(values)  # exp(e_t - max e_t)
    log_z_sorted = np.zeros(n_sentences)
    previous = None
    for t, n_t in enumerate(plan.active):
        rows = plan.starts[:n_t] + t
        e = values[rows]
        top = e.max(axis=1)
        if not np.isfinite(top).all():
            bad = int(rows[np.flatnonzero(~np.isfinite(top))[0]])
            raise ValueError(f"token row {bad} forbids every label (all emissions are -inf).")
        p = np.exp(e - top[:, None])
        emit[rows] = p
        a = p if previous is None else (previous[:n_t] @ M) * p
        c = a.sum(axis=1)
        if not (c > 0).all():
            bad = int(rows[np.flatnonzero(~(c > 0))[0]])
            raise ValueError(
                f"token row {bad}: every allowed label is unreachable (underflow); the "
                "constraints contradict the transition scores."
            )
        a /= c[:, None]
        alpha[rows] = a
        scale[rows] = c
        log_z_sorted[:n_t] += np.log(c) + top + (shift if t else 0.0)
        previous = a
    marginals = np.empty_like(values)
    pair = np.zeros((n_sentences, n_labels, n_labels)) if pairwise else None
    beta = None
    for t in range(len(plan.active) - 1, -1, -1):
        n_t = int(plan.active[t])
        rows = plan.starts[:n_t] + t
        b = np.ones((n_t, n_labels))
        if beta is not None:
            n_next = beta.shape[0]
            nxt = plan.starts[:n_next] + t + 1
            weighted = emit[nxt] * beta / scale[nxt][:, None]
            b[:n_next] = weighted @ M.T
            if pair is not None:
                # xi_t+1(i, j) = alpha_t(i) M_ij emit_t+1(j) beta_t+1(j) / c_t+1
                pair[plan.order[:n_next]] += (
                    alpha[rows[:n_next]][:, :, None] * M[None] * weighted[:, None, :]
                )
        marginals[rows] = alpha[rows] * b
        beta = b
    log_z = np.zeros(n_sentences)
    log_z[plan.order] = log_z_sorted
    return log_z, Ragged(marginals, emissions.offsets), pair


def viterbi(emissions: Ragged, transitions: Any) -> tuple[Ragged, np.ndarray]:
    """The highest-scoring tag path of each sentence and its score :math:`s(y^*)`.

    Ties are broken towards the lower label index.

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
    transitions : array of shape (L, L)

    Returns
    -------
    paths : Ragged of int64, shape (n_tokens,)
    scores : numpy.ndarray of shape (n_sentences,)
        Subtract :func:`forward_backward`'s ``log_z`` for the log-probability.

    Examples
    --------
    >>> e = Ragged.from_list([np.array([[1.0, 0.0], [0.0, 2.0]])])
    >>> paths, scores = viterbi(e, np.zeros((2, 2)))
    >>> paths[0].tolist(), scores.tolist()
    ([0, 1], [3.0])
    """
    paths, scores = nbest(emissions, transitions, 1)
    return paths.with_values(paths.values[:, 0]), scores[:, 0]


def nbest(emissions: Ragged, transitions: Any, n: int) -> tuple[Ragged, np.ndarray]:
    """The ``n`` highest-scoring tag paths of each sentence, best first (list Viterbi).

    Exact: each label at each position keeps the ``n`` best partial paths that end in it,
    so the ``n`` best complete paths are among them; each step merges the ``L`` sorted
    beams into a label with ``n`` argmax rounds. Cost O(T·L²·n) per sentence.

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
    transitions : array of shape (L, L)
    n : int
        Paths per sentence; a sentence with fewer than ``n`` possible paths gets score
        ``-inf`` (and label -1) in the missing ranks.

    Returns
    -------
    paths : Ragged of int64, shape (n_tokens, n)
        ``paths.values[:, r]`` is the r-th best path's label at each token.
    scores : numpy.ndarray of shape (n_sentences, n)
        Scores :math:`s(y)`, non-increasing along each row.

    Examples
    --------
    >>> e = Ragged.from_list([np.array([[1.0, 0.0], [0.0, 2.0]])])
    >>> paths, scores = nbest(e, np.zeros((2, 2)), 3)
    >>> paths[0].T.tolist(), scores[0].tolist()
    ([[0, 1], [1, 1], [0, 0]], [3.0, 2.0, 1.0])
    """
    values, trans = _check(emissions, transitions)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}.")
    n = int(n)
    n_tokens, n_labels = values.shape
    n_sentences = len(emissions)
    plan = _Schedule.of(emissions.offsets)
    # Back-pointers i * n + r: the smallest integer type that holds L * n.
    back = np.zeros((n_tokens, n_labels, n), dtype=np.min_scalar_type(-(n_labels * n)))
    n_running = int(plan.active[0]) if plan.active.size else 0
    final = np.full((n_running, n_labels, n), -np.inf)
    delta = np.empty((0, n_labels, n))
    bounds = np.append(plan.active, 0)
    for t, n_t in enumerate(plan.active):
        rows = plan.starts[:n_t] + t
        e = values[rows]
        if t == 0:
            delta = np.full((n_t, n_labels, n), -np.inf)
            delta[:, :, 0] = e
        else:
            delta = _merge_step(delta[:n_t], trans, n, back, rows) + e[:, :, None]
        # Sentences of length t + 1 end here: the tail of the running prefix.
        final[bounds[t + 1] : n_t] = delta[bounds[t + 1] :]
    flat = final.reshape(n_running, n_labels * n)
    top = np.argsort(-flat, axis=1, kind="stable")[:, :n]
    scores_sorted = np.full((n_sentences, n), -np.inf)
    scores_sorted[:n_running] = np.take_along_axis(flat, top, axis=1)
    state, rank = top // n, top % n
    paths = np.full((n_tokens, n), -1, dtype=np.int64)
    for t in range(len(plan.active) - 1, -1, -1):
        n_t = int(plan.active[t])
        rows = plan.starts[:n_t] + t
        paths[rows] = state[:n_t]
        if t > 0:
            pointer = back[rows[:, None], state[:n_t], rank[:n_t]].astype(np.int64)
            state[:n_t], rank[:n_t] = pointer // n, pointer % n
    scores = np.full((n_sentences, n), -np.inf)
    scores[plan.order] = scores_sorted
    scores[emissions.lengths == 0, 0] = 0.0  # the one (empty) path of an empty sentence
    missing = np.repeat(~np.isfinite(scores), emissions.lengths, axis=0)
    paths[missing] = -1
    return Ragged(paths, emissions.offsets), scores


def _merge_step(
    beam: np.ndarray, trans: np.ndarray, n: int, back: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """One list-Viterbi step: the ``n`` best extensions into each label, best first.

    ``beam[s, i, :]`` holds the scores of the ``n`` best partial paths ending in label
    ``i``, best first, so the candidates for label ``j`` are ``L`` sorted lists
    ``beam[s, i, :] + A[i, j]``; merging them takes ``n`` rounds of one argmax over the
    list heads (lowest label first on ties), never a sort. Back-pointers ``i * n + r``
    go to ``back[rows]``.
    """
    n_t, n_labels, _ = beam.shape
    padded = np.concatenate([beam, np.full((n_t, n_labels, 1), -np.inf)], axis=2)
    heads = beam[:, None, :, 0] + trans.T[None]  # heads[s, j, i]: best unused from i
    pointer = np.zeros((n_t, n_labels, n_labels), dtype=np.int64)
    out = np.empty((n_t, n_labels, n))
    s_idx = np.arange(n_t)[:, None]
    j_idx = np.arange(n_labels)[None, :]
    for r in range(n):
        best = heads.argmax(axis=2)
        out[:, :, r] = heads[s_idx, j_idx, best]
        taken = pointer[s_idx, j_idx, best]
        back[rows, :, r] = best * n + taken
        if r + 1 < n:  # advance the chosen list's head
            taken = np.minimum(taken + 1, n)
            pointer[s_idx, j_idx, best] = taken
            heads[s_idx, j_idx, best] = padded[s_idx, best, taken] + trans[best, j_idx]
    return out


def sequence_scores(emissions: Ragged, transitions: Any, paths: Ragged) -> np.ndarray:
    """The score :math:`s(y)` of one given path per sentence.

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
    transitions : array of shape (L, L)
    paths : Ragged of int, shape (n_tokens,)
        A label index per token.

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    Examples
    --------
    >>> e = Ragged.from_list([np.array([[1.0, 0.0], [0.0, 2.0]])])
    >>> sequence_scores(e, np.array([[0.0, 0.5], [0.0, 0.0]]), Ragged.from_list([[0, 1]]))
    array([3.5])
    """
    values, trans = _check(emissions, transitions)
    labels = np.asarray(paths.values, dtype=np.int64)
    if labels.shape != (values.shape[0],) or not np.array_equal(paths.offsets, emissions.offsets):
        raise ValueError("paths need one label per token of the same sentences as emissions.")
    if labels.size and (labels.min() < 0 or labels.max() >= values.shape[1]):
        raise ValueError(f"path labels must be in [0, {values.shape[1]}).")
    rows = np.arange(values.shape[0])
    token = values[rows, labels]
    first = np.zeros(values.shape[0], dtype=bool)
    first[emissions.offsets[:-1][emissions.lengths > 0]] = True
    previous = np.roll(labels, 1)
    step = np.where(first, 0.0, trans[previous, labels])
    return emissions.with_values(token + step).sum()


def log_likelihood(emissions: Ragged, transitions: Any, paths: Ragged) -> np.ndarray:
    r""":math:`\log P(y \mid x)` of one given path per sentence.

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
    transitions : array of shape (L, L)
    paths : Ragged of int, shape (n_tokens,)

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)

    Examples
    --------
    >>> e = Ragged.from_list([np.zeros((2, 2))])
    >>> float(np.exp(log_likelihood(e, np.zeros((2, 2)), Ragged.from_list([[0, 1]]))[0]))
    0.25
    """
    log_z, _, _ = forward_backward(emissions, transitions)
    return sequence_scores(emissions, transitions, paths) - log_z


def _constrain(emissions: Ragged, labels: np.ndarray) -> Ragged:
    """Emissions with every label but the given one forbidden at labelled tokens."""
    values = np.array(emissions.values, dtype=np.float64)
    known = labels >= 0
    keep = values[known, labels[known]]
    values[known] = -np.inf
    values[known, labels[known]] = keep
    return emissions.with_values(values)


def _partial_labels(emissions: Ragged, tags: Ragged) -> np.ndarray:
    labels = np.asarray(tags.values, dtype=np.int64)
    if labels.shape != (emissions.values.shape[0],) or not np.array_equal(
        tags.offsets, emissions.offsets
    ):
        raise ValueError("tags need one entry per token of the same sentences as emissions.")
    if labels.size and (labels.min() < -1 or labels.max() >= emissions.values.shape[1]):
        raise ValueError(
            f"tags must be label indices in [0, {emissions.values.shape[1]}) or -1 for an "
            "unlabelled token."
        )
    return labels


def partial_label_nll(
    emissions: Ragged, transitions: Any, tags: Ragged, gradient: bool = False
) -> tuple[np.ndarray, Ragged, np.ndarray] | np.ndarray:
    r"""Negative log-likelihood of partly labelled sentences, unlabelled tokens marginalised.

    .. math:: \ell(x) = -\log \sum_{y \in \mathcal{Y}(x)} P(y \mid x)
              = \log Z(x) - \log Z_{\mathcal{Y}}(x),

    where :math:`\mathcal{Y}(x)` holds every path that agrees with the given labels and
    :math:`Z_{\mathcal{Y}}` is the forward sum restricted to it (Tsuboi et al. 2008).
    When every token is labelled it is the usual CRF loss :math:`-\log P(y \mid x)`.
    Its gradient is the difference of two expectations,
    :math:`\partial\ell/\partial e_{t,j} = P(y_t = j) - P(y_t = j \mid y \in \mathcal{Y})`
    and :math:`\partial\ell/\partial A_{ij} = \sum_t P(y_{t-1}=i, y_t=j) -
    P(y_{t-1}=i, y_t=j \mid y \in \mathcal{Y})`; chain it through whatever produces the
    emissions (feature weights, a neural encoder).

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
    transitions : array of shape (L, L)
    tags : Ragged of int, shape (n_tokens,)
        The label index of each labelled token, -1 for an unlabelled one.
    gradient : bool
        Also return the gradients.

    Returns
    -------
    loss : numpy.ndarray of shape (n_sentences,)
    d_emissions : Ragged of shape (n_tokens, L)
        Only with ``gradient=True``.
    d_transitions : numpy.ndarray of shape (L, L)
        Summed over sentences; only with ``gradient=True``.

    References
    ----------
    Tsuboi, Kashima, Mori, Oda & Matsumoto (2008), "Training conditional random fields
    using incomplete annotations", COLING.

    Examples
    --------
    >>> e = Ragged.from_list([np.zeros((2, 2))])
    >>> partial_label_nll(e, np.zeros((2, 2)), Ragged.from_list([[0, -1]])).round(4)
    array([0.6931])
    """
    labels = _partial_labels(emissions, tags)
    log_z, marginals, pair = forward_backward(emissions, transitions, pairwise=gradient)
    log_z_c, marginals_c, pair_c = forward_backward(
        _constrain(emissions, labels), transitions, pairwise=gradient
    )
    loss = log_z - log_z_c
    if not gradient:
        return loss
    d_emissions = emissions.with_values(marginals.values - marginals_c.values)
    d_transitions = (pair - pair_c).sum(axis=0)  # type: ignore[operator]
    return loss, d_emissions, d_transitions


def constrained_viterbi(emissions: Ragged, transitions: Any, tags: Ragged) -> Ragged:
    """The best path of each sentence among those that agree with the given labels.

    Fills the unlabelled tokens (-1) of partly labelled sentences with the model's most
    likely tags given the labelled ones.

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
    transitions : array of shape (L, L)
    tags : Ragged of int, shape (n_tokens,)
        Label index or -1.

    Returns
    -------
    Ragged of int64, shape (n_tokens,)
    """
    labels = _partial_labels(emissions, tags)
    paths, _ = viterbi(_constrain(emissions, labels), transitions)
    return paths


def entropy(emissions: Ragged, transitions: Any) -> np.ndarray:
    r"""Exact entropy of the CRF's distribution over whole tag paths, per sentence.

    .. math:: H = \log Z - \mathbb{E}[s(y)] = \log Z - \sum_{t,j} P(y_t = j)\, e_{t,j}
              - \sum_{t,i,j} P(y_{t-1} = i, y_t = j)\, A_{ij}

    Parameters
    ----------
    emissions : Ragged of shape (n_tokens, L)
    transitions : array of shape (L, L)

    Returns
    -------
    numpy.ndarray of shape (n_sentences,)
        In nats; ``T log L`` at most.

    References
    ----------
    Mann & McCallum (2007), "Efficient computation of entropy gradient for
    semi-supervised conditional random fields", NAACL.

    Examples
    --------
    >>> e = Ragged.from_list([np.zeros((3, 2))])
    >>> float(entropy(e, np.zeros((2, 2)))[0] / np.log(2))
    3.0
    """
    values, trans = _check(emissions, transitions)
    log_z, marginals, pair = forward_backward(emissions, trans, pairwise=True)
    expected_emission = emissions.with_values((marginals.values * values).sum(axis=1)).sum()
    expected_transition = np.einsum("sij,ij->s", pair, trans)
    return np.maximum(log_z - expected_emission - expected_transition, 0.0)
