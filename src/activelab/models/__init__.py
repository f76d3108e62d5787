"""Model adapters: the one layer that knows a machine-learning framework.

``wrap(estimator)`` turns a scikit-learn classifier, a Pipeline or anything with
``predict_proba`` into an adapter that strategies can read from; ``Committee`` builds
query-by-committee and query-by-bagging ensembles.
"""

from activelab.models._base import Features, ModelAdapter, align_columns, numeric_features
from activelab.models._committee import Committee
from activelab.models._sklearn import SklearnAdapter, wrap

__all__ = [
    "Committee",
    "Features",
    "ModelAdapter",
    "SklearnAdapter",
    "align_columns",
    "numeric_features",
    "wrap",
]
