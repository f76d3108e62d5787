"""Active learning for object detection: image-level and box-level acquisition.

Any detector plugs in through :class:`DetectorAdapter`: a callable that takes an image and
returns its boxes, confidence scores and (optionally) class probabilities. On top of it:

- aggregated box entropy (Brust et al. 2019): the entropy of each box's class
  probabilities, summed, averaged or maxed over the image;
- localisation stability (Kao et al. 2018): how far the boxes move when the image is
  perturbed with Gaussian noise; unstable images are the informative ones;
- box-level ranking (:func:`select_boxes`) for tools that ask for one box at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from activelab import scores as _scores
from activelab import select as _select
from activelab._validation import RandomStateLike, check_k, check_random_state

__all__ = [
    "DETECTION_MEASURES",
    "Detections",
    "DetectorAdapter",
    "box_entropy",
    "box_iou",
    "detection_scores",
    "image_entropy",
    "localization_stability",
    "select_boxes",
]


@dataclass
class Detections:
    """The boxes a detector found in one image.

    Attributes
    ----------
    boxes : numpy.ndarray of shape (n, 4), float64
        ``(x0, y0, x1, y1)``.
    scores : numpy.ndarray of shape (n,), float64
        Confidence of each box.
    proba : numpy.ndarray of shape (n, C), float64
        Class probabilities of each box.
    """

    boxes: np.ndarray
    scores: np.ndarray
    proba: np.ndarray

    def __len__(self) -> int:
        """Number of boxes."""
        return int(self.boxes.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """The most probable class of each box."""
        return self.proba.argmax(axis=1) if len(self) else np.zeros(0, dtype=np.int64)

    @classmethod
    def from_output(cls, output: Any, n_classes: int) -> Detections:
        """Read a detector's output: a :class:`Detections` or a mapping of arrays.

        The mapping needs ``"boxes"`` (n, 4) and ``"scores"`` (n,); it may hold ``"proba"``
        (n, C); without it, ``"labels"`` (n,) and the scores make probabilities: the
        score on the label, the rest spread evenly over the other classes.

        Parameters
        ----------
        output : Detections or mapping
        n_classes : int

        Returns
        -------
        Detections
        """
        if isinstance(output, Detections):
            return cls._checked(output.boxes, output.scores, output.proba, n_classes)
        if not isinstance(output, Mapping) or "boxes" not in output or "scores" not in output:
            raise TypeError(
                "A detector must return Detections or a mapping with 'boxes' (n, 4), "
                "'scores' (n,) and 'proba' (n, C) or 'labels' (n,); got "
                f"{type(output).__name__}."
            )
        boxes = np.asarray(output["boxes"], dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(output["scores"], dtype=np.float64).reshape(-1)
        if "proba" in output:
            proba = np.asarray(output["proba"], dtype=np.float64).reshape(len(boxes), n_classes)
        elif "labels" in output:
            labels = np.asarray(output["labels"], dtype=np.int64).reshape(-1)
            if n_classes < 2:
                raise ValueError("Probabilities from labels need n_classes >= 2.")
            rest = (1.0 - np.clip(scores, 0.0, 1.0)) / (n_classes - 1)
            proba = np.repeat(rest[:, None], n_classes, axis=1)
            proba[np.arange(len(labels)), labels] = np.clip(scores, 0.0, 1.0)
        else:
            raise ValueError("A detector's mapping needs 'proba' or 'labels' beside the boxes.")
        return cls._checked(boxes, scores, proba, n_classes)

    @classmethod
    def _checked(cls, boxes: Any, scores: Any, proba: Any, n_classes: int) -> Detections:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        proba = np.asarray(proba, dtype=np.float64)
        proba = proba.reshape(len(boxes), -1) if proba.size else proba.reshape(0, n_classes)
        if scores.shape[0] != boxes.shape[0] or proba.shape[1] != n_classes:
            raise ValueError(
                f"Detections need boxes (n, 4), scores (n,) and proba (n, {n_classes}); got "
                f"{boxes.shape}, {scores.shape} and {proba.shape}."
            )
        if np.any(boxes[:, 2] < boxes[:, 0]) or np.any(boxes[:, 3] < boxes[:, 1]):
            raise ValueError("Boxes must be (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0.")
        return cls(boxes, scores, proba)


def box_iou(a: Any, b: Any) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``.

    Parameters
    ----------
    a : array of shape (n, 4)
    b : array of shape (m, 4)
        Boxes as ``(x0, y0, x1, y1)``.

    Returns
    -------
    numpy.ndarray of shape (n, m), float64

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).round(3).tolist()
    [[0.333, 0.0]]
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    width = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]),
        0.0,
        None,
    )
    height = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]),
        0.0,
        None,
    )
    inter = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def box_entropy(detections: Detections) -> np.ndarray:
    """Entropy of each box's class probabilities (:func:`activelab.scores.entropy`).

    Parameters
    ----------
    detections : Detections

    Returns
    -------
    numpy.ndarray of shape (n,), float64
    """
    if len(detections) == 0:
        return np.zeros(0)
    return _scores.entropy(detections.proba)


def image_entropy(detections: Detections, aggregate: str = "sum") -> float:
    """Image score from its boxes' entropies: "sum", "mean" or "max" (0 with no box).

    Parameters
    ----------
    detections : Detections
    aggregate : str

    Returns
    -------
    float

    References
    ----------
    Brust, C.-A., Käding, C. and Denzler, J. (2019). Active learning for deep object
    detection. VISAPP.

    Examples
    --------
    >>> d = Detections(np.zeros((2, 4)), np.ones(2), np.array([[0.5, 0.5], [1.0, 0.0]]))
    >>> round(image_entropy(d, "sum"), 4), round(image_entropy(d, "mean"), 4)
    (0.6931, 0.3466)
    """
    reducers = {"sum": np.sum, "mean": np.mean, "max": np.max}
    if aggregate not in reducers:
        raise ValueError(f"aggregate must be one of {sorted(reducers)}; got {aggregate!r}.")
    values = box_entropy(detections)
    return float(reducers[aggregate](values)) if values.size else 0.0


def localization_stability(
    reference: Detections, perturbed: Sequence[Detections]
) -> tuple[np.ndarray, float]:
    """Localisation stability of each reference box and of the image (Kao et al. 2018).

    For reference box :math:`B_0^j` and the boxes :math:`B_n` found on the ``N`` perturbed
    copies of the image, the box stability is :math:`S_B(B_0^j) = \\frac{1}{N}\\sum_n
    \\max_{b \\in B_n} \\mathrm{IoU}(B_0^j, b)` (0 when a copy has no box), and the image
    stability is the confidence-weighted mean :math:`S_I = \\sum_j P_{\\max}(B_0^j) S_B(B_0^j)
    / \\sum_j P_{\\max}(B_0^j)`. Low stability marks the images worth labelling.

    Parameters
    ----------
    reference : Detections
        Boxes on the clean image.
    perturbed : sequence of Detections
        Boxes on each perturbed copy.

    Returns
    -------
    box_stability : numpy.ndarray of shape (n,)
    image_stability : float
        1.0 when the reference has no box (nothing to be unstable about).

    References
    ----------
    Kao, C.-C., Lee, T.-Y., Sen, P. and Liu, M.-Y. (2018). Localization-aware active
    learning for object detection. ACCV.

    Examples
    --------
    >>> ref = Detections(np.array([[0, 0, 2, 2.0]]), np.ones(1), np.array([[1.0, 0.0]]))
    >>> moved = Detections(np.array([[1, 0, 3, 2.0]]), np.ones(1), np.array([[1.0, 0.0]]))
    >>> stability, image = localization_stability(ref, [ref, moved])
    >>> round(image, 4)
    0.6667
    """
    if len(perturbed) == 0:
        raise ValueError("localization_stability needs at least one perturbed detection set.")
    n = len(reference)
    if n == 0:
        return np.zeros(0), 1.0
    stability = np.zeros(n)
    for copy in perturbed:
        if len(copy):
            stability += box_iou(reference.boxes, copy.boxes).max(axis=1)
    stability /= len(perturbed)
    weights = reference.proba.max(axis=1)
    image = float((weights * stability).sum() / weights.sum()) if weights.sum() > 0 else 1.0
    return stability, image


class DetectorAdapter:
    """Wrap any detector as a callable ``image -> boxes, scores, class probabilities``.

    Parameters
    ----------
    detect : callable
        ``detect(image)`` returns :class:`Detections` or a mapping with ``"boxes"``
        ``(x0, y0, x1, y1)``, ``"scores"`` and ``"proba"`` (or ``"labels"``); a torchvision
        detector's output dict (with ``labels``) works as is once converted to numpy.
    n_classes : int
    noise_levels : sequence of float
        Standard deviations of the Gaussian noise of the perturbed copies, as a share of
        the image's intensity range (Kao et al. use 8..48 on 0-255 images).
    random_state : int, numpy.random.Generator or None
        Seeds the perturbations.

    Examples
    --------
    >>> def detect(image):
    ...     return {"boxes": [[0, 0, 4, 4]], "scores": [0.9], "labels": [1]}
    >>> adapter = DetectorAdapter(detect, n_classes=2)
    >>> adapter.detect(np.zeros((8, 8))).proba.round(2).tolist()
    [[0.1, 0.9]]
    """

    def __init__(
        self,
        detect: Callable[[Any], Any],
        n_classes: int,
        noise_levels: Sequence[float] = (0.03, 0.06, 0.09, 0.12, 0.15, 0.19),
        random_state: RandomStateLike = None,
    ) -> None:
        self.detect_fn = detect
        self.n_classes = n_classes
        self.noise_levels = noise_levels
        self.random_state = random_state

    def detect(self, image: Any) -> Detections:
        """Boxes on ``image``.

        Parameters
        ----------
        image : array

        Returns
        -------
        Detections
        """
        return Detections.from_output(self.detect_fn(image), self.n_classes)

    def perturb(self, image: Any, level: float, rng: np.random.Generator) -> np.ndarray:
        """``image`` plus Gaussian noise of ``level`` times its intensity range.

        Parameters
        ----------
        image : array
        level : float
        rng : numpy.random.Generator

        Returns
        -------
        numpy.ndarray
        """
        array = np.asarray(image, dtype=np.float64)
        spread = float(array.max() - array.min()) or 1.0
        return array + rng.normal(0.0, level * spread, size=array.shape)

    def detect_perturbed(self, image: Any, rng: np.random.Generator) -> list[Detections]:
        """Boxes on one perturbed copy of ``image`` per noise level.

        Parameters
        ----------
        image : array
        rng : numpy.random.Generator

        Returns
        -------
        list of Detections
        """
        return [self.detect(self.perturb(image, level, rng)) for level in self.noise_levels]


#: Image-level detection measures of :func:`detection_scores`.
DETECTION_MEASURES: tuple[str, ...] = ("entropy", "stability", "stability_uncertainty")


def detection_scores(
    adapter: DetectorAdapter,
    images: Sequence[Any],
    measure: str = "entropy",
    aggregate: str = "sum",
    weight: float = 1.0,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Informativeness of every image for a detector, higher = label it first.

    - "entropy": :func:`image_entropy` with ``aggregate``;
    - "stability": ``1 - S_I``, the image's localisation instability
      (:func:`localization_stability`);
    - "stability_uncertainty": Kao et al.'s LS+C, ``U_C - weight · S_I`` with
      ``U_C = max_j (1 - P_max(B_0^j))`` the least confident box.

    Parameters
    ----------
    adapter : DetectorAdapter
    images : sequence of arrays
    measure : str
        One of :data:`DETECTION_MEASURES`.
    aggregate : str
        For "entropy": "sum", "mean" or "max".
    weight : float
        ``lambda`` of "stability_uncertainty".
    random_state : int, numpy.random.Generator or None
        Seeds the perturbations (falls back to the adapter's).

    Returns
    -------
    numpy.ndarray of shape (n_images,), float64

    References
    ----------
    Kao, C.-C. et al. (2018). Localization-aware active learning for object detection. ACCV.
    Brust, C.-A. et al. (2019). Active learning for deep object detection. VISAPP.
    """
    if measure not in DETECTION_MEASURES:
        raise ValueError(f"measure must be one of {DETECTION_MEASURES}; got {measure!r}.")
    rng = check_random_state(random_state if random_state is not None else adapter.random_state)
    out = np.zeros(len(images))
    for i, image in enumerate(images):
        reference = adapter.detect(image)
        if measure == "entropy":
            out[i] = image_entropy(reference, aggregate)
            continue
        _, stability = localization_stability(reference, adapter.detect_perturbed(image, rng))
        if measure == "stability":
            out[i] = 1.0 - stability
        else:
            least = float((1.0 - reference.proba.max(axis=1)).max()) if len(reference) else 0.0
            out[i] = least - weight * stability
    return out


