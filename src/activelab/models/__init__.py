"""Model adapters: the one layer that knows a machine-learning framework.

``wrap(estimator)`` turns a scikit-learn classifier, a Pipeline or anything with
``predict_proba`` into an adapter that strategies can read from (a regressor into a
:class:`RegressionAdapter`, a multi-label classifier into a :class:`MultiLabelAdapter`
with per-label probabilities ``(n, L)``); ``Committee`` builds
query-by-committee, query-by-bagging and query-by-boosting ensembles; ``Calibrated``
temperature-scales any classifier's probabilities; ``SentenceEmbedder`` turns texts into
all-MiniLM-L6-v2 sentence embeddings (offline, cached on disk); ``TorchClassifier`` wraps a
PyTorch ``nn.Module`` factory (MC dropout, deep ensembles, embeddings, gradients).
"""

from activelab.models._base import Features, ModelAdapter, align_columns, numeric_features
from activelab.models._calibration import Calibrated, fit_temperature
from activelab.models._committee import BoostingCommittee, Committee
from activelab.models._multilabel import (
    MultiLabelAdapter,
    is_multilabel_adapter,
    is_multilabel_estimator,
)
from activelab.models._regression import (
    GaussianPosterior,
    RegressionAdapter,
    RegressionCommittee,
    is_regressor,
)
from activelab.models._sklearn import SklearnAdapter, wrap
from activelab.models._text import SentenceEmbedder
from activelab.models._torch import TorchClassifier, TrainingBatch

__all__ = [
    "BoostingCommittee",
    "Calibrated",
    "Committee",
    "Features",
    "GaussianPosterior",
    "ModelAdapter",
    "MultiLabelAdapter",
    "RegressionAdapter",
    "RegressionCommittee",
    "SentenceEmbedder",
    "SklearnAdapter",
    "TorchClassifier",
    "TrainingBatch",
    "align_columns",
    "fit_temperature",
    "is_multilabel_adapter",
    "is_multilabel_estimator",
    "is_regressor",
    "numeric_features",
    "wrap",
]
