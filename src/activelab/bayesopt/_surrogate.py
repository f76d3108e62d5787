"""The GP surrogate: hyperparameters from scikit-learn (or BoTorch), the posterior in numpy.

:class:`GPSurrogate` fits the kernel hyperparameters by maximising the marginal
likelihood — with scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor`
by default, or with BoTorch's ``SingleTaskGP`` and ``fit_gpytorch_mll`` when
``backend="botorch"`` — and hands the fitted kernel to :class:`GPPosterior`, an exact GP
posterior of the latent (noise-free) objective written with numpy. The batch methods need
more than ``predict``: posterior covariances between points, the posterior after
fantasised observations, and input gradients for L-BFGS-B, and they get all of them from
:class:`GPPosterior` whichever backend fitted the hyperparameters.

The default model (Snoek, Larochelle and Adams 2012): a constant times a Matérn 5/2 kernel
with one length scale per coordinate (ARD), plus white noise, on inputs in the unit box
and targets standardised to mean 0 and variance 1. For binary fingerprints the Tanimoto
kernel replaces the Matérn one.

References
----------
C. E. Rasmussen and C. K. I. Williams, *Gaussian Processes for Machine Learning*, MIT
Press, 2006 (Algorithm 2.1: the Cholesky-based posterior used here).
J. Snoek, H. Larochelle and R. P. Adams, "Practical Bayesian optimization of machine
learning algorithms", NeurIPS 2012 (Matérn 5/2 ARD for BO).
L. Ralaivola, S. J. Swamidass, H. Saigo and P. Baldi, "Graph kernels for chemical
informatics", *Neural Networks* 18 (2005) 1093–1110 (the Tanimoto kernel).
R.-R. Griffiths et al., "GAUCHE: a library for Gaussian processes in chemistry",
NeurIPS 2023 (Tanimoto-kernel GPs for molecular BO).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize as scipy_minimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    ConstantKernel,
    Hyperparameter,
    Kernel,
    Matern,
    Product,
    WhiteKernel,
)

from activelab._validation import RandomStateLike, check_random_state

__all__ = ["GPPosterior", "GPSurrogate", "TanimotoKernel"]

#: Diagonal jitter added to every kernel matrix before its Cholesky factorisation.
JITTER = 1e-9
KERNELS = ("auto", "matern", "tanimoto")
BACKENDS = ("sklearn", "botorch")


class TanimotoKernel(Kernel):
    """The Tanimoto (Jaccard) kernel ``k(a, b) = ⟨a, b⟩ / (‖a‖² + ‖b‖² − ⟨a, b⟩)``.

    For binary fingerprints it is the fraction of bits set in both among the bits set in
    either; positive definite on non-negative vectors (Ralaivola et al. 2005). It has no
    hyperparameter: scale it with a ``ConstantKernel``. ``k(0, 0)`` is defined as 1.

    Examples
    --------
    >>> TanimotoKernel()(np.array([[1.0, 1.0, 0.0]]), np.array([[1.0, 0.0, 1.0]])).tolist()
    [[0.3333333333333333]]
    """

    def __init__(self) -> None:
        pass

    @property
    def hyperparameters(self) -> list[Hyperparameter]:
        """None: the kernel has no hyperparameter."""
        return []

    def __call__(
        self, X: np.ndarray, Y: np.ndarray | None = None, eval_gradient: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Kernel matrix ``k(X, Y)`` (``Y = X`` when None), with an empty gradient on request.

        Parameters
        ----------
        X : numpy.ndarray of shape (n, d)
        Y : numpy.ndarray of shape (m, d), optional
        eval_gradient : bool, default=False
            Also return the gradient in the (no) hyperparameters, shape (n, n, 0).

        Returns
        -------
        numpy.ndarray of shape (n, m), or (K, gradient) with ``eval_gradient``
        """
        X = np.asarray(X, dtype=np.float64)
        if Y is None:
            Y_ = X
        else:
            if eval_gradient:
                raise ValueError("Gradient can only be evaluated when Y is None.")
            Y_ = np.asarray(Y, dtype=np.float64)
        dot = X @ Y_.T
        sq_x = np.einsum("ij,ij->i", X, X)
        sq_y = np.einsum("ij,ij->i", Y_, Y_)
        denominator = sq_x[:, None] + sq_y[None, :] - dot
        both_zero = denominator <= 0.0
        K = np.where(both_zero, 1.0, dot / np.where(both_zero, 1.0, denominator))
        if eval_gradient:
            return K, np.empty((X.shape[0], X.shape[0], 0))
        return K

    def diag(self, X: np.ndarray) -> np.ndarray:
        """``k(x, x) = 1`` for every row.

        Parameters
        ----------
        X : numpy.ndarray of shape (n, d)

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        return np.ones(np.asarray(X).shape[0])

    def is_stationary(self) -> bool:
        """False: the kernel depends on the points, not only on their difference."""
        return False

    def __repr__(self) -> str:
        return "TanimotoKernel()"


def _matern52_parts(kernel: Kernel) -> tuple[float, np.ndarray] | None:
    """``(variance, length_scales)`` when ``kernel`` is ``Constant * Matern(nu=2.5)``."""
    if (
        isinstance(kernel, Product)
        and isinstance(kernel.k1, ConstantKernel)
        and isinstance(kernel.k2, Matern)
        and kernel.k2.nu == 2.5
    ):
        return float(kernel.k1.constant_value), np.atleast_1d(kernel.k2.length_scale)
    return None


def kernel_gradient(kernel: Kernel, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Gradient of ``k(a, b)`` with respect to ``a``, for every pair: shape (m, p, d).

    Analytic for a constant times a Matérn 5/2 kernel,
    ``∂k/∂a = −σ² (5/3) (1 + √5 r) e^(−√5 r) (a − b) / ℓ²``; central differences of the
    kernel (step 1e-6) for any other scikit-learn kernel.

    Parameters
    ----------
    kernel : sklearn.gaussian_process.kernels.Kernel
    A : numpy.ndarray of shape (m, d)
    B : numpy.ndarray of shape (p, d)

    Returns
    -------
    numpy.ndarray of shape (m, p, d)
    """
    parts = _matern52_parts(kernel)
    if parts is not None:
        variance, scales = parts
        diff = (A[:, None, :] - B[None, :, :]) / scales
        r = np.sqrt(np.einsum("mpd,mpd->mp", diff, diff))
        root5 = np.sqrt(5.0)
        factor = -variance * (5.0 / 3.0) * (1.0 + root5 * r) * np.exp(-root5 * r)
        return factor[:, :, None] * diff / scales
    step = 1e-6
    out = np.empty((A.shape[0], B.shape[0], A.shape[1]))
    for j in range(A.shape[1]):
        shift = np.zeros(A.shape[1])
        shift[j] = step
        out[:, :, j] = (kernel(A + shift, B) - kernel(A - shift, B)) / (2.0 * step)
    return out


