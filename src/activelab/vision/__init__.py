"""Active learning for segmentation and detection: regions, superpixels, click costs.

>>> import activelab as al
>>> pool, test = al.vision.load_nuclei("left"), al.vision.load_nuclei("right")  # doctest: +SKIP
>>> regions = al.vision.RegionIndex.slic(pool.images, n_segments=1000)  # doctest: +SKIP
>>> result = al.vision.simulate(al.vision.PixelForest(2), pool.images, pool.masks, regions,
...                             test_images=test.images, test_masks=test.masks,
...                             budget=0.03, iou_labels=[1])  # doctest: +SKIP

- Regions: :func:`grid_regions`, :func:`slic_regions` and :class:`RegionIndex` (regions
  of a pool of images, computed once per image, with sizes and click costs,
  :func:`click_cost`).
- Models (:class:`SegmentationModel`): :class:`PixelForest` (random forest on
  :func:`pixel_features`, the fast default) and :class:`UNet` (torch, MC dropout, trained
  with :func:`masked_cross_entropy`); :func:`predict_mask`.
- Scores: :func:`pixel_scores` (the :mod:`activelab.scores` functions on every pixel),
  :func:`region_scores`, :func:`class_balanced_weights`, :func:`select_regions`
  (top, random, or diverse through :func:`activelab.select.cluster_then_pick`).
- The loop: :func:`simulate` with budgets and curves in pixels, regions or clicks.
- Detection: :class:`Detections`, :class:`DetectorAdapter`, :func:`box_entropy`,
  :func:`image_entropy`, :func:`localization_stability`, :func:`detection_scores`,
  :func:`select_boxes`.
- Data: :func:`load_nuclei`, :func:`digits_scenes`, :func:`shape_scenes`.
- Export for annotation tools: :func:`save_mask_png`, :func:`load_mask_png`,
  :func:`mask_to_coco`, :func:`detections_to_coco`, :func:`coco_dataset`.

Install with ``pip install 'activelab[vision]'`` (scikit-image, tifffile).
"""

from activelab.vision._data import (
    SHAPE_CLASSES,
    SegmentationSet,
    ShapeScenes,
    digits_scenes,
    load_nuclei,
    nuclei_path,
    shape_scenes,
)
from activelab.vision._detection import (
    DETECTION_MEASURES,
    Detections,
    DetectorAdapter,
    box_entropy,
    box_iou,
    detection_scores,
    image_entropy,
    localization_stability,
    select_boxes,
)
from activelab.vision._export import (
    coco_dataset,
    detections_to_coco,
    load_mask_png,
    mask_to_coco,
    mask_to_polygons,
    save_mask_png,
)
from activelab.vision._loop import LABELLINGS, STRATEGIES, VisionResult, VisionRound, simulate
from activelab.vision._metrics import confusion_matrix, mean_iou
from activelab.vision._models import (
    PixelForest,
    SegmentationModel,
    UNet,
    masked_cross_entropy,
    pixel_features,
    predict_mask,
)
from activelab.vision._regions import (
    COST_UNITS,
    RegionIndex,
    click_cost,
    grid_regions,
    region_click_costs,
    slic_regions,
)
from activelab.vision._scores import (
    PIXEL_SCORES,
    class_balanced_weights,
    pixel_scores,
    region_scores,
    score_regions,
    select_regions,
)

__all__ = [
    "COST_UNITS",
    "DETECTION_MEASURES",
    "LABELLINGS",
    "PIXEL_SCORES",
    "SHAPE_CLASSES",
    "STRATEGIES",
    "Detections",
    "DetectorAdapter",
    "PixelForest",
    "RegionIndex",
    "SegmentationModel",
    "SegmentationSet",
    "ShapeScenes",
    "UNet",
    "VisionResult",
    "VisionRound",
    "box_entropy",
    "box_iou",
    "class_balanced_weights",
    "click_cost",
    "coco_dataset",
    "confusion_matrix",
    "detection_scores",
    "detections_to_coco",
    "digits_scenes",
    "grid_regions",
    "image_entropy",
    "load_mask_png",
    "load_nuclei",
    "localization_stability",
    "mask_to_coco",
    "mask_to_polygons",
    "masked_cross_entropy",
    "mean_iou",
    "nuclei_path",
    "pixel_features",
    "pixel_scores",
    "predict_mask",
    "region_click_costs",
    "region_scores",
    "save_mask_png",
    "score_regions",
    "select_boxes",
    "select_regions",
    "shape_scenes",
    "simulate",
    "slic_regions",
]
