r"""A linear-chain CRF in torch, on padded batches: training loss, marginals, Viterbi.

The same model as :mod:`activelab.sequence._crf` (emission scores :math:`e`, transition
scores :math:`A`, no start or end transition), written for torch so that a neural
encoder trains through it and so that it runs on a GPU:

.. math:: s(y) = \sum_{t=1}^{T} e_{t, y_t} + \sum_{t=2}^{T} A_{y_{t-1}, y_t},
          \qquad \log P(y \mid x) = s(y) - \log Z(x).

Every function takes ``emissions`` of shape ``(B, T, L)`` (sentences padded to the
longest), a boolean ``mask`` ``(B, T)`` that is True on real tokens (a prefix of each
row), and ``transitions`` ``(L, L)``. The recursions run in log space (``logsumexp``),
so they are differentiable as they are: :func:`partial_label_nll` is the training loss.

- :func:`log_partition`: the forward algorithm, :math:`\log Z`.
- :func:`partial_label_nll`: :math:`\log Z - \log Z_{\mathcal{Y}}`, the loss of partly
  labelled sentences with the unlabelled tokens marginalised (Tsuboi et al. 2008); the
  full negative log-likelihood when every token is labelled.
- :func:`marginals`: per-token marginals by forward-backward.
- :func:`viterbi`: the best path and its score.

N-best lists, exact path entropy and constrained decoding are read from the emissions by
the numpy functions of :mod:`activelab.sequence._crf` (they take the same model).

References
----------
Lafferty, McCallum & Pereira (2001), "Conditional random fields", ICML.
Tsuboi, Kashima, Mori, Oda & Matsumoto (2008), "Training conditional random fields using
incomplete annotations", COLING.
"""

from __future__ import annotations

from typing import Any

__all__ = ["log_partition", "marginals", "partial_label_nll", "sequence_score", "viterbi"]


def _torch() -> Any:
    from activelab.models._torch_util import load_torch

    return load_torch()


def _check(emissions: Any, mask: Any, transitions: Any) -> None:
    if emissions.dim() != 3:
        raise ValueError(f"emissions need shape (B, T, L); got {tuple(emissions.shape)}.")
    batch, length, n_labels = emissions.shape
    if tuple(mask.shape) != (batch, length):
        raise ValueError(f"mask needs shape ({batch}, {length}); got {tuple(mask.shape)}.")
    if tuple(transitions.shape) != (n_labels, n_labels):
        raise ValueError(
            f"transitions need shape ({n_labels}, {n_labels}); got {tuple(transitions.shape)}."
        )


def log_partition(emissions: Any, mask: Any, transitions: Any) -> Any:
    r""":math:`\log Z(x)` of each sentence by the forward algorithm in log space.

    Parameters
    ----------
    emissions : torch.Tensor of shape (B, T, L)
        ``-inf`` forbids a label at a token.
    mask : torch.Tensor of bool, shape (B, T)
        True on the real tokens of each row (a prefix).
    transitions : torch.Tensor of shape (L, L)

    Returns
    -------
    torch.Tensor of shape (B,)
        0 for an empty sentence.

    Examples
    --------
    >>> import torch
    >>> e = torch.zeros(1, 3, 2)
    >>> float(log_partition(e, torch.ones(1, 3, dtype=torch.bool), torch.zeros(2, 2)).exp())
    8.0
    """
    torch = _torch()
    _check(emissions, mask, transitions)
    alpha = emissions[:, 0]
    for t in range(1, emissions.shape[1]):
        step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t, None], step, alpha)
    log_z = torch.logsumexp(alpha, dim=1)
    return torch.where(mask[:, 0], log_z, torch.zeros_like(log_z))


def sequence_score(emissions: Any, mask: Any, transitions: Any, tags: Any) -> Any:
    """The score :math:`s(y)` of one path per sentence.

    Parameters
    ----------
    emissions : torch.Tensor of shape (B, T, L)
    mask : torch.Tensor of bool, shape (B, T)
    transitions : torch.Tensor of shape (L, L)
    tags : torch.Tensor of int64, shape (B, T)
        Label indices (anything at padded positions).

    Returns
    -------
    torch.Tensor of shape (B,)
    """
    torch = _torch()
    _check(emissions, mask, transitions)
    safe = torch.where(mask, tags, torch.zeros_like(tags))
    token = emissions.gather(2, safe.unsqueeze(2)).squeeze(2)
    step = transitions[safe[:, :-1], safe[:, 1:]]
    weights = mask.to(emissions.dtype)
    return (token * weights).sum(1) + (step * weights[:, 1:]).sum(1)


