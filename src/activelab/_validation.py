"""Input validation shared by every public function.

Validation lives here, called once at the public edge, never inside the maths. The row
checks on probability arrays (finite, non-negative, summing to one) are fused into the
score kernels of :mod:`activelab._kernels`, so this module only turns a kernel's
``(bad_row, problem)`` report into a message that says what was wrong and what to do.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from activelab import _kernels

RandomStateLike = int | np.random.Generator | np.random.RandomState | None

#: Tolerance on ``|sum(row) - 1|``; loose enough for float32 softmax output.
ROW_SUM_TOLERANCE = 1e-4

# Problem codes returned by the kernels (0 = fine).
PROBLEM_NONFINITE = 1
PROBLEM_NEGATIVE = 2
PROBLEM_ROW_SUM = 3


def check_random_state(random_state: RandomStateLike) -> np.random.Generator:
    """Turn ``random_state`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    random_state : int, numpy.random.Generator, numpy.random.RandomState or None
        An int seeds a new generator; a Generator is used as is (and advanced); a legacy
        RandomState seeds a new Generator from its stream; None gives fresh entropy.

    Returns
    -------
    numpy.random.Generator

    Examples
    --------
    >>> bool(check_random_state(0).integers(10) == check_random_state(0).integers(10))
    True
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int; got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state must be an int, a numpy.random.Generator or None; "
        f"got {type(random_state).__name__}."
    )


def as_float_array(values: Any, *, name: str, ndim: int, what: str) -> np.ndarray:
    """Return ``values`` as a float32/float64 array of ``ndim`` dimensions.

    Float32 input stays float32 (the kernels run on it directly); other numeric input
    becomes float64. Raises a ValueError that names ``what`` the array should be.
    """
    array = np.asarray(values)
    if (
        array.dtype == object
        or np.issubdtype(array.dtype, np.complexfloating)
        or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_)
    ):
        raise ValueError(f"{name} needs {what}; got an array of dtype {array.dtype}.")
    if array.ndim != ndim:
        hint = ""
        if ndim == 2 and array.ndim == 1:
            hint = " — did you pass predict() output instead of predict_proba()?"
        if ndim == 3 and array.ndim == 2:
            hint = (
                " — did you pass one model's predict_proba()? Stack the committee members "
                "or posterior draws on a first axis: np.stack([m.predict_proba(X) for m in "
                "members])"
            )
        raise ValueError(f"{name} needs {what}; got shape {array.shape}{hint}.")
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if array.size == 0:
        raise ValueError(f"{name} needs {what}; got an empty array of shape {array.shape}.")
    if array.shape[-1] < 2:
        raise ValueError(
            f"{name} needs {what} with at least 2 classes; got {array.shape[-1]} column. "
            "A model fitted on one class cannot rank by uncertainty: label examples of "
            "another class first."
        )
    return array


def raise_row_problem(
    name: str, bad_row: int, problem: int, rows: np.ndarray, n_pool: int | None = None
) -> None:
    """Raise the ValueError for the first bad probability row a kernel reported.

    ``rows`` is the 2-D ``(rows, C)`` array the kernel checked. For posterior samples pass
    the ``(m*n, C)`` view and ``n_pool=n``: the message then names the member and the row.
    """
    if problem == 0:
        return
    values = rows[bad_row]
    if n_pool is None:
        where = f"row {bad_row}"
    else:
        where = f"member {bad_row // n_pool}, row {bad_row % n_pool}"
    if problem == PROBLEM_NONFINITE:
        what = "contains NaN or inf"
        todo = "check the model's output; a diverged model or missing features give NaN"
    elif problem == PROBLEM_NEGATIVE:
        what = "has a negative probability"
        todo = "pass probabilities (predict_proba or softmax), not logits or decision scores"
    else:
        what = f"sums to {float(values.sum()):.6g}, not 1"
        todo = "pass probabilities (predict_proba or softmax), not logits or scores"
    raise ValueError(f"{name}: {where} {what}: {np.array2string(values, precision=4)}; {todo}.")


def check_k(k: Any, n_pool: int) -> int:
    """Check a batch size against the pool size and return it as an int."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an int; got {type(k).__name__} {k!r}.")
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}.")
    if k > n_pool:
        raise ValueError(
            f"k={k} is larger than the pool ({n_pool} items); ask for at most {n_pool}, "
            "or add unlabeled items to the pool."
        )
    return k


def check_int(value: Any, name: str, who: str, minimum: int) -> int:
    """Return a strategy parameter as an int of at least ``minimum``, or raise a ValueError.

    Parameters
    ----------
    value : Any
    name, who : str
        The parameter and its owner, for the message.
    minimum : int

    Returns
    -------
    int

    Examples
    --------
    >>> check_int(3, "n_neighbors", "typiclust", 1)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{who}: {name} must be an int of at least {minimum}; got {value!r}.")
    return int(value)


def check_number(
    value: Any, name: str, who: str, low: float, high: float = np.inf, *, open_low: bool = False
) -> float:
    """Return a strategy parameter as a finite float in ``[low, high]``, or raise a ValueError.

    Parameters
    ----------
    value : Any
    name, who : str
        The parameter and its owner, for the message.
    low, high : float
        Bounds; ``high`` is inclusive.
    open_low : bool, default=False
        Exclude ``low`` itself.

    Returns
    -------
    float

    Examples
    --------
    >>> check_number(0.5, "tol", "kmeans", 0.0)
    0.5
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        if low == 0 and not np.isfinite(high):
            expected = "a positive number" if open_low else "a non-negative number"
        else:
            expected = f"a finite number {'>' if open_low else '>='} {low}"
            if np.isfinite(high):
                expected += f" and <= {high}"
        raise ValueError(f"{who}: {name} must be {expected}; got {value!r}.")
    return float(value)


def check_probabilities(proba: Any, name: str) -> np.ndarray:
    """``predict_proba`` output as a validated float64 ``(n, C)`` array, or a ValueError.

    Parameters
    ----------
    proba : array-like of shape (n, C)
    name : str
        The caller, for messages.

    Returns
    -------
    numpy.ndarray of shape (n, C), float64
    """
    array = as_float_array(proba, name=name, ndim=2, what="probabilities of shape (n, C)")
    array = array.astype(np.float64, copy=False)
    bad_row, problem = _kernels.check_rows(array)
    raise_row_problem(name, bad_row, problem, array)
    return array


def check_scores(scores: Any, *, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a finite 1-D float64 array, or raise a ValueError."""
    array = np.asarray(scores)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one utility per pool item); got {array.shape}.")
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real numbers; got dtype {array.dtype}.")
    array = array.astype(np.float64, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{name}[{bad}] is {array[bad]}; utilities must be finite. Check the model "
            "output that produced them."
        )
    return array


def n_rows(X: Any) -> int:
    """Number of rows of an array, sparse matrix, DataFrame or list of texts."""
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) >= 1:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        raise TypeError(
            f"X must be an array, a sparse matrix, a DataFrame or a list; got {type(X).__name__}."
        ) from None


def check_labels(y: Any, n: int, *, name: str = "y") -> np.ndarray:
    """Return labels as a 1-D array of length ``n`` (ints or strings), or raise."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row); got shape {labels.shape}.")
    if labels.shape[0] != n:
        raise ValueError(f"{name} has {labels.shape[0]} labels for {n} rows of X.")
    if labels.dtype.kind == "f" and np.isnan(labels).any():
        bad = int(np.flatnonzero(np.isnan(labels))[0])
        raise ValueError(f"{name}[{bad}] is NaN; every labeled row needs a label.")
    return labels
