"""Images with masks for segmentation and scenes with boxes for detection, all offline.

- :func:`load_nuclei`: the 2-D nuclei image and mask shipped inside the ``stardist`` wheel
  (fluorescence microscopy from the 2018 Data Science Bowl, BBBC038; read with tifffile).
- :func:`digits_scenes`: scenes composed from scikit-learn's 8×8 digits, a multi-class
  segmentation set (background + one class per digit).
- :func:`shape_scenes`: :func:`skimage.draw.random_shapes` scenes with boxes and shape
  classes, for detection.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from activelab._extras import require
from activelab._validation import RandomStateLike, check_random_state

__all__ = [
    "SHAPE_CLASSES",
    "SegmentationSet",
    "ShapeScenes",
    "digits_scenes",
    "load_nuclei",
    "nuclei_path",
    "shape_scenes",
]


@dataclass
class SegmentationSet:
    """Images and their label maps.

    Attributes
    ----------
    images : list of numpy.ndarray
    masks : list of numpy.ndarray of int64
        Class of every pixel, ``0 .. n_classes-1``.
    n_classes : int
    class_names : list of str
    """

    images: list[np.ndarray]
    masks: list[np.ndarray]
    n_classes: int
    class_names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of images."""
        return len(self.images)

    def subset(self, indices: Sequence[int]) -> SegmentationSet:
        """The images at ``indices``.

        Parameters
        ----------
        indices : sequence of int

        Returns
        -------
        SegmentationSet
        """
        return SegmentationSet(
            [self.images[i] for i in indices],
            [self.masks[i] for i in indices],
            self.n_classes,
            list(self.class_names),
        )


def nuclei_path() -> Path:
    """Folder of the stardist wheel's example images (found without importing stardist).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ImportError
        When stardist is not installed.
    """
    spec = importlib.util.find_spec("stardist")
    if spec is None or spec.origin is None:
        raise ImportError(
            "load_nuclei reads the example image shipped in the stardist wheel, which is not "
            "installed. Install it (data only, no TensorFlow) with: "
            "pip install --no-deps stardist tifffile"
        )
    return Path(spec.origin).parent / "data" / "images"


def load_nuclei(split: str | None = None) -> SegmentationSet:
    """The 512×512 nuclei image of the stardist wheel and its mask (background / nucleus).

    The image comes from the 2018 Data Science Bowl stage-1 training set (BBBC038,
    Caicedo et al. 2019; the collection is released under CC0); the stardist wheel that
    ships it is BSD-3-Clause. The instance mask is reduced to two classes.

    Parameters
    ----------
    split : {None, "left", "right"}
        None for the whole image; "left"/"right" for its left/right half (the pool and
        the test image of the benchmark).

    Returns
    -------
    SegmentationSet
        One image (float32, scaled to [0, 1]) and its 0/1 mask.

    References
    ----------
    Caicedo, J. C. et al. (2019). Nucleus segmentation across imaging experiments: the 2018
    Data Science Bowl. Nature Methods 16, 1247-1253.

    Examples
    --------
    >>> data = load_nuclei("left")  # doctest: +SKIP
    >>> data.images[0].shape  # doctest: +SKIP
    (512, 256)
    """
    tifffile = require("tifffile", "vision", "load_nuclei")
    folder = nuclei_path()
    image = tifffile.imread(folder / "img2d.tif").astype(np.float32)
    mask = (tifffile.imread(folder / "mask2d.tif") > 0).astype(np.int64)
    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-12)
    half = image.shape[1] // 2
    if split == "left":
        image, mask = image[:, :half], mask[:, :half]
    elif split == "right":
        image, mask = image[:, half:], mask[:, half:]
    elif split is not None:
        raise ValueError(f"split must be None, 'left' or 'right'; got {split!r}.")
    return SegmentationSet(
        [np.ascontiguousarray(image)], [np.ascontiguousarray(mask)], 2, ["background", "nucleus"]
    )


