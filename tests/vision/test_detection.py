"""Detection acquisition: box IoU, entropy, localisation stability, and what it prefers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import activelab.vision as V

PROTOTYPE_EXTENT = np.array(
    [1.0, np.pi / 4, 0.5, np.pi / 4]
)  # rectangle, circle, triangle, ellipse


def threshold_detector(image: np.ndarray) -> dict:
    """Dark connected components as boxes; class from how much of its box a component fills."""
    from skimage.measure import label, regionprops

    boxes, scores, proba = [], [], []
    for prop in regionprops(label(image < 0.5, connectivity=1)):
        if prop.area < 20:
            continue
        r0, c0, r1, c1 = prop.bbox
        logits = -20 * np.abs(prop.extent - PROTOTYPE_EXTENT)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        boxes.append([c0, r0, c1, r1])
        scores.append(p.max())
        proba.append(p)
    return {
        "boxes": np.array(boxes).reshape(-1, 4),
        "scores": np.array(scores),
        "proba": np.array(proba).reshape(-1, 4),
    }


def box_error(found: V.Detections, truth: np.ndarray) -> float:
    """1 - mean over true boxes of the best IoU with a detected box."""
    if len(found) == 0:
        return 1.0
    return float(1 - V.box_iou(truth, found.boxes).max(axis=1).mean())


@pytest.fixture(scope="module")
def mixed_scenes():
    """Ten scenes of dark shapes (easy), ten of shapes just under the threshold (hard).

    In the hard scenes about 60 % of a shape's noisy pixels fall under the threshold: its
    4-connected components fragment, so the detector's boxes are wrong and unstable.
    """
    rng = np.random.default_rng(0)
    easy = V.shape_scenes(10, size=64, intensity_range=(0, 60), random_state=1)
    hard = V.shape_scenes(10, size=64, intensity_range=(116, 124), random_state=2)
    images = [im + rng.normal(0, 0.1, im.shape) for im in easy.images + hard.images]
    return images, easy.boxes + hard.boxes, np.array([0] * 10 + [1] * 10)


def test_detection_acquisition_prefers_images_the_detector_gets_wrong(mixed_scenes):
    images, truth, hard = mixed_scenes
    adapter = V.DetectorAdapter(threshold_detector, n_classes=4, random_state=0)
    errors = np.array(
        [box_error(adapter.detect(im), t) for im, t in zip(images, truth, strict=True)]
    )
    assert errors[hard == 1].mean() > errors[hard == 0].mean() + 0.1  # the premise
    scores = V.detection_scores(adapter, images, "stability", random_state=0)
    chosen = np.argsort(-scores)[:10]
    rest = np.argsort(-scores)[10:]
    assert errors[chosen].mean() > errors[rest].mean()
    assert hard[chosen].mean() >= 0.8


def test_entropy_scores_and_box_selection(mixed_scenes):
    images, _, _ = mixed_scenes
    adapter = V.DetectorAdapter(threshold_detector, n_classes=4)
    found = [adapter.detect(im) for im in images]
    for aggregate in ("sum", "mean", "max"):
        expected = [V.image_entropy(f, aggregate) for f in found]
        np.testing.assert_allclose(
            V.detection_scores(adapter, images, "entropy", aggregate), expected
        )
    pairs = V.select_boxes(found, 5, "entropy", random_state=0)
    all_entropy = np.concatenate([V.box_entropy(f) for f in found])
    chosen = [V.box_entropy(found[i])[j] for i, j in pairs]
    assert np.isclose(min(chosen), np.sort(all_entropy)[-5])
    rng = np.random.default_rng(0)
    perturbed = [adapter.detect_perturbed(im, rng) for im in images]
    pairs = V.select_boxes(found, 3, "stability", perturbed=perturbed, random_state=0)
    assert pairs.shape == (3, 2)
    with pytest.raises(ValueError, match="perturbed"):
        V.select_boxes(found, 3, "stability")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(1, 10), st.integers(1, 10)),
        min_size=1,
        max_size=5,
    )
)
def test_box_iou_matches_a_pixel_count(raw):
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in raw], dtype=float)
    iou = V.box_iou(boxes, boxes[::-1])
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[::-1]):
            ma = np.zeros((32, 32), bool)
            mb = np.zeros((32, 32), bool)
            ma[int(a[1]) : int(a[3]), int(a[0]) : int(a[2])] = True
            mb[int(b[1]) : int(b[3]), int(b[0]) : int(b[2])] = True
            assert iou[i, j] == pytest.approx((ma & mb).sum() / (ma | mb).sum())


def test_localization_stability_follows_kao():
    ref = V.Detections(
        np.array([[0, 0, 4, 4], [10, 10, 12, 12.0]]),
        np.array([0.9, 0.6]),
        np.array([[0.9, 0.1], [0.6, 0.4]]),
    )
    shifted = V.Detections(np.array([[2, 0, 6, 4.0]]), np.ones(1), np.array([[1.0, 0.0]]))
    empty = V.Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 2)))
    boxes, image = V.localization_stability(ref, [ref, shifted, empty])
    np.testing.assert_allclose(boxes, [(1 + 1 / 3 + 0) / 3, 1 / 3])
    assert image == pytest.approx((0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5)
    assert V.localization_stability(empty, [ref]) == (pytest.approx(np.zeros(0)), 1.0)
    with pytest.raises(ValueError, match="at least one"):
        V.localization_stability(ref, [])


def test_adapter_reads_mappings_and_rejects_bad_output():
    adapter = V.DetectorAdapter(
        lambda im: {"boxes": [[0, 0, 2, 2]], "scores": [0.7], "labels": [2]}, n_classes=3
    )
    found = adapter.detect(np.zeros((4, 4)))
    np.testing.assert_allclose(found.proba, [[0.15, 0.15, 0.7]])
    assert found.labels.tolist() == [2]
    with pytest.raises(TypeError, match="mapping"):
        V.DetectorAdapter(lambda im: [1, 2], n_classes=2).detect(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="x1 >= x0"):
        V.Detections.from_output({"boxes": [[3, 0, 1, 1]], "scores": [1], "proba": [[1, 0]]}, 2)
    with pytest.raises(ValueError, match="measure"):
        V.detection_scores(adapter, [np.zeros((4, 4))], "nope")


def test_an_image_without_boxes_scores_zero():
    adapter = V.DetectorAdapter(threshold_detector, n_classes=4, random_state=0)
    blank = np.ones((16, 16))
    assert len(adapter.detect(blank)) == 0
    assert V.detection_scores(adapter, [blank], "entropy")[0] == 0.0
    assert V.detection_scores(adapter, [blank], "stability")[0] == 0.0
    # LS+C = U_C - weight * S_I with U_C = 0 and S_I = 1 when there is no box
    assert V.detection_scores(adapter, [blank], "stability_uncertainty", weight=2)[0] == -2.0


def test_stability_uncertainty_is_kao_ls_plus_c(mixed_scenes):
    images, _, _ = mixed_scenes
    adapter = V.DetectorAdapter(threshold_detector, n_classes=4)
    scores = V.detection_scores(
        adapter, images[8:12], "stability_uncertainty", weight=0.5, random_state=3
    )
    rng = np.random.default_rng(3)
    for image, score in zip(images[8:12], scores, strict=True):
        reference = adapter.detect(image)
        _, stability = V.localization_stability(reference, adapter.detect_perturbed(image, rng))
        least = (1 - reference.proba.max(axis=1)).max() if len(reference) else 0.0
        assert score == pytest.approx(least - 0.5 * stability)
