"""Acquisition functions in closed form: pure functions of the posterior mean and std.

Every function returns a utility, higher = better to evaluate, and takes
``minimize=True`` (the optimiser minimises): the improvement over the incumbent ``best``
is ``best − f``. With ``minimize=False`` the improvement is ``f − best`` and the
confidence bound is the upper one, ``μ + √β σ``, as the papers write them.

References
----------
J. Močkus, V. Tiešis and A. Žilinskas, "The application of Bayesian methods for seeking
the extremum", *Towards Global Optimisation 2*, 1978 (expected improvement).
D. R. Jones, M. Schonlau and W. J. Welch, "Efficient global optimization of expensive
black-box functions", *J. Global Optim.* 13 (1998) 455–492 (EI in closed form).
H. J. Kushner, "A new method of locating the maximum point of an arbitrary multipeak
curve in the presence of noise", *J. Basic Eng.* 86 (1964) 97–106 (probability of
improvement).
N. Srinivas, A. Krause, S. Kakade and M. Seeger, "Gaussian process optimization in the
bandit setting: no regret and experimental design", ICML 2010 (GP-UCB and its β).
E. Brochu, V. M. Cora and N. de Freitas, "A tutorial on Bayesian optimization of
expensive cost functions", arXiv:1012.2599, 2010 (the practical β schedule).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from scipy.special import ndtr

__all__ = [
    "expected_improvement",
    "probability_of_improvement",
    "ucb_beta",
    "upper_confidence_bound",
]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _normal_pdf(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # |z| beyond 1e154: the density is 0
        return _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def _standardise(delta: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(positive, safe_std, z)``: where σ > 0, the safe σ (1 elsewhere) and z = Δ / σ.

    A subnormal σ gives an infinite z, whose CDF and density are exact (0 or 1, and 0).
    """
    positive = std > 0
    safe = np.where(positive, std, 1.0)
    with np.errstate(over="ignore"):
        z = delta / safe
    return positive, safe, z


def _check_mean_std(mean: Any, std: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    if mean.shape != std.shape:
        raise ValueError(
            f"{name}: mean and std must have the same shape (one pair per point); got "
            f"{mean.shape} and {std.shape}."
        )
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise ValueError(
            f"{name}: mean and std must be finite; got NaN or inf. Check the surrogate's "
            "predictions (a failed fit or NaN targets give NaN)."
        )
    if (std < 0).any():
        raise ValueError(
            f"{name}: std must be non-negative (a standard deviation, not a variance or a "
            f"log); got min {float(std.min()):.4g}."
        )
    return mean, std


def _check_real(value: Any, name: str, who: str, minimum: float | None = None) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value))
    if ok and minimum is not None:
        ok = float(value) >= minimum
    if not ok:
        need = "a finite number" if minimum is None else f"a finite number >= {minimum:g}"
        raise ValueError(f"{who}: {name} must be {need}; got {value!r}.")
    return float(value)


def _improvement(mean: np.ndarray, best: float, xi: float, minimize: bool) -> np.ndarray:
    return (best - mean - xi) if minimize else (mean - best - xi)


def expected_improvement(
    mean: Any, std: Any, best: float, *, xi: float = 0.0, minimize: bool = True
) -> np.ndarray:
    """Expected improvement over the incumbent, in closed form.

    ``EI = E[max(I, 0)] = (Δ) Φ(z) + σ φ(z)`` with ``Δ = best − μ − ξ`` (minimising),
    ``z = Δ / σ``, Φ and φ the standard normal CDF and density (Močkus 1978; Jones et
    al. 1998). Where ``σ = 0`` it is ``max(Δ, 0)``. Always ``≥ max(Δ, 0)`` and ``≥ 0``,
    decreasing in μ and increasing in σ.

    Parameters
    ----------
    mean, std : array-like of the same shape
        Posterior mean and standard deviation of the objective at each point.
    best : float
        The incumbent: the best (lowest, when minimising) value observed.
    xi : float, default=0.0
        Exploration margin ξ ≥ 0: improvements smaller than ξ do not count.
    minimize : bool, default=True
        Improvement is ``best − f``; with False it is ``f − best``.

    Returns
    -------
    numpy.ndarray
        Non-negative, the shape of ``mean``.

    Examples
    --------
    >>> expected_improvement([0.0, 1.0], [1.0, 0.0], best=0.0).round(4).tolist()
    [0.3989, 0.0]
    """
    mean, std = _check_mean_std(mean, std, "expected_improvement")
    best = _check_real(best, "best", "expected_improvement")
    xi = _check_real(xi, "xi", "expected_improvement", 0.0)
    return _ei(_improvement(mean, best, xi, minimize), std)


