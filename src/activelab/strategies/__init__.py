"""Query strategies and their registry.

>>> import activelab as al
>>> "margin" in al.strategies.available()
True
>>> strategy = al.strategies.get("margin", sampling="softmax", temperature=0.5)

A new strategy subclasses :class:`Strategy` (or :class:`ScoreStrategy`), sets ``name``,
``needs``, ``summary`` and ``reference``, and is added with :func:`register`; the
conformance tests then run it with every other.
"""

from __future__ import annotations

import difflib
from typing import Any

from activelab.strategies._albl import ALBL
from activelab.strategies._base import ScoreStrategy, Strategy
from activelab.strategies._batch import (
    BADGE,
    CoreSet,
    Diverse,
    DiverseMiniBatch,
    FacilityLocation,
    InformationDensity,
)
from activelab.strategies._batchbald import BatchBALD
from activelab.strategies._bmdr import BMDR
from activelab.strategies._class_balance import ClassBalance
from activelab.strategies._combine import Combine
from activelab.strategies._contrast import Contrastive, Discriminative
from activelab.strategies._cost_aware import CostAware
from activelab.strategies._cost_embedding import CostEmbedding
from activelab.strategies._disagreement import (
    BALD,
    KLConsensus,
    MeanStd,
    VariationRatio,
    VoteEntropy,
)
from activelab.strategies._dwus import DWUS
from activelab.strategies._eer import ExpectedErrorReduction, ValueOfInformationEER
from activelab.strategies._egl import ExpectedGradientLength
from activelab.strategies._epig import EPIG
from activelab.strategies._epistemic import EpistemicUncertainty
from activelab.strategies._epsilon_greedy import EpsilonGreedy
from activelab.strategies._falcun import Falcun
from activelab.strategies._fourds import FourDS
from activelab.strategies._graph_density import GraphDensity
from activelab.strategies._herding import MaxHerding
from activelab.strategies._hierarchical import HierarchicalSampling
from activelab.strategies._hintsvm import HintSVM
from activelab.strategies._hybrid import CLUE, DropQuery
from activelab.strategies._lal import LAL
from activelab.strategies._llm_select import LLMSelect, LLMUnavailableWarning
from activelab.strategies._loss_prediction import (
    LossPrediction,
    LossPredictionHead,
    margin_ranking_loss,
)
from activelab.strategies._multilabel import (
    CVIRS,
    MMC,
    AdaptiveMultiLabel,
    AvgConfidence,
    AvgScore,
    BinaryMinimization,
    LabelCardinalityInconsistency,
    MaxLoss,
    MaxScore,
    MeanMaxLoss,
    MinConfidence,
    MultiLabelStrategy,
)
from activelab.strategies._multilabel_cost import (
    AURO,
    HALC,
    CostPerformance,
    propagate_hierarchy,
)
from activelab.strategies._multilabel_libact import CSRPE, MultiLabelAuxiliary
from activelab.strategies._multilabel_pairs import AUDI, MultiLabelQuire
from activelab.strategies._pal import XPAL, ProbabilisticAL
from activelab.strategies._probcover import ProbCover
from activelab.strategies._quire import Quire
from activelab.strategies._ranked_batch import RankedBatch
from activelab.strategies._regression import (
    IntervalWidth,
    PredictiveVariance,
    QueryByCommitteeRegression,
    RegressionStrategy,
)
from activelab.strategies._regression_expected import (
    ExpectedModelOutputChange,
    ExpectedModelVarianceReduction,
    KLDivergenceMaximization,
)
from activelab.strategies._regression_greedy import (
    GreedySamplingTarget,
    GreedySamplingX,
    ImprovedGreedySampling,
)
from activelab.strategies._regression_tree import RegressionTreeBasedAL
from activelab.strategies._representative import KMeansSampling
from activelab.strategies._seals import SEALS, AnchorSubsampling
from activelab.strategies._spal import SPAL
from activelab.strategies._svm_margin import SVMMargin
from activelab.strategies._typiclust import TypiClust
from activelab.strategies._uncertainty import (
    Entropy,
    LeastConfidence,
    Margin,
    RandomSampling,
    Ratio,
)
from activelab.strategies._vaal import VAAL
from activelab.strategies._variance_reduction import VarianceReduction
from activelab.strategies._wrappers import Parallel, SubSample

__all__ = [
    "ALBL",
    "AUDI",
    "AURO",
    "BADGE",
    "BALD",
    "BMDR",
    "CLUE",
    "CSRPE",
    "CVIRS",
    "DWUS",
    "EPIG",
    "HALC",
    "LAL",
    "MMC",
    "SEALS",
    "SPAL",
    "VAAL",
    "XPAL",
    "AdaptiveMultiLabel",
    "AnchorSubsampling",
    "AvgConfidence",
    "AvgScore",
    "BatchBALD",
    "BinaryMinimization",
    "ClassBalance",
    "Combine",
    "Contrastive",
    "CoreSet",
    "CostAware",
    "CostEmbedding",
    "CostPerformance",
    "Discriminative",
    "Diverse",
    "DiverseMiniBatch",
    "DropQuery",
    "Entropy",
    "EpistemicUncertainty",
    "EpsilonGreedy",
    "ExpectedErrorReduction",
    "ExpectedGradientLength",
    "ExpectedModelOutputChange",
    "ExpectedModelVarianceReduction",
    "FacilityLocation",
    "Falcun",
    "FourDS",
    "GraphDensity",
    "GreedySamplingTarget",
    "GreedySamplingX",
    "HierarchicalSampling",
    "HintSVM",
    "ImprovedGreedySampling",
    "InformationDensity",
    "IntervalWidth",
    "KLConsensus",
    "KLDivergenceMaximization",
    "KMeansSampling",
    "LLMSelect",
    "LLMUnavailableWarning",
    "LabelCardinalityInconsistency",
    "LeastConfidence",
    "LossPrediction",
    "LossPredictionHead",
    "Margin",
    "MaxHerding",
    "MaxLoss",
    "MaxScore",
    "MeanMaxLoss",
    "MeanStd",
    "MinConfidence",
    "MultiLabelAuxiliary",
    "MultiLabelQuire",
    "MultiLabelStrategy",
    "Parallel",
    "PredictiveVariance",
    "ProbCover",
    "ProbabilisticAL",
    "QueryByCommitteeRegression",
    "Quire",
    "RandomSampling",
    "RankedBatch",
    "Ratio",
    "RegressionStrategy",
    "RegressionTreeBasedAL",
    "SVMMargin",
    "ScoreStrategy",
    "Strategy",
    "SubSample",
    "TypiClust",
    "ValueOfInformationEER",
    "VarianceReduction",
    "VariationRatio",
    "VoteEntropy",
    "available",
    "describe",
    "get",
    "margin_ranking_loss",
    "propagate_hierarchy",
    "register",
]

