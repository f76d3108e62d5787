"""Disagreement strategies on committee members or posterior samples ``(m, n, C)``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab import scores
from activelab.models import ModelAdapter
from activelab.strategies._base import ScoreStrategy


class _SampleStrategy(ScoreStrategy):
    needs: ClassVar[tuple[str, ...]] = ("sample_proba",)

    @staticmethod
    def _score(samples: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        return type(self)._score(model.sample_proba(X_pool))


class VoteEntropy(_SampleStrategy):
    """Query-by-committee with vote entropy (:func:`scores.vote_entropy`)."""

    name: ClassVar[str] = "vote_entropy"
    summary: ClassVar[str] = "entropy of the members' hard votes"
    reference: ClassVar[str] = "Dagan & Engelson 1995"
    _score = staticmethod(scores.vote_entropy)


class KLConsensus(_SampleStrategy):
    """Query-by-committee with mean KL divergence to the consensus (:func:`scores.kl_consensus`)."""

    name: ClassVar[str] = "kl_consensus"
    summary: ClassVar[str] = "mean KL(member ‖ consensus)"
    reference: ClassVar[str] = "McCallum & Nigam 1998"
    _score = staticmethod(scores.kl_consensus)


class BALD(_SampleStrategy):
    """Bayesian active learning by disagreement (:func:`scores.bald`)."""

    name: ClassVar[str] = "bald"
    summary: ClassVar[str] = "mutual information H[mean] − mean H"
    reference: ClassVar[str] = "Houlsby et al. 2011; Gal et al. 2017"
    _score = staticmethod(scores.bald)


class VariationRatio(_SampleStrategy):
    """Share of members that disagree with the modal vote (:func:`scores.variation_ratio`)."""

    name: ClassVar[str] = "variation_ratio"
    summary: ClassVar[str] = "1 − modal vote share"
    reference: ClassVar[str] = "Freeman 1965; Gal et al. 2017"
    _score = staticmethod(scores.variation_ratio)


class MeanStd(_SampleStrategy):
    """Mean standard deviation of the class probabilities (:func:`scores.mean_std`)."""

    name: ClassVar[str] = "mean_std"
    summary: ClassVar[str] = "mean over classes of the members' std"
    reference: ClassVar[str] = "Kampffmeyer et al. 2016"
    _score = staticmethod(scores.mean_std)
