"""Entity-level precision, recall and F1 (strict span match), per type and micro-averaged.

An entity counts as found only when a predicted entity has exactly the same start, end
and type as a true one (the CoNLL-2000/2003 shared-task measure). Entities are read from
the tags with :func:`activelab.sequence.entities` (conlleval rules by default, seqeval's
``mode="strict"`` on request), so the numbers equal seqeval's ``precision_score``,
``recall_score``, ``f1_score`` and ``classification_report``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from activelab.sequence._schemes import _span_table

__all__ = ["entity_f1", "entity_scores", "token_accuracy"]

_MAX_TYPES = 1024


def _keys(
    tags: Sequence[Sequence[str]], scheme: str | None, mode: str, names: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One int64 key per entity (start, end, type) and its type index; and the offsets."""
    _, spans, types, offsets = _span_table(tags, scheme, mode)
    remap = np.array([names.setdefault(t, len(names)) for t in types], dtype=np.int64)
    if len(names) >= _MAX_TYPES:
        raise ValueError(f"more than {_MAX_TYPES - 1} entity types; is this a tag set?")
    type_index = remap[spans[:, 2]] if spans.shape[0] else np.zeros(0, dtype=np.int64)
    size = int(offsets[-1]) + 1
    return (spans[:, 0] * size + spans[:, 1]) * _MAX_TYPES + type_index, type_index, offsets


def _ratio(numerator: np.ndarray, denominator: np.ndarray, zero_division: float) -> np.ndarray:
    out = np.full(numerator.shape, float(zero_division))
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def entity_scores(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    scheme: str | None = None,
    mode: str = "conlleval",
    zero_division: float = 0.0,
) -> dict[str, Any]:
    """Entity-level precision, recall and F1, micro-averaged and per entity type.

    Parameters
    ----------
    y_true, y_pred : list of list of str
        Tags of the same sentences, one per token.
    scheme : {"IOB1", "IOB2", "BIOES"}, optional
        Only needed for ``mode="strict"``.
    mode : {"conlleval", "strict"}
        How entities are read from tags (see :func:`activelab.sequence.entities`).
    zero_division : float
        The value of a ratio whose denominator is 0 (no predicted or no true entity).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1`` (micro), ``macro_f1``, ``support`` (true
        entities), ``predicted``, ``correct``, and ``per_type``: a dict from type to the
        same keys (without ``per_type`` and ``macro_f1``).

    Examples
    --------
    >>> true = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> pred = [["B-PER", "I-PER", "O", "B-ORG"]]
    >>> scores = entity_scores(true, pred)
    >>> scores["precision"], scores["recall"], scores["per_type"]["PER"]["f1"]
    (0.5, 0.5, 1.0)
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} sentences but y_pred has {len(y_pred)}.")
    for i, (a, b) in enumerate(zip(y_true, y_pred, strict=True)):
        if len(a) != len(b):
            raise ValueError(
                f"sentence {i} has {len(a)} true tags but {len(b)} predicted ones; predict "
                "one tag per token of the same sentences."
            )
    names: dict[str, int] = {}
    true_keys, true_types, _ = _keys(y_true, scheme, mode, names)
    pred_keys, pred_types, _ = _keys(y_pred, scheme, mode, names)
    hit = np.isin(pred_keys, true_keys)
    n_types = len(names)
    support = np.bincount(true_types, minlength=n_types).astype(np.float64)
    predicted = np.bincount(pred_types, minlength=n_types).astype(np.float64)
    correct = np.bincount(pred_types[hit], minlength=n_types).astype(np.float64)
    precision = _ratio(correct, predicted, zero_division)
    recall = _ratio(correct, support, zero_division)
    f1 = _ratio(2 * precision * recall, precision + recall, 0.0)
    total = np.array([correct.sum(), predicted.sum(), support.sum()])
    micro_p = float(_ratio(total[:1], total[1:2], zero_division)[0])
    micro_r = float(_ratio(total[:1], total[2:3], zero_division)[0])
    micro_f = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r > 0 else 0.0
    order = sorted(names, key=str)
    per_type = {
        name: {
            "precision": float(precision[names[name]]),
            "recall": float(recall[names[name]]),
            "f1": float(f1[names[name]]),
            "support": int(support[names[name]]),
            "predicted": int(predicted[names[name]]),
            "correct": int(correct[names[name]]),
        }
        for name in order
    }
    return {
        "precision": micro_p,
        "recall": micro_r,
        "f1": float(micro_f),
        "macro_f1": float(f1.mean()) if n_types else float(zero_division),
        "support": int(total[2]),
        "predicted": int(total[1]),
        "correct": int(total[0]),
        "per_type": per_type,
    }


def entity_f1(
    y_true: Sequence[Sequence[str]],
    y_pred: Sequence[Sequence[str]],
    scheme: str | None = None,
    mode: str = "conlleval",
) -> float:
    """Micro-averaged entity F1 (see :func:`entity_scores`).

    Parameters
    ----------
    y_true, y_pred : list of list of str
    scheme : str, optional
    mode : {"conlleval", "strict"}

    Returns
    -------
    float

    Examples
    --------
    >>> entity_f1([["B-PER", "O"]], [["B-PER", "O"]])
    1.0
    """
    return entity_scores(y_true, y_pred, scheme, mode)["f1"]


def token_accuracy(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]) -> float:
    """Share of tokens whose tag is right (``O`` included, so it is usually high).

    Parameters
    ----------
    y_true, y_pred : list of list of str

    Returns
    -------
    float

    Examples
    --------
    >>> token_accuracy([["B-PER", "O"]], [["B-PER", "B-LOC"]])
    0.5
    """
    true = [t for sentence in y_true for t in sentence]
    pred = [t for sentence in y_pred for t in sentence]
    if len(true) != len(pred):
        raise ValueError(f"{len(true)} true tags but {len(pred)} predicted ones.")
    if not true:
        raise ValueError("token_accuracy needs at least one token.")
    return float(np.mean(np.asarray(true, dtype=object) == np.asarray(pred, dtype=object)))
