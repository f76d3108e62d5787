"""Class balancing: share the batch out over predicted classes, rarest labeled class first."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab._data import take_rows
from activelab.select import top_k
from activelab.strategies._base import ScoreStrategy, Strategy
from activelab.strategies._combine import NeedsOf, resolve_base

__all__ = ["ClassBalance", "balanced_allocation"]


def balanced_allocation(
    labeled_counts: Any, available: Any, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Which class each of ``k`` batch slots goes to, so that class counts move toward balance.

    Slot by slot, the slot goes to the class with the fewest items so far (labeled plus
    slots already given), among the classes that still have available candidates; ties
    are drawn at random. This is the water-filling of small-text's ``ClassBalancer``:
    rare classes are topped up first, and a class with no candidates left is skipped.

    Parameters
    ----------
    labeled_counts : array-like of int, shape (C,)
        Labeled items per class.
    available : array-like of int, shape (C,)
        Pool items predicted in each class (the most a class can receive).
    k : int
        Batch size, at most ``sum(available)``.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        The class of each slot, in the order given.

    Examples
    --------
    >>> balanced_allocation([5, 1, 4], [10, 10, 10], 3, np.random.default_rng(0)).tolist()
    [1, 1, 1]
    >>> balanced_allocation([5, 1, 4], [10, 1, 10], 2, np.random.default_rng(0)).tolist()
    [1, 2]
    """
    counts = np.asarray(labeled_counts, dtype=np.float64).copy()
    left = np.asarray(available, dtype=np.int64).copy()
    if k > int(left.sum()):
        raise ValueError(f"balanced_allocation: {k} slots for {int(left.sum())} candidates.")
    tie_keys = rng.random(counts.shape[0])
    slots = np.empty(k, dtype=np.int64)
    for slot in range(k):
        open_counts = np.where(left > 0, counts, np.inf)
        fewest = np.flatnonzero(open_counts == open_counts.min())
        chosen = int(fewest[np.argmax(tie_keys[fewest])])
        tie_keys[chosen] = rng.random()  # a tied class does not win every round
        slots[slot] = chosen
        counts[chosen] += 1
        left[chosen] -= 1
    return slots


class ClassBalance(Strategy):
    """Class balancer: the base strategy's best items, shared out over predicted classes.

    For imbalanced data, where plain uncertainty sampling keeps missing rare classes.
    Each pool item is assigned the model's predicted class; the batch's ``k`` slots are
    shared out by :func:`balanced_allocation` (each slot to the class with the fewest
    labeled plus already-allocated items, among classes that still have predicted
    items); within a class the slots are filled by the base strategy's choice among the
    items predicted in that class. With a score strategy as base (margin, entropy, …)
    the utilities are computed once and each class takes its highest; any other
    strategy is queried on each class's items. The batch lists the slots in allocation
    order (rarest class first).

    Predictions can be wrong, so this moves the labeled class counts toward balance
    without guaranteeing it (as small-text's ``ClassBalancer`` says of itself).

    Parameters
    ----------
    strategy : str, (name, params) or Strategy, default="margin"
        The base strategy.

    References
    ----------
    Schröder, Niekler & Potthast (2023), "Small-Text: active learning for text
    classification in Python", EACL demos (``ClassBalancer``, small-text 2.0).
    Aggarwal, Popescu & Hudelot (2020), "Active learning for imbalanced datasets", WACV.
    Ertekin, Huang, Bottou & Giles (2007), "Learning on the border: active learning in
    imbalanced data classification", CIKM.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [1.5], [3.0], [4.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 0, 1, 1])
    >>> pool = [[0.2], [0.5], [3.5], [4.5]]
    >>> sorted(ClassBalance().query(model, pool, 2, X, [0, 0, 0, 1, 1], 0).tolist())
    [1, 2]
    """

    name: ClassVar[str] = "class_balance"
    needs = NeedsOf("strategy", extra=("predict_proba",))  # type: ignore[assignment]
    summary: ClassVar[str] = "base strategy's best per predicted class, rarest labeled class first"
    reference: ClassVar[str] = "Schröder et al. 2023 (small-text ClassBalancer)"
    default_bases: ClassVar[str] = "margin"

    def __init__(self, strategy: Any = "margin") -> None:
        self.strategy = strategy

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        base = resolve_base(self.strategy, self.name)
        proba = np.asarray(model.predict_proba(X_pool))
        classes = np.asarray(model.classes_)
        predicted = np.argmax(proba, axis=1)
        labeled_counts = np.zeros(classes.shape[0])
        if y_labeled is not None and len(y_labeled):
            position = {label: i for i, label in enumerate(classes.tolist())}
            for label, count in zip(
                *np.unique(np.asarray(y_labeled), return_counts=True), strict=True
            ):
                if label.item() in position:
                    labeled_counts[position[label.item()]] = count
        available = np.bincount(predicted, minlength=classes.shape[0])
        slots = balanced_allocation(labeled_counts, available, k, rng)
        wanted = np.bincount(slots, minlength=classes.shape[0])
        chosen: dict[int, list[int]] = {}
        utilities = base._utilities(model, X_pool) if isinstance(base, ScoreStrategy) else None
        for c in np.flatnonzero(wanted):
            members = np.flatnonzero(predicted == c)
            if utilities is not None:
                order = top_k(utilities[members], int(wanted[c]), rng)
            else:
                order = base._select(
                    model, take_rows(X_pool, members), int(wanted[c]), X_labeled, y_labeled, rng
                )
            chosen[int(c)] = members[np.asarray(order, dtype=np.int64)].tolist()
        return np.asarray([chosen[int(c)].pop(0) for c in slots], dtype=np.int64)
