"""The Oracle protocol: labels for indices, or a skip."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Answers:
    """What an oracle returns for a batch of queried indices.

    Attributes
    ----------
    indices : numpy.ndarray of int
        The queried indices the oracle labeled, in the order asked.
    labels : numpy.ndarray
        One label per entry of ``indices``.
    skipped : numpy.ndarray of int
        Queried indices the oracle declined ("don't know", "skip"); the loop takes them
        out of the pool so they are not asked again.
    """

    indices: np.ndarray
    labels: np.ndarray
    skipped: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.labels):
            raise ValueError(
                f"an oracle answered {len(self.labels)} labels for {len(self.indices)} indices."
            )


@runtime_checkable
class Oracle(Protocol):
    """Anything that labels items by index: a simulation, a person, an LLM.

    One method: ``label(indices) -> Answers``. Indices refer to the data set the
    oracle was built on (``simulate`` passes indices into ``X``).
    """

    def label(self, indices: np.ndarray) -> Answers:
        """Labels for ``indices``, or skips."""
        ...  # pragma: no cover
