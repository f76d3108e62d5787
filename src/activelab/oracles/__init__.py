"""Oracles: who answers the queries.

A simulation (:class:`SimulatedOracle`), a noisy annotator (:class:`NoisyOracle`), a
crowd of them (:class:`MultiAnnotatorOracle`, :func:`simulated_annotators`, IEThresh,
majority vote and Dawid–Skene aggregation), a large language model
(:class:`LLMOracle`, over any OpenAI-compatible endpoint) and a :class:`Router` that
sends uncertain items to a person and the rest to the LLM. Every one of them has
``label(indices) -> Answers`` and works in ``simulate`` and ``ActiveLearner``. The
annotation studio uses :class:`LLMOracle` (label suggestions for people), a
:class:`Router` on the model's confidence (the LLM labels confident items, people the
rest) and :func:`dawid_skene` (aggregating overlapping answers); the simulated and
multi-annotator oracles and IEThresh are for simulations (see ``docs/studio.md``).
"""

from activelab.oracles._aggregate import (
    DawidSkeneResult,
    dawid_skene,
    label_uncertainty,
    majority_vote,
    vote_counts,
)
from activelab.oracles._annotators import (
    IEThresh,
    MultiAnnotatorOracle,
    interval_estimates,
    simulated_annotators,
)
from activelab.oracles._base import (
    Answers,
    LoopContext,
    Oracle,
    RecordingOracle,
    apply_revisions,
    observe,
)
from activelab.oracles._llm import LLMOracle, LLMUsage, label_probability
from activelab.oracles._llm_cache import ResponseCache, cache_key
from activelab.oracles._llm_client import ChatClient, ChatResult, LLMError
from activelab.oracles._router import CostBudget, RoutedLabel, Router
from activelab.oracles._simulated import NoisyOracle, SimulatedOracle

__all__ = [
    "Answers",
    "ChatClient",
    "ChatResult",
    "CostBudget",
    "DawidSkeneResult",
    "IEThresh",
    "LLMError",
    "LLMOracle",
    "LLMUsage",
    "LoopContext",
    "MultiAnnotatorOracle",
    "NoisyOracle",
    "Oracle",
    "RecordingOracle",
    "ResponseCache",
    "RoutedLabel",
    "Router",
    "SimulatedOracle",
    "apply_revisions",
    "cache_key",
    "dawid_skene",
    "interval_estimates",
    "label_probability",
    "label_uncertainty",
    "majority_vote",
    "observe",
    "simulated_annotators",
    "vote_counts",
]
