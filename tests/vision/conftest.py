"""Small scenes shared by the vision tests."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

pytest.importorskip("skimage", reason="activelab.vision needs scikit-image (extra 'vision')")

import activelab.vision as V


@pytest.fixture(scope="session")
def scenes() -> V.SegmentationSet:
    """Eight 32×32 digit scenes, three classes (background, 0, 1)."""
    return V.digits_scenes(n_images=8, size=32, n_digits=2, digits=(0, 1), random_state=0)


@pytest.fixture(scope="session")
def nuclei() -> V.SegmentationSet:
    """The stardist nuclei image; skipped when the stardist wheel is absent."""
    if importlib.util.find_spec("stardist") is None or importlib.util.find_spec("tifffile") is None:
        pytest.skip(
            "the nuclei image ships in the stardist wheel: pip install --no-deps stardist tifffile"
        )
    return V.load_nuclei()


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator."""
    return np.random.default_rng(0)