_REGISTRY: dict[str, type[Strategy]] = {}


def register(strategy: type[Strategy]) -> type[Strategy]:
    """Add a Strategy class to the registry under its ``name``; usable as a decorator.

    Parameters
    ----------
    strategy : type
        A subclass of :class:`Strategy` with a non-empty ``name``.

    Returns
    -------
    type
        ``strategy`` itself.
    """
    if not (isinstance(strategy, type) and issubclass(strategy, Strategy)):
        raise TypeError(f"register takes a Strategy subclass; got {strategy!r}.")
    if not strategy.name:
        raise ValueError(f"{strategy.__name__} has no name; set the class attribute name.")
    existing = _REGISTRY.get(strategy.name)
    if existing is not None and existing is not strategy:
        raise ValueError(
            f"a strategy named {strategy.name!r} is registered already ({existing.__name__})."
        )
    _REGISTRY[strategy.name] = strategy
    return strategy


def available() -> list[str]:
    """Names of all registered strategies, sorted.

    Returns
    -------
    list of str
    """
    return sorted(_REGISTRY)


def _lookup(name: str) -> type[Strategy]:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"unknown strategy {name!r}.{hint} Available: {', '.join(available())}."
        ) from None


def get(name: str, **params: Any) -> Strategy:
    """A new strategy by registry name, with parameters.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **params
        Passed to the strategy's constructor (e.g. ``sampling="softmax"``).

    Returns
    -------
    Strategy
    """
    cls = _lookup(name)
    try:
        return cls(**params)
    except TypeError as error:
        accepted = sorted(cls._get_param_names())
        raise TypeError(
            f"{name} got unexpected parameters {sorted(params)}; it accepts "
            f"{accepted or 'no parameters'}. ({error})"
        ) from None


def describe(name: str) -> dict[str, str]:
    """One row about a strategy: name, what it needs from the model, summary, paper.

    Parameters
    ----------
    name : str

    Returns
    -------
    dict with keys ``name``, ``needs``, ``summary``, ``reference``.
    """
    cls = _lookup(name)
    return {
        "name": cls.name,
        "needs": ", ".join(cls.needs) or "—",
        "summary": cls.summary,
        "reference": cls.reference,
    }


for _strategy in (
    RandomSampling,
    LeastConfidence,
    Margin,
    Ratio,
    Entropy,
    VoteEntropy,
    KLConsensus,
    BALD,
    BatchBALD,
    VariationRatio,
    MeanStd,
    CoreSet,
    BADGE,
    DiverseMiniBatch,
    InformationDensity,
    FacilityLocation,
    CLUE,
    Falcun,
    DropQuery,
    Contrastive,
    Discriminative,
    KMeansSampling,
    TypiClust,
    ProbCover,
    MaxHerding,
    ALBL,
    Quire,
    BMDR,
    SPAL,
    HintSVM,
    FourDS,
    LAL,
    CostEmbedding,
    CostAware,
    SubSample,
    Parallel,
    GraphDensity,
    DWUS,
    HierarchicalSampling,
    RankedBatch,
    EpsilonGreedy,
    SVMMargin,
    ClassBalance,
    SEALS,
    AnchorSubsampling,
    Combine,
    ExpectedGradientLength,
    EPIG,
    ExpectedErrorReduction,
    ValueOfInformationEER,
    VarianceReduction,
    EpistemicUncertainty,
    ProbabilisticAL,
    XPAL,
    PredictiveVariance,
    QueryByCommitteeRegression,
    IntervalWidth,
    GreedySamplingX,
    GreedySamplingTarget,
    ImprovedGreedySampling,
    ExpectedModelOutputChange,
    ExpectedModelVarianceReduction,
    KLDivergenceMaximization,
    RegressionTreeBasedAL,
    VAAL,
    LossPrediction,
    LLMSelect,
    MMC,
    BinaryMinimization,
    MaxLoss,
    MeanMaxLoss,
    MinConfidence,
    AvgConfidence,
    MaxScore,
    AvgScore,
    AdaptiveMultiLabel,
    LabelCardinalityInconsistency,
    CVIRS,
    AUDI,
    MultiLabelQuire,
    HALC,
    CostPerformance,
    AURO,
    MultiLabelAuxiliary,
    CSRPE,
):
    register(_strategy)

# The tagger strategies live with the taggers in al.sequence; they register here so that
# get/describe/available know them (imported last: the module imports this package's base).
from activelab.sequence._strategies import SEQUENCE_STRATEGIES  # noqa: E402

for _strategy in SEQUENCE_STRATEGIES:
    register(_strategy)
