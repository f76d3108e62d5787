"""Aggregating overlapping answers: majority vote, or Dawid–Skene EM over the project.

With ``aggregation = "dawid_skene"`` every live, non-skipped answer of a single-label
project goes into one ``(items, annotators)`` table of class codes, and
:func:`activelab.oracles.dawid_skene` estimates each annotator's confusion matrix and a
posterior over the true label of every item (Dawid & Skene 1979). The gold label of an
item (what the model trains on, and ``gold_labels`` in the export) is its most probable
class; an answer an admin corrected on the review page still wins over everything.
The LLM of route mode (annotator ``llm:<model>``) is one annotator among the others.

:func:`annotator_accuracy` gives each annotator's estimated accuracy (the diagonal of
their confusion matrix, weighted by the estimated class shares, and per class), which
the admin page shows beside Cohen's kappa. It needs no overlap to run, but with one
answer per item the estimate says nothing: each annotator then agrees with the gold
label by construction.

>>> votes = {1: {10: "a", 11: "a", 12: "b"}, 2: {10: "b", 11: "b", 12: "b"}}
>>> gold = dawid_skene_gold(votes, ("a", "b"))
>>> sorted(gold)
[1, 2]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Estimate",
    "annotator_accuracy",
    "answer_table",
    "dawid_skene_gold",
    "estimate",
]


@dataclass(frozen=True)
class Estimate:
    """Dawid–Skene's estimate for one project.

    Attributes
    ----------
    item_ids : numpy.ndarray of int
        The items that have at least one answer, one row each.
    annotator_ids : numpy.ndarray of int
        One column each.
    gold : dict
        Item id → (label, posterior probability of that label).
    confusions : numpy.ndarray of shape (n_annotators, C, C)
        ``confusions[a, c, l]``: probability that annotator ``a`` answers ``labels[l]``
        for an item whose true label is ``labels[c]``.
    priors : numpy.ndarray of shape (C,)
        Estimated class shares.
    n_answers : numpy.ndarray of shape (n_annotators,)
        Answers of each annotator in the table.
    converged : bool
    """

    item_ids: np.ndarray
    annotator_ids: np.ndarray
    gold: dict[int, tuple[str, float]]
    confusions: np.ndarray
    priors: np.ndarray
    n_answers: np.ndarray
    converged: bool


def answer_table(
    votes: Mapping[int, Mapping[int, str]], labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``(items, annotators)`` table of class codes that Dawid–Skene reads.

    Parameters
    ----------
    votes : mapping
        Item id → {annotator id → label}.
    labels : sequence of str
        The project's labels; codes index them.

    Returns
    -------
    (item_ids, annotator_ids, codes)
        ``codes[i, a]`` is the code of annotator ``a``'s label for item ``i``, -1 where
        they gave none.

    Examples
    --------
    >>> items, people, codes = answer_table({7: {1: "b"}, 8: {1: "a", 2: "b"}}, ["a", "b"])
    >>> items.tolist(), people.tolist(), codes.tolist()
    ([7, 8], [1, 2], [[1, -1], [0, 1]])
    """
    code = {label: j for j, label in enumerate(labels)}
    item_ids = np.array(sorted(votes), dtype=np.int64)
    annotator_ids = np.array(sorted({a for given in votes.values() for a in given}), dtype=np.int64)
    column = {int(a): j for j, a in enumerate(annotator_ids)}
    codes = np.full((item_ids.size, annotator_ids.size), -1, dtype=np.int64)
    for row, item_id in enumerate(item_ids.tolist()):
        for annotator_id, label in votes[item_id].items():
            if label not in code:
                raise ValueError(
                    f"answer label {label!r} of item {item_id} is not one of the project's "
                    f"labels {list(labels)}."
                )
            codes[row, column[int(annotator_id)]] = code[label]
    return item_ids, annotator_ids, codes


def estimate(votes: Mapping[int, Mapping[int, str]], labels: Sequence[str]) -> Estimate:
    """Run Dawid–Skene EM over every answer of a project.

    Parameters
    ----------
    votes : mapping
        Item id → {annotator id → label} (live, non-skipped answers).
    labels : sequence of str

    Returns
    -------
    Estimate
    """
    from activelab.oracles import dawid_skene

    item_ids, annotator_ids, codes = answer_table(votes, labels)
    n_classes = len(labels)
    if item_ids.size == 0:
        empty = np.zeros((0, n_classes, n_classes))
        return Estimate(
            item_ids, annotator_ids, {}, empty, np.full(n_classes, 1 / n_classes), np.zeros(0), True
        )
    result = dawid_skene(codes, n_classes=n_classes)
    gold = {
        int(item_id): (labels[int(code)], float(result.posteriors[row, int(code)]))
        for row, (item_id, code) in enumerate(zip(item_ids.tolist(), result.labels, strict=True))
        if code >= 0
    }
    return Estimate(
        item_ids,
        annotator_ids,
        gold,
        result.confusions,
        result.priors,
        (codes >= 0).sum(axis=0),
        bool(result.converged),
    )


def dawid_skene_gold(
    votes: Mapping[int, Mapping[int, str]], labels: Sequence[str]
) -> dict[int, tuple[str, float]]:
    """The Dawid–Skene gold label of every answered item, with its posterior.

    Parameters
    ----------
    votes : mapping
        Item id → {annotator id → label}.
    labels : sequence of str

    Returns
    -------
    dict
        Item id → (label, posterior).
    """
    return estimate(votes, labels).gold


def annotator_accuracy(
    votes: Mapping[int, Mapping[int, str]],
    labels: Sequence[str],
    names: Mapping[int, str],
) -> list[dict[str, Any]]:
    """Each annotator's estimated accuracy: the diagonal of their confusion matrix.

    ``accuracy`` is ``sum_c prior_c · confusion[c, c]``, the chance of a right answer on
    an item drawn from the estimated class shares; ``per_class`` the diagonal itself.

    Parameters
    ----------
    votes : mapping
        Item id → {annotator id → label}.
    labels : sequence of str
    names : mapping
        Annotator id → name.

    Returns
    -------
    list of dict
        ``{annotator, accuracy, per_class: {label: p}, n}``, in annotator id order.
    """
    result = estimate(votes, labels)
    rows = []
    for column, annotator_id in enumerate(result.annotator_ids.tolist()):
        diagonal = np.diagonal(result.confusions[column])
        rows.append(
            {
                "annotator": names.get(annotator_id, str(annotator_id)),
                "accuracy": float(np.dot(result.priors, diagonal)),
                "per_class": {label: float(p) for label, p in zip(labels, diagonal, strict=True)},
                "n": int(result.n_answers[column]),
            }
        )
    return rows
