"""The optimisation loop: ask/tell :class:`BayesianOptimizer` and :func:`minimize`."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from activelab._validation import RandomStateLike, check_random_state
from activelab.bayesopt._acquisition import ucb_beta
from activelab.bayesopt._batch import BATCH_METHODS, METHOD_FUNCTIONS, Problem
from activelab.bayesopt._metrics import top_fraction_found
from activelab.bayesopt._space import Box, CandidateLibrary, as_space, check_count, sobol_unit
from activelab.bayesopt._surrogate import GPSurrogate, as_surrogate

__all__ = ["ACQUISITIONS", "BATCH_METHODS", "BayesOptResult", "BayesianOptimizer", "minimize"]

#: Acquisition functions :func:`minimize` knows.
ACQUISITIONS = ("ei", "pi", "ucb", "thompson")

#: Factor on :func:`ucb_beta` by default, as in the experiments of Srinivas et al. (2010).
UCB_BETA_SCALE = 0.2

#: Above this many remaining library candidates, only a pre-filtered subset is scored.
MAX_LIBRARY_CANDIDATES = 4096


@dataclass
class BayesOptResult:
    """What :func:`minimize` returns: the full history and the best point.

    Attributes
    ----------
    X : numpy.ndarray of shape (n, d)
        Every evaluated point, in order.
    y : numpy.ndarray of shape (n,)
        Their objective values.
    batch : numpy.ndarray of shape (n,)
        The batch each point was evaluated in; 0 is the initial design.
    index : numpy.ndarray of shape (n,) or None
        Library row of each point (a candidate-library search), else None.
    seconds : list of float
        Seconds spent proposing each batch (surrogate fit and batch selection).
    space : Box or CandidateLibrary
    """

    X: np.ndarray
    y: np.ndarray
    batch: np.ndarray
    index: np.ndarray | None
    seconds: list[float] = field(default_factory=list)
    space: Box | CandidateLibrary | None = None

    @property
    def n_evaluations(self) -> int:
        """Number of objective evaluations."""
        return int(self.y.shape[0])

    @property
    def best_position(self) -> int:
        """Position in the history of the best (lowest) observation."""
        return int(np.argmin(self.y))

    @property
    def best_x(self) -> np.ndarray:
        """The best point found, shape (d,)."""
        return self.X[self.best_position]

    @property
    def best_y(self) -> float:
        """The lowest objective value observed."""
        return float(self.y[self.best_position])

    def best_so_far(self) -> np.ndarray:
        """The best value after each evaluation (running minimum), shape (n,).

        Returns
        -------
        numpy.ndarray of shape (n,)
        """
        return np.minimum.accumulate(self.y)

    def simple_regret(self, optimum: float) -> np.ndarray:
        """Simple regret after each evaluation: best value so far minus the known optimum.

        Parameters
        ----------
        optimum : float
            The global minimum value (e.g. ``BRANIN.minimum``).

        Returns
        -------
        numpy.ndarray of shape (n,)
            Non-increasing; 0 once the optimum is found.
        """
        if not (isinstance(optimum, numbers.Real) and math.isfinite(float(optimum))):
            raise ValueError(f"optimum must be a finite number; got {optimum!r}.")
        return self.best_so_far() - float(optimum)

    def top_fraction_found(
        self, values: Any, *, top: float | int = 0.01, minimize: bool = True
    ) -> np.ndarray:
        """Fraction of a library's top candidates found after each evaluation.

        See :func:`activelab.bayesopt.top_fraction_found`; a candidate-library search only.

        Parameters
        ----------
        values : array-like of shape (N,)
            The objective value of every library row.
        top : float or int, default=0.01
            Fraction of the library (``k = ceil(top N)``) or the number ``k`` of top rows.
        minimize : bool, default=True
            Whether lower values are better.

        Returns
        -------
        numpy.ndarray of shape (n,)
            Non-decreasing, in [0, 1].
        """
        if self.index is None:
            raise ValueError(
                "top_fraction_found needs a candidate-library search (result.index is None: "
                "the space was a box); use simple_regret for a box."
            )
        return top_fraction_found(self.index, values, top=top, minimize=minimize)

    def best_per_batch(self) -> np.ndarray:
        """The best value after each batch (the initial design is batch 0).

        Returns
        -------
        numpy.ndarray of shape (n_batches,)
        """
        last = np.flatnonzero(np.diff(self.batch, append=self.batch[-1] + 1))
        return self.best_so_far()[last]


class BayesianOptimizer:
    """Batched Bayesian optimisation, ask/tell: propose a plate, measure it, report back.

    The first :meth:`ask` returns the initial design (a scrambled Sobol design of the box,
    or uniformly random library candidates). Every later one fits the surrogate on all
    observations told so far and returns the next batch. Tell the values of a batch
    before asking for the next.

    Parameters
    ----------
    space : Box, CandidateLibrary, list of (low, high) pairs or numpy.ndarray
        Where to search; see :func:`activelab.bayesopt.as_space`.
    *positional
        Refused with a TypeError: every parameter after ``space`` is keyword-only.
    batch_size : int, default=1
        Points per batch (96 for a well plate).
    acquisition : {"ei", "pi", "ucb", "thompson"}, default="ei"
        The acquisition function (minimising). ``"thompson"`` means Thompson sampling,
        whatever ``batch``.
    batch : {"kriging_believer", "local_penalization", "qei", "thompson"}, optional
        How a batch is built. Default: ``"thompson"`` for Thompson sampling, else
        ``"kriging_believer"``. ``"qei"`` needs ``acquisition="ei"``.
    surrogate : "sklearn", "botorch" or GPSurrogate, default="sklearn"
    initial : int or array-like, optional
        Size of the initial design, or the initial points themselves (library rows for a
        library). Default: one batch, and at least ``min(2 d + 2, 20)`` points.
    xi : float, default=0.0
        EI/PI margin.
    beta : float, optional
        UCB weight; by default a fifth of the schedule of :func:`ucb_beta` at the batch
        number (the scaling Srinivas et al. 2010 use in their experiments).
    delta : float, default=0.1
        δ of the UCB schedule.
    n_candidates : int, default=1024
        Sobol candidates per batch on a box (plus half as many near the best points).
    n_restarts : int, default=4
        L-BFGS-B starts per pick on a box.
    n_samples : int, default=256
        Monte-Carlo samples for q-EI.
    random_state : int, Generator or None

    Attributes
    ----------
    X_, y_ : numpy.ndarray
        Observations told so far (points in the space's units).
    batch_ : numpy.ndarray
        Batch number of each observation.
    index_ : numpy.ndarray or None
        Library rows of the observations.
    seconds_ : list of float
        Seconds each :meth:`ask` took.
    last_indices_ : numpy.ndarray or None
        Library rows of the last batch asked.

    Examples
    --------
    >>> from activelab.bayesopt import BRANIN
    >>> opt = BayesianOptimizer(BRANIN.bounds, batch_size=4, random_state=0)
    >>> X = opt.ask()
    >>> opt.tell(X, BRANIN(X))
    >>> opt.ask().shape
    (4, 2)
    """

    def __init__(
        self,
        space: Any,
        *positional: Any,
        batch_size: int = 1,
        acquisition: str = "ei",
        batch: str | None = None,
        surrogate: str | GPSurrogate = "sklearn",
        initial: int | np.ndarray | None = None,
        xi: float = 0.0,
        beta: float | None = None,
        delta: float = 0.1,
        n_candidates: int = 1024,
        n_restarts: int = 4,
        n_samples: int = 256,
        random_state: RandomStateLike = None,
    ) -> None:
        _refuse_positional(
            "BayesianOptimizer() takes only space",
            positional,
            "batch_size=",
            "BayesianOptimizer(space, batch_size=96)",
        )
        self.space = as_space(space)
        self.batch_size = check_count(batch_size, "batch_size", 1)
        self.acquisition, self.batch = _check_methods(acquisition, batch)
        self._rng = check_random_state(random_state)
        self.surrogate = as_surrogate(surrogate, self._rng)
        self.xi = _check_nonnegative(xi, "xi")
        self.beta = None if beta is None else _check_nonnegative(beta, "beta")
        self.delta = delta
        self.n_candidates = check_count(n_candidates, "n_candidates", 16)
        self.n_restarts = check_count(n_restarts, "n_restarts", 1)
        self.n_samples = check_count(n_samples, "n_samples", 8)
        library = isinstance(self.space, CandidateLibrary)
        if library and self.batch_size > self.space.size:
            raise ValueError(
                f"batch_size={self.batch_size} is larger than the candidate library "
                f"({self.space.size} candidates)."
            )
        self._initial = self._initial_design(initial)
        d = self.space.dim
        self.X_ = np.empty((0, d))
        self.y_ = np.empty(0)
        self.batch_ = np.empty(0, dtype=np.int64)
        self.index_: np.ndarray | None = np.empty(0, dtype=np.int64) if library else None
        self.seconds_: list[float] = []
        self.last_indices_: np.ndarray | None = None
        self._asked: np.ndarray | None = None
        self._n_tells = 0

    # --- the initial design ---------------------------------------------------------------

    def _initial_design(self, initial: Any) -> np.ndarray:
        """Initial points (box: points; library: row indices)."""
        space = self.space
        if initial is None:
            initial = max(self.batch_size, min(2 * space.dim + 2, 20))
        if isinstance(initial, numbers.Integral) and not isinstance(initial, bool):
            n = check_count(initial, "initial", 1)
            if isinstance(space, CandidateLibrary):
                n = min(n, space.size)
                return self._rng.choice(space.size, size=n, replace=False)
            return space.from_unit(sobol_unit(n, space.dim, self._rng))
        points = np.asarray(initial, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != space.dim or points.shape[0] < 1:
            raise ValueError(
                f"initial must be an int or initial points of shape (n, {space.dim}); got "
                f"shape {points.shape}."
            )
        if isinstance(space, CandidateLibrary):
            return space.indices_of(points)
        outside = np.flatnonzero(((points < space.low) | (points > space.high)).any(axis=1))
        if outside.size:
            raise ValueError(
                f"initial point {int(outside[0])} = {points[outside[0]].tolist()} is outside "
                f"the bounds {space.bounds.tolist()}."
            )
        return points

    @property
    def n_initial(self) -> int:
        """Number of points in the initial design."""
        return int(self._initial.shape[0])

    # --- ask / tell -----------------------------------------------------------------------

    def ask(self) -> np.ndarray:
        """The next batch to evaluate, in the space's units.

        Returns
        -------
        numpy.ndarray of shape (q, d)
            The initial design first (all of it), then ``batch_size`` points per call
            (fewer when a library runs out of candidates).
        """
        started = time.perf_counter()
        library = isinstance(self.space, CandidateLibrary)
        if self._n_tells == 0:
            design = self._initial
            if library:
                self.last_indices_ = np.asarray(design, dtype=np.int64)
                X = self.space.X[self.last_indices_]
            else:
                self.last_indices_ = None
                X = np.asarray(design, dtype=np.float64)
        else:
            # The proposal's linear algebra is small and latency-bound (L-BFGS-B steps,
            # triangular solves with a few right-hand sides): BLAS threads only add
            # overhead there — 30× per L-BFGS-B step with 2 OpenBLAS threads on a busy
            # machine — so it runs on one.
            with threadpool_limits(limits=1, user_api="blas"):
                X = self._propose()
        self._asked = X
        self.seconds_.append(time.perf_counter() - started)
        return X.copy()

    def _propose(self) -> np.ndarray:
        space = self.space
        library = isinstance(space, CandidateLibrary)
        U = space.to_unit(self.X_)
        if self.y_.shape[0] < 2:
            raise RuntimeError("tell at least 2 observations before asking for a batch.")
        model = self.surrogate.fit(U, self.y_)
        posterior = model.posterior_
        best = float(posterior.y.min())
        t = self._n_tells
        if library:
            remaining = np.setdiff1d(np.arange(space.size), self.index_, assume_unique=False)
            if remaining.size == 0:
                raise RuntimeError("every candidate of the library has been evaluated.")
            q = min(self.batch_size, remaining.size)
            remaining = self._prefilter(remaining, posterior, best)
            candidates = space.to_unit(space.X[remaining])
            beta = self._beta(t, n_candidates=space.size)
        else:
            q = self.batch_size
            candidates = self._box_candidates(U)
            beta = self._beta(t, dim=space.dim)
        problem = Problem(
            posterior=posterior,
            candidates=candidates,
            continuous=not library,
            acquisition=self.acquisition,
            best=best,
            xi=self.xi / model.y_std_,
            beta=beta,
            rng=self._rng,
            n_restarts=self.n_restarts,
            n_samples=self.n_samples,
        )
        U_batch, picked = METHOD_FUNCTIONS[self.batch](problem, q)
        if library:
            self.last_indices_ = remaining[picked]
            return space.X[self.last_indices_]
        self.last_indices_ = None
        return space.from_unit(U_batch)

    def _beta(self, t: int, **size: int) -> float:
        """UCB's β at batch ``t``: the given one, or a fifth of :func:`ucb_beta`.

        Srinivas et al. (2010) scale their theoretical β_t down by a factor of 5 in all
        their experiments; the unscaled value explores far too long for a budget of a
        few dozen evaluations.
        """
        if self.beta is not None:
            return self.beta
        return UCB_BETA_SCALE * ucb_beta(t, delta=self.delta, **size)

    def _box_candidates(self, U: np.ndarray) -> np.ndarray:
        """Sobol points of the unit box plus Gaussian perturbations of the best points."""
        d = self.space.dim
        n_sobol = max(self.n_candidates, 2 * self.batch_size)  # every pick needs a candidate
        sobol = sobol_unit(n_sobol, d, self._rng)
        n_local = n_sobol // 2
        order = np.argsort(self.y_, kind="stable")[: min(5, self.y_.shape[0])]
        centres = U[order[self._rng.integers(order.size, size=n_local)]]
        scales = np.where(self._rng.random(n_local) < 0.5, 0.02, 0.1)[:, None]
        local = np.clip(centres + scales * self._rng.standard_normal((n_local, d)), 0.0, 1.0)
        return np.vstack([sobol, local])

    def _prefilter(self, remaining: np.ndarray, posterior: Any, best: float) -> np.ndarray:
        """A large library's most promising candidates (by lower bound) plus a random tenth."""
        if remaining.size <= MAX_LIBRARY_CANDIDATES:
            return remaining
        space = self.space
        bound = np.empty(remaining.size)
        for start in range(0, remaining.size, 4096):
            rows = remaining[start : start + 4096]
            mean, var, _ = posterior.predict(space.to_unit(space.X[rows]))
            bound[start : start + rows.size] = mean - 2.0 * np.sqrt(var)
        n_random = MAX_LIBRARY_CANDIDATES // 10
        n_top = MAX_LIBRARY_CANDIDATES - n_random
        top = np.argpartition(bound, n_top - 1)[:n_top]
        rest = np.setdiff1d(np.arange(remaining.size), top)
        extra = self._rng.choice(rest, size=min(n_random, rest.size), replace=False)
        return remaining[np.sort(np.concatenate([top, extra]))]

    def tell(self, X: np.ndarray, y: np.ndarray) -> None:
        """Report the objective values of evaluated points.

        Parameters
        ----------
        X : numpy.ndarray of shape (n, d)
            The points (usually the last batch asked). For a library, rows of the library.
        y : numpy.ndarray of shape (n,)
            Their values; must be finite.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        d = self.space.dim
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"tell: X must have shape (n, {d}); got {X.shape}.")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"tell: got {y.shape[0]} values for {X.shape[0]} points.")
        check_values(y, X, self._n_tells)
        if isinstance(self.space, CandidateLibrary):
            asked = self._asked
            n = X.shape[0]
            if (
                asked is not None
                and self.last_indices_ is not None
                and n <= asked.shape[0]
                and np.array_equal(asked[:n], X)
            ):
                indices = self.last_indices_[:n]
            else:
                indices = self.space.indices_of(X, exclude=self.index_)
            seen = np.intersect1d(indices, self.index_)
            if seen.size or np.unique(indices).size != indices.size:
                raise ValueError(
                    f"tell: library candidate {int(seen[0]) if seen.size else int(indices[0])} "
                    "was already told; a library search evaluates each candidate once."
                )
            self.index_ = np.concatenate([self.index_, indices])
        self.X_ = np.vstack([self.X_, X])
        self.y_ = np.concatenate([self.y_, y])
        self.batch_ = np.concatenate([self.batch_, np.full(y.shape[0], self._n_tells)])
        self._n_tells += 1
        self._asked = None

    def result(self) -> BayesOptResult:
        """The history so far as a :class:`BayesOptResult`.

        Returns
        -------
        BayesOptResult
        """
        if self.y_.shape[0] == 0:
            raise RuntimeError("no observation told yet.")
        return BayesOptResult(
            X=self.X_.copy(),
            y=self.y_.copy(),
            batch=self.batch_.copy(),
            index=None if self.index_ is None else self.index_.copy(),
            seconds=list(self.seconds_),
            space=self.space,
        )


def check_values(y: np.ndarray, X: np.ndarray, batch: int) -> None:
    """Raise a ValueError naming the points where the objective is not finite."""
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        first = int(bad[0])
        raise ValueError(
            f"the objective returned {y[first]} for {bad.size} of {y.shape[0]} points in batch "
            f"{batch} (first: point {first}, x = {np.array2string(X[first], precision=4)}). "
            "Values must be finite: drop failed measurements, or give them a finite penalty "
            "value (e.g. the worst value seen)."
        )


def _check_nonnegative(value: Any, name: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
    return float(value)


def _check_methods(acquisition: Any, batch: Any) -> tuple[str, str]:
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"acquisition must be one of {ACQUISITIONS}; got {acquisition!r}.")
    if batch is not None and batch not in BATCH_METHODS:
        raise ValueError(f"batch must be one of {BATCH_METHODS} or None; got {batch!r}.")
    if acquisition == "thompson" or batch == "thompson":
        if batch not in (None, "thompson") or acquisition not in ("ei", "thompson"):
            raise ValueError(
                "Thompson sampling is both the acquisition and the batch rule: pass "
                f"acquisition='thompson' (batch None or 'thompson'); got acquisition="
                f"{acquisition!r}, batch={batch!r}."
            )
        return "thompson", "thompson"
    if batch == "qei" and acquisition != "ei":
        raise ValueError(
            f"batch='qei' is the batch form of expected improvement; got acquisition="
            f"{acquisition!r}. Use acquisition='ei' with batch='qei', or "
            "'kriging_believer' / 'local_penalization' for PI and UCB."
        )
    return acquisition, batch or "kriging_believer"


def _call_objective(
    f: Callable[..., Any], X: np.ndarray, indices: np.ndarray | None, vectorized: bool
) -> np.ndarray:
    """Evaluate ``f`` on a batch and return a float array of shape (n,)."""
    argument = X if indices is None else indices
    if vectorized:
        values = np.asarray(f(argument), dtype=np.float64)
        if values.shape not in ((X.shape[0],), (X.shape[0], 1)):
            raise ValueError(
                f"f returned an array of shape {values.shape} for a batch of {X.shape[0]} "
                f"points (shape {argument.shape}); it must return shape ({X.shape[0]},). If f "
                "takes one point and returns a float, pass vectorized=False."
            )
        return values.reshape(-1)
    values = []
    for row in argument:
        value = np.asarray(f(row), dtype=np.float64)
        if value.size != 1:
            raise ValueError(
                f"with vectorized=False, f must return one number per point; got shape "
                f"{value.shape}."
            )
        values.append(float(value.reshape(-1)[0]))
    return np.asarray(values)


def _refuse_positional(who: str, extra: tuple[Any, ...], names: str, call: str) -> None:
    """A TypeError saying to pass the parameters after ``space`` by keyword."""
    if extra:
        shown = ", ".join(repr(value) for value in extra[:4]) + (", ..." if len(extra) > 4 else "")
        raise TypeError(
            f"{who} by position; got {len(extra)} more positional argument(s) "
            f"({shown}). Pass {names} (and every other option) by keyword, "
            f"e.g. {call}."
        )


def minimize(
    f: Callable[..., Any],
    space: Any,
    *positional: Any,
    budget: int | None = None,
    batch_size: int = 1,
    acquisition: str = "ei",
    batch: str | None = None,
    initial: int | np.ndarray | None = None,
    surrogate: str | GPSurrogate = "sklearn",
    vectorized: bool = True,
    pass_indices: bool = False,
    xi: float = 0.0,
    beta: float | None = None,
    n_candidates: int = 1024,
    n_restarts: int = 4,
    n_samples: int = 256,
    random_state: RandomStateLike = None,
) -> BayesOptResult:
    """Minimise an expensive black-box function by batched Bayesian optimisation.

    Evaluates an initial design, then batches of ``batch_size`` points chosen by a GP
    surrogate and an acquisition, until ``budget`` evaluations are spent (the last batch
    is cut short to fit). To maximise, minimise ``-f``.

    Parameters
    ----------
    f : callable
        The objective. By default it takes a batch, an array of shape ``(n, d)``, and
        returns ``n`` values, shape ``(n,)`` (one plate of measurements). With
        ``vectorized=False`` it takes one point, shape ``(d,)``, and returns a float;
        it is then called once per point. With ``pass_indices=True`` (a library only) it
        gets the library row numbers, shape ``(n,)`` (or one int), instead of the
        feature vectors: handy when the values are a lookup table.
    space : Box, CandidateLibrary, list of (low, high) pairs or numpy.ndarray
        A list of pairs is a box; an ``(n, d)`` numpy array is a candidate library
        (picked without replacement).
    *positional
        Refused: everything after ``space`` is keyword-only, so a call in the order
        ``minimize(f, space, batch_size, budget)`` raises a TypeError that says to write
        ``minimize(f, space, budget=..., batch_size=...)`` instead (two ints in a row are
        too easy to swap).
    budget : int
        Total number of evaluations, initial design included. Required, by keyword.
    batch_size : int, default=1
        Points per batch (96 for a well plate).
    acquisition : {"ei", "pi", "ucb", "thompson"}, default="ei"
        Expected improvement, probability of improvement, GP-UCB (β a fifth of
        :func:`ucb_beta` unless ``beta`` is given), or Thompson sampling.
    batch : {"kriging_believer", "local_penalization", "qei", "thompson"}, optional
        How a batch is built (default ``"kriging_believer"``; ``"thompson"`` with
        Thompson sampling). ``"qei"`` is Monte-Carlo q-EI and needs ``acquisition="ei"``.
    initial : int or array-like, optional
        Size of the initial design (Sobol on a box, random candidates in a library), or
        the points themselves. Default: one batch, at least ``min(2 d + 2, 20)``.
    surrogate : "sklearn", "botorch" or GPSurrogate, default="sklearn"
        ``"botorch"`` fits the GP hyperparameters with BoTorch (``pip install
        botorch``).
    vectorized : bool, default=True
        Whether ``f`` takes a batch (True) or one point (False).
    pass_indices : bool, default=False
        Give ``f`` library row numbers instead of feature vectors.
    xi, beta, n_candidates, n_restarts, n_samples
        See :class:`BayesianOptimizer`.
    random_state : int, Generator or None

    Returns
    -------
    BayesOptResult
        The history (``X``, ``y``, ``batch``, library ``index``), ``best_x``,
        ``best_y``, and :meth:`~BayesOptResult.simple_regret` for a known optimum.

    Examples
    --------
    >>> from activelab.bayesopt import BRANIN
    >>> result = minimize(BRANIN, BRANIN.bounds, budget=16, batch_size=4, random_state=0)
    >>> result.n_evaluations, int(result.batch.max())
    (16, 3)
    >>> bool(result.best_y < 3.0)
    True
    """
    _refuse_positional(
        "minimize() takes only f and space",
        positional,
        "budget= and batch_size=",
        "minimize(f, space, budget=480, batch_size=96)",
    )
    if budget is None:
        raise TypeError(
            "minimize() needs budget=, the total number of evaluations (initial design "
            "included), e.g. minimize(f, space, budget=480, batch_size=96)."
        )
    optimizer = BayesianOptimizer(
        space,
        batch_size=batch_size,
        acquisition=acquisition,
        batch=batch,
        surrogate=surrogate,
        initial=initial,
        xi=xi,
        beta=beta,
        n_candidates=n_candidates,
        n_restarts=n_restarts,
        n_samples=n_samples,
        random_state=random_state,
    )
    budget = check_count(budget, "budget", 1)
    library = isinstance(optimizer.space, CandidateLibrary)
    if budget < optimizer.n_initial:
        raise ValueError(
            f"budget={budget} is smaller than the initial design ({optimizer.n_initial} "
            "points); raise the budget or pass a smaller initial=."
        )
    if library and budget > optimizer.space.size:
        raise ValueError(
            f"budget={budget} is larger than the candidate library ({optimizer.space.size} "
            "candidates, each evaluated at most once); lower the budget."
        )
    if pass_indices and not library:
        raise ValueError("pass_indices=True needs a candidate library; the space is a box.")
    spent = 0
    while spent < budget:
        X = optimizer.ask()
        indices = optimizer.last_indices_
        if X.shape[0] > budget - spent:
            X = X[: budget - spent]
            indices = None if indices is None else indices[: budget - spent]
        values = _call_objective(f, X, indices if pass_indices else None, vectorized)
        check_values(values, X, optimizer._n_tells)
        optimizer.tell(X, values)
        spent += X.shape[0]
    return optimizer.result()
