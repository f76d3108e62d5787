"""Standard test functions for Bayesian optimisation, with their known global minima.

Both take a batch ``(n, d)`` (or one point ``(d,)``) and return ``(n,)`` values, so they
can be passed to :func:`activelab.bayesopt.minimize` as they are.

References
----------
S. Surjanovic and D. Bingham, "Virtual Library of Simulation Experiments: Test Functions
and Datasets", Simon Fraser University (definitions and optima of both functions).
L. C. W. Dixon and G. P. Szegö, "The global optimisation problem: an introduction", in
*Towards Global Optimisation 2*, North-Holland, 1978 (Branin and Hartmann functions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["BRANIN", "HARTMANN6", "TestFunction", "branin", "hartmann6"]


def _as_batch(X: np.ndarray, d: int, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"{name} takes points of {d} coordinates, shape (n, {d}); got {X.shape}.")
    return X


def branin(X: np.ndarray) -> np.ndarray:
    """The Branin–Hoo function on ``[-5, 10] × [0, 15]``, three global minima of 0.397887.

    ``f(x) = a (x₂ − b x₁² + c x₁ − r)² + s (1 − t) cos x₁ + s`` with ``a = 1``,
    ``b = 5.1 / (4π²)``, ``c = 5 / π``, ``r = 6``, ``s = 10``, ``t = 1 / (8π)``.

    Parameters
    ----------
    X : numpy.ndarray of shape (n, 2) or (2,)

    Returns
    -------
    numpy.ndarray of shape (n,)

    Examples
    --------
    >>> round(float(branin([np.pi, 2.275])[0]), 6)
    0.397887
    """
    X = _as_batch(X, 2, "branin")
    x1, x2 = X[:, 0], X[:, 1]
    b = 5.1 / (4.0 * np.pi**2)
    c = 5.0 / np.pi
    t = 1.0 / (8.0 * np.pi)
    return (x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * np.cos(x1) + 10.0


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(X: np.ndarray) -> np.ndarray:
    """The 6-D Hartmann function on ``[0, 1]⁶``, global minimum −3.32237.

    ``f(x) = −Σᵢ αᵢ exp(−Σⱼ Aᵢⱼ (xⱼ − Pᵢⱼ)²)`` with the constants of Dixon and Szegö
    (1978); six local minima.

    Parameters
    ----------
    X : numpy.ndarray of shape (n, 6) or (6,)

    Returns
    -------
    numpy.ndarray of shape (n,)

    Examples
    --------
    >>> x = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    >>> round(float(hartmann6(x)[0]), 4)
    -3.3224
    """
    X = _as_batch(X, 6, "hartmann6")
    inner = np.einsum("ij,nij->ni", _H6_A, (X[:, None, :] - _H6_P[None, :, :]) ** 2)
    return -np.exp(-inner) @ _H6_ALPHA


@dataclass(frozen=True)
class TestFunction:
    """A test function with its box and known global minimum.

    Calling the object calls the function: ``BRANIN(X)`` is ``branin(X)``.

    Attributes
    ----------
    name : str
    function : callable
        Batch in ``(n, d)``, values out ``(n,)``.
    bounds : tuple of (low, high) pairs
        The search box, one pair per coordinate.
    minimum : float
        The global minimum value.
    minimizers : tuple of tuples
        Points where the minimum is reached.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    bounds: tuple[tuple[float, float], ...]
    minimum: float
    minimizers: tuple[tuple[float, ...], ...]

    @property
    def dim(self) -> int:
        """Number of coordinates."""
        return len(self.bounds)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Evaluate the function on a batch ``(n, d)``; returns ``(n,)``."""
        return self.function(X)

    def regret(self, values: np.ndarray) -> np.ndarray:
        """Simple regret ``values − minimum`` of function values.

        Parameters
        ----------
        values : array-like
            Function values, e.g. the best value found so far.

        Returns
        -------
        numpy.ndarray
        """
        return np.asarray(values, dtype=np.float64) - self.minimum


#: Branin–Hoo on ``[-5, 10] × [0, 15]`` (minimum 0.397887 at three points).
BRANIN = TestFunction(
    name="branin",
    function=branin,
    bounds=((-5.0, 10.0), (0.0, 15.0)),
    minimum=0.39788735772973816,
    minimizers=((-np.pi, 12.275), (np.pi, 2.275), (9.42478, 2.475)),
)

#: 6-D Hartmann on ``[0, 1]⁶`` (minimum −3.32237).
HARTMANN6 = TestFunction(
    name="hartmann6",
    function=hartmann6,
    bounds=((0.0, 1.0),) * 6,
    minimum=-3.322368011391339,
    minimizers=((0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),),
)