def select_boxes(
    detections: Sequence[Detections],
    k: int,
    measure: str = "entropy",
    perturbed: Sequence[Sequence[Detections]] | None = None,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """The ``k`` most informative boxes across images, for box-level labelling.

    Parameters
    ----------
    detections : sequence of Detections
        Boxes of each image.
    k : int
    measure : str
        "entropy" (:func:`box_entropy`), "least_confidence" (``1 - P_max``) or
        "stability" (``1 - S_B``, needs ``perturbed``).
    perturbed : sequence of sequences of Detections, optional
        For "stability": the detections on each image's perturbed copies
        (:meth:`DetectorAdapter.detect_perturbed`).
    random_state : int, numpy.random.Generator or None
        Breaks ties.

    Returns
    -------
    numpy.ndarray of shape (k, 2), int64
        ``(image, box)`` pairs, most informative first.

    Examples
    --------
    >>> a = Detections(np.zeros((2, 4)), np.ones(2), np.array([[0.5, 0.5], [0.9, 0.1]]))
    >>> select_boxes([a], 1).tolist()
    [[0, 0]]
    """
    if measure not in ("entropy", "least_confidence", "stability"):
        raise ValueError(
            f"measure must be 'entropy', 'least_confidence' or 'stability'; got {measure!r}."
        )
    if measure == "stability" and (perturbed is None or len(perturbed) != len(detections)):
        raise ValueError("measure='stability' needs the perturbed detections of every image.")
    values, owners = [], []
    for i, found in enumerate(detections):
        if len(found) == 0:
            continue
        if measure == "entropy":
            values.append(box_entropy(found))
        elif measure == "least_confidence":
            values.append(1.0 - found.proba.max(axis=1))
        else:
            values.append(1.0 - localization_stability(found, perturbed[i])[0])
        owners.append(np.column_stack([np.full(len(found), i), np.arange(len(found))]))
    if not values:
        raise ValueError("select_boxes found no box in any image.")
    all_values = np.concatenate(values)
    k = check_k(k, all_values.size)
    order = _select.top_k(all_values, k, random_state=check_random_state(random_state))
    return np.concatenate(owners)[order].astype(np.int64)
