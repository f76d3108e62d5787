"""Data: the nuclei image, digit scenes and shape scenes."""

from __future__ import annotations

import numpy as np
import pytest

import activelab.vision as V


def test_nuclei_image_and_halves(nuclei):
    image, mask = nuclei.images[0], nuclei.masks[0]
    assert image.shape == mask.shape == (512, 512)
    assert 0.0 == image.min() and image.max() == 1.0
    assert set(np.unique(mask)) == {0, 1} and 0.1 < mask.mean() < 0.3
    left, right = V.load_nuclei("left"), V.load_nuclei("right")
    np.testing.assert_array_equal(np.hstack([left.masks[0], right.masks[0]]), mask)
    with pytest.raises(ValueError, match="split"):
        V.load_nuclei("top")


def test_digits_scenes_classes_follow_the_ink():
    scenes = V.digits_scenes(
        n_images=4, size=40, n_digits=3, digits=(3, 7), scale=2, noise=0.0, random_state=1
    )
    assert scenes.n_classes == 3 and scenes.class_names == ["background", "digit 3", "digit 7"]
    for image, mask in zip(scenes.images, scenes.masks, strict=True):
        np.testing.assert_array_equal(mask > 0, image > 0.25)
    again = V.digits_scenes(
        n_images=4, size=40, n_digits=3, digits=(3, 7), scale=2, noise=0.0, random_state=1
    )
    np.testing.assert_array_equal(again.masks[2], scenes.masks[2])
    with pytest.raises(ValueError, match="distinct"):
        V.digits_scenes(digits=(1, 1))


def test_shape_scenes_boxes_enclose_dark_pixels():
    scenes = V.shape_scenes(5, size=48, random_state=0)
    for image, boxes, labels in zip(scenes.images, scenes.boxes, scenes.labels, strict=True):
        assert len(boxes) == len(labels) >= 1
        dark = image < 1.0
        inside = np.zeros_like(dark)
        for x0, y0, x1, y1 in boxes.astype(int):
            assert dark[y0:y1, x0:x1].any()
            inside[y0:y1, x0:x1] = True
        assert not (dark & ~inside).any()
