"""Small classification data sets that ship with scikit-learn, by name.

Nothing is downloaded: every data set here is bundled with scikit-learn.

>>> from activelab import datasets
>>> datasets.available()
['breast_cancer', 'digits', 'iris', 'wine']
>>> X, y = datasets.load("iris")
>>> X.shape, y.shape
((150, 4), (150,))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["available", "load"]


def _loaders() -> dict[str, Callable[..., Any]]:
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

    return {
        "breast_cancer": load_breast_cancer,
        "digits": load_digits,
        "iris": load_iris,
        "wine": load_wine,
    }


def available() -> list[str]:
    """Names of the data sets :func:`load` knows, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> "digits" in available()
    True
    """
    return sorted(_loaders())


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and integer labels of a data set bundled with scikit-learn.

    Parameters
    ----------
    name : str
        One of :func:`available`: ``"breast_cancer"``, ``"digits"``, ``"iris"``,
        ``"wine"``.

    Returns
    -------
    X : numpy.ndarray of shape (n, d), float64
    y : numpy.ndarray of shape (n,), int64

    Raises
    ------
    ValueError
        When ``name`` is not one of :func:`available`.

    Examples
    --------
    >>> X, y = load("wine")
    >>> X.shape[0] == y.shape[0]
    True
    """
    loaders = _loaders()
    if name not in loaders:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(sorted(loaders))} "
            "(the data sets scikit-learn ships)."
        )
    X, y = loaders[name](return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
