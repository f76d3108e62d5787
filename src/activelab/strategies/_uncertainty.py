"""Uncertainty sampling on one model's class probabilities, and random sampling."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from activelab import scores
from activelab._validation import n_rows
from activelab.models import ModelAdapter
from activelab.strategies._base import ScoreStrategy, Strategy


class RandomSampling(Strategy):
    """Uniformly random batch: the baseline every strategy must beat.

    Parameters
    ----------
    None.

    Examples
    --------
    >>> RandomSampling().query(None, [[0.0], [1.0], [2.0]], 2, random_state=0).shape
    (2,)
    """

    name: ClassVar[str] = "random"
    summary: ClassVar[str] = "uniformly random batch (baseline)"
    reference: ClassVar[str] = "—"

    def _select(self, model, X_pool, k, X_labeled, y_labeled, rng):
        return rng.choice(n_rows(X_pool), size=k, replace=False).astype(np.int64)


class _ProbaStrategy(ScoreStrategy):
    needs: ClassVar[tuple[str, ...]] = ("predict_proba",)

    @staticmethod
    def _score(proba: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _utilities(self, model: ModelAdapter, X_pool: Any) -> np.ndarray:
        return type(self)._score(model.predict_proba(X_pool))


class LeastConfidence(_ProbaStrategy):
    """Query the items whose top class is least probable (:func:`scores.least_confidence`)."""

    name: ClassVar[str] = "least_confidence"
    summary: ClassVar[str] = "1 − max class probability"
    reference: ClassVar[str] = "Lewis & Gale 1994"
    _score = staticmethod(scores.least_confidence)


class Margin(_ProbaStrategy):
    """Query the items with the smallest top-two margin (:func:`scores.margin`)."""

    name: ClassVar[str] = "margin"
    summary: ClassVar[str] = "1 − (p₁ − p₂), smallest top-two margin"
    reference: ClassVar[str] = "Scheffer et al. 2001"
    _score = staticmethod(scores.margin)


class Ratio(_ProbaStrategy):
    """Query the items with the highest second-to-first probability ratio (:func:`scores.ratio`)."""

    name: ClassVar[str] = "ratio"
    summary: ClassVar[str] = "p₂ / p₁, confidence ratio"
    reference: ClassVar[str] = "Settles 2009 §3.1"
    _score = staticmethod(scores.ratio)


class Entropy(_ProbaStrategy):
    """Query the items with the most uncertain predictive distribution (:func:`scores.entropy`)."""

    name: ClassVar[str] = "entropy"
    summary: ClassVar[str] = "Shannon entropy of the prediction"
    reference: ClassVar[str] = "Settles & Craven 2008"
    _score = staticmethod(scores.entropy)
