"""Label aggregation over several annotators: majority vote, Dawid–Skene EM, label
uncertainty for repeated labelling.

Annotations are an ``(n_items, n_annotators)`` integer array of class codes in
``[0, n_classes)``, with a negative value where the annotator gave no label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import betainc, logsumexp

from activelab._validation import RandomStateLike, check_random_state


def _check_annotations(annotations: Any, n_classes: int | None) -> tuple[np.ndarray, int]:
    votes = np.asarray(annotations)
    if votes.ndim != 2:
        raise ValueError(
            "annotations must be a 2-D array (n_items, n_annotators) of class codes, with -1 "
            f"where an annotator gave no label; got shape {votes.shape}."
        )
    if votes.size and not np.issubdtype(votes.dtype, np.integer):
        if not np.all(np.isfinite(votes)) or not np.all(votes == np.round(votes)):
            raise ValueError(
                "annotations must hold integer class codes (-1 for missing); got "
                f"dtype {votes.dtype} with non-integer values. Map labels to codes first, "
                "e.g. np.searchsorted(classes, labels)."
            )
    votes = votes.astype(np.int64)
    observed = votes[votes >= 0]
    if n_classes is None:
        n_classes = int(observed.max()) + 1 if observed.size else 0
        n_classes = max(n_classes, 2)
    elif observed.size and observed.max() >= n_classes:
        raise ValueError(
            f"annotations hold class code {int(observed.max())}, but n_classes={n_classes}; "
            f"codes must be in [0, {n_classes})."
        )
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2; got {n_classes}.")
    return votes, int(n_classes)


def vote_counts(annotations: Any, n_classes: int | None = None) -> np.ndarray:
    """How many annotators gave each class to each item.

    Parameters
    ----------
    annotations : array of shape (n_items, n_annotators)
        Class codes, negative for missing.
    n_classes : int, optional
        Defaults to the largest code + 1.

    Returns
    -------
    numpy.ndarray of shape (n_items, n_classes), int64

    Examples
    --------
    >>> vote_counts([[0, 1, 1], [2, -1, -1]], 3).tolist()
    [[1, 2, 0], [0, 0, 1]]
    """
    votes, n_classes = _check_annotations(annotations, n_classes)
    rows, cols = np.nonzero(votes >= 0)
    flat = rows * n_classes + votes[rows, cols]
    counts = np.bincount(flat, minlength=votes.shape[0] * n_classes)
    return counts.reshape(votes.shape[0], n_classes).astype(np.int64)


def majority_vote(
    annotations: Any, n_classes: int | None = None, random_state: RandomStateLike = None
) -> np.ndarray:
    """The most frequent class per item; ties broken at random; -1 for items nobody labelled.

    Parameters
    ----------
    annotations : array of shape (n_items, n_annotators)
        Class codes, negative for missing.
    n_classes : int, optional
    random_state : int, numpy.random.Generator or None
        Breaks ties.

    Returns
    -------
    numpy.ndarray of shape (n_items,), int64

    Examples
    --------
    >>> majority_vote([[0, 1, 1], [2, 2, -1], [-1, -1, -1]]).tolist()
    [1, 2, -1]
    """
    counts = vote_counts(annotations, n_classes)
    rng = check_random_state(random_state)
    # Counts are integers and the noise is below 1, so it only reorders tied classes.
    labels = np.argmax(counts + rng.random(counts.shape), axis=1).astype(np.int64)
    labels[counts.sum(axis=1) == 0] = -1
    return labels


def label_uncertainty(counts: Any) -> np.ndarray:
    """How likely the majority label is wrong, from the votes (Sheng et al. 2008).

    With ``p`` votes for the leading class and ``q`` for the others, the share of
    annotators who would say the leading class has a Beta(p + 1, q + 1) posterior
    (uniform prior); the score is the posterior probability that the share is on the
    other side of 1/2: ``min(I_0.5(p+1, q+1), 1 - I_0.5(p+1, q+1))`` with ``I`` the
    regularised incomplete beta function. 0.5 without votes; it falls as agreeing votes
    come in. For more than two classes the leading class is set against the rest.

    Parameters
    ----------
    counts : array of shape (n_items, n_classes)
        Votes per class (see :func:`vote_counts`).

    Returns
    -------
    numpy.ndarray of shape (n_items,), float64, in ``[0, 0.5]``

    References
    ----------
    Sheng, Provost & Ipeirotis (2008), "Get another label? Improving data quality and
    data mining using multiple, noisy labelers", KDD.

    Examples
    --------
    >>> label_uncertainty([[0, 0], [1, 0], [2, 0], [2, 1]]).round(4).tolist()
    [0.5, 0.25, 0.125, 0.3125]
    """
    votes = np.asarray(counts, dtype=np.float64)
    if votes.ndim != 2 or (votes < 0).any():
        raise ValueError(
            "label_uncertainty needs vote counts of shape (n_items, n_classes), >= 0; got "
            f"shape {votes.shape}."
        )
    leading = votes.max(axis=1)
    rest = votes.sum(axis=1) - leading
    tail = betainc(leading + 1.0, rest + 1.0, 0.5)
    return np.minimum(tail, 1.0 - tail)


@dataclass
class DawidSkeneResult:
    """What :func:`dawid_skene` estimated.

    Attributes
    ----------
    labels : numpy.ndarray of shape (n_items,), int64
        The most probable true class per item (-1 for items nobody labelled).
    posteriors : numpy.ndarray of shape (n_items, n_classes)
        Posterior probability of each true class per item.
    confusions : numpy.ndarray of shape (n_annotators, n_classes, n_classes)
        ``confusions[a, c, l]``: probability that annotator ``a`` answers ``l`` for an
        item of true class ``c`` (rows sum to 1).
    priors : numpy.ndarray of shape (n_classes,)
        Class proportions.
    n_iter : int
        EM iterations run.
    converged : bool
        Whether the objective changed by less than ``tol`` before ``max_iter``.
    objective : list of float
        The penalised log-likelihood after each iteration (non-decreasing).
    """

    labels: np.ndarray
    posteriors: np.ndarray
    confusions: np.ndarray
    priors: np.ndarray
    n_iter: int
    converged: bool
    objective: list[float] = field(default_factory=list)


def dawid_skene(
    annotations: Any,
    n_classes: int | None = None,
    max_iter: int = 100,
    tol: float = 1e-7,
    smoothing: float = 0.01,
) -> DawidSkeneResult:
    """True labels and per-annotator confusion matrices from noisy labels, by EM.

    Each annotator ``a`` answers class ``l`` for an item of true class ``c`` with
    probability ``confusions[a, c, l]``, independently. EM alternates: the M-step sets
    the class priors and every confusion matrix from the current posteriors (expected
    counts, plus ``smoothing`` pseudo-counts: a Dirichlet prior that keeps rows off
    zero); the E-step sets each item's posterior over true classes, proportional to
    ``prior[c] * prod over its labels of confusions[a, c, l]``. Posteriors start from
    the vote shares (majority vote), which anchors the class order. Only the observed
    labels are touched: O(n_labels · n_classes) per iteration.

    With no item labelled twice, the likelihood cannot tell annotator errors from class
    priors (putting every item in one class and copying each annotator's label shares
    into that class's row fits best), so the E-step is skipped: the labels are the
    votes, and the confusion matrices and priors come from one M-step on them.

    Parameters
    ----------
    annotations : array of shape (n_items, n_annotators)
        Class codes in ``[0, n_classes)``, negative where an annotator gave no label.
    n_classes : int, optional
        Defaults to the largest code + 1.
    max_iter : int
    tol : float
        Stop when the objective improves by less than ``tol`` times its magnitude.
    smoothing : float
        Pseudo-count added to every confusion-matrix cell and class prior (>= 0).

    Returns
    -------
    DawidSkeneResult

    References
    ----------
    Dawid & Skene (1979), "Maximum likelihood estimation of observer error-rates using
    the EM algorithm", Journal of the Royal Statistical Society C 28(1), 20–28.

    Examples
    --------
    >>> votes = [[0, 0, 1], [1, 1, 1], [0, 0, 0], [1, 1, 0]]
    >>> dawid_skene(votes).labels.tolist()
    [0, 1, 0, 1]
    """
    votes, n_classes = _check_annotations(annotations, n_classes)
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1; got {max_iter}.")
    if not smoothing >= 0:
        raise ValueError(f"smoothing must be >= 0; got {smoothing}.")
    n_items, n_annotators = votes.shape
    items, annotators = np.nonzero(votes >= 0)
    given = votes[items, annotators]
    n_obs = items.shape[0]
    ones = np.ones(n_obs)
    # item_of: (n_items, n_obs) sums observations per item; cell_of: (A*C, n_obs) sums
    # observations per (annotator, given label) cell.
    item_of = sparse.csr_matrix((ones, (items, np.arange(n_obs))), shape=(n_items, n_obs))
    cells = annotators * n_classes + given
    cell_of = sparse.csr_matrix(
        (ones, (cells, np.arange(n_obs))), shape=(n_annotators * n_classes, n_obs)
    )
    counts = (
        np.asarray(item_of @ np.eye(n_classes)[given]) if n_obs else np.zeros((n_items, n_classes))
    )
    labelled = counts.sum(axis=1) > 0
    posteriors = np.full((n_items, n_classes), 1.0 / n_classes)
    posteriors[labelled] = counts[labelled] / counts[labelled].sum(axis=1, keepdims=True)

    objective: list[float] = []
    converged = False
    n_iter = 0
    identifiable = bool((counts.sum(axis=1) >= 2).any())
    votes_posteriors = posteriors.copy()
    for n_iter in range(1, int(max_iter) + 1):  # noqa: B007 - n_iter is reported
        # M-step.
        priors = (posteriors.sum(axis=0) + smoothing) / (n_items + n_classes * smoothing)
        expected = (
            np.asarray(cell_of @ posteriors[items])
            if n_obs
            else np.zeros((n_annotators * n_classes, n_classes))
        )
        # expected[a*C + l, c] -> confusions[a, c, l]
        confusions = expected.reshape(n_annotators, n_classes, n_classes).transpose(0, 2, 1)
        confusions = confusions + smoothing
        row_sums = confusions.sum(axis=2, keepdims=True)
        confusions = np.divide(
            confusions, row_sums, out=np.full_like(confusions, 1.0 / n_classes), where=row_sums > 0
        )
        # E-step.
        with np.errstate(divide="ignore"):
            log_priors = np.log(priors)
            log_confusions = np.log(confusions)
        by_cell = log_confusions.transpose(0, 2, 1).reshape(n_annotators * n_classes, n_classes)
        log_joint = log_priors + (np.asarray(item_of @ by_cell[cells]) if n_obs else 0.0)
        log_evidence = logsumexp(log_joint, axis=1)
        posteriors = np.exp(log_joint - log_evidence[:, None])
        penalty = 0.0
        if smoothing > 0:
            penalty = smoothing * (float(log_confusions.sum()) + float(log_priors.sum()))
        objective.append(float(log_evidence.sum()) + penalty)
        if not identifiable:  # no item labelled twice: keep the votes (see the docstring)
            posteriors, converged = votes_posteriors, True
            break
        if len(objective) > 1 and abs(objective[-1] - objective[-2]) <= tol * max(
            1.0, abs(objective[-1])
        ):
            converged = True
            break
    labels = np.argmax(posteriors, axis=1).astype(np.int64)
    labels[~labelled] = -1
    return DawidSkeneResult(labels, posteriors, confusions, priors, n_iter, converged, objective)
