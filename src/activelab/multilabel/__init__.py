"""Multi-label active learning: scores, metrics, oracles and the instance-label pair loop.

Data are an indicator matrix ``Y`` of shape ``(n, L)`` (``Y[i, j] = 1`` when item ``i``
has label ``j``); partial labels mark unknown entries with NaN or -1. Models are wrapped
by :class:`activelab.models.MultiLabelAdapter` (per-label probabilities ``(n, L)``, and
training on partial ``Y`` by masking); the strategies (``task = "multilabel"``) live in
:mod:`activelab.strategies`: ``mmc``, ``binary_minimization``, ``max_loss``,
``mean_max_loss``, ``min_confidence``, ``avg_confidence``, ``max_score``, ``avg_score``,
``adaptive_multilabel``, ``label_cardinality_inconsistency``, ``cvirs``, ``audi`` and
``quire_multilabel`` (the last two also ask instance-label pairs with ``query_pairs``).

``al.simulate`` runs whole-instance experiments on an indicator ``y``;
:func:`simulate_pairs` runs pair experiments.

>>> import activelab as al
>>> al.multilabel.hamming_loss([[1, 0]], [[1, 1]])
0.5
"""

from activelab.multilabel._loop import (
    METRICS,
    MultiLabelOracle,
    PairResult,
    PairRound,
    f1_macro,
    f1_micro,
    hamming_loss,
    random_pairs,
    simulate_pairs,
    subset_accuracy,
)
from activelab.multilabel._scores import (
    audi_instance_scores,
    avg_confidence,
    avg_score,
    binary_minimization,
    category_vector_inconsistency,
    cvirs,
    label_cardinality_inconsistency,
    margin_rank_scores,
    max_loss,
    max_score,
    mean_max_loss,
    min_confidence,
    mmc,
    predicted_label_vectors,
    separation_margin_uncertainty,
)

__all__ = [
    "METRICS",
    "MultiLabelOracle",
    "PairResult",
    "PairRound",
    "audi_instance_scores",
    "avg_confidence",
    "avg_score",
    "binary_minimization",
    "category_vector_inconsistency",
    "cvirs",
    "f1_macro",
    "f1_micro",
    "hamming_loss",
    "label_cardinality_inconsistency",
    "margin_rank_scores",
    "max_loss",
    "max_score",
    "mean_max_loss",
    "min_confidence",
    "mmc",
    "predicted_label_vectors",
    "random_pairs",
    "separation_margin_uncertainty",
    "simulate_pairs",
    "subset_accuracy",
]
