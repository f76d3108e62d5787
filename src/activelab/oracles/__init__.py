"""Oracles: who answers the queries (a simulation, a noisy annotator, later people and LLMs)."""

from activelab.oracles._base import Answers, Oracle
from activelab.oracles._simulated import NoisyOracle, SimulatedOracle

__all__ = ["Answers", "NoisyOracle", "Oracle", "SimulatedOracle"]
