r"""Convex quadratic programs over a box with (at most) one ±1 equality.

The batch-selection QPs of BMDR and SPAL and the dual of the hinted SVM all have the form

.. math:: \min_x \tfrac12 x^\top P x + q^\top x \quad \text{s.t.} \quad
          0 \le x \le u, \quad s^\top x = c, \quad s \in \{-1, +1\}^n

with :math:`P` positive semi-definite: the form of the SVM dual. :func:`box_qp` solves it
by sequential minimal optimisation with the second-order working-set selection of Fan,
Chen & Lin (2005) (LIBSVM's algorithm; compiled with numba), to a violation of the KKT
conditions below ``tol``; without the equality, by cyclic coordinate descent.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["box_qp", "kkt_violation"]

_TAU = 1e-12


@numba.njit(cache=True, nogil=True)
def _smo(P, q, upper, signs, x, tol, max_iter):  # pragma: no cover - compiled
    n = x.shape[0]
    gradient = q + P @ x
    for _ in range(max_iter):
        # i: the most violating index moving "up" (Fan, Chen & Lin 2005, WSS 2).
        g_max, i = -np.inf, -1
        for t in range(n):
            if signs[t] > 0:
                if x[t] < upper[t] and -gradient[t] >= g_max:
                    g_max, i = -gradient[t], t
            elif x[t] > 0 and gradient[t] >= g_max:
                g_max, i = gradient[t], t
        g_max2, j, best = -np.inf, -1, np.inf
        for t in range(n):
            if signs[t] > 0:
                if x[t] > 0:
                    difference = g_max + gradient[t]
                    if gradient[t] >= g_max2:
                        g_max2 = gradient[t]
                    if difference > 0 and i >= 0:
                        quad = P[i, i] + P[t, t] - 2.0 * signs[i] * P[i, t]
                        value = -(difference * difference) / max(quad, _TAU)
                        if value <= best:
                            best, j = value, t
            elif x[t] < upper[t]:
                difference = g_max - gradient[t]
                if -gradient[t] >= g_max2:
                    g_max2 = -gradient[t]
                if difference > 0 and i >= 0:
                    quad = P[i, i] + P[t, t] + 2.0 * signs[i] * P[i, t]
                    value = -(difference * difference) / max(quad, _TAU)
                    if value <= best:
                        best, j = value, t
        if i < 0 or j < 0 or g_max + g_max2 < tol:
            break
        old_i, old_j = x[i], x[j]
        c_i, c_j = upper[i], upper[j]
        if signs[i] != signs[j]:
            quad = max(P[i, i] + P[j, j] + 2.0 * P[i, j], _TAU)
            delta = (-gradient[i] - gradient[j]) / quad
            diff = x[i] - x[j]
            x[i] += delta
            x[j] += delta
            if diff > 0:
                if x[j] < 0:
                    x[j] = 0.0
                    x[i] = diff
            elif x[i] < 0:
                x[i] = 0.0
                x[j] = -diff
            if diff > c_i - c_j:
                if x[i] > c_i:
                    x[i] = c_i
                    x[j] = c_i - diff
            elif x[j] > c_j:
                x[j] = c_j
                x[i] = c_j + diff
        else:
            quad = max(P[i, i] + P[j, j] - 2.0 * P[i, j], _TAU)
            delta = (gradient[i] - gradient[j]) / quad
            total = x[i] + x[j]
            x[i] -= delta
            x[j] += delta
            if total > c_i:
                if x[i] > c_i:
                    x[i] = c_i
                    x[j] = total - c_i
            elif x[j] < 0:
                x[j] = 0.0
                x[i] = total
            if total > c_j:
                if x[j] > c_j:
                    x[j] = c_j
                    x[i] = total - c_j
            elif x[i] < 0:
                x[i] = 0.0
                x[j] = total
        step_i, step_j = x[i] - old_i, x[j] - old_j
        for t in range(n):
            gradient[t] += P[t, i] * step_i + P[t, j] * step_j
    return x


@numba.njit(cache=True, nogil=True)
def _coordinate_descent(P, q, upper, x, tol, max_iter):  # pragma: no cover - compiled
    n = x.shape[0]
    gradient = q + P @ x
    for _ in range(max_iter):
        largest = 0.0
        for t in range(n):
            if P[t, t] <= 0:
                new = 0.0 if gradient[t] > 0 else upper[t]
            else:
                new = min(max(x[t] - gradient[t] / P[t, t], 0.0), upper[t])
            step = new - x[t]
            if step != 0.0:
                x[t] = new
                for r in range(n):
                    gradient[r] += P[r, t] * step
                largest = max(largest, abs(step))
        if largest < tol:
            break
    return x


def kkt_violation(
    P: np.ndarray, q: np.ndarray, upper: np.ndarray, signs: np.ndarray | None, x: np.ndarray
) -> float:
    r"""The largest violation of the KKT conditions of :func:`box_qp`'s problem at ``x``.

    With the equality (``signs`` given): :math:`\max_{t \in I_{up}} -s_t g_t -
    \min_{t \in I_{low}} -s_t g_t` (zero at the optimum), :math:`g = Px + q`. Without it:
    the largest projected-gradient component.

    Parameters
    ----------
    P, q, upper, signs, x
        As for :func:`box_qp`.

    Returns
    -------
    float

    Examples
    --------
    >>> kkt_violation(np.eye(1), np.array([-1.0]), np.ones(1), None, np.ones(1))
    0.0
    """
    gradient = P @ x + q
    if signs is None:
        projected = np.where(
            x <= 0,
            np.minimum(gradient, 0.0),
            np.where(x >= upper, np.maximum(gradient, 0.0), gradient),
        )
        return float(np.abs(projected).max(initial=0.0))
    value = -signs * gradient
    up = ((signs > 0) & (x < upper)) | ((signs < 0) & (x > 0))
    low = ((signs > 0) & (x > 0)) | ((signs < 0) & (x < upper))
    if not up.any() or not low.any():
        return 0.0
    return max(0.0, float(value[up].max() - value[low].min()))


def box_qp(
    P: np.ndarray,
    q: np.ndarray,
    upper: np.ndarray,
    signs: np.ndarray | None = None,
    x0: np.ndarray | None = None,
    *,
    tol: float = 1e-8,
    max_iter: int | None = None,
) -> np.ndarray:
    r"""Minimise :math:`\frac12 x^\top P x + q^\top x` over :math:`0 \le x \le u`
    (and :math:`s^\top x = s^\top x_0` when ``signs`` is given).

    Parameters
    ----------
    P : numpy.ndarray of shape (n, n)
        Symmetric positive semi-definite.
    q, upper : numpy.ndarray of shape (n,)
        ``upper`` non-negative.
    signs : numpy.ndarray of shape (n,) with values ±1, or None
        The equality's coefficients; the right-hand side is that of ``x0``, which must be
        feasible. None: box constraints only.
    x0 : numpy.ndarray of shape (n,), optional
        A feasible start (zeros by default).
    tol : float, default=1e-8
        Stop when the KKT violation (:func:`kkt_violation`), or without the equality the
        largest coordinate step, is below ``tol``.
    max_iter : int, optional
        Most SMO steps (default ``max(10_000, 100 n)``) or coordinate sweeps (1,000).

    Returns
    -------
    numpy.ndarray of shape (n,)

    References
    ----------
    Fan, Chen & Lin (2005), "Working set selection using second order information for
    training support vector machines", JMLR 6, pp. 1889–1918.

    Examples
    --------
    >>> box_qp(np.eye(2), np.array([-1.0, -3.0]), np.ones(2)).round(6)
    array([1., 1.])
    >>> box_qp(np.eye(2), np.array([-1.0, -3.0]), np.ones(2), np.ones(2),
    ...        np.array([0.5, 0.5])).round(6)
    array([0., 1.])
    """
    P = np.ascontiguousarray(P, dtype=np.float64)
    q = np.ascontiguousarray(q, dtype=np.float64)
    upper = np.ascontiguousarray(upper, dtype=np.float64)
    n = q.shape[0]
    x = np.zeros(n) if x0 is None else np.array(x0, dtype=np.float64)
    if signs is None:
        return _coordinate_descent(P, q, upper, x, tol, 1000 if max_iter is None else max_iter)
    signs = np.ascontiguousarray(signs, dtype=np.float64)
    steps = max(10_000, 100 * n) if max_iter is None else max_iter
    return _smo(P, q, upper, signs, x, tol, steps)
