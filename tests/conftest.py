"""Shared fixtures: small, fast data sets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris
from threadpoolctl import threadpool_limits

# Many small fits: BLAS threads would only fight each other (and the test's own threads).
threadpool_limits(1)


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    """Iris features and integer labels."""
    X, y = load_iris(return_X_y=True)
    return X, y
