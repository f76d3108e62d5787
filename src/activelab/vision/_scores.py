"""Pixel scores, region scores, class-balanced weights and region selection.

Pixel scores are :mod:`activelab.scores` applied to every pixel (no second copy of the
maths); region scores are reductions of pixel scores over a :class:`RegionIndex`; batch
selection is :mod:`activelab.select` on region scores and region features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from activelab import scores as _scores
from activelab import select as _select
from activelab._validation import RandomStateLike, check_k, check_random_state
from activelab.vision._regions import RegionIndex

__all__ = [
    "PIXEL_SCORES",
    "class_balanced_weights",
    "pixel_scores",
    "region_scores",
    "score_regions",
    "select_regions",
]

#: Pixel scores: the name of the :mod:`activelab.scores` function and whether it reads
#: posterior samples (m, H, W, C) rather than probabilities (H, W, C).
PIXEL_SCORES: dict[str, bool] = {
    "entropy": False,
    "margin": False,
    "least_confidence": False,
    "ratio": False,
    "bald": True,
    "variation_ratio": True,
    "vote_entropy": True,
}


def pixel_scores(proba: Any, measure: str = "entropy") -> np.ndarray:
    """Acquisition score of every pixel of an image, higher = more informative.

    Parameters
    ----------
    proba : array of shape (H, W, C), or (m, H, W, C) for posterior-sample measures
        Per-pixel class probabilities (or ``m`` posterior samples of them, e.g. the trees
        of a forest or MC-dropout passes of a U-Net). A sample array given to a measure
        of probabilities is averaged over the samples first.
    measure : str
        One of :data:`PIXEL_SCORES`: "entropy", "margin", "least_confidence", "ratio"
        (probabilities) or "bald", "variation_ratio", "vote_entropy" (samples).

    Returns
    -------
    numpy.ndarray of shape (H, W), float64

    Examples
    --------
    >>> proba = np.full((2, 3, 2), 0.5)
    >>> np.allclose(pixel_scores(proba, "entropy"), np.log(2))
    True
    """
    if measure not in PIXEL_SCORES:
        raise ValueError(f"measure must be one of {sorted(PIXEL_SCORES)}; got {measure!r}.")
    array = np.asarray(proba)
    needs_samples = PIXEL_SCORES[measure]
    if needs_samples:
        if array.ndim != 4:
            raise ValueError(
                f"{measure} needs posterior samples of shape (m, H, W, C); got {array.shape}. "
                "Use the model's sample_proba(), not predict_proba()."
            )
        m, height, width, n_classes = array.shape
        flat = array.reshape(m, height * width, n_classes)
    else:
        if array.ndim == 4:
            array = array.mean(axis=0)
        if array.ndim != 3:
            raise ValueError(
                f"{measure} needs probabilities of shape (H, W, C); got {array.shape}."
            )
        height, width, n_classes = array.shape
        flat = array.reshape(height * width, n_classes)
    return getattr(_scores, measure)(flat).reshape(height, width)


def region_scores(
    regions: RegionIndex, per_pixel: Sequence[Any], aggregate: str = "mean"
) -> np.ndarray:
    """Score of every region: its pixel scores reduced by ``aggregate``.

    Parameters
    ----------
    regions : RegionIndex
    per_pixel : sequence of arrays of shape (H_i, W_i)
        Pixel scores of each image (:func:`pixel_scores`).
    aggregate : str
        "mean" (the region's average uncertainty, Mackowiak et al. 2018), "max" (its most
        uncertain pixel) or "sum" (total uncertainty, favours large regions).

    Returns
    -------
    numpy.ndarray of shape (n_regions,), float64

    References
    ----------
    Mackowiak, R., Lenz, P., Ghori, O., Diego, F., Lange, O. and Rother, C. (2018).
    CEREALS - cost-effective region-based active learning for semantic segmentation. BMVC.

    Examples
    --------
    >>> index = RegionIndex.grid([(2, 4)], size=2)
    >>> region_scores(index, [np.array([[0, 1, 2, 2], [1, 0, 2, 2.0]])], "max").tolist()
    [1.0, 2.0]
    """
    if aggregate not in ("mean", "max", "sum"):
        raise ValueError(f"aggregate must be 'mean', 'max' or 'sum'; got {aggregate!r}.")
    return regions.aggregate(per_pixel, aggregate)


def class_balanced_weights(counts: Any, power: float = 1.0) -> np.ndarray:
    """Class weights that favour classes rare among the labelled pixels.

    ``w_c = (f_c)^(-power)``, with ``f_c = (n_c + 1) / (sum_c n_c + C)`` the smoothed share
    of class ``c`` among the labelled pixels, normalised to mean 1. Multiplying a region's
    score by the weight of its dominant predicted class is the class-balanced acquisition
    of Cai et al. (2021): uncertain regions of rare classes go first.

    Parameters
    ----------
    counts : array of shape (C,)
        Labelled pixels per class.
    power : float
        0 gives equal weights; 1 is inverse frequency.

    Returns
    -------
    numpy.ndarray of shape (C,), float64

    References
    ----------
    Cai, L., Xu, X., Liew, J. H. and Foo, C. S. (2021). Revisiting superpixels for active
    learning in semantic segmentation with realistic annotation costs. CVPR.

    Examples
    --------
    >>> class_balanced_weights([98, 0]).round(3).tolist()
    [0.02, 1.98]
    """
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or array.size < 1 or np.any(array < 0) or not np.all(np.isfinite(array)):
        raise ValueError(
            f"class_balanced_weights needs non-negative counts per class, shape (C,); "
            f"got {array.shape}."
        )
    if power < 0:
        raise ValueError(f"power must be >= 0; got {power}.")
    share = (array + 1.0) / (array.sum() + array.size)
    weights = share ** (-float(power))
    return weights / weights.mean()


SELECTION_METHODS: tuple[str, ...] = ("top", "random", "diverse")


def select_regions(
    scores: Any,
    k: int,
    method: str = "top",
    features: Any = None,
    available: Any = None,
    prefilter: int = 10,
    random_state: RandomStateLike = None,
) -> np.ndarray:
    """Choose ``k`` regions across images by score, at random, or as a diverse batch.

    "top" is :func:`activelab.select.top_k`; "diverse" is
    :func:`activelab.select.cluster_then_pick` on region ``features`` (Zhdanov 2019: the
    ``prefilter · k`` best regions clustered into ``k`` groups, one region per group), so
    one batch does not spend its budget on many neighbouring regions that share a cause.

    Parameters
    ----------
    scores : array of shape (n_regions,)
    k : int
    method : str
        "top", "random" or "diverse".
    features : array of shape (n_regions, d), optional
        Region descriptors for "diverse" (for example mean predicted probabilities and
        mean pixel features, :meth:`RegionIndex.aggregate`).
    available : array of shape (n_regions,), bool, optional
        Regions that may be chosen (for example, not yet labelled).
    prefilter : int
        Candidate pool of "diverse", as a multiple of ``k``.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of shape (k,), int64
        Global region ids, best first.

    Examples
    --------
    >>> select_regions(np.array([0.1, 0.9, 0.5, 0.7]), 2, available=[True, False, True, True])
    array([3, 2])
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"select_regions needs scores of shape (n_regions,); got {values.shape}.")
    if method not in SELECTION_METHODS:
        raise ValueError(f"method must be one of {SELECTION_METHODS}; got {method!r}.")
    candidates = (
        np.arange(values.size)
        if available is None
        else np.flatnonzero(np.asarray(available, dtype=bool))
    )
    k = check_k(k, candidates.size)
    rng = check_random_state(random_state)
    if method == "random":
        return candidates[rng.choice(candidates.size, size=k, replace=False)].astype(np.int64)
    if method == "top":
        return candidates[_select.top_k(values[candidates], k, random_state=rng)]
    if features is None:
        raise ValueError("method='diverse' needs region features of shape (n_regions, d).")
    emb = np.asarray(features, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != values.size:
        raise ValueError(f"features must have shape (n_regions={values.size}, d); got {emb.shape}.")
    utilities = np.clip(values[candidates], 0.0, None)
    picked = _select.cluster_then_pick(
        utilities, emb[candidates], k, prefilter=prefilter, random_state=rng
    )
    return candidates[picked]


def score_regions(
    model: Any,
    image: Any,
    labels: Any,
    measure: str = "entropy",
    aggregate: str = "mean",
) -> np.ndarray:
    """Scores of the regions of one image: the region proposals an annotation tool shows.

    Parameters
    ----------
    model : SegmentationModel
        Fitted; ``sample_proba`` is read for the posterior-sample measures.
    image : array of shape (H, W) or (H, W, channels)
    labels : array of shape (H, W), int
        The image's region map (:func:`grid_regions`, :func:`slic_regions`).
    measure : str
        One of :data:`PIXEL_SCORES`.
    aggregate : str
        "mean", "max" or "sum".

    Returns
    -------
    numpy.ndarray of shape (R,), float64
        Sort it descending (``np.argsort(-scores)``) to rank the proposals.
    """
    if measure not in PIXEL_SCORES:
        raise ValueError(f"measure must be one of {sorted(PIXEL_SCORES)}; got {measure!r}.")
    source = model.sample_proba if PIXEL_SCORES[measure] else model.predict_proba
    return region_scores(RegionIndex([labels]), [pixel_scores(source(image), measure)], aggregate)
