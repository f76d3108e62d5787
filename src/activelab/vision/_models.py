"""Segmentation models: per-pixel class probabilities (and posterior samples) for an image.

The contract every segmentation model fulfils (:class:`SegmentationModel`):

- ``fit(images, labels)`` with ``labels[i]`` an int map of image ``i``'s shape, ``-1`` on
  unlabelled pixels (the model learns from labelled pixels only);
- ``predict_proba(image)`` → ``(H, W, C)`` class probabilities;
- ``sample_proba(image)`` → ``(m, H, W, C)`` posterior samples, when the model has them;
- ``n_classes``.

Two models ship: :class:`PixelForest` (a random forest on
:func:`skimage.feature.multiscale_basic_features`, fast on a CPU, the default) and
:class:`UNet` (a small torch U-Net with MC dropout, trained with a loss masked to the
labelled pixels, :func:`masked_cross_entropy`).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from activelab._extras import require
from activelab._validation import RandomStateLike, check_random_state

__all__ = [
    "PixelForest",
    "SegmentationModel",
    "UNet",
    "masked_cross_entropy",
    "pixel_features",
    "predict_mask",
]


@runtime_checkable
class SegmentationModel(Protocol):
    """What the vision loop and the studio need from a segmentation model."""

    n_classes: int

    def fit(self, images: Sequence[Any], labels: Sequence[Any]) -> Any:
        """Learn from the labelled pixels (label >= 0) of ``images``."""

    def predict_proba(self, image: Any) -> np.ndarray:
        """Class probabilities of every pixel, shape (H, W, C)."""


def _as_image(image: Any, who: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(
            f"{who} needs an image of shape (H, W) or (H, W, channels); got {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{who} got an image with NaN or infinite pixels.")
    return array


def _check_pairs(images: Sequence[Any], labels: Sequence[Any], who: str) -> list[np.ndarray]:
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(
            f"{who}.fit needs as many label maps as images (at least one); got "
            f"{len(images)} images and {len(labels)} label maps."
        )
    maps = []
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        array = np.asarray(label)
        if array.shape != np.shape(image)[:2] or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"{who}.fit: label map {i} must be an int array of the image's shape "
                f"{np.shape(image)[:2]} (-1 = unlabelled); got {array.dtype} {array.shape}."
            )
        maps.append(array.astype(np.int64))
    if not any(np.any(m >= 0) for m in maps):
        raise ValueError(f"{who}.fit got no labelled pixel (every label is -1).")
    return maps


def pixel_features(
    image: Any, sigma_min: float = 1.0, sigma_max: float = 16.0, num_sigma: int | None = None
) -> np.ndarray:
    """Per-pixel features: intensity, edges and texture at several Gaussian scales.

    :func:`skimage.feature.multiscale_basic_features` on the image rescaled to [0, 1]
    (the features of the classic "random forest pixel classifier" of ilastik).

    Parameters
    ----------
    image : array of shape (H, W) or (H, W, channels)
    sigma_min, sigma_max : float
        The smallest and largest Gaussian scale, in pixels.
    num_sigma : int, optional
        Number of scales (default: one per octave).

    Returns
    -------
    numpy.ndarray of shape (H, W, F), float32

    Examples
    --------
    >>> pixel_features(np.zeros((8, 8)), sigma_max=2).shape
    (8, 8, 8)
    """
    feature = require("skimage.feature", "vision", "pixel features")
    array = _as_image(image, "pixel_features").astype(np.float32)
    low, high = float(array.min()), float(array.max())
    scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return feature.multiscale_basic_features(
        scaled,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        num_sigma=num_sigma,
        channel_axis=-1 if array.ndim == 3 else None,
    ).astype(np.float32)


class PixelForest:
    """Random forest on multiscale pixel features; the trees are its posterior samples.

    Parameters
    ----------
    n_classes : int
        Number of classes (labels ``0 .. C-1``); probabilities always have ``C`` columns,
        even for classes not labelled yet.
    n_estimators : int
    max_depth : int or None
    min_samples_leaf : int
    sigma_min, sigma_max : float
        Scales of :func:`pixel_features`.
    max_cache : int
        Images whose features are kept (keyed by the image's content).
    n_jobs : int
    random_state : int, numpy.random.Generator or None

    Attributes
    ----------
    forest_ : sklearn.ensemble.RandomForestClassifier

    Examples
    --------
    >>> image = np.zeros((16, 16)); image[4:12, 4:12] = 1.0
    >>> labels = np.full((16, 16), -1); labels[0, :] = 0; labels[8, 8] = 1
    >>> model = PixelForest(n_classes=2, n_estimators=5, random_state=0).fit([image], [labels])
    >>> model.predict_proba(image).shape
    (16, 16, 2)
    """

    def __init__(
        self,
        n_classes: int,
        n_estimators: int = 50,
        max_depth: int | None = None,
        min_samples_leaf: int = 1,
        sigma_min: float = 1.0,
        sigma_max: float = 16.0,
        max_cache: int = 64,
        n_jobs: int = 1,
        random_state: RandomStateLike = None,
    ) -> None:
        self.n_classes = n_classes
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max
        self.max_cache = max_cache
        self.n_jobs = n_jobs
        self.random_state = random_state

    def features(self, image: Any) -> np.ndarray:
        """:func:`pixel_features` of ``image``, computed once per distinct image.

        Parameters
        ----------
        image : array of shape (H, W) or (H, W, channels)

        Returns
        -------
        numpy.ndarray of shape (H, W, F), float32
        """
        array = _as_image(image, "PixelForest")
        key = (array.shape, array.dtype.str, hashlib.blake2b(array.tobytes()).hexdigest())
        cache = self.__dict__.setdefault("_cache", OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = pixel_features(array, self.sigma_min, self.sigma_max)
        cache[key] = value
        while len(cache) > self.max_cache:
            cache.popitem(last=False)
        return value

    def fit(self, images: Sequence[Any], labels: Sequence[Any]) -> PixelForest:
        """Fit the forest on the labelled pixels (label >= 0) of ``images``.

        Parameters
        ----------
        images : sequence of arrays
        labels : sequence of int arrays of the images' shapes, -1 = unlabelled

        Returns
        -------
        PixelForest
        """
        ensemble = require("sklearn.ensemble", "core", "PixelForest")
        maps = _check_pairs(images, labels, "PixelForest")
        X, y = [], []
        for image, label in zip(images, maps, strict=True):
            keep = label >= 0
            if np.any(label >= self.n_classes):
                raise ValueError(
                    f"PixelForest(n_classes={self.n_classes}) got label {label.max()}; "
                    "labels must be 0 .. n_classes-1 (or -1)."
                )
            if keep.any():
                X.append(self.features(image)[keep])
                y.append(label[keep])
        rng = check_random_state(self.random_state)
        self.forest_ = ensemble.RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            n_jobs=self.n_jobs,
            random_state=int(rng.integers(2**31 - 1)),
        ).fit(np.concatenate(X), np.concatenate(y))
        return self

    def _columns(self, proba: np.ndarray) -> np.ndarray:
        out = np.zeros((*proba.shape[:-1], self.n_classes), dtype=np.float64)
        out[..., self.forest_.classes_.astype(np.int64)] = proba
        return out

    def predict_proba(self, image: Any) -> np.ndarray:
        """Class probabilities of every pixel (the mean of the trees).

        Parameters
        ----------
        image : array of shape (H, W) or (H, W, channels)

        Returns
        -------
        numpy.ndarray of shape (H, W, C), float64
        """
        if not hasattr(self, "forest_"):
            raise RuntimeError("PixelForest is not fitted; call fit(images, labels) first.")
        feats = self.features(image)
        height, width, n_features = feats.shape
        proba = self.forest_.predict_proba(feats.reshape(-1, n_features))
        return self._columns(proba).reshape(height, width, self.n_classes)

    def sample_proba(self, image: Any) -> np.ndarray:
        """Per-tree class probabilities: the forest's posterior samples.

        Parameters
        ----------
        image : array of shape (H, W) or (H, W, channels)

        Returns
        -------
        numpy.ndarray of shape (n_estimators, H, W, C), float64
        """
        if not hasattr(self, "forest_"):
            raise RuntimeError("PixelForest is not fitted; call fit(images, labels) first.")
        feats = self.features(image)
        height, width, n_features = feats.shape
        flat = feats.reshape(-1, n_features)
        samples = np.stack([tree.predict_proba(flat) for tree in self.forest_.estimators_])
        # A tree's classes_ are the indices into the forest's classes_.
        return self._columns(samples).reshape(-1, height, width, self.n_classes)


def predict_mask(model: Any, image: Any) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class of every pixel and the probabilities behind it.

    Parameters
    ----------
    model : SegmentationModel
        A fitted model with ``predict_proba(image)``.
    image : array of shape (H, W) or (H, W, channels)

    Returns
    -------
    mask : numpy.ndarray of shape (H, W), int64
    proba : numpy.ndarray of shape (H, W, C), float64

    Examples
    --------
    >>> image = np.zeros((8, 8)); labels = np.full((8, 8), -1); labels[0] = 0; labels[1] = 1
    >>> image[1] = 1.0
    >>> model = PixelForest(n_classes=2, n_estimators=3, random_state=0).fit([image], [labels])
    >>> predict_mask(model, image)[0][1].tolist() == [1] * 8
    True
    """
    proba = np.asarray(model.predict_proba(image), dtype=np.float64)
    if proba.ndim != 3 or proba.shape[:2] != np.shape(image)[:2]:
        raise ValueError(
            f"predict_mask needs predict_proba to return (H, W, C) for an image of shape "
            f"{np.shape(image)[:2]}; got {proba.shape}."
        )
    return proba.argmax(axis=-1).astype(np.int64), proba


def masked_cross_entropy(logits: Any, labels: Any, ignore_index: int = -1) -> Any:
    """Cross-entropy averaged over the labelled pixels only.

    Pixels whose label is ``ignore_index`` contribute nothing to the loss nor to its
    gradient, so a model can learn from sparse region labels.

    Parameters
    ----------
    logits : torch.Tensor of shape (B, C, H, W)
    labels : torch.Tensor of shape (B, H, W), int64
    ignore_index : int

    Returns
    -------
    torch.Tensor
        A scalar; 0 (with a gradient of zeros) when no pixel is labelled.

    Examples
    --------
    >>> import torch
    >>> logits = torch.zeros(1, 2, 2, 2); labels = torch.tensor([[[0, -1], [-1, -1]]])
    >>> round(float(masked_cross_entropy(logits, labels)), 4)
    0.6931
    """
    torch = require("torch", "torch", "masked_cross_entropy")
    functional = torch.nn.functional
    labelled = labels != ignore_index
    n_labelled = labelled.sum()
    per_pixel = functional.cross_entropy(
        logits, torch.where(labelled, labels, torch.zeros_like(labels)), reduction="none"
    )
    return (per_pixel * labelled).sum() / n_labelled.clamp(min=1)


def _unet_module(torch: Any, in_channels: int, n_classes: int, width: int, dropout: float):
    nn = torch.nn

    def block(cin: int, cout: int) -> Any:
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.GroupNorm(math.gcd(8, cout), cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.GroupNorm(math.gcd(8, cout), cout),
            nn.ReLU(inplace=True),
        )

    class SmallUNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.down1 = block(in_channels, width)
            self.down2 = block(width, 2 * width)
            self.bottom = block(2 * width, 4 * width)
            self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
            self.dec2 = block(4 * width, 2 * width)
            self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
            self.dec1 = block(2 * width, width)
            self.drop = nn.Dropout2d(dropout)
            self.head = nn.Conv2d(width, n_classes, 1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x: Any) -> Any:
            d1 = self.down1(x)
            d2 = self.down2(self.pool(d1))
            b = self.drop(self.bottom(self.pool(d2)))
            u2 = self.drop(self.dec2(torch.cat([self.up2(b), d2], dim=1)))
            u1 = self.dec1(torch.cat([self.up1(u2), d1], dim=1))
            return self.head(u1)

    return SmallUNet()


class UNet:
    """A small U-Net (two poolings) with MC dropout, trained on labelled pixels only.

    Images are padded to a multiple of 4 and scaled to [0, 1] per image; group
    normalisation (not batch normalisation) keeps training on one image per step and
    prediction consistent. The loss is
    :func:`masked_cross_entropy`, so region labels train it directly; ``sample_proba``
    runs ``mc_samples`` passes with dropout on (Gal et al. 2017) for BALD.

    Parameters
    ----------
    n_classes : int
    width : int
        Channels of the first block (doubling at each level).
    dropout : float
        Channel dropout before and after the bottleneck.
    epochs : int
        Passes over the images per ``fit`` (full images, one per step).
    lr : float
    mc_samples : int
    device : str
    random_state : int, numpy.random.Generator or None

    Attributes
    ----------
    module_ : torch.nn.Module
    losses_ : list of float
        Training loss per epoch.

    References
    ----------
    Ronneberger, O., Fischer, P. and Brox, T. (2015). U-Net: convolutional networks for
    biomedical image segmentation. MICCAI.
    Gal, Y., Islam, R. and Ghahramani, Z. (2017). Deep Bayesian active learning with image
    data. ICML.

    Examples
    --------
    >>> image = np.zeros((16, 16)); image[4:12, 4:12] = 1.0
    >>> labels = np.where(image > 0, 1, 0)
    >>> model = UNet(n_classes=2, width=4, epochs=2, random_state=0)  # doctest: +SKIP
    >>> model.fit([image], [labels]).predict_proba(image).shape  # doctest: +SKIP
    (16, 16, 2)
    """

    def __init__(
        self,
        n_classes: int,
        width: int = 16,
        dropout: float = 0.2,
        epochs: int = 50,
        lr: float = 1e-2,
        mc_samples: int = 8,
        device: str = "cpu",
        random_state: RandomStateLike = None,
    ) -> None:
        self.n_classes = n_classes
        self.width = width
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.mc_samples = mc_samples
        self.device = device
        self.random_state = random_state

    def _tensor(self, torch: Any, image: Any) -> tuple[Any, tuple[int, int]]:
        array = _as_image(image, "UNet").astype(np.float32)
        if array.ndim == 2:
            array = array[..., None]
        low, high = float(array.min()), float(array.max())
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
        height, width = array.shape[:2]
        pad = ((0, -height % 4), (0, -width % 4), (0, 0))
        array = np.pad(array, pad, mode="reflect" if min(height, width) > 4 else "edge")
        tensor = torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]
        return tensor.to(self.device), (height, width)

    def fit(self, images: Sequence[Any], labels: Sequence[Any]) -> UNet:
        """Train from scratch on the labelled pixels of ``images``.

        Parameters
        ----------
        images : sequence of arrays
        labels : sequence of int arrays of the images' shapes, -1 = unlabelled

        Returns
        -------
        UNet
        """
        torch = require("torch", "torch", "UNet")
        maps = _check_pairs(images, labels, "UNet")
        rng = check_random_state(self.random_state)
        torch.manual_seed(int(rng.integers(2**31 - 1)))
        inputs, targets = [], []
        for image, label in zip(images, maps, strict=True):
            tensor, (height, width) = self._tensor(torch, image)
            target = np.full(tensor.shape[2:], -1, dtype=np.int64)
            target[:height, :width] = label
            inputs.append(tensor)
            targets.append(torch.from_numpy(target)[None].to(self.device))
        self.in_channels_ = int(inputs[0].shape[1])
        self.module_ = _unet_module(
            torch, self.in_channels_, self.n_classes, self.width, self.dropout
        ).to(self.device)
        optimiser = torch.optim.Adam(self.module_.parameters(), lr=self.lr)
        self.losses_ = []
        self.module_.train()
        for _ in range(self.epochs):
            total = 0.0
            for i in rng.permutation(len(inputs)):
                optimiser.zero_grad()
                loss = masked_cross_entropy(self.module_(inputs[i]), targets[i])
                loss.backward()
                optimiser.step()
                total += float(loss.detach())
            self.losses_.append(total / len(inputs))
        return self

    def _forward(self, image: Any, passes: int, dropout: bool) -> np.ndarray:
        torch = require("torch", "torch", "UNet")
        if not hasattr(self, "module_"):
            raise RuntimeError("UNet is not fitted; call fit(images, labels) first.")
        tensor, (height, width) = self._tensor(torch, image)
        self.module_.eval()
        if dropout:
            for layer in self.module_.modules():
                if isinstance(layer, torch.nn.Dropout2d):
                    layer.train()
        with torch.no_grad():
            out = [
                torch.softmax(self.module_(tensor), dim=1)[0, :, :height, :width]
                for _ in range(passes)
            ]
        self.module_.eval()
        return torch.stack(out).permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)

    def predict_proba(self, image: Any) -> np.ndarray:
        """Class probabilities of every pixel (dropout off).

        Parameters
        ----------
        image : array of shape (H, W) or (H, W, channels)

        Returns
        -------
        numpy.ndarray of shape (H, W, C), float64
        """
        return self._forward(image, 1, dropout=False)[0]

    def sample_proba(self, image: Any) -> np.ndarray:
        """MC-dropout posterior samples of the pixel probabilities.

        Parameters
        ----------
        image : array of shape (H, W) or (H, W, channels)

        Returns
        -------
        numpy.ndarray of shape (mc_samples, H, W, C), float64
        """
        return self._forward(image, self.mc_samples, dropout=True)
