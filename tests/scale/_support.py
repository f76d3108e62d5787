"""Models and checks shared by the scale tests; the workers import the models by reference."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
from sklearn.linear_model import LogisticRegression

from activelab import scale
from activelab.models import ModelAdapter
from activelab.scale._keys import STREAM_TIES

#: A feature value that makes :class:`ExitOnSentinel` end the worker process.
SENTINEL = 12345.0


class CountingLogistic(LogisticRegression):
    """LogisticRegression that counts how often it is pickled in this process."""

    pickles: ClassVar[int] = 0

    def __getstate__(self) -> dict[str, Any]:
        type(self).pickles += 1
        return super().__getstate__()


class ExitOnSentinel(LogisticRegression):
    """LogisticRegression whose worker process dies on a row holding :data:`SENTINEL`."""

    def predict_proba(self, X: Any) -> np.ndarray:
        values = np.asarray(X)
        if (values[:, 0] == SENTINEL).any():
            try:
                from distributed import get_worker

                get_worker()
            except (ImportError, ValueError):
                raise ValueError("the sentinel row, outside a Dask worker") from None
            os._exit(1)  # what an out-of-memory kill or a segfault looks like to Dask
        return super().predict_proba(X)


class ScaledEmbedding(ModelAdapter):
    """An adapter whose embedding is the first two features times ten (no probabilities)."""

    @property
    def capabilities(self) -> frozenset[str]:
        """Only ``embed``."""
        return frozenset({"embed"})

    def fit(self, X: Any, y: Any) -> ScaledEmbedding:
        """Nothing to fit."""
        return self

    def embed(self, X: Any) -> np.ndarray:
        """``10 · X[:, :2]``."""
        return 10.0 * np.asarray(X, dtype=np.float64)[:, :2]


def reference_order(key: np.ndarray, seed: int) -> np.ndarray:
    """Plain reference of a query's order: every row by (key, tie key), highest first."""
    ties = scale.tie_keys(np.arange(key.shape[0]), scale.stream_seed(seed, STREAM_TIES))
    return np.lexsort((ties, key))[::-1]


def assert_same_top_k(rows: np.ndarray, expected: np.ndarray, utilities: np.ndarray) -> None:
    """Same utilities in the same order, and the same rows except among exact ties."""
    rows, expected = np.asarray(rows), np.asarray(expected)
    np.testing.assert_array_equal(utilities[rows], utilities[expected])
    kth = utilities[expected[-1]]
    above = utilities[rows] > kth
    assert set(rows[above].tolist()) == set(expected[utilities[expected] > kth].tolist())
    for value in np.unique(utilities[rows][above]):
        assert set(rows[utilities[rows] == value]) == set(expected[utilities[expected] == value])


class CountingEmbedding(ScaledEmbedding):
    """:class:`ScaledEmbedding` that counts, in this process, the rows it embedded."""

    rows: ClassVar[int] = 0

    def embed(self, X: Any) -> np.ndarray:
        """``10 · X[:, :2]``, counting the rows."""
        type(self).rows += int(np.asarray(X).shape[0])
        return super().embed(X)


def small_mlp(n_features: int, n_classes: int) -> Any:
    """A two-layer torch network for TorchClassifier (importable by the workers)."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(n_features, 8), torch.nn.ReLU(), torch.nn.Linear(8, n_classes)
    )


def allowed_order(key: np.ndarray, seed: int, excluded: Any) -> np.ndarray:
    """:func:`reference_order` without the excluded rows."""
    order = reference_order(key, seed)
    return order[~np.isin(order, np.asarray(excluded))]
