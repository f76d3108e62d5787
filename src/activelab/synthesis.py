"""Membership query synthesis: the learner makes up the points it asks an automated oracle.

There is no pool: the oracle is a function ``f(x) -> label`` (a simulator, a feasibility
check, a lab robot) defined on a box of the input space, and the learner may ask about
any point of the box. :func:`learn` starts from a small Latin hypercube design and then
synthesises one query at a time with one of:

``"bisection"``
    Boundary search. Random points of the box are classified by the current model;
    segments join points of different predicted class, and bisection on the model's
    prediction (no oracle calls) walks each segment down to the model's decision
    boundary (:func:`boundary_points`). The oracle is asked about the boundary point
    farthest from everything labelled so far, which spreads the queries along the
    boundary.
``"optimize"``
    Input-space optimisation of an uncertainty score (entropy by default) of the model's
    probabilities under the box constraints: L-BFGS-B from several starts, the most
    uncertain of a random candidate set (:func:`maximize_uncertainty`).
``"random"``
    Uniform random points: the passive baseline.

Queries near the current decision boundary are where a label changes the model most, so
the synthesising methods need far fewer oracle calls than a random or grid design to
map a region (see ``benchmarks/bench_synthesis.py``).

>>> import numpy as np
>>> from sklearn.svm import SVC
>>> def inside_disc(x):
...     return int(x[0] ** 2 + x[1] ** 2 < 0.5)
>>> result = learn(inside_disc, [(-1, 1), (-1, 1)], SVC(C=100.0), budget=30,
...                method="bisection", random_state=0)
>>> result.n_calls, result.model.predict([[0.0, 0.0], [0.9, 0.9]]).tolist()
(30, [1, 0])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from activelab._validation import RandomStateLike, check_int, check_number, check_random_state
from activelab.scores import uncertainty as _uncertainty

__all__ = [
    "METHODS",
    "SynthesisResult",
    "boundary_points",
    "check_bounds",
    "learn",
    "maximize_uncertainty",
    "probabilities",
]

#: The query synthesis methods of :func:`learn`.
METHODS = ("bisection", "optimize", "random")


@dataclass
class SynthesisResult:
    """What :func:`learn` returns.

    Attributes
    ----------
    model : fitted estimator
        Fitted on every point asked.
    X : numpy.ndarray of shape (n_calls, d)
        The points asked, in order.
    y : numpy.ndarray of shape (n_calls,)
        The oracle's answers.
    method : str
    origin : list of str
        How each point was made: ``"initial"`` (the design), ``"explore"`` (random, while
        the model saw or predicted one class) or the method's name.
    n_evaluated : list of int
        Oracle calls at each evaluation on the test set (when one was given).
    accuracy : list of float
        Test accuracy of the model at those calls.
    """

    model: Any
    X: np.ndarray
    y: np.ndarray
    method: str
    origin: list[str] = field(default_factory=list)
    n_evaluated: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    @property
    def n_calls(self) -> int:
        """Oracle calls made."""
        return int(self.X.shape[0])

    def calls_to_reach(self, target: float) -> int | None:
        """Oracle calls after which the test accuracy first reached ``target``.

        Parameters
        ----------
        target : float

        Returns
        -------
        int or None
            None when it never did (or no test set was given).
        """
        for calls, value in zip(self.n_evaluated, self.accuracy, strict=True):
            if value >= target:
                return calls
        return None


def check_bounds(bounds: Any) -> np.ndarray:
    """Box bounds as a float64 ``(d, 2)`` array of ``(low, high)`` rows, or a ValueError.

    Parameters
    ----------
    bounds : array-like of shape (d, 2)

    Returns
    -------
    numpy.ndarray of shape (d, 2)

    Examples
    --------
    >>> check_bounds([(0, 1), (-2, 2)]).tolist()
    [[0.0, 1.0], [-2.0, 2.0]]
    """
    box = np.asarray(bounds, dtype=np.float64)
    if box.ndim != 2 or box.shape[1] != 2 or box.shape[0] == 0:
        raise ValueError(
            f"bounds must be one (low, high) pair per input dimension, shape (d, 2); got "
            f"shape {box.shape}."
        )
    if not np.isfinite(box).all() or (box[:, 1] <= box[:, 0]).any():
        bad = int(np.flatnonzero(~np.isfinite(box).all(axis=1) | (box[:, 1] <= box[:, 0]))[0])
        raise ValueError(
            f"bounds[{bad}] = {box[bad].tolist()} is not a finite (low, high) pair with low < high."
        )
    return box


#: Finite-difference step of :func:`maximize_uncertainty`, in unit-cube coordinates.
_STEP = 1e-7


def _uniform(box: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return box[:, 0] + rng.random((n, box.shape[0])) * (box[:, 1] - box[:, 0])


def _latin_hypercube(box: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points, one in each of ``n`` equal slices of every axis (McKay et al. 1979)."""
    d = box.shape[0]
    slots = np.argsort(rng.random((n, d)), axis=0)
    unit = (slots + rng.random((n, d))) / n
    return box[:, 0] + unit * (box[:, 1] - box[:, 0])


