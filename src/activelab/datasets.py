"""Classification data sets by name: a thin front of :mod:`activelab.bench.datasets`.

:func:`available` lists the sets that load with activelab's core dependencies (those that
scikit-learn ships); :func:`load` also takes any name of the benchmark registry
(``activelab.bench.datasets.available()``), whose other sets come from optional packages.
Nothing is downloaded.

>>> from activelab import datasets
>>> datasets.available()
['breast_cancer', 'digits', 'iris', 'wine']
>>> X, y = datasets.load("iris")
>>> X.shape, y.shape
((150, 4), (150,))
"""

from __future__ import annotations

import numpy as np

__all__ = ["available", "load"]


def available() -> list[str]:
    """Names of the data sets that load with the core install (scikit-learn's), sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> "digits" in available()
    True
    """
    from activelab.bench import datasets as registry

    return [name for name in registry.available() if registry.get(name).package is None]


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and integer labels of a data set, unscaled and not split.

    Parameters
    ----------
    name : str
        One of :func:`available` (``"breast_cancer"``, ``"digits"``, ``"iris"``,
        ``"wine"``) or of ``activelab.bench.datasets.available()``.

    Returns
    -------
    X : numpy.ndarray of shape (n, d), float64
        String columns one-hot encoded.
    y : numpy.ndarray of shape (n,), int64

    Raises
    ------
    ValueError
        When ``name`` is not a registered data set.
    ImportError
        When the package that ships the data set is not installed.

    Examples
    --------
    >>> X, y = load("wine")
    >>> X.shape[0] == y.shape[0]
    True
    """
    from activelab.bench import datasets as registry

    return registry.load(name)
