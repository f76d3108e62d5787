"""The region-based active learning loop for segmentation, with costs in pixels/regions/clicks.

Each round: fit the model on the labelled pixels, predict every pool image, score pixels,
reduce the scores over regions, choose a batch of regions, and ask the oracle for their
labels, either the true label of every pixel ("full") or the region's dominant class
for all its pixels ("dominant", one click per region after Cai et al. 2021).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from activelab._validation import RandomStateLike, check_random_state
from activelab.vision._metrics import mean_iou
from activelab.vision._models import predict_mask
from activelab.vision._regions import COST_UNITS, RegionIndex
from activelab.vision._scores import (
    PIXEL_SCORES,
    class_balanced_weights,
    pixel_scores,
    select_regions,
)

__all__ = ["LABELLINGS", "STRATEGIES", "VisionResult", "VisionRound", "simulate"]

#: Region strategies of :func:`simulate`.
STRATEGIES: tuple[str, ...] = ("random", "top", "class_balanced", "diverse")
#: What the oracle returns for a region.
LABELLINGS: tuple[str, ...] = ("dominant", "full")


@dataclass
class VisionRound:
    """One round of :func:`simulate`: what was labelled so far and how well the model does.

    Attributes
    ----------
    n_regions, n_pixels, n_clicks : int
        Labelled so far (cumulative).
    share_pixels : float
        ``n_pixels`` over the pool's pixels.
    iou : float
        Test IoU (mean over ``iou_labels``) of the model fitted on the labels so far.
    per_class : list of float
    label_noise : float
        Share of labelled pixels whose given label differs from the truth (dominant
        labelling only).
    fit_seconds, query_seconds : float
    regions : list of int
        The regions queried in this round (global ids).
    """

    n_regions: int
    n_pixels: int
    n_clicks: int
    share_pixels: float
    iou: float
    per_class: list[float]
    label_noise: float
    fit_seconds: float
    query_seconds: float
    regions: list[int] = field(default_factory=list)


@dataclass
class VisionResult:
    """The rounds of a :func:`simulate` run.

    Attributes
    ----------
    history : list of VisionRound
    strategy, measure, unit : str
    """

    history: list[VisionRound]
    strategy: str
    measure: str
    unit: str

    def curve(self, x: str = "share_pixels", y: str = "iou") -> tuple[np.ndarray, np.ndarray]:
        """Learning curve: ``y`` against labelling cost ``x``.

        Parameters
        ----------
        x : str
            "share_pixels", "n_pixels", "n_regions" or "n_clicks".
        y : str
            "iou" or "label_noise".

        Returns
        -------
        x_values, y_values : numpy.ndarray
        """
        if x not in ("share_pixels", "n_pixels", "n_regions", "n_clicks"):
            raise ValueError(f"x must be share_pixels, n_pixels, n_regions or n_clicks; got {x}.")
        if y not in ("iou", "label_noise"):
            raise ValueError(f"y must be 'iou' or 'label_noise'; got {y!r}.")
        return (
            np.array([getattr(r, x) for r in self.history], dtype=np.float64),
            np.array([getattr(r, y) for r in self.history], dtype=np.float64),
        )

    def cost_to_reach(self, target: float, x: str = "share_pixels") -> float:
        """The smallest cost at which the test IoU reached ``target`` (inf if never).

        Parameters
        ----------
        target : float
        x : str
            Cost axis, as in :meth:`curve`.

        Returns
        -------
        float
        """
        xs, ys = self.curve(x)
        reached = np.flatnonzero(ys >= target)
        return float(xs[reached[0]]) if reached.size else float("inf")


def _features(model: Any, regions: RegionIndex, images: Sequence[Any]) -> np.ndarray | None:
    if not hasattr(model, "features"):
        return None
    feats = regions.aggregate([model.features(image) for image in images], "mean")
    spread = feats.std(axis=0)
    return (feats - feats.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def simulate(
    model: Any,
    images: Sequence[Any],
    masks: Sequence[Any],
    regions: RegionIndex,
    *,
    test_images: Sequence[Any],
    test_masks: Sequence[Any],
    strategy: str = "top",
    measure: str = "entropy",
    aggregate: str = "mean",
    labelling: str = "dominant",
    unit: str = "pixels",
    budget: float = 0.05,
    batch_size: int = 10,
    initial: int = 10,
    iou_labels: Sequence[int] | None = None,
    class_power: float = 1.0,
    prefilter: int = 10,
    random_state: RandomStateLike = None,
) -> VisionResult:
    """Simulate region-based active learning for segmentation with a simulated oracle.

    Parameters
    ----------
    model : SegmentationModel
        Refitted every round from scratch on the labelled pixels; for the "diverse"
        strategy its ``features(image)`` (if any) joins the region descriptors.
    images, masks : sequences of arrays
        The pool and its true label maps (the oracle).
    regions : RegionIndex
        The regions of the pool images (:meth:`RegionIndex.slic`, :meth:`RegionIndex.grid`).
    test_images, test_masks : sequences of arrays
        Held-out images scored after every round.
    strategy : str
        "random" regions; "top" regions by score; "class_balanced" (score times the
        weight of the region's dominant predicted class, :func:`class_balanced_weights`);
        "diverse" (:func:`select_regions` with ``method="diverse"``).
    measure : str
        Pixel score, one of :data:`PIXEL_SCORES` ("bald" reads ``model.sample_proba``).
    aggregate : str
        Region score from pixel scores: "mean", "max" or "sum".
    labelling : str
        "dominant": the oracle gives each region its most frequent true class;
        "full": the true class of every pixel of the region.
    unit : str
        Cost unit of ``budget``: "pixels", "regions" or "clicks".
    budget : float
        Stop once this much was spent; a float below 1 with ``unit="pixels"`` is a
        share of the pool's pixels.
    batch_size : int
        Regions per round.
    initial : int
        Random regions labelled before the first round.
    iou_labels : sequence of int, optional
        Classes averaged into the IoU (default: all).
    class_power : float
        ``power`` of :func:`class_balanced_weights`.
    prefilter : int
        Candidate multiple of the "diverse" strategy.
    random_state : int, numpy.random.Generator or None

    Returns
    -------
    VisionResult

    References
    ----------
    Mackowiak, R. et al. (2018). CEREALS - cost-effective region-based active learning for
    semantic segmentation. BMVC.
    Cai, L., Xu, X., Liew, J. H. and Foo, C. S. (2021). Revisiting superpixels for active
    learning in semantic segmentation with realistic annotation costs. CVPR.

    Examples
    --------
    >>> data = digits_scenes(n_images=3, size=32, n_digits=2, random_state=0)  # doctest: +SKIP
    >>> regions = RegionIndex.grid([im.shape for im in data.images], size=8)  # doctest: +SKIP
    >>> result = simulate(PixelForest(data.n_classes, n_estimators=10), data.images,
    ...                   data.masks, regions, test_images=data.images,
    ...                   test_masks=data.masks, budget=0.5)  # doctest: +SKIP
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}.")
    if measure not in PIXEL_SCORES:
        raise ValueError(f"measure must be one of {sorted(PIXEL_SCORES)}; got {measure!r}.")
    if labelling not in LABELLINGS:
        raise ValueError(f"labelling must be one of {LABELLINGS}; got {labelling!r}.")
    if unit not in COST_UNITS:
        raise ValueError(f"unit must be one of {COST_UNITS}; got {unit!r}.")
    if len(images) != len(masks) or len(images) != regions.n_images:
        raise ValueError(
            f"simulate needs one mask and one region map per pool image; got {len(images)} "
            f"images, {len(masks)} masks and {regions.n_images} region maps."
        )
    if len(test_images) != len(test_masks) or not test_images:
        raise ValueError("simulate needs as many test masks as test images (at least one).")
    n_classes = int(model.n_classes)
    truth = [np.asarray(m, dtype=np.int64) for m in masks]
    rng = check_random_state(random_state)
    total_pixels = int(regions.sizes.sum())
    if unit == "pixels" and budget < 1:
        budget = budget * total_pixels
    cost = regions.cost(unit)
    dominant_true, _ = regions.dominant(truth, n_classes)
    labelled_regions = np.zeros(regions.n_regions, dtype=bool)
    given = [np.full(m.shape, -1, dtype=np.int64) for m in truth]
    static_features = _features(model, regions, images) if strategy == "diverse" else None

    def label(ids: np.ndarray) -> None:
        labelled_regions[ids] = True
        for image, mask in enumerate(regions.mask(ids)):
            if not mask.any():
                continue
            if labelling == "full":
                given[image][mask] = truth[image][mask]
            else:
                local = regions.label_maps[image][mask] + regions.offsets[image]
                given[image][mask] = dominant_true[local]

    history: list[VisionRound] = []
    first = select_regions(
        np.zeros(regions.n_regions), min(initial, regions.n_regions), "random", random_state=rng
    )
    label(first)
    queried = first
    query_seconds = 0.0
    while True:
        start = time.perf_counter()
        model.fit(images, given)
        fit_seconds = time.perf_counter() - start
        predicted = [predict_mask(model, image)[0] for image in test_images]
        per_class = mean_iou(test_masks, predicted, n_classes, average=None)
        chosen = np.asarray(iou_labels if iou_labels is not None else range(n_classes))
        given_mask = [g >= 0 for g in given]
        n_pixels = int(sum(int(g.sum()) for g in given_mask))
        wrong = sum(
            int((g[m] != t[m]).sum()) for g, m, t in zip(given, given_mask, truth, strict=True)
        )
        history.append(
            VisionRound(
                n_regions=int(labelled_regions.sum()),
                n_pixels=n_pixels,
                n_clicks=int(regions.clicks[labelled_regions].sum()),
                share_pixels=n_pixels / total_pixels,
                iou=float(np.nanmean(per_class[chosen])),
                per_class=[float(v) for v in per_class],
                label_noise=wrong / max(n_pixels, 1),
                fit_seconds=fit_seconds,
                query_seconds=query_seconds,
                regions=[int(r) for r in queried],
            )
        )
        spent = float(cost[labelled_regions].sum())
        available = ~labelled_regions
        if spent >= budget or not available.any():
            break
        start = time.perf_counter()
        k = min(batch_size, int(available.sum()))
        if strategy == "random":
            queried = select_regions(
                np.zeros(regions.n_regions), k, "random", None, available, random_state=rng
            )
        else:
            source = model.sample_proba if PIXEL_SCORES[measure] else model.predict_proba
            outputs = [source(image) for image in images]
            scores = regions.aggregate([pixel_scores(p, measure) for p in outputs], aggregate)
            features = None
            if strategy == "class_balanced":
                proba = [p.mean(axis=0) if p.ndim == 4 else p for p in outputs]
                predicted_class, _ = regions.dominant([p.argmax(-1) for p in proba], n_classes)
                counts = np.bincount(
                    np.concatenate([g[g >= 0] for g in given]), minlength=n_classes
                )
                scores = scores * class_balanced_weights(counts, class_power)[predicted_class]
            elif strategy == "diverse":
                proba = [p.mean(axis=0) if p.ndim == 4 else p for p in outputs]
                features = regions.aggregate(proba, "mean")
                if static_features is not None:
                    features = np.hstack(
                        [features, 0.5 * static_features / np.sqrt(static_features.shape[1])]
                    )
            method = "diverse" if strategy == "diverse" else "top"
            queried = select_regions(
                scores, k, method, features, available, prefilter, random_state=rng
            )
        query_seconds = time.perf_counter() - start
        label(queried)
    return VisionResult(history, strategy, measure, unit)