def _nearest_distance(points: np.ndarray, others: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Distance of each point to its nearest other point, in box-scaled units."""
    if others.shape[0] == 0:
        return np.full(points.shape[0], np.inf)
    a, b = points / scale, others / scale
    squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def probabilities(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    r"""The model's ``predict_proba``, or probabilities made from its ``decision_function``.

    For a model without ``predict_proba`` (an SVC), decision values :math:`f` become
    :math:`\sigma(f)` for two classes and a softmax over the columns for more. They are
    not calibrated, but they are monotone in :math:`f`, so every uncertainty score is
    highest where the decision function changes sign: on the model's boundary.

    Parameters
    ----------
    model : classifier
        With ``predict_proba`` or ``decision_function``.

    Returns
    -------
    callable
        ``X -> (n, C)`` probabilities.

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> model = SVC().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    >>> probabilities(model)([[1.5]]).round(2).tolist()
    [[0.5, 0.5]]
    """
    if callable(getattr(model, "predict_proba", None)):
        return model.predict_proba
    decision = getattr(model, "decision_function", None)
    if not callable(decision):
        raise TypeError(
            f"method='optimize' maximises an uncertainty of the model's probabilities; "
            f"{type(model).__name__} has neither predict_proba nor decision_function. Use "
            "method='bisection', which needs only predict."
        )

    def from_decision(X: np.ndarray) -> np.ndarray:
        values = np.asarray(decision(X), dtype=np.float64)
        if values.ndim == 1:
            positive = 1.0 / (1.0 + np.exp(-values))
            return np.column_stack([1.0 - positive, positive])
        shifted = np.exp(values - values.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    return from_decision


def boundary_points(
    predict: Callable[[np.ndarray], np.ndarray],
    starts: Any,
    ends: Any,
    n_steps: int = 20,
) -> np.ndarray:
    r"""Bisect segments whose ends the model classifies differently, down to its boundary.

    For each segment :math:`[a, b]` with :math:`\hat y(a) \ne \hat y(b)`, ``n_steps``
    times: :math:`m = (a + b)/2`; if :math:`\hat y(m) = \hat y(a)` then :math:`a \leftarrow
    m`, else :math:`b \leftarrow m`. The segment keeps ends of different predicted class
    and halves in length each step, so its midpoint ends within :math:`2^{-n-1} \lVert b -
    a \rVert` of a point where the prediction changes. All segments move together: one
    ``predict`` call per step.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> labels`` for rows of X.
    starts, ends : array-like of shape (m, d)
        Segment ends, of different predicted class (segments whose ends agree are
        returned unchanged as their midpoints).
    n_steps : int, default=20

    Returns
    -------
    numpy.ndarray of shape (m, d)
        The final midpoints.

    References
    ----------
    Wang, Hu, Yuan & Lu (2015), "Active learning via query synthesis and nearest neighbour
    search", Neurocomputing 147:426–434 (bisection between opposite-class points).

    Examples
    --------
    >>> predict = lambda X: (X[:, 0] > 0.3).astype(int)
    >>> boundary_points(predict, [[0.0, 0.0]], [[1.0, 0.0]], n_steps=30).round(6).tolist()
    [[0.3, 0.0]]
    """
    low = np.array(starts, dtype=np.float64)
    high = np.array(ends, dtype=np.float64)
    if low.shape != high.shape or low.ndim != 2:
        raise ValueError(
            f"boundary_points needs starts and ends of the same shape (m, d); got "
            f"{low.shape} and {high.shape}."
        )
    n_steps = check_int(n_steps, "n_steps", "boundary_points", 0)
    start_class = np.asarray(predict(low))
    for _ in range(n_steps):
        middle = (low + high) / 2.0
        same = np.asarray(predict(middle)) == start_class
        low[same] = middle[same]
        high[~same] = middle[~same]
    return (low + high) / 2.0


def maximize_uncertainty(
    predict_proba: Callable[[np.ndarray], np.ndarray],
    bounds: Any,
    *,
    uncertainty: str = "entropy",
    n_candidates: int = 512,
    n_restarts: int = 5,
    maxiter: int = 50,
    X_labeled: Any = None,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    r"""The most uncertain point of a box, by multi-start L-BFGS-B on an uncertainty score.

    Maximises :math:`u(p(\cdot \mid x))` over :math:`x` in the box, :math:`u` one of
    :data:`activelab.scores.UNCERTAINTY`: entropy :math:`-\sum_c p_c \log p_c` by default,
    highest on the decision boundary and smooth there, so L-BFGS-B converges in a few
    steps (margin and least confidence peak in a kink where the top class changes, which
    stalls its line searches: about ten times more model calls for the same point).

    The starts are the ``n_restarts`` highest-scoring of ``n_candidates`` uniform random
    points; each is polished by L-BFGS-B with the box as bounds, in coordinates scaled to
    the unit cube, with forward-difference gradients (the point and its ``d`` neighbours
    scored in one model call). Of the polished points the best score wins; near-ties
    (within 1e-6) go to the point farthest from ``X_labeled``, so the queries spread
    along the boundary instead of piling up.

    Parameters
    ----------
    predict_proba : callable
        ``predict_proba(X) -> (n, C)``.
    bounds : array-like of shape (d, 2)
    uncertainty : str, default="entropy"
    n_candidates : int, default=512
    n_restarts : int, default=5
    maxiter : int, default=50
        Iterations of each L-BFGS-B run.
    X_labeled : array-like of shape (m, d), optional
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (d,)

    References
    ----------
    Angluin (1988), "Queries and concept learning", Machine Learning 2:319–342 (membership
    queries); Settles (2009), "Active Learning Literature Survey", §2.1 (query synthesis).
    Byrd, Lu, Nocedal & Zhu (1995), "A limited memory algorithm for bound constrained
    optimization", SIAM J. Sci. Comput. 16(5) (L-BFGS-B).

    Examples
    --------
    >>> def proba(X):
    ...     p = 1.0 / (1.0 + np.exp(-8.0 * (X[:, 0] - 0.25)))
    ...     return np.column_stack([1.0 - p, p])
    >>> x = maximize_uncertainty(proba, [(0, 1), (0, 1)], random_state=0)
    >>> round(float(x[0]), 3)
    0.25
    """
    from scipy.optimize import minimize

    box = check_bounds(bounds)
    score = _uncertainty(uncertainty, "maximize_uncertainty")
    n_candidates = check_int(n_candidates, "n_candidates", "maximize_uncertainty", 1)
    n_restarts = check_int(n_restarts, "n_restarts", "maximize_uncertainty", 1)
    maxiter = check_int(maxiter, "maxiter", "maximize_uncertainty", 1)
    rng = check_random_state(random_state)
    low, width = box[:, 0], box[:, 1] - box[:, 0]

    def utility(unit: np.ndarray) -> np.ndarray:
        proba = np.asarray(predict_proba(low + np.atleast_2d(unit) * width), dtype=np.float64)
        return score(proba)

    d = box.shape[0]
    steps = np.eye(d) * _STEP

    def negative_utility_and_gradient(unit: np.ndarray) -> tuple[float, np.ndarray]:
        # the point and its d finite-difference neighbours in one model call (backward
        # steps at the upper bound keep them in the box)
        direction = np.where(unit + _STEP <= 1.0, 1.0, -1.0)
        values = utility(np.vstack([unit, unit + steps * direction[:, None]]))
        gradient = (values[1:] - values[0]) / (_STEP * direction)
        return -float(values[0]), -gradient

    candidates = rng.random((n_candidates, d))
    values = utility(candidates)
    order = np.lexsort((rng.random(n_candidates), -values))  # best first, ties at random
    polished, scores = [], []
    for start in candidates[order[: min(n_restarts, n_candidates)]]:
        found = minimize(
            negative_utility_and_gradient,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * d,
            options={"maxiter": maxiter},
        )
        point = np.clip(found.x, 0.0, 1.0)
        polished.append(point)
        scores.append(float(utility(point)[0]))
    points = low + np.asarray(polished) * width
    best = np.asarray(scores)
    contenders = np.flatnonzero(best >= best.max() - 1e-6)
    if X_labeled is not None and contenders.size > 1:
        labeled = np.asarray(X_labeled, dtype=np.float64).reshape(-1, box.shape[0])
        spread = _nearest_distance(points[contenders], labeled, width)
        return points[contenders[int(np.argmax(spread))]]
    return points[contenders[0]]


def _bisection_query(
    model: Any,
    box: np.ndarray,
    X_labeled: np.ndarray,
    n_candidates: int,
    n_segments: int,
    n_steps: int,
    rng: np.random.Generator,
) -> np.ndarray | None:
    """The boundary point farthest from the labelled set, or None when no boundary shows."""
    width = box[:, 1] - box[:, 0]
    candidates = _uniform(box, n_candidates, rng)
    predicted = np.asarray(model.predict(candidates))
    if np.unique(predicted).size < 2:
        return None
    anchors = rng.choice(n_candidates, size=min(n_segments, n_candidates), replace=False)
    scaled = candidates / width
    squared = (
        (scaled[anchors] ** 2).sum(1)[:, None]
        + (scaled**2).sum(1)[None, :]
        - 2.0 * scaled[anchors] @ scaled.T
    )
    squared[predicted[anchors][:, None] == predicted[None, :]] = np.inf
    partners = np.argmin(squared, axis=1)
    found = np.isfinite(squared[np.arange(anchors.size), partners])
    if not found.any():
        return None
    points = boundary_points(
        model.predict, candidates[anchors[found]], candidates[partners[found]], n_steps
    )
    spread = _nearest_distance(points, X_labeled, width)
    return points[int(np.argmax(spread))]


def learn(
    oracle: Callable[[np.ndarray], Any],
    bounds: Any,
    model: Any,
    budget: int,
    method: str = "bisection",
    *,
    n_initial: int | None = None,
    X_test: Any = None,
    y_test: Any = None,
    eval_every: int = 1,
    stop_at: float | None = None,
    uncertainty: str = "entropy",
    n_candidates: int = 512,
    n_segments: int = 16,
    n_steps: int = 20,
    n_restarts: int = 5,
    random_state: RandomStateLike = None,
) -> SynthesisResult:
    """Learn a classifier from an automated oracle, synthesising each query.

    Asks the oracle about a Latin hypercube of ``n_initial`` points, then about one
    synthesised point at a time (see the module docstring for the methods), refitting
    the model after each answer, until ``budget`` oracle calls (or ``stop_at`` test
    accuracy). While the answers hold one class, or the model predicts one class all
    over the box, the next point is uniform random (``"explore"``).

    Parameters
    ----------
    oracle : callable
        ``oracle(x) -> label`` for one point ``x`` of shape (d,).
    bounds : array-like of shape (d, 2)
        ``(low, high)`` per input dimension.
    model : classifier
        With ``fit`` and ``predict`` (and ``predict_proba`` or ``decision_function`` for
        ``"optimize"``, see :func:`probabilities`); copied, never modified.
    budget : int
        Oracle calls, the initial design included.
    method : {"bisection", "optimize", "random"}, default="bisection"
    n_initial : int, optional
        Size of the initial design; default ``max(4, 2 d)`` (``budget`` at most). The
        ``"random"`` method draws every point uniformly.
    X_test, y_test : array-like, optional
        Scored after every ``eval_every`` calls (and at the end).
    eval_every : int, default=1
    stop_at : float, optional
        Stop as soon as the test accuracy reaches this.
    uncertainty : str, default="entropy"
        Score of ``"optimize"``: one of :data:`activelab.scores.UNCERTAINTY`.
    n_candidates : int, default=512
        Random points per query, among which segments (``"bisection"``) or starts
        (``"optimize"``) are chosen.
    n_segments : int, default=16
        Segments bisected per query (``"bisection"``).
    n_steps : int, default=20
        Bisection steps per segment.
    n_restarts : int, default=5
        L-BFGS-B starts per query (``"optimize"``).
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    SynthesisResult

    References
    ----------
    Angluin (1988), "Queries and concept learning", Machine Learning 2:319–342.
    Wang, Hu, Yuan & Lu (2015), "Active learning via query synthesis and nearest neighbour
    search", Neurocomputing 147:426–434.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    if not callable(oracle):
        raise TypeError(f"oracle must be a function f(x) -> label; got {type(oracle).__name__}.")
    box = check_bounds(bounds)
    budget = check_int(budget, "budget", "learn", 1)
    d = box.shape[0]
    n_initial = min(budget, max(4, 2 * d) if n_initial is None else n_initial)
    n_initial = check_int(n_initial, "n_initial", "learn", 1)
    eval_every = check_int(eval_every, "eval_every", "learn", 1)
    if stop_at is not None:
        stop_at = check_number(stop_at, "stop_at", "learn", 0.0, 1.0)
    if method == "optimize":
        probabilities(model)  # fails early, with a message, when the model has neither
    test = None
    if X_test is not None:
        test = (np.asarray(X_test, dtype=np.float64), np.asarray(y_test))
        if test[0].ndim != 2 or test[0].shape[1] != d or test[1].shape[0] != test[0].shape[0]:
            raise ValueError(
                f"X_test must be (n, {d}) with one label per row in y_test; got "
                f"{test[0].shape} and {test[1].shape}."
            )
    rng = check_random_state(random_state)
    estimator = clone(model)
    result = SynthesisResult(model=estimator, X=np.empty((0, d)), y=np.empty(0), method=method)
    points: list[np.ndarray] = []
    labels: list[Any] = []
    fitted = False
    if method == "random":
        design = _uniform(box, n_initial, rng)
    else:
        design = _latin_hypercube(box, n_initial, rng)
    for n_call in range(budget):
        if n_call < n_initial:
            x, origin = design[n_call], "initial"
        elif not fitted or method == "random":
            x, origin = _uniform(box, 1, rng)[0], "explore" if method != "random" else "random"
        else:
            x, origin = _synthesise(
                estimator,
                method,
                box,
                np.asarray(points),
                uncertainty,
                n_candidates,
                n_segments,
                n_steps,
                n_restarts,
                rng,
            )
        points.append(np.asarray(x, dtype=np.float64))
        labels.append(_answer(oracle, points[-1]))
        result.origin.append(origin)
        if len(set(labels)) >= 2:
            estimator.fit(np.asarray(points), np.asarray(labels))
            fitted = True
        last = n_call == budget - 1
        if test is not None and fitted and ((n_call + 1) % eval_every == 0 or last):
            accuracy = float(np.mean(np.asarray(estimator.predict(test[0])) == test[1]))
            result.n_evaluated.append(n_call + 1)
            result.accuracy.append(accuracy)
            if stop_at is not None and accuracy >= stop_at:
                break
    if not fitted:
        raise RuntimeError(
            f"all {len(labels)} oracle answers were {labels[0]!r}: a classifier needs two "
            "classes. Raise the budget or n_initial, or narrow the bounds to where both "
            "answers occur."
        )
    result.X = np.asarray(points)
    result.y = np.asarray(labels)
    return result


def _answer(oracle: Callable[[np.ndarray], Any], x: np.ndarray) -> Any:
    label = oracle(x.copy())
    if isinstance(label, np.ndarray):
        if label.size != 1:
            raise ValueError(
                f"the oracle must return one label per point; got an array of shape {label.shape}."
            )
        label = label.reshape(-1)[0]
    if isinstance(label, np.generic):
        label = label.item()
    if label is None or (isinstance(label, float) and math.isnan(label)):
        raise ValueError(f"the oracle returned {label!r} for x = {x.tolist()}; it must label it.")
    return label


def _synthesise(
    estimator: Any,
    method: str,
    box: np.ndarray,
    X_labeled: np.ndarray,
    uncertainty: str,
    n_candidates: int,
    n_segments: int,
    n_steps: int,
    n_restarts: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, str]:
    if method == "bisection":
        point = _bisection_query(estimator, box, X_labeled, n_candidates, n_segments, n_steps, rng)
        if point is None:
            return _uniform(box, 1, rng)[0], "explore"
        return point, method
    point = maximize_uncertainty(
        probabilities(estimator),
        box,
        uncertainty=uncertainty,
        n_candidates=n_candidates,
        n_restarts=n_restarts,
        X_labeled=X_labeled,
        random_state=rng,
    )
    return point, method
