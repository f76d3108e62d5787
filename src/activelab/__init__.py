"""activelab: active learning with every query strategy, correct and fast.

>>> import activelab as al
>>> learner = al.ActiveLearner(estimator, strategy="margin")   # doctest: +SKIP
"""

from activelab import (
    bayesopt,
    bench,
    costs,
    datasets,
    feature_acquisition,
    models,
    oracles,
    plot,
    scale,
    scores,
    select,
    sequence,
    stopping,
    strategies,
    stream,
    synthesis,
    training,
    vision,
)
from activelab.loop import ActiveLearner, Result, simulate

__version__ = "0.1.0"

__all__ = [
    "ActiveLearner",
    "Result",
    "__version__",
    "bayesopt",
    "bench",
    "costs",
    "datasets",
    "feature_acquisition",
    "models",
    "oracles",
    "plot",
    "scale",
    "scores",
    "select",
    "sequence",
    "simulate",
    "stopping",
    "strategies",
    "stream",
    "synthesis",
    "training",
    "vision",
]