def _diag_gradient(kernel: Kernel, A: np.ndarray) -> np.ndarray | None:
    """Gradient of ``k(a, a)`` in ``a`` (m, d), or None when the kernel is stationary."""
    if kernel.is_stationary() or isinstance(kernel, TanimotoKernel):
        return None
    step = 1e-6
    out = np.empty(A.shape)
    for j in range(A.shape[1]):
        shift = np.zeros(A.shape[1])
        shift[j] = step
        out[:, j] = (kernel.diag(A + shift) - kernel.diag(A - shift)) / (2.0 * step)
    return out


class GPPosterior:
    """Exact posterior of a GP's latent function given data, for fixed hyperparameters.

    ``K = k(X, X) + (σ²_n + jitter) I = L Lᵀ``, ``α = K⁻¹ y``; at new points
    ``μ(a) = k(a, X) α`` and ``σ²(a) = k(a, a) − ‖L⁻¹ k(X, a)‖²`` (Rasmussen and
    Williams 2006, Algorithm 2.1). Everything is in the surrogate's units: unit-box inputs
    and standardised targets.

    Parameters
    ----------
    kernel : sklearn.gaussian_process.kernels.Kernel
        The signal kernel (without the white-noise term).
    noise : float
        Observation noise variance σ²_n.
    X : numpy.ndarray of shape (n, d)
        Training inputs.
    y : numpy.ndarray of shape (n,)
        Training targets (standardised).
    """

    def __init__(self, kernel: Kernel, noise: float, X: np.ndarray, y: np.ndarray) -> None:
        self.kernel = kernel
        self.noise = float(noise)
        self.X = np.asarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        K = kernel(self.X)
        K[np.diag_indices_from(K)] += self.noise + JITTER
        self.L = _robust_cholesky(K)
        self.alpha = cho_solve((self.L, True), self.y)

    @property
    def dim(self) -> int:
        """Input dimension."""
        return int(self.X.shape[1])

    def cross(self, A: np.ndarray) -> np.ndarray:
        """``k(X, A)``, shape (n, m).

        Parameters
        ----------
        A : numpy.ndarray of shape (m, d)

        Returns
        -------
        numpy.ndarray of shape (n, m)
        """
        return self.kernel(self.X, A)

    def whiten(self, kXA: np.ndarray) -> np.ndarray:
        """``L⁻¹ k(X, A)``, shape (n, m).

        Parameters
        ----------
        kXA : numpy.ndarray of shape (n, m)

        Returns
        -------
        numpy.ndarray of shape (n, m)
        """
        return solve_triangular(self.L, kXA, lower=True, check_finite=False)

    def predict(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean, variance and whitened cross-covariance ``V = L⁻¹ k(X, A)``.

        Parameters
        ----------
        A : numpy.ndarray of shape (m, d)

        Returns
        -------
        mean : numpy.ndarray of shape (m,)
        var : numpy.ndarray of shape (m,)
            Clipped at 0.
        V : numpy.ndarray of shape (n, m)
        """
        kXA = self.cross(A)
        V = self.whiten(kXA)
        mean = kXA.T @ self.alpha
        var = self.kernel.diag(A) - np.einsum("nm,nm->m", V, V)
        return mean, np.maximum(var, 0.0), V

    def covariance(
        self, A: np.ndarray, B: np.ndarray, V_A: np.ndarray, V_B: np.ndarray
    ) -> np.ndarray:
        """Posterior covariance ``k(A, B) − V_Aᵀ V_B``, shape (m, p).

        Parameters
        ----------
        A : numpy.ndarray of shape (m, d)
        B : numpy.ndarray of shape (p, d)
        V_A, V_B : numpy.ndarray
            Their whitened cross-covariances from :meth:`predict`.

        Returns
        -------
        numpy.ndarray of shape (m, p)
        """
        return self.kernel(A, B) - V_A.T @ V_B

    def predict_with_gradient(self, A: np.ndarray) -> dict[str, np.ndarray]:
        """Mean, variance and their input gradients, with the pieces the batch methods reuse.

        Parameters
        ----------
        A : numpy.ndarray of shape (m, d)

        Returns
        -------
        dict
            ``mean`` (m,), ``dmean`` (m, d), ``var`` (m,), ``dvar`` (m, d), ``V``
            (n, m), ``U = K⁻¹ k(X, A)`` (n, m) and ``dk = ∂k(a, X)/∂a`` (m, n, d).
        """
        kXA = self.cross(A)
        V = self.whiten(kXA)
        U = solve_triangular(self.L, V, lower=True, trans="T", check_finite=False)
        dk = kernel_gradient(self.kernel, A, self.X)
        mean = kXA.T @ self.alpha
        dmean = np.einsum("mnd,n->md", dk, self.alpha)
        var = self.kernel.diag(A) - np.einsum("nm,nm->m", V, V)
        dvar = -2.0 * np.einsum("mnd,nm->md", dk, U)
        diag_gradient = _diag_gradient(self.kernel, A)
        if diag_gradient is not None:
            dvar = dvar + diag_gradient
        return {"mean": mean, "dmean": dmean, "var": var, "dvar": dvar, "V": V, "U": U, "dk": dk}


#: Iteration cap of the marginal-likelihood optimiser (scikit-learn's default is 15,000;
#: the optimum is flat, and 100 L-BFGS-B steps reach it to well within its uncertainty).
MAX_LIKELIHOOD_ITERATIONS = 100

#: Gamma(shape, rate) prior on every length scale (unit-box inputs): BoTorch's classic
#: ``SingleTaskGP`` prior, mode 1/3, mean 1/2. It keeps a fit on a handful of points from
#: the degenerate optimum where every length scale sits at its lower bound.
LENGTH_SCALE_PRIOR = (3.0, 6.0)


class _MapOptimizer:
    """scikit-learn's GP optimiser hook: L-BFGS-B on the log posterior of the hyperparameters.

    scikit-learn maximises the log marginal likelihood; this adds the log density of
    :data:`LENGTH_SCALE_PRIOR` for the entries of ``theta`` (log hyperparameters) that
    are length scales, ``(a − 1) log ℓ − b ℓ``, i.e. a MAP estimate, and caps the
    iterations at :data:`MAX_LIKELIHOOD_ITERATIONS`.
    """

    def __init__(self, length_scale_indices: np.ndarray) -> None:
        self.length_scale_indices = length_scale_indices

    def __call__(
        self, objective: Any, initial_theta: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, float]:
        shape, rate = LENGTH_SCALE_PRIOR
        where = self.length_scale_indices

        def negative_log_posterior(theta: np.ndarray) -> tuple[float, np.ndarray]:
            value, gradient = objective(theta, eval_gradient=True)
            scales = np.exp(theta[where])
            value = value - float(np.sum((shape - 1.0) * theta[where] - rate * scales))
            gradient = np.array(gradient, dtype=np.float64)
            gradient[where] -= (shape - 1.0) - rate * scales
            return value, gradient

        result = scipy_minimize(
            negative_log_posterior,
            initial_theta,
            method="L-BFGS-B",
            jac=True,
            bounds=bounds,
            options={"maxiter": MAX_LIKELIHOOD_ITERATIONS},
        )
        return result.x, float(result.fun)


def _length_scale_indices(kernel: Kernel) -> np.ndarray:
    """Positions in ``kernel.theta`` of the length-scale entries (free ones only)."""
    positions = []
    offset = 0
    for hyperparameter in kernel.hyperparameters:
        if hyperparameter.fixed:
            continue
        size = hyperparameter.n_elements
        if hyperparameter.name.endswith("length_scale"):
            positions.extend(range(offset, offset + size))
        offset += size
    return np.asarray(positions, dtype=np.int64)


def _robust_cholesky(K: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of ``K``, adding jitter tenfold until it succeeds."""
    jitter = 0.0
    scale = float(np.mean(np.diag(K))) if K.size else 1.0
    for _ in range(8):
        try:
            if jitter:
                K = K.copy()
                K[np.diag_indices_from(K)] += jitter
            return cholesky(K, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            jitter = max(jitter * 10.0, 1e-8 * scale)
    raise np.linalg.LinAlgError(
        "The GP kernel matrix is not positive definite even with jitter; the inputs may "
        "contain NaN or the kernel is not a valid covariance."
    )


class GPSurrogate:
    """A GP surrogate: hyperparameters by marginal likelihood, posterior as :class:`GPPosterior`.

    Targets are standardised (mean 0, variance 1) before the fit; inputs are expected in
    the unit box (the search space maps them). Refits start from the previous
    hyperparameters (warm start) plus ``n_restarts`` random starts.

    Parameters
    ----------
    kernel : {"auto", "matern", "tanimoto"} or sklearn Kernel, default="auto"
        ``"matern"``: ``Constant × Matérn 5/2`` with one length scale per coordinate in
        ``[0.01, 100]``. ``"tanimoto"``: ``Constant × Tanimoto`` (binary fingerprints).
        ``"auto"``: Tanimoto when the inputs are 0/1 vectors of 16 or more bits, else
        Matérn. A scikit-learn kernel is used as the signal kernel as it is. A white-noise
        term is always added.
    backend : {"sklearn", "botorch"}, default="sklearn"
        Who fits the hyperparameters: scikit-learn's GaussianProcessRegressor, or
        BoTorch's ``SingleTaskGP`` with a Matérn 5/2 ARD kernel and ``fit_gpytorch_mll``
        (needs ``pip install botorch``). The posterior is computed here either way.
    n_restarts : int, default=2
        Extra random starts of the marginal-likelihood optimiser on the first fit
        (scikit-learn); later fits start from the previous optimum only.
    max_fit_points : int, default=256
        Above this many observations, hyperparameters are fitted on a random subset of
        this size (the posterior always uses every observation); keeps each refit
        O(max_fit_points³) on a 96-well campaign of ~1,000 points.
    random_state : int, Generator or None
        Seeds the restarts and the subset.

    Attributes
    ----------
    posterior_ : GPPosterior
        The posterior on the data of the last :meth:`fit`.
    kernel_ : Kernel
        The fitted signal kernel.
    noise_ : float
        The fitted noise variance (standardised units).
    y_mean_, y_std_ : float
        The target standardisation.

    Examples
    --------
    >>> X = np.linspace(0, 1, 8)[:, None]
    >>> model = GPSurrogate(random_state=0).fit(X, np.sin(6 * X[:, 0]))
    >>> mean, std = model.predict(np.array([[0.5]]))
    >>> bool(abs(mean[0] - np.sin(3.0)) < 0.05)
    True
    """

    def __init__(
        self,
        kernel: str | Kernel = "auto",
        *,
        backend: str = "sklearn",
        n_restarts: int = 2,
        max_fit_points: int = 256,
        random_state: RandomStateLike = None,
    ) -> None:
        self.kernel = kernel
        self.backend = backend
        self.n_restarts = n_restarts
        self.max_fit_points = max_fit_points
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> GPSurrogate:
        """Fit the hyperparameters and the posterior on ``(X, y)``.

        Parameters
        ----------
        X : numpy.ndarray of shape (n, d)
            Inputs in the unit box.
        y : numpy.ndarray of shape (n,)
            Observed objective values (raw units).

        Returns
        -------
        GPSurrogate
            ``self``.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[0] < 2:
            raise ValueError(
                "GPSurrogate.fit needs X of shape (n, d) and y of shape (n,) with n >= 2; got "
                f"{X.shape} and {y.shape}."
            )
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise ValueError("GPSurrogate.fit: X and y must be finite (no NaN or inf).")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}; got {self.backend!r}.")
        if not hasattr(self, "_rng"):
            self._rng = check_random_state(self.random_state)
        self.y_mean_ = float(y.mean())
        std = float(y.std())
        self.y_std_ = std if std > 0 else 1.0
        y_norm = (y - self.y_mean_) / self.y_std_
        fit_X, fit_y = X, y_norm
        if X.shape[0] > self.max_fit_points:
            subset = self._rng.choice(X.shape[0], size=self.max_fit_points, replace=False)
            fit_X, fit_y = X[subset], y_norm[subset]
        kind = self._kernel_kind(X)
        if self.backend == "botorch":
            if kind != "matern":
                raise ValueError(
                    "backend='botorch' fits a Matérn 5/2 ARD kernel; for a fingerprint library "
                    "(Tanimoto kernel) or a custom kernel use backend='sklearn'."
                )
            signal, noise = _fit_botorch(fit_X, fit_y)
        else:
            signal, noise = self._fit_sklearn(fit_X, fit_y, kind)
        self.kernel_ = signal
        self.noise_ = noise
        self.posterior_ = GPPosterior(signal, noise, X, y_norm)
        return self

    def _kernel_kind(self, X: np.ndarray) -> str:
        if isinstance(self.kernel, Kernel):
            return "custom"
        if self.kernel not in KERNELS:
            raise ValueError(
                f"kernel must be one of {KERNELS} or a scikit-learn Kernel; got {self.kernel!r}."
            )
        if self.kernel != "auto":
            return self.kernel
        binary = X.shape[1] >= 16 and bool(np.isin(X, (0.0, 1.0)).all())
        return "tanimoto" if binary else "matern"

    def _initial_kernel(self, d: int, kind: str) -> Kernel:
        previous = getattr(self, "_fitted_full_kernel", None)
        if previous is not None and getattr(self, "_fitted_dim", None) == d:
            return previous
        if kind == "custom":
            signal = self.kernel
        elif kind == "tanimoto":
            signal = ConstantKernel(1.0, (1e-2, 1e2)) * TanimotoKernel()
        else:
            signal = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(
                length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
            )
        return signal + WhiteKernel(1e-3, (1e-6, 1.0))

    def _fit_sklearn(self, X: np.ndarray, y: np.ndarray, kind: str) -> tuple[Kernel, float]:
        warm = getattr(self, "_fitted_full_kernel", None) is not None
        kernel = self._initial_kernel(X.shape[1], kind)
        has_parameters = len(kernel.theta) > 0
        model = GaussianProcessRegressor(
            kernel=kernel,
            alpha=JITTER,
            normalize_y=False,
            optimizer=_MapOptimizer(_length_scale_indices(kernel)) if has_parameters else None,
            # A refit starts from the previous optimum, which moves little between
            # batches; random restarts are for the first fit only.
            n_restarts_optimizer=self.n_restarts if has_parameters and not warm else 0,
            random_state=int(self._rng.integers(2**31 - 1)),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        fitted = model.kernel_
        self._fitted_full_kernel = fitted
        self._fitted_dim = X.shape[1]
        return fitted.k1, float(fitted.k2.noise_level)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent objective, in raw units.

        Parameters
        ----------
        X : numpy.ndarray of shape (m, d)
            Points in the unit box.

        Returns
        -------
        mean, std : numpy.ndarray of shape (m,)
        """
        if not hasattr(self, "posterior_"):
            raise RuntimeError("GPSurrogate.predict: call fit first.")
        mean, var, _ = self.posterior_.predict(np.asarray(X, dtype=np.float64))
        return self.y_mean_ + self.y_std_ * mean, self.y_std_ * np.sqrt(var)


def _fit_botorch(X: np.ndarray, y: np.ndarray) -> tuple[Kernel, float]:
    """Fit ``SingleTaskGP`` (Matérn 5/2 ARD, scaled) with BoTorch; return it as a sklearn kernel."""
    _fit_botorch_available()  # fails fast, before importing torch, when BoTorch is missing
    import torch
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood

    train_X = torch.as_tensor(X, dtype=torch.float64)
    train_Y = torch.as_tensor(y, dtype=torch.float64)[:, None]
    covar = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=X.shape[1]))
    model = SingleTaskGP(train_X, train_Y, covar_module=covar, outcome_transform=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    scales = model.covar_module.base_kernel.lengthscale.detach().cpu().numpy().ravel()
    variance = float(model.covar_module.outputscale.detach().cpu())
    noise = float(model.likelihood.noise.detach().cpu().ravel()[0])
    signal = ConstantKernel(variance, "fixed") * Matern(
        length_scale=scales.astype(np.float64), length_scale_bounds="fixed", nu=2.5
    )
    return signal, noise


def as_surrogate(surrogate: Any, random_state: RandomStateLike) -> GPSurrogate:
    """``"sklearn"``, ``"botorch"`` or a :class:`GPSurrogate` → a :class:`GPSurrogate`."""
    if surrogate is None or surrogate == "sklearn":
        return GPSurrogate(random_state=random_state)
    if surrogate == "botorch":
        _fit_botorch_available()
        return GPSurrogate(backend="botorch", random_state=random_state)
    if isinstance(surrogate, GPSurrogate):
        return surrogate
    raise ValueError(
        "surrogate must be 'sklearn', 'botorch' or a GPSurrogate; got "
        f"{surrogate!r}. Pass GPSurrogate(kernel=...) to choose the kernel."
    )


def _fit_botorch_available() -> None:
    """Raise the ImportError of the BoTorch backend now, before any evaluation is spent."""
    try:
        import botorch  # noqa: F401
        import gpytorch  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "surrogate='botorch' needs BoTorch (and PyTorch), which is not installed. "
            "Install it with: pip install botorch — or use the default scikit-learn "
            "surrogate (surrogate='sklearn')."
        ) from error