def _ei(delta: np.ndarray, std: np.ndarray) -> np.ndarray:
    positive, safe, z = _standardise(delta, std)
    value = np.where(positive, delta * ndtr(z) + safe * _normal_pdf(z), np.maximum(delta, 0.0))
    return np.maximum(value, np.maximum(delta, 0.0))


def probability_of_improvement(
    mean: Any, std: Any, best: float, *, xi: float = 0.0, minimize: bool = True
) -> np.ndarray:
    """Probability of improving on the incumbent by more than ξ, ``Φ((best − μ − ξ) / σ)``.

    Kushner (1964). Where ``σ = 0`` it is 1 if the mean improves by more than ξ, else 0.
    In ``[0, 1]``, decreasing in μ.

    Parameters
    ----------
    mean, std : array-like of the same shape
        Posterior mean and standard deviation.
    best : float
        The incumbent.
    xi : float, default=0.0
        Margin ξ ≥ 0 (a small positive ξ keeps PI from only polishing the incumbent).
    minimize : bool, default=True

    Returns
    -------
    numpy.ndarray
        In ``[0, 1]``, the shape of ``mean``.

    Examples
    --------
    >>> probability_of_improvement([0.0, 1.0], [1.0, 1.0], best=0.0).round(4).tolist()
    [0.5, 0.1587]
    """
    mean, std = _check_mean_std(mean, std, "probability_of_improvement")
    best = _check_real(best, "best", "probability_of_improvement")
    xi = _check_real(xi, "xi", "probability_of_improvement", 0.0)
    return _pi(_improvement(mean, best, xi, minimize), std)


def _pi(delta: np.ndarray, std: np.ndarray) -> np.ndarray:
    positive, _, z = _standardise(delta, std)
    return np.where(positive, ndtr(z), (delta > 0).astype(np.float64))


def upper_confidence_bound(
    mean: Any, std: Any, beta: float, *, minimize: bool = True
) -> np.ndarray:
    """The GP-UCB utility: the optimistic confidence bound at ``√β`` standard deviations.

    Maximising, it is ``μ + √β σ`` (Srinivas et al. 2010). Minimising (the default) it is
    the upper bound of ``−f``: ``−μ + √β σ``, i.e. the lower confidence bound negated, so
    that higher is still better. :func:`ucb_beta` gives the schedule for β.

    Parameters
    ----------
    mean, std : array-like of the same shape
        Posterior mean and standard deviation.
    beta : float
        β ≥ 0; the bound is ``√β`` standard deviations wide.
    minimize : bool, default=True

    Returns
    -------
    numpy.ndarray
        The shape of ``mean``.

    Examples
    --------
    >>> upper_confidence_bound([1.0], [2.0], beta=4.0, minimize=False).tolist()
    [5.0]
    >>> upper_confidence_bound([1.0], [2.0], beta=4.0).tolist()
    [3.0]
    """
    mean, std = _check_mean_std(mean, std, "upper_confidence_bound")
    beta = _check_real(beta, "beta", "upper_confidence_bound", 0.0)
    return (-mean if minimize else mean) + math.sqrt(beta) * std