def digits_scenes(
    n_images: int = 20,
    size: int = 64,
    n_digits: int = 4,
    digits: Sequence[int] = (0, 1, 2, 3),
    scale: int = 2,
    noise: float = 0.1,
    random_state: RandomStateLike = None,
) -> SegmentationSet:
    """Scenes of scikit-learn digits on a noisy background: a multi-class segmentation set.

    Each scene places ``n_digits`` digits (drawn from ``digits``), each an 8×8 image of
    :func:`sklearn.datasets.load_digits` enlarged ``scale`` times, at random places that
    do not overlap; a pixel whose ink exceeds a quarter of the maximum takes the digit's
    class (``1 + position of the digit in digits``), every other pixel is background (0).

    Parameters
    ----------
    n_images : int
    size : int
        Side of a square scene in pixels.
    n_digits : int
        Digits per scene (fewer when they do not fit).
    digits : sequence of int
        Which digits appear (the classes).
    scale : int
        Enlargement of the 8×8 digits.
    noise : float
        Standard deviation of Gaussian noise on the [0, 1] image.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    SegmentationSet
        ``n_classes = 1 + len(digits)``.

    Examples
    --------
    >>> scenes = digits_scenes(n_images=2, size=32, n_digits=2, random_state=0)
    >>> scenes.n_classes, scenes.images[0].shape
    (5, (32, 32))
    """
    datasets = require("sklearn.datasets", "core", "digits_scenes")
    rng = check_random_state(random_state)
    wanted = [int(d) for d in digits]
    if not wanted or any(d < 0 or d > 9 for d in wanted) or len(set(wanted)) != len(wanted):
        raise ValueError(f"digits must be distinct ints in 0..9; got {list(digits)}.")
    side = 8 * int(scale)
    if size < side:
        raise ValueError(f"size={size} is smaller than one digit ({side} pixels at scale).")
    bunch = datasets.load_digits()
    pool = {d: bunch.images[bunch.target == d] / 16.0 for d in wanted}
    images, masks = [], []
    for _ in range(int(n_images)):
        image = np.zeros((size, size), dtype=np.float32)
        mask = np.zeros((size, size), dtype=np.int64)
        taken = np.zeros((size, size), dtype=bool)
        for _ in range(int(n_digits)):
            for _attempt in range(20):
                row, col = rng.integers(0, size - side + 1, size=2)
                if not taken[row : row + side, col : col + side].any():
                    break
            else:
                continue
            position = int(rng.integers(len(wanted)))
            samples = pool[wanted[position]]
            glyph = np.kron(samples[rng.integers(len(samples))], np.ones((scale, scale)))
            image[row : row + side, col : col + side] = glyph
            mask[row : row + side, col : col + side][glyph > 0.25] = position + 1
            taken[row : row + side, col : col + side] = True
        image = image + rng.normal(0.0, noise, size=image.shape).astype(np.float32)
        images.append(image)
        masks.append(mask)
    return SegmentationSet(
        images, masks, 1 + len(wanted), ["background"] + [f"digit {d}" for d in wanted]
    )


#: Classes of :func:`shape_scenes`, in label order.
SHAPE_CLASSES: tuple[str, ...] = ("rectangle", "circle", "triangle", "ellipse")


@dataclass
class ShapeScenes:
    """Scenes with boxes for detection.

    Attributes
    ----------
    images : list of numpy.ndarray of shape (H, W), float64 in [0, 1]
        Dark shapes on a white background.
    boxes : list of numpy.ndarray of shape (n_i, 4)
        ``(x0, y0, x1, y1)`` in pixels, end exclusive.
    labels : list of numpy.ndarray of shape (n_i,), int64
        Index into :data:`SHAPE_CLASSES`.
    """

    images: list[np.ndarray]
    boxes: list[np.ndarray]
    labels: list[np.ndarray]

    def __len__(self) -> int:
        """Number of scenes."""
        return len(self.images)


def shape_scenes(
    n_images: int = 20,
    size: int = 64,
    max_shapes: int = 3,
    min_size: int = 10,
    intensity_range: tuple[int, int] = (0, 150),
    random_state: RandomStateLike = None,
) -> ShapeScenes:
    """Grey-level scenes of random shapes (:func:`skimage.draw.random_shapes`) with boxes.

    Parameters
    ----------
    n_images : int
    size : int
    max_shapes : int
    min_size : int
    intensity_range : tuple of int
        Grey levels (0-255) the shapes are drawn with; the background is 255.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    ShapeScenes

    Examples
    --------
    >>> scenes = shape_scenes(n_images=2, size=48, random_state=0)
    >>> scenes.images[0].shape, scenes.boxes[0].shape[1]
    ((48, 48), 4)
    """
    draw = require("skimage.draw", "vision", "shape_scenes")
    rng = check_random_state(random_state)
    images, boxes, labels = [], [], []
    for _ in range(int(n_images)):
        image, found = draw.random_shapes(
            (size, size),
            max_shapes=max_shapes,
            min_shapes=1,
            min_size=min_size,
            channel_axis=None,
            intensity_range=intensity_range,
            allow_overlap=False,
            rng=int(rng.integers(2**31 - 1)),
        )
        images.append(image.astype(np.float64) / 255.0)
        boxes.append(
            np.array([[c0, r0, c1, r1] for _, ((r0, r1), (c0, c1)) in found], dtype=np.float64)
        )
        labels.append(np.array([SHAPE_CLASSES.index(name) for name, _ in found], dtype=np.int64))
    return ShapeScenes(images, boxes, labels)
