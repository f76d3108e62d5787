"""Tests of activelab.datasets: the data sets scikit-learn ships, by name."""

from __future__ import annotations

import numpy as np
import pytest

from activelab import datasets


def test_available_lists_the_bundled_sets() -> None:
    assert datasets.available() == ["breast_cancer", "digits", "iris", "wine"]


@pytest.mark.parametrize("name", datasets.available())
def test_load_gives_matching_features_and_labels(name: str) -> None:
    X, y = datasets.load(name)
    assert X.ndim == 2
    assert y.ndim == 1
    assert X.shape[0] == y.shape[0] > 0
    assert X.dtype == np.float64
    assert np.issubdtype(y.dtype, np.integer)
    assert np.unique(y).shape[0] >= 2
    assert np.isfinite(X).all()


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown data set 'mnist'") as error:
        datasets.load("mnist")
    for name in datasets.available():
        assert name in str(error.value)
