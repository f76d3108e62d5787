"""Simulated oracles built on ground-truth labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from activelab._validation import RandomStateLike, check_random_state
from activelab.oracles._base import Answers


class SimulatedOracle:
    """A perfect annotator that answers from ground-truth labels.

    Parameters
    ----------
    y : array-like of shape (n,)
        The true label of every item.
    skip_rate : float
        Probability that the annotator skips an item (answers "don't know").
    random_state : int, numpy.random.Generator or None
        Seeds the skips.

    Examples
    --------
    >>> SimulatedOracle(["a", "b", "c"]).label(np.array([2, 0])).labels.tolist()
    ['c', 'a']
    """

    def __init__(
        self, y: Any, skip_rate: float = 0.0, random_state: RandomStateLike = None
    ) -> None:
        self.y = np.asarray(y)
        if self.y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per item); got shape {self.y.shape}.")
        if not 0.0 <= skip_rate < 1.0:
            raise ValueError(f"skip_rate must be in [0, 1); got {skip_rate}.")
        self.skip_rate = skip_rate
        self._rng = check_random_state(random_state)

    def _check(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            raise TypeError(
                f"an oracle takes integer indices; got dtype {indices.dtype} "
                f"({indices.ravel()[:3].tolist()}…). Pass positions, not values."
            )
        indices = indices.astype(np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= self.y.shape[0]):
            raise IndexError(
                f"the oracle knows {self.y.shape[0]} items; asked for index "
                f"{int(indices.max() if indices.max() >= self.y.shape[0] else indices.min())}."
            )
        return indices

    def _answer(self, indices: np.ndarray) -> np.ndarray:
        return self.y[indices]

    def label(self, indices: np.ndarray) -> Answers:
        """The true labels of ``indices`` (minus the ones skipped at ``skip_rate``).

        Parameters
        ----------
        indices : array of int

        Returns
        -------
        Answers
        """
        indices = self._check(indices)
        skip = self._rng.random(indices.shape[0]) < self.skip_rate if self.skip_rate else None
        if skip is None or not skip.any():
            return Answers(indices, self._answer(indices))
        answered = indices[~skip]
        return Answers(answered, self._answer(answered), indices[skip])


class NoisyOracle(SimulatedOracle):
    """An annotator who makes mistakes: uniform or class-dependent label noise.

    Uniform noise (``noise``): with that probability the answer is one of the *other*
    classes, chosen uniformly. Class-dependent noise (``transition``): the answer for an
    item of true class ``i`` is class ``j`` with probability ``transition[i, j]`` (rows
    sum to one, in the order of ``classes``). Noise is drawn once per query, seeded.

    Parameters
    ----------
    y : array-like of shape (n,)
        True labels.
    noise : float
        Flip probability for uniform noise, in ``[0, 1]``. Ignored when ``transition``
        is given.
    transition : array of shape (C, C), optional
        Class-dependent noise matrix.
    classes : array-like, optional
        The label set (default: the sorted unique values of ``y``).
    skip_rate : float
        Probability of skipping an item.
    random_state : int, numpy.random.Generator or None

    References
    ----------
    Frénay & Verleysen (2014), "Classification in the presence of label noise: a survey",
    IEEE TNNLS.

    Examples
    --------
    >>> oracle = NoisyOracle([0, 1, 1, 0], noise=1.0, random_state=0)
    >>> oracle.label(np.array([0, 1])).labels.tolist()
    [1, 0]
    """

    def __init__(
        self,
        y: Any,
        noise: float = 0.1,
        transition: Any = None,
        classes: Any = None,
        skip_rate: float = 0.0,
        random_state: RandomStateLike = None,
    ) -> None:
        super().__init__(y, skip_rate, random_state)
        self.classes = np.unique(self.y) if classes is None else np.asarray(classes)
        self._class_order = np.argsort(self.classes, kind="stable")
        n_classes = self.classes.shape[0]
        if n_classes < 2:
            raise ValueError("label noise needs at least 2 classes.")
        if transition is None:
            if not 0.0 <= noise <= 1.0:
                raise ValueError(f"noise must be in [0, 1]; got {noise}.")
            matrix = np.full((n_classes, n_classes), noise / (n_classes - 1))
            np.fill_diagonal(matrix, 1.0 - noise)
        else:
            matrix = np.asarray(transition, dtype=np.float64)
            if matrix.shape != (n_classes, n_classes):
                raise ValueError(
                    f"transition must be ({n_classes}, {n_classes}) for classes "
                    f"{self.classes.tolist()}; got {matrix.shape}."
                )
            if (matrix < 0).any() or not np.allclose(matrix.sum(axis=1), 1.0):
                raise ValueError("each row of transition must be probabilities summing to 1.")
        missing = np.setdiff1d(np.unique(self.y), self.classes)
        if missing.size:
            raise ValueError(f"y has labels {missing.tolist()} that are not in classes.")
        self.noise = noise
        self.transition = matrix
        self._cumulative = np.cumsum(matrix, axis=1)

    def _answer(self, indices: np.ndarray) -> np.ndarray:
        sorted_classes = self.classes[self._class_order]
        true_positions = self._class_order[np.searchsorted(sorted_classes, self.y[indices])]
        draws = self._rng.random(indices.shape[0])
        given = (draws[:, None] > self._cumulative[true_positions]).sum(axis=1)
        return self.classes[np.minimum(given, self.classes.shape[0] - 1)]
