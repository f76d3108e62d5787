"""Batch selection: Kriging believer, local penalisation, Monte-Carlo q-EI and Thompson sampling.

Every method works on a :class:`~activelab.bayesopt.GPPosterior` in the surrogate's units
(unit-box inputs, standardised targets, minimisation) and a candidate set: Sobol and
local points of the unit box (then the best few are polished by L-BFGS-B with analytic
gradients), or the library's candidates not yet evaluated (no polishing; a library
candidate is never picked twice).

``kriging_believer`` (Ginsbourger, Le Riche and Carraro 2010)
    Pick the maximiser of the acquisition, pretend its value was observed and equals the
    posterior mean (the mean does not move; the variance shrinks around the point),
    repeat. With UCB this is GP-BUCB (Desautels, Krause and Burdick 2014).
``local_penalization`` (González, Dai, Hennig and Lawrence 2016)
    One posterior; after each pick the acquisition is multiplied by
    ``φ(x; xⱼ) = Φ((L ‖x − xⱼ‖ + M − μ(xⱼ)) / σ(xⱼ))``, the probability that ``x`` is
    outside the ball around ``xⱼ`` that cannot contain the minimum, with ``L`` the
    largest gradient norm of the posterior mean (a Lipschitz estimate) and ``M`` the best
    observation. UCB is made positive by the softplus transform, as in the paper.
``qei`` (Ginsbourger et al. 2010; Wilson, Hutter and Deisenroth 2018)
    Monte-Carlo expected improvement of the whole batch,
    ``q-EI = E[max(best − minⱼ f(xⱼ), 0)]``, from reparameterised joint posterior samples
    ``f = μ + L_Σ z`` with fixed base samples ``z`` (common random numbers), maximised
    greedily: each new point maximises the q-EI of the points so far plus itself, which
    for this submodular objective is within ``1 − 1/e`` of the best batch on the
    candidates (Wilson et al. 2018).
``thompson`` (Thompson 1933; Kandasamy et al. 2018)
    Each point is the minimiser of its own joint posterior sample over the candidates.

References
----------
D. Ginsbourger, R. Le Riche and L. Carraro, "Kriging is well-suited to parallelize
optimization", in *Computational Intelligence in Expensive Optimization Problems*,
Springer, 2010, 131–162.
T. Desautels, A. Krause and J. W. Burdick, "Parallelizing exploration-exploitation
tradeoffs in Gaussian process bandit optimization", *JMLR* 15 (2014) 3873–3923.
J. González, Z. Dai, P. Hennig and N. Lawrence, "Batch Bayesian optimization via local
penalization", AISTATS 2016.
J. T. Wilson, F. Hutter and M. P. Deisenroth, "Maximizing acquisition functions for
Bayesian optimization", NeurIPS 2018.
K. Kandasamy, A. Krishnamurthy, J. Schneider and B. Póczos, "Parallelised Bayesian
optimisation via Thompson sampling", AISTATS 2018.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular
from scipy.optimize import minimize as scipy_minimize
from scipy.special import expit, log_ndtr

from activelab.bayesopt._acquisition import utility_and_partials
from activelab.bayesopt._surrogate import (
    JITTER,
    GPPosterior,
    _robust_cholesky,
    kernel_gradient,
)

BATCH_METHODS = ("kriging_believer", "local_penalization", "qei", "thompson")

#: Two picks closer than this (unit-box distance) are the same point.
SAME_POINT = 1e-6

Objective = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class Problem:
    """What one batch selection needs (all in the surrogate's units).

    Attributes
    ----------
    posterior : GPPosterior
    candidates : numpy.ndarray of shape (N, d)
        Unit-box candidates, or the library's remaining candidates.
    continuous : bool
        Polish picks with L-BFGS-B in ``[0, 1]^d`` (a box), or not (a library).
    acquisition : str
        ``"ei"``, ``"pi"``, ``"ucb"`` or ``"thompson"``.
    best : float
        The incumbent (lowest standardised observation).
    xi, beta : float
        EI/PI margin; UCB weight.
    rng : numpy.random.Generator
    n_restarts : int
        L-BFGS-B starts per pick (the best candidates).
    maxiter : int
        L-BFGS-B iterations per pick.
    n_samples : int
        Monte-Carlo samples of q-EI.
    """

    posterior: GPPosterior
    candidates: np.ndarray
    continuous: bool
    acquisition: str
    best: float
    xi: float
    beta: float
    rng: np.random.Generator
    n_restarts: int = 4
    maxiter: int = 50
    n_samples: int = 256


class Conditioned:
    """The GP posterior given its data and a growing set ``S`` of extra points.

    Points of ``S`` are either fantasised observations with noise (Kriging believer) or
    points whose latent values are sampled jointly (q-EI, ``noise=0``). With
    ``Σ_SS + noise I = L_S L_Sᵀ`` and ``W_A = L_S⁻¹ Σ_SA`` the conditional variance is
    ``σ²(a) − ‖W_a‖²``. ``W`` is kept up to date for the fixed candidate set (one new row
    per added point, O(nN)), and computed on demand, with input gradients, for any other
    point.

    Parameters
    ----------
    posterior : GPPosterior
    candidates : numpy.ndarray of shape (N, d)
    noise : float
        Variance added to the diagonal for points of ``S``.
    """

    def __init__(self, posterior: GPPosterior, candidates: np.ndarray, noise: float) -> None:
        self.posterior = posterior
        self.noise = float(noise)
        self.candidates = candidates
        self.mean_C, self.var_C, self.V_C = posterior.predict(candidates)
        n, d = posterior.X.shape
        self.S = np.empty((0, d))
        self.V_S = np.empty((n, 0))
        self.U_S = np.empty((n, 0))
        self.L_S = np.empty((0, 0))
        self.W_C = np.empty((0, candidates.shape[0]))
        self.resid_C = self.var_C.copy()

    @property
    def size(self) -> int:
        """Number of points in ``S``."""
        return int(self.S.shape[0])

    def add(self, x: np.ndarray) -> tuple[float, np.ndarray, float, np.ndarray]:
        """Condition on one more point ``x`` (shape (d,)).

        Returns
        -------
        mean : float
            Posterior mean at ``x`` (before conditioning on it).
        w : numpy.ndarray of shape (j,)
            ``L_S⁻¹ Σ_Sx`` for the points already in ``S``.
        root : float
            ``√(σ²_S(x) + noise)``: the new diagonal entry of ``L_S``.
        row : numpy.ndarray of shape (N,)
            The new row of ``W_C``.
        """
        post = self.posterior
        x = x[None, :]
        mean, var, v = post.predict(x)
        sigma_Sx = post.kernel(self.S, x)[:, 0] - self.V_S.T @ v[:, 0] if self.size else np.empty(0)
        w = (
            solve_triangular(self.L_S, sigma_Sx, lower=True, check_finite=False)
            if self.size
            else np.empty(0)
        )
        root = float(np.sqrt(max(var[0] - w @ w, 0.0) + self.noise + JITTER))
        sigma_xC = post.kernel(x, self.candidates)[0] - v[:, 0] @ self.V_C
        row = (sigma_xC - w @ self.W_C) / root
        j = self.size
        L_new = np.zeros((j + 1, j + 1))
        L_new[:j, :j] = self.L_S
        L_new[j, :j] = w
        L_new[j, j] = root
        self.L_S = L_new
        self.S = np.vstack([self.S, x])
        self.V_S = np.hstack([self.V_S, v])
        u = solve_triangular(post.L, v, lower=True, trans="T", check_finite=False)
        self.U_S = np.hstack([self.U_S, u])
        self.W_C = np.vstack([self.W_C, row])
        self.resid_C = np.maximum(self.resid_C - row * row, 0.0)
        return float(mean[0]), w, root, row

    def with_gradient(self, A: np.ndarray) -> dict[str, np.ndarray]:
        """Conditional mean, variance, ``W_A`` and their input gradients at points ``A``.

        Parameters
        ----------
        A : numpy.ndarray of shape (m, d)

        Returns
        -------
        dict
            ``mean``, ``dmean`` (m, d), ``var`` (conditional, m), ``dvar`` (m, d), ``W``
            (j, m) and ``dW`` (j, m, d).
        """
        post = self.posterior
        parts = post.predict_with_gradient(A)
        m, d = A.shape
        j = self.size
        if j == 0:
            parts["W"] = np.empty((0, m))
            parts["dW"] = np.empty((0, m, d))
            return parts
        sigma_SA = post.kernel(self.S, A) - self.V_S.T @ parts["V"]
        dk_AS = kernel_gradient(post.kernel, A, self.S)  # (m, j, d)
        d_sigma = np.transpose(dk_AS, (1, 0, 2)) - np.einsum("nj,mnd->jmd", self.U_S, parts["dk"])
        W = solve_triangular(self.L_S, sigma_SA, lower=True, check_finite=False)
        dW = solve_triangular(
            self.L_S, d_sigma.reshape(j, m * d), lower=True, check_finite=False
        ).reshape(j, m, d)
        parts["var"] = parts["var"] - np.einsum("jm,jm->m", W, W)
        parts["dvar"] = parts["dvar"] - 2.0 * np.einsum("jm,jmd->md", W, dW)
        parts["W"] = W
        parts["dW"] = dW
        return parts


def _std_and_gradient(var: np.ndarray, dvar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    std = np.sqrt(np.maximum(var, 0.0))
    safe = np.where(std > 1e-12, std, 1.0)
    dstd = np.where((std > 1e-12)[:, None], dvar / (2.0 * safe[:, None]), 0.0)
    return std, dstd


def polish(
    objective: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    starts: np.ndarray,
    maxiter: int,
) -> tuple[np.ndarray, float, int]:
    """Maximise ``objective`` in ``[0, 1]^d`` by L-BFGS-B from several starts at once.

    The starts are independent; their utilities are summed into one objective with a
    block-separable gradient, so one scipy call polishes them all (as BoTorch does).

    Parameters
    ----------
    objective : callable
        ``A (R, d) -> (values (R,), gradients (R, d))``, to maximise.
    starts : numpy.ndarray of shape (R, d)
    maxiter : int

    Returns
    -------
    x : numpy.ndarray of shape (d,)
        The best polished point (or the best start, if polishing did not improve it).
    value : float
    start : int
        Which start it came from.
    """
    R, d = starts.shape
    start_values, _ = objective(starts)

    def negative(flat: np.ndarray) -> tuple[float, np.ndarray]:
        values, gradients = objective(flat.reshape(R, d))
        if not (np.isfinite(values).all() and np.isfinite(gradients).all()):
            return np.inf, np.zeros(R * d)
        return -float(values.sum()), -gradients.ravel()

    result = scipy_minimize(
        negative,
        starts.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * (R * d),
        options={"maxiter": maxiter},
    )
    polished = np.clip(result.x.reshape(R, d), 0.0, 1.0)
    values, _ = objective(polished)
    values = np.where(np.isfinite(values), values, -np.inf)
    better = values >= start_values
    final = np.where(better[:, None], polished, starts)
    final_values = np.where(better, values, start_values)
    k = int(np.argmax(final_values))
    return final[k], float(final_values[k]), k


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest finite values, best first."""
    finite = np.flatnonzero(np.isfinite(values))
    k = min(k, finite.size)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    part = finite[np.argpartition(-values[finite], k - 1)[:k]]
    return part[np.argsort(-values[part], kind="stable")]


def _finish_pick(
    problem: Problem,
    values: np.ndarray,
    objective_for: Callable[[np.ndarray], Objective] | None,
    picked: list[np.ndarray],
) -> tuple[np.ndarray, int]:
    """The next point: the best candidate, polished on a box; never a repeat of ``picked``.

    ``objective_for(order)`` builds the objective to polish, given the candidates the
    starts come from (best first). The first pick of a batch is polished from
    ``n_restarts`` starts for ``maxiter`` iterations; later picks from 2 starts for a fifth
    of that: on a plate of 96 the fantasy model, not the last digits of each point,
    limits the batch, and this keeps a plate's cost near that of scoring the candidates.
    """
    first = not picked
    starts = problem.n_restarts if first else min(problem.n_restarts, 2)
    order = _top(values, max(starts, 1))
    if order.size == 0:
        raise RuntimeError("no candidate left to pick")
    index = int(order[0])
    if problem.continuous and objective_for is not None:
        maxiter = problem.maxiter if first else max(problem.maxiter // 5, 5)
        polished, _, start = polish(objective_for(order), problem.candidates[order], maxiter)
        if not picked or np.min(np.linalg.norm(np.asarray(picked) - polished, axis=1)) > SAME_POINT:
            return polished, int(order[start])
    return problem.candidates[index], index


def _acquisition_objective(
    problem: Problem, conditioned: Conditioned, best: float
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    def objective(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        parts = conditioned.with_gradient(A)
        std, dstd = _std_and_gradient(parts["var"], parts["dvar"])
        value, d_mean, d_std = utility_and_partials(
            problem.acquisition, parts["mean"], std, best, problem.xi, problem.beta
        )
        gradient = d_mean[:, None] * parts["dmean"] + d_std[:, None] * dstd
        return value, gradient

    return objective


def kriging_believer(problem: Problem, q: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch of ``q`` points by the Kriging believer heuristic.

    Parameters
    ----------
    problem : Problem
    q : int

    Returns
    -------
    X : numpy.ndarray of shape (q, d)
        Unit-box points.
    index : numpy.ndarray of shape (q,)
        The candidate each came from (polished on a box).
    """
    conditioned = Conditioned(problem.posterior, problem.candidates, problem.posterior.noise)
    taken = np.zeros(problem.candidates.shape[0], dtype=bool)
    best = problem.best
    picked: list[np.ndarray] = []
    indices = []
    for _ in range(q):
        std = np.sqrt(conditioned.resid_C)
        values, _, _ = utility_and_partials(
            problem.acquisition, conditioned.mean_C, std, best, problem.xi, problem.beta
        )
        values = np.where(taken, -np.inf, values)
        objective = _acquisition_objective(problem, conditioned, best)
        x, index = _finish_pick(problem, values, lambda _order, o=objective: o, picked)
        taken[index] = True
        mean, *_ = conditioned.add(x)
        best = min(best, mean)  # the believed observation is the posterior mean
        picked.append(x)
        indices.append(index)
    return np.asarray(picked), np.asarray(indices)


def lipschitz_constant(posterior: GPPosterior, candidates: np.ndarray, continuous: bool) -> float:
    """Estimate of the Lipschitz constant of the posterior mean (González et al. 2016).

    On a box: the largest ``‖∇μ‖`` over (up to 1,024 of) the candidates. On a library:
    the largest ``|μ(a) − μ(b)| / ‖a − b‖`` between 256 candidates and all the others.
    A flat mean (estimate below 1e-7) gives 10, as GPyOpt does.

    Parameters
    ----------
    posterior : GPPosterior
    candidates : numpy.ndarray of shape (N, d)
    continuous : bool

    Returns
    -------
    float
    """
    N = candidates.shape[0]
    if continuous:
        subset = candidates[:1024]
        norms = []
        for start in range(0, subset.shape[0], 128):
            parts = posterior.predict_with_gradient(subset[start : start + 128])
            norms.append(np.linalg.norm(parts["dmean"], axis=1))
        estimate = float(np.max(np.concatenate(norms)))
    else:
        mean, _, _ = posterior.predict(candidates)
        anchors = np.arange(N) if N <= 256 else np.linspace(0, N - 1, 256).astype(np.int64)
        sq = np.einsum("ij,ij->i", candidates, candidates)
        dist2 = sq[anchors, None] + sq[None, :] - 2.0 * candidates[anchors] @ candidates.T
        dist = np.sqrt(np.maximum(dist2, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(mean[anchors, None] - mean[None, :]) / dist
        ratio = ratio[dist > 1e-12]
        estimate = float(ratio.max()) if ratio.size else 0.0
    return estimate if estimate > 1e-7 else 10.0


class PenalizedAcquisition:
    """The log of the locally penalised acquisition of González et al. (2016), with gradient.

    ``log g(α(x)) + Σⱼ log φ(x; xⱼ)`` with ``φ(x; xⱼ) = Φ((L ‖x − xⱼ‖ + M − μ(xⱼ)) /
    σ(xⱼ))``: the probability that ``x`` lies outside the ball around ``xⱼ`` that, by the
    Lipschitz bound ``L``, cannot hold a value below ``M``. ``g`` is the softplus for UCB
    (which can be negative) and the identity, floored far below the candidates' best
    value, for EI and PI.

    Parameters
    ----------
    problem : Problem
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        post = problem.posterior
        self.L = lipschitz_constant(post, problem.candidates, problem.continuous)
        self.M = float(post.y.min())
        self.softplus = problem.acquisition == "ucb"
        mean, var, _ = post.predict(problem.candidates)
        base, _, _ = utility_and_partials(
            problem.acquisition, mean, np.sqrt(var), problem.best, problem.xi, problem.beta
        )
        self.tiny = 1e-12 * max(float(np.max(base)), 1e-300)
        self.log_base_C = self._log_g(base)[0]
        self.penalty_C = np.zeros(problem.candidates.shape[0])
        self.centres: list[np.ndarray] = []
        self.means: list[float] = []
        self.stds: list[float] = []

    def _log_g(self, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``log g(value)`` and its derivative."""
        if self.softplus:
            log_softplus = np.log(np.logaddexp(0.0, value))
            return log_softplus, expit(value) / np.exp(log_softplus)
        return np.log(value + self.tiny), 1.0 / (value + self.tiny)

    def candidate_values(self) -> np.ndarray:
        """The penalised log acquisition at every candidate, shape (N,)."""
        return self.log_base_C + self.penalty_C

    def add(self, x: np.ndarray) -> None:
        """Penalise around a new pick ``x`` (shape (d,))."""
        mean, var, _ = self.problem.posterior.predict(x[None, :])
        std = max(float(np.sqrt(var[0])), 1e-6)
        self.centres.append(x)
        self.means.append(float(mean[0]))
        self.stds.append(std)
        distance = np.linalg.norm(self.problem.candidates - x, axis=1)
        self.penalty_C += log_ndtr((self.L * distance + self.M - mean[0]) / std)

    def objective(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Value and input gradient at points ``A`` (m, d)."""
        problem = self.problem
        parts = problem.posterior.predict_with_gradient(A)
        std, dstd = _std_and_gradient(parts["var"], parts["dvar"])
        value, d_mean, d_std = utility_and_partials(
            problem.acquisition, parts["mean"], std, problem.best, problem.xi, problem.beta
        )
        d_value = d_mean[:, None] * parts["dmean"] + d_std[:, None] * dstd
        log_value, d_log = self._log_g(value)
        total = log_value
        gradient = d_log[:, None] * d_value
        if self.centres:
            centres = np.asarray(self.centres)
            means = np.asarray(self.means)
            stds = np.asarray(self.stds)
            diff = A[:, None, :] - centres[None, :, :]  # (m, j, d)
            distance = np.sqrt(np.einsum("mjd,mjd->mj", diff, diff))
            z = (self.L * distance + self.M - means) / stds
            log_phi = log_ndtr(z)
            total = total + log_phi.sum(axis=1)
            # d log Φ(z) / dz = φ(z) / Φ(z), computed in log space
            ratio = np.exp(-0.5 * z * z - log_phi) / np.sqrt(2.0 * np.pi) * self.L / stds
            unit = diff / np.maximum(distance, 1e-12)[:, :, None]
            gradient = gradient + np.einsum("mj,mjd->md", ratio, unit)
        return total, gradient


def local_penalization(problem: Problem, q: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch of ``q`` points by local penalisation of the acquisition.

    Parameters
    ----------
    problem : Problem
    q : int

    Returns
    -------
    X : numpy.ndarray of shape (q, d)
    index : numpy.ndarray of shape (q,)
    """
    penalized = PenalizedAcquisition(problem)
    taken = np.zeros(problem.candidates.shape[0], dtype=bool)
    picked: list[np.ndarray] = []
    indices = []
    for _ in range(q):
        values = np.where(taken, -np.inf, penalized.candidate_values())
        x, index = _finish_pick(problem, values, lambda _order: penalized.objective, picked)
        taken[index] = True
        penalized.add(x)
        picked.append(x)
        indices.append(index)
    return np.asarray(picked), np.asarray(indices)


def q_expected_improvement(samples: np.ndarray, best: float) -> float:
    """Monte-Carlo q-EI of a batch from joint samples ``(n_samples, q)``, minimising.

    ``mean over samples of max(best − min over the batch, 0)``.

    Parameters
    ----------
    samples : numpy.ndarray of shape (n_samples, q)
    best : float

    Returns
    -------
    float
    """
    return float(np.mean(np.maximum(best - samples.min(axis=1), 0.0)))


class GreedyQEI:
    """State of the greedy Monte-Carlo q-EI maximisation.

    The batch's latent values are ``f_S = μ_S + L_S z_S`` (``L_S`` the Cholesky factor of
    the joint posterior covariance, ``z_S`` fixed base samples); a further point ``x``
    with its own base sample ``z`` has ``f(x) = μ(x) + W_xᵀ z_S + σ_S(x) z``. The q-EI
    of the batch plus ``x`` is ``mean over samples of max(best − min(f_S, f(x)), 0)``,
    for every candidate at once (kept up to date in O(n_samples · N) per pick) or, with
    its gradient, at any point of the box.

    Parameters
    ----------
    problem : Problem
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        N = problem.candidates.shape[0]
        self.conditioned = Conditioned(problem.posterior, problem.candidates, noise=0.0)
        self.Z_C = problem.rng.standard_normal((problem.n_samples, N))
        self.Y_base = np.broadcast_to(self.conditioned.mean_C, (problem.n_samples, N)).copy()
        self.current_min = np.full(problem.n_samples, np.inf)
        self.Z_S = np.empty((problem.n_samples, 0))

    def candidate_values(self) -> np.ndarray:
        """q-EI of the batch so far plus each candidate, shape (N,)."""
        Y = self.Y_base + np.sqrt(self.conditioned.resid_C)[None, :] * self.Z_C
        low = np.minimum(self.current_min[:, None], Y)
        return np.maximum(self.problem.best - low, 0.0).mean(axis=0)

    def objective_for(self, order: np.ndarray) -> Objective:
        """The q-EI objective of points started from candidates ``order`` (their base samples)."""
        return lambda A: self.objective(A, self.Z_C[:, order])

    def objective(self, A: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """q-EI of the batch plus each row of ``A`` (m, d), base samples ``z`` (n_samples, m)."""
        parts = self.conditioned.with_gradient(A)
        std, dstd = _std_and_gradient(parts["var"], parts["dvar"])
        Y = parts["mean"][:, None] + (self.Z_S @ parts["W"]).T + std[:, None] * z.T
        dY = (
            parts["dmean"][:, None, :]
            + np.einsum("sj,jrd->rsd", self.Z_S, parts["dW"])
            + z.T[:, :, None] * dstd[:, None, :]
        )
        best = self.problem.best
        gain = np.maximum(best - np.minimum(self.current_min[None, :], Y), 0.0)
        active = (Y < self.current_min[None, :]) & (Y < best)
        return gain.mean(axis=1), -(active[:, :, None] * dY).mean(axis=1)

    def add(self, x: np.ndarray, index: int) -> None:
        """Add ``x`` (shape (d,)) to the batch with the base samples of candidate ``index``."""
        z = self.Z_C[:, index]
        mean, w, root, row = self.conditioned.add(x)
        self.current_min = np.minimum(self.current_min, mean + self.Z_S @ w + root * z)
        self.Z_S = np.hstack([self.Z_S, z[:, None]])
        self.Y_base += z[:, None] * row[None, :]


def qei_greedy(problem: Problem, q: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch of ``q`` points maximising Monte-Carlo q-EI greedily (sequentially).

    Parameters
    ----------
    problem : Problem
    q : int

    Returns
    -------
    X : numpy.ndarray of shape (q, d)
    index : numpy.ndarray of shape (q,)
    """
    state = GreedyQEI(problem)
    taken = np.zeros(problem.candidates.shape[0], dtype=bool)
    picked: list[np.ndarray] = []
    indices = []
    for _ in range(q):
        values = np.where(taken, -np.inf, state.candidate_values())
        x, index = _finish_pick(problem, values, state.objective_for, picked)
        taken[index] = True
        state.add(x, index)
        picked.append(x)
        indices.append(index)
    return np.asarray(picked), np.asarray(indices)


def thompson(problem: Problem, q: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch of ``q`` points, each the minimiser of one joint posterior sample.

    The samples are drawn jointly on the candidate set (``μ + L z`` with ``L`` the
    Cholesky factor of the posterior covariance), so each is a coherent function. A
    sample whose minimiser was taken by an earlier one gives its best untaken candidate.

    Parameters
    ----------
    problem : Problem
    q : int

    Returns
    -------
    X : numpy.ndarray of shape (q, d)
    index : numpy.ndarray of shape (q,)
    """
    post = problem.posterior
    C = problem.candidates
    mean, _, V = post.predict(C)
    covariance = post.covariance(C, C, V, V)
    covariance[np.diag_indices_from(covariance)] += JITTER
    L = _robust_cholesky(covariance)
    samples = mean[None, :] + (L @ problem.rng.standard_normal((C.shape[0], q))).T
    taken = np.zeros(C.shape[0], dtype=bool)
    indices = []
    for draw in samples:
        draw = np.where(taken, np.inf, draw)
        index = int(np.argmin(draw))
        taken[index] = True
        indices.append(index)
    indices_array = np.asarray(indices)
    return C[indices_array], indices_array


METHOD_FUNCTIONS = {
    "kriging_believer": kriging_believer,
    "local_penalization": local_penalization,
    "qei": qei_greedy,
    "thompson": thompson,
}