def ucb_beta(
    t: int, dim: int | None = None, *, n_candidates: int | None = None, delta: float = 0.1
) -> float:
    """The exploration weight β_t of GP-UCB at iteration ``t``.

    For a finite set of ``|D|`` candidates (Srinivas et al. 2010, Theorem 1):
    ``β_t = 2 log(|D| t² π² / (6 δ))``. For a continuous box of dimension ``d`` the
    practical schedule of Brochu, Cora and de Freitas (2010), from Srinivas et al.'s
    Theorem 2 with its constants set to one: ``β_t = 2 log(t^(d/2 + 2) π² / (3 δ))``.
    Both grow like ``log t``: the regret bounds hold with probability ``1 − δ``.

    Parameters
    ----------
    t : int
        Iteration (batch) number, from 1.
    dim : int, optional
        Dimension of the box (continuous case).
    n_candidates : int, optional
        Size of the candidate set (finite case). Exactly one of ``dim`` and
        ``n_candidates`` must be given.
    delta : float, default=0.1
        Failure probability δ in ``(0, 1)``.

    Returns
    -------
    float

    Examples
    --------
    >>> round(ucb_beta(1, dim=2), 3)
    6.987
    >>> round(ucb_beta(1, n_candidates=100), 3)
    14.811
    """
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 1:
        raise ValueError(f"ucb_beta: t must be an int of at least 1; got {t!r}.")
    if (dim is None) == (n_candidates is None):
        raise ValueError(
            "ucb_beta: give exactly one of dim (a continuous box) and n_candidates (a finite "
            f"library); got dim={dim!r}, n_candidates={n_candidates!r}."
        )
    if not (isinstance(delta, numbers.Real) and 0.0 < float(delta) < 1.0):
        raise ValueError(f"ucb_beta: delta must be in (0, 1); got {delta!r}.")
    if n_candidates is not None:
        if isinstance(n_candidates, bool) or not isinstance(n_candidates, numbers.Integral):
            raise ValueError(f"ucb_beta: n_candidates must be an int; got {n_candidates!r}.")
        if n_candidates < 1:
            raise ValueError(f"ucb_beta: n_candidates must be at least 1; got {n_candidates}.")
        return 2.0 * math.log(n_candidates * t**2 * math.pi**2 / (6.0 * delta))
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"ucb_beta: dim must be an int of at least 1; got {dim!r}.")
    return 2.0 * math.log(t ** (dim / 2.0 + 2.0) * math.pi**2 / (3.0 * delta))


# --- internal: utilities and their partial derivatives in (mean, std) -------------------
# The optimiser works on a normalised, minimised objective. Each returns the utility and
# its partials dU/dmean and dU/dstd, which the chain rule turns into an input gradient.


def utility_and_partials(
    name: str, mean: np.ndarray, std: np.ndarray, best: float, xi: float, beta: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Utility of acquisition ``name`` ("ei", "pi", "ucb") and its partials in mean and std."""
    if name == "ucb":
        root = math.sqrt(beta)
        return -mean + root * std, -np.ones_like(mean), np.full_like(std, root)
    delta = best - mean - xi
    positive, safe, z = _standardise(delta, std)
    pdf = _normal_pdf(z)
    cdf = ndtr(z)
    if name == "ei":
        value = np.where(positive, delta * cdf + safe * pdf, np.maximum(delta, 0.0))
        value = np.maximum(value, np.maximum(delta, 0.0))
        d_mean = np.where(positive, -cdf, -(delta > 0).astype(np.float64))
        d_std = np.where(positive, pdf, 0.0)
        return value, d_mean, d_std
    if name == "pi":
        value = np.where(positive, cdf, (delta > 0).astype(np.float64))
        d_mean = np.where(positive, -pdf / safe, 0.0)
        d_std = np.where(positive, -z * pdf / safe, 0.0)
        return value, d_mean, d_std
    raise ValueError(f"unknown acquisition {name!r}")