def partial_label_nll(emissions: Any, mask: Any, transitions: Any, tags: Any) -> Any:
    r"""Loss of partly labelled sentences: :math:`\log Z(x) - \log Z_{\mathcal{Y}}(x)`.

    :math:`Z_{\mathcal{Y}}` sums over the paths that agree with every given tag (the
    other labels of a labelled token get emission :math:`-\infty`); the unlabelled
    tokens (tag -1) are marginalised (Tsuboi et al. 2008). With every token labelled it
    is the usual negative log-likelihood :math:`-\log P(y \mid x)`. Differentiable in
    ``emissions`` and ``transitions``.

    Parameters
    ----------
    emissions : torch.Tensor of shape (B, T, L)
    mask : torch.Tensor of bool, shape (B, T)
    transitions : torch.Tensor of shape (L, L)
    tags : torch.Tensor of int64, shape (B, T)
        The label index of each labelled token, -1 for an unlabelled one.

    Returns
    -------
    torch.Tensor of shape (B,)

    References
    ----------
    Tsuboi, Kashima, Mori, Oda & Matsumoto (2008), "Training conditional random fields
    using incomplete annotations", COLING.

    Examples
    --------
    >>> import torch
    >>> e, m = torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool)
    >>> round(float(partial_label_nll(e, m, torch.zeros(2, 2), torch.tensor([[0, -1]]))), 4)
    0.6931
    """
    torch = _torch()
    _check(emissions, mask, transitions)
    if tuple(tags.shape) != tuple(mask.shape):
        raise ValueError(f"tags need shape {tuple(mask.shape)}; got {tuple(tags.shape)}.")
    n_labels = emissions.shape[2]
    if tags.numel() and (int(tags.max()) >= n_labels or int(tags.min()) < -1):
        raise ValueError(f"tags must be label indices in [0, {n_labels}) or -1 (unlabelled).")
    labels = torch.arange(n_labels, device=emissions.device)
    known = (tags >= 0) & mask
    forbidden = known.unsqueeze(2) & (labels != tags.unsqueeze(2))
    constrained = emissions.masked_fill(forbidden, float("-inf"))
    return log_partition(emissions, mask, transitions) - log_partition(
        constrained, mask, transitions
    )


def marginals(emissions: Any, mask: Any, transitions: Any) -> tuple[Any, Any]:
    """Per-token marginals :math:`P(y_t = j \\mid x)` by forward-backward in log space.

    Parameters
    ----------
    emissions : torch.Tensor of shape (B, T, L)
    mask : torch.Tensor of bool, shape (B, T)
    transitions : torch.Tensor of shape (L, L)

    Returns
    -------
    marginals : torch.Tensor of shape (B, T, L)
        Rows of real tokens sum to 1; padded rows are 0.
    log_z : torch.Tensor of shape (B,)

    Examples
    --------
    >>> import torch
    >>> p, _ = marginals(torch.zeros(1, 2, 2), torch.ones(1, 2, dtype=torch.bool),
    ...                  torch.zeros(2, 2))
    >>> p[0].tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    torch = _torch()
    _check(emissions, mask, transitions)
    length = emissions.shape[1]
    alphas = [emissions[:, 0]]
    for t in range(1, length):
        step = torch.logsumexp(alphas[-1].unsqueeze(2) + transitions, dim=1) + emissions[:, t]
        alphas.append(torch.where(mask[:, t, None], step, alphas[-1]))
    log_z = torch.logsumexp(alphas[-1], dim=1)
    beta = torch.zeros_like(emissions[:, 0])
    out = [None] * length
    for t in range(length - 1, -1, -1):
        if t < length - 1:
            step = torch.logsumexp(transitions + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
            beta = torch.where(mask[:, t + 1, None], step, torch.zeros_like(step))
        out[t] = alphas[t] + beta
    log_marginals = torch.stack(out, dim=1) - log_z[:, None, None]
    proba = log_marginals.exp() * mask.unsqueeze(2).to(emissions.dtype)
    return proba, torch.where(mask[:, 0], log_z, torch.zeros_like(log_z))


def viterbi(emissions: Any, mask: Any, transitions: Any) -> tuple[Any, Any]:
    """The highest-scoring path of each sentence and its score :math:`s(y^*)`.

    Parameters
    ----------
    emissions : torch.Tensor of shape (B, T, L)
    mask : torch.Tensor of bool, shape (B, T)
    transitions : torch.Tensor of shape (L, L)

    Returns
    -------
    paths : torch.Tensor of int64, shape (B, T)
        -1 at padded positions.
    scores : torch.Tensor of shape (B,)
        Subtract :func:`log_partition` for the log-probability; 0 for an empty sentence.

    Examples
    --------
    >>> import torch
    >>> e = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    >>> paths, scores = viterbi(e, torch.ones(1, 2, dtype=torch.bool), torch.zeros(2, 2))
    >>> paths.tolist(), scores.tolist()
    ([[0, 1]], [3.0])
    """
    torch = _torch()
    _check(emissions, mask, transitions)
    batch, length, _ = emissions.shape
    score = emissions[:, 0]
    pointers = []
    for t in range(1, length):
        best, previous = (score.unsqueeze(2) + transitions).max(dim=1)
        score = torch.where(mask[:, t, None], best + emissions[:, t], score)
        pointers.append(previous)
    best_score, label = score.max(dim=1)
    paths = torch.full((batch, length), -1, dtype=torch.long, device=emissions.device)
    lengths = mask.sum(1)
    for t in range(length - 1, -1, -1):
        active = lengths > t
        if t < length - 1:  # step back from t + 1 where the sentence runs past t
            stepped = pointers[t].gather(1, label.unsqueeze(1)).squeeze(1)
            label = torch.where(lengths > t + 1, stepped, label)
        paths[:, t] = torch.where(active, label, paths[:, t])
    return paths, torch.where(mask[:, 0], best_score, torch.zeros_like(best_score))
