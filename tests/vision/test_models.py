"""Segmentation models: the forest, the U-Net and the masked loss."""

from __future__ import annotations

import numpy as np
import pytest

import activelab.vision as V


def _sparse(mask: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = np.full(mask.shape, -1)
    keep = rng.random(mask.shape) < share
    labels[keep] = mask[keep]
    return labels


def test_pixel_forest_learns_from_labelled_pixels_only(scenes):
    sparse = [_sparse(m, 0.2, i) for i, m in enumerate(scenes.masks[:4])]
    model = V.PixelForest(scenes.n_classes, n_estimators=10, random_state=0).fit(
        scenes.images[:4], sparse
    )
    predicted = [V.predict_mask(model, im)[0] for im in scenes.images[4:]]
    assert V.mean_iou(scenes.masks[4:], predicted, scenes.n_classes) > 0.4
    # Changing the labels of unlabelled pixels (-1 -> anything hidden) changes nothing:
    # the forest only sees pixels with a label.
    again = V.PixelForest(scenes.n_classes, n_estimators=10, random_state=0).fit(
        scenes.images[:4], sparse
    )
    np.testing.assert_array_equal(
        model.predict_proba(scenes.images[5]), again.predict_proba(scenes.images[5])
    )


def test_pixel_forest_samples_average_to_its_probabilities(scenes):
    labels = _sparse(scenes.masks[0], 0.3)
    model = V.PixelForest(5, n_estimators=6, random_state=0).fit(scenes.images[:1], [labels])
    samples = model.sample_proba(scenes.images[1])
    proba = model.predict_proba(scenes.images[1])
    assert samples.shape == (6, *scenes.images[1].shape, 5)
    np.testing.assert_allclose(samples.mean(axis=0), proba, atol=1e-12)
    # classes never labelled get probability 0 in their own column
    np.testing.assert_allclose(proba[..., 3:], 0.0)
    np.testing.assert_allclose(proba.sum(-1), 1.0)


def test_pixel_features_are_cached_per_image(scenes):
    model = V.PixelForest(3)
    first = model.features(scenes.images[0])
    assert model.features(scenes.images[0].copy()) is first
    assert model.features(scenes.images[1]) is not first


def test_model_errors(scenes):
    model = V.PixelForest(3)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict_proba(scenes.images[0])
    with pytest.raises(ValueError, match="no labelled pixel"):
        model.fit(scenes.images[:1], [np.full(scenes.images[0].shape, -1)])
    with pytest.raises(ValueError, match="as many label maps"):
        model.fit(scenes.images[:2], scenes.masks[:1])
    with pytest.raises(ValueError, match="n_classes"):
        model.fit(scenes.images[:1], [scenes.masks[0] + 5])
    assert isinstance(model, V.SegmentationModel)


def test_masked_loss_gradient_is_zero_on_unlabelled_pixels():
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 5, 6, generator=generator, requires_grad=True)
    labels = torch.randint(0, 3, (2, 5, 6), generator=generator)
    unlabelled = torch.rand(2, 5, 6, generator=generator) < 0.6
    labels[unlabelled] = -1
    loss = V.masked_cross_entropy(logits, labels)
    loss.backward()
    grad = logits.grad.permute(0, 2, 3, 1)  # (B, H, W, C)
    assert torch.all(grad[unlabelled] == 0)
    assert torch.any(grad[~unlabelled] != 0)
    # equals the mean cross-entropy over the labelled pixels
    flat = logits.detach().permute(0, 2, 3, 1)[~unlabelled]
    expected = torch.nn.functional.cross_entropy(flat, labels[~unlabelled])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    # the loss does not move when unlabelled logits change
    changed = logits.detach().clone()
    changed.permute(0, 2, 3, 1)[unlabelled] = 100.0
    assert float(V.masked_cross_entropy(changed, labels)) == pytest.approx(loss.item(), rel=1e-6)
    none = torch.full((2, 5, 6), -1)
    assert V.masked_cross_entropy(logits, none).item() == 0.0


@pytest.mark.slow
def test_unet_learns_a_square_from_sparse_labels_with_mc_dropout():
    pytest.importorskip("torch")
    image = np.zeros((16, 12))
    image[4:12, 3:9] = 1.0
    truth = (image > 0).astype(int)
    labels = _sparse(truth, 0.3)
    model = V.UNet(n_classes=2, width=4, epochs=25, lr=0.03, mc_samples=4, random_state=0)
    model.fit([image], [labels])
    assert model.losses_[-1] < model.losses_[0]
    mask, proba = V.predict_mask(model, image)
    assert proba.shape == (16, 12, 2)
    assert (mask == truth).mean() > 0.9
    samples = model.sample_proba(image)
    assert samples.shape == (4, 16, 12, 2)
    assert np.ptp(samples, axis=0).max() > 0  # dropout is on: the passes differ
    np.testing.assert_allclose(model.predict_proba(image), model.predict_proba(image))
