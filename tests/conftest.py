"""Shared fixtures: small, fast data sets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris


@pytest.fixture(scope="session")
def iris() -> tuple[np.ndarray, np.ndarray]:
    """Iris features and integer labels."""
    X, y = load_iris(return_X_y=True)
    return X, y
